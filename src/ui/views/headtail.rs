//! Head/tail convergence: the L1 gap between teacher and student on the teacher's head classes, on the
//! tail classes and on the far tail, per divergence over the epochs (the AKL paper's argument: FKL closes
//! the head first, RKL the tail). The head/tail split μ is set here, and AKL's adaptive weight
//! `w_head = g_head / (g_head + g_tail)` can be shown under the gaps.
//!
//! The helpers after the view (decimated and cached curves, 1-2-5 linear and log grids, hover text that
//! finds the hovered run, the value table and its placement) are shared with the loss view; they could
//! move to `common.rs`.

use super::ViewCtx;
use super::common::{base_plot, y_value};
use crate::math::{Divergence, akl};
use crate::toy::EpochRecord;
use crate::ui::state::ToyState;
use egui_plot::{
    Corner, GridInput, GridMark, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, VLine,
};
use serde::{Deserialize, Serialize};

/// The view's display options, kept in egui memory (shared by every place the view is shown).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Options {
    log_y: bool,
    /// One panel per metric instead of line styles on one plot.
    split: bool,
    /// Draw AKL's w_head under the gaps (when an AKL run is enabled).
    akl_weights: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log_y: true,
            split: false,
            akl_weights: true,
        }
    }
}

/// The three measured quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    Head,
    Tail,
    Far,
}

impl Gap {
    const ALL: [Gap; 3] = [Gap::Head, Gap::Tail, Gap::Far];

    fn label(self) -> &'static str {
        match self {
            Gap::Head => "head",
            Gap::Tail => "tail",
            Gap::Far => "far tail",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Gap::Head => "head gap",
            Gap::Tail => "tail gap",
            Gap::Far => "far-tail error",
        }
    }

    fn value(self, r: &EpochRecord) -> f64 {
        match self {
            Gap::Head => r.head_gap,
            Gap::Tail => r.tail_gap,
            Gap::Far => r.far_tail,
        }
    }

    fn width(self) -> f32 {
        match self {
            Gap::Head => 2.0,
            Gap::Tail => 1.6,
            Gap::Far => 1.1,
        }
    }

    /// The legend entry that explains the line style.
    fn key(self) -> &'static str {
        match self {
            Gap::Head => "—— head gap",
            Gap::Tail => "- - - tail gap",
            Gap::Far => "······ far-tail error",
        }
    }

    fn style(self) -> LineStyle {
        match self {
            Gap::Head => LineStyle::Solid,
            Gap::Tail => LineStyle::Dashed { length: 9.0 },
            Gap::Far => LineStyle::Dotted { spacing: 4.0 },
        }
    }
}

pub fn headtail_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let opts_id = egui::Id::unique("kdviz-headtail-options");
    let mut opts: Options = ui.data_mut(|d| *d.get_persisted_mut_or_default(opts_id));
    let id = ui.scope_id().with("headtail");
    let explanation = explain(cx);
    let akl_runs: Vec<usize> = (0..cx.runs())
        .filter(|&r| matches!(cx.divergence(r), Divergence::Akl { .. }))
        .collect();

    if !crate::figure::is_figure(ui) {
        ui.horizontal_wrapped(|ui| {
            let mu = &mut state.config.metrics.mu;
            ui.add(egui::Slider::new(mu, 0.0..=0.99).text("head mass mu"))
                .on_hover_text(&explanation);
            ui.separator();
            ui.checkbox(&mut opts.log_y, "log y");
            ui.checkbox(&mut opts.split, "split")
                .on_hover_text("one panel per metric (off: one plot; head solid, tail dashed, far tail dotted)");
            if !akl_runs.is_empty() {
                ui.checkbox(&mut opts.akl_weights, "AKL weights").on_hover_text(
                    "AKL's adaptive weight on FKL over the epochs, w_head = g_head / (g_head + g_tail), \
                     with the AKL run's own μ",
                );
            }
            ui.label(egui::RichText::new("(?)").weak())
                .on_hover_text(&explanation);
        });
    }
    ui.data_mut(|d| d.insert_persisted(opts_id, opts));

    let columns: Vec<Column> = Gap::ALL
        .into_iter()
        .map(|g| (g.label(), Box::new(move |r: &EpochRecord| g.value(r)) as _))
        .collect();
    let table = |ui: &mut egui::Ui| {
        value_table(ui, cx, id.with("table"), &columns);
        ui.label(egui::RichText::new(regions_summary(cx)).small().weak())
            .on_hover_text(&explanation);
    };
    let clicked = with_side_table(ui, id, table, |ui, width, height| {
        let show_w = opts.akl_weights && !akl_runs.is_empty() && height >= 300.0;
        let w_height = if show_w {
            (height * 0.28).clamp(90.0, 200.0)
        } else {
            0.0
        };
        let gaps_height = height - w_height;
        let mut clicked = if opts.split {
            split_panels(ui, cx, &opts, id, width, gaps_height)
        } else {
            overlay_panel(ui, cx, &opts, id, width, gaps_height)
        };
        if show_w {
            let h = w_height - ui.spacing().item_spacing.y;
            clicked = clicked.or(weights_panel(ui, cx, &akl_runs, id, h));
        }
        clicked
    });
    if let Some(epoch) = clicked {
        state.epoch = epoch;
    }
}

/// The class counts of the current split, one line under the table.
fn regions_summary(cx: &ViewCtx) -> String {
    let regions = &cx.result.regions;
    let n = regions.head.len();
    let heads = regions.head.iter().filter(|&&h| h).count();
    let far_from = regions.far_tail_start();
    format!(
        "head: top {heads} classes · tail: {} · far tail: rank {far_from}+ ({})",
        n - heads,
        n - far_from
    )
}

