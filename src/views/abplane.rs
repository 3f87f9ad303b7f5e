//! The αβ plane of the alpha-beta divergence (ABKD): α on the teacher, β on the student. FKL sits at
//! (1, 0), RKL at (0, 1), the α-divergences on the line α + β = 1. Every enabled `ab` and `alpha`
//! divergence is a point that can be dragged (which refits); beside the plane, the ABKD reading of
//! the selected point: the per-class force `w_k = q_k^β · (q_k^α − p_k^α)/α`, split into its
//! confidence factor `q^β` and its hardness factor `(q^α − p^α)/α` (→ log(q/p) at α = 0), as
//! [`crate::toy::analysis::abplane`] computes it.

use super::ViewCtx;
use super::common::base_plot;
use super::ticks::{tick_125, uniform_grid_125};
use crate::math::Divergence;
use crate::toy::analysis::abplane::{
    AbReading, HI, LO, PROBE, RECOMMENDED, REFERENCES, ab_of, clamp_ab, finite_runs, nearest_alpha,
};
use crate::views::palette;
use crate::views::state::{Slot, ToyState};
use egui::{Align2, Color32, Stroke};
use egui_plot::{
    HLine, Legend, Line, LineStyle, MarkerShape, PlotPoint, PlotTransform, Points, Text, VLine,
};

/// A press within this many points of a divergence's point grabs it.
const PICK: f32 = 12.0;
/// A dragged point snaps onto a reference point within this many points.
const SNAP: f32 = 6.0;

/// Where the labels of [`REFERENCES`] go, in their order.
const REFERENCE_ANCHORS: [Align2; 3] =
    [Align2::LEFT_TOP, Align2::RIGHT_BOTTOM, Align2::LEFT_CENTER];

/// Where the labels of [`RECOMMENDED`] go, in their order.
const RECOMMENDED_ANCHORS: [Align2; 3] = [
    Align2::LEFT_CENTER,
    Align2::RIGHT_CENTER,
    Align2::LEFT_CENTER,
];

/// Confidence, hardness and force are not divergences: neutral greys told apart by line style
/// (confidence dotted, hardness dashed, force solid and strongest).
#[derive(Clone, Copy)]
struct FactorInk {
    confidence: (Color32, LineStyle),
    hardness: (Color32, LineStyle),
    force: (Color32, LineStyle),
}

impl FactorInk {
    fn new(dark: bool) -> Self {
        FactorInk {
            confidence: (palette::aux(1, dark), LineStyle::dotted_dense()),
            hardness: (palette::aux(1, dark), LineStyle::dashed_dense()),
            force: (palette::aux(0, dark), LineStyle::Solid),
        }
    }
}

/// What the reading shows: a divergence in the list, or a free probe point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Slot(usize),
    Probe,
}

/// The view's transient state, in egui's temp memory.
#[derive(Debug, Clone)]
struct PlaneState {
    selected: Option<Target>,
    dragging: Option<Target>,
    probe: [f64; 2],
    /// The plane's last transform (hit tests and tests).
    transform: Option<PlotTransform>,
}

impl Default for PlaneState {
    fn default() -> Self {
        PlaneState {
            selected: None,
            dragging: None,
            probe: PROBE,
            transform: None,
        }
    }
}

fn state_id(ui: &egui::Ui) -> egui::Id {
    ui.make_persistent_id("abplane-state")
}

