//! Loss landscape of a Gaussian student: every divergence's value over (μ, log σ) as a heatmap with
//! iso-lines, the optimiser's path through it, and the grid's local minima.
//!
//! A map costs `N²` divergence evaluations over the whole teacher grid, far too slow for a frame, so
//! the maps are computed on a background thread once per (teacher, divergence, window) and kept in
//! egui's temp memory; the panels show a spinner until theirs is ready.

use super::ViewCtx;
use super::common::base_plot;
use super::ticks::{step_125, tick_125, uniform_grid_125};
use crate::math::{Divergence, LogDist, Workspace, check_classes, value_and_grad};
use crate::toy::Student;
use crate::views::state::ToyState;
use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{HoverPosition, Line, MarkerShape, PlotImage, PlotPoint, Points};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Cells per axis of a map.
const CELLS: usize = 64;
/// At most this many panels.
const MAX_PANELS: usize = 12;
/// Number of iso-lines per map.
const ISO_LEVELS: usize = 9;

/// The (μ, log σ) window a map covers; samples sit at the cell centres.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    mu: [f64; 2],
    ls: [f64; 2],
    n: usize,
}

impl Window {
    fn dmu(&self) -> f64 {
        (self.mu[1] - self.mu[0]) / self.n as f64
    }

    fn dls(&self) -> f64 {
        (self.ls[1] - self.ls[0]) / self.n as f64
    }

    fn mu_at(&self, i: usize) -> f64 {
        self.mu[0] + (i as f64 + 0.5) * self.dmu()
    }

    fn ls_at(&self, j: usize) -> f64 {
        self.ls[0] + (j as f64 + 0.5) * self.dls()
    }

    /// The cell holding a point, if it is inside the window.
    fn cell_of(&self, mu: f64, ls: f64) -> Option<(usize, usize)> {
        let i = ((mu - self.mu[0]) / self.dmu()).floor();
        let j = ((ls - self.ls[0]) / self.dls()).floor();
        let n = self.n as f64;
        (i >= 0.0 && j >= 0.0 && i < n && j < n).then_some((i as usize, j as usize))
    }

    fn point(&self, idx: usize) -> [f64; 2] {
        [self.mu_at(idx % self.n), self.ls_at(idx / self.n)]
    }
}

/// One divergence's landscape, ready to draw.
struct Map {
    /// Row `j` (log σ) after row: `values[j * n + i]`.
    values: Vec<f64>,
    /// Index of the smallest finite cell.
    global: Option<usize>,
    /// Interior cells strictly below their 8 neighbours.
    minima: Vec<usize>,
    min: f64,
    max: f64,
    /// The colour scale is `log10(D − min + delta)`.
    delta: f64,
    /// Iso-lines of the colour field, as polylines.
    contours: Vec<(Color32, Vec<[f64; 2]>)>,
    image: ColorImage,
    /// Cells where D is infinite (a teacher with zeros under RKL, for example).
    infinite: usize,
}

/// The maps of one fit result, computed off the UI thread.
struct Job {
    /// Teacher and window: maps with the same base key and divergence are interchangeable.
    base: u64,
    key: u64,
    window: Window,
    divs: Vec<Divergence>,
    errors: Vec<Option<String>>,
    maps: Mutex<Vec<Option<Arc<Map>>>>,
    textures: Mutex<Vec<Option<TextureHandle>>>,
    /// Evaluations done and to do, for the progress text.
    done: AtomicUsize,
    total: usize,
    cancel: AtomicBool,
}

impl Map {
    /// The position and value of the minimum near cell `k`, refined by a parabola through the cell
    /// and its two neighbours along each axis (the cell centre on the border or on a flat spot).
    fn refined(&self, w: &Window, k: usize) -> ([f64; 2], f64) {
        let n = w.n;
        let (i, j) = (k % n, k / n);
        let f0 = self.values[k];
        let mut at = w.point(k);
        let mut value = f0;
        let mut fit = |fm: f64, fp: f64, step: f64, coord: &mut f64| {
            let curv = fm - 2.0 * f0 + fp;
            if fm.is_finite() && fp.is_finite() && curv > 0.0 {
                let d = 0.5 * (fm - fp) / curv;
                if d.abs() <= 0.5 {
                    *coord += d * step;
                    value -= 0.125 * (fm - fp) * (fm - fp) / curv;
                }
            }
        };
        if i > 0 && i + 1 < n {
            fit(self.values[k - 1], self.values[k + 1], w.dmu(), &mut at[0]);
        }
        if j > 0 && j + 1 < n {
            fit(self.values[k - n], self.values[k + n], w.dls(), &mut at[1]);
        }
        (at, value.min(f0))
    }
}

impl Job {
    fn map(&self, k: usize) -> Option<Arc<Map>> {
        self.maps.lock().ok()?.get(k).cloned().flatten()
    }

    fn ready(&self) -> usize {
        self.maps
            .lock()
            .map_or(0, |m| m.iter().filter(|m| m.is_some()).count())
    }
}

/// Where the views keep the current job (one for the app: tabs and grid share it).
fn cache_id() -> egui::Id {
    egui::Id::unique("kdviz-landscape-job")
}

/// The divergence the map shows for a run: TAID with a schedule uses its fixed starting t.
fn landscape_div(d: &Divergence) -> Divergence {
    match *d {
        Divergence::Taid {
            schedule: Some(s), ..
        } => Divergence::Taid {
            t: s.t_start,
            schedule: None,
        },
        other => other,
    }
}