/// What head, tail and far tail mean for the current teacher (hover text).
fn explain(cx: &ViewCtx) -> String {
    let regions = &cx.result.regions;
    let n = regions.head.len();
    let heads = regions.head.iter().filter(|&&h| h).count();
    let far_from = regions.far_tail_start();
    format!(
        "Head: the top-1 class plus the top classes that together hold at most μ of the teacher's \
         mass ({heads} of {n} classes in this fit). Tail: the other {} classes.\n\
         Head gap = Σ_head |p − q|, tail gap = Σ_tail |p − q| (L1 distances; their sum is 2·TVD).\n\
         Far-tail error = Σ |p − q| over the classes from teacher rank {far_from} on ({} classes).\n\
         μ here only sets where the measurement splits the classes; an AKL divergence uses its own μ. \
         Changing it refits.",
        n - heads,
        n - far_from,
    )
}

/// Head/tail/far-tail of every run on one plot, the metric told by the line style.
fn overlay_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    opts: &Options,
    id: egui::Id,
    width: f32,
    height: f32,
) -> Option<usize> {
    let metrics = gap_columns(&Gap::ALL);
    let runs: Vec<usize> = (0..cx.runs()).collect();
    let names = LineNames::new(cx, cx.runs(), true);
    let entries = if names.any() { cx.runs() + 3 } else { 3 };
    let plot = curve_plot(id.with("overlay"), "L1 gap", opts.log_y, height)
        .link_axis(id.with("x-link"), [true, false])
        .link_cursor(id.with("x-link"), [true, false])
        .legend(legend(height, entries))
        .label_formatter(hover_runs(cx, &runs, opts.log_y, &metrics));
    plot.show(ui, |pu| {
        for run in 0..cx.runs() {
            for gap in Gap::ALL {
                let max = points_for(width, gap != Gap::Head);
                let pts = record_curve(pu.ctx(), cx, run, gap.label(), opts.log_y, max, |r| {
                    gap.value(r)
                });
                pu.line(
                    Line::new(names.get(run), PlotPoints::new(pts))
                        .color(cx.colors[run])
                        .width(gap.width())
                        .style(gap.style()),
                );
            }
        }
        // The line-style key: grey legend entries whose one point sits on a drawn point (egui_plot
        // skips empty lines) and is invisible (zero width).
        let grey = pu.ctx().global_style().visuals.weak_text_color();
        let anchor = (0..cx.runs())
            .flat_map(|r| cx.history(r).first())
            .map(|r| r.head_gap)
            .find(|v| v.is_finite())
            .map(|v| [0.0, y_value(v, opts.log_y)]);
        if let Some(anchor) = anchor {
            for gap in Gap::ALL {
                pu.line(
                    Line::new(gap.key(), PlotPoints::new(vec![anchor]))
                        .color(grey)
                        .width(0.0)
                        .allow_hover(false),
                );
            }
        }
        epoch_marker(pu, cx.epoch);
        clicked_epoch(pu, cx)
    })
    .inner
}

/// The gap accessors as table/hover columns.
fn gap_columns(gaps: &[Gap]) -> Vec<Column<'static>> {
    gaps.iter()
        .map(|&g| (g.title(), Box::new(move |r: &EpochRecord| g.value(r)) as _))
        .collect()
}

/// One panel per metric (head | tail | far tail), x axes and cursors linked.
fn split_panels(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    opts: &Options,
    id: egui::Id,
    width: f32,
    height: f32,
) -> Option<usize> {
    let spacing = ui.spacing().item_spacing;
    let side_by_side = width >= 3.0 * 230.0 || height < 3.0 * 140.0;
    let (w, h) = if side_by_side {
        ((width - 2.0 * spacing.x) / 3.0, height)
    } else {
        (width, (height - 2.0 * spacing.y) / 3.0)
    };
    let link = id.with("split-link");
    let max = points_for(w, false);
    let runs: Vec<usize> = (0..cx.runs()).collect();
    let mut clicked = None;
    let mut draw = |ui: &mut egui::Ui| {
        for (i, gap) in Gap::ALL.into_iter().enumerate() {
            // One legend (the colours are the same in every panel).
            let names = LineNames::for_panel(cx, i == 0, egui::vec2(w, h));
            let metrics = gap_columns(&[gap]);
            let plot = curve_plot(id.with(("split", i)), gap.title(), opts.log_y, h)
                .width(w)
                .link_axis(link, [true, false])
                .link_cursor(link, [true, false])
                .legend(legend(h, cx.runs()))
                .label_formatter(hover_runs(cx, &runs, opts.log_y, &metrics));
            let r = plot
                .show(ui, |pu| {
                    for run in 0..cx.runs() {
                        let pts =
                            record_curve(pu.ctx(), cx, run, gap.label(), opts.log_y, max, |r| {
                                gap.value(r)
                            });
                        pu.line(
                            Line::new(names.get(run), PlotPoints::new(pts))
                                .color(cx.colors[run])
                                .width(1.8),
                        );
                    }
                    epoch_marker(pu, cx.epoch);
                    clicked_epoch(pu, cx)
                })
                .inner;
            clicked = clicked.or(r);
        }
    };
    if side_by_side {
        ui.horizontal_top(|ui| draw(ui));
    } else {
        ui.vertical(|ui| draw(ui));
    }
    clicked
}

/// AKL's weight on FKL over the epochs, from the run's own μ.
fn weights_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    akl_runs: &[usize],
    id: egui::Id,
    height: f32,
) -> Option<usize> {
    let names = run_names(cx);
    let ui_width = ui.available_width();
    let plot = curve_plot(id.with("akl-w"), "AKL w_head", false, height)
        .include_y(1.0)
        .link_axis(id.with("x-link"), [true, false])
        .link_cursor(id.with("x-link"), [true, false])
        .legend(legend(height, akl_runs.len()));
    plot.show(ui, |pu| {
        for &run in akl_runs {
            let Divergence::Akl { mu } = *cx.divergence(run) else {
                continue;
            };
            let pts = akl_weight_curve(pu.ctx(), cx, run, mu, points_for(ui_width, false));
            pu.line(
                Line::new(names[run].clone(), PlotPoints::new(pts))
                    .color(cx.colors[run])
                    .width(1.8),
            );
        }
        epoch_marker(pu, cx.epoch);
        clicked_epoch(pu, cx)
    })
    .inner
}

