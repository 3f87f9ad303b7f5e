//! Loss curves: each run's objective and the common yardsticks KL(p||q), KL(q||p) and TVD over the
//! epochs, one panel per chosen quantity; μ and σ of a Gaussian student and TAID's t underneath; a
//! table of the current epoch's values.

use super::ViewCtx;
use super::curves::{
    Column, LineNames, clicked_epoch, curve_plot, epoch_marker, hover_runs, legend, points_for,
    record_curve, value_table, with_side_table,
};
use crate::toy::EpochRecord;
use crate::views::state::ToyState;
use egui_plot::{Line, LineStyle, PlotPoints};
use serde::{Deserialize, Serialize};

/// The view's display options, kept in egui memory (shared by every place the view is shown).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Options {
    /// Which of [`Quantity::ALL`] are drawn.
    show: [bool; 4],
    log_y: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            show: [true, true, true, true],
            log_y: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Objective,
    KlPq,
    KlQp,
    Tvd,
}

impl Quantity {
    const ALL: [Quantity; 4] = [
        Quantity::Objective,
        Quantity::KlPq,
        Quantity::KlQp,
        Quantity::Tvd,
    ];

    fn label(self) -> &'static str {
        match self {
            Quantity::Objective => "objective",
            Quantity::KlPq => "KL(p||q)",
            Quantity::KlQp => "KL(q||p)",
            Quantity::Tvd => "TVD",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Quantity::Objective => "the divergence each run minimises (not comparable across runs)",
            Quantity::KlPq => "forward KL Σ p log(p/q), the same yardstick for every run",
            Quantity::KlQp => {
                "reverse KL Σ q log(q/p); ∞ when the teacher gives zero probability to a class \
                 the student covers"
            }
            Quantity::Tvd => "total variation ½ Σ |p − q|",
        }
    }

    fn value(self, r: &EpochRecord) -> f64 {
        match self {
            Quantity::Objective => r.objective,
            Quantity::KlPq => r.kl_pq,
            Quantity::KlQp => r.kl_qp,
            Quantity::Tvd => r.tvd,
        }
    }
}

pub fn loss_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let opts_id = egui::Id::unique("kdviz-loss-options");
    let mut opts: Options = ui.data_mut(|d| *d.get_persisted_mut_or_default(opts_id));
    let id = ui.scope_id().with("loss");

    if !cx.figure {
        ui.horizontal_wrapped(|ui| {
            for (q, on) in Quantity::ALL.into_iter().zip(opts.show.iter_mut()) {
                ui.checkbox(on, q.label()).on_hover_text(q.hint());
            }
            ui.separator();
            ui.checkbox(&mut opts.log_y, "log y");
            ui.checkbox(&mut state.plots.log_epochs, "log epochs").on_hover_text(
                "epoch axis on a log scale: the first few epochs, where FKL and RKL part ways, get \
                 as much room as the hundreds after them",
            );
        });
    }
    ui.data_mut(|d| d.insert_persisted(opts_id, opts));

    let shown: Vec<Quantity> = Quantity::ALL
        .into_iter()
        .zip(opts.show)
        .filter_map(|(q, on)| on.then_some(q))
        .collect();
    if shown.contains(&Quantity::KlQp) {
        let infinite: Vec<String> = (0..cx.runs())
            .filter(|&r| cx.record(r).kl_qp.is_infinite())
            .map(|r| cx.loss(r).label())
            .collect();
        if !infinite.is_empty() {
            ui.label(
                egui::RichText::new(format!(
                    "KL(q||p) = ∞ for {} (the teacher gives zero probability to classes the student \
                     covers): not drawn",
                    infinite.join(", ")
                ))
                .small()
                .weak(),
            );
        }
    }

    if opts.log_y && shown.contains(&Quantity::Objective) && objective_below_zero(cx) {
        let below: Vec<String> = (0..cx.runs())
            .filter(|&r| cx.history(r).iter().any(|h| h.objective < 0.0))
            .map(|r| cx.loss(r).label())
            .collect();
        ui.label(
            egui::RichText::new(format!(
                "objective below 0 for {} (not a divergence): its panel has a linear axis",
                below.join(", ")
            ))
            .small()
            .weak(),
        );
    }

    let gaussian: Vec<usize> = (0..cx.runs())
        .filter(|&r| cx.history(r).first().is_some_and(|h| h.mu.is_some()))
        .collect();
    let taid: Vec<usize> = (0..cx.runs())
        .filter(|&r| cx.history(r).first().is_some_and(|h| h.t.is_some()))
        .collect();

    let mut columns = quantity_columns(&shown);
    if !gaussian.is_empty() {
        columns.push(("μ", Box::new(|r: &EpochRecord| r.mu.unwrap_or(f64::NAN))));
        columns.push(("σ", Box::new(|r: &EpochRecord| r.sigma.unwrap_or(f64::NAN))));
    }
    if !taid.is_empty() {
        columns.push(("t", Box::new(|r: &EpochRecord| r.t.unwrap_or(f64::NAN))));
    }
    let table = |ui: &mut egui::Ui| value_table(ui, cx, id.with("table"), &columns);

    let clicked = with_side_table(ui, id, table, |ui, width, height| {
        let jsd =
            (0..cx.runs()).any(|r| matches!(cx.divergence(r), crate::math::Divergence::Jsd { .. }));
        let extras =
            usize::from(!gaussian.is_empty()) + usize::from(!taid.is_empty()) + usize::from(jsd);
        let extra_h = if extras > 0 && height >= 260.0 {
            (height * 0.3).clamp(90.0, 220.0)
        } else {
            0.0
        };
        let main_h = height - extra_h;
        let mut clicked = if shown.is_empty() {
            ui.label("choose a quantity to plot");
            None
        } else {
            quantity_panels(ui, cx, &shown, opts.log_y, id, width, main_h)
        };
        if extra_h > 0.0 {
            let spacing = ui.spacing().item_spacing;
            let w = (width - spacing.x * (extras as f32 - 1.0)) / extras as f32;
            let h = extra_h - spacing.y;
            let r = ui
                .horizontal_top(|ui| {
                    let mut c = None;
                    if !gaussian.is_empty() {
                        c = c.or(gaussian_panel(ui, cx, &gaussian, id, w, h));
                    }
                    if !taid.is_empty() {
                        c = c.or(taid_panel(ui, cx, &taid, id, w, h));
                    }
                    if jsd {
                        super::beta_sweep::beta_panel(ui, cx, id, w, h);
                    }
                    c
                })
                .inner;
            clicked = clicked.or(r);
        }
        clicked
    });
    if let Some(epoch) = clicked {
        state.epoch = epoch;
    }
}