pub fn abplane_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let id = state_id(ui);
    let mut ps: PlaneState = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    // A selection whose slot went away (or is no longer on the plane) falls back.
    if let Some(Target::Slot(i)) = ps.selected
        && state
            .slots
            .get(i)
            .is_none_or(|s| !s.enabled || ab_of(&s.div.family).is_none())
    {
        ps.selected = None;
    }
    if ps.selected.is_none() {
        ps.selected = Some(
            state
                .slots
                .iter()
                .position(|s| s.enabled && ab_of(&s.div.family).is_some())
                .map_or(Target::Probe, Target::Slot),
        );
    }

    let avail = ui.available_size();
    let wide = avail.x >= 1.35 * avail.y;
    if wide {
        let side = avail.y.min(avail.x * 0.55);
        ui.horizontal_top(|ui| {
            ui.allocate_ui(egui::vec2(side, avail.y), |ui| {
                plane(ui, state, &mut ps, side, side);
            });
            ui.allocate_ui(egui::vec2(ui.available_width(), avail.y), |ui| {
                ui.vertical(|ui| reading(ui, cx, state, &mut ps, avail.y));
            });
        });
    } else {
        let h = (avail.y * 0.58).max(160.0);
        plane(ui, state, &mut ps, avail.x, h);
        reading(ui, cx, state, &mut ps, ui.available_height());
    }
    ui.data_mut(|d| d.insert_temp(id, ps));
}

/// What the pointer did on the plane this frame.
enum Gesture {
    /// A drag began at this screen point.
    Start(egui::Pos2),
    None,
}

