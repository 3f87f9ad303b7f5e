//! Plot styling shared by every view, so that the app and exported figures look the same.

use egui_plot::{AxisHints, Legend, Plot};

/// A plot with the house style: legend in the corner, readable x tick spacing, no scroll-zoom
/// (the mouse wheel scrolls the page), and axis labels.
pub fn base_plot<'a>(id: impl egui::AsIdSalt, x_label: &str, y_label: &str) -> Plot<'a> {
    bare_plot(id, x_label, y_label).legend(Legend::default().follow_insertion_order(true))
}

/// [`base_plot`] without a legend (the other panels of a figure that shares one legend).
pub fn bare_plot<'a>(id: impl egui::AsIdSalt, x_label: &str, y_label: &str) -> Plot<'a> {
    Plot::new(id)
        .allow_scroll(false)
        .custom_x_axes(vec![
            AxisHints::new_x()
                .label(x_label.to_string())
                // Ticks come in powers of ten only: a narrower minimum keeps "10, 20, …" on panels
                // a few hundred points wide (small multiples, half-slide figures) instead of a lone 0.
                .label_spacing(28.0..=44.0),
        ])
        .custom_y_axes(vec![
            AxisHints::new_y()
                .label(y_label.to_string())
                .label_spacing(25.0..=60.0),
        ])
}

/// Values drawn on a log10 axis are floored here (exact zeros would be -inf).
pub const LOG_FLOOR: f64 = 1e-12;

/// `log10(v)` floored at [`LOG_FLOOR`], or `v` itself on a linear axis.
pub fn y_value(v: f64, log: bool) -> f64 {
    if log { v.max(LOG_FLOOR).log10() } else { v }
}

/// Tick labels of a log10 axis: `1e-3` instead of `-3`.
pub fn log_tick(mark: egui_plot::GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let v = mark.value;
    if (v - v.round()).abs() < 1e-9 {
        format!("1e{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Tick labels of a log10 axis that also label short ranges (less than two decades), where
/// [`log_tick`] would leave the axis bare: `0.93`, `4.2e-3`.
pub fn log_tick_dense(mark: egui_plot::GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    if range.end() - range.start() > 2.0 {
        return log_tick(mark, range);
    }
    let x = 10f64.powf(mark.value);
    if (0.01..1000.0).contains(&x) {
        let digits = (2 - x.log10().floor() as i32).clamp(0, 4) as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.1e}")
    }
}