pub fn landscape_ui(ui: &mut egui::Ui, cx: &ViewCtx, _state: &mut ToyState) {
    if cx.runs() == 0 {
        ui.label("No divergence is enabled.");
        return;
    }
    if cx.record(0).mu.is_none() {
        ui.add_space(8.0);
        ui.label(
            "The loss landscape plots each divergence over the two parameters (μ, log σ) of a \
             Gaussian student. This fit's student has free logits (one per class), so there is no \
             two-dimensional landscape to draw.",
        );
        ui.add_space(4.0);
        ui.label(egui::RichText::new("Choose Student: Gaussian in the side panel.").strong());
        return;
    }
    let window = window_for(cx);
    let job = ensure_job(ui.ctx(), cx, window);
    if cx.figure {
        // A figure is drawn once: wait for the maps instead of showing a spinner.
        let t0 = std::time::Instant::now();
        while job.ready() < job.divs.len() && t0.elapsed() < std::time::Duration::from_secs(120) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let shown = cx.runs().min(MAX_PANELS);

    let ready = job.ready();
    ui.horizontal_wrapped(|ui| {
        key_ui(ui);
        if ready < job.divs.len() {
            let frac = job.done.load(Ordering::Relaxed) as f32 / job.total.max(1) as f32;
            ui.spinner();
            ui.label(
                egui::RichText::new(format!("computing {:.0}%", 100.0 * frac.min(1.0))).small(),
            );
        }
        if cx.runs() > MAX_PANELS {
            ui.label(
                egui::RichText::new(format!("showing the first {MAX_PANELS} divergences")).small(),
            );
        }
    });

    let avail = ui.available_size();
    let (cols, rows) = panel_grid(shown, avail);
    let w = (avail.x / cols as f32 - 6.0).max(80.0);
    let h = (avail.y / rows as f32 - 6.0).max(100.0);
    let link = ui.make_persistent_id("landscape-link");
    egui::Grid::new("landscape-grid")
        .spacing([6.0, 6.0])
        .show(ui, |ui| {
            for run in 0..shown {
                ui.allocate_ui(egui::vec2(w, h), |ui| {
                    ui.set_min_size(egui::vec2(w, h));
                    ui.set_max_width(w);
                    ui.vertical(|ui| panel(ui, cx, &job, run, [w, h], link));
                });
                if (run + 1) % cols == 0 {
                    ui.end_row();
                }
            }
        });
}

/// Columns and rows that make the panels as large (and as square) as the area allows.
fn panel_grid(n: usize, avail: egui::Vec2) -> (usize, usize) {
    let mut best = (1, n.max(1));
    let mut best_side = 0.0;
    for cols in 1..=n.max(1) {
        let rows = n.div_ceil(cols);
        let side = (avail.x / cols as f32).min(avail.y / rows as f32);
        if side > best_side + 1.0 {
            best = (cols, rows);
            best_side = side;
        }
    }
    best
}

/// One divergence's heatmap with its iso-lines, minima and the run's path.
fn panel(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    job: &Arc<Job>,
    run: usize,
    [width, height]: [f32; 2],
    link: egui::Id,
) {
    let w = job.window;
    let div = cx.divergence(run);
    let color = cx.colors[run];
    let map = job.map(run);
    ui.horizontal(|ui| {
        let title = ui.add(
            egui::Label::new(egui::RichText::new(div.to_string()).color(color).strong()).truncate(),
        );
        let mut notes = vec![div.to_string()];
        if let Divergence::Taid {
            schedule: Some(s), ..
        } = div
        {
            notes.push(format!(
                "TAID with a t schedule: the landscape is drawn at the fixed t = t_start = {}; the \
                 fit moved t along the epochs, so its path follows a changing surface.",
                s.t_start
            ));
        }
        if !div.is_true_gradient() {
            notes.push(
                "This divergence's update is not the gradient of its value (stop-gradient or \
                 sub-gradient), so the path need not run straight downhill here."
                    .to_string(),
            );
        }
        title.on_hover_text(notes.join("\n\n"));
        if let Some(m) = &map
            && let Some(g) = m.global
        {
            let ([mu, ls], min) = m.refined(&w, g);
            let mut scale = format!(
                "D from {} to {} on this window; colour log₁₀(D − D_min + δ), δ = {}",
                fmt_value(m.min),
                fmt_value(m.max),
                fmt_value(m.delta)
            );
            if m.infinite > 0 {
                scale.push_str(&format!("\nD is infinite on {} cells (grey)", m.infinite));
            }
            ui.add(
                egui::Label::new(
                    egui::RichText::new(format!(
                        "min {} at μ={mu:.2}, σ={:.2}",
                        fmt_value(min),
                        ls.exp()
                    ))
                    .small()
                    .weak(),
                )
                .truncate(),
            )
            .on_hover_text(scale);
        }
        if let Some(e) = &job.errors[run] {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
    let history = cx.history(run);
    let hover_map = map.clone();
    let plot = base_plot(("landscape", run), "μ", "log σ")
        .width(width)
        .height((height - 22.0).max(60.0))
        .x_grid_spacer(uniform_grid_125(70.0))
        .y_grid_spacer(uniform_grid_125(45.0))
        .x_axis_formatter(tick_125)
        .y_axis_formatter(tick_125)
        .include_x(w.mu[0])
        .include_x(w.mu[1])
        .include_y(w.ls[0])
        .include_y(w.ls[1])
        .set_margin_fraction(egui::vec2(0.0, 0.0))
        .show_grid(false)
        .link_axis(link, true)
        .link_cursor(link, true)
        .label_formatter(move |pos| hover_text(pos, &w, hover_map.as_deref(), history));
    let response = plot.show(ui, |pu| {
        if let Some(m) = &map {
            let tex = texture(pu.ctx(), job, run, m);
            let center = PlotPoint::new(0.5 * (w.mu[0] + w.mu[1]), 0.5 * (w.ls[0] + w.ls[1]));
            let size = egui::vec2((w.mu[1] - w.mu[0]) as f32, (w.ls[1] - w.ls[0]) as f32);
            pu.image(PlotImage::new("", tex.id(), center, size).allow_hover(false));
            for (k, (color, c)) in m.contours.iter().enumerate() {
                pu.line(
                    Line::new("", c.clone())
                        .id(("iso", k))
                        .color(*color)
                        .width(1.0)
                        .allow_hover(false),
                );
            }
        }
        // The path with a white halo, so that it reads on every colour of the map.
        let path: Vec<[f64; 2]> = history
            .iter()
            .filter_map(|r| match (r.mu, r.sigma) {
                (Some(m), Some(s)) if m.is_finite() && s.is_finite() && s > 0.0 => {
                    Some([m, s.ln()])
                }
                _ => None,
            })
            .collect();
        if path.len() == history.len() && !path.is_empty() {
            pu.line(
                Line::new("", path.clone())
                    .id("halo")
                    .color(Color32::from_white_alpha(170))
                    .width(4.0)
                    .allow_hover(false),
            );
            pu.line(
                Line::new("", path.clone())
                    .id("path")
                    .color(color)
                    .width(2.0),
            );
            pu.points(
                Points::new("", vec![path[0]])
                    .id("start")
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(4.5)
                    .color(color),
            );
        }
        if let Some(m) = &map {
            let local: Vec<[f64; 2]> = m
                .minima
                .iter()
                .filter(|&&k| Some(k) != m.global)
                .map(|&k| m.refined(&w, k).0)
                .collect();
            if !local.is_empty() {
                pu.points(
                    Points::new("", local)
                        .id("minima")
                        .shape(MarkerShape::Circle)
                        .filled(false)
                        .radius(5.0)
                        .color(Color32::WHITE),
                );
            }
        }
        let now = cx.record(run);
        if let (Some(m), Some(s)) = (now.mu, now.sigma)
            && m.is_finite()
            && s.is_finite()
            && s > 0.0
        {
            let at = vec![[m, s.ln()]];
            pu.points(
                Points::new("", at.clone())
                    .id("now-halo")
                    .radius(6.5)
                    .color(Color32::WHITE),
            );
            pu.points(Points::new("", at).id("now").radius(4.5).color(color));
        }
        // The global minimum last, an open diamond, so that a path arriving there stays visible.
        if let Some(m) = &map
            && let Some(g) = m.global
        {
            let at = vec![m.refined(&w, g).0];
            pu.points(
                Points::new("", at.clone())
                    .id("global-outline")
                    .shape(MarkerShape::Diamond)
                    .filled(false)
                    .radius(9.0)
                    .color(Color32::from_black_alpha(160)),
            );
            pu.points(
                Points::new("", at)
                    .id("global")
                    .shape(MarkerShape::Diamond)
                    .filled(false)
                    .radius(8.0)
                    .color(Color32::WHITE),
            );
        }
    });
    if map.is_none() && job.errors[run].is_none() {
        let rect = response.response.rect;
        let s = 28.0_f32.min(rect.height() * 0.3);
        egui::Spinner::new().paint_at(
            ui,
            egui::Rect::from_center_size(rect.center(), egui::vec2(s, s)),
        );
    }
}

/// The hover text: the map's value in the cell under the pointer, or the path's epoch.
fn hover_text(
    pos: &HoverPosition<'_>,
    w: &Window,
    map: Option<&Map>,
    history: &[crate::toy::EpochRecord],
) -> Option<String> {
    let (p, path_epoch) = match pos {
        // A point of the path is the record at its index (the markers are single points).
        HoverPosition::NearDataPoint {
            position, index, ..
        } => {
            let on_path = history.get(*index).is_some_and(|r| {
                r.mu == Some(position.x) && r.sigma.map(f64::ln) == Some(position.y)
            });
            (*position, on_path.then_some(*index))
        }
        HoverPosition::Elsewhere { position } => (*position, None),
    };
    if let Some(e) = path_epoch
        && let Some(r) = history.get(e)
    {
        return Some(format!(
            "epoch {e}\nμ = {:.3}\nσ = {:.3}\nD = {}",
            p.x,
            p.y.exp(),
            fmt_value(r.objective)
        ));
    }
    let mut s = format!("μ = {:.3}\nσ = {:.3} (log σ = {:.2})", p.x, p.y.exp(), p.y);
    if let Some(m) = map
        && let Some((i, j)) = w.cell_of(p.x, p.y)
    {
        s.push_str(&format!("\nD = {}", fmt_value(m.values[j * w.n + i])));
    }
    Some(s)
}

fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        "∞".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The map's texture, uploaded the first time it is drawn.
fn texture(ctx: &egui::Context, job: &Job, k: usize, map: &Map) -> TextureHandle {
    let mut textures = job.textures.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = &textures[k] {
        return t.clone();
    }
    let t = ctx.load_texture(
        format!("landscape-{}-{k}", job.key),
        map.image.clone(),
        TextureOptions::LINEAR,
    );
    textures[k] = Some(t.clone());
    t
}

/// The key above the panels: the colour scale and the markers, drawn as the plots draw them.
fn key_ui(ui: &mut egui::Ui) {
    let small = |t: &str| egui::RichText::new(t).small();
    let scale = "Colour: log₁₀(D − D_min + δ), dark = low, yellow = high. Each panel has its own \
                 scale; hover a panel's minimum for D's range and δ.";
    colour_bar(ui).on_hover_text(scale);
    ui.label(small("log₁₀(D − D_min + δ)")).on_hover_text(scale);
    ui.add_space(6.0);
    let icon = |ui: &mut egui::Ui, paint: &dyn Fn(&egui::Painter, egui::Pos2)| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(16.0, 12.0), egui::Sense::hover());
        paint(ui.painter(), rect.center());
    };
    let dark = Color32::from_rgb(0x3b, 0x2a, 0x6b);
    let ring = |p: &egui::Painter, c: egui::Pos2| {
        p.circle_filled(c, 6.0, dark);
        p.circle_stroke(c, 4.0, egui::Stroke::new(1.0, Color32::WHITE));
    };
    icon(ui, &ring);
    ui.label(small("local minimum"));
    let diamond = |p: &egui::Painter, c: egui::Pos2| {
        let pts = |r: f32| {
            vec![
                c + egui::vec2(0.0, -r),
                c + egui::vec2(r, 0.0),
                c + egui::vec2(0.0, r),
                c + egui::vec2(-r, 0.0),
            ]
        };
        p.add(egui::Shape::convex_polygon(
            pts(7.0),
            dark,
            egui::Stroke::NONE,
        ));
        p.add(egui::Shape::closed_line(
            pts(5.0),
            egui::Stroke::new(1.2, Color32::WHITE),
        ));
    };
    icon(ui, &diamond);
    ui.label(small("global minimum"));
    let line = |p: &egui::Painter, c: egui::Pos2| {
        p.line_segment(
            [c - egui::vec2(7.0, 0.0), c + egui::vec2(7.0, 0.0)],
            egui::Stroke::new(1.0, Color32::from_gray(120)),
        );
    };
    icon(ui, &line);
    ui.label(small("iso-line"));
    let path = |p: &egui::Painter, c: egui::Pos2| {
        p.line_segment(
            [c - egui::vec2(7.0, 0.0), c + egui::vec2(4.0, 0.0)],
            egui::Stroke::new(2.0, Color32::from_gray(90)),
        );
        p.circle_filled(c + egui::vec2(4.0, 0.0), 3.5, Color32::from_gray(90));
    };
    icon(ui, &path);
    ui.label(small("path")).on_hover_text(
        "The run's (μ, log σ) over the epochs: a ring at the start, a dot at the current epoch.",
    );
}

/// A small horizontal viridis strip: dark = low.
fn colour_bar(ui: &mut egui::Ui) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(70.0, 10.0), egui::Sense::hover());
    let painter = ui.painter();
    let steps = 35;
    for s in 0..steps {
        let t0 = s as f32 / steps as f32;
        let t1 = (s + 1) as f32 / steps as f32;
        let r = egui::Rect::from_min_max(
            egui::pos2(rect.left() + t0 * rect.width(), rect.top()),
            egui::pos2(rect.left() + t1 * rect.width() + 0.5, rect.bottom()),
        );
        painter.rect_filled(r, 0.0, viridis((t0 + t1) as f64 * 0.5));
    }
    painter.rect_stroke(
        rect,
        0.0,
        ui.visuals().widgets.noninteractive.bg_stroke,
        egui::StrokeKind::Outside,
    );
    response
}

