//! Figures for talks: any view, or a paper-style layout (epochs as panels, divergences × epochs), drawn
//! by the same view code as the app and exported as PNG (any scale), SVG (vector), GIF or APNG (the
//! epoch animation) and CSV (the data behind it).

pub mod anim;
pub mod caption;
pub mod format;
pub mod raster;
pub mod real;
pub mod svg;

pub use anim::{AnimFormat, write_animation};

use crate::io::csv::Quoted;
use crate::toy::analysis::abplane::AbPlane;
use crate::toy::analysis::assistant::{self, AssistantPanel, MixtureExplorer, MixturePair};
use crate::toy::analysis::gradient::RunGradient;
use crate::toy::analysis::landscape::{self, LandscapeGrid};
use crate::toy::{EpochRecord, FitResult, HistoryColumns, analysis};
use crate::views::distributions::{PanelStyle, Region, class_order, extent, styled_panel};
use crate::views::palette;
use crate::views::state::{Theme, ToyState, View};
use crate::views::{self, ViewCtx};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the figure arranges its panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The view as the app shows it, at the last epoch of the list.
    View,
    /// Distributions, one panel per epoch with every divergence overlaid and one shared legend
    /// (the AKL paper's figure 3).
    EpochGrid,
    /// Distributions, divergences as rows × epochs as columns.
    RowsByEpochs,
}

/// Everything that decides what a figure looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureSpec {
    pub view: View,
    pub layout: Layout,
    pub epochs: Vec<usize>,
    pub title: Option<String>,
    /// Logical size in points; the PNG is `size × scale` pixels.
    pub size: egui::Vec2,
    pub scale: f32,
    pub theme: Theme,
    pub transparent: bool,
}

impl Default for FigureSpec {
    fn default() -> Self {
        FigureSpec {
            view: View::Distributions,
            layout: Layout::View,
            epochs: Vec::new(),
            title: None,
            size: egui::vec2(960.0, 600.0),
            scale: 2.0,
            theme: Theme::Light,
            transparent: false,
        }
    }
}

fn background(theme: Theme) -> egui::Color32 {
    match theme {
        Theme::Light => egui::Color32::WHITE,
        Theme::Dark => egui::Color32::from_gray(27),
    }
}

/// The page of every figure: the background (unless transparent), a margin and the optional title.
pub fn figure_frame(
    ui: &mut egui::Ui,
    theme: Theme,
    transparent: bool,
    title: Option<&str>,
    add: impl FnOnce(&mut egui::Ui),
) {
    if !transparent {
        let ctx = ui.ctx().clone();
        ctx.layer_painter(egui::LayerId::background()).rect_filled(
            ctx.content_rect(),
            0.0,
            background(theme),
        );
    }
    egui::Frame::new().inner_margin(12.0).show(ui, |ui| {
        if let Some(title) = title {
            ui.vertical_centered(|ui| ui.heading(title));
        }
        add(ui)
    });
}

/// Draws the figure into `ui` (the same code paths as the app's views).
pub fn figure_ui(ui: &mut egui::Ui, result: &FitResult, state: &mut ToyState, spec: &FigureSpec) {
    draw_figure(ui, result, state, spec, None);
}

/// [`figure_ui`], with the axes fixed over the epochs `fixed` (an animation's frames).
fn draw_figure(
    ui: &mut egui::Ui,
    result: &FitResult,
    state: &mut ToyState,
    spec: &FigureSpec,
    fixed: Option<(usize, usize)>,
) {
    views::common::readable_text(ui.style_mut());
    let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
    let colors = palette::for_background(palette::run_colors(&divs), ui.visuals().dark_mode);
    figure_frame(
        ui,
        spec.theme,
        spec.transparent,
        spec.title.as_deref(),
        |ui| {
            let last = spec.epochs.last().copied().unwrap_or(state.epoch);
            match (spec.layout, spec.view) {
                (Layout::EpochGrid, View::Distributions) => {
                    epoch_grid(ui, result, &colors, state, &spec.epochs)
                }
                (Layout::RowsByEpochs, View::Distributions) => {
                    rows_by_epochs(ui, result, &colors, state, &spec.epochs)
                }
                _ => {
                    let mut cx = ViewCtx::new(result, &colors, last).for_figure();
                    if let Some((first, last)) = fixed {
                        cx = cx.with_fixed_axes(first, last);
                    }
                    views::view_ui(ui, spec.view, &cx, state);
                }
            }
        },
    );
}

