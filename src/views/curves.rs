//! Epoch-curve helpers of the head/tail and loss views: decimated and cached curves, the curve plot and
//! its legend, hover text that finds the hovered run, the epoch marker, and the value table and its
//! placement.

use super::ViewCtx;
use super::common::{base_plot, y_value};
use super::placement::{FrameMap, emptiest_corner, legend_size};
use super::ticks::{log_grid, log_label, nice_grid, nice_label};
use crate::toy::EpochRecord;
use egui_plot::{Corner, GridInput, GridMark, HoverPosition, Legend, LineStyle, Plot, VLine};

/// Most points drawn per curve.
pub(super) const MAX_POINTS: usize = 2000;

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
    let log_x = cx.log_epochs;
    let base = cached_curve(ctx, cx, (run, tag, log, log_x, max), || {
        let starts = bucket_starts(hist.len(), max, log_x);
        let mut pts = curve_buckets(hist.len(), hist.len(), log, &starts, |i| value(&hist[i]));
        for p in &mut pts {
            p[0] = epoch_x(p[0], log_x);
        }
        pts
    });
    let current = hist
        .get(cx.epoch)
        .map(&value)
        .filter(|v| v.is_finite())
        .map(|v| [epoch_x(cx.epoch as f64, log_x), y_value(v, log)]);
    with_point(&base, current)
}

/// x of an epoch on an epoch axis: the epoch, or `log10(epoch + 1)` on a log-epoch axis (epoch 0 at
/// the origin).
pub(super) fn epoch_x(epoch: f64, log: bool) -> f64 {
    if log {
        (epoch.max(0.0) + 1.0).log10()
    } else {
        epoch
    }
}

/// The epoch at `x` on an epoch axis (the inverse of [`epoch_x`]).
pub(super) fn x_epoch(x: f64, log: bool) -> f64 {
    if log { 10f64.powf(x) - 1.0 } else { x }
}

/// Grid marks of a log-epoch axis at epochs 0, 1, 2, 5, 10, 20, 50, …: the decades (and 0) carry a
/// step of one decade, 2 and 5 a third of one divided by their digits (labelled when there is room for
/// them), the other digits faint.
fn log_epoch_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let last = x_epoch(hi, true).max(1.0);
    let mut marks = vec![GridMark {
        value: 0.0,
        step_size: 1.0,
    }];
    let mut decade = 1.0;
    while decade <= last {
        for digit in 1..10 {
            let e = decade * f64::from(digit);
            // 2× and 5× are labelled only where their labels fit: the longer the number, the more
            // room a third of a decade must have.
            let digits = e.log10().floor() + 1.0;
            let step_size = match digit {
                1 => 1.0,
                2 | 5 => 0.3 / digits,
                _ => 0.02,
            };
            let value = epoch_x(e, true);
            if (lo..=hi).contains(&value) {
                marks.push(GridMark { value, step_size });
            }
        }
        decade *= 10.0;
    }
    marks
}

/// Tick labels of a [`log_epoch_grid`] axis: the epoch (`0`, `1`, `2`, `5`, `10`, …, `1k`).
fn log_epoch_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    if mark.step_size < 0.05 {
        return String::new();
    }
    let e = x_epoch(mark.value, true).round();
    if e >= 10_000.0 {
        format!("{}k", e / 1000.0)
    } else {
        format!("{e}")
    }
}

/// How many points a curve needs on a plot `width` points wide: a lowest/highest pair per point of
/// width draws the same picture as every epoch (tessellating more only costs frame time). A dash drawn
/// along sub-point segments fades away (each piece is anti-aliased on its own), so dashed lines get
/// about one point per 2.5 points of width.
pub(super) fn points_for(width: f32, dashed: bool) -> usize {
    let per_point = if dashed { 0.4 } else { 2.0 };
    ((width * per_point) as usize).clamp(40, MAX_POINTS)
}