/// The window: the teacher's mass and every run's path, rounded outward so that small changes of the
/// path (a new learning rate) keep the cached maps.
fn window_for(cx: &ViewCtx) -> Window {
    let xs = cx.xs();
    let p = cx.p();
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let span = (x1 - x0).abs().max(1e-9);
    let (a, b) = mass_range(xs, p, 1e-3);
    let width = (b - a).max(0.05 * span);
    let mut mu = [a - 0.15 * width, b + 0.15 * width];
    let mut ls = [(width / 50.0).ln(), (width / 1.5).ln()];
    let mut path_mu = [f64::INFINITY, f64::NEG_INFINITY];
    let mut path_ls = [f64::INFINITY, f64::NEG_INFINITY];
    for run in 0..cx.runs().min(MAX_PANELS) {
        for r in cx.history(run) {
            if let (Some(m), Some(s)) = (r.mu, r.sigma)
                && m.is_finite()
                && s.is_finite()
                && s > 0.0
            {
                path_mu = [path_mu[0].min(m), path_mu[1].max(m)];
                path_ls = [path_ls[0].min(s.ln()), path_ls[1].max(s.ln())];
            }
        }
    }
    if path_mu[0] <= path_mu[1] {
        let pad = 0.05 * (mu[1] - mu[0]);
        mu = [mu[0].min(path_mu[0] - pad), mu[1].max(path_mu[1] + pad)];
        let pad = 0.05 * (ls[1] - ls[0]);
        ls = [ls[0].min(path_ls[0] - pad), ls[1].max(path_ls[1] + pad)];
    }
    // Keep the mean on the grid, and σ between a bin and the grid's span.
    let bin = if xs.len() > 1 {
        span / (xs.len() - 1) as f64
    } else {
        1.0
    };
    mu = [mu[0].max(x0.min(x1)), mu[1].min(x0.max(x1))];
    ls = [ls[0].max(bin.ln()), ls[1].min(span.ln())];
    let step = step_125(width / 20.0, 0.0);
    mu = [(mu[0] / step).floor() * step, (mu[1] / step).ceil() * step];
    ls = [(ls[0] / 0.1).floor() * 0.1, (ls[1] / 0.1).ceil() * 0.1];
    if mu[1] - mu[0] < 1e-9 {
        mu = [mu[0] - 0.5, mu[0] + 0.5];
    }
    if ls[1] - ls[0] < 1e-9 {
        ls = [ls[0] - 0.5, ls[0] + 0.5];
    }
    Window { mu, ls, n: CELLS }
}

