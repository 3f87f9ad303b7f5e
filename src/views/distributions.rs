//! Teacher vs each student at the current epoch: small multiples or overlaid, linear or log y, sorted
//! by teacher probability, the AKL head shaded, and a zoomed tail inset like the AKL paper's figure 3.

use super::ViewCtx;
use super::common::{LOG_FLOOR, bare_plot, base_plot, log_tick, y_value as y_of};
use super::ticks::step_125;
use crate::toy::TeacherSpec;
use crate::views::palette;
use crate::views::state::{DistOptions, ToyState};
use egui_plot::{AxisHints, Line, Plot, PlotPoints, Points, Polygon};

pub fn distributions_ui(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    if !cx.figure {
        controls(ui, cx, state);
    }
    body(ui, cx, state);
}

fn controls(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    ui.horizontal_wrapped(|ui| {
        let o = &mut state.dist;
        ui.checkbox(&mut o.overlay, "overlay");
        ui.checkbox(&mut o.log_y, "log y");
        if !cx.continuous() {
            ui.checkbox(&mut o.sorted, "sort by teacher");
            ui.checkbox(&mut o.tail_inset, "tail inset");
        }
        ui.checkbox(&mut o.shade_head, "shade head");
    });
}

fn body(ui: &mut egui::Ui, cx: &ViewCtx, state: &mut ToyState) {
    let opts = state.dist;
    let drawing = matches!(state.config.teacher, TeacherSpec::Probs { .. });
    let order = class_order(cx, &opts);
    let runs: Vec<usize> = (0..cx.runs()).collect();
    if opts.overlay || runs.len() <= 1 {
        let r = panel(
            ui,
            cx,
            &opts,
            &order,
            &runs,
            "dist-overlay",
            ui.available_height(),
        );
        if drawing && let Some((x, y)) = r {
            draw_teacher(state, x, y, &order);
        }
        return;
    }
    let cols = if runs.len() <= 2 {
        runs.len()
    } else if runs.len() <= 6 {
        3.min(runs.len())
    } else {
        4
    };
    let rows = runs.len().div_ceil(cols);
    let h = (ui.available_height() / rows as f32 - 6.0).max(120.0);
    let w = ui.available_width() / cols as f32 - 6.0;
    egui::Grid::new("dist-grid")
        .spacing([6.0, 6.0])
        .show(ui, |ui| {
            for (i, &run) in runs.iter().enumerate() {
                ui.allocate_ui(egui::vec2(w, h), |ui| {
                    ui.set_min_size(egui::vec2(w, h));
                    let r = ui
                        .vertical(|ui| {
                            panel(ui, cx, &opts, &order, &[run], &format!("dist-{i}"), h)
                        })
                        .inner;
                    if drawing && let Some((x, y)) = r {
                        draw_teacher(state, x, y, &order);
                    }
                });
                if (i + 1) % cols == 0 {
                    ui.end_row();
                }
            }
        });
}

/// Class order on the x axis: by index, or by descending teacher probability.
pub fn class_order(cx: &ViewCtx, opts: &DistOptions) -> Vec<usize> {
    if opts.sorted && !cx.continuous() {
        cx.result.regions.order.clone()
    } else {
        (0..cx.p().len()).collect()
    }
}

/// How one panel is titled and decorated (the app's small multiples, or a figure's epoch panels).
pub struct PanelStyle {
    pub title: Option<(String, egui::Color32)>,
    pub legend: bool,
    pub inset: bool,
}

/// One plot with the teacher and the given runs; returns the pointer position while it drags on the plot.
fn panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    opts: &DistOptions,
    order: &[usize],
    runs: &[usize],
    id: &str,
    height: f32,
) -> Option<(f64, f64)> {
    let title = (runs.len() == 1).then(|| (cx.divergence(runs[0]).to_string(), cx.colors[runs[0]]));
    let style = PanelStyle {
        title,
        legend: true,
        inset: opts.tail_inset,
    };
    styled_panel(ui, cx, opts, order, runs, id, height, &style)
}

/// [`panel`] with an explicit style.
#[allow(clippy::too_many_arguments)]
pub fn styled_panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    opts: &DistOptions,
    order: &[usize],
    runs: &[usize],
    id: &str,
    height: f32,
    style: &PanelStyle,
) -> Option<(f64, f64)> {
    let xs: Vec<f64> = if cx.continuous() && !opts.sorted {
        order.iter().map(|&k| cx.xs()[k]).collect()
    } else {
        (0..order.len()).map(|i| i as f64).collect()
    };
    let p = cx.p();
    let mut height = height;
    if let Some((title, color)) = &style.title {
        ui.label(egui::RichText::new(title).color(*color).strong());
        height = (height - 22.0).max(80.0);
    }
    let x_label = if cx.continuous() {
        "x"
    } else if opts.sorted {
        "class (by teacher rank)"
    } else {
        "class"
    };
    let mut plot = if style.legend {
        base_plot(id, x_label, "probability")
    } else {
        bare_plot(id, x_label, "probability")
    }
    .height(height);
    if opts.log_y {
        plot = plot.y_axis_formatter(log_tick);
    } else {
        plot = plot.include_y(0.0);
    }
    let shown = plot.show(ui, |pu| {
        // The AKL head is a set of classes; on a density grid it is only a band that distracts (as in
        // the gradient view).
        if opts.shade_head && !cx.continuous() {
            shade_head(pu, cx, order, &xs, opts.log_y);
        }
        let teacher: PlotPoints = xs
            .iter()
            .zip(order)
            .map(|(&x, &k)| [x, y_of(p[k], opts.log_y)])
            .collect();
        if cx.continuous() {
            pu.line(
                Line::new("teacher", teacher)
                    .color(palette::TEACHER)
                    .width(2.0),
            );
        } else {
            pu.points(
                Points::new("teacher", teacher)
                    .color(palette::TEACHER)
                    .radius(3.0),
            );
        }
        for &run in runs {
            let q = cx.q(run);
            let pts: PlotPoints = xs
                .iter()
                .zip(order)
                .map(|(&x, &k)| [x, y_of(q[k], opts.log_y)])
                .collect();
            let name = cx.divergence(run).to_string();
            if cx.continuous() {
                pu.line(Line::new(name, pts).color(cx.colors[run]).width(2.0));
            } else {
                pu.points(Points::new(name, pts).color(cx.colors[run]).radius(2.5));
            }
        }
        let r = pu.response();
        if r.dragged() || r.clicked() {
            pu.pointer_coordinate().map(|c| (c.x, c.y))
        } else {
            None
        }
    });
    if style.inset && !cx.continuous() && !opts.log_y {
        tail_inset(ui, shown.response.rect, cx, order, runs, id);
    }
    shown.inner
}

