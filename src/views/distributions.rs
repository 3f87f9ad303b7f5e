//! Teacher vs each student at the current epoch: small multiples (sharing one y range by default) or
//! overlaid, linear or log y, sorted by teacher probability, the head shaded and labelled, and a zoomed
//! far-tail inset like the AKL paper's figure 3, placed where neither data nor the legend is. Continuous
//! grids are drawn as densities (p/Δx); a Gaussian student prints its μ and σ, and on a multimodal
//! teacher FKL and RKL say which way they fit. A drawn teacher (kind `Probs`) is edited with the pointer.

use super::ViewCtx;
use super::common::{self, LOG_FLOOR, bare_plot, log_tick, y_value as y_of};
use super::curves::{cached_curve, fmt_value, run_names};
use super::placement::{FrameMap, emptiest_corner, legend_rect, legend_size};
use super::ticks::{nice_grid, nice_label, step_125};
use crate::math::Divergence;
use crate::math::label::num;
use crate::toy::TeacherSpec;
use crate::views::palette;
use crate::views::state::{DistOptions, ToyState};
use egui::{Align2, Color32, Id, Pos2, Rect, RichText, Vec2, pos2, vec2};
use egui_plot::{
    AxisHints, HoverPosition, Legend, Line, Plot, PlotPoint, PlotPoints, PlotTransform, Points,
    Polygon, Text,
};
use std::collections::BTreeMap;

pub fn distributions_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    if !cx.figure {
        controls(ui, cx, state);
    }
    body(ui, cx, state);
}

/// True when the teacher is drawn by hand (kind `Probs`): the plots take clicks and drags as strokes.
fn drawing(state: &ToyState) -> bool {
    matches!(state.config.teacher, TeacherSpec::Probs { .. })
}

/// The options row; a control shows only where it changes something.
fn controls(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let drawing = drawing(state);
    let has_far_tail = cx.result.regions.far_tail.iter().any(|&f| f);
    ui.horizontal_wrapped(|ui| {
        let o = &mut state.dist;
        if cx.runs() > 1 {
            ui.checkbox(&mut o.overlay, "overlay")
                .on_hover_text("every student on one plot (off: one panel per divergence)");
        }
        ui.checkbox(&mut o.log_y, "log y");
        if !cx.continuous() {
            ui.checkbox(&mut o.sorted, "sort by teacher")
                .on_hover_text("classes ordered by the teacher's probability, largest first");
            ui.checkbox(&mut o.shade_head, "shade head")
                .on_hover_text("the head classes of the head/tail split (head mass μ, metrics)");
            if !o.log_y && has_far_tail {
                ui.checkbox(&mut o.tail_inset, "tail inset")
                    .on_hover_text("a zoom on the far tail, where the students differ most");
            }
        }
        if cx.runs() > 1 && !o.overlay {
            ui.checkbox(&mut o.shared_y, "same y axes").on_hover_text(
                "every panel (and every tail inset) on one y range, so that panels compare at a glance",
            );
        }
        if drawing {
            ui.label(
                RichText::new("click or drag on a plot to draw the teacher")
                    .color(palette::TEACHER),
            );
        }
    });
}

fn body(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let opts = state.dist;
    let draw = drawing(state);
    let order = class_order(cx, &opts);
    let runs: Vec<usize> = (0..cx.runs()).collect();
    let names = run_names(cx);
    let ctx = ui.ctx().clone();
    if opts.overlay || runs.len() <= 1 {
        let single = runs.len() == 1;
        let style = PanelStyle {
            title: single.then(|| (names[0].clone(), cx.colors[0])),
            vs_teacher: single,
            legend: !single,
            inset: opts.tail_inset,
            draw,
            ..PanelStyle::default()
        };
        let h = ui.available_height();
        let event = styled_panel(ui, cx, &opts, &order, &runs, "dist-overlay", h, &style);
        if let Some(event) = event {
            draw_teacher(&ctx, state, &event, &order);
        }
        return;
    }
    let epochs = kept_epochs(cx);
    let shared = opts.shared_y.then(|| {
        (
            extent(&ctx, cx, &runs, Region::All, &epochs),
            extent(&ctx, cx, &runs, Region::FarTail, &epochs),
        )
    });
    // Panels a little wider than tall, as large as the area allows.
    let (cols, _) = common::panel_grid(runs.len(), ui.available_size(), 1.4);
    let mut events = Vec::new();
    common::cells_ui(ui, runs.len(), cols, 6.0, |ui, i, size| {
        let run = runs[i];
        // The title, in the run's colour beside "teacher" in the teacher's, is the key: no legend
        // takes room from a small panel.
        let style = PanelStyle {
            title: Some((names[run].clone(), cx.colors[run])),
            vs_teacher: true,
            legend: false,
            inset: opts.tail_inset,
            draw,
            y: shared.map(|s| s.0),
            inset_y: shared.map(|s| s.1),
        };
        let id = format!("dist-{i}");
        events.extend(styled_panel(
            ui,
            cx,
            &opts,
            &order,
            &[run],
            &id,
            size.y,
            &style,
        ));
    });
    for event in events {
        draw_teacher(&ctx, state, &event, &order);
    }
}

/// Class order on the x axis: by index, or by descending teacher probability.
pub fn class_order(cx: &ViewCtx, opts: &DistOptions) -> Vec<usize> {
    if opts.sorted && !cx.continuous() {
        cx.result.regions.order.clone()
    } else {
        (0..cx.p().len()).collect()
    }
}

/// The y extent a panel must show: the largest value and the smallest positive one (for log axes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    pub max: f64,
    pub min_positive: f64,
}

/// Which classes an [`extent`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    All,
    /// The far-tail classes (the inset).
    FarTail,
}

/// How one panel is titled and decorated (the app's small multiples, or a figure's epoch panels).
#[derive(Debug, Clone, Default)]
pub struct PanelStyle {
    pub title: Option<(String, Color32)>,
    /// The title goes on with "vs teacher" in the teacher's colour (a key instead of a legend).
    pub vs_teacher: bool,
    pub legend: bool,
    pub inset: bool,
    /// Clicks and drags draw the teacher (no pan or zoom then).
    pub draw: bool,
    /// The y range to show (shared by a group of panels); None: the panel's own runs.
    pub y: Option<Extent>,
    /// The inset's y range (shared by a group of panels); None: the panel's own runs.
    pub inset_y: Option<Extent>,
}

