//! Teacher section: long tail, Gaussian mixture, the AKL paper's teachers, a drawn teacher, a file.

use super::{component_header_ui, log_slider, plane, slider};
use crate::app::Status;
use crate::io::vector::read_vector;
use crate::toy::{Component, Grid, Init, StudentSpec, TailShape, TeacherSpec};

/// What the user picks in the teacher combo box; each maps to a [`TeacherSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LongTail,
    Mixture,
    Mixture2d,
    Drawn,
}

fn kind_of(t: &TeacherSpec) -> Kind {
    match t {
        TeacherSpec::LongTail { .. } => Kind::LongTail,
        TeacherSpec::Mixture { .. } => Kind::Mixture,
        TeacherSpec::Mixture2d { .. } => Kind::Mixture2d,
        TeacherSpec::Probs { .. } | TeacherSpec::Logits { .. } => Kind::Drawn,
    }
}

fn default_long_tail() -> TeacherSpec {
    TeacherSpec::LongTail {
        classes: 80,
        shape: TailShape::HalfNormal,
        width: 12.8,
        exponent: 1.1,
        shuffle_seed: None,
        noise: 0.0,
        noise_seed: 0,
    }
}

fn default_mixture() -> TeacherSpec {
    TeacherSpec::two_modes(2401)
}

/// Transient inputs of the section (not persisted): the CSV path field.
#[derive(Default)]
pub struct TeacherPanel {
    pub path: String,
}

/// Draws the section; returns a message for the status bar when something was rejected or adjusted.
pub fn teacher_ui(
    ui: &mut egui::Ui,
    panel: &mut TeacherPanel,
    teacher: &mut TeacherSpec,
    student: &mut StudentSpec,
) -> Option<Status> {
    let mut status = None;
    let kind = kind_of(teacher);
    ui.horizontal_wrapped(|ui| {
        for (k, label) in [
            (Kind::LongTail, "Long tail"),
            (Kind::Mixture, "Gaussian mixture"),
            (Kind::Mixture2d, "2-D mixture"),
            (Kind::Drawn, "Custom"),
        ] {
            if ui.selectable_label(kind == k, label).clicked() && kind != k {
                *teacher = match k {
                    Kind::LongTail => default_long_tail(),
                    Kind::Mixture => default_mixture(),
                    Kind::Mixture2d => plane::default_teacher(),
                    Kind::Drawn => TeacherSpec::Probs {
                        probs: current_probs(teacher),
                    },
                };
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        // Greyed out when the teacher already is that one.
        for (label, hover, spec) in [
            (
                "AKL bimodal",
                "0.3 N(25,10²) + 0.5 N(75,10²) on 50 classes (AKL fig. 2)",
                TeacherSpec::akl_bimodal(),
            ),
            (
                "AKL unimodal",
                "0.8 N(50,15²) on 50 classes (AKL fig. 2)",
                TeacherSpec::akl_unimodal(),
            ),
        ] {
            let differs = *teacher != spec;
            let button = ui
                .add_enabled(differs, egui::Button::new(label))
                .on_hover_text(hover)
                .on_disabled_hover_text(format!("{hover}: the teacher now"));
            if button.clicked() {
                *teacher = spec;
            }
        }
    });
    match teacher {
        TeacherSpec::LongTail {
            classes,
            shape,
            width,
            exponent,
            shuffle_seed,
            noise,
            noise_seed,
        } => {
            let mut n = *classes as f64;
            if log_slider(ui, &mut n, 10.0..=2000.0, "classes").changed() {
                *classes = n.round() as usize;
            }
            ui.horizontal(|ui| {
                ui.radio_value(shape, TailShape::HalfNormal, "half-normal");
                ui.radio_value(shape, TailShape::Zipf, "Zipf");
            });
            match shape {
                TailShape::HalfNormal => {
                    log_slider(ui, width, 0.5..=2000.0, "width");
                }
                TailShape::Zipf => {
                    slider(ui, exponent, 0.0..=3.0, "exponent");
                }
            }
            let mut shuffle = shuffle_seed.is_some();
            ui.horizontal(|ui| {
                if ui.checkbox(&mut shuffle, "shuffle classes").changed() {
                    *shuffle_seed = shuffle.then_some(0);
                }
                if let Some(seed) = shuffle_seed {
                    ui.add(egui::DragValue::new(seed).prefix("seed "));
                }
            });
            let mut pct = *noise * 100.0;
            if slider(ui, &mut pct, 0.0..=100.0, "noise %").changed() {
                *noise = pct / 100.0;
            }
            if *noise > 0.0 {
                ui.add(egui::DragValue::new(noise_seed).prefix("noise seed "));
            }
        }
        TeacherSpec::Mixture { components, grid } => {
            mixture_ui(ui, components, grid);
        }
        TeacherSpec::Mixture2d { components, grid } => {
            plane::mixture2d_ui(ui, components, grid);
        }
        TeacherSpec::Probs { probs } => {
            ui.label(format!(
                "{} classes; drag on the Distributions view to draw",
                probs.len()
            ));
            ui.horizontal(|ui| {
                let flat = probs.windows(2).all(|w| w[0] == w[1]);
                if ui
                    .add_enabled(!flat, egui::Button::new("flat"))
                    .on_hover_text("every class the same probability")
                    .on_disabled_hover_text("every class has the same probability already")
                    .clicked()
                {
                    probs.iter_mut().for_each(|p| *p = 1.0);
                }
                let mut n = probs.len() as f64;
                if slider(ui, &mut n, 2.0..=400.0, "drawn classes").changed() {
                    probs.resize(n.round() as usize, 1.0);
                }
            });
        }
        TeacherSpec::Logits { logits } => {
            ui.label(format!("{} classes from logits", logits.len()));
        }
    }
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut panel.path)
                .hint_text("teacher .csv / .npy")
                .desired_width(130.0),
        );
        let typed = !panel.path.trim().is_empty();
        let need_path = "type the path of a .csv or .npy file first";
        if ui
            .add_enabled(typed, egui::Button::new("Load probs"))
            .on_hover_text("load the file as probabilities (normalised)")
            .on_disabled_hover_text(need_path)
            .clicked()
        {
            status = Some(load_file(&panel.path, teacher, true));
        }
        if ui
            .add_enabled(typed, egui::Button::new("logits"))
            .on_hover_text("load the file as logits")
            .on_disabled_hover_text(need_path)
            .clicked()
        {
            status = Some(load_file(&panel.path, teacher, false));
        }
    });
    // A 2-D teacher needs a 2-D student, and a 1-D teacher a 1-D one.
    let plane_teacher = matches!(teacher, TeacherSpec::Mixture2d { .. });
    let plane_student = matches!(student, StudentSpec::Gaussian2d { .. });
    if plane_teacher && matches!(student, StudentSpec::Gaussian { .. }) {
        *student = plane::default_student();
    } else if !plane_teacher && plane_student {
        *student = StudentSpec::Gaussian {
            mu: 0.0,
            sigma: 1.0,
        };
    }
    // A "given" student must match the teacher's size; fall back to a seeded start rather than fail.
    if let (StudentSpec::Logits { init, logits, .. }, Ok(n)) = (&mut *student, class_count(teacher))
        && matches!(init, Init::Given)
        && logits.len() != n
    {
        *init = Init::Uniform;
        logits.clear();
        status = Some(Status::info(format!(
            "the teacher now has {n} classes: the student starts from seeded U[0,1) logits"
        )));
    }
    status
}

