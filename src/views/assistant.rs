//! Assistant distributions: what TAID and AMiD actually fit the student to (TAID's p_t, AMiD's
//! α-mixture r, as [`crate::toy::analysis::assistant`] computes them), drawn next to the teacher p and
//! the student q at the scrubber's epoch. Without a TAID or AMiD run the view is the α-mixture
//! explorer of AMiD's illustration (spec §14 F6): r for α ∈ {−3, −1, 0, 1, 3} and a free α, with λ
//! on a slider.

use super::ViewCtx;
use super::common::{base_plot, log_tick, y_value};
use super::gradient::{Swatch, ink, key_item};
use super::small_multiples::{ClassAxis, GAP, cell_grid, compact_cell, grid_shape};
use super::ticks::{grid_125, tick, x_axis, y_axis};
use crate::math::LogDist;
use crate::toy::analysis::assistant::{
    AssistantPanel, DEMO_P, DEMO_Q, MixtureExplorer, MixturePair, assistant_runs,
};
use crate::views::palette;
use crate::views::state::{AssistantOptions as Options, ToyState};
use egui::{Color32, Id, RichText, Ui};
use egui_plot::{Corner, Legend, Line, LineStyle, PlotPoints, Points};

/// Above this many classes p and q are lines instead of points.
const MAX_POINTS: usize = 200;
const MIN_CELL_H: f32 = 170.0;

/// The assistant distribution in the run panels.
const ASSISTANT: Color32 = palette::ASSISTANT;

/// AMiD's illustration's student when no fit provides one (the teacher keeps its colour, the
/// mixtures take the assistant's hue).
const DEMO_STUDENT: Color32 = palette::AUX[1];
/// The free α's curve.
const F6_FREE: Color32 = Color32::from_rgb(0x11, 0x11, 0x11);

pub fn assistant_ui(ui: &mut Ui, cx: &ViewCtx, state: &mut ToyState) {
    let mut opts = state.assistant;
    let runs = assistant_runs(cx.result);
    let explorer = runs.is_empty() || opts.explorer;
    if !cx.figure {
        ui.horizontal_wrapped(|ui| {
            if !runs.is_empty() {
                ui.selectable_value(&mut opts.explorer, false, "TAID / AMiD runs");
                ui.selectable_value(&mut opts.explorer, true, "α-mixture explorer");
                ui.separator();
            }
            if explorer {
                ui.add(egui::Slider::new(&mut opts.lambda, 0.0..=1.0).text("λ (teacher weight)"))
                    .on_hover_text("AMiD's λ: the teacher's weight in every mixture");
                ui.add(egui::Slider::new(&mut opts.alpha, -5.0..=5.0).text("free α"))
                    .on_hover_text("A free α, drawn next to the fixed ones");
                ui.checkbox(&mut opts.panels, "one panel per α");
                if !cx.continuous() && cx.runs() > 0 {
                    ui.checkbox(&mut state.dist.log_y, "log y");
                    ui.checkbox(&mut state.dist.sorted, "sort by teacher");
                }
            } else {
                ui.checkbox(&mut state.dist.log_y, "log y");
                if !cx.continuous() {
                    ui.checkbox(&mut state.dist.sorted, "sort by teacher");
                }
            }
        });
    }
    state.assistant = opts;
    if explorer {
        explorer_ui(ui, cx, state, &opts);
    } else {
        runs_ui(ui, cx, state, &runs);
    }
}

// ------------------------------------------------------------------------------------------------
// TAID / AMiD runs

fn runs_ui(ui: &mut Ui, cx: &ViewCtx, state: &ToyState, runs: &[usize]) {
    let log = state.dist.log_y;
    let ClassAxis {
        order,
        xs,
        x_label,
        continuous,
        ..
    } = ClassAxis::new(cx, state.dist.sorted);
    let points = !continuous && order.len() <= MAX_POINTS;

    // The key: what the three series are (the panels carry no legend).
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        ui.label(RichText::new(format!("epoch {}", cx.epoch)).strong());
        let (dot, ring) = if points {
            (Swatch::Dot, Swatch::Ring)
        } else {
            (Swatch::Line, Swatch::Line)
        };
        key_item(ui, dot, palette::TEACHER, "teacher p");
        let student = cx.colors.get(runs[0]).copied().unwrap_or(Color32::GRAY);
        key_item(ui, ring, student, "student q (run colour)");
        key_item(
            ui,
            Swatch::Thick,
            ASSISTANT,
            "assistant: TAID's p_t / AMiD's r",
        );
    });

    let n = runs.len();
    // Each plot about 1.6 times as wide as it is high.
    let (cols, rows, h) = grid_shape(n, ui.available_size(), MIN_CELL_H, |w, h| w / h / 1.6);
    let link = ui.scope_id().with("assistant-x");
    cell_grid(ui, "assistant-scroll", n, cols, rows, h, |ui, i| {
        compact_cell(ui, h);
        let panel = Panel {
            order: &order,
            xs: &xs,
            x_label,
            log,
            points,
            continuous,
            link,
        };
        run_panel(ui, cx, runs[i], &panel, h);
    });
}