/// First epochs of the buckets of a curve of `n` epochs drawn with about `max` points: even buckets, or
/// on a log-epoch axis buckets even in `log10(epoch + 1)` (every early epoch its own bucket).
pub(super) fn bucket_starts(n: usize, max: usize, log_x: bool) -> Vec<usize> {
    let max = max.max(8);
    if n <= max {
        return (0..n).collect();
    }
    let buckets = max / 2 - 2;
    if !log_x {
        let size = n.div_ceil(buckets);
        return (0..n).step_by(size).collect();
    }
    let top = epoch_x(n as f64, true);
    let mut starts: Vec<usize> = (0..buckets)
        .map(|i| x_epoch(top * i as f64 / buckets as f64, true).floor() as usize)
        .filter(|&e| e < n)
        .collect();
    starts.dedup();
    starts
}

/// `[epoch, y]` points of a curve over `n` epochs, bucketed by `starts` (ascending, the first 0; see
/// [`bucket_starts`]): for each bucket the lowest and the highest value (so spikes and oscillations
/// stay visible), plus the first, the last and the current epoch exactly. Non-finite values are
/// skipped; `log` maps y to log10 (floored).
pub(super) fn curve_buckets(
    n: usize,
    current: usize,
    log: bool,
    starts: &[usize],
    value: impl Fn(usize) -> f64,
) -> Vec<[f64; 2]> {
    let y = |i: usize| {
        let v = value(i);
        v.is_finite().then(|| [i as f64, y_value(v, log)])
    };
    let mut out = Vec::with_capacity(2 * starts.len() + 4);
    let mut picks: Vec<usize> = Vec::with_capacity(5);
    for (b, &start) in starts.iter().enumerate() {
        let end = starts.get(b + 1).copied().unwrap_or(n).min(n);
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
        for exact in [0, n.saturating_sub(1), current] {
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

/// A curve plot in the house style: epoch on x (log-epoch when `cx.log_epochs`), a log10 axis with
/// 1-2-5 ticks when `log`, hover labels in data units.
pub(super) fn curve_plot<'a>(
    cx: &ViewCtx,
    id: egui::Id,
    y_label: &'a str,
    log: bool,
    height: f32,
) -> Plot<'a> {
    let log_x = cx.log_epochs;
    let x_label = if log_x { "epoch (log scale)" } else { "epoch" };
    let plot = base_plot(id, x_label, y_label)
        .height(height)
        .include_x(0.0)
        .y_axis_min_width(40.0)
        .label_formatter(hover_label(log, log_x, y_label));
    let plot = if log_x {
        plot.x_grid_spacer(log_epoch_grid)
            .x_axis_formatter(log_epoch_label)
    } else {
        plot.x_grid_spacer(nice_grid(60.0))
            .x_axis_formatter(nice_label)
    };
    if log {
        plot.y_grid_spacer(log_grid).y_axis_formatter(log_label)
    } else {
        plot.include_y(0.0)
            .y_grid_spacer(nice_grid(30.0))
            .y_axis_formatter(nice_label)
    }
}

/// A legend that stays out of the way: insertion order, small text in small plots, in the corner of a
/// plot `size` points big that the drawn `curves` (plot units) leave most free; `zero`: the y axis
/// includes 0.
pub(super) fn legend(
    ui: &egui::Ui,
    size: egui::Vec2,
    entries: &[String],
    curves: &[Vec<[f64; 2]>],
    zero: bool,
) -> Legend {
    let small = size.y < 240.0 || entries.len() > 6;
    let style = if small {
        egui::TextStyle::Small
    } else {
        egui::TextStyle::Body
    };
    let legend = Legend::default()
        .follow_insertion_order(true)
        .background_alpha(0.85)
        .text_style(style.clone());
    let points = curves.iter().flatten();
    let (mut x, mut y) = ((0.0f64, 0.0f64), (f64::INFINITY, f64::NEG_INFINITY));
    for p in points.clone() {
        x = (x.0.min(p[0]), x.1.max(p[0]));
        y = (y.0.min(p[1]), y.1.max(p[1]));
    }
    if zero {
        y = (y.0.min(0.0), y.1.max(0.0));
    }
    let empty = |(lo, hi): (f64, f64)| hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater);
    if entries.is_empty() || empty(y) || empty(x) {
        return legend.position(Corner::RightTop);
    }
    // The plot area: the widget less its axes (about 60 points of y axis, 46 of x axis).
    let frame = egui::vec2((size.x - 60.0).max(40.0), (size.y - 46.0).max(40.0));
    let map = FrameMap::new(x, y, frame);
    let drawn: Vec<egui::Pos2> = points.map(|&p| map.pos(p)).collect();
    let corner = emptiest_corner(
        egui::Rect::from_min_size(egui::Pos2::ZERO, frame),
        &drawn,
        legend_size(ui, entries, &style),
        &[],
    );
    legend.position(corner)
}

