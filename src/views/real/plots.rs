//! Per-epoch metrics of every run, averaged over positions: one small plot per metric.

use super::RunState;
use crate::real::train::EpochStats;
use crate::views::common::{bare_plot, base_plot, log_tick_dense, log125_spacer, y_value};
use egui::Color32;
use egui_plot::{Line, PlotPoints};

/// (title, y label, value (`None`: not defined for the run), log axis)
type Metric = (
    &'static str,
    &'static str,
    fn(&EpochStats) -> Option<f64>,
    bool,
);

const METRICS: [Metric; 6] = [
    ("objective", "divergence", |s| Some(s.objective), true),
    ("KL(p||q)", "nats", |s| s.class(|c| c.kl_pq), true),
    ("KL(q||p)", "nats", |s| s.class(|c| c.kl_qp), true),
    // Short axis labels: the titles say which part of the distribution.
    ("head gap", "L1 gap", |s| s.class(|c| c.head_gap), false),
    ("tail gap", "L1 gap", |s| s.class(|c| c.tail_gap), false),
    (
        "top-1 agreement",
        "fraction",
        |s| s.class(|c| c.top1),
        false,
    ),
];

pub fn metrics_ui(ui: &mut egui::Ui, runs: &[RunState], colors: &[Color32]) {
    if runs.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label(
                "Run trains a student per divergence; the metrics appear here epoch by epoch.",
            );
        });
        return;
    }
    // Two rows of three cells that fill the area.
    crate::views::common::cells_ui(ui, METRICS.len(), 3, 8.0, |ui, i, size| {
        let (title, y_label, value, log) = METRICS[i];
        ui.strong(title);
        let h = (size.y - ui.text_style_height(&egui::TextStyle::Body) - 6.0).max(60.0);
        // A student of another vocabulary (uld, the only family that trains on one, so every
        // run of the job) has no per-class metrics: a sentence instead of an empty plot.
        if runs
            .iter()
            .all(|r| r.stats.first().is_some_and(|s| value(s).is_none()))
        {
            ui.allocate_ui(egui::vec2(size.x, h), |ui| {
                ui.centered_and_justified(|ui| {
                    ui.weak(
                        "The student's vocabulary is not the teacher's: class k of one is not \
                         class k of the other, so this per-class metric does not exist. uld \
                         compares the sorted probabilities (the objective).",
                    );
                });
            });
            return;
        }
        let plot = if i == 0 {
            base_plot(("real-metric", i), "epoch", y_label)
        } else {
            bare_plot(("real-metric", i), "epoch", y_label)
        };
        let plot = plot.width(size.x).height(h);
        let plot = if log {
            plot.y_axis_formatter(log_tick_dense)
                .y_grid_spacer(log125_spacer)
        } else {
            plot.include_y(0.0)
        };
        plot.show(ui, |pu| {
            for (r, c) in runs.iter().zip(colors) {
                let pts: PlotPoints = r
                    .stats
                    .iter()
                    .filter_map(|s| Some((s.epoch, value(s).filter(|x| x.is_finite())?)))
                    .map(|(e, x)| [e as f64, y_value(x, log)])
                    .collect();
                pu.line(Line::new(r.div.label(), pts).color(*c).width(2.0));
            }
        });
    });
}
