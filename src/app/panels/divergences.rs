//! Divergence section: the list of divergences, each with an on/off switch under its readable name
//! (the spec string and the formula in the tooltip), its colour and its sliders. A parameter that
//! does nothing under the others' values (TAID's rate with the adaptive step off, JSD's
//! normalisation at β = 0 or 1, ...) is greyed out and says why.

use super::practice::practice_ui;
use super::{log_slider, slider};
use crate::math::params::{Param, ParamKind, Value, Values};
use crate::math::practice::Loss;
use crate::math::{Divergence, FAMILIES};
use crate::views::palette;
use crate::views::state::Slot;

pub fn divergences_ui(ui: &mut egui::Ui, slots: &mut Vec<Slot>, classes: usize) {
    let colors = palette::for_background(palette::slot_colors(slots), ui.visuals().dark_mode);
    let mut remove = None;
    for (i, slot) in slots.iter_mut().enumerate() {
        ui.push_id(("slot", i), |ui| {
            ui.horizontal(|ui| {
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, colors[i]);
                // The remove button on the right; the name truncated to the room left, so that a
                // long name never widens the panel (the whole name is in the tooltip).
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.small_button("x").on_hover_text("remove").clicked() {
                        remove = Some(i);
                    }
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                        ui.checkbox(&mut slot.enabled, slot.div.label())
                            .on_hover_text(hover_text(&slot.div));
                    });
                });
            });
            ui.indent("params", |ui| {
                params_ui(ui, &mut slot.div.family, classes);
                // The last refusal of this slot's practice section lives in egui's memory, not in
                // the persisted slot.
                let id = ui.make_persistent_id("practice_error");
                let mut error: Option<String> = ui.data(|d| d.get_temp(id)).flatten();
                practice_ui(ui, &mut slot.div, classes, &mut error);
                ui.data_mut(|d| d.insert_temp(id, error));
            });
        });
    }
    if let Some(i) = remove {
        slots.remove(i);
    }
    ui.menu_button("+ add divergence", |ui| {
        for f in FAMILIES {
            if ui
                .button(f.default().family_label())
                .on_hover_text(format!("{}: {}\n{}", f.name, f.summary, f.formula))
                .clicked()
            {
                slots.push(Slot {
                    div: f.default().into(),
                    enabled: true,
                });
                ui.close();
            }
        }
    });
}

/// The tooltip of a divergence's switch: its readable name, its spec string, what it is and its formula.
fn hover_text(loss: &Loss) -> String {
    let div = &loss.family;
    let family = div.family();
    format!(
        "{}\nspec: {loss}\n{}\n{}",
        loss.label(),
        family.summary,
        family.formula
    )
}

/// A slider's label: the family's readable name and the parameter's symbol ("JSD β", "TAID t end").
/// AKL's μ says it is the loss's: the metrics have a head mass μ of their own.
pub fn param_label(div: &Divergence, key: &str) -> String {
    let symbol = match key {
        "mu" if matches!(div, Divergence::Akl { .. }) => return "AKL μ (loss)".into(),
        "mu" => "μ",
        "alpha" => "α",
        "beta" => "β",
        "lambda" => "λ",
        "t_start" => "t start",
        "t_end" => "t end",
        "rate" => "t rate",
        "wt" => "entropy T",
        "hub" => "H_ub",
        other => other,
    };
    format!("{} {symbol}", div.family_label())
}

/// Why parameter `key` does nothing under the other values of `div`, if it does nothing.
pub fn inert(div: &Divergence, key: &str) -> Option<&'static str> {
    match (*div, key) {
        (Divergence::Jsd { beta, .. }, "norm") if beta == 0.0 || beta == 1.0 => {
            Some("β = 0 is FKL and β = 1 is RKL: there is nothing to normalise")
        }
        (Divergence::Srkl { alpha: 0.0, .. }, "detach") => {
            Some("α = 0 is RKL: there is no mixture to detach")
        }
        (
            Divergence::Taid {
                schedule: Some(s), ..
            },
            "rate" | "momentum",
        ) if !s.adaptive => Some("only the adaptive step uses it: t follows the linear floor"),
        (Divergence::Amid { lambda, .. }, "alpha") if lambda <= 0.0 || lambda >= 1.0 => {
            Some("λ = 0 makes r the student and λ = 1 the teacher, whatever α")
        }
        (Divergence::Hinton { a: 0.0, .. }, "T") => {
            Some("a = 0 keeps only the hard-label term: no soft term to temper")
        }
        (Divergence::Hinton { a: 1.0, .. }, "label") => {
            Some("a = 1 keeps only the soft term: no hard label")
        }
        _ => None,
    }
}

/// The widgets of one divergence's parameters, built from its family's table: a slider per real
/// parameter (labelled by [`param_label`]), a checkbox per boolean or switch, a row of buttons per
/// run of choices, a drag value per class index. Parameters that do not apply have no widget; those
/// that do nothing now ([`inert`]) are greyed out.
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
            // Wrapped: AMiD's two choices (divergence, order) take more than the panel's width.
            ui.horizontal_wrapped(|ui| {
                for &k in &row {
                    changed |= choice_ui(ui, &family.params[k], values.at_mut(k));
                }
            });
            i = j;
            continue;
        }
        let key = family.params[i].key;
        let label = param_label(div, key);
        let idle = inert(div, key);
        let hover = param_hover(div, &family.params[i]);
        ui.add_enabled_ui(idle.is_none(), |ui| {
            let response = param_ui(ui, &family.params[i], values.at_mut(i), &label, classes);
            if let Some(r) = response {
                let r = match idle {
                    Some(why) => {
                        r.on_disabled_hover_text(format!("{hover}\n(does nothing now: {why})"))
                    }
                    None => r.on_hover_text(hover),
                };
                changed |= r.changed();
            }
        });
        i += 1;
    }
    changed |= values.raise_to_floors();
    if changed {
        *div = (family.build)(&values);
    }
}

/// A parameter's tooltip: its spec key and what it does.
fn param_hover(div: &Divergence, param: &Param) -> String {
    match div {
        Divergence::Akl { .. } if param.key == "mu" => format!(
            "mu: {}. Sets the head AKL's loss weighs (w_head, w_tail), so it changes the fit; the \
             metrics' \"{}\" only changes what is measured",
            param.doc,
            super::optimizer::METRICS_MU
        ),
        _ => format!("{}: {}", param.key, param.doc),
    }
}

/// One parameter's widget (`None` for a kind without one).
fn param_ui(
    ui: &mut egui::Ui,
    param: &Param,
    value: &mut Value,
    label: &str,
    classes: usize,
) -> Option<egui::Response> {
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
        (ParamKind::Int { min, max, .. }, Value::Int(i)) => {
            let prefix = format!("{} ", param.key);
            ui.add(egui::DragValue::new(i).range(min..=max).prefix(prefix))
        }
        (ParamKind::Count { min, .. }, Value::Class(c)) => {
            let prefix = format!("{} ", param.key);
            ui.add(
                egui::DragValue::new(c)
                    .range(min..=classes.max(min))
                    .prefix(prefix),
            )
        }
        _ => return None,
    };
    Some(response)
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
