//! "What the student sees" (issue 13): for one run at the scrubber's epoch, classes by teacher rank,
//! the full teacher against the teacher the loss reads and the student; the gradient under the
//! run's options against the full teacher's; for numerics options the error against f64, for
//! sampled estimators the mean and spread over seeds against the exact gradient. The numbers come
//! from [`crate::toy::analysis::sees`].

use super::ViewCtx;
use super::common::{LOG_FLOOR, base_plot};
use super::palette;
use super::ticks::{log_grid, log_label, tick_125, uniform_grid_125, y_axis};
use crate::math::Divergence;
use crate::toy::analysis::sees::{Reads, SEEDS, Sees, default_run};
use crate::views::state::ToyState;
use egui::{Color32, Id, RichText, Stroke, Ui};
use egui_plot::{
    Corner, FilledArea, GridMark, HLine, Legend, Line, LineStyle, MarkerShape, PlotPoint,
    PlotPoints, Points, Span, Text, VLine,
};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Above this many classes the rank axis is logarithmic.
const LOG_RANKS: usize = 40;
/// The smallest height of one plot.
const MIN_PLOT_H: f32 = 110.0;
/// What the loss reads: near-black (near-white in the dark theme), so that only runs carry a hue.
const USED: Color32 = Color32::from_rgb(0x22, 0x22, 0x22);
/// The y axes' width, the same for every stacked plot.
const Y_AXIS_W: f32 = 62.0;

pub fn sees_ui(ui: &mut Ui, cx: &ViewCtx, state: &mut ToyState) {
    if cx.runs() == 0 {
        ui.label("No divergence is enabled.");
        return;
    }
    let run = state
        .sees
        .run
        .filter(|&r| r < cx.runs())
        .unwrap_or_else(|| default_run(cx.result));
    if !cx.figure && cx.runs() > 1 {
        let mut chosen = run;
        egui::ComboBox::from_label("run shown")
            .width(360.0)
            .selected_text(cx.loss(run).label())
            .show_ui(ui, |ui| {
                for r in 0..cx.runs() {
                    ui.selectable_value(&mut chosen, r, cx.loss(r).label());
                }
            });
        if chosen != run {
            state.sees.run = Some(chosen);
        }
    }
    let sees = match cached(ui, cx, run) {
        Ok(s) => s,
        Err(why) => {
            ui.label(RichText::new(why).color(ui.visuals().error_fg_color));
            return;
        }
    };
    let dark = ui.visuals().dark_mode;
    let color = cx.colors.get(run).copied().unwrap_or(Color32::GRAY);
    let used = if dark { Color32::from_gray(225) } else { USED };
    header_ui(ui, cx, &sees, color);
    let extra = usize::from(sees.numerics.is_some()) + usize::from(sees.spread.is_some());
    let panels = 2 + extra;
    let avail = ui.available_height();
    let h = ((avail - 6.0 * panels as f32) / panels as f32).max(MIN_PLOT_H);
    let axis = RankAxis::new(sees.p.len());
    let link = ui.scope_id().with("sees-x");
    // The rank axis is named under the last plot only (the plots share it).
    let names: Vec<String> = (0..panels)
        .map(|i| {
            if i + 1 == panels {
                axis.name()
            } else {
                String::new()
            }
        })
        .collect();
    egui::ScrollArea::vertical()
        .id_salt("sees-scroll")
        .show(ui, |ui| {
            probabilities_ui(ui, cx, &sees, &axis, link, h, color, used, &names[0]);
            gradient_plot_ui(ui, cx, &sees, &axis, link, h, color, used, &names[1]);
            if sees.numerics.is_some() {
                numerics_ui(ui, &sees, &axis, link, h, color, &names[2]);
            }
            if sees.spread.is_some() {
                spread_ui(
                    ui,
                    cx,
                    &sees,
                    &axis,
                    link,
                    h,
                    color,
                    used,
                    &names[panels - 1],
                );
            }
        });
}

