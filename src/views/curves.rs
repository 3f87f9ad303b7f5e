//! Epoch-curve helpers of the head/tail and loss views: decimated and cached curves, the curve plot and
//! its legend, hover text that finds the hovered run, the epoch marker, and the value table and its
//! placement.

use super::ViewCtx;
use super::common::{base_plot, y_value};
use super::ticks::{log_grid, log_label, nice_grid, nice_label};
use crate::toy::EpochRecord;
use egui_plot::{Corner, HoverPosition, Legend, LineStyle, Plot, VLine};

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
mod tests {
    use super::super::common::LOG_FLOOR;
    use super::*;

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
    fn values_format_compactly() {
        assert_eq!(fmt_value(0.0), "0");
        assert_eq!(fmt_value(f64::INFINITY), "∞");
        assert_eq!(fmt_value(0.123456), "0.1235");
        assert_eq!(fmt_value(123.456), "123.5");
        assert_eq!(fmt_value(1.5e-7), "1.50e-7");
    }
}
