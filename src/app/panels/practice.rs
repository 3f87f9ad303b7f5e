//! The "Practice" section under a divergence's sliders (practice.md §9–§12): the teacher's support
//! (top-k, tail bucket, samples), temperatures, soft-cap, standardisation and the storage formats.
//!
//! Every change is checked by printing the candidate loss and parsing it back, so the section
//! applies exactly the refusals of the spec parser (`kdviz eval` says the same words): a refused
//! choice keeps the last good loss and shows why under the section.

use super::log_slider;
use crate::math::practice::{Loss, Practice, Renorm, Support};
use crate::math::precision::{Compute, Format};

/// The supports in the order the selector shows them, with their readable names.
const SUPPORTS: [(&str, &str); 5] = [
    ("full", "full"),
    ("topk", "top-k"),
    ("topk-renorm", "top-k renorm"),
    ("topk-tail", "top-k + tail"),
    ("sampled", "sampled"),
];

/// `support` with the other support's k / n carried over, so that switching keeps the numbers.
fn support_named(name: &str, from: Support, classes: usize) -> Support {
    let k = from.k().unwrap_or(16.min(classes.max(1)));
    match name {
        "topk" => Support::TopK {
            k,
            clamp: false,
            lpmin: None,
        },
        "topk-renorm" => Support::TopKRenorm {
            k,
            renorm: Renorm::Both,
        },
        "topk-tail" => Support::TopKTail {
            k,
            eps: crate::math::practice::options::DEFAULT_EPS,
        },
        "sampled" => Support::Sampled {
            n: crate::math::practice::options::DEFAULT_N,
            seed: 0,
        },
        _ => Support::Full,
    }
}

/// The loss with `practice`, if the spec parser accepts it; else its one-line refusal.
pub fn checked(loss: &Loss, practice: Practice) -> Result<Loss, String> {
    let candidate = Loss {
        family: loss.family,
        practice,
    };
    candidate
        .to_string()
        .parse::<Loss>()
        .map_err(|e| e.to_string())
}

/// The section; `error` keeps the last refusal for this slot until a change is accepted.
pub fn practice_ui(ui: &mut egui::Ui, loss: &mut Loss, classes: usize, error: &mut Option<String>) {
    let title = match loss.practice.label() {
        s if s.is_empty() => "Practice: full teacher, no rounding".to_string(),
        s => format!("Practice: {s}"),
    };
    egui::CollapsingHeader::new(title)
        .id_salt("practice")
        .default_open(!loss.practice.is_default())
        .show(ui, |ui| {
            let mut p = loss.practice;
            support_ui(ui, loss, &mut p, classes);
            shaping_ui(ui, &mut p);
            numerics_ui(ui, &mut p);
            if p != loss.practice {
                match checked(loss, p) {
                    Ok(next) => {
                        *loss = next;
                        *error = None;
                    }
                    Err(e) => *error = Some(e),
                }
            }
            if let Some(e) = error {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("kept the last loss: {e}"),
                );
            }
            if ui
                .add_enabled(
                    !loss.practice.is_default(),
                    egui::Button::new("remove all options"),
                )
                .on_hover_text("back to the full teacher, logits as given")
                .clicked()
            {
                loss.practice = Practice::default();
                *error = None;
            }
        });
}

fn support_ui(ui: &mut egui::Ui, loss: &Loss, p: &mut Practice, classes: usize) {
    ui.horizontal_wrapped(|ui| {
        ui.label("teacher:");
        for (name, text) in SUPPORTS {
            let next = support_named(name, p.support, classes);
            let refusal = checked(
                loss,
                Practice {
                    support: next,
                    ..*p
                },
            )
            .err();
            let selected = p.support.name() == name;
            let button = ui.add_enabled(
                refusal.is_none() || selected,
                egui::Button::selectable(selected, text),
            );
            let button = match &refusal {
                Some(why) => button.on_disabled_hover_text(why.as_str()),
                None => button,
            };
            if button.clicked() && !selected {
                p.support = next;
            }
        }
    });
    let kmax = classes.max(1) as f64;
    match &mut p.support {
        Support::Full => {}
        Support::TopK { k, clamp, .. } => {
            k_ui(ui, k, kmax);
            ui.checkbox(clamp, "clamp at 0 (verl)")
                .on_hover_text("verl's clamp_min(0): value max(L, 0), no gradient while L < 0");
        }
        Support::TopKRenorm { k, renorm } => {
            k_ui(ui, k, kmax);
            ui.horizontal(|ui| {
                ui.label("renormalise:");
                for r in Renorm::ALL {
                    ui.selectable_value(renorm, r, r.name());
                }
            });
        }
        Support::TopKTail { k, .. } => k_ui(ui, k, kmax),
        Support::Sampled { n, seed } => {
            ui.add(
                egui::Slider::new(n, 1..=10_000)
                    .logarithmic(true)
                    .text("teacher samples n"),
            );
            ui.horizontal(|ui| {
                ui.label("seed");
                ui.add(egui::DragValue::new(seed));
            });
        }
    }
}

fn k_ui(ui: &mut egui::Ui, k: &mut usize, kmax: f64) {
    let kmax = (kmax as usize).max(2);
    ui.add(
        egui::Slider::new(k, 1..=kmax)
            .logarithmic(true)
            .text("teacher top k"),
    );
}

fn shaping_ui(ui: &mut egui::Ui, p: &mut Practice) {
    let mut tt = p.teacher_temperature();
    if log_slider(ui, &mut tt, 0.1..=10.0, "teacher T").changed() {
        p.tt = (tt != 1.0).then_some(tt);
    }
    let mut st = p.student_temperature();
    if log_slider(ui, &mut st, 0.1..=10.0, "student T").changed() {
        p.st = (st != 1.0).then_some(st);
    }
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut p.t2, "× T²")
            .on_hover_text("multiply value and gradient by the student's T² (Hinton)");
        ui.checkbox(&mut p.std, "standardise")
            .on_hover_text("logit standardisation (x − mean)/std of both rows");
        let mut capped = p.softcap.is_some();
        if ui
            .checkbox(&mut capped, "soft-cap")
            .on_hover_text("Gemma's c·tanh(x/c) of both rows' logits")
            .changed()
        {
            p.softcap = capped.then_some(p.softcap.unwrap_or(5.0));
        }
    });
    if let Some(c) = &mut p.softcap {
        log_slider(ui, c, 0.1..=100.0, "soft-cap c");
    }
}

fn numerics_ui(ui: &mut egui::Ui, p: &mut Practice) {
    ui.horizontal_wrapped(|ui| {
        ui.label("stored:");
        let mut f = p.student_format();
        for fmt in Format::ALL {
            ui.selectable_value(&mut f, fmt, fmt.name());
        }
        if f != p.student_format() {
            p.precision = (f != Format::F64).then_some(f);
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("arithmetic:");
        for c in Compute::ALL {
            ui.selectable_value(&mut p.compute, c, c.name())
                .on_hover_text(match c {
                    Compute::Exact => "f64 after rounding the stored logits",
                    Compute::Naive => "every operation in the stored format, softmax by exp/sum",
                    Compute::Logspace => "every operation in the stored format, log-softmax",
                });
        }
    });
}