/// A click or drag on a panel while the teacher is drawn: where the pointer is (plot units), where
/// the stroke came from when it starts with a drag, and whether a new stroke begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrawEvent {
    pub plot: Id,
    pub to: [f64; 2],
    pub from: Option<[f64; 2]>,
    pub starts: bool,
    pub log_y: bool,
}

/// The plot id of a distributions panel (`id` as given to [`styled_panel`]); tests map values to
/// screen positions through its `PlotMemory`.
pub fn panel_plot_id(id: &str) -> Id {
    Id::unique(("kdviz-dist", id))
}

/// The plot id of the tail inset of the panel `id`.
pub fn inset_plot_id(id: &str) -> Id {
    Id::unique(("kdviz-dist-inset", id))
}

/// The accessible name of a tail inset (its rectangle is the whole inset, axes included).
pub const INSET_NAME: &str = "tail inset";

/// 1/Δx per grid point on a continuous grid (see [`grid_density_factors`]), so that p/Δx is a density
/// whose integral is 1; empty for class indices.
pub fn density_factors(cx: &ViewCtx) -> Vec<f64> {
    if cx.continuous() {
        grid_density_factors(cx.xs())
    } else {
        Vec::new()
    }
}

/// 1/Δx at each point of a grid, Δx the mean spacing to its neighbours (the spacing itself on a
/// uniform grid).
pub fn grid_density_factors(xs: &[f64]) -> Vec<f64> {
    let n = xs.len();
    if n < 2 {
        return vec![1.0; n];
    }
    (0..n)
        .map(|k| {
            let (a, b) = (k.saturating_sub(1), (k + 1).min(n - 1));
            let dx = (xs[b] - xs[a]) / (b - a) as f64;
            if dx > 0.0 { 1.0 / dx } else { 1.0 }
        })
        .collect()
}

/// The value drawn for class `k`: the probability, or the density on a continuous grid.
fn drawn(factors: &[f64], k: usize, v: f64) -> f64 {
    v * factors.get(k).copied().unwrap_or(1.0)
}

/// The epochs whose students the axes must hold: every kept snapshot over [`ViewCtx::fixed`] (and the
/// one in force at its start), or the current epoch.
pub fn kept_epochs(cx: &ViewCtx) -> Vec<usize> {
    let (first, last) = cx.axis_epochs();
    let mut epochs = vec![first];
    if let Some(run) = cx.result.runs.first() {
        epochs.extend(
            run.snapshots
                .iter()
                .map(|s| s.epoch)
                .filter(|&e| e > first && e <= last),
        );
    }
    epochs
}

/// The extent of the teacher and `runs` over `region` at `epochs` (cached per fit).
pub fn extent(
    ctx: &egui::Context,
    cx: &ViewCtx,
    runs: &[usize],
    region: Region,
    epochs: &[usize],
) -> Extent {
    let key = ("dist-extent", runs.to_vec(), region, epochs.to_vec());
    let cached = cached_curve(ctx, cx, key, || {
        let factors = density_factors(cx);
        let far = &cx.result.regions.far_tail;
        let mut max = 0.0f64;
        let mut min_positive = f64::INFINITY;
        let mut add = |values: &[f64]| {
            for (k, &v) in values.iter().enumerate() {
                if region == Region::FarTail && !far.get(k).copied().unwrap_or(false) {
                    continue;
                }
                let y = drawn(&factors, k, v);
                if y.is_finite() {
                    max = max.max(y);
                    if y > 0.0 {
                        min_positive = min_positive.min(y);
                    }
                }
            }
        };
        add(cx.p());
        for &e in epochs {
            for &run in runs {
                add(cx.q_at(run, e));
            }
        }
        vec![[max, min_positive]]
    });
    let [max, min_positive] = cached.first().copied().unwrap_or([1.0, LOG_FLOOR]);
    Extent { max, min_positive }
}

/// y bounds (plot units) for an extent, with `headroom` (a fraction of the height) left free above the
/// data for labels.
fn y_bounds(e: Extent, log: bool, headroom: f64) -> (f64, f64) {
    let headroom = headroom.clamp(0.0, 0.6);
    if log {
        let hi = e.max.max(LOG_FLOOR).log10();
        let lo = e.min_positive.max(LOG_FLOOR).log10().min(hi - 1.0);
        (lo, hi + (hi - lo) * headroom / (1.0 - headroom))
    } else {
        let hi = if e.max > 0.0 { e.max } else { 1.0 };
        (0.0, hi / (1.0 - headroom))
    }
}

/// Puts each label (anchored at what it names) on the free spot nearest to that point: covering no
/// data point and no `avoid` rectangle (nor an earlier label) if it can; a leader line joins a label
/// put more than a few points away. Works in frame points through `map`.
fn place_labels(
    ui: &egui::Ui,
    map: &FrameMap,
    frame: Rect,
    labels: Vec<PlotLabel>,
    points: &[Pos2],
    avoid: &mut Vec<Rect>,
) -> Vec<PlotLabel> {
    let inner = frame.shrink(4.0);
    labels
        .into_iter()
        .map(|mut label| {
            let target = map.pos(label.at);
            let size = label.size(ui);
            let preferred = label.anchor.anchor_size(target - vec2(0.0, 6.0), size);
            let (nx, ny) = (24, 16);
            let mut best: Option<((usize, usize, f32), Rect)> = None;
            let candidates = std::iter::once(preferred).chain((0..=nx).flat_map(|i| {
                (0..=ny).map(move |j| {
                    let min = pos2(
                        inner.left() + (inner.width() - size.x) * i as f32 / nx as f32,
                        inner.top() + (inner.height() - size.y) * j as f32 / ny as f32,
                    );
                    Rect::from_min_size(min, size)
                })
            }));
            for r in candidates {
                if !inner.contains_rect(r) {
                    continue;
                }
                let grown = r.expand(2.0);
                let hits = points.iter().filter(|p| grown.contains(**p)).count();
                let blocked = avoid.iter().filter(|a| a.intersects(grown)).count();
                let key = (blocked, hits, r.distance_to_pos(target));
                let better = best.is_none_or(|(b, _)| {
                    (key.0, key.1) < (b.0, b.1) || ((key.0, key.1) == (b.0, b.1) && key.2 < b.2)
                });
                if better {
                    best = Some((key, r));
                }
            }
            let Some(((_, _, distance), rect)) = best else {
                return label;
            };
            avoid.push(rect);
            label.at = map.value(rect.left_top());
            label.anchor = Align2::LEFT_TOP;
            if distance > 12.0 {
                let nearest = rect.clamp(target);
                label.leader = Some([map.value(target), map.value(nearest)]);
            }
            label
        })
        .collect()
}