/// The numbers of `run` at the epoch, computed once per fit, run and epoch (64 seeds of a large n
/// take a while) and kept in egui's memory until they change.
fn cached(ui: &Ui, cx: &ViewCtx, run: usize) -> Result<Arc<Sees>, String> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cx.loss(run).to_string().hash(&mut h);
    cx.epoch.hash(&mut h);
    run.hash(&mut h);
    for x in cx.q(run).iter().chain(cx.p()) {
        x.to_bits().hash(&mut h);
    }
    let key = h.finish();
    // One slot: scrubbing replaces it instead of keeping every epoch's numbers.
    let id = Id::unique("kdviz-sees");
    type Cached = Arc<(u64, Result<Arc<Sees>, String>)>;
    if let Some(hit) = ui.ctx().data(|d| d.get_temp::<Cached>(id))
        && hit.0 == key
    {
        return hit.1.clone();
    }
    let fresh = Sees::new(cx.result, run, cx.epoch).map(Arc::new);
    ui.ctx()
        .data_mut(|d| d.insert_temp::<Cached>(id, Arc::new((key, fresh.clone()))));
    fresh
}

/// Three significant digits, a true minus sign.
fn sig(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let text = if (1e-3..1e4).contains(&a) {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{a:.digits$}")
    } else {
        let s = format!("{a:.2e}");
        s.replace("e-", "e−")
    };
    if v < 0.0 { format!("−{text}") } else { text }
}

fn pct(v: f64) -> String {
    if v == 0.0 {
        "0 %".into()
    } else if v * 100.0 >= 0.01 {
        format!("{} %", sig(v * 100.0))
    } else {
        format!("{} (relative)", sig(v))
    }
}

/// The run's name, what its loss reads, and the numbers of its report.
fn header_ui(ui: &mut Ui, cx: &ViewCtx, s: &Sees, color: Color32) {
    let big = |t: String| RichText::new(t).size(17.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(big(s.loss.label()).strong().color(color));
        ui.label(big(format!("· {}", reads_text(s))));
    });
    let mut parts = Vec::new();
    let objective = match &s.outcome.nonfinite {
        Some(what) => format!("objective: not a number in the emulated arithmetic ({what})"),
        None => format!("objective {}", sig(s.outcome.value)),
    };
    if s.full_loss != s.loss {
        parts.push(format!(
            "{objective} (the full teacher's {})",
            sig(s.full_value)
        ));
    } else if s.has_options() {
        parts.push(format!("{objective} (support full: the full teacher's)"));
    } else {
        parts.push(format!(
            "no practice option: the loss reads the full teacher · {objective}"
        ));
    }
    let rep = &s.outcome.support;
    if let Some(t) = rep.top_k {
        parts.push(format!(
            "P_K = {}, Q_K = {}, overlap {}/{}",
            sig(t.p_k),
            sig(t.q_k),
            t.overlap,
            t.k
        ));
    }
    if let Some(c) = rep.clamped {
        parts.push(if c { "clamp active" } else { "clamp idle" }.into());
    }
    if let Some(a) = rep.lpmin_active {
        parts.push(if a { "lpmin active" } else { "lpmin idle" }.into());
    }
    if let Some(a) = rep.tail_active {
        parts.push(
            if a {
                "tail bucket used (student's tail > eps)"
            } else {
                "tail bucket unused (student's tail ≤ eps)"
            }
            .into(),
        );
    }
    ui.label(big(parts.join(" · ")));
    if let Some(n) = &s.numerics {
        let text = match (&s.outcome.nonfinite, n.value_err, n.grad_err) {
            (Some(what), _, _) => format!(
                "against f64 ({}: {}): no gradient, the emulated arithmetic gives {what}",
                n.reference.label(),
                sig(n.value)
            ),
            (None, verr, gerr) => format!(
                "against f64 ({}): value {} ({}), gradient error ‖g − g₆₄‖/‖g₆₄‖ = {}",
                n.reference.label(),
                sig(n.value),
                verr.map_or("—".into(), |e| format!("off by {}", pct(e))),
                gerr.map_or("—".into(), pct),
            ),
        };
        ui.label(big(text));
    }
    if let Some(sp) = &s.spread {
        ui.label(big(format!(
            "over {SEEDS} seeds of n = {} draws: objective {} ± {} (exact {}: {}) · gradient bias \
             ‖mean − exact‖/‖exact‖ = {} (the seeds' own noise ≈ {}), spread of one draw \
             ‖sd‖/‖exact‖ = {}",
            sp.n,
            sig(sp.value_mean),
            sig(sp.value_sd),
            sp.exact_loss.label(),
            sig(sp.exact_value),
            pct(sp.bias),
            pct(sp.spread / (SEEDS as f64).sqrt()),
            pct(sp.spread),
        )));
    }
    let _ = cx;
}

