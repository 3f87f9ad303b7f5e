//! The position inspector: at one position, the teacher's and each student's probabilities over
//! the classes sorted by teacher probability, log y, token labels on the top classes, head shaded
//! (the row's numbers come from [`crate::toy::analysis::position`]).

use super::{InspectorState, RunState};
use crate::real::RealData;
use crate::toy::analysis::position::{order_and_head, softmax};
use crate::views::common::{base_plot, log_tick, y_value};
use crate::views::palette;
use egui::Color32;
use egui_plot::{Line, PlotPoint, PlotPoints, Points, Polygon, Text};

pub fn inspector_ui(
    ui: &mut egui::Ui,
    data: &RealData,
    runs: &[RunState],
    colors: &[Color32],
    st: &mut InspectorState,
    mu: f64,
    figure: bool,
) {
    let n = data.n;
    st.row = st.row.min(n - 1);
    if !figure {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Position");
            ui.add(egui::DragValue::new(&mut st.row).range(0..=n - 1))
                .on_hover_text("which held-out position (row) to inspect");
            if ui.small_button("<").clicked() {
                st.row = st.row.saturating_sub(1);
            }
            if ui.small_button(">").clicked() {
                st.row = (st.row + 1).min(n - 1);
            }
            ui.checkbox(&mut st.log_y, "log y");
            // Small vocabularies (a 5-class file) must not invert the slider's range.
            let most = data.v.min(5000);
            ui.add(
                egui::Slider::new(&mut st.top, 10.min(most)..=most)
                    .logarithmic(true)
                    .text("classes shown"),
            );
            ui.add(egui::Slider::new(&mut st.labels, 0..=30).text("labels"));
        });
    }
    let row = st.row;
    if let Some(c) = data.contexts.as_ref().and_then(|c| c.get(row)) {
        let next = data
            .labels
            .as_ref()
            .and_then(|l| l.get(row))
            .map(|&k| format!("  →  {}", data.token(k as usize)))
            .unwrap_or_default();
        ui.label(egui::RichText::new(format!("…{c}{next}")).monospace());
    }
    if !data.has_full_teacher() {
        ui.label(
            "the teacher is stored as its top k per position: there is no full row to inspect",
        );
        return;
    }
    let p = softmax(data.teacher_row(row));
    let (order, head) = order_and_head(&p, mu);
    let shown = st.top.clamp(1, order.len());
    let log = st.log_y;
    let students: Vec<(String, Color32, Vec<f64>)> = runs
        .iter()
        .zip(colors)
        .filter_map(|(r, &c)| {
            let q = student_probs(data, r, row, &order)?;
            Some((student_name(data, r.div.label()), c, q))
        })
        .collect();
    let ink = ui.visuals().text_color();
    let table_w = (ui.available_width() * 0.28).clamp(180.0, 360.0);
    let plot_w = ui.available_width() - table_w - 12.0;
    let height = ui.available_height().max(120.0);
    ui.horizontal_top(|ui| {
        let mut plot = base_plot("real-inspector", "class by teacher rank", "probability")
            .width(plot_w)
            .height(height);
        plot = if log {
            plot.y_axis_formatter(log_tick)
        } else {
            plot.include_y(0.0)
        };
        plot.show(ui, |pu| {
            // The head: a band behind the curves.
            let top = y_value(p[order[0]], log) + if log { 0.3 } else { 0.05 };
            let bottom = if log {
                order[..shown]
                    .iter()
                    .map(|&k| y_value(p[k], true))
                    .fold(0.0, f64::min)
                    - 0.3
            } else {
                0.0
            };
            let x1 = head as f64 - 0.5;
            pu.polygon(
                Polygon::new(
                    format!("head (teacher mass ≤ {mu})"),
                    PlotPoints::new(vec![[-0.5, bottom], [x1, bottom], [x1, top], [-0.5, top]]),
                )
                .fill_color(palette::TEACHER.gamma_multiply(0.12))
                // zero width: no outline, but the legend takes its swatch colour from the stroke
                .stroke(egui::Stroke::new(
                    0.0,
                    palette::TEACHER.gamma_multiply(0.35),
                )),
            );
            let pts = |q: &[f64]| -> PlotPoints {
                order[..shown]
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| [i as f64, y_value(q[k], log)])
                    .collect()
            };
            pu.line(
                Line::new("teacher", pts(&p))
                    .color(palette::TEACHER)
                    .width(2.0),
            );
            for (name, c, q) in &students {
                pu.points(Points::new(name.clone(), pts(q)).color(*c).radius(2.0));
            }
            // Token labels on the top classes, skipping any that would sit on the previous one.
            let span = if log { 0.15 } else { 0.03 };
            let mut last: Option<(f64, f64)> = None;
            for (i, &k) in order.iter().take(st.labels.min(shown)).enumerate() {
                let (x, y) = (i as f64, y_value(p[k], log));
                if last
                    .is_some_and(|(lx, ly)| x - lx < 0.04 * shown as f64 && (ly - y).abs() < span)
                {
                    continue;
                }
                last = Some((x, y));
                pu.text(
                    Text::new(
                        "",
                        PlotPoint::new(x, y),
                        egui::RichText::new(format!(" {}", data.token(k))).size(11.0),
                    )
                    .anchor(egui::Align2::LEFT_BOTTOM)
                    .color(ink),
                );
            }
        });
        top_table(ui, data, &p, &order, &students, st.labels.max(5));
    });
}