/// Where the tail inset of `size` goes inside `frame`: the spot that covers the fewest data points and
/// no `avoid` rectangle (the legend, labels), nearest the upper right; None if every spot is blocked.
fn inset_spot(frame: Rect, size: Vec2, points: &[Pos2], avoid: &[Rect]) -> Option<Rect> {
    let margin = 8.0;
    let inner = frame.shrink(margin);
    if inner.width() < size.x || inner.height() < size.y {
        return None;
    }
    let steps = 20;
    let mut best: Option<((usize, f32), Rect)> = None;
    for i in 0..=steps {
        for j in 0..=steps {
            let fx = i as f32 / steps as f32;
            let fy = j as f32 / steps as f32;
            let min = pos2(
                inner.right() - size.x - fx * (inner.width() - size.x),
                inner.top() + fy * (inner.height() - size.y),
            );
            let r = Rect::from_min_size(min, size);
            if avoid.iter().any(|a| a.expand(6.0).intersects(r)) {
                continue;
            }
            let grown = r.expand(3.0);
            let hits = points.iter().filter(|p| grown.contains(**p)).count();
            // Prefer the upper right, as the AKL figure does: a step left costs more than a step down.
            let key = (hits, fx * 1.5 + fy);
            if best.is_none_or(|(b, _)| key.0 < b.0 || (key.0 == b.0 && key.1 < b.1)) {
                best = Some((key, r));
            }
        }
    }
    best.map(|(_, r)| r)
}

/// The drawn points of the panel (teacher and runs, at the epochs the axes hold; at most a few
/// hundred per curve), in plot units, for placing the legend and the inset where no data is.
fn occupancy(
    cx: &ViewCtx,
    opts: &DistOptions,
    order: &[usize],
    xs: &[f64],
    runs: &[usize],
    factors: &[f64],
) -> Vec<[f64; 2]> {
    let stride = order.len().div_ceil(800).max(1);
    let (first, last) = cx.axis_epochs();
    let mut epochs = vec![cx.epoch];
    if last > first {
        epochs.extend((0..=8).map(|i| first + (last - first) * i / 8));
    }
    let mut out = Vec::new();
    let mut add = |values: &[f64]| {
        for (i, (&x, &k)) in xs.iter().zip(order).enumerate() {
            if i % stride == 0 && k < values.len() {
                out.push([x, y_of(drawn(factors, k, values[k]), opts.log_y)]);
            }
        }
    };
    add(cx.p());
    for e in epochs {
        for &run in runs {
            add(cx.q_at(run, e));
        }
    }
    out
}

/// A label drawn on the plot: its text, anchor point (plot units), alignment and colour, and a leader
/// line (plot units) to what it names when it had to sit away from it.
struct PlotLabel {
    text: String,
    at: [f64; 2],
    anchor: Align2,
    color: Color32,
    leader: Option<[[f64; 2]; 2]>,
}

impl PlotLabel {
    fn size(&self, ui: &egui::Ui) -> Vec2 {
        let font = egui::TextStyle::Body.resolve(ui.style());
        ui.painter()
            .layout_no_wrap(self.text.clone(), font, Color32::WHITE)
            .size()
    }

    /// Its rectangle once the plot is laid out by `map` (frame points) or `transform` (screen).
    fn rect(&self, ui: &egui::Ui, at: Pos2) -> Rect {
        self.anchor.anchor_size(at, self.size(ui))
    }
}

/// "covers both modes (mean-seeking)" / "locks onto one mode (mode-seeking)": what FKL and RKL do when
/// a unimodal (Gaussian) student fits a multimodal teacher, said where the fit shows it: `shares` is the
/// student's mass in each of the teacher's mode basins (see [`basins`]). FKL's caption needs every
/// basin to hold at least 15 % of the student, RKL's one basin to hold 80 %; None otherwise (RKL
/// stuck between the modes, say) and for other divergences.
pub fn seeking_caption(div: &Divergence, shares: &[f64]) -> Option<String> {
    let plain = match div {
        Divergence::Fkl => Some("FKL"),
        Divergence::Rkl => Some("RKL"),
        d => d.equals(),
    }?;
    if shares.len() < 2 {
        return None;
    }
    let all = if shares.len() == 2 { "both" } else { "all" };
    let largest = shares.iter().copied().fold(0.0, f64::max);
    match plain {
        "FKL" if shares.iter().all(|&s| s >= 0.15) => {
            Some(format!("covers {all} modes (mean-seeking)"))
        }
        "RKL" if largest >= 0.8 => Some("locks onto one mode (mode-seeking)".to_string()),
        _ => None,
    }
}