/// The plane: reference lines and points, the list's divergences, the probe; handles dragging.
fn plane(ui: &mut egui::Ui, state: &mut ToyState, ps: &mut PlaneState, width: f32, height: f32) {
    let colors =
        palette::for_background(palette::slot_colors(&state.slots), ui.visuals().dark_mode);
    let on_plane: Vec<(usize, [f64; 2])> = state
        .slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.enabled)
        .filter_map(|(i, s)| ab_of(&s.div.family).map(|ab| (i, ab)))
        .collect();
    let slot_color = |pred: &dyn Fn(&Divergence) -> bool| {
        state
            .slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.enabled && pred(&s.div.family))
            .map(|(i, _)| colors[i])
    };
    let fkl_color = slot_color(&|d| matches!(d, Divergence::Fkl));
    let rkl_color = slot_color(&|d| matches!(d, Divergence::Rkl));
    let selected = ps.selected;
    let probe = ps.probe;
    // Small planes go without a legend: the colours are the side panel's.
    let legend = width.min(height) >= 360.0;
    let ink = ui.visuals().text_color();
    let faint = ui.visuals().weak_text_color().gamma_multiply(0.7);
    let plot = base_plot("abplane", "α (teacher exponent)", "β (student exponent)")
        .width(width)
        .height(height)
        .legend(
            Legend::default()
                .position(egui_plot::Corner::RightTop)
                .text_style(egui::TextStyle::Small),
        )
        .data_aspect(1.0)
        // A fixed axis width: with a data aspect, a y axis that widens for "-1.5" would shrink the
        // plot, change the ticks and oscillate frame to frame.
        .y_axis_min_width(60.0)
        .include_x(LO - 0.1)
        .include_x(HI + 0.1)
        .include_y(LO - 0.1)
        .include_y(HI + 0.1)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_x(false)
        .show_y(false)
        .x_grid_spacer(uniform_grid_125(70.0))
        .y_grid_spacer(uniform_grid_125(45.0))
        .x_axis_formatter(tick_125)
        .y_axis_formatter(tick_125);
    let shown = plot.show(ui, |pu| {
        let t = *pu.transform();
        // One point in plot units, for label offsets.
        let [ux, uy] = t.dvalue_dpos().map(f64::abs);
        let limit = Stroke::new(1.0, faint);
        pu.vline(VLine::new("", 0.0).stroke(limit).allow_hover(false));
        pu.hline(HLine::new("", 0.0).stroke(limit).allow_hover(false));
        pu.line(
            Line::new("", vec![[LO, -LO], [-LO, LO]])
                .id("a+b=0")
                .stroke(limit)
                .style(LineStyle::dashed_dense())
                .allow_hover(false),
        );
        let small = |s: &str, c: Color32| egui::RichText::new(s).small().color(c);
        pu.text(
            Text::new("", PlotPoint::new(HI, 6.0 * uy), small("β = 0", faint))
                .anchor(Align2::RIGHT_BOTTOM)
                .allow_hover(false),
        );
        pu.text(
            Text::new("", PlotPoint::new(6.0 * ux, HI), small("α = 0", faint))
                .anchor(Align2::LEFT_TOP)
                .allow_hover(false),
        );
        pu.text(
            Text::new("", PlotPoint::new(-0.95, 0.95), small("α + β = 0", faint))
                .anchor(Align2::LEFT_BOTTOM)
                .allow_hover(false),
        );
        // The α-divergences.
        let alpha_line = palette::family_color(&Divergence::Alpha { alpha: 0.5 });
        pu.line(
            Line::new(
                if legend {
                    "α-divergences (α + β = 1)"
                } else {
                    ""
                },
                vec![[LO, 1.0 - LO], [HI, 1.0 - HI]],
            )
            .id("alpha-line")
            .color(alpha_line.gamma_multiply(0.8))
            .width(1.5)
            .allow_hover(false),
        );
        // Reference points.
        for ((name, [a, b]), anchor) in REFERENCES.into_iter().zip(REFERENCE_ANCHORS) {
            let c = match name {
                "FKL" => fkl_color.unwrap_or(ink),
                "RKL" => rkl_color.unwrap_or(ink),
                _ => ink,
            };
            pu.points(
                Points::new("", vec![[a, b]])
                    .id(("ref", name))
                    .shape(MarkerShape::Square)
                    .radius(4.0)
                    .color(c),
            );
            pu.text(
                Text::new("", label_at(a, b, anchor, ux, uy), small(name, c).strong())
                    .anchor(anchor)
                    .allow_hover(false),
            );
        }
        for ((name, [a, b]), anchor) in RECOMMENDED.into_iter().zip(RECOMMENDED_ANCHORS) {
            pu.points(
                Points::new("", vec![[a, b]])
                    .id(("rec", name))
                    .shape(MarkerShape::Diamond)
                    .filled(false)
                    .radius(4.5)
                    .color(ink),
            );
            pu.text(
                Text::new("", label_at(a, b, anchor, ux, uy), small(name, ink))
                    .anchor(anchor)
                    .allow_hover(false),
            );
        }
        // The list's divergences, selected one ringed.
        for &(i, [a, b]) in &on_plane {
            let at = vec![[a, b]];
            if selected == Some(Target::Slot(i)) {
                pu.points(
                    Points::new("", at.clone())
                        .id(("sel", i))
                        .filled(false)
                        .radius(10.0)
                        .color(colors[i]),
                );
            }
            pu.points(
                Points::new("", at.clone())
                    .id(("halo", i))
                    .radius(7.5)
                    .color(Color32::WHITE),
            );
            pu.points(
                Points::new(
                    if legend {
                        state.slots[i].div.label()
                    } else {
                        String::new()
                    },
                    at,
                )
                .id(("slot", i))
                .radius(6.0)
                .color(colors[i]),
            );
        }
        if selected == Some(Target::Probe) {
            pu.points(
                Points::new(if legend { "probe" } else { "" }, vec![probe])
                    .id("probe")
                    .shape(MarkerShape::Plus)
                    .radius(7.0)
                    .color(ink),
            );
        }

        // Gestures: a drag that starts on a point moves it; anywhere else it moves the probe.
        let r = pu.response();
        let gesture = if r.drag_started() {
            pu.ctx()
                .input(|i| i.pointer.press_origin())
                .map_or(Gesture::None, Gesture::Start)
        } else {
            Gesture::None
        };
        let clicked = r.clicked();
        let dragging = r.dragged();
        let stopped = r.drag_stopped();
        let pointer = pu.pointer_coordinate().map(|p| [p.x, p.y]);
        let click_pos = r.interact_pointer_pos();
        (t, gesture, clicked, dragging, stopped, pointer, click_pos)
    });
    let (t, gesture, clicked, dragging, stopped, pointer, click_pos) = shown.inner;
    let pick = |screen: egui::Pos2| -> Option<usize> {
        on_plane
            .iter()
            .map(|&(i, [a, b])| {
                (
                    i,
                    t.position_from_point(&PlotPoint::new(a, b))
                        .distance(screen),
                )
            })
            .filter(|&(_, d)| d <= PICK)
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(i, _)| i)
    };
    if let Gesture::Start(origin) = gesture {
        let target = pick(origin).map_or(Target::Probe, Target::Slot);
        ps.dragging = Some(target);
        ps.selected = Some(target);
    }
    if clicked && let Some(pos) = click_pos {
        let target = pick(pos).map_or(Target::Probe, Target::Slot);
        ps.selected = Some(target);
        if target == Target::Probe
            && let Some(p) = pointer
        {
            ps.probe = clamp_ab(p);
        }
    }
    if dragging && let (Some(target), Some(p)) = (ps.dragging, pointer) {
        let p = snap(clamp_ab(p), &t);
        match target {
            Target::Probe => ps.probe = p,
            Target::Slot(i) => {
                if let Some(slot) = state.slots.get_mut(i) {
                    move_slot(slot, p);
                }
            }
        }
    }
    if stopped {
        ps.dragging = None;
    }
    ps.transform = Some(t);
    if ps.dragging.is_some() || shown.response.hovered() {
        shown.response.on_hover_cursor(egui::CursorIcon::Crosshair);
    }
}