/// What the loss reads, in words.
fn reads_text(s: &Sees) -> String {
    match s.reads {
        Reads::Full if !s.has_options() => "reads the full teacher".into(),
        Reads::Full if differs(s) => "reads the whole teacher, transformed by its options".into(),
        Reads::Full => "reads the whole teacher".into(),
        Reads::TopK { k } => format!("reads the teacher's top-{k} cells, not renormalised"),
        Reads::Renorm { k } => format!("reads the top-{k} cells renormalised: p_K / P_K"),
        Reads::Tail { k, .. } => format!("reads the top-{k} cells and one tail bucket"),
        Reads::Sampled { n } => format!("reads counts / {n} of {n} teacher draws"),
    }
}

/// Whether the teacher the loss reads differs from p (a temperature, soft-cap, rounding).
fn differs(s: &Sees) -> bool {
    s.used
        .iter()
        .zip(&s.p)
        .any(|(u, p)| u.is_some_and(|u| (u - p).abs() > 1e-9 * p.max(1e-300)))
}

/// The class-rank axis: 1 … V, logarithmic for many classes.
struct RankAxis {
    log: bool,
    v: usize,
}

impl RankAxis {
    fn new(v: usize) -> Self {
        RankAxis {
            log: v > LOG_RANKS,
            v,
        }
    }

    /// The x of rank `r` (1-based, fractional for boundaries).
    fn x(&self, r: f64) -> f64 {
        if self.log { r.log10() } else { r }
    }

    fn name(&self) -> String {
        if self.log {
            "teacher rank (1 = largest p; log scale)".into()
        } else {
            "teacher rank (1 = largest p)".into()
        }
    }

    fn points(&self, ys: impl Iterator<Item = Option<f64>>) -> Vec<[f64; 2]> {
        ys.enumerate()
            .filter_map(|(j, y)| y.map(|y| [self.x(j as f64 + 1.0), y]))
            .collect()
    }

    fn plot<'a>(
        &self,
        id: &str,
        link: Id,
        h: f32,
        x_name: &str,
        y_name: &str,
        log_y: bool,
    ) -> egui_plot::Plot<'a> {
        let mut plot = base_plot(id, x_name, y_name)
            .height(h)
            .link_axis(link, [true, false])
            .include_x(self.x(0.8))
            .include_x(self.x(self.v as f64 + 0.2));
        if self.log {
            plot = plot.x_grid_spacer(log_grid).x_axis_formatter(rank_label);
        }
        // Stacked plots line up: one y axis width for all.
        if log_y {
            plot.custom_y_axes(vec![y_axis(y_name, log_label).min_thickness(Y_AXIS_W)])
                .y_grid_spacer(log_grid)
        } else {
            // Labels from 24 points apart: a short plot still gets a few.
            plot.custom_y_axes(vec![y_axis(y_name, tick_125).min_thickness(Y_AXIS_W)])
                .y_grid_spacer(uniform_grid_125(24.0))
        }
    }

    /// The boundary between the top-k cells and the rest, where the loss has one.
    fn k_line(&self, s: &Sees) -> Option<VLine> {
        let k = match s.reads {
            Reads::TopK { k } | Reads::Renorm { k } | Reads::Tail { k, .. } => k,
            Reads::Full | Reads::Sampled { .. } => return None,
        };
        (k < self.v).then(|| {
            VLine::new(format!("k = {k}"), self.x(k as f64 + 0.5))
                .stroke(Stroke::new(1.5, Color32::from_gray(110)))
                .style(LineStyle::dashed_dense())
        })
    }
}

/// Labels of a log rank axis: 1, 2, 5, 10, 20, 50, 100 …
fn rank_label(mark: GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    // A label past the last rank would be cut at the plot's edge.
    if !range.contains(&mark.value) {
        return String::new();
    }
    let v = 10f64.powf(mark.value);
    let r = v.round();
    let lead = r / 10f64.powf(r.log10().floor());
    if (v - r).abs() < 1e-6 * v && [1.0, 2.0, 5.0].contains(&lead.round()) {
        format!("{r}")
    } else {
        String::new()
    }
}

