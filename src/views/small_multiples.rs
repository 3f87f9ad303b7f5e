//! Scaffolding of the small-multiple views (gradient, assistant): the per-class x axis, the grid shape
//! and the scrolling grid of panels.

use super::ViewCtx;
use egui::Ui;

/// Smallest readable panel.
const MIN_CELL_W: f32 = 160.0;
/// Space between panels.
pub(super) const GAP: f32 = 6.0;

/// The x axis of per-class panels: the teacher-rank order when sorting (never on a continuous x), else
/// class index order.
pub(super) struct ClassAxis {
    /// Class shown at each x position.
    pub(super) order: Vec<usize>,
    /// x coordinate of each position (class rank/index, or the grid's x).
    pub(super) xs: Vec<f64>,
    pub(super) x_label: &'static str,
    pub(super) continuous: bool,
    pub(super) sorted: bool,
}

impl ClassAxis {
    /// `sort`: the "sort by teacher" setting.
    pub(super) fn new(cx: &ViewCtx, sort: bool) -> Self {
        let continuous = cx.continuous();
        let sorted = sort && !continuous;
        let order: Vec<usize> = if sorted {
            cx.result.regions.order.clone()
        } else {
            (0..cx.p().len()).collect()
        };
        let xs: Vec<f64> = if continuous {
            cx.xs().to_vec()
        } else {
            (0..order.len()).map(|i| i as f64).collect()
        };
        let x_label = if continuous {
            "x"
        } else if sorted {
            "class (by teacher rank)"
        } else {
            "class"
        };
        ClassAxis {
            order,
            xs,
            x_label,
            continuous,
            sorted,
        }
    }
}

/// Columns, rows and cell height for `n` panels in `avail`: the shape that needs no scrolling and whose
/// cells come closest to the wanted proportions (`ratio(w, h)` = 1 is ideal); panels are never
/// narrower than [`MIN_CELL_W`] nor lower than `min_h` (the view scrolls instead).
pub(super) fn grid_shape(
    n: usize,
    avail: egui::Vec2,
    min_h: f32,
    ratio: impl Fn(f32, f32) -> f32,
) -> (usize, usize, f32) {
    let mut best: Option<((bool, f32), usize)> = None;
    // Balanced shapes only: for each row count, the fewest columns that hold every panel.
    for rows in 1..=n.max(1) {
        let cols = n.max(1).div_ceil(rows);
        if rows > 1 && cols == n.max(1).div_ceil(rows - 1) {
            continue;
        }
        let w = (avail.x - GAP * (cols as f32 - 1.0)) / cols as f32;
        if w < MIN_CELL_W && cols > 1 {
            continue;
        }
        let h = (avail.y - GAP * (rows as f32 - 1.0)) / rows as f32;
        let score = (h >= min_h, -ratio(w, h.max(min_h)).ln().abs());
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, cols));
        }
    }
    let cols = best.map_or(1, |b| b.1);
    let rows = n.div_ceil(cols).max(1);
    let h = ((avail.y - GAP * (rows as f32 - 1.0)) / rows as f32).max(min_h);
    (cols, rows, h)
}

/// `n` panels `cols` to a row in `rows` rows, each `h` high, in a vertical scroll area with [`GAP`]
/// between them. `panel(ui, i)` draws panel `i` in a top-down cell as wide as a column.
pub(super) fn cell_grid(
    ui: &mut Ui,
    id_salt: &str,
    n: usize,
    cols: usize,
    rows: usize,
    h: f32,
    mut panel: impl FnMut(&mut Ui, usize),
) {
    egui::ScrollArea::vertical()
        .id_salt(id_salt)
        .auto_shrink(false)
        .show(ui, |ui| {
            let w = (ui.available_width() - GAP * (cols as f32 - 1.0)) / cols as f32;
            ui.spacing_mut().item_spacing = egui::vec2(GAP, GAP);
            for row in 0..rows {
                ui.horizontal_top(|ui| {
                    for i in row * cols..((row + 1) * cols).min(n) {
                        ui.allocate_ui_with_layout(
                            egui::vec2(w, h),
                            egui::Layout::top_down(egui::Align::Min),
                            |ui| {
                                ui.set_width(w);
                                panel(ui, i);
                            },
                        );
                    }
                });
            }
        });
}

/// A [`cell_grid`] panel that fills its cell's height `h`, with tight spacing between its plots.
pub(super) fn compact_cell(ui: &mut Ui, h: f32) {
    ui.set_min_height(h);
    ui.spacing_mut().item_spacing = egui::vec2(4.0, 2.0);
}
