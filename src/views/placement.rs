//! Where a plot's legend, inset and labels go: in the corner or spot that covers the fewest data
//! points and nothing else already placed, worked out before egui_plot lays the plot out.

use egui::{Color32, Pos2, Rect, Vec2, pos2, vec2};
use egui_plot::Corner;

/// Maps plot values to a plot frame before egui_plot has laid it out (its 5 % margins included):
/// where the legend and the labels go.
pub(super) struct FrameMap {
    x: (f64, f64),
    y: (f64, f64),
    px: Vec2,
}

impl FrameMap {
    pub(super) fn new(x: (f64, f64), y: (f64, f64), px: Vec2) -> Self {
        let pad = |(lo, hi): (f64, f64)| {
            let m = (hi - lo).abs().max(1e-12) * 0.05;
            (lo - m, hi + m)
        };
        FrameMap {
            x: pad(x),
            y: pad(y),
            px,
        }
    }

    /// A point in frame points from the top-left corner.
    pub(super) fn pos(&self, [x, y]: [f64; 2]) -> Pos2 {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (self.y.1 - y) / (self.y.1 - self.y.0);
        pos2(fx as f32 * self.px.x, fy as f32 * self.px.y)
    }

    /// The plot value at a point of the frame (the inverse of [`FrameMap::pos`]).
    pub(super) fn value(&self, pos: Pos2) -> [f64; 2] {
        let fx = f64::from(pos.x / self.px.x);
        let fy = f64::from(pos.y / self.px.y);
        [
            self.x.0 + fx * (self.x.1 - self.x.0),
            self.y.1 - fy * (self.y.1 - self.y.0),
        ]
    }
}

/// Where the legend of `size` goes inside `frame` when placed at `corner` (egui_plot's 4-point pad).
pub(super) fn legend_rect(frame: Rect, corner: Corner, size: Vec2) -> Rect {
    let r = frame.shrink(4.0);
    let min = match corner {
        Corner::LeftTop => r.left_top(),
        Corner::RightTop => pos2(r.right() - size.x, r.top()),
        Corner::LeftBottom => pos2(r.left(), r.bottom() - size.y),
        Corner::RightBottom => r.right_bottom() - size,
    };
    Rect::from_min_size(min, size)
}

/// The size of egui_plot's legend for these entries in `style` (its frame and margins included, a
/// little over).
pub(super) fn legend_size(ui: &egui::Ui, entries: &[String], style: &egui::TextStyle) -> Vec2 {
    let font = style.resolve(ui.style());
    let painter = ui.painter();
    let mut width = 0.0f32;
    let mut row = 0.0f32;
    for name in entries {
        let g = painter.layout_no_wrap(name.clone(), font.clone(), Color32::WHITE);
        width = width.max(g.size().x);
        row = row.max(g.size().y);
    }
    let n = entries.len() as f32;
    let spacing = ui.spacing().item_spacing.y;
    // Entry: icon (a row high) + a fifth of it + text; frame: 8 × 4 margins and a stroke.
    vec2(
        width + row * 1.2 + 2.0 * 8.0 + 4.0,
        n * row + (n - 1.0).max(0.0) * spacing + 2.0 * 4.0 + 4.0,
    )
}

/// The corner whose legend covers the fewest data points and none of the `avoid` rectangles (ties: top
/// right, top left, bottom right, bottom left).
pub(super) fn emptiest_corner(frame: Rect, points: &[Pos2], size: Vec2, avoid: &[Rect]) -> Corner {
    let corners = [
        Corner::RightTop,
        Corner::LeftTop,
        Corner::RightBottom,
        Corner::LeftBottom,
    ];
    let score = |c: Corner| {
        let r = legend_rect(frame, c, size).expand(3.0);
        let hits = points.iter().filter(|p| r.contains(**p)).count();
        let blocked = avoid.iter().filter(|a| a.intersects(r)).count();
        blocked * 100_000 + hits
    };
    corners
        .into_iter()
        .enumerate()
        .min_by_key(|&(i, c)| (score(c), i))
        .map_or(Corner::RightTop, |(_, c)| c)
}