/// The legend's corner: the one whose quarter (half the width, 55 % of the height: a key is tall on
/// a short plot) holds the
/// fewest of the plotted points, so that the key covers as little of the curves as it can.
fn quiet_corner(series: &[&[[f64; 2]]]) -> Corner {
    // Each line sampled between its points too, so that a segment crossing a corner counts.
    let dense: Vec<[f64; 2]> = series
        .iter()
        .flat_map(|s| {
            s.windows(2)
                .flat_map(|w| {
                    (0..8).map(move |i| {
                        let t = f64::from(i) / 8.0;
                        [
                            w[0][0] + t * (w[1][0] - w[0][0]),
                            w[0][1] + t * (w[1][1] - w[0][1]),
                        ]
                    })
                })
                .chain(s.last().copied())
        })
        .collect();
    let all = || dense.iter();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, 0.0f64);
    for &[x, y] in all() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let (w, h) = ((x1 - x0).max(1e-12), (y1 - y0).max(1e-12));
    let count = |left: bool, top: bool| {
        all()
            .filter(|&&[x, y]| {
                let fx = (x - x0) / w;
                let fy = (y - y0) / h;
                (if left { fx < 0.5 } else { fx > 0.5 })
                    && (if top { fy > 0.45 } else { fy < 0.55 })
            })
            .count()
    };
    [
        (Corner::RightTop, count(false, true)),
        (Corner::LeftBottom, count(true, false)),
        (Corner::RightBottom, count(false, false)),
        (Corner::LeftTop, count(true, true)),
    ]
    .into_iter()
    .min_by_key(|&(_, n)| n)
    .map_or(Corner::RightTop, |(c, _)| c)
}

fn legend_at(corner: Corner) -> Legend {
    Legend::default()
        .follow_insertion_order(true)
        .position(corner)
}

fn ly(v: f64) -> f64 {
    v.max(LOG_FLOOR).log10()
}