/// The positions between which the teacher holds all but `tail` of its mass (half on each side).
fn mass_range(xs: &[f64], p: &[f64], tail: f64) -> (f64, f64) {
    let total: f64 = p.iter().sum();
    let (mut lo, mut hi) = (xs[0], xs[xs.len() - 1]);
    let mut acc = 0.0;
    for (&x, &pk) in xs.iter().zip(p) {
        acc += pk;
        if acc >= 0.5 * tail * total {
            lo = x;
            break;
        }
    }
    acc = 0.0;
    for (&x, &pk) in xs.iter().zip(p).rev() {
        acc += pk;
        if acc >= 0.5 * tail * total {
            hi = x;
            break;
        }
    }
    if lo > hi { (hi, lo) } else { (lo, hi) }
}

/// Hash of what every map of a job shares: the teacher and the window.
fn base_key(cx: &ViewCtx, w: &Window) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cx.p().len().hash(&mut h);
    for v in cx.p() {
        v.to_bits().hash(&mut h);
    }
    for v in cx.xs() {
        v.to_bits().hash(&mut h);
    }
    for v in [w.mu[0], w.mu[1], w.ls[0], w.ls[1]] {
        v.to_bits().hash(&mut h);
    }
    w.n.hash(&mut h);
    h.finish()
}