/// The x axis shared by the run panels.
struct Panel<'a> {
    order: &'a [usize],
    xs: &'a [f64],
    x_label: &'static str,
    log: bool,
    points: bool,
    continuous: bool,
    /// Links the x axes of the panels.
    link: Id,
}

impl Panel<'_> {
    fn series(&self, v: &[f64]) -> Vec<[f64; 2]> {
        let pts = self
            .order
            .iter()
            .zip(self.xs)
            .filter_map(|(&k, &x)| {
                let y = y_value(*v.get(k)?, self.log);
                y.is_finite().then_some([x, y])
            })
            .collect();
        super::common::envelope(pts, super::common::WIDE_PLOT_PX)
    }
}

/// `−3`, `0`, `0.5` with a typographic minus.
fn signed(v: f64) -> String {
    format!("{v}").replace('-', "−")
}

fn run_panel(ui: &mut Ui, cx: &ViewCtx, run: usize, panel: &Panel, height: f32) {
    let color = cx.colors.get(run).copied().unwrap_or(Color32::GRAY);
    let AssistantPanel {
        student, assistant, ..
    } = AssistantPanel::new(cx.result, run, cx.epoch);
    ui.horizontal(|ui| {
        let name =
            egui::Label::new(RichText::new(cx.loss(run).label()).color(color).strong()).truncate();
        let note = assistant
            .as_ref()
            .map_or("no student at this epoch", |a| &a.1);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(RichText::new(note).weak());
            ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                ui.add(name).on_hover_text(cx.loss(run).to_string())
            });
        });
    });
    let mut plot = base_plot(("assistant", run), panel.x_label, "probability")
        .height((height - 22.0).max(80.0))
        .link_axis(panel.link, [true, false])
        .custom_x_axes(vec![x_axis(panel.x_label)])
        .x_grid_spacer(grid_125(if panel.continuous { 0.0 } else { 1.0 }));
    plot = if panel.log {
        plot.custom_y_axes(vec![y_axis("probability", log_tick)])
    } else {
        plot.include_y(0.0)
            .custom_y_axes(vec![y_axis("probability", tick)])
            .y_grid_spacer(grid_125(0.0))
    };
    let p = cx.p();
    plot.show(ui, |pu| {
        // Discrete: the teacher filled, the student hollow (their colours can be close, e.g. TAID's
        // teal next to the teacher's blue); the assistant a line.
        let mut draw = |v: &[f64], c: Color32, kind: u8| {
            let pts = panel.series(v);
            if panel.points && kind < 2 {
                pu.points(
                    Points::new("", pts)
                        .color(c)
                        .radius(if kind == 0 { 2.2 } else { 2.8 })
                        .filled(kind == 0)
                        .allow_hover(false),
                );
            } else {
                pu.line(
                    Line::new("", PlotPoints::new(pts))
                        .color(c)
                        .width(if kind == 2 { 2.2 } else { 1.6 })
                        .allow_hover(false),
                );
            }
        };
        draw(p, palette::TEACHER, 0);
        if let Some(s) = &student {
            draw(&s.p, color, 1);
        }
        if let Some((r, _)) = &assistant {
            draw(&r.p, ASSISTANT, 2);
        }
    });
}

// ------------------------------------------------------------------------------------------------
// The α-mixture explorer (AMiD's illustration)

fn alpha_name(alpha: f64) -> String {
    let a = if alpha == 0.0 {
        "0".to_string()
    } else if alpha.fract() == 0.0 {
        format!("{alpha:+}")
    } else {
        format!("{alpha:+.2}")
    };
    let a = a.replace('-', "−");
    if alpha == -1.0 {
        format!("α = {a} (m-mixture)")
    } else if alpha == 1.0 {
        format!("α = {a} (e-mixture)")
    } else {
        format!("α = {a}")
    }
}