/// Shades the AKL head classes (a band per contiguous run of head classes on the x axis).
fn shade_head(pu: &mut egui_plot::PlotUi, cx: &ViewCtx, order: &[usize], xs: &[f64], log: bool) {
    let head = &cx.result.regions.head;
    let top = order.iter().map(|&k| cx.p()[k]).fold(0.0, f64::max) * 1.1;
    let (lo, hi) = if log {
        (LOG_FLOOR.log10(), top.log10())
    } else {
        (0.0, top)
    };
    let half = if xs.len() > 1 {
        0.5 * (xs[1] - xs[0]).abs()
    } else {
        0.5
    };
    let mut i = 0;
    while i < order.len() {
        if !head[order[i]] {
            i += 1;
            continue;
        }
        let start = i;
        while i < order.len() && head[order[i]] {
            i += 1;
        }
        let (x0, x1) = (xs[start] - half, xs[i - 1] + half);
        let band = vec![[x0, lo], [x1, lo], [x1, hi], [x0, hi]];
        pu.polygon(
            Polygon::new("", PlotPoints::new(band))
                .fill_color(palette::HEAD_SHADE)
                .stroke(egui::Stroke::NONE),
        );
    }
}

/// A zoom on the far tail (the classes from the far-tail rank on), drawn in the panel's upper right like
/// the inset of the AKL paper's figure 3.
fn tail_inset(
    ui: &mut egui::Ui,
    outer: egui::Rect,
    cx: &ViewCtx,
    order: &[usize],
    runs: &[usize],
    id: &str,
) {
    let regions = &cx.result.regions;
    let far: Vec<(usize, usize)> = order
        .iter()
        .enumerate()
        .filter(|(_, k)| regions.far_tail[**k])
        .map(|(i, &k)| (i, k))
        .collect();
    if far.is_empty() || outer.width() < 200.0 || outer.height() < 140.0 {
        return;
    }
    let size = egui::vec2(outer.width() * 0.45, outer.height() * 0.42);
    let rect = egui::Rect::from_min_size(
        egui::pos2(outer.right() - size.x - 12.0, outer.top() + 8.0),
        size,
    );
    let p = cx.p();
    let mut top = far.iter().map(|&(_, k)| p[k]).fold(0.0, f64::max);
    for &run in runs {
        let q = cx.q(run);
        top = far.iter().map(|&(_, k)| q[k]).fold(top, f64::max);
    }
    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect));
    egui::Frame::canvas(child.style())
        .inner_margin(2.0)
        .show(&mut child, |ui| {
            Plot::new(format!("{id}-inset"))
                .height(rect.height() - 6.0)
                .width(rect.width() - 6.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .show_axes([true, true])
                // The inset is small: let its tick labels sit closer than egui_plot's defaults, or it
                // shows a lone "0.0" and no class numbers.
                .custom_x_axes(vec![AxisHints::new_x().label_spacing(28.0..=40.0)])
                .custom_y_axes(vec![
                    AxisHints::new_y()
                        .label_spacing(14.0..=20.0)
                        .formatter(|m, _| {
                            let decimals = (-m.step_size.log10()).ceil().max(0.0) as usize;
                            format!("{:.*}", decimals, m.value)
                        }),
                ])
                .y_grid_spacer(egui_plot::uniform_grid_spacer(|g| {
                    // About four labelled ticks on the inset's short y axis, where powers of ten alone
                    // give one.
                    let s = step_125((g.bounds.1 - g.bounds.0) / 4.0, 1e-9);
                    [s, 5.0 * s, 10.0 * s]
                }))
                .include_y(0.0)
                .include_y(top * 1.15)
                .show(ui, |pu| {
                    let pts: PlotPoints = far.iter().map(|&(i, k)| [i as f64, p[k]]).collect();
                    pu.points(
                        Points::new("teacher", pts)
                            .color(palette::TEACHER)
                            .radius(2.0),
                    );
                    for &run in runs {
                        let q = cx.q(run);
                        let pts: PlotPoints = far.iter().map(|&(i, k)| [i as f64, q[k]]).collect();
                        pu.points(
                            Points::new(cx.divergence(run).to_string(), pts)
                                .color(cx.colors[run])
                                .radius(1.8),
                        );
                    }
                });
        });
}

/// Sets the drawn teacher's probability of the class under the pointer.
fn draw_teacher(state: &mut ToyState, x: f64, y: f64, order: &[usize]) {
    if let TeacherSpec::Probs { probs } = &mut state.config.teacher {
        let i = x.round();
        if i < 0.0 || i as usize >= order.len() {
            return;
        }
        let k = order[i as usize];
        let value = if state.dist.log_y { 10f64.powf(y) } else { y };
        if k < probs.len() {
            probs[k] = value.clamp(0.0, 1.0);
        }
    }
}
