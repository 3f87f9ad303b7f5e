//! Student section: free logits (seeded uniform, zeros, or the paper's printed values) or a Gaussian.

use super::{log_slider, slider};
use crate::toy::{Init, StudentSpec};

/// Remembers the last given logits so that "the paper's" start can be chosen again after switching away.
#[derive(Default)]
pub struct StudentPanel {
    pub given: Vec<f64>,
}

pub fn student_ui(
    ui: &mut egui::Ui,
    panel: &mut StudentPanel,
    student: &mut StudentSpec,
    classes: usize,
) {
    if let StudentSpec::Logits {
        init: Init::Given,
        logits,
        ..
    } = student
        && !logits.is_empty()
    {
        panel.given = logits.clone();
    }
    let is_gauss = matches!(
        student,
        StudentSpec::Gaussian { .. } | StudentSpec::Gaussian2d { .. }
    );
    ui.horizontal(|ui| {
        if ui.selectable_label(!is_gauss, "Free logits").clicked() && is_gauss {
            *student = StudentSpec::Logits {
                init: Init::Uniform,
                seed: 1,
                logits: Vec::new(),
            };
        }
        if ui.selectable_label(is_gauss, "Gaussian").clicked() && !is_gauss {
            // The teacher section swaps in the 2-D student when the teacher is 2-D.
            *student = StudentSpec::Gaussian {
                mu: 0.0,
                sigma: 1.0,
            };
        }
    });
    match student {
        StudentSpec::Logits { init, seed, logits } => {
            ui.horizontal(|ui| {
                ui.label("init");
                if ui
                    .selectable_label(matches!(init, Init::Uniform), "U[0,1)")
                    .clicked()
                {
                    *init = Init::Uniform;
                    logits.clear();
                }
                if ui
                    .selectable_label(matches!(init, Init::Zeros), "zeros")
                    .clicked()
                {
                    *init = Init::Zeros;
                    logits.clear();
                }
                let paper_ok = panel.given.len() == classes;
                let paper = ui
                    .add_enabled(
                        paper_ok,
                        egui::Button::selectable(matches!(init, Init::Given), "paper's"),
                    )
                    .on_hover_text(
                        "the initial logits printed in the AKL notebooks (same class count only)",
                    );
                if paper.clicked() {
                    *init = Init::Given;
                    *logits = panel.given.clone();
                }
            });
            if matches!(init, Init::Uniform) {
                ui.add(egui::DragValue::new(seed).prefix("seed "));
            }
        }
        StudentSpec::Gaussian { mu, sigma } => {
            slider(ui, mu, -20.0..=100.0, "initial mu");
            log_slider(ui, sigma, 0.05..=50.0, "initial sigma");
        }
        StudentSpec::Gaussian2d {
            mean,
            cov,
            covariance,
        } => super::plane::gaussian2d_ui(ui, mean, cov, covariance),
    }
}
