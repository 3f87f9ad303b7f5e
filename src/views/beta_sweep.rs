//! The GKD β convention at a glance (reference figure F8): generalized JSD against β for the current
//! teacher and student. The interior form tends to 0 at both ends while TRL's special-cased endpoints jump
//! to FKL (β = 0) and RKL (β = 1); the normalised GJSD/(β(1−β)) is continuous.

use super::ViewCtx;
use super::common::base_plot;
use crate::math::{Divergence, LogDist, Workspace, value_and_grad};
use egui_plot::{Line, LineStyle, PlotPoints, Points};

/// Index of the run the sweep is drawn for: the first JSD run, else the first run.
pub(super) fn sweep_run(cx: &ViewCtx) -> Option<usize> {
    if cx.runs() == 0 {
        return None;
    }
    Some(
        (0..cx.runs())
            .find(|&r| matches!(cx.divergence(r), Divergence::Jsd { .. }))
            .unwrap_or(0),
    )
}

/// (interior GJSD_β, normalised GJSD_β) at `betas`, plus (FKL, RKL) for the endpoints.
pub(super) fn sweep(
    teacher: &LogDist,
    student: &LogDist,
    betas: &[f64],
) -> (Vec<[f64; 3]>, [f64; 2]) {
    let mut ws = Workspace::default();
    let mut grad = vec![0.0; student.len()];
    let mut value = |div: Divergence| value_and_grad(&div, teacher, student, &mut grad, &mut ws);
    let ends = [value(Divergence::Fkl), value(Divergence::Rkl)];
    let rows = betas
        .iter()
        .map(|&beta| {
            let plain = value(Divergence::Jsd { beta, norm: false });
            let norm = value(Divergence::Jsd { beta, norm: true });
            [beta, plain, norm]
        })
        .collect();
    (rows, ends)
}

pub(super) fn beta_panel(ui: &mut egui::Ui, cx: &ViewCtx, id: egui::Id, width: f32, height: f32) {
    let Some(run) = sweep_run(cx) else { return };
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
                cx.divergence(run)
            ))
            .small(),
        );
        base_plot(id.with("beta-sweep"), "β", "divergence")
            .width(width)
            .height(height - 18.0)
            .include_y(0.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_vanishes_at_the_ends_while_the_normalised_form_meets_fkl_and_rkl() {
        let t = LogDist::from_logits(&[1.0, 0.9, 0.8, 0.7, 0.0, -1.0], false).unwrap();
        let s = LogDist::from_logits(&[0.2, 1.0, -0.5, 0.9, 0.3, 0.0], false).unwrap();
        let (rows, [fkl, rkl]) = sweep(&t, &s, &[1e-6, 0.5, 1.0 - 1e-6]);
        // Spec §14 F8: FKL = 0.20564, RKL = 0.18526, GJSD(0.5) = 0.04704.
        assert!((fkl - 0.2056397822).abs() < 1e-9 && (rkl - 0.1852638547).abs() < 1e-9);
        assert!((rows[1][1] - 0.0470403896).abs() < 1e-9);
        assert!(
            rows[0][1] < 1e-5 && rows[2][1] < 1e-5,
            "the interior tends to 0: {rows:?}"
        );
        assert!((rows[0][2] - fkl).abs() < 1e-3 * fkl && (rows[2][2] - rkl).abs() < 1e-3 * rkl);
        assert!((rows[1][2] - 4.0 * rows[1][1]).abs() < 1e-12);
    }
}