/// `w_head` of an AKL run at (a decimated set of) its epochs. When the run's μ gives the same head as the
/// measurement split the recorded gaps are exact; otherwise the gaps are recomputed from the kept
/// student snapshots.
fn akl_weight_curve(
    ctx: &egui::Context,
    cx: &ViewCtx,
    run: usize,
    mu: f64,
    max: usize,
) -> Vec<[f64; 2]> {
    let p = cx.p();
    let head = akl::head_mask(p, mu);
    if head == cx.result.regions.head {
        return record_curve(ctx, cx, run, "akl-w", false, max, |r| {
            akl::weights(r.head_gap, r.tail_gap).0
        });
    }
    if cx.result.runs[run].snapshots.is_empty() {
        return Vec::new();
    }
    let weight_at = |i: usize| {
        let q = cx.q_at(run, i);
        (q.len() == p.len()).then(|| {
            let (gh, gt) = akl::gaps(p, q, &head);
            [i as f64, akl::weights(gh, gt).0]
        })
    };
    let n = cx.history(run).len();
    let base = cached_curve(ctx, cx, (run, "akl-w-snapshots", mu.to_bits(), max), || {
        sample_indices(n, n, max)
            .into_iter()
            .filter_map(weight_at)
            .collect()
    });
    with_point(&base, weight_at(cx.epoch))
}

// ---------------------------------------------------------------------------------------------------
// Shared with the loss view.

/// Most points drawn per curve.
pub(super) const MAX_POINTS: usize = 2000;

/// Epoch indices of a decimated curve over `n` epochs: about `max` evenly spaced, plus the first, the
/// last and the current epoch.
pub(super) fn sample_indices(n: usize, current: usize, max: usize) -> Vec<usize> {
    let max = max.clamp(8, MAX_POINTS);
    if n <= max {
        return (0..n).collect();
    }
    let step = n.div_ceil(max - 2);
    let mut idx: Vec<usize> = (0..n).step_by(step).collect();
    idx.push(n - 1);
    if current < n {
        idx.push(current);
    }
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Decimated curves of the current fit, kept between frames: scanning 20,000 epoch records per curve
/// every frame costs more than drawing (the records are large, so it is memory-bound).
#[derive(Clone, Default)]
struct CurveCache {
    /// [`fingerprint`] of the fit the curves belong to.
    fit: u64,
    curves: std::collections::HashMap<egui::Id, std::sync::Arc<Vec<[f64; 2]>>>,
}

/// Identifies a fit result: its address, history lengths and last records (a new fit may reuse the
/// address of the old one).
fn fingerprint(cx: &ViewCtx) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (cx.result as *const crate::toy::FitResult as usize).hash(&mut h);
    for run in &cx.result.runs {
        run.divergence.to_string().hash(&mut h);
        run.history.len().hash(&mut h);
        if let Some(r) = run.history.last() {
            [r.objective, r.kl_pq, r.head_gap, r.tail_gap]
                .map(f64::to_bits)
                .hash(&mut h);
        }
    }
    h.finish()
}

/// The points `compute` returns for `key`, computed once per fit (and per key).
pub(super) fn cached_curve(
    ctx: &egui::Context,
    cx: &ViewCtx,
    key: impl std::hash::Hash + std::fmt::Debug,
    compute: impl FnOnce() -> Vec<[f64; 2]>,
) -> std::sync::Arc<Vec<[f64; 2]>> {
    let cache_id = egui::Id::unique("kdviz-curve-cache");
    let fit = fingerprint(cx);
    let key = egui::Id::unique((fit, key));
    let hit = ctx.data_mut(|d| {
        let cache = d.get_temp_mut_or_default::<CurveCache>(cache_id);
        if cache.fit != fit {
            cache.fit = fit;
            cache.curves.clear();
        }
        cache.curves.get(&key).cloned()
    });
    if let Some(points) = hit {
        return points;
    }
    let points = std::sync::Arc::new(compute());
    ctx.data_mut(|d| {
        let cache = d.get_temp_mut_or_default::<CurveCache>(cache_id);
        // Resizing makes new keys; start over rather than grow without bound.
        if cache.curves.len() > 2000 {
            cache.curves.clear();
        }
        cache.curves.insert(key, points.clone());
    });
    points
}

/// `points` (sorted by x) with `point` inserted in x order, unless that x is already there.
pub(super) fn with_point(points: &[[f64; 2]], point: Option<[f64; 2]>) -> Vec<[f64; 2]> {
    let mut out = points.to_vec();
    if let Some(p) = point
        && let Err(i) = out.binary_search_by(|q| q[0].total_cmp(&p[0]))
    {
        out.insert(i, p);
    }
    out
}

/// A run's decimated curve of `value` over its history (cached per fit; `tag` names the quantity), with
/// the current epoch's point exact.
pub(super) fn record_curve(
    ctx: &egui::Context,
    cx: &ViewCtx,
    run: usize,
    tag: &'static str,
    log: bool,
    max: usize,
    value: impl Fn(&EpochRecord) -> f64,
) -> Vec<[f64; 2]> {
    let hist = cx.history(run);
    let base = cached_curve(ctx, cx, (run, tag, log, max), || {
        curve_max(hist.len(), hist.len(), log, max, |i| value(&hist[i]))
    });
    let current = hist
        .get(cx.epoch)
        .map(&value)
        .filter(|v| v.is_finite())
        .map(|v| [cx.epoch as f64, y_value(v, log)]);
    with_point(&base, current)
}

