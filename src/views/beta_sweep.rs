//! The GKD β convention at a glance (reference figure F8): generalized JSD against β for the current
//! teacher and student, as [`crate::toy::analysis::beta_sweep`] computes it.

use super::ViewCtx;
use super::common::base_plot;
use super::ticks::nice_label;
use crate::math::{Divergence, LogDist};
use crate::toy::analysis::beta_sweep::{sweep, sweep_run};
use egui_plot::{Line, LineStyle, PlotPoints, Points};

pub(super) fn beta_panel(ui: &mut egui::Ui, cx: &ViewCtx, id: egui::Id, width: f32, height: f32) {
    let Some(run) = sweep_run(cx.result) else {
        return;
    };
    let Ok(student) = LogDist::from_probs(cx.q(run)) else {
        return;
    };
    let teacher = &cx.result.teacher.dist;
    // Open interval: the ends are TRL's special cases, drawn as points.
    let betas: Vec<f64> = (1..200).map(|i| i as f64 / 200.0).collect();
    let (rows, [fkl, rkl]) = sweep(teacher, &student, &betas);
    let color = crate::views::palette::family_color(&Divergence::Jsd {
        beta: 0.5,
        norm: false,
    });
    let finite = |v: f64| v.is_finite();
    ui.vertical(|ui| {
        ui.label(
            egui::RichText::new(format!(
                "GJSD vs β at epoch {} (student of {})",
                cx.epoch,
                cx.loss(run).label()
            ))
            .small(),
        );
        base_plot(id.with("beta-sweep"), "β", "divergence")
            .width(width)
            .height(height - 18.0)
            .include_y(0.0)
            // The default labels print float noise (a tick at 1e-13 as 0.0000000000001).
            .x_axis_formatter(nice_label)
            .y_axis_formatter(nice_label)
            .show(ui, |pu| {
                let plain: PlotPoints = rows
                    .iter()
                    .filter(|r| finite(r[1]))
                    .map(|r| [r[0], r[1]])
                    .collect();
                let norm: PlotPoints = rows
                    .iter()
                    .filter(|r| finite(r[2]))
                    .map(|r| [r[0], r[2]])
                    .collect();
                pu.line(
                    Line::new("GJSD_β (TRL, interior)", plain)
                        .color(color)
                        .width(2.0),
                );
                pu.line(
                    Line::new("GJSD_β / (β(1−β))", norm)
                        .color(color)
                        .style(LineStyle::dashed_loose())
                        .width(1.5),
                );
                let ends: PlotPoints = [[0.0, fkl], [1.0, rkl]]
                    .into_iter()
                    .filter(|p| finite(p[1]))
                    .collect();
                pu.points(
                    Points::new("β = 0: FKL, β = 1: RKL", ends)
                        .color(color)
                        .radius(5.0),
                );
            });
    });
}