/// Where a label goes so that it clears its marker: a few points off in the anchor's direction.
fn label_at(a: f64, b: f64, anchor: Align2, ux: f64, uy: f64) -> PlotPoint {
    let off = 11.0;
    let dx = match anchor.x() {
        egui::Align::Min => off * ux,
        egui::Align::Max => -off * ux,
        egui::Align::Center => 0.0,
    };
    let dy = match anchor.y() {
        egui::Align::Min => -off * uy,
        egui::Align::Max => off * uy,
        egui::Align::Center => 0.0,
    };
    PlotPoint::new(a + dx, b + dy)
}

/// Onto a reference or recommended point when close enough on screen.
fn snap(p: [f64; 2], t: &PlotTransform) -> [f64; 2] {
    let at = t.position_from_point(&PlotPoint::new(p[0], p[1]));
    REFERENCES
        .iter()
        .chain(RECOMMENDED.iter())
        .map(|&(_, ab)| ab)
        .find(|&[a, b]| t.position_from_point(&PlotPoint::new(a, b)).distance(at) <= SNAP)
        .unwrap_or(p)
}

/// Writes a dragged position into a slot: an α-divergence stays on its line (nearest point).
fn move_slot(slot: &mut Slot, [a, b]: [f64; 2]) {
    match &mut slot.div.family {
        Divergence::Ab { alpha, beta } => {
            *alpha = a;
            *beta = b;
        }
        Divergence::Alpha { alpha } => *alpha = nearest_alpha([a, b]),
        _ => {}
    }
}

/// The run whose student the reading uses for a selected slot: the same divergence if it ran, else
/// the first run.
fn run_for(cx: &ViewCtx, state: &ToyState, target: Option<Target>) -> usize {
    if let Some(Target::Slot(i)) = target
        && let Some(slot) = state.slots.get(i)
    {
        if let Some(r) = (0..cx.runs()).find(|&r| *cx.loss(r) == slot.div) {
            return r;
        }
        // Mid-drag the fit lags behind: the slot's position among the enabled ones.
        let k = state.slots[..i].iter().filter(|s| s.enabled).count();
        if slot.enabled && k < cx.runs() && cx.divergence(k).name() == slot.div.family.name() {
            return k;
        }
    }
    0
}

/// The selected point's (α, β), its name and colour.
fn selection(state: &ToyState, ps: &PlaneState, ink: Color32) -> ([f64; 2], String, Color32) {
    if let Some(Target::Slot(i)) = ps.selected
        && let Some(ab) = state.slots.get(i).and_then(|s| ab_of(&s.div.family))
    {
        let colors = palette::slot_colors(&state.slots);
        return (ab, state.slots[i].div.label(), colors[i]);
    }
    (ps.probe, "probe".to_string(), ink)
}

