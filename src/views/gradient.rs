//! Gradient / mass flow at the scrubber's epoch, one panel per run: the force `−∂D/∂z`, the mass
//! flow Δq, ABKD's αβ factors and DKD's target / non-target parts, as
//! [`crate::toy::analysis::gradient`] computes them.

use super::ViewCtx;
use super::common::base_plot;
use super::small_multiples::{ClassAxis, cell_grid, compact_cell, grid_shape};
use super::ticks::{grid_125, tick, x_axis, y_axis};
use crate::math::Divergence;
use crate::math::eakd::RowWeight;
use crate::toy::analysis::abplane::ab_exponents;
use crate::toy::analysis::gradient::{
    DkdParts, Factors, RunGradient, flow_epochs, max_abs, parameter_force,
};
use crate::views::palette;
use crate::views::state::{GradientOptions as Options, GradientShown as Shown, ToyState};
use egui::{Color32, Id, RichText, Stroke, Ui};
use egui_plot::{
    Bar, BarChart, HLine, HoverPosition, Line, LineStyle, Plot, PlotPoint, PlotPoints, Span, Text,
};

/// Above this many classes the per-class series are filled lines instead of bars.
const MAX_BARS: usize = 200;
const MIN_PLOT_H: f32 = 58.0;
/// Height of a panel's title line.
const HEADER_H: f32 = 20.0;

/// The factors' colours in the αβ split (neutral, so that they never read as another run).
const CONFIDENCE: Color32 = Color32::from_rgb(0x80, 0x80, 0x80);
/// The hardness factor: near-black, or near-white in the dark theme ([`ink`]).
const HARDNESS: Color32 = Color32::from_rgb(0x22, 0x22, 0x22);

/// DKD's two parts: dark grey for the target part, light grey (bars) or mid grey dashed (lines) for
/// the non-target part; neutral like the factors (palette: only runs carry a family's hue).
fn dkd_colors(ctx: &egui::Context, bars: bool) -> (Color32, Color32) {
    let dark = ctx.global_style().visuals.dark_mode;
    (
        palette::aux(0, dark),
        palette::aux(if bars { 2 } else { 1 }, dark),
    )
}

/// The key's names of DKD's two parts (the tests look for them).
pub(crate) const TCKD_KEY: &str = "α·TCKD part: target vs rest";
pub(crate) const NCKD_KEY: &str = "β·NCKD part: shape of the non-targets";

/// `light` in the light theme and its near-white counterpart in the dark one.
pub(super) fn ink(ctx: &egui::Context, light: Color32) -> Color32 {
    if ctx.global_style().visuals.dark_mode {
        Color32::from_gray(225)
    } else {
        light
    }
}
/// Opacity of the teacher overlay.
const TEACHER_ALPHA: f32 = 0.55;

/// True when the view shows the mass flow Δq alone (the app's tests click its switch).
#[cfg(test)]
pub(crate) fn shows_flow_only(state: &ToyState) -> bool {
    state.gradient.shown == Shown::Flow
}

pub fn gradient_ui(ui: &mut Ui, cx: &ViewCtx, state: &mut ToyState) {
    let mut opts = state.gradient;
    let any_ab = (0..cx.runs()).any(|r| ab_exponents(cx.divergence(r)).is_some());
    if !cx.figure {
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut opts.shown, Shown::Both, "force + Δq");
            ui.selectable_value(&mut opts.shown, Shown::Force, "force");
            ui.selectable_value(&mut opts.shown, Shown::Flow, "Δq");
            ui.separator();
            ui.checkbox(&mut opts.teacher, "teacher")
                .on_hover_text("The teacher p, faint and scaled to each plot, for orientation");
            if !cx.continuous() {
                ui.checkbox(&mut state.dist.sorted, "sort by teacher");
                ui.checkbox(&mut state.dist.shade_head, "shade head");
            }
            if any_ab && opts.shown != Shown::Flow {
                ui.checkbox(&mut opts.factors, "αβ factors").on_hover_text(
                    "ABKD's split of the per-class force w = q^β·(q^α − p^α)/α into the confidence \
                     factor q^β and the hardness factor (q^α − p^α)/α (log(q/p) at α = 0), each \
                     divided by its largest magnitude. FKL is αβ (1, 0), RKL (0, 1).",
                );
            }
        });
    }
    state.gradient = opts;
    if cx.runs() == 0 {
        ui.label("No divergence is enabled.");
        return;
    }
    let frame = Frame::new(cx, state, ui.scope_id().with("gradient-x"));
    let factors_of = |run: usize| {
        opts.factors && opts.shown != Shown::Flow && ab_exponents(cx.divergence(run)).is_some()
    };
    let n = cx.runs();
    let dkd_of = |run: usize| {
        opts.shown != Shown::Flow && matches!(cx.divergence(run), Divergence::Dkd { .. })
    };
    key_ui(
        ui,
        cx,
        &frame,
        &opts,
        (0..n).any(factors_of),
        (0..n).any(dkd_of),
    );

    let plots = |run: usize| -> usize {
        let base = if opts.shown == Shown::Both { 2 } else { 1 };
        base + factors_of(run) as usize + dkd_of(run) as usize
    };
    let most = (0..n).map(plots).max().unwrap_or(1);
    let min_h = HEADER_H + 30.0 + most as f32 * MIN_PLOT_H;
    // Each plot about three times as wide as it is high.
    let (cols, rows, h) = grid_shape(n, ui.available_size(), min_h, |w, h| {
        w / ((h - HEADER_H - 30.0) / most as f32).max(1.0) / 3.0
    });
    cell_grid(ui, "gradient-scroll", n, cols, rows, h, |ui, run| {
        compact_cell(ui, h);
        run_panel(ui, cx, &frame, run, &opts, h);
    });
}