/// The teacher's modes as basins of its grid: split at the lowest point between neighbouring modes;
/// modes under 5 % of the highest, and basins holding under 10 % of the teacher's mass, are merged
/// away (noise, shoulders).
pub fn basins(p: &[f64]) -> Vec<std::ops::Range<usize>> {
    let n = p.len();
    let top = p.iter().copied().fold(0.0, f64::max);
    let peaks: Vec<usize> = (0..n)
        .filter(|&k| {
            let left = k == 0 || p[k] > p[k - 1];
            let right = k + 1 == n || p[k] >= p[k + 1];
            left && right && top > 0.0 && p[k] >= 0.05 * top
        })
        .collect();
    let mut cuts = vec![0];
    for w in peaks.windows(2) {
        let valley = (w[0]..=w[1])
            .min_by(|&a, &b| p[a].total_cmp(&p[b]))
            .unwrap_or(w[0]);
        cuts.push(valley);
    }
    cuts.push(n);
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for w in cuts.windows(2) {
        let range = w[0]..w[1];
        let mass: f64 = p[range.clone()].iter().sum();
        match out.last_mut() {
            Some(last) if mass < 0.1 => last.end = range.end,
            _ => out.push(range),
        }
    }
    // A light first basin joins the next one.
    if out.len() >= 2 && p[out[0].clone()].iter().sum::<f64>() < 0.1 {
        let first = out.remove(0);
        out[0].start = first.start;
    }
    out
}

/// The labels a panel prints for its Gaussian students: μ and σ, and on a multimodal teacher FKL's and
/// RKL's way of fitting it (after epoch 0, where the fit shows it, and where the panel is wide enough:
/// `max_width` points); each at its student's peak, in its colour. Students with the same μ and σ
/// (at epoch 0) share one label.
#[allow(clippy::too_many_arguments)]
fn student_labels(
    ui: &egui::Ui,
    cx: &ViewCtx,
    runs: &[usize],
    xs: &[f64],
    order: &[usize],
    factors: &[f64],
    log: bool,
    max_width: f32,
) -> Vec<PlotLabel> {
    let basins = if cx.continuous() && cx.epoch > 0 {
        basins(cx.p())
    } else {
        Vec::new()
    };
    let mut out: Vec<PlotLabel> = Vec::new();
    for &run in runs {
        let rec = cx.record(run);
        let (Some(mu), Some(sigma)) = (rec.mu, rec.sigma) else {
            continue;
        };
        let q = cx.q(run);
        let Some((i, peak)) = order
            .iter()
            .enumerate()
            .filter(|&(_, &k)| k < q.len())
            .map(|(i, &k)| (i, drawn(factors, k, q[k])))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        let numbers = format!("μ = {}, σ = {}", num(mu), num(sigma));
        if let Some(same) = out.iter_mut().find(|l| l.text.ends_with(&numbers)) {
            // Several students alike (at epoch 0): one label, in no one student's colour.
            same.color = ui.visuals().text_color();
            continue;
        }
        let mut label = PlotLabel {
            text: numbers.clone(),
            at: [xs[i], y_of(peak, log)],
            anchor: Align2::CENTER_BOTTOM,
            color: cx.colors[run],
            leader: None,
        };
        let shares: Vec<f64> = basins
            .iter()
            .map(|b| q.get(b.clone()).map_or(0.0, |v| v.iter().sum()))
            .collect();
        if let Some(caption) = seeking_caption(cx.divergence(run), &shares) {
            label.text = format!("{caption}\n{numbers}");
            if label.size(ui).x > max_width {
                label.text = numbers;
            }
        }
        out.push(label);
    }
    out
}

/// "head: top 8 classes, 46 % of p" over the shaded band (discrete teachers); shorter forms when the
/// panel is narrow (the label keeps to `max_width` points where it can).
fn head_label(
    ui: &egui::Ui,
    cx: &ViewCtx,
    order: &[usize],
    xs: &[f64],
    top: f64,
    max_width: f32,
) -> Option<PlotLabel> {
    let head = &cx.result.regions.head;
    let count = head.iter().filter(|&&h| h).count();
    let first = order.iter().position(|&k| head[k])?;
    let mass: f64 = (0..head.len())
        .filter(|&k| head[k])
        .map(|k| cx.p()[k])
        .sum();
    let classes = if count == 1 { "class" } else { "classes" };
    let percent = num((mass * 100.0).round());
    let texts = [
        format!("head: top {count} {classes}, {percent} % of p"),
        format!("head: top {count}, {percent} % of p"),
        format!("head ({percent} %)"),
    ];
    let mut label = PlotLabel {
        text: String::new(),
        at: [xs[first] - 0.5, top],
        anchor: Align2::LEFT_TOP,
        color: palette::TEACHER,
        leader: None,
    };
    for text in texts {
        label.text = text;
        if label.size(ui).x <= max_width {
            break;
        }
    }
    Some(label)
}

