//! The 2-D toy's view: the teacher as a heat map, each student's 1σ and 2σ ellipses and its mean's
//! path over the epochs, one panel per divergence; the textbook's closed form (Bishop §10.1.2), where
//! there is one, as a dashed grey ellipse with its formula on the plot.

use super::state::ToyState;
use super::ticks::{tick_125, uniform_grid_125};
use super::{ViewCtx, common, palette};
use crate::toy::TeacherSpec;
use crate::toy::analysis::contours::{self, ELLIPSE_POINTS};
use crate::toy::plane::ellipse;
use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{Line, LineStyle, MarkerShape, PlotImage, PlotPoint, Points, Text};
use std::hash::{Hash, Hasher};

pub fn contours_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    if cx.runs() == 0 {
        ui.label("No divergence is enabled.");
        return;
    }
    let Some(plane) = &cx.result.teacher.plane else {
        ui.add_space(8.0);
        ui.label(
            "The contour view draws a teacher in the plane with each 2-D Gaussian student's \
             ellipses. This fit's teacher is one-dimensional.",
        );
        ui.add_space(4.0);
        ui.label(
            egui::RichText::new(
                "Choose Teacher: 2-D mixture in the side panel, or a preset such as bishop-factorised.",
            )
            .strong(),
        );
        return;
    };
    let tex = teacher_texture(ui.ctx(), cx);
    let (cols, _) = common::panel_grid(cx.runs(), ui.available_size(), 1.0);
    let link = ui.make_persistent_id("contours-link");
    let mut moved = None;
    common::cells_ui(ui, cx.runs(), cols, 6.0, |ui, run, size| {
        if let Some(m) = panel(ui, cx, plane, &tex, run, size, link) {
            moved = Some(m);
        }
    });
    if let Some((i, to)) = moved
        && let TeacherSpec::Mixture2d { components, grid } = &mut state.config.teacher
        && let Some(c) = components.get_mut(i)
    {
        // The mean stays inside the grid (a component outside it is refused).
        c.mean = [
            to[0].clamp(grid.lo[0], grid.hi[0]),
            to[1].clamp(grid.lo[1], grid.hi[1]),
        ];
    }
}

/// How close (in points) a press must be to a component's mean to drag it.
const GRAB_RADIUS: f32 = 18.0;

/// The component being dragged and where to: a press near a mean picks the component, the drag
/// moves it (only with zoom/pan off, when a drag does not pan).
fn drag_event(pu: &egui_plot::PlotUi<'_>, plane: &crate::toy::Plane) -> Option<(usize, [f64; 2])> {
    let r = pu.response();
    let memory = egui::Id::unique("kdviz-contours-drag");
    if r.drag_started() {
        let origin = pu.ctx().input(|i| i.pointer.press_origin())?;
        let nearest = plane
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let at = pu.screen_from_plot(PlotPoint::new(c.mean[0], c.mean[1]));
                (i, at.distance(origin))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|&(_, d)| d <= GRAB_RADIUS)
            .map(|(i, _)| i);
        pu.ctx().data_mut(|d| d.insert_temp(memory, nearest));
    }
    let grabbed = pu
        .ctx()
        .data(|d| d.get_temp::<Option<usize>>(memory))
        .flatten()?;
    if r.drag_stopped() {
        pu.ctx().data_mut(|d| d.remove::<Option<usize>>(memory));
    }
    if !(r.dragged() || r.drag_stopped()) {
        return None;
    }
    let to = pu.pointer_coordinate()?;
    Some((grabbed, [to.x, to.y]))
}