/// One line naming what the panels draw (the panels themselves carry no legend, so that small
/// panels stay readable).
fn key_ui(ui: &mut Ui, cx: &ViewCtx, frame: &Frame, opts: &Options, factors: bool, dkd: bool) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        ui.label(RichText::new(format!("epoch {}", cx.epoch)).strong());
        let run_color = cx.colors.first().copied().unwrap_or(Color32::GRAY);
        let mark = if frame.bars() {
            Swatch::Bar
        } else {
            Swatch::Area
        };
        if opts.shown != Shown::Flow {
            key_item(ui, mark, run_color, "force −∂D/∂z (Σ = 0)");
        }
        if opts.shown != Shown::Force {
            let text = match flow_epochs(cx.result, 0, cx.epoch) {
                Some((a, b)) => format!("Δq = q({b}) − q({a})"),
                None => "Δq (needs two kept epochs)".into(),
            };
            key_item(ui, mark, run_color, text);
        }
        if opts.teacher {
            key_item(
                ui,
                Swatch::Line,
                faint(palette::TEACHER, TEACHER_ALPHA),
                "teacher p (scaled)",
            );
        }
        if frame.shade_head {
            key_item(ui, Swatch::Band, palette::HEAD_SHADE, "head");
        }
        if factors {
            ui.separator();
            key_item(ui, Swatch::Dashed, CONFIDENCE, "confidence q^β");
            key_item(
                ui,
                Swatch::Line,
                ink(ui.ctx(), HARDNESS),
                "hardness (q^α − p^α)/α",
            );
            key_item(ui, Swatch::Thick, run_color, "w = product (each ÷ max)");
        }
        if dkd {
            ui.separator();
            let (t, n) = dkd_colors(ui.ctx(), frame.bars());
            let (mt, mn) = if frame.bars() {
                (Swatch::Bar, Swatch::Bar)
            } else {
                (Swatch::Line, Swatch::Dashed)
            };
            key_item(ui, mt, t, TCKD_KEY);
            key_item(ui, mn, n, NCKD_KEY);
            ui.label(RichText::new("(DKD: the two sum to the force)").weak());
        }
    });
}

/// A legend mark drawn inline with a key's text (the panels carry no legends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swatch {
    Bar,
    Dot,
    Ring,
    Area,
    Line,
    Thick,
    Dashed,
    Band,
}

/// A swatch and its text as one widget, so that they stay together when the key wraps.
pub(super) fn key_item(
    ui: &mut Ui,
    kind: Swatch,
    color: Color32,
    text: impl Into<egui::WidgetText>,
) {
    let galley = text.into().into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Body,
    );
    let mark = egui::vec2(18.0, 12.0);
    let size = egui::vec2(mark.x + 4.0 + galley.size().x, galley.size().y.max(mark.y));
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let mark_rect = egui::Rect::from_min_size(
        egui::pos2(rect.left(), rect.center().y - mark.y / 2.0),
        mark,
    );
    swatch(ui.painter(), mark_rect, kind, color);
    let text_pos = egui::pos2(
        rect.left() + mark.x + 4.0,
        rect.center().y - galley.size().y / 2.0,
    );
    ui.painter()
        .galley(text_pos, galley, ui.visuals().text_color());
}

