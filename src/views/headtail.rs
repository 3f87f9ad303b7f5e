//! Head/tail convergence: the L1 gap between teacher and student on the teacher's head classes, on the
//! tail classes and on the far tail, per divergence over the epochs (the AKL paper's argument: FKL closes
//! the head first, RKL the tail). The head/tail split μ is set here, and AKL's adaptive weight
//! `w_head = g_head / (g_head + g_tail)` can be shown under the gaps.
//!
//! Its curve and table helpers, shared with the loss view, are in `curves.rs`.

use super::ViewCtx;
use super::common::y_value;
use super::curves::{
    Column, LineNames, bucket_starts, cached_curve, clicked_epoch, curve_plot, epoch_marker,
    epoch_x, hover_runs, legend, points_for, record_curve, run_names, value_table, with_point,
    with_side_table,
};
use crate::math::{AklConvention, Divergence, akl};
use crate::toy::EpochRecord;
use crate::views::state::ToyState;
use egui_plot::{Line, LineStyle, PlotPoints};
use serde::{Deserialize, Serialize};

/// The metrics' head mass slider, here and in the side panel (the AKL loss's μ is "AKL μ (loss)",
/// on each AKL divergence).
pub const METRICS_MU: &str = "head mass μ (metrics)";

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

    if !cx.figure {
        ui.horizontal_wrapped(|ui| {
            let mu = &mut state.config.metrics.mu;
            ui.add(egui::Slider::new(mu, 0.0..=0.99).text(METRICS_MU))
                .on_hover_text(&explanation);
            ui.separator();
            ui.checkbox(&mut opts.log_y, "log y");
            ui.checkbox(&mut state.plots.log_epochs, "log epochs").on_hover_text(
                "epoch axis on a log scale: the first few epochs, where FKL and RKL part ways, get \
                 as much room as the hundreds after them",
            );
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
    let curves: Vec<(usize, Gap, Vec<[f64; 2]>)> = (0..cx.runs())
        .flat_map(|run| Gap::ALL.map(|gap| (run, gap)))
        .map(|(run, gap)| {
            let max = points_for(width, gap != Gap::Head);
            let pts = record_curve(ui.ctx(), cx, run, gap.label(), opts.log_y, max, |r| {
                gap.value(r)
            });
            (run, gap, pts)
        })
        .collect();
    let mut entries = names.entries();
    entries.extend(Gap::ALL.map(|g| g.key().to_string()));
    let drawn: Vec<Vec<[f64; 2]>> = curves.iter().map(|c| c.2.clone()).collect();
    let plot = curve_plot(cx, id.with("overlay"), "L1 gap", opts.log_y, height)
        .link_axis(id.with("x-link"), [true, false])
        .link_cursor(id.with("x-link"), [true, false])
        .legend(legend(
            ui,
            egui::vec2(width, height),
            &entries,
            &drawn,
            !opts.log_y,
        ))
        .label_formatter(hover_runs(cx, &runs, opts.log_y, &metrics));
    plot.show(ui, |pu| {
        for (run, gap, pts) in curves {
            pu.line(
                Line::new(names.get(run), PlotPoints::new(pts))
                    .color(cx.colors[run])
                    .width(gap.width())
                    .style(gap.style()),
            );
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
        epoch_marker(pu, cx);
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
            let curves: Vec<Vec<[f64; 2]>> = (0..cx.runs())
                .map(|run| {
                    record_curve(ui.ctx(), cx, run, gap.label(), opts.log_y, max, |r| {
                        gap.value(r)
                    })
                })
                .collect();
            let legend = legend(ui, egui::vec2(w, h), &names.entries(), &curves, !opts.log_y);
            let plot = curve_plot(cx, id.with(("split", i)), gap.title(), opts.log_y, h)
                .width(w)
                .link_axis(link, [true, false])
                .link_cursor(link, [true, false])
                .legend(legend)
                .label_formatter(hover_runs(cx, &runs, opts.log_y, &metrics));
            let r = plot
                .show(ui, |pu| {
                    for (run, pts) in curves.into_iter().enumerate() {
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
    let curves: Vec<(usize, Vec<[f64; 2]>)> = akl_runs
        .iter()
        .filter_map(|&run| match *cx.divergence(run) {
            Divergence::Akl { mu, convention } => Some((
                run,
                akl_weight_curve(
                    ui.ctx(),
                    cx,
                    run,
                    (mu, convention),
                    points_for(ui_width, false),
                ),
            )),
            _ => None,
        })
        .collect();
    let entries: Vec<String> = curves.iter().map(|(run, _)| names[*run].clone()).collect();
    let drawn: Vec<Vec<[f64; 2]>> = curves.iter().map(|c| c.1.clone()).collect();
    let plot = curve_plot(cx, id.with("akl-w"), "AKL w_head", false, height)
        .include_y(1.0)
        .link_axis(id.with("x-link"), [true, false])
        .link_cursor(id.with("x-link"), [true, false])
        .legend(legend(
            ui,
            egui::vec2(ui_width, height),
            &entries,
            &drawn,
            true,
        ));
    plot.show(ui, |pu| {
        for (run, pts) in curves {
            pu.line(
                Line::new(names[run].clone(), PlotPoints::new(pts))
                    .color(cx.colors[run])
                    .width(1.8),
            );
        }
        epoch_marker(pu, cx);
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
    (mu, convention): (f64, AklConvention),
    max: usize,
) -> Vec<[f64; 2]> {
    let p = cx.p();
    let head = akl::head_mask_for(p, mu, convention);
    if head == cx.result.regions.head {
        return record_curve(ctx, cx, run, "akl-w", false, max, |r| {
            akl::weights(r.head_gap, r.tail_gap).0
        });
    }
    if cx.result.runs[run].snapshots.is_empty() {
        return Vec::new();
    }
    let log_x = cx.log_epochs;
    let weight_at = |i: usize| {
        let q = cx.q_at(run, i);
        (q.len() == p.len()).then(|| {
            let (gh, gt) = akl::gaps(p, q, &head);
            [epoch_x(i as f64, log_x), akl::weights(gh, gt).0]
        })
    };
    let n = cx.history(run).len();
    let key = (run, "akl-w-snapshots", mu.to_bits(), max, log_x);
    let base = cached_curve(ctx, cx, key, || {
        let mut epochs = bucket_starts(n, max, log_x);
        epochs.extend(n.checked_sub(1).filter(|l| epochs.last() != Some(l)));
        epochs.into_iter().filter_map(weight_at).collect()
    });
    with_point(&base, weight_at(cx.epoch))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::toy::{FitResult, SnapshotPlan};
    use crate::views::palette;
    use egui_kittest::kittest::Queryable as _;

    pub(in crate::views) fn opts(split: bool, akl_weights: bool) -> Options {
        Options {
            split,
            akl_weights,
            log_y: true,
        }
    }

    /// A preset's fit with q kept at every epoch, as the GUI runs it.
    pub(in crate::views) fn fit(preset: &str) -> FitResult {
        let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.run().unwrap()
    }

    /// A harness drawing `view` over `result` at `epoch` in light theme, on a central-panel background.
    pub(in crate::views) fn harness<'a>(
        result: &'a FitResult,
        epoch: usize,
        size: egui::Vec2,
        view: fn(&mut egui::Ui, &ViewCtx, &mut ToyState),
    ) -> egui_kittest::Harness<'a, ToyState> {
        let divs: Vec<Divergence> = result.runs.iter().map(|r| r.divergence.family).collect();
        let colors = palette::run_colors(&divs);
        egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
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
    pub(in crate::views) fn render(
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
    pub(in crate::views) fn pixels_of(image: &image::RgbaImage, color: egui::Color32) -> usize {
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
        h.get_by_role_and_label(egui::accesskit::Role::Slider, METRICS_MU)
            .set_value_accesskit(0.3);
        h.run();
        assert!((h.state().config.metrics.mu - 0.3).abs() < 1e-9);
    }
}
