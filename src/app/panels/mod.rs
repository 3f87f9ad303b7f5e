//! The side panel's sections: teacher, student, divergences, optimiser.

pub mod divergences;
pub mod optimizer;
pub mod student;
pub mod teacher;

/// A slider on an f64 with an accessible label (kittest finds controls by role and label).
pub fn slider(
    ui: &mut egui::Ui,
    value: &mut f64,
    range: std::ops::RangeInclusive<f64>,
    label: &str,
) -> egui::Response {
    ui.add(egui::Slider::new(value, range).text(label))
}

/// A logarithmic slider (learning rates, temperatures, widths).
pub fn log_slider(
    ui: &mut egui::Ui,
    value: &mut f64,
    range: std::ops::RangeInclusive<f64>,
    label: &str,
) -> egui::Response {
    ui.add(
        egui::Slider::new(value, range)
            .logarithmic(true)
            .text(label),
    )
}