/// How many points a curve needs on a plot `width` points wide: a lowest/highest pair per point of
/// width draws the same picture as every epoch (tessellating more only costs frame time). A dash drawn
/// along sub-point segments fades away (each piece is anti-aliased on its own), so dashed lines get
/// about one point per 2.5 points of width.
pub(super) fn points_for(width: f32, dashed: bool) -> usize {
    let per_point = if dashed { 0.4 } else { 2.0 };
    ((width * per_point) as usize).clamp(40, MAX_POINTS)
}

/// `[epoch, y]` points of a curve over `n` epochs, at most about `max`: for each bucket of epochs the
/// lowest and the highest value (so spikes and oscillations stay visible), plus the first, the last and
/// the current epoch exactly. Non-finite values are skipped; `log` maps y to log10 (floored).
pub(super) fn curve_max(
    n: usize,
    current: usize,
    log: bool,
    max: usize,
    value: impl Fn(usize) -> f64,
) -> Vec<[f64; 2]> {
    let y = |i: usize| {
        let v = value(i);
        v.is_finite().then(|| [i as f64, y_value(v, log)])
    };
    let max = max.max(8);
    if n <= max {
        return (0..n).filter_map(y).collect();
    }
    let size = n.div_ceil(max / 2 - 2);
    let mut out = Vec::with_capacity(max + 4);
    let mut picks: Vec<usize> = Vec::with_capacity(5);
    for start in (0..n).step_by(size) {
        let end = (start + size).min(n);
        // (epoch, value) of the bucket's lowest and highest finite values.
        let mut lo: Option<(usize, f64)> = None;
        let mut hi: Option<(usize, f64)> = None;
        // log10 keeps the order: compare raw values, transform only what is drawn.
        for i in start..end {
            let v = value(i);
            if v.is_finite() {
                if lo.is_none_or(|(_, l)| v < l) {
                    lo = Some((i, v));
                }
                if hi.is_none_or(|(_, h)| v > h) {
                    hi = Some((i, v));
                }
            }
        }
        picks.clear();
        picks.extend(lo.map(|(i, _)| i));
        picks.extend(hi.map(|(i, _)| i));
        for exact in [0, n - 1, current] {
            if (start..end).contains(&exact) {
                picks.push(exact);
            }
        }
        picks.sort_unstable();
        picks.dedup();
        out.extend(picks.iter().filter_map(|&i| y(i)));
    }
    out
}

/// A curve plot in the house style: epoch on x, a log10 axis with 1-2-5 ticks when `log`, hover labels
/// in data units.
pub(super) fn curve_plot<'a>(id: egui::Id, y_label: &'a str, log: bool, height: f32) -> Plot<'a> {
    let plot = base_plot(id, "epoch", y_label)
        .height(height)
        .include_x(0.0)
        .x_grid_spacer(nice_grid(60.0))
        .x_axis_formatter(nice_label)
        .y_axis_min_width(40.0)
        .label_formatter(hover_label(log, y_label));
    if log {
        plot.y_grid_spacer(log_grid).y_axis_formatter(log_label)
    } else {
        plot.include_y(0.0)
            .y_grid_spacer(nice_grid(30.0))
            .y_axis_formatter(nice_label)
    }
}

/// A legend that stays out of the way: insertion order, small text in small plots.
pub(super) fn legend(height: f32, entries: usize) -> Legend {
    let small = height < 240.0 || entries > 6;
    Legend::default()
        .follow_insertion_order(true)
        .position(Corner::RightTop)
        .background_alpha(0.85)
        .text_style(if small {
            egui::TextStyle::Small
        } else {
            egui::TextStyle::Body
        })
}

/// Hover text: the curve's name, the epoch and the value (undoing the log10 of a log axis).
pub(super) fn hover_label<'a>(
    log: bool,
    y_name: &'a str,
) -> impl Fn(&HoverPosition<'_>) -> Option<String> + 'a {
    move |pos| match pos {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            ..
        } => {
            let v = if log {
                10f64.powf(position.y)
            } else {
                position.y
            };
            let name = if plot_name.is_empty() {
                String::new()
            } else {
                format!("{plot_name}\n")
            };
            Some(format!(
                "{name}epoch {:.0}\n{y_name} = {}",
                position.x,
                fmt_value(v)
            ))
        }
        HoverPosition::Elsewhere { position } => Some(format!("epoch {:.0}", position.x.max(0.0))),
    }
}

/// The vertical line at the scrubber's epoch.
pub(super) fn epoch_marker(pu: &mut egui_plot::PlotUi<'_>, epoch: usize) {
    let color = pu
        .ctx()
        .global_style()
        .visuals
        .text_color()
        .gamma_multiply(0.55);
    pu.vline(
        VLine::new("", epoch as f64)
            .color(color)
            .width(1.2)
            .style(LineStyle::Dashed { length: 4.0 })
            .allow_hover(false),
    );
}

/// The epoch under the pointer when the plot was clicked (moves the scrubber).
pub(super) fn clicked_epoch(pu: &egui_plot::PlotUi<'_>, cx: &ViewCtx) -> Option<usize> {
    if !pu.response().clicked() {
        return None;
    }
    let last = (0..cx.runs())
        .map(|r| cx.history(r).len())
        .min()?
        .saturating_sub(1);
    let x = pu.pointer_coordinate()?.x.round();
    Some((x.max(0.0) as usize).min(last))
}

/// egui_plot's default minimum grid spacing in points: `GridInput::base_step_size` is this many points
/// in data units.
const GRID_MIN_PX: f64 = 8.0;

