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
use egui_plot::{AxisHints, Line, LineStyle, MarkerShape, PlotImage, PlotPoint, Points, Text};
use std::hash::{Hash, Hasher};

pub fn contours_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    if cx.runs() == 0 {
        ui.label("No divergence is enabled.");
        return;
    }
    if cx.result.teacher.plane.is_none() {
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
    }
    if !cx.figure {
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut state.contours.marginals, MARGINALS)
                .on_hover_text(
                    "each panel's marginal densities of the teacher (blue) and the student along \
                     x₁ (above) and x₂ (at the right)",
                );
        });
    }
    let marginals = state.contours.marginals;
    let tex = teacher_texture(ui.ctx(), cx);
    let (cols, _) = common::panel_grid(cx.runs(), ui.available_size(), 1.0);
    let link = ui.make_persistent_id("contours-link");
    let mut moved = None;
    common::cells_ui(ui, cx.runs(), cols, 6.0, |ui, run, size| {
        if let Some(m) = panel(ui, cx, &tex, run, size, link, marginals) {
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

/// The marginals checkbox.
pub const MARGINALS: &str = "marginals";

/// The axis labels of the marginal plots (above the plot along x₁, at its right along x₂).
pub const MARGINAL_LABELS: [&str; 2] = ["density of x₁", "density of x₂"];

/// The plot id of `run`'s contour panel (tests map the plane to the screen through its memory).
pub fn plot_id(run: usize) -> egui::Id {
    egui::Id::unique(("kdviz-contours", run))
}

/// The plot id of `run`'s marginal plot along axis `a` (0: x₁, above; 1: x₂, at the right).
pub fn marginal_plot_id(run: usize, a: usize) -> egui::Id {
    egui::Id::unique(("kdviz-contours-marginal", run, a))
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

/// One divergence's panel; returns a teacher component being dragged and where to.
fn panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    tex: &TextureHandle,
    run: usize,
    size: egui::Vec2,
    link: egui::Id,
    marginals: bool,
) -> Option<(usize, [f64; 2])> {
    let plane = cx.result.teacher.plane.as_ref()?;
    let div = cx.loss(run);
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
    let band = if marginals {
        (0.2 * size.x.min(size.y)).clamp(48.0, 110.0)
    } else {
        0.0
    };
    let (w, h) = if marginals {
        // The data frame (the plot less its fixed axes) keeps the grid's proportions.
        let frame =
            (size.x - band - AXIS_W - 16.0).min((size.y - 22.0 - band - AXIS_H - 4.0) * ratio);
        let frame = frame.max(60.0);
        (frame + AXIS_W, frame / ratio + AXIS_H)
    } else {
        let w = size.x.min((size.y - 22.0) * ratio).max(60.0);
        (w, w / ratio)
    };
    let marginal = marginals.then(|| Marginals::new(ui.ctx(), cx, plane, run));
    let closed_text = closed
        .as_ref()
        .map(|cf| closed_form_text(ui, &cf.text, w - if marginals { AXIS_W } else { 50.0 }));
    if let Some(m) = &marginal {
        top_marginal_ui(ui, cx, m, run, egui::vec2(w, band));
    }
    let mut plot = common::bare_plot(("contours", run), "x₁", "x₂")
        .id(plot_id(run))
        .width(w)
        .height(h)
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
    if marginals {
        // Fixed axis sizes, shared with the marginal plots, so that their frames line up.
        plot = plot
            .custom_x_axes(vec![x_axis("x₁")])
            .y_axis_min_width(AXIS_W);
    }
    let draggable = !cx.figure && !common::interaction().zoom_pan;
    let show = |ui: &mut egui::Ui| {
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
                        egui::RichText::new(closed_text.clone().unwrap_or_default())
                            .size(CLOSED_FORM_SIZE)
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
    };
    match &marginal {
        Some(m) => {
            ui.horizontal_top(|ui| {
                ui.spacing_mut().item_spacing.x = 4.0;
                let moved = show(ui);
                side_marginal_ui(ui, cx, m, run, egui::vec2(band, h));
                moved
            })
            .inner
        }
        None => show(ui),
    }
}

const CLOSED_FORM_SIZE: f32 = 13.0;

/// The closed form's line on the plot, "FKL optimum: moment matching (dotted)", on two lines
/// ("FKL optimum (dotted):" above the rest) where one line would not fit the plot's `width`.
fn closed_form_text(ui: &egui::Ui, text: &str, width: f32) -> String {
    let line = format!("{text} (dotted)");
    let font = egui::FontId::proportional(CLOSED_FORM_SIZE);
    let wide = ui
        .painter()
        .layout_no_wrap(line.clone(), font, Color32::WHITE)
        .size()
        .x;
    match text.split_once(": ") {
        Some((head, rest)) if wide > 0.94 * width => format!("{head} (dotted):\n{rest}"),
        _ => line,
    }
}

/// The y axis's width and the x axis's height of a panel with marginals (both fixed, so that the
/// marginal plots' frames line up with the contour plot's).
const AXIS_W: f32 = 56.0;
const AXIS_H: f32 = 44.0;

fn x_axis(label: &str) -> AxisHints<'static> {
    AxisHints::new_x()
        .label(label.to_string())
        .label_spacing(28.0..=44.0)
        .min_thickness(AXIS_H)
}

/// One panel's marginal densities (per unit length) along each axis: the teacher's and the student's
/// at the epoch shown, and the largest value the density axis must hold.
struct Marginals {
    axes: [Vec<f64>; 2],
    teacher: [Vec<f64>; 2],
    student: Option<[Vec<f64>; 2]>,
    top: [f64; 2],
}

impl Marginals {
    fn new(ctx: &egui::Context, cx: &ViewCtx, plane: &crate::toy::Plane, run: usize) -> Self {
        let g = plane.grid;
        let teacher = contours::marginals(&g, cx.p());
        let student = contours::mean_cov(&cx.result.runs[run], cx.epoch)
            .and_then(|(m, c)| student_marginals(ctx, plane, run, m, c));
        // The density axis holds the teacher and the student over the epochs the axes are fixed for
        // (a Gaussian marginal peaks at 1/√(2π Σᵢᵢ), on the grid at most 1/spacing), so that an
        // animation does not rescale it.
        let (first, last) = cx.axis_epochs();
        let top = [0, 1].map(|a| {
            let peak = |v: f64| (1.0 / (std::f64::consts::TAU * v).sqrt()).min(1.0 / g.step(a));
            let students = cx
                .history(run)
                .iter()
                .skip(first)
                .take(last.saturating_sub(first) + 1)
                .filter_map(|r| r.cov)
                .map(|c| peak(c[a][a]))
                .fold(0.0, f64::max);
            let now = student.as_ref().map_or(0.0, |s| max(&s[a]));
            max(&teacher[a]).max(students).max(now) * 1.08
        });
        Marginals {
            axes: [g.axis(0), g.axis(1)],
            teacher,
            student,
            top,
        }
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// The student's marginals on the grid at (m, Σ), kept between frames until (m, Σ) changes.
fn student_marginals(
    ctx: &egui::Context,
    plane: &crate::toy::Plane,
    run: usize,
    m: [f64; 2],
    c: [[f64; 2]; 2],
) -> Option<[Vec<f64>; 2]> {
    let mut h = std::hash::DefaultHasher::new();
    for v in [m[0], m[1], c[0][0], c[0][1], c[1][1]]
        .into_iter()
        .chain(plane.grid.lo)
        .chain(plane.grid.hi)
    {
        v.to_bits().hash(&mut h);
    }
    plane.grid.points.hash(&mut h);
    let key = h.finish();
    let id = egui::Id::unique(("kdviz-contours-marginals", run));
    if let Some((k, v)) = ctx.data(|d| d.get_temp::<(u64, Option<[Vec<f64>; 2]>)>(id))
        && k == key
    {
        return v;
    }
    let v = contours::gaussian_on_grid(plane, m, c).map(|q| contours::marginals(&plane.grid, &q));
    ctx.data_mut(|d| d.insert_temp(id, (key, v.clone())));
    v
}

/// The contour plot's bounds along axis `a` (the last frame's; the grid's before the first).
fn plot_range(ctx: &egui::Context, plane: &crate::toy::Plane, run: usize, a: usize) -> (f64, f64) {
    egui_plot::PlotMemory::load(ctx, plot_id(run))
        .map(|m| {
            let t = m.transform();
            let b = t.bounds();
            (b.min()[a], b.max()[a])
        })
        .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi)
        .unwrap_or((plane.grid.lo[a], plane.grid.hi[a]))
}

/// A plot of marginal densities: no interaction, no grid.
fn marginal_plot(run: usize, a: usize, size: egui::Vec2) -> egui_plot::Plot<'static> {
    egui_plot::Plot::new(("contours-marginal", run, a))
        .id(marginal_plot_id(run, a))
        .width(size.x)
        .height(size.y)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_axis_zoom_drag(false)
        .allow_double_click_reset(false)
        .show_grid(false)
        .show_x(false)
        .show_y(false)
        .set_margin_fraction(egui::vec2(0.0, 0.0))
}

/// The marginals along x₁, above the contour plot (density up).
fn top_marginal_ui(ui: &mut egui::Ui, cx: &ViewCtx, m: &Marginals, run: usize, size: egui::Vec2) {
    let Some(plane) = &cx.result.teacher.plane else {
        return;
    };
    let range = plot_range(ui.ctx(), plane, run, 0);
    marginal_plot(run, 0, size)
        .show_axes([false, true])
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label(MARGINAL_LABELS[0])
                .label_spacing(25.0..=26.0)
                .min_thickness(AXIS_W),
        ])
        .y_grid_spacer(uniform_grid_125(30.0))
        .y_axis_formatter(tick_125)
        .show(ui, |pu| {
            pu.set_plot_bounds_x(range.0..=range.1);
            pu.set_plot_bounds_y(0.0..=m.top[0]);
            let line = |v: &[f64]| -> Vec<[f64; 2]> {
                m.axes[0].iter().zip(v).map(|(&x, &d)| [x, d]).collect()
            };
            marginal_lines(pu, cx, m, run, 0, line);
        });
}