/// The top classes as a table: token, teacher probability, each student's.
fn top_table(
    ui: &mut egui::Ui,
    data: &RealData,
    p: &[f64],
    order: &[usize],
    students: &[(String, Color32, Vec<f64>)],
    rows: usize,
) {
    egui::ScrollArea::vertical()
        .id_salt("real-top-table")
        .show(ui, |ui| {
            egui::Grid::new("real-top")
                .striped(true)
                .spacing([10.0, 2.0])
                .show(ui, |ui| {
                    ui.strong("token");
                    ui.colored_label(palette::TEACHER, "teacher");
                    for (name, c, _) in students {
                        ui.colored_label(*c, short(name));
                    }
                    ui.end_row();
                    for &k in order.iter().take(rows) {
                        ui.monospace(data.token(k));
                        ui.label(format!("{:.4}", p[k]));
                        for (_, _, q) in students {
                            ui.label(format!("{:.4}", q[k]));
                        }
                        ui.end_row();
                    }
                });
        });
}

/// A divergence's name cut to fit a table header.
fn short(name: &str) -> String {
    if name.chars().count() <= 12 {
        name.to_string()
    } else {
        name.chars().take(11).chain(std::iter::once('…')).collect()
    }
}

/// A run's student at position `row`, one probability per teacher class: its own classes when the
/// vocabularies agree; otherwise (uld) its `i`-th largest probability at the teacher's rank `i`
/// (`order`: teacher classes by decreasing probability), which is what uld compares.
pub fn student_probs(
    data: &RealData,
    run: &RunState,
    row: usize,
    order: &[usize],
) -> Option<Vec<f64>> {
    let sv = data.student_v;
    let logits = run
        .result
        .as_ref()?
        .student_logits
        .get(row * sv..(row + 1) * sv)?;
    let q = softmax(logits);
    if data.aligned() {
        return Some(q);
    }
    let mut sorted = q;
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut by_rank = vec![0.0; data.v];
    for (&k, &x) in order.iter().zip(&sorted) {
        by_rank[k] = x;
    }
    Some(by_rank)
}

/// A student's name in the inspector and its CSV: marked when it is compared by rank.
pub fn student_name(data: &RealData, name: String) -> String {
    if data.aligned() {
        name
    } else {
        format!("{name} (by rank)")
    }
}
