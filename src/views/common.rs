//! Plot styling shared by every view, so that the app and exported figures look the same: the one plot
//! builder ([`base_plot`]), whether plots pan and zoom, and the text sizes.

use egui_plot::{AxisHints, Legend, Plot};
use std::cell::Cell;

/// How the plots being drawn react to the pointer, set around a view's drawing by
/// [`with_interaction`] and read by [`base_plot`]; outside it plots stay put.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interaction {
    /// Drag pans, scroll and pinch zoom, right-drag zooms a box.
    pub zoom_pan: bool,
    /// Forget every plot's pan and zoom this frame (the "reset view" button).
    pub reset: bool,
}

thread_local! {
    // egui draws a view on one thread, from its start to its end: a thread-local carries the setting
    // to every plot builder without threading it through every view's signature.
    static INTERACTION: Cell<Interaction> = const { Cell::new(Interaction { zoom_pan: false, reset: false }) };
}

/// Runs `draw` with plots built by [`base_plot`] reacting as `interaction` says.
pub fn with_interaction<R>(interaction: Interaction, draw: impl FnOnce() -> R) -> R {
    let before = INTERACTION.with(|c| c.replace(interaction));
    let out = draw();
    INTERACTION.with(|c| c.set(before));
    out
}

/// The interaction [`with_interaction`] set for the plots drawn now.
pub fn interaction() -> Interaction {
    INTERACTION.with(Cell::get)
}

/// Text sizes (points) readable on a projector at 1920×1080 and zoom 1: body and buttons 15, plot
/// tick labels (body) 15, small text 13, headings 20.
pub fn readable_text(style: &mut egui::Style) {
    use egui::{FontFamily, FontId, TextStyle};
    let sizes = [
        (TextStyle::Small, 13.0, FontFamily::Proportional),
        (TextStyle::Body, 15.0, FontFamily::Proportional),
        (TextStyle::Button, 15.0, FontFamily::Proportional),
        (TextStyle::Heading, 20.0, FontFamily::Proportional),
        (TextStyle::Monospace, 14.0, FontFamily::Monospace),
    ];
    for (text_style, size, family) in sizes {
        style
            .text_styles
            .insert(text_style, FontId::new(size, family));
    }
}

/// egui's default fonts with Hack (loaded already, for monospace text) as the last fallback of
/// proportional text: it draws the arrows (TAID's "t: 0.4 → 1") and other symbols Ubuntu-Light lacks.
pub fn readable_fonts() -> egui::FontDefinitions {
    let mut fonts = egui::FontDefinitions::default();
    let has_hack = fonts.font_data.contains_key("Hack");
    if let Some(family) = fonts.families.get_mut(&egui::FontFamily::Proportional)
        && has_hack
        && !family.iter().any(|f| f == "Hack")
    {
        family.push("Hack".to_string());
    }
    fonts
}

/// Installs [`readable_fonts`] (from the next pass on; call it before the first).
pub fn install_fonts(ctx: &egui::Context) {
    ctx.set_fonts(readable_fonts());
}

/// A plot with the house style: legend in the corner, readable x tick spacing, axis labels, no
/// scroll-panning; it pans and zooms only when the user turned zoom/pan on (see [`with_interaction`]).
pub fn base_plot<'a>(id: impl egui::AsIdSalt, x_label: &str, y_label: &str) -> Plot<'a> {
    bare_plot(id, x_label, y_label).legend(Legend::default().follow_insertion_order(true))
}

/// [`base_plot`] without a legend (the other panels of a figure that shares one legend).
pub fn bare_plot<'a>(id: impl egui::AsIdSalt, x_label: &str, y_label: &str) -> Plot<'a> {
    let Interaction { zoom_pan, reset } = interaction();
    let plot = Plot::new(id)
        .allow_drag(zoom_pan)
        .allow_zoom(zoom_pan)
        // The mouse wheel scrolls the page; Ctrl+wheel (or a pinch) zooms.
        .allow_scroll(false)
        .allow_boxed_zoom(zoom_pan)
        .allow_axis_zoom_drag(zoom_pan)
        .custom_x_axes(vec![
            AxisHints::new_x()
                .label(x_label.to_string())
                // Ticks come in powers of ten only: a narrower minimum keeps "10, 20, …" on panels
                // a few hundred points wide (small multiples, half-slide figures) instead of a lone 0.
                .label_spacing(28.0..=44.0),
        ])
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label(y_label.to_string())
                .label_spacing(25.0..=60.0),
        ]);
    if reset { plot.reset() } else { plot }
}

/// Values drawn on a log10 axis are floored here (exact zeros would be -inf).
pub const LOG_FLOOR: f64 = 1e-12;