fn explorer_ui(ui: &mut Ui, cx: &ViewCtx, state: &ToyState, opts: &Options) {
    let lambda = opts.lambda;
    let explorer = MixtureExplorer::new(MixturePair::of(cx.result, cx.epoch), lambda, opts.alpha);
    let pair = &explorer.pair;
    let log = state.dist.log_y && !pair.demo;
    let sorted = state.dist.sorted && !pair.demo;
    let source = if pair.demo {
        format!(
            "AMiD's illustration: p = N({}, {}²), q = N({}, {}²)",
            signed(DEMO_P.0),
            DEMO_P.1,
            signed(DEMO_Q.0),
            DEMO_Q.1
        )
    } else {
        format!(
            "p = teacher, q = {} at epoch {}",
            cx.divergence(0),
            cx.epoch
        )
    };
    ui.label(
        RichText::new(format!(
            "{source};  r = (λ p^s + (1−λ) q^s)^(1/s) / Z,  s = (1−α)/2,  λ = {lambda:.2}"
        ))
        .weak(),
    );
    // The fixed α in a ramp of the assistant's hue, then the free one.
    let ramp = palette::ramp(ASSISTANT, explorer.mixtures.len().saturating_sub(1));
    let mixtures: Vec<(String, Color32, &LogDist)> = explorer
        .mixtures
        .iter()
        .enumerate()
        .map(|(i, (a, r))| match ramp.get(i) {
            Some(&c) => (alpha_name(*a), c, r),
            None => (
                format!("{} (slider)", alpha_name(*a)),
                ink(ui.ctx(), F6_FREE),
                r,
            ),
        })
        .collect();
    let y_label = if pair.demo { "density" } else { "probability" };
    let x_label = if pair.demo {
        "x"
    } else if sorted {
        "class (by teacher rank)"
    } else {
        "class"
    };
    // Plot position → class.
    let order: Vec<usize> = if sorted {
        cx.result.regions.order.clone()
    } else {
        (0..pair.xs.len()).collect()
    };
    let curve = |v: &[f64]| -> Vec<[f64; 2]> {
        let pts = order
            .iter()
            .enumerate()
            .filter_map(|(i, &k)| {
                let x = if sorted { i as f64 } else { pair.xs[k] };
                let y = y_value(v[k] * pair.scale, log);
                y.is_finite().then_some([x, y])
            })
            .collect();
        super::common::envelope(pts, super::common::WIDE_PLOT_PX)
    };
    let fill = !log;
    let student = if pair.demo {
        DEMO_STUDENT
    } else {
        cx.colors.first().copied().unwrap_or(DEMO_STUDENT)
    };
    let base = |pu: &mut egui_plot::PlotUi<'_>| {
        for (name, c, v) in [
            ("teacher p", palette::TEACHER, &pair.p.p),
            ("student q", student, &pair.q.p),
        ] {
            let mut line = Line::new(name, PlotPoints::new(curve(v)))
                .color(c)
                .width(1.8)
                .allow_hover(false);
            if fill {
                line = line.fill(0.0).fill_alpha(0.12);
            }
            pu.line(line);
        }
    };
    // A smaller legend where the plot is small, so that it covers less of the curves.
    let legend_text = if ui.available_width() < 700.0 || opts.panels {
        egui::TextStyle::Small
    } else {
        egui::TextStyle::Body
    };
    let style = |plot: egui_plot::Plot<'static>| {
        let plot = plot
            .legend(
                Legend::default()
                    .position(Corner::RightTop)
                    .follow_insertion_order(true)
                    .text_style(legend_text.clone()),
            )
            .custom_x_axes(vec![x_axis(x_label)])
            .x_grid_spacer(grid_125(if pair.demo { 0.0 } else { 1.0 }));
        if log {
            plot.custom_y_axes(vec![y_axis(y_label, log_tick)])
        } else {
            plot.include_y(0.0)
                .custom_y_axes(vec![y_axis(y_label, tick)])
                .y_grid_spacer(grid_125(0.0))
        }
    };
    if !opts.panels {
        let h = ui.available_height().max(160.0);
        style(base_plot("assistant-explorer", x_label, y_label))
            .height(h)
            .show(ui, |pu| {
                base(pu);
                for (i, (name, c, r)) in mixtures.iter().enumerate() {
                    let free = i == mixtures.len() - 1;
                    let mut line = Line::new(name.clone(), PlotPoints::new(curve(&r.p)))
                        .color(*c)
                        .width(if free { 2.0 } else { 2.4 })
                        .allow_hover(false);
                    if free {
                        line = line.style(LineStyle::Dashed { length: 8.0 });
                    }
                    pu.line(line);
                }
            });
        return;
    }
    // One panel per α, like AMiD's figure, on shared axes.
    let n = mixtures.len();
    let avail = ui.available_size();
    let cols = if avail.x > 3.0 * 240.0 { 3 } else { 2 };
    let rows = n.div_ceil(cols);
    let h = ((avail.y - GAP * (rows as f32 - 1.0)) / rows as f32 - 4.0).max(140.0);
    // Shared axes, as in AMiD's figure: every panel spans the highest curve of all.
    let top = mixtures
        .iter()
        .map(|m| &m.2.p)
        .chain([&pair.p.p, &pair.q.p])
        .flat_map(|v| curve(v))
        .map(|pt| pt[1])
        .fold(f64::NEG_INFINITY, f64::max);
    cell_grid(ui, "explorer-scroll", n, cols, rows, h, |ui, i| {
        let (name, c, r) = &mixtures[i];
        style(base_plot(("assistant-explorer", i), x_label, y_label))
            .height(h)
            .include_y(if top.is_finite() { top } else { 0.0 })
            .show(ui, |pu| {
                base(pu);
                pu.line(
                    Line::new(name.clone(), PlotPoints::new(curve(&r.p)))
                        .color(*c)
                        .width(2.4)
                        .allow_hover(false),
                );
            });
    });
}