#[allow(clippy::too_many_arguments)]
fn probabilities_ui(
    ui: &mut Ui,
    cx: &ViewCtx,
    s: &Sees,
    axis: &RankAxis,
    link: Id,
    h: f32,
    color: Color32,
    used: Color32,
    x_name: &str,
) {
    // The y range: the smallest positive probability drawn, floored.
    let lo =
        s.p.iter()
            .chain(&s.q)
            .chain(s.used.iter().flatten())
            .copied()
            .filter(|&v| v > 0.0)
            .fold(1.0f64, f64::min)
            .max(LOG_FLOOR);
    let p_pts = axis.points(s.p.iter().map(|&p| Some(ly(p))));
    let q_pts = axis.points(s.q.iter().map(|&q| Some(ly(q))));
    // Marks and the bucket's lines and text, each its own short series (never joined up).
    let mut extra: Vec<Vec<[f64; 2]>> = axis
        .points(s.used.iter().map(|u| u.filter(|&v| v > 0.0).map(ly)))
        .into_iter()
        .map(|p| vec![p])
        .collect();
    extra.push(vec![[axis.x(1.0), ly(lo) - 0.2]]);
    if let Reads::Tail { k, p_bar, q_bar } = s.reads {
        let (a, b) = (axis.x(k as f64 + 0.5), axis.x(axis.v as f64));
        for y in [ly(p_bar), ly(q_bar), ly(p_bar.min(q_bar)) - 0.5] {
            extra.push(vec![[a, y], [b, y]]);
        }
    }
    let mut series: Vec<&[[f64; 2]]> = vec![&p_pts, &q_pts];
    series.extend(extra.iter().map(Vec::as_slice));
    let corner = quiet_corner(&series);
    let plot = axis
        .plot("sees-probs", link, h, x_name, "probability (log)", true)
        .legend(legend_at(corner))
        .include_y(ly(lo) - 0.2)
        .include_y(0.1);
    plot.show(ui, |pui| {
        if let Reads::Tail { k, p_bar, q_bar } = s.reads
            && k < axis.v
        {
            let (a, b) = (axis.x(k as f64 + 0.5), axis.x(axis.v as f64 + 0.5));
            // The tail ranks' band (unnamed: the text in it says what it is).
            let shade = if used == USED {
                Color32::from_black_alpha(22)
            } else {
                Color32::from_white_alpha(22)
            };
            pui.span(Span::new("", a..=b).fill(shade));
            pui.line(
                Line::new(
                    format!("teacher's tail bucket = {} (one cell)", sig(p_bar)),
                    PlotPoints::new(vec![[a, ly(p_bar)], [b, ly(p_bar)]]),
                )
                .color(used)
                .width(3.0),
            );
            pui.line(
                Line::new(
                    format!("student's tail bucket = {}", sig(q_bar)),
                    PlotPoints::new(vec![[a, ly(q_bar)], [b, ly(q_bar)]]),
                )
                .color(color)
                .width(3.0)
                .style(LineStyle::dashed_loose()),
            );
            // Under the bucket's lines, above the curves of the tail ranks.
            let mid = 0.5 * (a + b);
            pui.text(
                Text::new(
                    "",
                    PlotPoint::new(mid, ly(p_bar.min(q_bar)) - 0.25),
                    RichText::new(format!(
                        "tail bucket: teacher {}, student {}",
                        sig(p_bar),
                        sig(q_bar)
                    ))
                    .size(16.0)
                    .strong(),
                )
                .anchor(egui::Align2::CENTER_TOP)
                .color(used),
            );
        }
        pui.line(
            Line::new("teacher p (full)", PlotPoints::new(p_pts))
                .color(palette::TEACHER)
                .width(2.5),
        );
        let marks = |name: String| {
            Points::new(
                name,
                axis.points(s.used.iter().map(|u| u.filter(|&v| v > 0.0).map(ly))),
            )
            .shape(MarkerShape::Circle)
            .filled(true)
            .radius(5.0)
            .color(used)
        };
        match s.reads {
            Reads::Full if differs(s) => {
                pui.line(
                    Line::new(
                        "teacher the loss reads (after its options)",
                        PlotPoints::new(axis.points(s.used.iter().map(|u| u.map(ly)))),
                    )
                    .color(used)
                    .width(2.0)
                    .style(LineStyle::dashed_loose()),
                );
            }
            Reads::Full => {}
            Reads::TopK { k } => pui.points(marks(format!("top-{k} cells p_K (read as they are)"))),
            Reads::Renorm { k } => {
                pui.points(marks(format!("top-{k} cells renormalised, p_K / P_K")));
            }
            Reads::Tail { k, .. } => pui.points(marks(format!("top-{k} cells p_K"))),
            Reads::Sampled { n } => {
                let zeros = s.used.iter().filter(|u| **u == Some(0.0)).count();
                pui.points(marks(format!(
                    "teacher draws: counts / {n} (0 on {zeros} classes, not drawn)"
                )));
            }
        }
        pui.line(
            Line::new(
                format!("student q (epoch {})", cx.epoch),
                PlotPoints::new(q_pts),
            )
            .color(color)
            .width(2.5),
        );
        if let Some(l) = axis.k_line(s) {
            pui.vline(l);
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn gradient_plot_ui(
    ui: &mut Ui,
    cx: &ViewCtx,
    s: &Sees,
    axis: &RankAxis,
    link: Id,
    h: f32,
    color: Color32,
    used: Color32,
    x_name: &str,
) {
    let full_pts = axis.points(s.full_grad.iter().map(|&g| Some(g)));
    let grad_pts = s
        .grad
        .as_ref()
        .map(|g| axis.points(g.iter().map(|&g| Some(g))))
        .unwrap_or_default();
    let plot = axis
        .plot("sees-grad", link, h, x_name, "∂L/∂z (student logit)", false)
        .legend(legend_at(quiet_corner(&[&full_pts, &grad_pts])))
        .include_y(0.0);
    let _ = cx;
    plot.show(ui, |pui| {
        pui.hline(
            HLine::new("", 0.0)
                .color(Color32::from_gray(150))
                .width(1.0),
        );
        // Options other than the support leave the "full teacher" loss the same: one curve.
        let same = s.full_loss == s.loss;
        if !same {
            pui.line(
                Line::new(
                    format!("full teacher: {}", s.full_loss.label()),
                    PlotPoints::new(full_pts),
                )
                .color(used)
                .width(2.0)
                .style(LineStyle::dashed_loose()),
            );
        }
        let name = if same {
            format!("{} (support full: the full teacher's too)", s.loss.label())
        } else {
            format!("under the options: {}", s.loss.label())
        };
        if let Some(n) = &s.numerics {
            pui.line(
                Line::new(
                    format!("in f64: {}", n.reference.label()),
                    PlotPoints::new(axis.points(n.grad.iter().map(|&g| Some(g)))),
                )
                .color(used)
                .width(1.5)
                .style(LineStyle::dashed_loose()),
            );
        }
        match &s.grad {
            Some(_) => pui.line(
                Line::new(name, PlotPoints::new(grad_pts))
                    .color(color)
                    .width(2.5),
            ),
            None => pui.text(
                Text::new(
                    "",
                    PlotPoint::new(axis.x(1.0), 0.0),
                    "no gradient under the options: the emulated arithmetic gave no number",
                )
                .anchor(egui::Align2::LEFT_BOTTOM)
                .color(color),
            ),
        }
        if let Some(l) = axis.k_line(s) {
            pui.vline(l);
        }
    });
}

fn numerics_ui(
    ui: &mut Ui,
    s: &Sees,
    axis: &RankAxis,
    link: Id,
    h: f32,
    color: Color32,
    x_name: &str,
) {
    let Some(n) = &s.numerics else {
        return;
    };
    let pts = axis.points(
        n.rel_err
            .iter()
            .map(|e| e.filter(|&e| e > 0.0).map(|e| e.log10())),
    );
    let exact = n.rel_err.iter().filter(|e| **e == Some(0.0)).count();
    let plot = axis
        .plot(
            "sees-numerics",
            link,
            h,
            x_name,
            "|g − g₆₄| / |g₆₄| (log)",
            true,
        )
        .legend(legend_at(quiet_corner(&[&pts, &[[axis.x(1.0), -2.0]]])));
    plot.show(ui, |pui| {
        let name = if exact > 0 {
            format!("relative gradient error per class vs f64 ({exact} classes exact, not drawn)")
        } else {
            "relative gradient error per class vs f64".into()
        };
        if pts.is_empty() {
            let why = match &s.outcome.nonfinite {
                Some(what) => format!("no gradient to compare: {what}"),
                None => "the gradient equals the f64 one in every class".into(),
            };
            pui.text(
                Text::new("", PlotPoint::new(axis.x(1.0), 0.0), why)
                    .anchor(egui::Align2::LEFT_CENTER)
                    .color(color),
            );
            return;
        }
        pui.line(
            Line::new(name, PlotPoints::new(pts.clone()))
                .color(color)
                .width(2.0),
        );
        pui.points(
            Points::new("", pts)
                .shape(MarkerShape::Circle)
                .filled(true)
                .radius(3.0)
                .color(color),
        );
        pui.hline(
            HLine::new("1 % error", -2.0)
                .color(Color32::from_gray(140))
                .style(LineStyle::dashed_dense()),
        );
    });
}

#[allow(clippy::too_many_arguments)]
fn spread_ui(
    ui: &mut Ui,
    cx: &ViewCtx,
    s: &Sees,
    axis: &RankAxis,
    link: Id,
    h: f32,
    color: Color32,
    used: Color32,
    x_name: &str,
) {
    let Some(sp) = &s.spread else {
        return;
    };
    let _ = cx;
    let xs: Vec<f64> = (1..=sp.mean.len()).map(|r| axis.x(r as f64)).collect();
    let lo: Vec<f64> = sp.mean.iter().zip(&sp.sd).map(|(m, d)| m - d).collect();
    let hi: Vec<f64> = sp.mean.iter().zip(&sp.sd).map(|(m, d)| m + d).collect();
    let exact_name = match s.loss.family {
        Divergence::RklEst { .. } => format!("exact gradient: {}", sp.exact_loss.label()),
        _ => "exact gradient: the full teacher".into(),
    };
    let mean_pts = axis.points(sp.mean.iter().map(|&g| Some(g)));
    let exact_pts = axis.points(sp.exact.iter().map(|&g| Some(g)));
    let edge = |ys: &[f64]| -> Vec<[f64; 2]> { xs.iter().zip(ys).map(|(&x, &y)| [x, y]).collect() };
    let (lo_pts, hi_pts) = (edge(&lo), edge(&hi));
    let plot = axis
        .plot("sees-spread", link, h, x_name, "∂L/∂z over seeds", false)
        .legend(legend_at(quiet_corner(&[
            &mean_pts, &exact_pts, &lo_pts, &hi_pts,
        ])))
        .include_y(0.0);
    plot.show(ui, |pui| {
        pui.hline(
            HLine::new("", 0.0)
                .color(Color32::from_gray(150))
                .width(1.0),
        );
        pui.add(
            FilledArea::new(format!("±1 sd of one draw (n = {})", sp.n), &xs, &lo, &hi)
                .fill_color(color.gamma_multiply(0.25)),
        );
        pui.line(
            Line::new(
                format!("mean over {SEEDS} seeds"),
                PlotPoints::new(mean_pts),
            )
            .color(color)
            .width(2.5),
        );
        pui.line(
            Line::new(exact_name, PlotPoints::new(exact_pts))
                .color(used)
                .width(2.0)
                .style(LineStyle::dashed_loose()),
        );
    });
}