/// Draws one [`Swatch`] in `color`.
fn swatch(painter: &egui::Painter, rect: egui::Rect, kind: Swatch, color: Color32) {
    let c = rect.center();
    match kind {
        Swatch::Bar => {
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(c.x - 6.0, rect.top() + 1.0),
                    egui::pos2(c.x - 2.0, rect.bottom()),
                ),
                0.0,
                color,
            );
            painter.rect_filled(
                egui::Rect::from_min_max(
                    egui::pos2(c.x + 1.0, rect.top() + 5.0),
                    egui::pos2(c.x + 5.0, rect.bottom()),
                ),
                0.0,
                color,
            );
        }
        Swatch::Dot => {
            painter.circle_filled(c, 3.0, color);
        }
        Swatch::Ring => {
            painter.circle_stroke(c, 3.0, Stroke::new(1.2, color));
        }
        Swatch::Area => {
            let pts = vec![
                egui::pos2(rect.left(), rect.bottom()),
                egui::pos2(rect.left() + 5.0, rect.top() + 2.0),
                egui::pos2(rect.right() - 5.0, rect.top() + 6.0),
                egui::pos2(rect.right(), rect.bottom()),
            ];
            painter.add(egui::Shape::convex_polygon(
                pts.clone(),
                color.gamma_multiply(0.35),
                Stroke::NONE,
            ));
            painter.add(egui::Shape::line(pts, Stroke::new(1.5, color)));
        }
        Swatch::Line | Swatch::Thick => {
            let width = if kind == Swatch::Thick { 2.5 } else { 1.5 };
            painter.line_segment(
                [egui::pos2(rect.left(), c.y), egui::pos2(rect.right(), c.y)],
                Stroke::new(width, color),
            );
        }
        Swatch::Dashed => {
            for i in 0..3 {
                let x = rect.left() + i as f32 * 7.0;
                painter.line_segment(
                    [
                        egui::pos2(x, c.y),
                        egui::pos2((x + 4.0).min(rect.right()), c.y),
                    ],
                    Stroke::new(1.5, color),
                );
            }
        }
        Swatch::Band => {
            painter.rect_filled(rect.shrink2(egui::vec2(3.0, 0.0)), 0.0, color);
            painter.rect_stroke(
                rect.shrink2(egui::vec2(3.0, 0.0)),
                0.0,
                Stroke::new(0.5, Color32::from_gray(170)),
                egui::StrokeKind::Inside,
            );
        }
    }
}

/// What every panel shares: the class order on the x axis and the x of each position.
struct Frame {
    /// Class shown at each x position.
    order: Vec<usize>,
    /// x coordinate of each position (class rank/index, or the grid's x).
    xs: Vec<f64>,
    x_label: &'static str,
    continuous: bool,
    shade_head: bool,
    /// The teacher's head classes (AKL mask of the metrics' μ).
    head: Vec<bool>,
    sorted: bool,
    /// Links the x axes (and the hover cursor) of every plot in the view.
    link: Id,
}

impl Frame {
    fn new(cx: &ViewCtx, state: &ToyState, link: Id) -> Self {
        let ClassAxis {
            order,
            xs,
            x_label,
            continuous,
            sorted,
        } = ClassAxis::new(cx, state.dist.sorted);
        Frame {
            order,
            xs,
            x_label,
            continuous,
            shade_head: state.dist.shade_head && !continuous,
            head: cx.result.regions.head.clone(),
            sorted,
            link,
        }
    }

    /// Grid steps below one class are meaningless.
    fn min_x_step(&self) -> f64 {
        if self.continuous { 0.0 } else { 1.0 }
    }

    fn bars(&self) -> bool {
        !self.continuous && self.order.len() <= MAX_BARS
    }

    /// The position under plot coordinate `x`.
    fn position_at(&self, x: f64) -> Option<usize> {
        let n = self.xs.len();
        if n == 0 || !x.is_finite() {
            return None;
        }
        if !self.continuous {
            let i = x.round();
            return (i >= 0.0 && (i as usize) < n).then_some(i as usize);
        }
        let i = self.xs.partition_point(|&v| v < x).min(n - 1);
        let best = if i > 0 && (x - self.xs[i - 1]).abs() < (self.xs[i] - x).abs() {
            i - 1
        } else {
            i
        };
        Some(best)
    }