/// Hover text: the curve's name, the epoch and the value (undoing the log10 of log axes).
pub(super) fn hover_label<'a>(
    log: bool,
    log_x: bool,
    y_name: &'a str,
) -> impl Fn(&HoverPosition<'_>) -> Option<String> + 'a {
    let epoch = move |x: f64| x_epoch(x, log_x).round().max(0.0);
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
                "{name}epoch {}\n{y_name} = {}",
                epoch(position.x),
                fmt_value(v)
            ))
        }
        HoverPosition::Elsewhere { position } => Some(format!("epoch {}", epoch(position.x))),
    }
}

/// The vertical line at the scrubber's epoch.
pub(super) fn epoch_marker(pu: &mut egui_plot::PlotUi<'_>, cx: &ViewCtx) {
    let color = pu
        .ctx()
        .global_style()
        .visuals
        .text_color()
        .gamma_multiply(0.55);
    pu.vline(
        VLine::new("", epoch_x(cx.epoch as f64, cx.log_epochs))
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
    let x = x_epoch(pu.pointer_coordinate()?.x, cx.log_epochs).round();
    Some((x.max(0.0) as usize).min(last))
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

/// Names longer than this are cut in the value table (the full name is in its hover text).
const LONG_NAME: usize = 28;

/// A run's name in the value table: a long one is broken after " · " and wrapped after its commas
/// into lines of at most [`LONG_NAME`] characters (a practice loss's label is long: `JSD (β = 0.5) ·
/// student f32, teacher bf16`), at most three lines, the last cut with "…" (the full name is in the
/// hover text, which a figure does not have).
fn table_name(name: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    if name.chars().count() <= LONG_NAME {
        lines.push(name.to_string());
    } else {
        // The family on the first line, the options wrapped after their commas.
        for part in name.split(" · ") {
            let mut line = String::new();
            for piece in part.split_inclusive(',') {
                let piece = if line.is_empty() {
                    piece.trim_start()
                } else {
                    piece
                };
                if !line.is_empty()
                    && line.chars().count() + piece.trim_end().chars().count() > LONG_NAME
                {
                    lines.push(line.trim_end().to_string());
                    line = piece.trim_start().to_string();
                } else {
                    line.push_str(piece);
                }
            }
            lines.push(line);
        }
    }
    if lines.len() > 3 {
        lines.truncate(3);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
        .iter()
        .map(|l| {
            if l.chars().count() > LONG_NAME {
                let head: String = l.chars().take(LONG_NAME - 1).collect();
                format!("{head}…")
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Display names of the runs: each divergence's readable label (`AKL (μ = 0.5)`); runs whose labels
/// coincide (TAID schedules that differ only in their rate) are numbered `#1`, `#2`, ….
pub(super) fn run_names(cx: &ViewCtx) -> Vec<String> {
    let labels: Vec<String> = (0..cx.runs()).map(|r| cx.loss(r).label()).collect();
    labels
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let same = labels.iter().filter(|l| *l == name).count();
            if same > 1 {
                let nth = labels[..=i].iter().filter(|l| *l == name).count();
                format!("{name} #{nth}")
            } else {
                name.clone()
            }
        })
        .collect()
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
    /// bury its curves (about a sixth of its height per entry at most; the value table names the runs
    /// otherwise).
    pub(super) fn for_panel(cx: &ViewCtx, first_panel: bool, size: egui::Vec2) -> Self {
        let tall_enough = size.y >= 150.0 + 24.0 * cx.runs() as f32;
        Self::new(cx, cx.runs(), first_panel && size.x >= 300.0 && tall_enough)
    }

    pub(super) fn get(&self, run: usize) -> String {
        self.0
            .as_ref()
            .and_then(|n| n.get(run).cloned())
            .unwrap_or_default()
    }

    /// The legend's entries: the names, if any.
    pub(super) fn entries(&self) -> Vec<String> {
        self.0.clone().unwrap_or_default()
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
                let epoch = x_epoch(position.x, cx.log_epochs).round().max(0.0);
                return Some(format!("epoch {epoch}"));
            }
        };
        let epoch = x_epoch(position.x, cx.log_epochs).round().max(0.0) as usize;
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
        let div = cx.loss(run);
        Some(format!(
            "{}  ·  {div}\nepoch {epoch}\n{} = {}",
            div.label(),
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
                        let short = table_name(name);
                        ui.label(egui::RichText::new(short).color(cx.colors[run]).strong())
                            .on_hover_text(cx.loss(run).to_string());
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
mod tests {
    use super::super::common::LOG_FLOOR;
    use super::*;

    #[test]
    fn long_run_names_wrap_in_the_table() {
        assert_eq!(table_name("AKL (μ = 0.5)"), "AKL (μ = 0.5)");
        assert_eq!(
            table_name("JSD (β = 0.5) · student f32, teacher bf16, logspace arithmetic"),
            "JSD (β = 0.5)\nstudent f32, teacher bf16,\nlogspace arithmetic"
        );
        assert_eq!(table_name("FKL · top-8 + tail"), "FKL · top-8 + tail");
        // One piece longer than a line is cut, and a fourth line is left out.
        let opts = ["a", "b", "c", "d"].map(|c| c.repeat(20)).join(", ");
        let long = table_name(&format!("{} · {opts}", "x".repeat(40)));
        assert!(
            long.starts_with(&format!("{}…\n", "x".repeat(LONG_NAME - 1))),
            "{long}"
        );
        assert_eq!(long.lines().count(), 3, "{long}");
        assert!(long.ends_with('…'), "{long}");
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
        let pts = curve_buckets(n, 9_999, true, &bucket_starts(n, MAX_POINTS, false), value);
        assert!(pts.len() <= MAX_POINTS + 4, "{} points", pts.len());
        assert!(pts.iter().all(|p| p[1].is_finite()));
        assert_eq!(pts.first().unwrap()[0], 0.0);
        assert_eq!(pts.last().unwrap()[0], 20_000.0);
        assert!(pts.iter().any(|p| p[0] == 9_999.0));
        assert!(pts.iter().any(|p| p[0] == 12_345.0), "the spike is kept");
        assert!(!pts.iter().any(|p| p[0] == 777.0), "inf is skipped");
        assert!(pts.windows(2).all(|w| w[0][0] < w[1][0]), "x increases");
        // Short histories are drawn whole.
        let starts = bucket_starts(10, MAX_POINTS, false);
        assert_eq!(curve_buckets(10, 3, false, &starts, |i| i as f64).len(), 10);
        // Zeros are floored on a log axis.
        assert_eq!(
            curve_buckets(3, 0, true, &[0], |_| 0.0)[0][1],
            LOG_FLOOR.log10()
        );
    }

    #[test]
    fn log_epoch_buckets_keep_every_early_epoch() {
        let starts = bucket_starts(20_001, 400, true);
        assert_eq!(&starts[..5], [0, 1, 2, 3, 4]);
        assert!(starts.len() <= 198 && starts.windows(2).all(|w| w[0] < w[1]));
        assert!(*starts.last().unwrap() > 15_000);
        // The axis maps epoch 0 to 0 and 9 to one decade; the ticks read as epochs.
        assert_eq!(epoch_x(0.0, true), 0.0);
        assert!((epoch_x(9.0, true) - 1.0).abs() < 1e-12);
        assert!((x_epoch(epoch_x(123.0, true), true) - 123.0).abs() < 1e-9);
        let marks = log_epoch_grid(GridInput {
            bounds: (0.0, epoch_x(800.0, true)),
            base_step_size: 0.01,
        });
        let labels: Vec<String> = marks
            .iter()
            .map(|&m| log_epoch_label(m, &(0.0..=3.0)))
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            labels,
            ["0", "1", "2", "5", "10", "20", "50", "100", "200", "500"]
        );
    }

    #[test]
    fn buckets_are_bounded_and_sorted() {
        let starts = bucket_starts(20_001, MAX_POINTS, false);
        assert!(starts.len() <= MAX_POINTS / 2);
        assert_eq!(starts[0], 0);
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bucket_starts(30, MAX_POINTS, false).len(), 30);
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