/// The job for this result, started (or taken from the cache) as needed.
fn ensure_job(ctx: &egui::Context, cx: &ViewCtx, window: Window) -> Arc<Job> {
    let divs: Vec<Divergence> = (0..cx.runs().min(MAX_PANELS))
        .map(|r| landscape_div(cx.divergence(r)))
        .collect();
    let base = base_key(cx, &window);
    let key = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        base.hash(&mut h);
        for d in &divs {
            d.to_string().hash(&mut h);
        }
        h.finish()
    };
    let old: Option<Arc<Job>> = ctx.data(|d| d.get_temp(cache_id()));
    if let Some(job) = &old
        && job.key == key
    {
        return job.clone();
    }
    if let Some(job) = &old {
        job.cancel.store(true, Ordering::Relaxed);
    }
    let n = cx.p().len();
    let errors: Vec<Option<String>> = divs.iter().map(|d| check_classes(d, n).err()).collect();
    // Maps of the old job for the same teacher, window and divergence are reused.
    let mut maps = vec![None; divs.len()];
    let mut textures = vec![None; divs.len()];
    if let Some(old) = old.as_ref().filter(|o| o.base == base) {
        let old_maps = old.maps.lock().map(|m| m.clone()).unwrap_or_default();
        let old_tex = old.textures.lock().map(|t| t.clone()).unwrap_or_default();
        for (k, d) in divs.iter().enumerate() {
            if let Some(o) = old
                .divs
                .iter()
                .position(|od| od.to_string() == d.to_string())
            {
                maps[k] = old_maps.get(o).cloned().flatten();
                textures[k] = old_tex.get(o).cloned().flatten();
            }
        }
    }
    let todo = maps
        .iter()
        .zip(&errors)
        .filter(|(m, e)| m.is_none() && e.is_none())
        .count();
    let job = Arc::new(Job {
        base,
        key,
        window,
        divs,
        errors,
        maps: Mutex::new(maps),
        textures: Mutex::new(textures),
        done: AtomicUsize::new(0),
        total: todo * window.n * window.n,
        cancel: AtomicBool::new(false),
    });
    ctx.data_mut(|d| d.insert_temp(cache_id(), job.clone()));
    if todo > 0 {
        let teacher = cx.result.teacher.dist.clone();
        let xs = cx.xs().to_vec();
        let worker = job.clone();
        let wake = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("kdviz-landscape".into())
            .spawn(move || run_job(&worker, &teacher, &xs, &wake));
        if spawned.is_err() {
            job.cancel.store(true, Ordering::Relaxed);
        }
    }
    job
}

/// Computes every missing map of a job, one divergence after another.
fn run_job(job: &Job, teacher: &LogDist, xs: &[f64], ctx: &egui::Context) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .clamp(1, 8);
    for (k, div) in job.divs.iter().enumerate() {
        if job.cancel.load(Ordering::Relaxed) {
            return;
        }
        let missing = job.maps.lock().map(|m| m[k].is_none()).unwrap_or(false);
        if !missing || job.errors[k].is_some() {
            continue;
        }
        let Some(values) = evaluate_grid(
            div,
            teacher,
            xs,
            &job.window,
            threads,
            &job.cancel,
            &job.done,
        ) else {
            return;
        };
        let map = Arc::new(build_map(values, &job.window));
        if let Ok(mut maps) = job.maps.lock() {
            maps[k] = Some(map);
        }
        ctx.request_repaint();
    }
}