    /// `[x, v[class]]` in plot order, skipping non-finite values.
    fn series(&self, v: &[f64], scale: f64) -> Vec<[f64; 2]> {
        let pts = self
            .order
            .iter()
            .zip(&self.xs)
            .filter_map(|(&k, &x)| {
                let y = v.get(k).copied()? * scale;
                y.is_finite().then_some([x, y])
            })
            .collect();
        super::common::envelope(pts, super::common::WIDE_PLOT_PX)
    }
}

/// The hover text for the class at plot position `i`.
fn describe(data: &RunGradient, frame: &Frame, i: usize) -> String {
    let k = frame.order[i];
    let mut s = if frame.continuous {
        format!("x = {:.3}", frame.xs[i])
    } else if frame.sorted {
        format!("class {k} (teacher rank {i})")
    } else {
        format!("class {k}")
    };
    let num = |v: &[f64]| v.get(k).map_or("–".to_string(), |v| format!("{v:.3e}"));
    s += &format!("\np = {}\nq = {}", num(&data.p), num(&data.q));
    if let Some(f) = &data.force {
        s += &format!("\n−∂D/∂z = {}", num(f));
    }
    if let Some((_, _, d)) = &data.flow {
        s += &format!("\nΔq = {}", num(d));
    }
    if let Some(Factors {
        confidence: c,
        hardness: h,
        w,
        ..
    }) = &data.factors
    {
        s += &format!(
            "\nconfidence q^β = {}\nhardness = {}\nw = {}",
            num(c),
            num(h),
            num(w)
        );
    }
    if let Some(DkdParts {
        target, non_target, ..
    }) = &data.dkd
    {
        s += &format!(
            "\nα·TCKD part = {}\nβ·NCKD part = {}",
            num(target),
            num(non_target)
        );
    }
    s
}