/// The smallest of 1, 2, 5 × 10^k that is at least `x`.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    let m = x / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Grid marks of a linear axis at 1-2-5 steps: the labelled steps at least `label_px` points apart
/// (egui_plot's own spacer only steps by 10×, which leaves a narrow plot with a single label), and
/// unlabelled fifths or quarters between them.
pub(super) fn nice_grid(label_px: f64) -> impl Fn(GridInput) -> Vec<GridMark> {
    move |input: GridInput| {
        let (lo, hi) = input.bounds;
        if !(lo.is_finite() && hi.is_finite()) || hi <= lo || input.base_step_size <= 0.0 {
            return Vec::new();
        }
        let unit_px = GRID_MIN_PX / input.base_step_size;
        let major = nice_step(label_px / unit_px);
        let lead = (major / 10f64.powf(major.log10().floor())).round();
        let minor = major / if lead == 2.0 { 4.0 } else { 5.0 };
        let (first, last) = ((lo / minor).ceil() as i64, (hi / minor).floor() as i64);
        if last - first > 5_000 {
            return Vec::new();
        }
        (first..=last)
            .map(|i| {
                let value = i as f64 * minor;
                let r = value / major;
                let on_major = (r - r.round()).abs() < 1e-6;
                GridMark {
                    value,
                    step_size: if on_major { major } else { minor },
                }
            })
            .collect()
    }
}

/// Tick labels of a [`nice_grid`] axis: as many decimals as the step needs (`0.5`, not `0`).
pub(super) fn nice_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let decimals = (-mark.step_size.log10().floor()).max(0.0) as usize;
    let text = format!("{:.*}", decimals, mark.value);
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// Grid marks of a log10 axis: decades (every 2nd, 5th, 10th… when they are close, so labels never
/// crowd), and 2×, 5× and the other integer multiples inside a decade when there is room, so that an
/// axis spanning less than a decade still gets labelled ticks.
pub(super) fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || input.base_step_size <= 0.0 {
        return Vec::new();
    }
    let decade_px = GRID_MIN_PX / input.base_step_size;
    // Labelled decades: every `every`-th, at least 25 points apart (the y axis label spacing).
    let every = nice_step((25.0 / decade_px).max(1.0)).round() as i64;
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    if last - first > 5_000 {
        return Vec::new();
    }
    let mut marks = Vec::new();
    for k in first..=last {
        marks.push(GridMark {
            value: k as f64,
            step_size: if k % every == 0 { every as f64 } else { 0.5 },
        });
        if decade_px >= 40.0 {
            // Labelled inside a decade: 3 from 50 points per decade on, 2 and 5 instead from 120.
            let fine = decade_px >= 120.0;
            for m in 2..=9 {
                let step_size = match m {
                    2 | 5 if fine => 0.3,
                    3 if !fine => 0.5,
                    _ => 0.1,
                };
                marks.push(GridMark {
                    value: k as f64 + (m as f64).log10(),
                    step_size,
                });
            }
        }
    }
    // The axis paints every mark it gets, even outside the plot: keep the visible ones.
    marks.retain(|m| (lo..=hi).contains(&m.value));
    marks
}

/// Tick labels of a [`log_grid`] axis: `1e-3`, `2e-3`, `3e-3`, `5e-3` (other sub-decade ticks
/// unlabelled; which of these show is up to the marks' step sizes).
pub(super) fn log_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let v = mark.value;
    let d = v.floor();
    let m = 10f64.powf(v - d);
    let m_round = m.round();
    if (m - m_round).abs() > 1e-6 || ![1.0, 2.0, 3.0, 5.0].contains(&m_round) {
        return String::new();
    }
    let e = d as i64;
    match e {
        0 => format!("{m_round}"),
        _ => format!("{m_round}e{e}"),
    }
}

/// A value for a table or hover text: 4 significant digits, scientific when very small or large, `∞`.
pub(super) fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        }
    } else if v == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&v.abs()) {
        let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    }
}

/// A quantity read from an epoch's record: its name (table header, hover text) and accessor
/// (NaN = not applicable to this run).
pub(super) type Column<'a> = (&'a str, Box<dyn Fn(&EpochRecord) -> f64 + 'a>);

/// Legends list the divergences only up to this many runs; beyond it the value table (divergence
/// names in their colours) is the key and the plots stay clear.
const MAX_LEGEND_RUNS: usize = 6;

/// Names longer than this lose the parameters they share with the other runs of their family.
const LONG_NAME: usize = 24;