/// The y ranges every panel of a paper layout shares (the whole plot, the tail inset): the teacher and
/// every run over the layout's epochs, so that the panels compare at a glance.
fn shared_extents(
    ui: &egui::Ui,
    result: &FitResult,
    colors: &[egui::Color32],
    epochs: &[usize],
) -> (views::distributions::Extent, views::distributions::Extent) {
    let cx = ViewCtx::new(result, colors, epochs.first().copied().unwrap_or(0)).for_figure();
    let runs: Vec<usize> = (0..result.runs.len()).collect();
    let epochs: Vec<usize> = epochs
        .iter()
        .map(|&e| analysis::clamp_epoch(result, e))
        .collect();
    (
        extent(ui.ctx(), &cx, &runs, Region::All, &epochs),
        extent(ui.ctx(), &cx, &runs, Region::FarTail, &epochs),
    )
}

/// A panel title of the paper layouts (panels of the distributions view): `epoch 10 / 800`.
fn epoch_title(cx: &ViewCtx) -> String {
    views::epoch_stamp(cx, View::Distributions)
}

fn epoch_grid(
    ui: &mut egui::Ui,
    result: &FitResult,
    colors: &[egui::Color32],
    state: &ToyState,
    epochs: &[usize],
) {
    let n = epochs.len().max(1);
    let cols = if n == 4 { 2 } else { n.min(4) };
    let rows = n.div_ceil(cols);
    let w = ui.available_width() / cols as f32 - 8.0;
    let h = ui.available_height() / rows as f32 - 8.0;
    let runs: Vec<usize> = (0..result.runs.len()).collect();
    // The AKL figure puts its tail inset on the third panel (epoch 10).
    let inset_at = if n >= 3 { 2 } else { n - 1 };
    let mut opts = state.dist;
    opts.overlay = true;
    let (y, _) = shared_extents(ui, result, colors, epochs);
    egui::Grid::new("figure-epochs")
        .spacing([8.0, 8.0])
        .show(ui, |ui| {
            for (i, &e) in epochs.iter().enumerate() {
                let cx = ViewCtx::new(result, colors, e).for_figure();
                let order = class_order(&cx, &opts);
                let style = PanelStyle {
                    title: Some((epoch_title(&cx), ui.visuals().strong_text_color())),
                    legend: i == 0,
                    inset: opts.tail_inset && i == inset_at,
                    y: Some(y),
                    // The one inset zooms on its own epoch (sharing is for insets side by side).
                    inset_y: None,
                    ..PanelStyle::default()
                };
                ui.allocate_ui(egui::vec2(w, h), |ui| {
                    ui.set_min_size(egui::vec2(w, h));
                    ui.vertical(|ui| {
                        styled_panel(
                            ui,
                            &cx,
                            &opts,
                            &order,
                            &runs,
                            &format!("fig-epoch-{i}"),
                            h,
                            &style,
                        )
                    });
                });
                if (i + 1) % cols == 0 {
                    ui.end_row();
                }
            }
        });
}

fn rows_by_epochs(
    ui: &mut egui::Ui,
    result: &FitResult,
    colors: &[egui::Color32],
    state: &ToyState,
    epochs: &[usize],
) {
    let cols = epochs.len().max(1);
    let rows = result.runs.len().max(1);
    let w = ui.available_width() / cols as f32 - 8.0;
    let h = ui.available_height() / rows as f32 - 8.0;
    let opts = state.dist;
    let (y, inset_y) = shared_extents(ui, result, colors, epochs);
    egui::Grid::new("figure-rows")
        .spacing([8.0, 8.0])
        .show(ui, |ui| {
            for run in 0..result.runs.len() {
                for (j, &e) in epochs.iter().enumerate() {
                    let cx = ViewCtx::new(result, colors, e).for_figure();
                    let order = class_order(&cx, &opts);
                    let title = if j == 0 {
                        format!("{}  ·  {}", cx.loss(run).label(), epoch_title(&cx))
                    } else {
                        epoch_title(&cx)
                    };
                    let style = PanelStyle {
                        title: Some((title, colors[run])),
                        y: Some(y),
                        inset_y: Some(inset_y),
                        ..PanelStyle::default()
                    };
                    ui.allocate_ui(egui::vec2(w, h), |ui| {
                        ui.set_min_size(egui::vec2(w, h));
                        ui.vertical(|ui| {
                            styled_panel(
                                ui,
                                &cx,
                                &opts,
                                &order,
                                &[run],
                                &format!("fig-{run}-{j}"),
                                h,
                                &style,
                            )
                        });
                    });
                }
                ui.end_row();
            }
        });
}

/// Runs the figure through egui without a GPU and returns its paint list as SVG.
pub fn render_svg(result: &FitResult, state: &ToyState, spec: &FigureSpec) -> String {
    let mut state = state.clone();
    render_ui_svg(spec.size, spec.theme, spec.transparent, |ui| {
        figure_ui(ui, result, &mut state, spec)
    })
}