/// One panel per chosen quantity, in a grid of one or two columns; x axes and cursors linked.
fn quantity_panels(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    shown: &[Quantity],
    log: bool,
    id: egui::Id,
    width: f32,
    height: f32,
) -> Option<usize> {
    let n = shown.len();
    let spacing = ui.spacing().item_spacing;
    let two_cols = n > 1 && (width >= 2.0 * 260.0 || height < n as f32 * 110.0);
    let cols = if two_cols { 2 } else { 1 };
    let rows = n.div_ceil(cols);
    let w = (width - spacing.x * (cols as f32 - 1.0)) / cols as f32;
    let h = (height - spacing.y * (rows as f32 - 1.0)) / rows as f32;
    let link = id.with("x-link");
    let runs: Vec<usize> = (0..cx.runs()).collect();
    let negative = objective_below_zero(cx);
    let mut clicked = None;
    ui.vertical(|ui| {
        for row in shown.chunks(cols) {
            ui.horizontal_top(|ui| {
                for &q in row {
                    // A loss that goes below 0 (a truncated top-k, an emulated bf16 JSD) has no
                    // log axis: its panel turns linear rather than hide the negative part.
                    let log = log && !(q == Quantity::Objective && negative);
                    let names = LineNames::for_panel(cx, q == shown[0], egui::vec2(w, h));
                    let metrics = quantity_columns(&[q]);
                    let max = points_for(w, false);
                    let curves: Vec<Vec<[f64; 2]>> = (0..cx.runs())
                        .map(|run| {
                            record_curve(ui.ctx(), cx, run, q.label(), log, max, |r| q.value(r))
                        })
                        .collect();
                    let legend = legend(ui, egui::vec2(w, h), &names.entries(), &curves, !log);
                    let plot = curve_plot(cx, id.with(q.label()), q.label(), log, h)
                        .width(w)
                        .link_axis(link, [true, false])
                        .link_cursor(link, [true, false])
                        .legend(legend)
                        .label_formatter(hover_runs(cx, &runs, log, &metrics));
                    let r = plot
                        .show(ui, |pu| {
                            for (run, pts) in curves.into_iter().enumerate() {
                                // Only the first panel names its lines: one legend for all.
                                pu.line(
                                    Line::new(names.get(run), PlotPoints::new(pts))
                                        .color(cx.colors[run])
                                        .width(1.8),
                                );
                            }
                            epoch_marker(pu, cx);
                            clicked_epoch(pu, cx)
                        })
                        .inner;
                    clicked = clicked.or(r);
                }
            });
        }
    });
    clicked
}