/// `log10(v)` floored at [`LOG_FLOOR`], or `v` itself on a linear axis.
pub fn y_value(v: f64, log: bool) -> f64 {
    if log { v.max(LOG_FLOOR).log10() } else { v }
}

/// Tick labels of a log10 axis: `1e-3` instead of `-3`.
pub fn log_tick(mark: egui_plot::GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let v = mark.value;
    if (v - v.round()).abs() < 1e-9 {
        format!("1e{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Tick labels of a log10 axis that also label short ranges (less than two decades), where
/// [`log_tick`] would leave the axis bare: `0.93`, `4.2e-3`.
pub fn log_tick_dense(mark: egui_plot::GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    if range.end() - range.start() > 2.0 {
        return log_tick(mark, range);
    }
    let x = 10f64.powf(mark.value);
    if (0.01..1000.0).contains(&x) {
        let digits = (2 - x.log10().floor() as i32).clamp(0, 4) as usize;
        let text = format!("{x:.digits$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    } else {
        format!("{x:.1e}")
    }
}

/// Grid marks for a log10 axis: over less than three decades, lines at 1, 2 and 5 of every decade
/// (labelled by [`log_tick_dense`]) and faint ones at the other digits; over more, egui_plot's own
/// decade marks. Without it a plot spanning half a decade gets a single labelled line.
pub fn log125_spacer(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (lo, hi) = input.bounds;
    if !(hi - lo).is_finite() || hi - lo > 3.0 {
        return egui_plot::log_grid_spacer(10)(input);
    }
    let mut marks = Vec::new();
    for decade in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for digit in 1..10 {
            let value = decade as f64 + f64::from(digit).log10();
            let step_size = match digit {
                1 => 1.0,
                2 | 5 => 0.3,
                _ => 0.05,
            };
            if (lo..=hi).contains(&value) {
                marks.push(egui_plot::GridMark { value, step_size });
            }
        }
    }
    marks
}

/// Columns and rows for `n` panels in `avail`, for panels `aspect` times as wide as tall: the
/// largest panels, except that fewer rows win when their panels are nearly as large (side by side
/// compares better than one above the other).
pub fn panel_grid(n: usize, avail: egui::Vec2, aspect: f32) -> (usize, usize) {
    let n = n.max(1);
    let width = |cols: usize| {
        let rows = n.div_ceil(cols);
        (avail.x / cols as f32).min(aspect * avail.y / rows as f32)
    };
    let best = (1..=n).map(width).fold(0.0, f32::max);
    let cols = (1..=n)
        .rev()
        .find(|&cols| width(cols) >= 0.85 * best)
        .unwrap_or(1);
    (cols, n.div_ceil(cols))
}

/// Room left at the right of a cell for the overhang of a plot's last x tick label.
const RIGHT_OVERHANG: f32 = 12.0;

/// Lays `n` panels out in `cols` columns, each in a cell of its own that fills the space left and
/// clips what it draws: a panel wider than its cell (a long title, a row of controls that cannot
/// wrap) never pushes its neighbours aside. `add(ui, i, size)` draws panel `i` in a cell of `size`.
pub fn cells_ui(
    ui: &mut egui::Ui,
    n: usize,
    cols: usize,
    gap: f32,
    mut add: impl FnMut(&mut egui::Ui, usize, egui::Vec2),
) {
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let avail = ui.available_size();
    let size = egui::vec2(
        ((avail.x - gap * (cols - 1) as f32) / cols as f32).max(40.0),
        ((avail.y - gap * (rows - 1) as f32) / rows as f32).max(40.0),
    );
    let origin = ui.cursor().min;
    for i in 0..n {
        let (col, row) = ((i % cols) as f32, (i / cols) as f32);
        let cell = egui::Rect::from_min_size(
            origin + egui::vec2(col * (size.x + gap), row * (size.y + gap)),
            size,
        );
        // The content keeps clear of the cell's right edge, where a plot's last tick label
        // overhangs its frame by half its width.
        let content = egui::Rect::from_min_max(
            cell.min,
            egui::pos2(
                (cell.max.x - RIGHT_OVERHANG).max(cell.min.x + 20.0),
                cell.max.y,
            ),
        );
        let mut child = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(content)
                .id_salt(("cell", i))
                .layout(egui::Layout::top_down(egui::Align::Min)),
        );
        child.set_clip_rect(
            cell.expand2(egui::vec2(gap / 2.0, 0.0))
                .intersect(ui.clip_rect()),
        );
        add(&mut child, i, size);
    }
    let used = egui::vec2(
        cols as f32 * size.x + gap * (cols - 1) as f32,
        rows as f32 * size.y + gap * (rows - 1) as f32,
    );
    ui.allocate_rect(
        egui::Rect::from_min_size(origin, used),
        egui::Sense::hover(),
    );
}

/// The points of a series of more classes than its plot can tell apart (over 8 a pixel column, and
/// over 4096): in each half-pixel bucket the lowest and the highest, which draw the same picture.
/// Every point of a 100,000-class fit is a circle (or a stretch of line) to tessellate: 0.4 to 1 GB
/// for a figure before.
pub fn envelope(pts: Vec<[f64; 2]>, width_px: f32) -> Vec<[f64; 2]> {
    let buckets = (2.0 * width_px.max(1.0)) as usize;
    if pts.len() <= (4 * buckets).max(4096) {
        return pts;
    }
    let size = pts.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(2 * buckets);
    for bucket in pts.chunks(size) {
        let lowest = (0..bucket.len()).min_by(|&a, &b| bucket[a][1].total_cmp(&bucket[b][1]));
        let highest = (0..bucket.len()).max_by(|&a, &b| bucket[a][1].total_cmp(&bucket[b][1]));
        if let (Some(lo), Some(hi)) = (lowest, highest) {
            out.push(bucket[lo.min(hi)]);
            if lo != hi {
                out.push(bucket[lo.max(hi)]);
            }
        }
    }
    out
}

/// Plots are at most this wide in pixels, for [`envelope`] where a plot's width is not at hand.
pub const WIDE_PLOT_PX: f32 = 2048.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_grids_make_the_largest_panels() {
        // Three wide panels side by side; six in a half-width cell as three by two; one tall area
        // stacks them.
        assert_eq!(panel_grid(3, egui::vec2(1500.0, 500.0), 1.4), (3, 1));
        assert_eq!(panel_grid(6, egui::vec2(600.0, 400.0), 1.4), (3, 2));
        assert_eq!(panel_grid(3, egui::vec2(400.0, 1200.0), 1.4), (1, 3));
        assert_eq!(panel_grid(0, egui::vec2(400.0, 400.0), 1.0), (1, 1));
        // A row of three panels 527 wide beats a 2 × 2 grid of 595.
        assert_eq!(panel_grid(3, egui::vec2(1580.0, 850.0), 1.4), (3, 1));
    }

    /// A panel far wider than its cell neither moves the next cell nor draws over it.
    #[test]
    fn a_wide_panel_stays_in_its_cell() {
        let ctx = egui::Context::default();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(800.0, 400.0),
            )),
            ..Default::default()
        };
        let mut rects = Vec::new();
        let mut clips = Vec::new();
        let output = ctx.run_ui(input, |ui| {
            cells_ui(ui, 2, 2, 8.0, |ui, i, size| {
                if i == 0 {
                    ui.add_sized(egui::vec2(3.0 * size.x, 20.0), egui::Label::new("wide"));
                }
                rects.push(ui.min_rect());
                clips.push(ui.clip_rect());
                ui.label("next");
            });
        });
        let mut output = output;
        output.textures_delta.clear();
        // Two equal cells 8 apart: the second starts half the width (plus half the gap) further
        // on, and the first one's drawing (clipped half a gap past its cell) stops before it.
        let half = (rects[1].min.x - rects[0].min.x - 8.0) / 2.0;
        assert!(half > 180.0 && half < 200.0, "{rects:?}");
        assert_eq!(clips[0].max.x, rects[1].min.x - 4.0, "{clips:?} {rects:?}");
    }

    #[test]
    fn log_spacer_marks_one_two_five_on_short_ranges() {
        let marks = log125_spacer(egui_plot::GridInput {
            bounds: (-0.5, 0.5),
            base_step_size: 0.01,
        });
        let at = |v: f64| {
            marks
                .iter()
                .find(|m| (m.value - v).abs() < 1e-12)
                .map(|m| m.step_size)
        };
        assert_eq!(at(0.0), Some(1.0)); // 1
        assert_eq!(at(2f64.log10()), Some(0.3)); // 2
        assert_eq!(at(0.5f64.log10()), Some(0.3)); // 0.5
        assert_eq!(at(3f64.log10()), Some(0.05)); // 3: a faint line
        assert!(marks.iter().all(|m| (-0.5..=0.5).contains(&m.value)));
        let label = |v: f64| {
            log_tick_dense(
                egui_plot::GridMark {
                    value: v,
                    step_size: 0.3,
                },
                &(-0.5..=0.5),
            )
        };
        assert_eq!(label(2f64.log10()), "2");
        assert_eq!(label(0.5f64.log10()), "0.5");
    }
}