/// Any UI drawn in figure mode (no controls, no hover), as SVG: the real-model tab's figures use
/// this beside the toy's views.
pub fn render_ui_svg(
    size: egui::Vec2,
    theme: Theme,
    transparent: bool,
    mut draw: impl FnMut(&mut egui::Ui),
) -> String {
    let ctx = egui::Context::default();
    ctx.set_theme(egui_theme(theme));
    views::common::install_fonts(&ctx);
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        ..Default::default()
    };
    let mut out = None;
    // Plots settle their bounds and legends over a few passes.
    for _ in 0..4 {
        let mut o = ctx.run_ui(input.clone(), &mut draw);
        o.textures_delta.clear(); // no GPU here: the font atlas is not uploaded anywhere
        out = Some(o);
    }
    let shapes = out.map(|o| o.shapes).unwrap_or_default();
    let bg = (!transparent).then(|| background(theme));
    svg::to_svg(&shapes, size, bg)
}

fn egui_theme(t: Theme) -> egui::Theme {
    match t {
        Theme::Light => egui::Theme::Light,
        Theme::Dark => egui::Theme::Dark,
    }
}

/// Renders the figure offscreen with wgpu (a software adapter is fine) at `spec.scale` pixels per point.
pub fn render_png(
    result: &FitResult,
    state: &ToyState,
    spec: &FigureSpec,
) -> Result<image::RgbaImage, String> {
    let mut state = state.clone();
    let spec2 = spec.clone();
    render_ui_png(spec, move |ui| figure_ui(ui, result, &mut state, &spec2))
}

/// [`render_png`] written straight to `path`, a band of rows at a time (the CLI's PNG figures: the
/// image is never held whole).
pub fn write_png(
    result: &FitResult,
    state: &ToyState,
    spec: &FigureSpec,
    path: &std::path::Path,
) -> Result<(), String> {
    let mut state = state.clone();
    let spec2 = spec.clone();
    let mut view = offscreen(spec, move |ui| figure_ui(ui, result, &mut state, &spec2))?;
    view.harness.run_steps(4);
    view.write_png(path)
}

/// Any UI drawn in figure mode, offscreen, at `spec`'s size, scale and theme.
pub fn render_ui_png<'a>(
    spec: &FigureSpec,
    draw: impl FnMut(&mut egui::Ui) + 'a,
) -> Result<image::RgbaImage, String> {
    let mut view = offscreen(spec, draw)?;
    view.harness.run_steps(4);
    view.render()
}

/// The numbers behind a figure: the teacher and each student at the figure's epochs, then every run's
/// per-epoch history. On a continuous grid the distributions are densities (p/Δx, as the view draws
/// them), and their columns say so.
pub fn data_csv(result: &FitResult, epochs: &[usize]) -> String {
    let teacher = &result.teacher;
    let continuous = teacher.components.is_some();
    let factors = if continuous {
        views::distributions::grid_density_factors(&teacher.xs)
    } else {
        Vec::new()
    };
    let (teacher_column, unit) = if continuous {
        ("teacher density", " density")
    } else {
        ("teacher", "")
    };
    let mut out = format!("class,x,{teacher_column}");
    for e in epochs {
        for run in &result.runs {
            let _ = write!(
                out,
                ",{}",
                Quoted(&format!("{} @{e}{unit}", run.divergence))
            );
        }
    }
    out.push('\n');
    let scale = |k: usize, v: f64| v * factors.get(k).copied().unwrap_or(1.0);
    for k in 0..teacher.dist.len() {
        let _ = write!(out, "{k},{},{}", teacher.xs[k], scale(k, teacher.dist.p[k]));
        for &e in epochs {
            for run in &result.runs {
                let q = analysis::q_at(run, e).get(k).copied();
                let _ = write!(out, ",{}", q.map_or(f64::NAN, |q| scale(k, q)));
            }
        }
        out.push('\n');
    }
    out.push('\n');
    let histories = result
        .runs
        .iter()
        .map(|r| (&r.divergence, r.history.as_slice()));
    // Writing to a String cannot fail.
    let _ = EpochRecord::write_csv(histories, HistoryColumns::Metrics, &mut out);
    out
}