/// μ (solid) and σ (dashed) of a Gaussian student over the epochs.
fn gaussian_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    runs: &[usize],
    id: egui::Id,
    width: f32,
    height: f32,
) -> Option<usize> {
    let metrics: [Column; 2] = [
        ("μ", Box::new(|r: &EpochRecord| r.mu.unwrap_or(f64::NAN))),
        ("σ", Box::new(|r: &EpochRecord| r.sigma.unwrap_or(f64::NAN))),
    ];
    let names = LineNames::new(cx, runs.len(), true);
    // Each run's μ and σ curves.
    type MuSigma = (usize, Vec<[f64; 2]>, Vec<[f64; 2]>);
    let curves: Vec<MuSigma> = runs
        .iter()
        .map(|&run| {
            let mu = record_curve(
                ui.ctx(),
                cx,
                run,
                "mu",
                false,
                points_for(width, false),
                |r| r.mu.unwrap_or(f64::NAN),
            );
            let sigma = record_curve(
                ui.ctx(),
                cx,
                run,
                "sigma",
                false,
                points_for(width, true),
                |r| r.sigma.unwrap_or(f64::NAN),
            );
            (run, mu, sigma)
        })
        .collect();
    let drawn: Vec<Vec<[f64; 2]>> = curves
        .iter()
        .flat_map(|c| [c.1.clone(), c.2.clone()])
        .collect();
    let entries: Vec<String> = runs
        .iter()
        .map(|&r| names.get(r))
        .filter(|n| !n.is_empty())
        .collect();
    let legend = legend(ui, egui::vec2(width, height), &entries, &drawn, true);
    let plot = curve_plot(
        cx,
        id.with("mu-sigma"),
        "μ (solid), σ (dashed)",
        false,
        height,
    )
    .width(width)
    .link_axis(id.with("x-link"), [true, false])
    .link_cursor(id.with("x-link"), [true, false])
    .legend(legend)
    .label_formatter(hover_runs(cx, runs, false, &metrics));
    plot.show(ui, |pu| {
        for (run, mu, sigma) in curves {
            let name = names.get(run);
            pu.line(
                Line::new(name.clone(), PlotPoints::new(mu))
                    .color(cx.colors[run])
                    .width(1.8),
            );
            pu.line(
                Line::new(name, PlotPoints::new(sigma))
                    .color(cx.colors[run])
                    .width(1.6)
                    .style(LineStyle::Dashed { length: 8.0 }),
            );
        }
        epoch_marker(pu, cx);
        clicked_epoch(pu, cx)
    })
    .inner
}

/// TAID's interpolation parameter t over the epochs.
fn taid_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    runs: &[usize],
    id: egui::Id,
    width: f32,
    height: f32,
) -> Option<usize> {
    let metrics: [Column; 1] = [("t", Box::new(|r: &EpochRecord| r.t.unwrap_or(f64::NAN)))];
    let names = LineNames::new(cx, runs.len(), true);
    let curves: Vec<(usize, Vec<[f64; 2]>)> = runs
        .iter()
        .map(|&run| {
            let pts = record_curve(
                ui.ctx(),
                cx,
                run,
                "t",
                false,
                points_for(width, false),
                |r| r.t.unwrap_or(f64::NAN),
            );
            (run, pts)
        })
        .collect();
    let drawn: Vec<Vec<[f64; 2]>> = curves.iter().map(|c| c.1.clone()).collect();
    let entries: Vec<String> = runs
        .iter()
        .map(|&r| names.get(r))
        .filter(|n| !n.is_empty())
        .collect();
    let legend = legend(ui, egui::vec2(width, height), &entries, &drawn, true);
    let plot = curve_plot(cx, id.with("taid-t"), "TAID t", false, height)
        .width(width)
        .include_y(1.0)
        .link_axis(id.with("x-link"), [true, false])
        .link_cursor(id.with("x-link"), [true, false])
        .legend(legend)
        .label_formatter(hover_runs(cx, runs, false, &metrics));
    plot.show(ui, |pu| {
        for (run, pts) in curves {
            pu.line(
                Line::new(names.get(run), PlotPoints::new(pts))
                    .color(cx.colors[run])
                    .width(1.8),
            );
        }
        epoch_marker(pu, cx);
        clicked_epoch(pu, cx)
    })
    .inner
}

/// The quantities as table/hover columns.
fn quantity_columns(shown: &[Quantity]) -> Vec<Column<'static>> {
    shown
        .iter()
        .map(|&q| (q.label(), Box::new(move |r: &EpochRecord| q.value(r)) as _))
        .collect()
}