/// One panel: the teacher and `runs`, its legend where the data leaves room and the tail inset where
/// neither data nor legend is. Returns the pointer's stroke while the teacher is drawn.
#[allow(clippy::too_many_arguments)]
pub fn styled_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    opts: &DistOptions,
    order: &[usize],
    runs: &[usize],
    id: &str,
    height: f32,
    style: &PanelStyle,
) -> Option<DrawEvent> {
    let continuous = cx.continuous();
    let xs: Vec<f64> = if continuous && !opts.sorted {
        order.iter().map(|&k| cx.xs()[k]).collect()
    } else {
        (0..order.len()).map(|i| i as f64).collect()
    };
    if xs.is_empty() {
        return None;
    }
    let factors = density_factors(cx);
    let p = cx.p();
    let names = run_names(cx);
    let mut height = height;
    if let Some((title, color)) = &style.title {
        // One truncated label: a long name ("Skew RKL (α = 0.1) vs teacher") in a narrow panel
        // is cut with "…" instead of widening the panel.
        let body = egui::TextStyle::Body.resolve(ui.style());
        let weak = ui.visuals().weak_text_color();
        let mut job = egui::text::LayoutJob::default();
        let mut part = |text: &str, color: Color32| {
            job.append(text, 0.0, egui::TextFormat::simple(body.clone(), color));
        };
        part(title, *color);
        if style.vs_teacher {
            part("  vs  ", weak);
            part("teacher", palette::TEACHER);
        }
        let r = ui.add(egui::Label::new(job).truncate());
        height = (height - r.rect.height() - ui.spacing().item_spacing.y).max(80.0);
    }
    let x_label = if continuous {
        "x"
    } else if opts.sorted && ui.available_width() < 260.0 {
        // The long label is wider than a narrow panel's axis.
        "teacher rank"
    } else if opts.sorted {
        "class (by teacher rank)"
    } else {
        "class"
    };
    let y_label = if continuous { "density" } else { "probability" };
    let ctx = ui.ctx().clone();
    let epochs = kept_epochs(cx);
    let ext = style
        .y
        .unwrap_or_else(|| extent(&ctx, cx, runs, Region::All, &epochs));

    // Room above the data for the labels printed at the top (about two lines of text).
    let frame_px = vec2(
        (ui.available_width() - 64.0).max(60.0),
        (height - 46.0).max(40.0),
    );
    let line = ui.text_style_height(&egui::TextStyle::Body);
    let shade = opts.shade_head && !continuous;
    let labels = student_labels(
        ui,
        cx,
        runs,
        &xs,
        order,
        &factors,
        opts.log_y,
        frame_px.x * 0.6,
    );
    // The same room whatever the epoch, so that panels and frames sharing a y range keep it: two lines
    // for Gaussian students (a caption and μ, σ), one for the head label.
    let gaussian = runs.iter().any(|&r| cx.record(r).mu.is_some());
    let lines = if gaussian { 2 } else { usize::from(shade) };
    let headroom = f64::from((lines as f32 * line + 6.0) / frame_px.y) * f64::from(lines > 0);
    let (y_lo, y_hi) = y_bounds(ext, opts.log_y, headroom);
    let x_range = if continuous {
        (xs[0].min(xs[xs.len() - 1]), xs[0].max(xs[xs.len() - 1]))
    } else {
        (-0.5, xs.len() as f64 - 0.5)
    };
    let map = FrameMap::new(x_range, (y_lo, y_hi), frame_px);
    let points = occupancy(cx, opts, order, &xs, runs, &factors);
    let head = shade
        .then(|| head_label(ui, cx, order, &xs, y_hi, frame_px.x * 0.45))
        .flatten();

    let plot_frame = Rect::from_min_size(Pos2::ZERO, frame_px);
    let entries: Vec<String> = std::iter::once("teacher".to_string())
        .chain(runs.iter().map(|&r| names[r].clone()))
        .collect();
    let legend_px = legend_size(ui, &entries, &egui::TextStyle::Body);
    let mut avoid: Vec<Rect> = head.iter().map(|l| l.rect(ui, map.pos(l.at))).collect();
    let frame_points: Vec<Pos2> = points.iter().map(|&pt| map.pos(pt)).collect();
    let corner = emptiest_corner(plot_frame, &frame_points, legend_px, &avoid);
    if style.legend {
        avoid.push(legend_rect(plot_frame, corner, legend_px));
    }
    let labels = place_labels(ui, &map, plot_frame, labels, &frame_points, &mut avoid);

    let mut plot = bare_plot(id, x_label, y_label)
        .id(panel_plot_id(id))
        .height(height)
        .include_x(x_range.0)
        .include_x(x_range.1)
        .include_y(y_lo)
        .include_y(y_hi)
        .label_formatter(hover_text(
            cx,
            runs,
            order,
            opts.log_y,
            continuous,
            opts.sorted,
        ));
    if style.legend {
        plot = plot.legend(
            Legend::default()
                .follow_insertion_order(true)
                .position(corner),
        );
    }
    plot = plot
        .x_grid_spacer(nice_grid(64.0))
        .x_axis_formatter(nice_label);
    plot = if opts.log_y {
        plot.y_axis_formatter(log_tick)
    } else {
        plot.y_grid_spacer(nice_grid(40.0))
            .y_axis_formatter(nice_label)
    };
    if style.draw {
        // A stroke draws; it never pans or zooms.
        plot = plot
            .allow_drag(false)
            .allow_zoom(false)
            .allow_boxed_zoom(false)
            .allow_axis_zoom_drag(false)
            .allow_double_click_reset(false);
    }
    let teacher_name = "teacher";
    // Points per class on the x axis, and the marker radii (teacher, students) that suit it.
    let spacing = frame_px.x / xs.len().max(1) as f32;
    let radii = (
        (0.6 * spacing).clamp(2.6, 4.6),
        (0.35 * spacing).clamp(1.6, 2.4),
    );
    let shown = plot.show(ui, |pu| {
        if shade {
            shade_head(pu, cx, order, &xs, (y_lo, y_hi));
        }
        if let Some(label) = &head {
            plot_label(pu, label);
        }
        let teacher: Vec<[f64; 2]> = common::envelope(
            xs.iter()
                .zip(order)
                .map(|(&x, &k)| [x, y_of(drawn(&factors, k, p[k]), opts.log_y)])
                .collect(),
            frame_px.x,
        );
        // The teacher under the students, wider than them, so that it shows around a student that
        // matches it; where the classes are too dense for that it goes on top, a line where it
        // falls monotonically (sorted), else small points.
        let dense = !continuous && spacing < 3.0;
        let monotone = teacher.windows(2).all(|w| w[1][1] <= w[0][1]);
        if continuous {
            pu.line(
                Line::new(teacher_name, PlotPoints::new(teacher.clone()))
                    .color(palette::TEACHER)
                    .width(4.0),
            );
        } else if !dense {
            pu.points(
                Points::new(teacher_name, PlotPoints::new(teacher.clone()))
                    .color(palette::TEACHER)
                    .radius(radii.0),
            );
        }
        for &run in runs {
            let q = cx.q(run);
            let pts = PlotPoints::new(common::envelope(
                xs.iter()
                    .zip(order)
                    .filter(|&(_, &k)| k < q.len())
                    .map(|(&x, &k)| [x, y_of(drawn(&factors, k, q[k]), opts.log_y)])
                    .collect(),
                frame_px.x,
            ));
            let name = names[run].clone();
            if continuous {
                pu.line(Line::new(name, pts).color(cx.colors[run]).width(2.0));
            } else {
                pu.points(Points::new(name, pts).color(cx.colors[run]).radius(radii.1));
            }
        }
        if dense && monotone {
            pu.line(
                Line::new(teacher_name, PlotPoints::new(teacher))
                    .color(palette::TEACHER)
                    .width(2.5),
            );
        } else if dense {
            pu.points(
                Points::new(teacher_name, PlotPoints::new(teacher))
                    .color(palette::TEACHER)
                    .radius(1.4),
            );
        }
        for label in &labels {
            plot_label(pu, label);
        }
        style.draw.then(|| draw_event(pu, id, opts.log_y)).flatten()
    });
    let transform = shown.transform;
    let legend_screen = style.legend.then(|| {
        legend_rect(
            *transform.frame(),
            corner,
            legend_size(ui, &entries, &egui::TextStyle::Body),
        )
    });
    if style.inset && !continuous && !opts.log_y {
        let screen = |pt: [f64; 2]| transform.position_from_point(&PlotPoint::new(pt[0], pt[1]));
        let mut avoid: Vec<Rect> = legend_screen.into_iter().collect();
        avoid.extend(head.iter().chain(&labels).map(|l| l.rect(ui, screen(l.at))));
        let points: Vec<Pos2> = points.iter().map(|&pt| screen(pt)).collect();
        let inset_ext = style
            .inset_y
            .unwrap_or_else(|| extent(&ctx, cx, runs, Region::FarTail, &epochs));
        tail_inset(
            ui,
            &transform,
            cx,
            order,
            runs,
            id,
            &points,
            &avoid,
            inset_ext,
            opts.sorted,
        );
    }
    shown.inner
}