fn panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    plane: &crate::toy::Plane,
    tex: &TextureHandle,
    run: usize,
    size: egui::Vec2,
    link: egui::Id,
) -> Option<(usize, [f64; 2])> {
    let div = cx.divergence(run);
    let color = cx.colors[run];
    let r = &cx.result.runs[run];
    let now = contours::mean_cov(r, cx.epoch);
    ui.horizontal(|ui| {
        ui.add(egui::Label::new(egui::RichText::new(div.label()).color(color).strong()).truncate())
            .on_hover_text(div.to_string());
        if let Some((m, c)) = now {
            let n = crate::math::label::num;
            let text = format!(
                "m = ({}, {})  Σ = [[{}, {}], [·, {}]]",
                n(round3(m[0])),
                n(round3(m[1])),
                n(round3(c[0][0])),
                n(round3(c[0][1])),
                n(round3(c[1][1]))
            );
            ui.add(egui::Label::new(egui::RichText::new(text).small().weak()).truncate());
        }
    });
    let g = plane.grid;
    let dark = ui.visuals().dark_mode;
    let closed = contours::closed_form(cx.result, r);
    let history = cx.history(run);
    let epoch = cx.epoch;
    // The plot has the grid's proportions: one unit is as long on both axes and the whole grid shows.
    let ratio = ((g.hi[0] - g.lo[0]) / (g.hi[1] - g.lo[1])) as f32;
    let w = size.x.min((size.y - 22.0) * ratio).max(60.0);
    let plot = common::bare_plot(("contours", run), "x₁", "x₂")
        .width(w)
        .height(w / ratio)
        .data_aspect(1.0)
        .x_grid_spacer(uniform_grid_125(60.0))
        .y_grid_spacer(uniform_grid_125(45.0))
        .x_axis_formatter(tick_125)
        .y_axis_formatter(tick_125)
        .include_x(g.lo[0])
        .include_x(g.hi[0])
        .include_y(g.lo[1])
        .include_y(g.hi[1])
        .set_margin_fraction(egui::vec2(0.0, 0.0))
        .show_grid(false)
        .link_axis(link, true)
        .link_cursor(link, true);
    let draggable = !cx.figure && !common::interaction().zoom_pan;
    plot.show(ui, |pu| {
        let center = PlotPoint::new(0.5 * (g.lo[0] + g.hi[0]), 0.5 * (g.lo[1] + g.hi[1]));
        let extent = egui::vec2((g.hi[0] - g.lo[0]) as f32, (g.hi[1] - g.lo[1]) as f32);
        pu.image(PlotImage::new("teacher", tex.id(), center, extent).allow_hover(false));
        let path = contours::path(history, epoch);
        if path.len() > 1 {
            pu.line(
                Line::new(
                    "path",
                    path.iter().map(|p| [p[0], p[1]]).collect::<Vec<_>>(),
                )
                .id("path")
                .color(color.gamma_multiply(0.8))
                .width(1.5)
                .allow_hover(false),
            );
        }
        if let Some(&start) = path.first() {
            pu.points(
                Points::new("start", vec![start])
                    .id("start")
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(4.0)
                    .color(color),
            );
        }
        if let Some((m, c)) = now {
            pu.line(
                Line::new("2σ", ring(m, &c, 2.0))
                    .id("2sigma")
                    .color(color)
                    .width(1.5)
                    .style(LineStyle::dashed_dense())
                    .allow_hover(false),
            );
            pu.line(
                Line::new("1σ", ring(m, &c, 1.0))
                    .id("1sigma")
                    .color(color)
                    .width(2.5)
                    .allow_hover(false),
            );
            pu.points(
                Points::new("mean", vec![m])
                    .id("mean")
                    .shape(MarkerShape::Plus)
                    .radius(6.0)
                    .color(color),
            );
        }
        if let Some(cf) = &closed {
            let grey = palette::aux(1, dark);
            pu.line(
                Line::new("closed form", ring(cf.mean, &cf.cov, 1.0))
                    .id("closed")
                    .color(grey)
                    .width(1.5)
                    .style(LineStyle::dotted_dense())
                    .allow_hover(false),
            );
            pu.text(
                Text::new(
                    "",
                    PlotPoint::new(
                        g.lo[0] + 0.03 * extent.x as f64,
                        g.hi[1] - 0.03 * extent.y as f64,
                    ),
                    egui::RichText::new(format!("{} (dotted)", cf.text))
                        .size(13.0)
                        .color(palette::aux(0, dark)),
                )
                .anchor(egui::Align2::LEFT_TOP),
            );
        }
        if draggable {
            // Handles on the teacher's component means: drag one to move that component.
            let handles: Vec<[f64; 2]> = plane.components.iter().map(|c| c.mean).collect();
            pu.points(
                Points::new("teacher means (drag to move)", handles)
                    .id("handles")
                    .shape(MarkerShape::Diamond)
                    .filled(false)
                    .radius(5.0)
                    .color(palette::TEACHER),
            );
            drag_event(pu, plane)
        } else {
            None
        }
    })
    .inner
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ring(mean: [f64; 2], cov: &[[f64; 2]; 2], k: f64) -> Vec<[f64; 2]> {
    ellipse(mean, cov, k, ELLIPSE_POINTS)
}

/// The teacher's density as an image in the teacher's blue (transparent where it vanishes), made
/// once per teacher.
fn teacher_texture(ctx: &egui::Context, cx: &ViewCtx) -> TextureHandle {
    let p = cx.p();
    let mut h = std::hash::DefaultHasher::new();
    for v in p {
        v.to_bits().hash(&mut h);
    }
    let key = h.finish();
    let id = egui::Id::unique("contours-teacher-texture");
    if let Some((k, tex)) = ctx.data(|d| d.get_temp::<(u64, TextureHandle)>(id))
        && k == key
    {
        return tex;
    }
    let image = teacher_image(cx);
    let tex = ctx.load_texture("contours-teacher", image, TextureOptions::LINEAR);
    ctx.data_mut(|d| d.insert_temp(id, (key, tex.clone())));
    tex
}

/// Row 0 of the image is the top of the plot: the largest x₂.
fn teacher_image(cx: &ViewCtx) -> ColorImage {
    let Some(plane) = &cx.result.teacher.plane else {
        return ColorImage::new([1, 1], vec![Color32::TRANSPARENT]);
    };
    let [nx, ny] = plane.grid.points;
    let p = cx.p();
    let max = p.iter().copied().fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let t = palette::TEACHER;
    let mut pixels = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        let j = ny - 1 - row;
        for i in 0..nx {
            // A square-root ramp keeps the shoulders of the modes visible.
            let a = (p[j * nx + i] / max).sqrt().clamp(0.0, 1.0);
            pixels.push(Color32::from_rgba_unmultiplied(
                t.r(),
                t.g(),
                t.b(),
                (230.0 * a).round() as u8,
            ));
        }
    }
    ColorImage::new([nx, ny], pixels)
}