/// Display names of the runs: the divergence spec, except that a long spec drops the `key=value`
/// parameters that every other run of its family has too (`taid:t_start=0.4,t_end=1,rate=0.0005,…`
/// next to `taid:t_start=0.2,t_end=1,rate=0.0005,…` become `taid:t_start=0.4` and `taid:t_start=0.2`).
/// The full specs are kept when shortening would make two names equal.
pub(super) fn run_names(cx: &ViewCtx) -> Vec<String> {
    let full: Vec<String> = (0..cx.runs())
        .map(|r| cx.divergence(r).to_string())
        .collect();
    let parsed: Vec<(&str, Vec<(&str, &str)>)> = full
        .iter()
        .map(|s| match s.split_once(':') {
            Some((family, rest)) => (
                family,
                rest.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .collect(),
            ),
            None => (s.as_str(), Vec::new()),
        })
        .collect();
    let short: Vec<String> = full
        .iter()
        .zip(&parsed)
        .map(|(name, (family, params))| {
            if name.chars().count() <= LONG_NAME {
                return name.clone();
            }
            let kept: Vec<String> = params
                .iter()
                .filter(|(k, v)| {
                    let values: Vec<&str> = parsed
                        .iter()
                        .filter(|(f, _)| f == family)
                        .filter_map(|(_, p)| p.iter().find(|(k2, _)| k2 == k).map(|(_, v2)| *v2))
                        .collect();
                    !(values.len() >= 2 && values.iter().all(|v2| v2 == v))
                })
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if kept.is_empty() {
                family.to_string()
            } else {
                format!("{family}:{}", kept.join(","))
            }
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    if short.iter().all(|n| seen.insert(n.as_str())) {
        short
    } else {
        full
    }
}

/// The names a panel gives its lines: the run names in the first panel of a group when the legend
/// stays short, otherwise none (unnamed lines stay out of the legend; hover text still names them).
pub(super) struct LineNames(Option<Vec<String>>);

impl LineNames {
    /// `shown`: how many runs the panel draws.
    pub(super) fn new(cx: &ViewCtx, shown: usize, first_panel: bool) -> Self {
        LineNames((first_panel && shown <= MAX_LEGEND_RUNS).then(|| run_names(cx)))
    }

    /// Names for the first of several small multiples, when it is big enough that a legend does not
    /// bury its curves.
    pub(super) fn for_panel(cx: &ViewCtx, first_panel: bool, size: egui::Vec2) -> Self {
        Self::new(
            cx,
            cx.runs(),
            first_panel && size.x >= 300.0 && size.y >= 160.0,
        )
    }

    pub(super) fn get(&self, run: usize) -> String {
        self.0
            .as_ref()
            .and_then(|n| n.get(run).cloned())
            .unwrap_or_default()
    }

    pub(super) fn any(&self) -> bool {
        self.0.is_some()
    }
}

/// Hover text that finds which run and quantity the hovered point belongs to (lines may be unnamed):
/// the one among `runs` × `metrics` whose value at the hovered epoch is nearest.
pub(super) fn hover_runs<'b>(
    cx: &'b ViewCtx<'b>,
    runs: &'b [usize],
    log: bool,
    metrics: &'b [Column<'b>],
) -> impl Fn(&HoverPosition<'_>) -> Option<String> + 'b {
    move |pos| {
        let position = match pos {
            HoverPosition::NearDataPoint { position, .. } => *position,
            HoverPosition::Elsewhere { position } => {
                return Some(format!("epoch {:.0}", position.x.max(0.0)));
            }
        };
        let epoch = position.x.round().max(0.0) as usize;
        let mut best: Option<(f64, usize, usize, f64)> = None;
        for &run in runs {
            let Some(rec) = cx.history(run).get(epoch) else {
                continue;
            };
            for (m, (_, value)) in metrics.iter().enumerate() {
                let v = value(rec);
                if !v.is_finite() {
                    continue;
                }
                let d = (y_value(v, log) - position.y).abs();
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, run, m, v));
                }
            }
        }
        let (_, run, m, v) = best?;
        Some(format!(
            "{}\nepoch {epoch}\n{} = {}",
            cx.divergence(run),
            metrics[m].0,
            fmt_value(v)
        ))
    }
}