fn plot_label(pu: &mut egui_plot::PlotUi<'_>, label: &PlotLabel) {
    if let Some(ends) = label.leader {
        pu.line(
            Line::new("", PlotPoints::new(ends.to_vec()))
                .color(label.color.gamma_multiply(0.8))
                .width(1.0)
                .allow_hover(false),
        );
    }
    pu.text(
        Text::new(
            "",
            PlotPoint::new(label.at[0], label.at[1]),
            RichText::new(&label.text)
                .color(label.color)
                .text_style(egui::TextStyle::Body),
        )
        .anchor(label.anchor)
        .allow_hover(false),
    );
}

/// The pointer's stroke on a panel while the teacher is drawn (plot units).
fn draw_event(pu: &egui_plot::PlotUi<'_>, id: &str, log_y: bool) -> Option<DrawEvent> {
    let r = pu.response();
    let to = pu.pointer_coordinate().map(|c| [c.x, c.y])?;
    let plot = panel_plot_id(id);
    if r.drag_started() {
        let from = pu
            .ctx()
            .input(|i| i.pointer.press_origin())
            .map(|o| pu.plot_from_screen(o))
            .map(|c| [c.x, c.y]);
        Some(DrawEvent {
            plot,
            to,
            from,
            starts: true,
            log_y,
        })
    } else if r.dragged() {
        Some(DrawEvent {
            plot,
            to,
            from: None,
            starts: false,
            log_y,
        })
    } else if r.clicked() {
        Some(DrawEvent {
            plot,
            to,
            from: None,
            starts: true,
            log_y,
        })
    } else {
        None
    }
}

