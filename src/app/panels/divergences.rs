//! Divergence section: the list of divergences, each with an on/off switch, its colour, its sliders
//! and a tooltip with its formula.

use super::{log_slider, slider};
use crate::math::params::{Param, ParamKind, Value, Values};
use crate::math::{Divergence, FAMILIES};
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
                    div: f.default(),
                    enabled: true,
                });
                ui.close();
            }
        }
    });
}

/// The widgets of one divergence's parameters, built from its family's table: a slider per real
/// parameter (labelled "<family> <key>"), a checkbox per boolean or switch, a row of buttons per run
/// of choices, a drag value per class index. Parameters that do not apply have no widget.
fn params_ui(ui: &mut egui::Ui, div: &mut Divergence, classes: usize) {
    let family = div.family();
    let mut values = div.values();
    let mut changed = false;
    let shown = |values: &Values, i: usize| {
        let has_widget = !matches!(
            family.params[i].kind,
            ParamKind::Real { ui_range: None, .. }
        );
        has_widget && values.applies(i)
    };
    let mut i = 0;
    while i < family.params.len() {
        if !shown(&values, i) {
            i += 1;
            continue;
        }
        if matches!(family.params[i].kind, ParamKind::Choice { .. }) {
            // Consecutive choices share one row.
            let mut row = vec![i];
            let mut j = i + 1;
            while j < family.params.len() {
                if shown(&values, j) {
                    if !matches!(family.params[j].kind, ParamKind::Choice { .. }) {
                        break;
                    }
                    row.push(j);
                }
                j += 1;
            }
            ui.horizontal(|ui| {
                for &k in &row {
                    changed |= choice_ui(ui, &family.params[k], values.at_mut(k));
                }
            });
            i = j;
            continue;
        }
        let label = format!("{} {}", family.name, family.params[i].key);
        changed |= param_ui(ui, &family.params[i], values.at_mut(i), &label, classes);
        i += 1;
    }
    changed |= values.raise_to_floors();
    if changed {
        *div = (family.build)(&values);
    }
}

/// One parameter's widget; true when it changed the value.
fn param_ui(
    ui: &mut egui::Ui,
    param: &Param,
    value: &mut Value,
    label: &str,
    classes: usize,
) -> bool {
    let response = match (param.kind, value) {
        (
            ParamKind::Real {
                ui_range: Some((lo, hi)),
                log_scale,
                ..
            },
            Value::Real(x),
        ) => {
            if log_scale {
                log_slider(ui, x, lo..=hi, label)
            } else {
                slider(ui, x, lo..=hi, label)
            }
        }
        (ParamKind::Bool { ui_label, .. } | ParamKind::Switch { ui_label, .. }, Value::Bool(b)) => {
            ui.checkbox(b, ui_label)
        }
        (ParamKind::Class { .. }, Value::Class(c)) => {
            let max = classes.saturating_sub(1);
            let prefix = format!("{} ", param.key);
            ui.add(egui::DragValue::new(c).range(0..=max).prefix(prefix))
        }
        _ => return false,
    };
    response.on_hover_text(param.doc).changed()
}

/// A choice as a row of selectable buttons; true when one was picked.
fn choice_ui(ui: &mut egui::Ui, param: &Param, value: &mut Value) -> bool {
    let (ParamKind::Choice { ui_labels, .. }, Value::Choice(current)) = (param.kind, value) else {
        return false;
    };
    let mut changed = false;
    for (k, label) in ui_labels.iter().enumerate() {
        let picked = ui
            .selectable_label(*current == k, *label)
            .on_hover_text(param.doc)
            .clicked();
        if picked && *current != k {
            *current = k;
            changed = true;
        }
    }
    changed
}