/// The numbers the view draws at `epochs`, as CSV: the distributions, head/tail and loss views give
/// [`data_csv`]; the gradient, landscape, αβ-plane and assistant views the CSV of their analysis
/// (see [`crate::toy::analysis`]). An error when the view has nothing to export for this fit (a
/// landscape without a Gaussian student).
pub fn view_csv(result: &FitResult, view: View, epochs: &[usize]) -> Result<String, String> {
    let mut out = String::new();
    let written = match view {
        View::Distributions | View::HeadTail | View::Loss => return Ok(data_csv(result, epochs)),
        View::Gradient => RunGradient::write_csv(result, epochs, &mut out),
        View::Landscape => {
            LandscapeGrid::new(result, epochs, landscape::default_threads())?.write_csv(&mut out)
        }
        View::AbPlane => AbPlane::new(result, epochs).write_csv(&mut out),
        View::Assistant if assistant::assistant_runs(result).is_empty() => {
            // The α-mixture explorer at its starting λ and free α.
            let epoch = analysis::clamp_epoch(result, epochs.last().copied().unwrap_or(0));
            MixtureExplorer::new(
                MixturePair::of(result, epoch),
                assistant::DEFAULT_LAMBDA,
                assistant::DEFAULT_FREE_ALPHA,
            )
            .write_csv(&mut out)
        }
        View::Assistant => AssistantPanel::write_csv(result, epochs, &mut out),
        View::Contours => analysis::contours::write_csv(result, epochs, &mut out),
        View::Sees => analysis::sees::Sees::write_csv(result, epochs, &mut out),
    };
    written.map_err(|e| format!("cannot write the CSV: {e}"))?;
    Ok(out)
}

/// How a frame-by-frame render ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every frame was rendered (how many).
    Done(usize),
    /// `cancel` was set; this many frames had been rendered.
    Cancelled(usize),
}

/// Renders one frame per epoch with a single offscreen renderer (the animations) and hands each to
/// `on_frame(index, image)` as soon as it is drawn; stops before the next frame once `cancel` is set.
pub fn render_frames(
    result: &FitResult,
    state: &ToyState,
    spec: &FigureSpec,
    epochs: &[usize],
    cancel: &AtomicBool,
    on_frame: &mut dyn FnMut(usize, image::RgbaImage) -> Result<(), String>,
) -> Result<Outcome, String> {
    if cancel.load(Ordering::Relaxed) {
        return Ok(Outcome::Cancelled(0));
    }
    let current = std::rc::Rc::new(std::cell::Cell::new(epochs.first().copied().unwrap_or(0)));
    let shown = current.clone();
    let mut state = state.clone();
    let base = spec.clone();
    // Every frame on the same axes: the range of all the animation's epochs.
    let span = epochs
        .iter()
        .min()
        .copied()
        .zip(epochs.iter().max().copied());
    let mut view = offscreen(spec, move |ui| {
        let frame = FigureSpec {
            epochs: vec![shown.get()],
            layout: Layout::View,
            ..base.clone()
        };
        draw_figure(ui, result, &mut state, &frame, span)
    })?;
    for (i, &e) in epochs.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(Outcome::Cancelled(i));
        }
        current.set(e);
        view.harness.run_steps(2);
        let img = view
            .render()
            .map_err(|err| format!("cannot render frame {i} (epoch {e}): {err}"))?;
        on_frame(i, img)?;
    }
    Ok(Outcome::Done(epochs.len()))
}

/// The default size in points of a figure: the app's view proportions, or room for every panel of a
/// layout (`epochs` panels; `runs` rows for divergences × epochs).
pub fn default_size(layout: Layout, epochs: usize, runs: usize) -> egui::Vec2 {
    match layout {
        Layout::View => egui::vec2(960.0, 600.0),
        Layout::EpochGrid => egui::vec2(1100.0, 760.0),
        Layout::RowsByEpochs => egui::vec2(
            (300 * epochs.max(1) + 40) as f32,
            (220 * runs.max(1) + 60) as f32,
        ),
    }
}

/// An egui harness drawing in figure mode and the renderer that turns its frames into images.
struct Offscreen<'a> {
    harness: egui_kittest::Harness<'a>,
    renderer: raster::SharedRenderer,
}

impl Offscreen<'_> {
    /// The last frame as an image.
    fn render(&self) -> Result<image::RgbaImage, String> {
        self.renderer
            .render(&self.harness.ctx, self.harness.output())
    }

    /// The last frame written to `path` as PNG, without holding the image.
    fn write_png(&self, path: &std::path::Path) -> Result<(), String> {
        self.renderer
            .write_png(&self.harness.ctx, self.harness.output(), path)
    }
}

/// An offscreen egui renderer of `spec`'s size, scale and theme, drawing in figure mode; an error when
/// the image would be over [`raster::MAX_PIXELS`] or there is no adapter to draw with.
fn offscreen<'a>(
    spec: &FigureSpec,
    draw: impl FnMut(&mut egui::Ui) + 'a,
) -> Result<Offscreen<'a>, String> {
    raster::check_pixels(spec.size, spec.scale)?;
    let renderer = raster::SharedRenderer::new()?;
    let harness = egui_kittest::Harness::builder()
        .with_size(spec.size)
        .with_pixels_per_point(spec.scale)
        .with_theme(egui_theme(spec.theme))
        .with_context_setup(views::common::install_fonts)
        // A character no font has draws a box in the app; a figure does the same rather than abort
        // (kittest's default panics).
        .allow_missing_glyphs()
        .renderer(renderer.clone())
        .build_ui(draw);
    Ok(Offscreen { harness, renderer })
}