/// The current epoch's values per run: the divergence (in its colour, so the table doubles as the
/// legend) and one column per quantity. NaN shows as `—`.
pub(super) fn value_table(ui: &mut egui::Ui, cx: &ViewCtx, id: egui::Id, columns: &[Column<'_>]) {
    egui::ScrollArea::vertical()
        .id_salt(id.with("scroll"))
        .auto_shrink([true, true])
        .show(ui, |ui| {
            egui::Grid::new(id)
                .striped(true)
                .spacing([10.0, 2.0])
                .show(ui, |ui| {
                    ui.label(egui::RichText::new(format!("epoch {}", cx.epoch)).strong());
                    for (name, _) in columns {
                        ui.label(egui::RichText::new(format!("{name:>8}")).monospace().weak());
                    }
                    ui.end_row();
                    for (run, name) in run_names(cx).iter().enumerate() {
                        let short = if name.chars().count() > LONG_NAME {
                            let head: String = name.chars().take(LONG_NAME - 1).collect();
                            format!("{head}…")
                        } else {
                            name.clone()
                        };
                        ui.label(egui::RichText::new(short).color(cx.colors[run]).strong())
                            .on_hover_text(cx.divergence(run).to_string());
                        let rec = cx.record(run);
                        for (_, value) in columns {
                            let text = format!("{:>8}", fmt_value(value(rec)));
                            ui.label(egui::RichText::new(text).monospace());
                        }
                        ui.end_row();
                    }
                });
        });
}

/// Lays out the plots and the value table: the table to the right when the view is wide, under the
/// plots otherwise (at most a third of the height, scrolling). `plots` gets the width and height left
/// for it. The table's size is remembered from the previous frame.
pub(super) fn with_side_table<R>(
    ui: &mut egui::Ui,
    id: egui::Id,
    table: impl FnOnce(&mut egui::Ui),
    plots: impl FnOnce(&mut egui::Ui, f32, f32) -> R,
) -> R {
    let size_id = id.with("table-size");
    let avail = ui.available_size();
    let spacing = ui.spacing().item_spacing;
    let guess = egui::vec2(380.0, 120.0);
    let size: egui::Vec2 = ui.data(|d| d.get_temp(size_id)).unwrap_or(guess);
    // The table goes to the right when the plots keep at least 60% of the width.
    let (r, drawn) = if avail.x - size.x - spacing.x >= (0.6 * avail.x).max(460.0) {
        ui.horizontal_top(|ui| {
            let plot_w = avail.x - size.x - spacing.x;
            let r = ui
                .allocate_ui(egui::vec2(plot_w, avail.y), |ui| {
                    ui.vertical(|ui| plots(ui, plot_w, avail.y)).inner
                })
                .inner;
            let drawn = ui.vertical(table).response.rect.size();
            (r, drawn)
        })
        .inner
    } else {
        let max_h = (avail.y / 3.0).max(60.0);
        let table_h = size.y.min(max_h);
        let plot_h = (avail.y - table_h - spacing.y).max(100.0);
        let r = plots(ui, avail.x, plot_h);
        let drawn = ui
            .allocate_ui(egui::vec2(avail.x, max_h), |ui| {
                ui.vertical(|ui| {
                    ui.set_max_height(max_h);
                    table(ui)
                })
            })
            .response
            .rect
            .size();
        (r, drawn)
    };
    if (drawn - size).length() > 0.5 {
        ui.data_mut(|d| d.insert_temp(size_id, drawn));
        ui.ctx().request_repaint();
    }
    r
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::common::LOG_FLOOR;
    use super::*;
    use crate::toy::{FitResult, SnapshotPlan};
    use crate::ui::palette;
    use egui_kittest::kittest::Queryable as _;

    pub(in crate::ui::views) fn opts(split: bool, akl_weights: bool) -> Options {
        Options {
            split,
            akl_weights,
            log_y: true,
        }
    }

    /// A preset's fit with q kept at every epoch, as the GUI runs it.
    pub(in crate::ui::views) fn fit(preset: &str) -> FitResult {
        let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.run().unwrap()
    }

    /// A harness drawing `view` over `result` at `epoch` in light theme, on a central-panel background.
    pub(in crate::ui::views) fn harness<'a>(
        result: &'a FitResult,
        epoch: usize,
        size: egui::Vec2,
        view: fn(&mut egui::Ui, &ViewCtx, &mut ToyState),
    ) -> egui_kittest::Harness<'a, ToyState> {
        let divs: Vec<Divergence> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = palette::run_colors(&divs);
        egui_kittest::Harness::builder()
            .with_size(size)
            .with_theme(egui::Theme::Light)
            .build_ui_state(
                move |ui, state: &mut ToyState| {
                    let cx = ViewCtx::new(result, &colors, epoch);
                    egui::Frame::central_panel(ui.style()).show(ui, |ui| {
                        ui.set_min_size(ui.available_size());
                        view(ui, &cx, state);
                    });
                },
                ToyState::default(),
            )
    }

    /// Renders; saves `/tmp/kdviz-{name}.png` when `KDVIZ_SAVE_VIEWS` is set.
    pub(in crate::ui::views) fn render(
        harness: &mut egui_kittest::Harness<'_, ToyState>,
        name: &str,
    ) -> image::RgbaImage {
        let image = harness.render().expect("render");
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            image.save(format!("/tmp/kdviz-{name}.png")).unwrap();
        }
        image
    }

    /// How many pixels are close to `color` (lines are anti-aliased; their centres keep the colour).
    pub(in crate::ui::views) fn pixels_of(image: &image::RgbaImage, color: egui::Color32) -> usize {
        image
            .pixels()
            .filter(|px| {
                let d = |a: u8, b: u8| (a as i32 - b as i32).abs();
                d(px[0], color.r()) + d(px[1], color.g()) + d(px[2], color.b()) < 24
            })
            .count()
    }

    /// Renders the view in several settings to /tmp (look at them: `KDVIZ_SAVE_VIEWS=1 cargo test
    /// --lib headtail::tests::gallery -- --ignored`).
    #[test]
    #[ignore]
    fn gallery() {
        let opts_id = egui::Id::unique("kdviz-headtail-options");
        for preset in ["akl-fig3-longtail", "zipf-1000", "longtail-all-divergences"] {
            let result = fit(preset);
            for (tag, opts) in [
                ("", Options::default()),
                (
                    "-split",
                    Options {
                        split: true,
                        ..Options::default()
                    },
                ),
                (
                    "-lin",
                    Options {
                        log_y: false,
                        ..Options::default()
                    },
                ),
            ] {
                for (size_tag, size) in [
                    ("", egui::vec2(1100.0, 700.0)),
                    ("-small", egui::vec2(560.0, 330.0)),
                ] {
                    let mut h = harness(&result, 120, size, headtail_ui);
                    h.ctx.data_mut(|d| d.insert_persisted(opts_id, opts));
                    h.run();
                    // egui_plot sizes its axes from the previous frame's tick labels.
                    h.run_steps(4);
                    render(&mut h, &format!("ht-{preset}{tag}{size_tag}"));
                }
            }
        }
    }

    /// The whole app with the head/tail view open: moving "head mass mu" refits, and the new fit's
    /// head split follows. `KDVIZ_SAVE_VIEWS` saves the app in tabs and in the 2×2 grid.
    #[test]
    fn the_head_mass_slider_refits_the_app() {
        use crate::ui::KdvizApp;
        use crate::ui::state::{Layout, View};
        use std::time::Duration;
        let settle = |h: &mut egui_kittest::Harness<'_, KdvizApp>| {
            for _ in 0..50 {
                h.run_steps(2);
                assert!(h.state_mut().wait_for_fit(Duration::from_secs(30)));
                h.run_steps(2);
                if !h.state().is_fitting() {
                    return;
                }
            }
            panic!("the app kept refitting");
        };
        let state = ToyState {
            active: View::HeadTail,
            epoch: 120,
            ..ToyState::default()
        };
        let mut h = egui_kittest::Harness::builder()
            .with_size(egui::vec2(1440.0, 900.0))
            .with_theme(egui::Theme::Light)
            .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), state));
        settle(&mut h);
        let heads = |h: &egui_kittest::Harness<'_, KdvizApp>| {
            let r = &h.state().result().unwrap().regions;
            r.head.iter().filter(|&&x| x).count()
        };
        let before = heads(&h);
        render_app(&mut h, "app-headtail");
        h.get_by_role_and_label(egui::accesskit::Role::Slider, "head mass mu")
            .set_value_accesskit(0.9);
        settle(&mut h);
        assert!((h.state().state.config.metrics.mu - 0.9).abs() < 1e-9);
        assert!(
            heads(&h) > before,
            "the head grows with mu: {before} → {}",
            heads(&h)
        );
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            h.state_mut().state.active = View::Loss;
            h.run_steps(6);
            render_app(&mut h, "app-loss");
            h.state_mut().state.layout = Layout::Grid;
            h.run_steps(6);
            render_app(&mut h, "app-grid");
        }
    }

    fn render_app(h: &mut egui_kittest::Harness<'_, crate::ui::KdvizApp>, name: &str) {
        h.run_steps(4);
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            let image = h.render().expect("render");
            image.save(format!("/tmp/kdviz-{name}.png")).unwrap();
        }
    }

    #[test]
    fn draws_every_run_and_the_slider_sets_the_head_mass() {
        let result = fit("akl-fig3-longtail");
        let colors =
            palette::run_colors(&result.runs.iter().map(|r| r.divergence).collect::<Vec<_>>());
        for (name, size) in [
            ("headtail", egui::vec2(1100.0, 700.0)),
            ("headtail-small", egui::vec2(560.0, 330.0)),
        ] {
            let mut h = harness(&result, 120, size, headtail_ui);
            h.run();
            let image = render(&mut h, name);
            for (run, &c) in colors.iter().enumerate() {
                let n = pixels_of(&image, c);
                assert!(n > 200, "{name}: run {run} has {n} pixels of its colour");
            }
        }
        let mut h = harness(&result, 120, egui::vec2(900.0, 600.0), headtail_ui);
        h.run();
        h.get_by_role_and_label(egui::accesskit::Role::Slider, "head mass mu")
            .set_value_accesskit(0.3);
        h.run();
        assert!((h.state().config.metrics.mu - 0.3).abs() < 1e-9);
    }

    #[test]
    fn decimated_curve_keeps_ends_current_and_extremes() {
        let n = 20_001;
        let value = |i: usize| {
            if i == 777 {
                f64::INFINITY
            } else if i == 12_345 {
                5.0
            } else {
                1.0 / (1.0 + i as f64)
            }
        };
        let pts = curve_max(n, 9_999, true, MAX_POINTS, value);
        assert!(pts.len() <= MAX_POINTS + 4, "{} points", pts.len());
        assert!(pts.iter().all(|p| p[1].is_finite()));
        assert_eq!(pts.first().unwrap()[0], 0.0);
        assert_eq!(pts.last().unwrap()[0], 20_000.0);
        assert!(pts.iter().any(|p| p[0] == 9_999.0));
        assert!(pts.iter().any(|p| p[0] == 12_345.0), "the spike is kept");
        assert!(!pts.iter().any(|p| p[0] == 777.0), "inf is skipped");
        assert!(pts.windows(2).all(|w| w[0][0] < w[1][0]), "x increases");
        // Short histories are drawn whole.
        assert_eq!(curve_max(10, 3, false, MAX_POINTS, |i| i as f64).len(), 10);
        // Zeros are floored on a log axis.
        assert_eq!(
            curve_max(3, 0, true, MAX_POINTS, |_| 0.0)[0][1],
            LOG_FLOOR.log10()
        );
    }

    #[test]
    fn sample_indices_are_bounded_and_sorted() {
        let idx = sample_indices(20_001, 12_347, MAX_POINTS);
        assert!(idx.len() <= MAX_POINTS + 1);
        assert!(idx.contains(&0) && idx.contains(&20_000) && idx.contains(&12_347));
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn log_ticks_label_one_two_five() {
        let label = |v: f64| {
            log_label(
                GridMark {
                    value: v,
                    step_size: 1.0,
                },
                &(0.0..=1.0),
            )
        };
        assert_eq!(label(-3.0), "1e-3");
        assert_eq!(label(0.0), "1");
        assert_eq!(label(-1.0 + 2f64.log10()), "2e-1");
        assert_eq!(label(5f64.log10()), "5");
        assert_eq!(label(-2.0 + 3f64.log10()), "3e-2");
        assert_eq!(label(-2.0 + 4f64.log10()), "");
        // Less than a decade on 200 points: 1, 2 and 5 ticks are labelled.
        let marks = log_grid(GridInput {
            bounds: (-1.3, -0.2),
            base_step_size: 8.0 / 200.0,
        });
        assert!(marks.iter().filter(|m| !label(m.value).is_empty()).count() >= 3);
        // Twelve decades on 120 points: every 5th decade carries the label step.
        let marks = log_grid(GridInput {
            bounds: (-12.0, 0.0),
            base_step_size: 8.0 / 10.0,
        });
        let labelled: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size >= 1.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(labelled, vec![-10.0, -5.0, 0.0]);
    }

    #[test]
    fn linear_ticks_step_one_two_five() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(130.0), 200.0);
        // 800 epochs on 270 points, labels ≥ 60 points apart: every 200 epochs.
        let marks = nice_grid(60.0)(GridInput {
            bounds: (0.0, 800.0),
            base_step_size: 8.0 * 800.0 / 270.0,
        });
        let majors: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 200.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(majors, vec![0.0, 200.0, 400.0, 600.0, 800.0]);
        let mark = |value, step_size| GridMark { value, step_size };
        assert_eq!(nice_label(mark(0.5, 0.5), &(0.0..=1.0)), "0.5");
        assert_eq!(nice_label(mark(400.0, 200.0), &(0.0..=1.0)), "400");
        assert_eq!(nice_label(mark(-0.0, 0.2), &(0.0..=1.0)), "0.0");
    }

    #[test]
    fn values_format_compactly() {
        assert_eq!(fmt_value(0.0), "0");
        assert_eq!(fmt_value(f64::INFINITY), "∞");
        assert_eq!(fmt_value(0.123456), "0.1235");
        assert_eq!(fmt_value(123.456), "123.5");
        assert_eq!(fmt_value(1.5e-7), "1.50e-7");
    }
}