/// D at every cell centre; `None` when cancelled. Rows are split among `threads` threads.
fn evaluate_grid(
    div: &Divergence,
    teacher: &LogDist,
    xs: &[f64],
    w: &Window,
    threads: usize,
    cancel: &AtomicBool,
    done: &AtomicUsize,
) -> Option<Vec<f64>> {
    let n = w.n;
    let mut values = vec![f64::NAN; n * n];
    let rows_per = n.div_ceil(threads.max(1));
    let ok = std::thread::scope(|s| {
        let handles: Vec<_> = values
            .chunks_mut(rows_per * n)
            .enumerate()
            .map(|(c, out)| {
                s.spawn(move || {
                    let student = Student::Gaussian { xs: xs.to_vec() };
                    let len = xs.len();
                    let mut z = vec![0.0; len];
                    let mut q = LogDist::zeros(len);
                    let mut grad = vec![0.0; len];
                    let mut ws = Workspace::default();
                    for (r, row) in out.chunks_mut(n).enumerate() {
                        if cancel.load(Ordering::Relaxed) {
                            return false;
                        }
                        let ls = w.ls_at(c * rows_per + r);
                        for (i, v) in row.iter_mut().enumerate() {
                            student.logits(&[w.mu_at(i), ls], &mut z);
                            q.set_logits(&z);
                            *v = value_and_grad(div, teacher, &q, &mut grad, &mut ws);
                        }
                        done.fetch_add(n, Ordering::Relaxed);
                    }
                    true
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    ok.then_some(values)
}

/// Minima, colour field, iso-lines and image of a finished grid of values.
fn build_map(values: Vec<f64>, w: &Window) -> Map {
    let n = w.n;
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let infinite = values.len() - finite.len();
    let global = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k);
    let min = global.map_or(f64::NAN, |k| values[k]);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = max - min;
    // δ: the 2nd percentile of D − min, so that the single lowest cell does not stretch the scale.
    let delta = {
        let mut gaps: Vec<f64> = finite.iter().map(|v| v - min).collect();
        gaps.sort_by(f64::total_cmp);
        let q = gaps.get(gaps.len() / 50).copied().unwrap_or(0.0);
        q.max(1e-12 * range.max(0.0)).max(1e-300)
    };
    let field: Vec<f64> = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                (v - min + delta).log10()
            } else {
                f64::NAN
            }
        })
        .collect();
    let (lo, hi) = ((delta).log10(), (range.max(0.0) + delta).log10());
    let tol = 1e-10 * range.max(1e-300);
    let mut minima = Vec::new();
    for j in 1..n.saturating_sub(1) {
        for i in 1..n - 1 {
            let v = values[j * n + i];
            if !v.is_finite() {
                continue;
            }
            let lowest = (-1i64..=1).all(|dj| {
                (-1i64..=1).all(|di| {
                    if di == 0 && dj == 0 {
                        return true;
                    }
                    let nb = values[(j as i64 + dj) as usize * n + (i as i64 + di) as usize];
                    !nb.is_finite() || v < nb - tol
                })
            });
            if lowest {
                minima.push(j * n + i);
            }
        }
    }
    let mut contours = Vec::new();
    if hi - lo > 1e-9 {
        for l in 1..=ISO_LEVELS {
            let t = l as f64 / (ISO_LEVELS + 1) as f64;
            // Opaque, a lighter shade of the level's own colour: thin translucent lines show
            // brighter dots where their segments overlap.
            let color = viridis(t).lerp_to_gamma(Color32::WHITE, 0.5);
            contours.extend(
                iso_lines(&field, w, lo + (hi - lo) * t)
                    .into_iter()
                    .map(|c| (color, c)),
            );
        }
    }
    let mut pixels = Vec::with_capacity(n * n);
    for r in 0..n {
        // Image row 0 is the top: the largest log σ.
        let j = n - 1 - r;
        for i in 0..n {
            let f = field[j * n + i];
            pixels.push(if f.is_finite() {
                let t = if hi > lo { (f - lo) / (hi - lo) } else { 0.0 };
                viridis(t)
            } else {
                Color32::from_gray(190)
            });
        }
    }
    let image = ColorImage::new([n, n], pixels);
    Map {
        values,
        global,
        minima,
        min,
        max,
        delta,
        contours,
        image,
        infinite,
    }
}

/// Marching squares over the cell centres, segments joined into polylines.
fn iso_lines(field: &[f64], w: &Window, level: f64) -> Vec<Vec<[f64; 2]>> {
    let n = w.n;
    // Edge keys: horizontal edge from (i, j) to (i+1, j) is 2·(j·n + i); vertical (i, j)–(i, j+1) is +1.
    let h_edge = |i: usize, j: usize| 2 * (j * n + i);
    let v_edge = |i: usize, j: usize| 2 * (j * n + i) + 1;
    let at = |i: usize, j: usize| field[j * n + i];
    let cross = |i0: usize, j0: usize, i1: usize, j1: usize| -> [f64; 2] {
        let (a, b) = (at(i0, j0), at(i1, j1));
        let t = if (b - a).abs() > 0.0 {
            ((level - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let (x0, y0) = (w.mu_at(i0), w.ls_at(j0));
        let (x1, y1) = (w.mu_at(i1), w.ls_at(j1));
        [x0 + t * (x1 - x0), y0 + t * (y1 - y0)]
    };
    let mut segs: Vec<(usize, usize)> = Vec::new();
    let mut point_of: std::collections::HashMap<usize, [f64; 2]> = Default::default();
    for j in 0..n - 1 {
        for i in 0..n - 1 {
            let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            if !(a.is_finite() && b.is_finite() && c.is_finite() && d.is_finite()) {
                continue;
            }
            let case = (a > level) as u8
                | ((b > level) as u8) << 1
                | ((c > level) as u8) << 2
                | ((d > level) as u8) << 3;
            let bottom = h_edge(i, j);
            let top = h_edge(i, j + 1);
            let left = v_edge(i, j);
            let right = v_edge(i + 1, j);
            let mut add = |e0: usize, e1: usize| {
                for e in [e0, e1] {
                    point_of.entry(e).or_insert_with(|| {
                        if e == bottom {
                            cross(i, j, i + 1, j)
                        } else if e == top {
                            cross(i, j + 1, i + 1, j + 1)
                        } else if e == left {
                            cross(i, j, i, j + 1)
                        } else {
                            cross(i + 1, j, i + 1, j + 1)
                        }
                    });
                }
                segs.push((e0, e1));
            };
            let centre_high = 0.25 * (a + b + c + d) > level;
            match case {
                0 | 15 => {}
                1 | 14 => add(left, bottom),
                2 | 13 => add(bottom, right),
                3 | 12 => add(left, right),
                4 | 11 => add(right, top),
                6 | 9 => add(bottom, top),
                7 | 8 => add(left, top),
                5 => {
                    // a and c high.
                    if centre_high {
                        add(left, top);
                        add(bottom, right);
                    } else {
                        add(left, bottom);
                        add(right, top);
                    }
                }
                10 => {
                    // b and d high.
                    if centre_high {
                        add(left, bottom);
                        add(right, top);
                    } else {
                        add(left, top);
                        add(bottom, right);
                    }
                }
                _ => {}
            }
        }
    }
    // Join segments sharing an edge point.
    let mut by_edge: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (s, &(e0, e1)) in segs.iter().enumerate() {
        by_edge.entry(e0).or_default().push(s);
        by_edge.entry(e1).or_default().push(s);
    }
    let mut used = vec![false; segs.len()];
    let mut lines = Vec::new();
    // Open chains first (start at an edge with one segment), then closed loops.
    let mut starts: Vec<usize> = (0..segs.len())
        .filter(|&s| {
            let (e0, e1) = segs[s];
            by_edge[&e0].len() == 1 || by_edge[&e1].len() == 1
        })
        .collect();
    starts.extend(0..segs.len());
    for s0 in starts {
        if used[s0] {
            continue;
        }
        let (e0, e1) = segs[s0];
        let (mut edge, first) = if by_edge[&e1].len() == 1 {
            (e0, e1)
        } else {
            (e1, e0)
        };
        used[s0] = true;
        let mut line = vec![point_of[&first], point_of[&edge]];
        while let Some(&next) = by_edge[&edge].iter().find(|&&s| !used[s]) {
            used[next] = true;
            let (a, b) = segs[next];
            edge = if a == edge { b } else { a };
            line.push(point_of[&edge]);
        }
        if line.len() >= 2 {
            lines.push(line);
        }
    }
    lines
}

/// Viridis (matplotlib), 11 stops, linearly interpolated; `t` in [0, 1], dark = low.
fn viridis(t: f64) -> Color32 {
    const STOPS: [[u8; 3]; 11] = [
        [0x44, 0x01, 0x54],
        [0x48, 0x24, 0x75],
        [0x41, 0x44, 0x87],
        [0x35, 0x5f, 0x8d],
        [0x2a, 0x78, 0x8e],
        [0x21, 0x91, 0x8c],
        [0x22, 0xa8, 0x84],
        [0x44, 0xbf, 0x70],
        [0x7a, 0xd1, 0x51],
        [0xbd, 0xdf, 0x26],
        [0xfd, 0xe7, 0x25],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let k = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - k as f64;
    let mix = |c: usize| {
        (STOPS[k][c] as f64 + f * (STOPS[k + 1][c] as f64 - STOPS[k][c] as f64)).round() as u8
    };
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::{FitResult, SnapshotPlan};
    use crate::views::palette;
    use std::time::{Duration, Instant};

    fn fit(preset: &str, epochs: usize) -> FitResult {
        let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.epochs = epochs;
        spec.run().unwrap()
    }

    fn colors(result: &FitResult) -> Vec<Color32> {
        let divs: Vec<Divergence> = result.runs.iter().map(|r| r.divergence).collect();
        palette::run_colors(&divs)
    }

    /// The window and the map of one run, computed synchronously.
    fn map_of(result: &FitResult, run: usize) -> (Window, Map) {
        let colors = colors(result);
        let cx = ViewCtx::new(result, &colors, 0);
        let w = window_for(&cx);
        let values = evaluate_grid(
            &landscape_div(cx.divergence(run)),
            &result.teacher.dist,
            cx.xs(),
            &w,
            2,
            &AtomicBool::new(false),
            &AtomicUsize::new(0),
        )
        .unwrap();
        (w, build_map(values, &w))
    }

    /// True when `(mu, sigma)` lies within `cells` cells of the map point `k`.
    fn near(w: &Window, k: usize, mu: f64, sigma: f64, cells: f64) -> bool {
        let [m, ls] = w.point(k);
        (m - mu).abs() <= cells * w.dmu() && (ls - sigma.ln()).abs() <= cells * w.dls()
    }

    #[test]
    fn fkl_and_rkl_global_minima_match_the_spec() {
        let result = fit("minillm-gmm", 400);
        let (w, fkl) = map_of(&result, 0);
        let g = fkl.global.unwrap();
        assert!(
            near(&w, g, -1.0, 2.427, 1.5),
            "FKL minimum at {:?}, window {w:?}",
            w.point(g)
        );
        assert!(fkl.minima.contains(&g), "an interior minimum");
        // Refined between the cells, the minimum is the closed-form optimum.
        let ([mu, ls], _) = fkl.refined(&w, g);
        assert!((mu + 1.0).abs() < 0.03, "{mu}");
        assert!((ls.exp() - 2.427).abs() < 0.03, "{}", ls.exp());
        // The grid's FKL minimum equals the closed-form optimum's value to within a cell's curvature.
        assert!(fkl.min > 0.0 && fkl.min.is_finite());
        let (w, rkl) = map_of(&result, 1);
        let g = rkl.global.unwrap();
        assert!(
            near(&w, g, -2.495, 0.808, 1.5),
            "RKL minimum at {:?}",
            w.point(g)
        );
        // RKL is mode seeking: the lighter right mode is a second local minimum.
        assert!(
            rkl.minima.iter().any(|&k| near(&w, k, 2.5, 0.8, 2.0)),
            "minima {:?}",
            rkl.minima.iter().map(|&k| w.point(k)).collect::<Vec<_>>()
        );
        assert_eq!(rkl.infinite, 0);
        assert!(rkl.image.pixels.iter().all(|c| c.a() == 255));
    }

    #[test]
    fn rkl_has_the_broad_local_minimum_between_close_modes() {
        let result = fit("gmm-rkl-local-minimum", 300);
        let (w, rkl) = map_of(&result, 1);
        let pts: Vec<[f64; 2]> = rkl.minima.iter().map(|&k| w.point(k)).collect();
        assert!(near(&w, rkl.global.unwrap(), -1.998, 0.604, 1.5), "{pts:?}");
        assert!(
            rkl.minima.iter().any(|&k| near(&w, k, -0.313, 1.762, 2.0)),
            "{pts:?}"
        );
        // FKL has a single minimum, the moment match (-0.4, 2.049).
        let (w, fkl) = map_of(&result, 0);
        assert_eq!(fkl.minima.len(), 1);
        assert!(near(&w, fkl.global.unwrap(), -0.4, 2.049, 1.5));
    }

    #[test]
    fn window_covers_the_teacher_and_every_path() {
        let result = fit("minillm-gmm", 400);
        let colors = colors(&result);
        let cx = ViewCtx::new(&result, &colors, 0);
        let w = window_for(&cx);
        assert!(w.mu[0] <= -4.5 && w.mu[1] >= 4.0, "{w:?}");
        for run in 0..cx.runs() {
            for r in cx.history(run) {
                let (m, s) = (r.mu.unwrap(), r.sigma.unwrap());
                assert!(w.cell_of(m, s.ln()).is_some(), "{m} {s} outside {w:?}");
            }
        }
        assert!(w.ls[0] < 0.808f64.ln() && w.ls[1] > 2.427f64.ln());
    }

    #[test]
    fn hover_reads_the_cell_or_the_epoch() {
        let result = fit("minillm-gmm", 50);
        let (w, fkl) = map_of(&result, 0);
        let history = &result.runs[0].history;
        let k = fkl.global.unwrap();
        let [mu, ls] = w.point(k);
        let text = hover_text(
            &HoverPosition::Elsewhere {
                position: PlotPoint::new(mu, ls),
            },
            &w,
            Some(&fkl),
            history,
        )
        .unwrap();
        assert!(
            text.contains(&format!("D = {}", fmt_value(fkl.min))),
            "{text}"
        );
        let r = &history[7];
        let text = hover_text(
            &HoverPosition::NearDataPoint {
                plot_name: "",
                position: PlotPoint::new(r.mu.unwrap(), r.sigma.unwrap().ln()),
                index: 7,
            },
            &w,
            Some(&fkl),
            history,
        )
        .unwrap();
        assert!(text.starts_with("epoch 7\n"), "{text}");
        assert!(text.contains(&fmt_value(r.objective)));
    }

    #[test]
    fn iso_lines_of_a_bowl_are_closed_rings() {
        let w = Window {
            mu: [-1.0, 1.0],
            ls: [-1.0, 1.0],
            n: 32,
        };
        let field: Vec<f64> = (0..w.n * w.n)
            .map(|k| {
                let [x, y] = w.point(k);
                x * x + y * y
            })
            .collect();
        let lines = iso_lines(&field, &w, 0.25);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l.first(), l.last(), "closed");
        for p in l {
            assert!((p[0].hypot(p[1]) - 0.5).abs() < 0.01, "{p:?}");
        }
        assert_eq!(viridis(0.0), Color32::from_rgb(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), Color32::from_rgb(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    /// Renders the view the way the app does, waiting (bounded) for the background maps.
    fn render(result: &FitResult, epoch: usize, size: egui::Vec2, file: &str) -> Arc<Job> {
        let colors = colors(result);
        let mut harness = egui_kittest::Harness::builder()
            .with_size(size)
            .with_theme(egui::Theme::Light)
            .wgpu()
            .build_ui_state(
                |ui, state: &mut ToyState| {
                    egui::Frame::central_panel(ui.style()).show(ui, |ui| {
                        let cx = ViewCtx::new(result, &colors, epoch);
                        landscape_ui(ui, &cx, state);
                    });
                },
                ToyState::default(),
            );
        let t0 = Instant::now();
        harness.step();
        let first = harness.render().expect("render");
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            first.save(format!("/tmp/{file}-first-frame.png")).unwrap();
        }
        let job = loop {
            harness.step();
            let job: Option<Arc<Job>> = harness.ctx.data(|d| d.get_temp(cache_id()));
            if let Some(job) = job
                && job.ready() == job.divs.len()
            {
                break job;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "maps not ready");
            std::thread::sleep(Duration::from_millis(20));
        };
        harness.step();
        harness.step();
        let image = harness.render().expect("render");
        if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
            image.save(format!("/tmp/{file}.png")).unwrap();
        }
        job
    }

    #[test]
    fn renders_the_landscape_of_every_divergence() {
        let result = fit("minillm-gmm", 4000);
        let job = render(&result, 150, egui::vec2(900.0, 600.0), "landscape-minillm");
        assert_eq!(job.divs.len(), 2);
        let fkl = job.map(0).unwrap();
        assert!(near(&job.window, fkl.global.unwrap(), -1.0, 2.427, 1.5));
        let textures = job.textures.lock().unwrap();
        assert!(textures.iter().all(|t| t.is_some()), "every map drawn");
        drop(textures);
        // A grid cell of the app's 2×2 layout; the maps come from the cache.
        let again = render(&result, 4000, egui::vec2(630.0, 400.0), "landscape-grid");
        assert_eq!(again.key, job.key);
    }

    #[test]
    fn renders_three_divergences_with_local_minima() {
        let result = fit("gmm-rkl-local-minimum", 4000);
        let job = render(
            &result,
            4000,
            egui::vec2(900.0, 600.0),
            "landscape-local-minimum",
        );
        assert_eq!(job.divs.len(), 3);
        assert!(job.map(1).unwrap().minima.len() >= 2);
    }

    #[test]
    fn renders_twelve_families_without_nan() {
        let mut cfg = crate::toy::preset::load("minillm-gmm").unwrap();
        cfg.divergences = [
            "fkl",
            "rkl",
            "akl:mu=0.5",
            "jsd:beta=0.5",
            "tvd",
            "skl:alpha=0.1",
            "srkl:alpha=0.1",
            "ab:alpha=0.2,beta=0.7",
            "alpha:alpha=0.5",
            "taid:t_start=0.4,t_end=1,rate=0.0005,momentum=0.99",
            "amid:alpha=0.5,lambda=0.5",
            "hinton:T=2,a=0.5,label=0",
        ]
        .map(String::from)
        .to_vec();
        let mut spec = cfg.to_spec().unwrap();
        spec.snapshots = SnapshotPlan {
            every: true,
            at: vec![],
        };
        spec.epochs = 300;
        let result = spec.run().unwrap();
        let job = render(&result, 300, egui::vec2(1200.0, 800.0), "landscape-all");
        assert_eq!(job.divs.len(), 12);
        // TAID's schedule is drawn at its fixed starting t.
        assert_eq!(
            job.divs[9],
            Divergence::Taid {
                t: 0.4,
                schedule: None
            }
        );
        for k in 0..12 {
            let m = job.map(k).unwrap();
            assert!(m.global.is_some(), "{}", job.divs[k]);
            assert!(m.values.iter().all(|v| !v.is_nan()), "{}", job.divs[k]);
            for (_, line) in &m.contours {
                assert!(line.iter().flatten().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn explains_itself_for_a_logits_student() {
        let result = fit("akl-fig3-longtail", 5);
        let colors = colors(&result);
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(600.0, 300.0))
            .build_ui_state(
                |ui, state: &mut ToyState| {
                    let cx = ViewCtx::new(&result, &colors, 0);
                    landscape_ui(ui, &cx, state);
                },
                ToyState::default(),
            );
        harness.run();
        use egui_kittest::kittest::Queryable as _;
        harness.get_by_label_contains("Student: Gaussian");
        let job: Option<Arc<Job>> = harness.ctx.data(|d| d.get_temp(cache_id()));
        assert!(job.is_none(), "nothing computed");
    }
}
