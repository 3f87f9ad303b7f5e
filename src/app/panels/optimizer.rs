//! Optimiser section: SGD with momentum or Adam, learning rate, epochs.

use super::{log_slider, slider};
use crate::toy::{FitConfig, OptimizerSpec};

pub use crate::views::headtail::METRICS_MU;

pub fn optimizer_ui(ui: &mut egui::Ui, config: &mut FitConfig) {
    let adam = matches!(config.optimizer, OptimizerSpec::Adam { .. });
    let lr = config.optimizer.lr();
    ui.horizontal(|ui| {
        if ui.selectable_label(adam, "Adam").clicked() && !adam {
            config.optimizer = OptimizerSpec::adam(lr);
        }
        if ui.selectable_label(!adam, "SGD").clicked() && adam {
            config.optimizer = OptimizerSpec::Sgd { lr, momentum: 0.9 };
        }
    });
    match &mut config.optimizer {
        OptimizerSpec::Adam { lr, betas, .. } => {
            log_slider(ui, lr, 1e-4..=10.0, "learning rate");
            ui.collapsing("betas", |ui| {
                slider(ui, &mut betas[0], 0.0..=0.999, "beta1");
                slider(ui, &mut betas[1], 0.0..=0.9999, "beta2");
            });
        }
        OptimizerSpec::Sgd { lr, momentum } => {
            log_slider(ui, lr, 1e-4..=100.0, "learning rate");
            slider(ui, momentum, 0.0..=0.99, "momentum");
        }
    }
    let mut epochs = config.epochs as f64;
    if log_slider(ui, &mut epochs, 1.0..=20000.0, "epochs").changed() {
        config.epochs = epochs.round() as usize;
    }
    ui.collapsing("metrics", |ui| {
        slider(ui, &mut config.metrics.mu, 0.0..=0.99, METRICS_MU).on_hover_text(
            "what the head/tail gaps, plots and shading measure: the head is the top-1 class plus \
             the top classes holding teacher mass ≤ μ. It changes no fit: each AKL divergence has \
             its own \"AKL μ (loss)\"",
        );
        let mut loss_scale = config.loss_scale;
        let adam_note = if adam {
            "\nAdam divides the gradient's scale out: under Adam this matters only through its ε"
        } else {
            ""
        };
        if log_slider(ui, &mut loss_scale, 1e-4..=1.0, "loss scale")
            .on_hover_text(format!(
                "multiplies the gradient (1/V = torch's batchmean); values shown stay true divergences{adam_note}"
            ))
            .changed()
        {
            config.loss_scale = loss_scale;
        }
    });
}