/// Hover text: the curve's name (and spec), the class (and its rank) or x, and the value in the
/// axis's unit.
fn hover_text(
    cx: &ViewCtx,
    runs: &[usize],
    order: &[usize],
    log: bool,
    continuous: bool,
    sorted: bool,
) -> impl Fn(&HoverPosition<'_>) -> Option<String> + 'static {
    let names = run_names(cx);
    let specs: Vec<(String, String)> = runs
        .iter()
        .map(|&r| (names[r].clone(), cx.loss(r).to_string()))
        .collect();
    let order = order.to_vec();
    move |pos| {
        let (name, position) = match pos {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => (Some(*plot_name), *position),
            HoverPosition::Elsewhere { position } => (None, *position),
        };
        let place = if continuous {
            format!("x = {}", fmt_value(position.x))
        } else {
            let i = position.x.round().max(0.0) as usize;
            match order.get(i) {
                Some(&k) if sorted => format!("rank {i} (class {k})"),
                Some(_) => format!("class {i}"),
                None => return None,
            }
        };
        let Some(name) = name else {
            return Some(place);
        };
        let v = if log {
            10f64.powf(position.y)
        } else {
            position.y
        };
        let symbol = match (continuous, name == "teacher") {
            (true, _) => "density",
            (false, true) => "p",
            (false, false) => "q",
        };
        let title = match specs.iter().find(|(n, _)| n == name) {
            Some((n, spec)) if n != spec => format!("{n}  ·  {spec}"),
            _ => name.to_string(),
        };
        Some(format!("{title}\n{place}\n{symbol} = {}", fmt_value(v)))
    }
}

/// Shades the head classes (a band per contiguous run of head classes on the x axis).
fn shade_head(
    pu: &mut egui_plot::PlotUi,
    cx: &ViewCtx,
    order: &[usize],
    xs: &[f64],
    (lo, hi): (f64, f64),
) {
    let head = &cx.result.regions.head;
    let half = if xs.len() > 1 {
        0.5 * (xs[1] - xs[0]).abs()
    } else {
        0.5
    };
    let mut i = 0;
    while i < order.len() {
        if !head[order[i]] {
            i += 1;
            continue;
        }
        let start = i;
        while i < order.len() && head[order[i]] {
            i += 1;
        }
        let (x0, x1) = (xs[start] - half, xs[i - 1] + half);
        let band = vec![[x0, lo], [x1, lo], [x1, hi], [x0, hi]];
        pu.polygon(
            Polygon::new("", PlotPoints::new(band))
                .fill_color(palette::HEAD_SHADE)
                .stroke(egui::Stroke::NONE)
                .allow_hover(false),
        );
    }
}

/// A zoom on the far tail (the classes from the far-tail rank on), titled "far tail (zoomed)" and put
/// where it covers the fewest points and neither the legend nor a label (`avoid`).
#[allow(clippy::too_many_arguments)]
fn tail_inset(
    ui: &mut egui::Ui,
    transform: &PlotTransform,
    cx: &ViewCtx,
    order: &[usize],
    runs: &[usize],
    id: &str,
    points: &[Pos2],
    avoid: &[Rect],
    ext: Extent,
    sorted: bool,
) {
    let regions = &cx.result.regions;
    let far: Vec<(usize, usize)> = order
        .iter()
        .enumerate()
        .filter(|(_, k)| regions.far_tail[**k])
        .map(|(i, &k)| (i, k))
        .collect();
    let outer = *transform.frame();
    if far.is_empty() || outer.width() < 220.0 || outer.height() < 160.0 {
        return;
    }
    let size = vec2(
        (outer.width() * 0.44).max(200.0),
        (outer.height() * 0.42).max(140.0),
    );
    let Some(rect) = inset_spot(outer, size, points, avoid) else {
        return;
    };
    let p = cx.p();
    let top = if ext.max > 0.0 { ext.max } else { 1.0 };
    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect));
    // Text a notch smaller than the main plot's, still readable on a projector.
    child
        .style_mut()
        .text_styles
        .insert(egui::TextStyle::Body, egui::FontId::proportional(13.0));
    let frame = egui::Frame::canvas(child.style())
        .inner_margin(4.0)
        .show(&mut child, |ui| {
            ui.set_min_size(rect.size() - vec2(8.0, 8.0));
            let title = ui.label(RichText::new("far tail (zoomed)").strong());
            let plot_h = rect.height() - 10.0 - title.rect.height() - ui.spacing().item_spacing.y;
            Plot::new(format!("{id}-inset"))
                .id(inset_plot_id(id))
                .height(plot_h.max(40.0))
                .width(rect.width() - 10.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .allow_axis_zoom_drag(false)
                .show_axes([true, true])
                .label_formatter(hover_text(cx, runs, order, false, false, sorted))
                // The inset is small: let its tick labels sit closer than egui_plot's defaults, or it
                // shows a lone "0.0" and no class numbers.
                .custom_x_axes(vec![AxisHints::new_x().label_spacing(22.0..=34.0)])
                .custom_y_axes(vec![
                    AxisHints::new_y()
                        .label_spacing(16.0..=22.0)
                        .formatter(|m, _| {
                            let decimals = (-m.step_size.log10()).ceil().max(0.0) as usize;
                            format!("{:.*}", decimals, m.value)
                        }),
                ])
                .y_grid_spacer(egui_plot::uniform_grid_spacer(|g| {
                    // About four labelled ticks on the inset's short y axis, where powers of ten
                    // alone give one.
                    let s = step_125((g.bounds.1 - g.bounds.0) / 4.0, 1e-9);
                    [s, 5.0 * s, 10.0 * s]
                }))
                .include_y(0.0)
                .include_y(top * 1.05)
                .show(ui, |pu| {
                    let width = rect.width();
                    let pts = PlotPoints::new(common::envelope(
                        far.iter().map(|&(i, k)| [i as f64, p[k]]).collect(),
                        width,
                    ));
                    pu.points(
                        Points::new("teacher", pts)
                            .color(palette::TEACHER)
                            .radius(3.4),
                    );
                    for &run in runs {
                        let q = cx.q(run);
                        let pts = PlotPoints::new(common::envelope(
                            far.iter()
                                .filter(|&&(_, k)| k < q.len())
                                .map(|&(i, k)| [i as f64, q[k]])
                                .collect(),
                            width,
                        ));
                        pu.points(
                            Points::new(cx.loss(run).label(), pts)
                                .color(cx.colors[run])
                                .radius(2.0),
                        );
                    }
                });
        });
    let far_from = regions.far_tail_start();
    frame
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Group, true, INSET_NAME));
    frame.response.on_hover_text(format!(
        "the far tail: classes from teacher rank {far_from} on, y zoomed"
    ));
}

/// What a drag stroke has drawn so far: its last pointer position and the classes it set.
#[derive(Debug, Clone, Default)]
struct Stroke {
    last: Option<[f64; 2]>,
    drawn: BTreeMap<usize, f64>,
}

/// Smallest and largest probability a stroke sets: a zero would make RKL infinite, a one every other
/// class zero.
const DRAWN_RANGE: (f64, f64) = (1e-6, 0.99);

/// Applies a stroke event to the drawn teacher: the clicked class gets the clicked probability, a drag
/// sets every class between its last and current pointer position (interpolated), and the classes
/// the stroke did not touch are rescaled so that the probabilities sum to 1.
pub fn draw_teacher(ctx: &egui::Context, state: &mut ToyState, event: &DrawEvent, order: &[usize]) {
    let TeacherSpec::Probs { probs } = &mut state.config.teacher else {
        return;
    };
    let memory = Id::unique(("kdviz-draw-stroke", event.plot));
    let mut stroke: Stroke = if event.starts {
        Stroke::default()
    } else {
        ctx.data(|d| d.get_temp(memory)).unwrap_or_default()
    };
    let from = event.from.or(stroke.last);
    let value = |y: f64| {
        let v = if event.log_y { 10f64.powf(y) } else { y };
        v.clamp(DRAWN_RANGE.0, DRAWN_RANGE.1)
    };
    for (i, y) in segment(from, event.to, order.len()) {
        if let Some(&k) = order.get(i)
            && k < probs.len()
        {
            stroke.drawn.insert(k, value(y));
        }
    }
    stroke.last = Some(event.to);
    set_probs(probs, &stroke.drawn);
    ctx.data_mut(|d| d.insert_temp(memory, stroke));
}