fn run_panel(ui: &mut Ui, cx: &ViewCtx, frame: &Frame, run: usize, opts: &Options, height: f32) {
    let color = cx.colors.get(run).copied().unwrap_or(Color32::GRAY);
    let want_force = opts.shown != Shown::Flow;
    let want_flow = opts.shown != Shown::Force;
    let mut data = RunGradient::new(cx.result, run, cx.epoch);
    // Only what the panel shows (the hover text reads the same data).
    if !want_force {
        data.force = None;
    }
    if !want_flow {
        data.flow = None;
    }
    if !(opts.factors && want_force) {
        data.factors = None;
    }
    if !want_force {
        data.dkd = None;
    }
    let div = data.divergence;

    ui.horizontal(|ui| {
        let mut note = String::new();
        if let Divergence::Taid { t, .. } = div {
            note = format!("t = {t:.3}");
        }
        if let Some(Factors { alpha, beta, .. }) = &data.factors
            && !matches!(div, Divergence::Ab { .. })
        {
            note = format!("αβ = ({}, {})", short(*alpha), short(*beta));
        }
        if let (Some(g), Some(mu), Some(sigma)) =
            (&data.grad, cx.record(run).mu, cx.record(run).sigma)
        {
            // What actually moves the student: the force on the Gaussian's parameters.
            let (fm, fs) = parameter_force(g, cx.xs(), mu, sigma);
            note = format!("−∂D/∂μ = {fm:+.3}   −∂D/∂log σ = {fs:+.3}").replace('-', "−");
        }
        if let Some(parts) = &data.dkd
            && note.is_empty()
        {
            note = format!("target class {}", parts.label);
        }
        if let Some(rw) = &data.eakd {
            note = eakd_note(rw);
        }
        if data.grad.is_none() {
            note = "D is not finite here: no gradient".into();
        }
        let name =
            egui::Label::new(RichText::new(cx.loss(run).label()).color(color).strong()).truncate();
        let spec = cx.loss(run).to_string();
        if note.is_empty() {
            ui.add(name).on_hover_text(spec);
        } else {
            // The note keeps its room on the right; the name truncates into the rest.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(RichText::new(note).weak());
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.add(name).on_hover_text(spec)
                });
            });
        }
    });

    let mut plots: Vec<(Kind, f32)> = Vec::new();
    if want_force {
        plots.push((Kind::Force, 1.25));
    }
    if want_flow {
        plots.push((Kind::Flow, 1.0));
    }
    if data.dkd.is_some() {
        plots.push((Kind::DkdParts, 1.0));
    }
    if data.factors.is_some() {
        plots.push((Kind::Factors, 0.9));
    }
    let total: f32 = plots.iter().map(|p| p.1).sum();
    // The bottom plot also carries the x axis (about 30 points).
    let room = (height - HEADER_H - 30.0).max(MIN_PLOT_H * plots.len() as f32);
    let last = plots.len().saturating_sub(1);
    for (i, &(kind, weight)) in plots.iter().enumerate() {
        let axis = if i == last { 30.0 } else { 0.0 };
        let h = (room * weight / total - 2.0).max(MIN_PLOT_H - 2.0) + axis;
        let y_label = match kind {
            Kind::Force => "−∂D/∂z",
            Kind::Flow => "Δq",
            Kind::Factors => "÷ max",
            Kind::DkdParts => "parts",
        };
        let plot = base_plot(("gradient", run, kind), frame.x_label, y_label)
            .height(h)
            .custom_y_axes(vec![y_axis(y_label, tick)])
            .custom_x_axes(vec![x_axis(frame.x_label)])
            .x_grid_spacer(grid_125(frame.min_x_step()))
            .y_grid_spacer(grid_125(0.0))
            .show_axes([i == last, true])
            .link_axis(frame.link, [true, false])
            .link_cursor(frame.link, [true, false])
            .label_formatter(|pos: &HoverPosition<'_>| {
                let x = match pos {
                    HoverPosition::NearDataPoint { position, .. } => position.x,
                    HoverPosition::Elsewhere { position } => position.x,
                };
                frame.position_at(x).map(|i| describe(&data, frame, i))
            });
        let series = match kind {
            Kind::Force => data.force.as_ref(),
            Kind::Flow => data.flow.as_ref().map(|(_, _, d)| d),
            Kind::Factors | Kind::DkdParts => None,
        };
        if kind == Kind::DkdParts {
            if let Some(parts) = &data.dkd {
                dkd_plot(ui, plot, frame, parts);
            }
        } else if kind == Kind::Factors {
            if let Some(Factors {
                confidence: c,
                hardness: hard,
                w,
                ..
            }) = &data.factors
            {
                factor_plot(ui, plot, frame, c, hard, w, color);
            }
        } else if let Some(v) = series {
            let hints = kind == Kind::Force;
            signed_plot(ui, plot, frame, &data.p, v, color, opts.teacher, hints);
        } else {
            ui.allocate_space(egui::vec2(ui.available_width(), h));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Force,
    Flow,
    Factors,
    DkdParts,
}

fn faint(c: Color32, alpha: f32) -> Color32 {
    c.gamma_multiply(alpha)
}

/// The thin zero line every signed plot has.
fn zero_line(pu: &mut egui_plot::PlotUi<'_>) {
    pu.hline(
        HLine::new("", 0.0)
            .color(Color32::from_gray(110))
            .width(0.7)
            .allow_hover(false),
    );
}

/// A signed per-class series (bars, or a filled line beyond [`MAX_BARS`]) symmetric around 0, with
/// the faint teacher and the head shading. Items carry no names: the view's key explains them.
#[allow(clippy::too_many_arguments)]
fn signed_plot(
    ui: &mut Ui,
    plot: Plot<'_>,
    frame: &Frame,
    p: &[f64],
    v: &[f64],
    color: Color32,
    teacher: bool,
    hints: bool,
) {
    let m = max_abs(v);
    let plot = plot.include_y(-m * 1.08).include_y(m * 1.08);
    plot.show(ui, |pu| {
        if frame.shade_head {
            shade_head(pu, frame);
        }
        if teacher {
            let pts = frame.series(p, m / max_abs(p));
            pu.line(
                Line::new("", PlotPoints::new(pts))
                    .color(faint(palette::TEACHER, TEACHER_ALPHA))
                    .width(1.2)
                    .allow_hover(false),
            );
        }
        zero_line(pu);
        let pts = frame.series(v, 1.0);
        if frame.bars() {
            let bars: Vec<Bar> = pts
                .iter()
                .map(|&[x, y]| Bar::new(x, y).width(0.8).fill(color).stroke(Stroke::NONE))
                .collect();
            pu.bar_chart(BarChart::new("", bars).color(color).allow_hover(false));
        } else {
            pu.line(
                Line::new("", PlotPoints::new(pts))
                    .color(color)
                    .width(1.3)
                    .fill(0.0)
                    .fill_alpha(0.35)
                    .allow_hover(false),
            );
        }
        if hints && let Some(&x1) = frame.xs.last() {
            // The sign convention, in the plot's own corners.
            let right = x1 + if frame.continuous { 0.0 } else { 0.5 };
            let weak = ui_weak_color(pu);
            for (y, text, anchor) in [
                (m * 1.08, "push up", egui::Align2::RIGHT_TOP),
                (-m * 1.08, "push down", egui::Align2::RIGHT_BOTTOM),
            ] {
                pu.text(
                    Text::new("", PlotPoint::new(right, y), RichText::new(text).small())
                        .color(weak)
                        .anchor(anchor)
                        .allow_hover(false),
                );
            }
        }
    });
}