/// Draws one series as a line (through markers when there are few classes); NaN breaks the line.
fn series(
    pu: &mut egui_plot::PlotUi<'_>,
    name: &str,
    xs: &[f64],
    ys: &[f64],
    (color, style): (Color32, LineStyle),
    width: f32,
    markers: bool,
) {
    for (k, pts) in finite_runs(xs, ys).into_iter().enumerate() {
        let pts = super::common::envelope(pts, super::common::WIDE_PLOT_PX);
        let label = if k == 0 { name } else { "" };
        if markers {
            pu.points(
                Points::new("", pts.clone())
                    .id((name, "markers", k))
                    .color(color)
                    .radius(1.8),
            );
        }
        pu.line(
            Line::new(label, pts)
                .id((name, k))
                .color(color)
                .style(style)
                .width(width),
        );
    }
}

const READING_NOTE: &str = "Smaller α: stronger hardness concentration (classes with large relative \
    errors dominate). Larger β: stronger confidence concentration (classes the student is sure of \
    dominate). FKL (1, 0) is weak/weak, RKL (0, 1) strong/strong. w > 0 pushes q down, w < 0 pulls \
    it up.";

/// The ABKD reading of the selected point.
fn reading(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState, ps: &mut PlaneState, h: f32) {
    let ink = ui.visuals().text_color();
    let (ab, name, color) = selection(state, ps, ink);
    let [a, b] = ab;
    let compact = h < 360.0 || ui.available_width() < 300.0;
    let run = (cx.runs() > 0).then(|| run_for(cx, state, ps.selected));
    let source = run.map_or_else(String::new, |r| {
        format!("student of {} at epoch {}", cx.loss(r).label(), cx.epoch)
    });
    let mut hover = format!(
        "The per-class force of the αβ-divergence's gradient, w_k = q_k^β · (q_k^α − p_k^α)/α \
         (the hardness factor is log(q/p) at α = 0), with the {source}. Each curve is divided \
         by its largest magnitude.\n\n{READING_NOTE}"
    );
    let bin_note = cx.continuous() && (a + b - 1.0).abs() > 1e-9;
    if bin_note {
        hover.push_str(&format!(
            "\n\nα + β ≠ 1: on a grid the value scales with the bin width, as Δ^(α+β−1) = Δ^{:.2}.",
            a + b - 1.0
        ));
    }
    ui.horizontal_wrapped(|ui| {
        if compact {
            ui.label(
                egui::RichText::new(format!("α = {a:.2}, β = {b:.2}"))
                    .color(color)
                    .strong(),
            )
            .on_hover_text(format!("{name}\n\n{hover}"));
        } else {
            ui.label(egui::RichText::new(&name).color(color).strong())
                .on_hover_text(&hover);
            ui.label(format!("α = {a:.2}, β = {b:.2}"))
                .on_hover_text(&hover);
        }
        if ps.selected == Some(Target::Probe) {
            let add = ui
                .button("add ab here")
                .on_hover_text("add ab with these α and β to the divergence list (refits)");
            if add.clicked() {
                state.slots.push(Slot {
                    div: Divergence::Ab { alpha: a, beta: b }.into(),
                    enabled: true,
                });
                ps.selected = Some(Target::Slot(state.slots.len() - 1));
            }
        }
    });
    let Some(run) = run else {
        ui.label("No fit to read the student from: enable a divergence.");
        return;
    };
    let q = cx.q(run);
    let p = cx.p();
    if q.len() != p.len() {
        return;
    }
    if !compact {
        ui.label(
            egui::RichText::new(format!(
                "force w_k = q_k^β · (q_k^α − p_k^α)/α per class; {source}"
            ))
            .small(),
        );
    }
    let f = AbReading::new(cx.xs(), p, q, ab, cx.continuous());
    let markers = f.xs.len() <= 120;
    let x_label = if cx.continuous() { "x" } else { "class" };
    let hard_name = if a.abs() < 1e-9 {
        "hardness log(q/p)"
    } else {
        "hardness (q^α − p^α)/α"
    };
    let legend = || {
        Legend::default()
            .position(egui_plot::Corner::RightTop)
            .text_style(egui::TextStyle::Small)
            .background_alpha(0.75)
            .follow_insertion_order(true)
    };
    let style = |plot: egui_plot::Plot<'static>, height: f32| {
        plot.height(height)
            .include_y(-1.05)
            .include_y(1.05)
            .legend(legend())
            .x_grid_spacer(uniform_grid_125(70.0))
            .y_grid_spacer(uniform_grid_125(45.0))
            .x_axis_formatter(tick_125)
            .y_axis_formatter(tick_125)
            .y_axis_min_width(34.0)
    };
    let fi = FactorInk::new(ui.visuals().dark_mode);
    let zero = HLine::new("", 0.0)
        .color(ink.gamma_multiply(0.3))
        .width(1.0);
    if compact {
        let plot_h = (ui.available_height() - 4.0).max(80.0);
        style(base_plot("abplane-reading", x_label, "scaled"), plot_h).show(ui, |pu| {
            pu.hline(zero);
            series(
                pu,
                "confidence q^β",
                &f.xs,
                &f.confidence,
                fi.confidence,
                1.2,
                false,
            );
            series(pu, hard_name, &f.xs, &f.hardness, fi.hardness, 1.2, false);
            series(pu, "force w", &f.xs, &f.force, fi.force, 2.2, markers);
        });
        return;
    }
    let notes_h = if bin_note { 70.0 } else { 54.0 };
    let plot_h = ((ui.available_height() - notes_h) / 2.0 - 4.0).max(80.0);
    let link = ui.make_persistent_id("abplane-reading-link");
    style(
        base_plot("abplane-factors", x_label, "factor (scaled)"),
        plot_h,
    )
    .link_axis(link, [true, false])
    .show(ui, |pu| {
        pu.hline(zero.clone());
        series(
            pu,
            "confidence q^β",
            &f.xs,
            &f.confidence,
            fi.confidence,
            2.0,
            markers,
        );
        series(pu, hard_name, &f.xs, &f.hardness, fi.hardness, 2.0, markers);
    });
    style(
        base_plot("abplane-force", x_label, "force (scaled)"),
        plot_h,
    )
    .link_axis(link, [true, false])
    .show(ui, |pu| {
        pu.hline(zero);
        let tp = palette::TEACHER.gamma_multiply(0.5);
        series(
            pu,
            "teacher p",
            &f.xs,
            &f.p,
            (tp, LineStyle::Solid),
            1.5,
            false,
        );
        let sq = cx.colors[run].gamma_multiply(0.5);
        series(
            pu,
            "student q",
            &f.xs,
            &f.q,
            (sq, LineStyle::Solid),
            1.5,
            false,
        );
        series(pu, "force w", &f.xs, &f.force, fi.force, 2.2, markers);
    });
    let weak = |s: &str| egui::RichText::new(s).small().weak();
    ui.label(weak(READING_NOTE));
    if bin_note {
        ui.label(weak(&format!(
            "α + β ≠ 1: on a grid the value scales with the bin width, as Δ^(α+β−1) = Δ^{:.2}.",
            a + b - 1.0
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::{FitResult, SnapshotPlan};
    use egui_kittest::kittest::Queryable as _;

    fn fit(preset: &str, divs: &[&str], epochs: usize) -> FitResult {
        let mut cfg = crate::toy::preset::load(preset).unwrap();
        cfg.divergences = divs.iter().map(|s| s.to_string()).collect();
        let mut spec = cfg.to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.epochs = epochs;
        spec.run().unwrap()
    }

    fn slots(divs: &[&str]) -> Vec<Slot> {
        divs.iter()
            .map(|s| Slot {
                div: s.parse().unwrap(),
                enabled: true,
            })
            .collect()
    }

    fn with_slots(divs: &[&str]) -> ToyState {
        ToyState {
            slots: slots(divs),
            ..Default::default()
        }
    }

    #[test]
    fn slots_move_like_their_family() {
        let mut s = Slot {
            div: Divergence::Alpha { alpha: 0.5 }.into(),
            enabled: true,
        };
        move_slot(&mut s, [0.9, 0.5]);
        // The nearest point of α + β = 1 to (0.9, 0.5) is α = 0.7.
        assert_eq!(s.div.family, Divergence::Alpha { alpha: 0.7 });
        let mut s = Slot {
            div: Divergence::Ab {
                alpha: 0.2,
                beta: 0.7,
            }
            .into(),
            enabled: true,
        };
        move_slot(&mut s, clamp_ab([3.0, -0.123]));
        assert_eq!(
            s.div.family,
            Divergence::Ab {
                alpha: 2.0,
                beta: -0.12
            }
        );
    }

    struct Scene {
        result: FitResult,
        colors: Vec<Color32>,
        epoch: usize,
    }

    fn harness(
        scene: &Scene,
        state: ToyState,
        size: egui::Vec2,
    ) -> egui_kittest::Harness<'_, ToyState> {
        egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
            .with_size(size)
            .with_theme(egui::Theme::Light)
            .wgpu()
            .build_ui_state(
                move |ui, state: &mut ToyState| {
                    egui::Frame::central_panel(ui.style()).show(ui, |ui| {
                        let cx = ViewCtx::new(&scene.result, &scene.colors, scene.epoch);
                        abplane_ui(ui, &cx, state);
                    });
                },
                state,
            )
    }

    fn make_scene(preset: &str, divs: &[&str], epochs: usize, epoch: usize) -> Scene {
        let result = fit(preset, divs, epochs);
        let d: Vec<Divergence> = result.runs.iter().map(|r| r.divergence.family).collect();
        Scene {
            colors: palette::run_colors(&d),
            result,
            epoch,
        }
    }

    fn save(h: &mut egui_kittest::Harness<'_, ToyState>, file: &str) {
        let image = h.render().expect("render");
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            image.save(format!("/tmp/{file}.png")).unwrap();
        }
    }

    /// The plane's state, read back from egui's memory.
    fn plane_state(h: &egui_kittest::Harness<'_, ToyState>) -> PlaneState {
        let mut found = None;
        h.ctx.data(|d| {
            // The state's id depends on the harness's root Ui; search the temp data for it.
            found = d.get_temp::<PlaneState>(plane_id(h));
        });
        found.expect("plane state stored")
    }

    fn plane_id(h: &egui_kittest::Harness<'_, ToyState>) -> egui::Id {
        h.ctx
            .data(|d| d.get_temp::<egui::Id>(egui::Id::unique("abplane-test-id")))
            .expect("id recorded")
    }

    fn screen(ps: &PlaneState, a: f64, b: f64) -> egui::Pos2 {
        ps.transform
            .unwrap()
            .position_from_point(&PlotPoint::new(a, b))
    }

    const DIVS: [&str; 4] = ["fkl", "rkl", "ab:alpha=0.2,beta=0.7", "alpha:alpha=0.5"];

    #[test]
    fn dragging_a_point_changes_its_divergence() {
        let scene = make_scene("minillm-gmm", &DIVS, 200, 100);
        let state = with_slots(&DIVS);
        let mut h = egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
            .with_size(egui::vec2(900.0, 600.0))
            .with_theme(egui::Theme::Light)
            .build_ui_state(
                |ui, state: &mut ToyState| {
                    let id = state_id(ui);
                    ui.data_mut(|d| d.insert_temp(egui::Id::unique("abplane-test-id"), id));
                    let cx = ViewCtx::new(&scene.result, &scene.colors, scene.epoch);
                    abplane_ui(ui, &cx, state);
                },
                state,
            );
        h.run_ok();
        // The plane must not jitter between frames (a data aspect with a self-sizing axis did).
        let settled = plane_state(&h).transform.unwrap();
        for _ in 0..3 {
            h.step();
            let t = plane_state(&h).transform.unwrap();
            assert_eq!(t.bounds(), settled.bounds());
            assert_eq!(t.frame(), settled.frame());
        }
        let ps = plane_state(&h);
        assert_eq!(ps.selected, Some(Target::Slot(2)), "the first ab slot");
        // Drag ab(0.2, 0.7) to (1.3, -0.4).
        let from = screen(&ps, 0.2, 0.7);
        let to = screen(&ps, 1.3, -0.4);
        h.drag_at(from);
        h.run_ok();
        h.hover_at(from + (to - from) * 0.5);
        h.run_ok();
        h.hover_at(to);
        h.run_ok();
        h.drop_at(to);
        h.run_ok();
        match h.state().slots[2].div.family {
            Divergence::Ab { alpha, beta } => {
                assert!((alpha - 1.3).abs() <= 0.02, "alpha {alpha}");
                assert!((beta + 0.4).abs() <= 0.02, "beta {beta}");
            }
            d => panic!("{d}"),
        }
        assert_eq!(
            h.state().slots[0].div.family,
            Divergence::Fkl,
            "others untouched"
        );
        // Drag the α-divergence (0.5, 0.5) towards (1.2, 0.4): it slides along α + β = 1 to the
        // nearest point, α = (1.2 − 0.4 + 1)/2 = 0.9.
        let ps = plane_state(&h);
        let from = screen(&ps, 0.5, 0.5);
        let to = screen(&ps, 1.2, 0.4);
        h.drag_at(from);
        h.run_ok();
        h.hover_at(to);
        h.run_ok();
        h.drop_at(to);
        h.run_ok();
        match h.state().slots[3].div.family {
            Divergence::Alpha { alpha } => assert!((alpha - 0.9).abs() <= 0.02, "alpha {alpha}"),
            d => panic!("{d}"),
        }
        assert_eq!(plane_state(&h).selected, Some(Target::Slot(3)));
        // A click on empty plane selects the probe there; "add ab here" adds it to the list.
        let ps = plane_state(&h);
        let at = screen(&ps, -0.5, 1.5);
        h.hover_at(at);
        h.run_ok();
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: Default::default(),
        });
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: Default::default(),
        });
        h.run_ok();
        let ps = plane_state(&h);
        assert_eq!(ps.selected, Some(Target::Probe));
        assert!((ps.probe[0] + 0.5).abs() <= 0.02 && (ps.probe[1] - 1.5).abs() <= 0.02);
        h.get_by_label("add ab here").click();
        h.run_ok();
        assert_eq!(h.state().slots.len(), 5);
        assert!(
            matches!(h.state().slots[4].div.family, Divergence::Ab { alpha, beta }
            if (alpha + 0.5).abs() <= 0.02 && (beta - 1.5).abs() <= 0.02)
        );
    }

    #[test]
    fn renders_the_plane_and_the_reading() {
        let scene = make_scene("minillm-gmm", &DIVS, 400, 60);
        let state = with_slots(&DIVS);
        let mut h = harness(&scene, state, egui::vec2(900.0, 600.0));
        h.run_ok();
        save(&mut h, "abplane-minillm");
        // A grid cell of the app's 2×2 layout.
        let state = with_slots(&DIVS);
        let mut h = harness(&scene, state, egui::vec2(460.0, 300.0));
        h.run_ok();
        save(&mut h, "abplane-small");
        let state = with_slots(&DIVS);
        let mut h = harness(&scene, state, egui::vec2(630.0, 400.0));
        h.run_ok();
        save(&mut h, "abplane-grid");
        // A discrete (long-tail) teacher, drawn as stems.
        let divs = ["fkl", "ab:alpha=0.2,beta=0.7"];
        let scene = make_scene("akl-fig3-longtail", &divs, 50, 10);
        let state = with_slots(&divs);
        let mut h = harness(&scene, state, egui::vec2(900.0, 600.0));
        h.run_ok();
        save(&mut h, "abplane-longtail");
        h.get_by_label_contains("Smaller α");
        // The ab-plane preset: four ab points on FKL, RKL, Hellinger and GPT-2.
        let cfg = crate::toy::preset::load("ab-plane").unwrap();
        let divs: Vec<&str> = cfg.divergences.iter().map(String::as_str).collect();
        let scene = make_scene("ab-plane", &divs, 40, 5);
        let state = with_slots(&divs);
        let mut h = harness(&scene, state, egui::vec2(900.0, 600.0));
        h.run_ok();
        save(&mut h, "abplane-preset");
    }
}