#[cfg(test)]
mod tests {
    use super::super::gradient::tests::{assert_drawn, fit, render};
    use super::*;
    #[test]
    fn the_sliders_set_lambda_and_the_free_alpha() {
        use egui::accesskit::Role;
        use egui_kittest::kittest::Queryable;
        let result = fit("minillm-gmm", 5);
        let colors = vec![Color32::RED; result.runs.len()];
        let mut h = egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
            .with_size(egui::vec2(900.0, 600.0))
            .build_ui_state(
                |ui, state: &mut ToyState| {
                    let cx = ViewCtx::new(&result, &colors, 0);
                    assistant_ui(ui, &cx, state);
                },
                ToyState::default(),
            );
        h.run();
        h.get_by_role_and_label(Role::Slider, "λ (teacher weight)")
            .set_value_accesskit(0.6);
        h.get_by_role_and_label(Role::Slider, "free α")
            .set_value_accesskit(-2.0);
        h.run();
        let opts = h.state().assistant;
        assert!((opts.lambda - 0.6).abs() < 1e-9);
        assert!((opts.alpha + 2.0).abs() < 1e-9);
    }

    #[test]
    fn renders_runs_and_the_explorer() {
        let cases = [
            ("amid-alpha-mixtures", 50, false),
            ("taid-schedule", 10, false),
            ("taid-schedule", 50, true),
            ("longtail-all-divergences", 10, false),
            ("minillm-gmm", 50, false),
            ("zipf-1000", 10, true),
            ("akl-fig3-longtail", 10, false),
        ];
        for (preset, epoch, log) in cases {
            let result = fit(preset, 60);
            let log_name = if log { "-log" } else { "" };
            let image = render(
                &format!("assistant-{preset}-{epoch}{log_name}"),
                &result,
                epoch,
                if preset.starts_with("akl") {
                    egui::vec2(620.0, 400.0)
                } else {
                    egui::vec2(1100.0, 700.0)
                },
                |ui, cx, state| {
                    state.dist.log_y = log;
                    state.dist.sorted = log;
                    assistant_ui(ui, cx, state)
                },
            );
            assert_drawn(&image);
        }
        // The explorer in panels, on the demo (continuous teacher, no TAID/AMiD run).
        let result = fit("minillm-gmm", 5);
        let image = render(
            "assistant-explorer-panels-dark",
            &result,
            0,
            egui::vec2(1100.0, 700.0),
            |ui, cx, state| {
                state.assistant.panels = true;
                assistant_ui(ui, cx, state)
            },
        );
        assert_drawn(&image);
    }
}
