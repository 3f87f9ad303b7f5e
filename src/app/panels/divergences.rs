//! Divergence section: the list of divergences, each with an on/off switch, its colour, its sliders
//! and a tooltip with its formula.

use super::{log_slider, slider};
use crate::math::{AmidDiv, AmidOrder, Divergence, FAMILIES, TaidSchedule};
use crate::views::palette;
use crate::views::state::Slot;

pub fn divergences_ui(ui: &mut egui::Ui, slots: &mut Vec<Slot>, classes: usize) {
    let colors = palette::slot_colors(slots);
    let mut remove = None;
    for (i, slot) in slots.iter_mut().enumerate() {
        ui.push_id(("slot", i), |ui| {
            ui.horizontal(|ui| {
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, colors[i]);
                let family = slot.div.family();
                ui.checkbox(&mut slot.enabled, slot.div.to_string())
                    .on_hover_text(format!("{}\n{}", family.summary, family.formula));
                if ui.small_button("x").on_hover_text("remove").clicked() {
                    remove = Some(i);
                }
            });
            ui.indent("params", |ui| params_ui(ui, &mut slot.div, classes));
        });
    }
    if let Some(i) = remove {
        slots.remove(i);
    }
    ui.menu_button("+ add divergence", |ui| {
        for f in FAMILIES {
            if ui
                .button(f.name)
                .on_hover_text(format!("{}\n{}", f.summary, f.formula))
                .clicked()
            {
                slots.push(Slot {
                    div: f.default,
                    enabled: true,
                });
                ui.close();
            }
        }
    });
}

/// Sliders for one divergence's parameters, labelled "<family> <parameter>".
fn params_ui(ui: &mut egui::Ui, div: &mut Divergence, classes: usize) {
    let name = div.name();
    let l = |p: &str| format!("{name} {p}");
    match div {
        Divergence::Fkl | Divergence::Rkl | Divergence::Tvd => {}
        Divergence::Akl { mu } => {
            slider(ui, mu, 0.0..=0.99, &l("mu"));
        }
        Divergence::Jsd { beta, norm } => {
            slider(ui, beta, 0.0..=1.0, &l("beta"));
            ui.checkbox(norm, "normalised (÷ β(1−β))")
                .on_hover_text("a continuous display variant: FKL at β=0, 4·JS at ½, RKL at 1; TRL trains the plain form");
        }
        Divergence::Skl { alpha } => {
            slider(ui, alpha, 0.0..=0.99, &l("alpha"));
        }
        Divergence::Srkl { alpha, detach } => {
            slider(ui, alpha, 0.0..=0.99, &l("alpha"));
            ui.checkbox(detach, "stop-gradient mixture (DistiLLM-2)");
        }
        Divergence::Ab { alpha, beta } => {
            slider(ui, alpha, -1.0..=2.0, &l("alpha"));
            slider(ui, beta, -1.0..=2.0, &l("beta"));
        }
        Divergence::Alpha { alpha } => {
            slider(ui, alpha, -1.0..=2.0, &l("alpha"));
        }
        Divergence::Taid { t, schedule } => {
            let mut scheduled = schedule.is_some();
            if ui.checkbox(&mut scheduled, "adaptive t schedule").changed() {
                *schedule = scheduled.then(TaidSchedule::default);
            }
            match schedule {
                Some(s) => {
                    slider(ui, &mut s.t_start, 0.0..=0.99, &l("t_start"));
                    slider(ui, &mut s.t_end, 0.01..=1.0, &l("t_end"));
                    if s.t_end < s.t_start {
                        s.t_end = s.t_start;
                    }
                    log_slider(ui, &mut s.rate, 1e-6..=1.0, &l("rate"));
                    slider(ui, &mut s.momentum, 0.0..=0.999, &l("momentum"));
                    ui.checkbox(&mut s.adaptive, "adaptive (off: linear floor only)");
                    *t = s.t_start;
                }
                None => {
                    slider(ui, t, 0.0..=1.0, &l("t"));
                }
            }
        }
        Divergence::Amid {
            alpha,
            lambda,
            div: inner,
            order,
        } => {
            slider(ui, alpha, -5.0..=5.0, &l("alpha"));
            slider(ui, lambda, 0.0..=1.0, &l("lambda"));
            ui.horizontal(|ui| {
                let is_ab = matches!(inner, AmidDiv::Ab { .. });
                if ui.selectable_label(!is_ab, "KL").clicked() {
                    *inner = AmidDiv::Fkl;
                }
                if ui.selectable_label(is_ab, "AB(0.2,0.7)").clicked() && !is_ab {
                    *inner = AmidDiv::Ab {
                        alpha: 0.2,
                        beta: 0.7,
                    };
                }
                for o in AmidOrder::ALL {
                    ui.selectable_value(order, o, o.name());
                }
            });
        }
        Divergence::Hinton {
            temperature,
            a,
            label,
        } => {
            log_slider(ui, temperature, 0.05..=20.0, &l("T"));
            slider(ui, a, 0.0..=1.0, &l("a")).on_hover_text("weight of the soft (KL) term");
            let max = classes.saturating_sub(1);
            ui.add(egui::DragValue::new(label).range(0..=max).prefix("label "));
        }
    }
}
