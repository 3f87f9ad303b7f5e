//! Captions: the words above the views. One component draws them in the app (a preset's
//! description, a lesson step) and in figures (`kdviz figure --lesson`), so a slide reads like the
//! screen. Also the lesson-step figure itself: the caption over the step's views.

use super::{FigureSpec, figure_frame, render_ui_png, render_ui_svg};
use crate::toy::FitResult;
use crate::views::palette;
use crate::views::state::{Theme, ToyState, View};
use crate::views::{self, ViewCtx};
use egui::RichText;

/// What a caption says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caption {
    /// A small line above the title: where this is ("Lesson … · step 3 of 16").
    pub context: Option<String>,
    pub title: Option<String>,
    /// The sentences.
    pub text: String,
    /// What to look at, in a weaker voice under the text.
    pub look_at: Option<String>,
}

/// Draws the caption with its body text at `size` points (the title a little larger, the context
/// and "look at" lines a little smaller), wrapped to the available width.
pub fn caption_ui(ui: &mut egui::Ui, caption: &Caption, size: f32) {
    let weak = ui.visuals().weak_text_color();
    // Whole points: a fractional spacing leaves the rows off the pixel grid.
    ui.spacing_mut().item_spacing.y = (size * 0.3).round().max(4.0);
    let scaled = |f: f32| (size * f).round();
    if let Some(context) = &caption.context {
        ui.label(RichText::new(context).size(scaled(0.75)).color(weak));
    }
    if let Some(title) = &caption.title {
        ui.label(RichText::new(title).size(scaled(1.15)).strong());
    }
    if !caption.text.is_empty() {
        // The strong colour: the caption is what the audience reads first.
        let text = RichText::new(&caption.text)
            .size(size)
            .color(ui.visuals().strong_text_color());
        ui.add(egui::Label::new(text).wrap());
    }
    if let Some(look) = &caption.look_at {
        ui.add(
            egui::Label::new(
                RichText::new(format!("Look at: {look}"))
                    .size(scaled(0.85))
                    .italics()
                    .color(weak),
            )
            .wrap(),
        );
    }
}

/// Caption text size in figures, in points.
pub const FIGURE_TEXT_SIZE: f32 = 17.0;

/// A figure page with the caption on top and `body` below it.
pub fn captioned_ui(
    ui: &mut egui::Ui,
    theme: Theme,
    transparent: bool,
    caption: &Caption,
    body: impl FnOnce(&mut egui::Ui),
) {
    figure_frame(ui, theme, transparent, None, |ui| {
        ui.vertical(|ui| caption_ui(ui, caption, FIGURE_TEXT_SIZE));
        ui.add_space(6.0);
        ui.separator();
        ui.add_space(4.0);
        body(ui);
    });
}

/// The views of a step side by side (two columns when there are several), each with its title, at
/// the state's epoch, drawn in figure mode.
pub fn views_grid_ui(ui: &mut egui::Ui, result: &FitResult, state: &mut ToyState, views: &[View]) {
    let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
    let colors = palette::for_background(palette::run_colors(&divs), ui.visuals().dark_mode);
    let cx = ViewCtx::new(result, &colors, state.epoch).for_figure();
    let n = views.len().max(1);
    let cols = if n > 1 { 2 } else { 1 };
    let rows = n.div_ceil(cols);
    let w = ui.available_width() / cols as f32 - 8.0;
    let h = ui.available_height() / rows as f32 - 8.0;
    egui::Grid::new("caption-views")
        .spacing([8.0, 8.0])
        .show(ui, |ui| {
            for (i, &v) in views.iter().enumerate() {
                ui.allocate_ui(egui::vec2(w, h), |ui| {
                    ui.set_min_size(egui::vec2(w, h));
                    ui.vertical(|ui| {
                        ui.strong(v.title());
                        ui.push_id(("caption-view", i), |ui| views::view_ui(ui, v, &cx, state));
                    });
                });
                if (i + 1) % cols == 0 {
                    ui.end_row();
                }
            }
        });
}

/// A captioned figure as PNG: the caption over whatever `body` draws (a step's views, the
/// real-model tab's plots).
pub fn render_captioned_png<'a>(
    spec: &FigureSpec,
    caption: &'a Caption,
    mut body: impl FnMut(&mut egui::Ui) + 'a,
) -> Result<image::RgbaImage, String> {
    let (theme, transparent) = (spec.theme, spec.transparent);
    render_ui_png(spec, move |ui| {
        captioned_ui(ui, theme, transparent, caption, &mut body)
    })
}

/// The same as SVG (text stays text: the caption can be searched and edited).
pub fn render_captioned_svg(
    spec: &FigureSpec,
    caption: &Caption,
    mut body: impl FnMut(&mut egui::Ui),
) -> String {
    render_ui_svg(spec.size, spec.theme, spec.transparent, |ui| {
        captioned_ui(ui, spec.theme, spec.transparent, caption, &mut body)
    })
}

/// The characters of `text` that egui's built-in fonts cannot draw (they would show as boxes): the
/// tests run every caption and label through this.
pub fn missing_glyphs(text: &str) -> Vec<char> {
    let ctx = egui::Context::default();
    crate::views::common::install_fonts(&ctx);
    // A frame loads the fonts; nothing is drawn, so the font atlas is dropped unused.
    ctx.run_ui(egui::RawInput::default(), |_| {})
        .textures_delta
        .clear();
    let font = egui::FontId::proportional(14.0);
    let mut missing: Vec<char> = ctx.fonts_mut(|f| {
        text.chars()
            .filter(|&c| !c.is_whitespace() && !f.has_glyph(&font, c))
            .collect()
    });
    missing.sort_unstable();
    missing.dedup();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::lesson;

    #[test]
    fn every_lesson_text_can_be_drawn() {
        let mut text = String::from("Look at: · step 1 of 16");
        for l in lesson::all().unwrap() {
            for t in [&l.title, &l.summary] {
                text.push_str(t);
            }
            for s in &l.steps {
                text.push_str(&s.title);
                text.push_str(&s.caption);
                text.push_str(s.highlight.as_deref().unwrap_or(""));
            }
        }
        assert_eq!(missing_glyphs(&text), Vec::<char>::new());
        assert_eq!(missing_glyphs("a漢b"), ['漢']);
    }
}
