//! The side panel's sections: teacher, student, divergences, optimiser.

pub mod divergences;
pub mod optimizer;
pub mod plane;
pub mod practice;
pub mod student;
pub mod teacher;

/// A slider on an f64 with an accessible label (kittest finds controls by role and label).
pub fn slider(
    ui: &mut egui::Ui,
    value: &mut f64,
    range: std::ops::RangeInclusive<f64>,
    label: &str,
) -> egui::Response {
    fitted(ui, label, |ui| {
        ui.add(egui::Slider::new(value, range).text(label))
    })
}

/// A logarithmic slider (learning rates, temperatures, widths).
pub fn log_slider(
    ui: &mut egui::Ui,
    value: &mut f64,
    range: std::ops::RangeInclusive<f64>,
    label: &str,
) -> egui::Response {
    fitted(ui, label, |ui| {
        ui.add(
            egui::Slider::new(value, range)
                .logarithmic(true)
                .text(label),
        )
    })
}

/// Runs `add` with the slider's track narrowed so that track, value box and label fit the panel:
/// a long label ("TAID momentum") would otherwise widen the side panel.
fn fitted(
    ui: &mut egui::Ui,
    label: &str,
    add: impl FnOnce(&mut egui::Ui) -> egui::Response,
) -> egui::Response {
    // The value box and the gaps between the three parts.
    const VALUE_AND_GAPS: f32 = 80.0;
    let text = egui::WidgetText::from(label)
        .into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Body,
        )
        .size()
        .x;
    let room = ui.available_width() - text - VALUE_AND_GAPS;
    ui.scope(|ui| {
        let s = ui.spacing_mut();
        s.slider_width = room.clamp(60.0, s.slider_width);
        add(ui)
    })
    .inner
}

/// A mixture component's header row: its number and a remove button (disabled for the last one);
/// true when the button was clicked.
pub fn component_header_ui(ui: &mut egui::Ui, i: usize, removable: bool) -> bool {
    ui.horizontal(|ui| {
        ui.label(format!("component {}", i + 1));
        ui.add_enabled(removable, egui::Button::new("x").small())
            .on_hover_text("remove this component")
            .on_disabled_hover_text("a mixture keeps at least one component")
            .clicked()
    })
    .inner
}