fn ui_weak_color(pu: &egui_plot::PlotUi<'_>) -> Color32 {
    if pu.ctx().global_style().visuals.dark_mode {
        Color32::from_gray(150)
    } else {
        Color32::from_gray(110)
    }
}

/// Bands over the teacher's head classes (each contiguous block of plot positions).
fn shade_head(pu: &mut egui_plot::PlotUi<'_>, frame: &Frame) {
    let head = &frame.head;
    let at = |i: usize| head.get(frame.order[i]).copied().unwrap_or(false);
    let mut i = 0;
    while i < frame.order.len() {
        if !at(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < frame.order.len() && at(i) {
            i += 1;
        }
        pu.span(
            Span::new("", frame.xs[start] - 0.5..=frame.xs[i - 1] + 0.5)
                .fill(palette::HEAD_SHADE)
                .border_width(0.0),
        );
    }
}

/// ABKD's confidence and hardness factors and their product w, each divided by its largest magnitude.
fn factor_plot(
    ui: &mut Ui,
    plot: Plot<'_>,
    frame: &Frame,
    confidence: &[f64],
    hardness: &[f64],
    w: &[f64],
    color: Color32,
) {
    plot.include_y(-1.08).include_y(1.08).show(ui, |pu| {
        if frame.shade_head {
            shade_head(pu, frame);
        }
        zero_line(pu);
        let c = frame.series(confidence, 1.0 / max_abs(confidence));
        pu.line(
            Line::new("", PlotPoints::new(c))
                .color(CONFIDENCE)
                .width(1.5)
                .style(LineStyle::Dashed { length: 5.0 })
                .allow_hover(false),
        );
        let h = frame.series(hardness, 1.0 / max_abs(hardness));
        pu.line(
            Line::new("", PlotPoints::new(h))
                .color(ink(pu.ctx(), HARDNESS))
                .width(1.0)
                .allow_hover(false),
        );
        let f = frame.series(w, 1.0 / max_abs(w));
        pu.line(
            Line::new("", PlotPoints::new(f))
                .color(color)
                .width(2.2)
                .allow_hover(false),
        );
    });
}

/// DKD's target and non-target parts of the force on one scale (they add up to the force plot):
/// side-by-side bars per class, or a solid and a dashed line beyond [`MAX_BARS`].
fn dkd_plot(ui: &mut Ui, plot: Plot<'_>, frame: &Frame, parts: &DkdParts) {
    // One scale for both (max_abs reads an all-zero part, NCKD at β = 0, as 1).
    let both: Vec<f64> = parts
        .target
        .iter()
        .chain(&parts.non_target)
        .copied()
        .collect();
    let m = max_abs(&both);
    let (ct, cn) = dkd_colors(ui.ctx(), frame.bars());
    plot.include_y(-m * 1.08)
        .include_y(m * 1.08)
        .show(ui, |pu| {
            if frame.shade_head {
                shade_head(pu, frame);
            }
            zero_line(pu);
            let (t, n) = (
                frame.series(&parts.target, 1.0),
                frame.series(&parts.non_target, 1.0),
            );
            if frame.bars() {
                // Distinct ids: unnamed items of one plot would otherwise share one and hide each other.
                for (i, (pts, color, dx)) in
                    [(t, ct, -0.225), (n, cn, 0.225)].into_iter().enumerate()
                {
                    let bars: Vec<Bar> = pts
                        .iter()
                        .map(|&[x, y]| {
                            Bar::new(x + dx, y)
                                .width(0.45)
                                .fill(color)
                                .stroke(Stroke::NONE)
                        })
                        .collect();
                    pu.bar_chart(
                        BarChart::new("", bars)
                            .id(("dkd-part", i))
                            .color(color)
                            .allow_hover(false),
                    );
                }
            } else {
                pu.line(
                    Line::new("", PlotPoints::new(t))
                        .id(("dkd-part", 0))
                        .color(ct)
                        .width(1.5)
                        .allow_hover(false),
                );
                pu.line(
                    Line::new("", PlotPoints::new(n))
                        .id(("dkd-part", 1))
                        .color(cn)
                        .width(1.5)
                        .style(LineStyle::Dashed { length: 5.0 })
                        .allow_hover(false),
                );
            }
        });
}

/// EA-KD's detached row weight at the epoch, with the entropies it is made of (practice.md §7; H_ub
/// is in the spec string).
pub(crate) fn eakd_note(rw: &RowWeight) -> String {
    format!(
        "row weight w = {:.3} (H_t {:.3}, H_s {:.3})",
        rw.w, rw.ht, rw.hs
    )
}

/// A parameter in a legend: `0.7`, `1`, `-0.25`.
fn short(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::toy::{FitResult, SnapshotPlan};
    use crate::views::state::ToyState;

    /// A preset's fit with q kept at every epoch, as the GUI runs it.
    pub(in crate::views) fn fit(preset: &str, epochs: usize) -> FitResult {
        let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.epochs = epochs;
        spec.run().unwrap()
    }

    /// Renders `view` at `epoch` (in the dark theme when `name` ends in `-dark`, else light); saves
    /// `/tmp/kdviz-{name}.png` when `KDVIZ_SAVE_VIEWS` is set. Returns the image.
    pub(in crate::views) fn render(
        name: &str,
        result: &FitResult,
        epoch: usize,
        size: egui::Vec2,
        mut view: impl FnMut(&mut Ui, &ViewCtx, &mut ToyState),
    ) -> image::RgbaImage {
        let divs: Vec<Divergence> = result.runs.iter().map(|r| r.divergence.family).collect();
        let colors = palette::run_colors(&divs);
        let mut state = ToyState::default();
        let mut harness = egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
            .with_size(size)
            .with_theme(if name.ends_with("-dark") {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            })
            .build_ui(|ui| {
                let cx = ViewCtx::new(result, &colors, epoch);
                egui::Frame::central_panel(ui.style()).show(ui, |ui| view(ui, &cx, &mut state));
            });
        harness.run();
        // egui_plot sizes its axes from the previous frame's tick labels.
        harness.run_steps(3);
        let image = harness.render().expect("render");
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            image.save(format!("/tmp/kdviz-{name}.png")).unwrap();
        }
        image
    }

    /// The image shows more than a background: many pixels differ from the corner colour.
    pub(crate) fn assert_drawn(image: &image::RgbaImage) {
        let bg = *image.get_pixel(2, 2);
        let differ = image.pixels().filter(|&&px| px != bg).count();
        let total = (image.width() * image.height()) as usize;
        assert!(
            differ > total / 50,
            "only {differ} of {total} pixels are drawn"
        );
    }

    #[test]
    fn renders_every_preset() {
        // (preset, epoch, sorted, size): the big sizes are a tab, the small ones a quarter of the
        // grid layout.
        let big = egui::vec2(1100.0, 760.0);
        let small = egui::vec2(620.0, 400.0);
        let cases = [
            ("longtail-all-divergences", 10, false, big),
            ("zipf-1000", 10, false, big),
            ("minillm-gmm", 50, false, big),
            ("amid-alpha-mixtures", 50, false, big),
            ("taid-schedule", 10, false, big),
            ("longtail-all-divergences", 50, true, big),
            ("akl-fig3-longtail", 10, true, small),
            ("longtail-all-divergences", 10, true, small),
            ("minillm-gmm", 50, false, small),
        ];
        for (i, (preset, epoch, sorted, size)) in cases.into_iter().enumerate() {
            let result = fit(preset, 60);
            let name = format!(
                "gradient-{preset}-{epoch}{}{}{}",
                if sorted { "-sorted" } else { "" },
                if size == small { "-small" } else { "" },
                if i == cases.len() - 1 { "-dark" } else { "" }
            );
            let image = render(&name, &result, epoch, size, |ui, cx, state| {
                state.dist.sorted = sorted;
                gradient_ui(ui, cx, state);
            });
            assert_drawn(&image);
        }
    }
}