/// The marginals along x₂, at the right of the contour plot (density to the right).
fn side_marginal_ui(ui: &mut egui::Ui, cx: &ViewCtx, m: &Marginals, run: usize, size: egui::Vec2) {
    let Some(plane) = &cx.result.teacher.plane else {
        return;
    };
    let range = plot_range(ui.ctx(), plane, run, 1);
    marginal_plot(run, 1, size)
        .show_axes([true, false])
        .custom_x_axes(vec![x_axis(MARGINAL_LABELS[1]).label_spacing(25.0..=26.0)])
        .x_grid_spacer(uniform_grid_125(40.0))
        .x_axis_formatter(tick_125)
        .show(ui, |pu| {
            pu.set_plot_bounds_y(range.0..=range.1);
            pu.set_plot_bounds_x(0.0..=m.top[1]);
            let line = |v: &[f64]| -> Vec<[f64; 2]> {
                m.axes[1].iter().zip(v).map(|(&y, &d)| [d, y]).collect()
            };
            marginal_lines(pu, cx, m, run, 1, line);
        });
}

/// The teacher's marginal (blue) and the student's (its divergence's colour) along axis `a`.
fn marginal_lines(
    pu: &mut egui_plot::PlotUi<'_>,
    cx: &ViewCtx,
    m: &Marginals,
    run: usize,
    a: usize,
    line: impl Fn(&[f64]) -> Vec<[f64; 2]>,
) {
    // The teacher wide and faint under the student, so that both show where they agree (FKL).
    pu.line(
        Line::new("teacher", line(&m.teacher[a]))
            .id(("teacher-marginal", a))
            .color(palette::TEACHER.gamma_multiply(0.6))
            .width(5.0)
            .allow_hover(false),
    );
    if let Some(s) = &m.student {
        pu.line(
            Line::new(cx.loss(run).label(), line(&s[a]))
                .id(("student-marginal", a))
                .color(cx.colors[run])
                .width(2.0)
                .allow_hover(false),
        );
    }
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
