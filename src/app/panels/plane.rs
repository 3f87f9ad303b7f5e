//! The 2-D toy's side-panel sections: the mixture teacher (weight, mean, two standard deviations
//! and the correlation per component, the grid) and the 2-D Gaussian student.

use super::{component_header_ui, log_slider, slider};
use crate::toy::{Component2d, Covariance, Grid2d, StudentSpec, TeacherSpec};

/// The teacher a click on "2-D mixture" starts from: two modes, as in Bishop's figure 10.3.
pub fn default_teacher() -> TeacherSpec {
    TeacherSpec::Mixture2d {
        components: vec![
            Component2d::from_std(0.5, [-2.0, -1.0], [0.8, 0.8], 0.3),
            Component2d::from_std(0.5, [2.0, 1.5], [0.8, 0.8], -0.3),
        ],
        grid: Grid2d {
            lo: [-6.0, -6.0],
            hi: [6.0, 6.0],
            points: [81, 81],
        },
    }
}

/// The student that goes with a 2-D teacher.
pub fn default_student() -> StudentSpec {
    StudentSpec::Gaussian2d {
        mean: [0.5, -0.5],
        cov: [[1.0, 0.0], [0.0, 1.0]],
        covariance: Covariance::Full,
    }
}

pub fn mixture2d_ui(ui: &mut egui::Ui, components: &mut Vec<Component2d>, grid: &mut Grid2d) {
    let span = (grid.hi[0] - grid.lo[0])
        .abs()
        .max((grid.hi[1] - grid.lo[1]).abs())
        .max(1e-9);
    let mut remove = None;
    let several = components.len() > 1;
    for (i, c) in components.iter_mut().enumerate() {
        ui.push_id(i, |ui| {
            if component_header_ui(ui, i, several) {
                remove = Some(i);
            }
            slider(ui, &mut c.weight, 0.01..=1.0, &format!("weight {}", i + 1));
            for a in 0..2 {
                let axis = ["x", "y"][a];
                slider(
                    ui,
                    &mut c.mean[a],
                    grid.lo[a]..=grid.hi[a],
                    &format!("mean {axis} {}", i + 1),
                );
            }
            let (mut std, mut rho) = c.std_rho();
            let mut changed = false;
            for (a, s) in std.iter_mut().enumerate() {
                let axis = ["x", "y"][a];
                changed |= log_slider(
                    ui,
                    s,
                    (span / 500.0).max(1e-3)..=span,
                    &format!("std {axis} {}", i + 1),
                )
                .changed();
            }
            changed |= slider(
                ui,
                &mut rho,
                -0.99..=0.99,
                &format!("correlation {}", i + 1),
            )
            .changed();
            if changed {
                c.cov = Component2d::from_std(c.weight, c.mean, std, rho).cov;
            }
        });
    }
    if let Some(i) = remove
        && components.len() > 1
    {
        components.remove(i);
    }
    if ui.button("+ component").clicked() {
        let mid = [
            0.5 * (grid.lo[0] + grid.hi[0]),
            0.5 * (grid.lo[1] + grid.hi[1]),
        ];
        let s = span / 12.0;
        components.push(Component2d::from_std(0.3, mid, [s, s], 0.0));
    }
    ui.collapsing("grid", |ui| {
        for a in 0..2 {
            ui.horizontal(|ui| {
                let axis = ["x", "y"][a];
                ui.label(axis);
                ui.add(
                    egui::DragValue::new(&mut grid.lo[a])
                        .prefix("lo ")
                        .speed(0.1),
                );
                ui.add(
                    egui::DragValue::new(&mut grid.hi[a])
                        .prefix("hi ")
                        .speed(0.1),
                );
                ui.add(
                    egui::DragValue::new(&mut grid.points[a])
                        .prefix("points ")
                        .range(2..=300),
                );
            });
        }
    });
}

pub fn gaussian2d_ui(
    ui: &mut egui::Ui,
    mean: &mut [f64; 2],
    cov: &mut [[f64; 2]; 2],
    covariance: &mut Covariance,
) {
    ui.horizontal(|ui| {
        ui.label("covariance");
        ui.radio_value(covariance, Covariance::Full, "full")
            .on_hover_text("any Σ = L·Lᵀ");
        if ui
            .radio_value(covariance, Covariance::Diagonal, "diagonal")
            .on_hover_text("factorised (mean-field): Σ diagonal")
            .changed()
        {
            cov[0][1] = 0.0;
            cov[1][0] = 0.0;
        }
    });
    for (a, m) in mean.iter_mut().enumerate() {
        slider(
            ui,
            m,
            -10.0..=10.0,
            &format!("initial mean {}", ["x", "y"][a]),
        );
    }
    let c = Component2d {
        weight: 1.0,
        mean: *mean,
        cov: *cov,
    };
    let (mut std, mut rho) = c.std_rho();
    let mut changed = false;
    for (a, s) in std.iter_mut().enumerate() {
        changed |= log_slider(
            ui,
            s,
            0.05..=10.0,
            &format!("initial std {}", ["x", "y"][a]),
        )
        .changed();
    }
    if *covariance == Covariance::Full {
        changed |= slider(ui, &mut rho, -0.99..=0.99, "initial correlation").changed();
    } else {
        rho = 0.0;
    }
    if changed {
        *cov = Component2d::from_std(1.0, *mean, std, rho).cov;
    }
}