fn mixture_ui(ui: &mut egui::Ui, components: &mut Vec<Component>, grid: &mut Grid) {
    let span = (grid.hi - grid.lo).abs().max(1e-9);
    let mut remove = None;
    let several = components.len() > 1;
    for (i, c) in components.iter_mut().enumerate() {
        ui.push_id(i, |ui| {
            if component_header_ui(ui, i, several) {
                remove = Some(i);
            }
            slider(ui, &mut c.weight, 0.01..=1.0, &format!("weight {}", i + 1));
            slider(
                ui,
                &mut c.mean,
                grid.lo..=grid.hi,
                &format!("mean {}", i + 1),
            );
            log_slider(
                ui,
                &mut c.std,
                (span / 2000.0).max(1e-3)..=span,
                &format!("std {}", i + 1),
            );
        });
    }
    if let Some(i) = remove
        && components.len() > 1
    {
        components.remove(i);
    }
    if ui.button("+ component").clicked() {
        let mean = 0.5 * (grid.lo + grid.hi);
        components.push(Component {
            weight: 0.3,
            mean,
            std: span / 20.0,
        });
    }
    ui.collapsing("grid", |ui| {
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut grid.lo).prefix("lo ").speed(0.1));
            ui.add(egui::DragValue::new(&mut grid.hi).prefix("hi ").speed(0.1));
        });
        let mut pts = grid.points as f64;
        if log_slider(ui, &mut pts, 10.0..=5000.0, "grid points").changed() {
            grid.points = pts.round() as usize;
        }
    });
}

/// Number of classes the teacher will have (without building it).
pub fn class_count(t: &TeacherSpec) -> Result<usize, String> {
    Ok(match t {
        TeacherSpec::Probs { probs } => probs.len(),
        TeacherSpec::Logits { logits } => logits.len(),
        TeacherSpec::LongTail { classes, .. } => *classes,
        TeacherSpec::Mixture { grid, .. } => grid.points,
        TeacherSpec::Mixture2d { grid, .. } => grid.len(),
    })
}

/// The teacher's probabilities, as the starting point of a drawn teacher.
fn current_probs(t: &TeacherSpec) -> Vec<f64> {
    match t.build() {
        Ok(built) if built.dist.len() <= 400 => built.dist.p,
        _ => vec![1.0; 40],
    }
}

fn load_file(path: &str, teacher: &mut TeacherSpec, as_probs: bool) -> Status {
    let path = path.trim();
    if path.is_empty() {
        return Status::error("type the path of a .csv or .npy file first");
    }
    let values = match read_vector(path) {
        Ok(v) => v,
        Err(e) => return Status::error(e.to_string()),
    };
    let candidate = if as_probs {
        TeacherSpec::Probs { probs: values }
    } else {
        TeacherSpec::Logits { logits: values }
    };
    match candidate.build() {
        Ok(t) if t.dist.len() < 2 => {
            Status::error(format!("{path}: one class only; expected at least 2"))
        }
        Ok(t) => {
            let n = t.dist.len();
            *teacher = candidate;
            Status::info(format!("loaded {n} classes from {path}"))
        }
        Err(e) => Status::error(format!("{path}: {e}")),
    }
}