/// The classes a stroke sets moving from `from` to `to` (plot units), with their values, within
/// `0..n`: every class whose centre the move crosses gets the value of the straight line there; a move
/// that crosses no centre sets the class it ends on only when it ends near that centre (a vertical
/// adjustment), and a stroke's first point (`from` None) sets the class it is on.
fn segment(from: Option<[f64; 2]>, to: [f64; 2], n: usize) -> Vec<(usize, f64)> {
    let inside = |i: f64| i >= 0.0 && (i as usize) < n;
    let nearest = to[0].round();
    let Some(from) = from else {
        return if inside(nearest) {
            vec![(nearest as usize, to[1])]
        } else {
            Vec::new()
        };
    };
    let (lo, hi) = (from[0].min(to[0]), from[0].max(to[0]));
    let mut out = Vec::new();
    let mut i = lo.ceil();
    while i <= hi {
        if inside(i) {
            let t = if hi > lo {
                (i - from[0]) / (to[0] - from[0])
            } else {
                1.0
            };
            out.push((i as usize, from[1] + t.clamp(0.0, 1.0) * (to[1] - from[1])));
        }
        i += 1.0;
    }
    if out.is_empty() && (to[0] - nearest).abs() <= 0.3 && inside(nearest) {
        out.push((nearest as usize, to[1]));
    }
    out
}

/// `probs` (weights of any scale) as probabilities where the classes of `fixed` have their given
/// values and the others keep their proportions, rescaled so that the whole sums to 1.
pub fn set_probs(probs: &mut [f64], fixed: &BTreeMap<usize, f64>) {
    let n = probs.len();
    if n == 0 {
        return;
    }
    let total: f64 = probs.iter().filter(|v| v.is_finite() && **v > 0.0).sum();
    let mut p: Vec<f64> = if total > 0.0 {
        probs
            .iter()
            .map(|&v| {
                if v.is_finite() && v > 0.0 {
                    v / total
                } else {
                    0.0
                }
            })
            .collect()
    } else {
        vec![1.0 / n as f64; n]
    };
    let fixed: Vec<(usize, f64)> = fixed
        .iter()
        .filter(|&(&k, _)| k < n)
        .map(|(&k, &v)| (k, v))
        .collect();
    let free = n - fixed.len();
    let mut fixed_sum: f64 = fixed.iter().map(|&(_, v)| v).sum();
    // Leave the untouched classes some mass, or all of it when every class was drawn.
    let cap = if free == 0 { 1.0 } else { DRAWN_RANGE.1 };
    let shrink = if fixed_sum > cap || free == 0 {
        cap / fixed_sum
    } else {
        1.0
    };
    fixed_sum *= shrink;
    let is_fixed = |k: usize| fixed.iter().any(|&(j, _)| j == k);
    let rest: f64 = (0..n).filter(|&k| !is_fixed(k)).map(|k| p[k]).sum();
    for (k, v) in p.iter_mut().enumerate() {
        if !is_fixed(k) {
            *v = if rest > 0.0 {
                *v * (1.0 - fixed_sum) / rest
            } else {
                (1.0 - fixed_sum) / free as f64
            };
        }
    }
    for &(k, v) in &fixed {
        p[k] = v * shrink;
    }
    probs.copy_from_slice(&p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawn_class_gets_its_probability_and_the_rest_keeps_its_proportions() {
        // Raw weights of 1, as the "Custom" teacher starts.
        let mut probs = vec![1.0; 5];
        set_probs(&mut probs, &BTreeMap::from([(2, 0.02)]));
        assert!((probs[2] - 0.02).abs() < 1e-12);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for k in [0, 1, 3, 4] {
            assert!((probs[k] - 0.98 / 4.0).abs() < 1e-12);
        }
        // Drawing everything: the values are kept in proportion and sum to 1.
        let mut probs = vec![1.0; 2];
        set_probs(&mut probs, &BTreeMap::from([(0, 0.3), (1, 0.1)]));
        assert!((probs[0] - 0.75).abs() < 1e-12 && (probs[1] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn a_stroke_fills_every_class_it_crosses() {
        // The classes whose centres the move crosses, each at the line's value there.
        let cells = segment(Some([1.0, 0.1]), [5.0, 0.5], 10);
        let xs: Vec<usize> = cells.iter().map(|c| c.0).collect();
        assert_eq!(xs, [1, 2, 3, 4, 5]);
        for (i, y) in cells {
            assert!((y - 0.1 * i as f64).abs() < 1e-12);
        }
        // Backwards, and clipped to the classes there are.
        let cells = segment(Some([3.0, 0.3]), [-2.0, 0.0], 10);
        assert_eq!(cells.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!((cells[0].1 - 0.12).abs() < 1e-12);
        // Within one class: near its centre the move sets it, between two classes nothing.
        assert_eq!(segment(Some([4.1, 0.1]), [4.2, 0.3], 10), [(4, 0.3)]);
        assert_eq!(segment(Some([4.1, 0.1]), [4.45, 0.3], 10), []);
        // A stroke's first point sets the class under it; outside the classes nothing.
        assert_eq!(segment(None, [6.4, 0.2], 10), [(6, 0.2)]);
        assert_eq!(segment(None, [12.0, 0.1], 10), []);
    }

    #[test]
    fn captions_say_what_the_fit_shows() {
        let both = [0.6, 0.4];
        let one = [0.93, 0.07];
        assert_eq!(
            seeking_caption(&Divergence::Fkl, &both).as_deref(),
            Some("covers both modes (mean-seeking)")
        );
        assert_eq!(
            seeking_caption(&Divergence::Rkl, &one).as_deref(),
            Some("locks onto one mode (mode-seeking)")
        );
        // RKL stuck between the modes, FKL on one: no caption claims otherwise.
        assert_eq!(seeking_caption(&Divergence::Rkl, &both), None);
        assert_eq!(seeking_caption(&Divergence::Fkl, &one), None);
        let ab_fkl: Divergence = "ab:alpha=1,beta=0".parse().unwrap();
        assert!(
            seeking_caption(&ab_fkl, &both)
                .unwrap()
                .contains("mean-seeking")
        );
        assert_eq!(seeking_caption(&"akl:mu=0.5".parse().unwrap(), &both), None);
        assert_eq!(seeking_caption(&Divergence::Fkl, &[1.0]), None);
        // Two modes split at the valley between them; a light bump does not count as a mode.
        let p = [0.05, 0.2, 0.3, 0.05, 0.01, 0.1, 0.25, 0.04];
        assert_eq!(basins(&p), [0..4, 4..8]);
        let p = [0.4, 0.5, 0.06, 0.005, 0.006, 0.029];
        assert_eq!(basins(&p).len(), 1);
    }
}
