//! Figures of the real-model tab: the metric curves or one position's inspector, as PNG (offscreen
//! wgpu), SVG (egui's paint list) or CSV, drawn by the same code as the tab. The app's Export menu
//! and `kdviz real --figure` both come here.

use super::{FigureSpec, figure_frame, render_ui_png, render_ui_svg};
use crate::io::csv::Quoted;
use crate::real::RealData;
use crate::real::train::EpochStats;
use crate::toy::analysis::position::{order_and_head, softmax};
use crate::views::palette;
use crate::views::real::inspector::{student_name, student_probs};
use crate::views::real::{InspectorState, RunState, inspector, plots};
use crate::views::state::Theme;
use std::path::Path;

/// Which part of the tab to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealFigure {
    /// The six metric-vs-epoch plots.
    Metrics,
    /// The inspector at one position.
    Position(usize),
}

/// How the figure looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealFigureStyle {
    pub size: egui::Vec2,
    pub scale: f32,
    pub theme: Theme,
    pub transparent: bool,
    pub mu: f64,
}

impl Default for RealFigureStyle {
    fn default() -> Self {
        RealFigureStyle {
            size: egui::vec2(1100.0, 640.0),
            scale: 2.0,
            theme: Theme::Light,
            transparent: false,
            mu: 0.5,
        }
    }
}

/// Writes the figure to `path`; the extension (png, svg, csv) chooses the format.
pub fn write(
    path: &Path,
    what: RealFigure,
    data: &RealData,
    runs: &[RunState],
    style: &RealFigureStyle,
) -> Result<(), String> {
    let name = path.display();
    if runs.iter().all(|r| r.stats.is_empty()) {
        return Err(format!(
            "{name}: nothing to draw yet; run the training first"
        ));
    }
    if let RealFigure::Position(row) = what
        && row >= data.n
    {
        return Err(format!(
            "{name}: position {row} does not exist; expected 0 to {}",
            data.n - 1
        ));
    }
    if matches!(what, RealFigure::Position(_)) && !data.has_full_teacher() {
        return Err(format!(
            "{name}: a position figure needs the full teacher; this one is stored as its top k \
             per position"
        ));
    }
    if !(style.scale.is_finite() && (0.5..=8.0).contains(&style.scale)) {
        return Err(format!(
            "scale {}; expected a number from 0.5 to 8",
            style.scale
        ));
    }
    let shown = name.to_string();
    let ext = super::format::format_of(&shown, &shown, &["png", "svg", "csv"])?;
    let colors = palette::run_colors(&runs.iter().map(|r| r.div).collect::<Vec<_>>());
    let title = match what {
        RealFigure::Metrics => format!("{}: metrics per epoch", data.source),
        RealFigure::Position(row) => format!("{}: position {row}", data.source),
    };
    let mut st = InspectorState {
        row: match what {
            RealFigure::Position(r) => r,
            RealFigure::Metrics => 0,
        },
        ..InspectorState::default()
    };
    let mut draw = |ui: &mut egui::Ui| {
        figure_frame(
            ui,
            style.theme,
            style.transparent,
            Some(&title),
            |ui| match what {
                RealFigure::Metrics => plots::metrics_ui(ui, runs, &colors),
                RealFigure::Position(_) => {
                    inspector::inspector_ui(ui, data, runs, &colors, &mut st, style.mu, true)
                }
            },
        )
    };
    let write_bytes = |bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| format!("{name}: cannot write: {e}"))
    };
    match ext.as_str() {
        "png" => {
            let spec = FigureSpec {
                size: style.size,
                scale: style.scale,
                theme: style.theme,
                transparent: style.transparent,
                ..FigureSpec::default()
            };
            super::raster::save_png(&render_ui_png(&spec, draw)?, path)
        }
        "svg" => write_bytes(
            render_ui_svg(style.size, style.theme, style.transparent, &mut draw).as_bytes(),
        ),
        "csv" => write_bytes(
            match what {
                RealFigure::Metrics => metrics_csv(runs),
                RealFigure::Position(row) => position_csv(data, runs, row),
            }
            .as_bytes(),
        ),
        _ => Err(format!("{name}: cannot write .{ext} files")),
    }
}

/// Every run's metrics per epoch (the same columns as `kdviz real --csv`).
pub fn metrics_csv(runs: &[RunState]) -> String {
    EpochStats::csv(runs.iter().map(|r| (&r.loss, r.stats.as_slice())))
}

/// One position: every class by teacher rank, its token, the teacher's and each student's probability.
pub fn position_csv(data: &RealData, runs: &[RunState], row: usize) -> String {
    let p = softmax(data.teacher_row(row));
    let (order, _) = order_and_head(&p, 0.5);
    let students: Vec<(String, Vec<f64>)> = runs
        .iter()
        .filter_map(|r| {
            let q = student_probs(data, r, row, &order)?;
            Some((student_name(data, r.loss.to_string()), q))
        })
        .collect();
    let mut out = String::from("rank,class,token,teacher");
    for (name, _) in &students {
        out.push_str(&format!(",{}", Quoted(name)));
    }
    out.push('\n');
    for (rank, &k) in order.iter().enumerate() {
        let token = data.token(k);
        out.push_str(&format!("{rank},{k},{},{}", Quoted(&token), p[k]));
        for (_, q) in &students {
            out.push_str(&format!(",{}", q[k]));
        }
        out.push('\n');
    }
    out
}