/// True when some run's objective goes below 0 at some epoch.
fn objective_below_zero(cx: &ViewCtx) -> bool {
    (0..cx.runs()).any(|r| cx.history(r).iter().any(|h| h.objective < 0.0))
}

#[cfg(test)]
mod tests {
    use super::super::headtail::tests::{fit, harness, pixels_of, render};
    use super::*;
    use crate::views::palette;
    use egui_kittest::kittest::Queryable as _;

    /// Renders the view in several settings to /tmp (look at them: `KDVIZ_SAVE_VIEWS=1 cargo test
    /// --lib loss::tests::gallery -- --ignored`).
    #[test]
    #[ignore]
    fn gallery() {
        let opts_id = egui::Id::unique("kdviz-loss-options");
        for preset in [
            "akl-fig3-longtail",
            "minillm-gmm",
            "taid-schedule",
            "longtail-all-divergences",
        ] {
            let result = fit(preset);
            for (tag, opts) in [
                ("", Options::default()),
                (
                    "-two",
                    Options {
                        show: [true, true, false, false],
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
                    let mut h = harness(&result, 120, size, loss_ui);
                    h.ctx.data_mut(|d| d.insert_persisted(opts_id, opts));
                    h.run();
                    // egui_plot sizes its axes from the previous frame's tick labels.
                    h.run_steps(4);
                    render(&mut h, &format!("loss-{preset}{tag}{size_tag}"));
                }
            }
        }
    }

    /// Frame time of both views over 12 runs × 20,000 epochs (`cargo test --release --lib
    /// loss::tests::long_history_frame_time -- --ignored --nocapture`).
    type View = fn(&mut egui::Ui, &ViewCtx, &mut ToyState);

    #[test]
    #[ignore]
    fn long_history_frame_time() {
        let mut spec = crate::toy::preset::load("longtail-all-divergences")
            .unwrap()
            .to_spec()
            .unwrap();
        spec.epochs = 20_000;
        let t0 = std::time::Instant::now();
        let result = spec.run().unwrap();
        println!("fit: {:.1} s", t0.elapsed().as_secs_f64());
        let ht_opts = egui::Id::unique("kdviz-headtail-options");
        let headtail = super::super::headtail::headtail_ui;
        let overlay = super::super::headtail::tests::opts(false, true);
        let split = super::super::headtail::tests::opts(true, true);
        let views: [(&str, View, Option<_>); 5] = [
            ("loss", loss_ui, None),
            ("headtail", headtail, Some(overlay)),
            ("headtail-split", headtail, Some(split)),
            (
                "distributions",
                super::super::distributions::distributions_ui,
                None,
            ),
            ("empty", |_, _, _| {}, None),
        ];
        for (name, view, opts) in views {
            let mut h = harness(&result, 12_345, egui::vec2(1100.0, 700.0), view);
            if let Some(opts) = opts {
                h.ctx.data_mut(|d| d.insert_persisted(ht_opts, opts));
            }
            h.run_steps(3);
            let t0 = std::time::Instant::now();
            h.run_steps(20);
            let ms = t0.elapsed().as_secs_f64() * 1e3 / 20.0;
            println!("{name}: {ms:.2} ms per frame");
            render(&mut h, &format!("{name}-20k"));
        }
    }

    #[test]
    fn draws_every_run_and_the_checkboxes_choose_panels() {
        let result = fit("minillm-gmm");
        let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = palette::run_colors(&divs);
        for (name, size) in [
            ("loss", egui::vec2(1100.0, 700.0)),
            ("loss-small", egui::vec2(560.0, 330.0)),
        ] {
            let mut h = harness(&result, 300, size, loss_ui);
            h.run();
            let image = render(&mut h, name);
            for (run, &c) in colors.iter().enumerate() {
                let n = pixels_of(&image, c);
                assert!(n > 200, "{name}: run {run} has {n} pixels of its colour");
            }
        }
        // Unticking a quantity removes its panel (found by its axis label).
        let mut h = harness(&result, 300, egui::vec2(900.0, 600.0), loss_ui);
        h.run();
        assert!(h.query_by_label("TVD").is_some());
        h.get_by_role_and_label(egui::accesskit::Role::CheckBox, "TVD")
            .click();
        h.run();
        let opts: Options = h
            .ctx
            .data_mut(|d| *d.get_persisted_mut_or_default(egui::Id::unique("kdviz-loss-options")));
        assert!(!opts.show[3]);
    }
}
