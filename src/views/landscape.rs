//! Loss landscape of a Gaussian student: every divergence's value over (μ, log σ) as a heatmap with
//! iso-lines, the optimiser's path through it, and the grid's local minima (the numbers come from
//! [`crate::toy::analysis::landscape`]).
//!
//! A map costs `N²` divergence evaluations over the whole teacher grid, far too slow for a frame, so
//! the maps are computed on a background thread once per (teacher, divergence, window) and kept in
//! egui's temp memory; the panels show a spinner until theirs is ready.

use super::ViewCtx;
use super::common::{self, base_plot};
use super::ticks::{tick_125, uniform_grid_125};
use crate::math::{Divergence, LogDist, check_classes};
use crate::toy::analysis::landscape::{
    LandscapeMap, MAX_PANELS, Window, default_threads, evaluate_grid, landscape_div, path,
    path_point,
};
use crate::views::state::ToyState;
use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{HoverPosition, Line, MarkerShape, PlotImage, PlotPoint, Points};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One divergence's landscape, ready to draw.
struct Map {
    data: LandscapeMap,
    /// Iso-lines of the colour field, as polylines.
    contours: Vec<(Color32, Vec<[f64; 2]>)>,
    image: ColorImage,
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
    let window = Window::for_result(cx.result);
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

    let (cols, _) = common::panel_grid(shown, ui.available_size(), 1.0);
    let link = ui.make_persistent_id("landscape-link");
    common::cells_ui(ui, shown, cols, 6.0, |ui, run, size| {
        panel(ui, cx, &job, run, [size.x, size.y], link)
    });
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
            egui::Label::new(
                egui::RichText::new(cx.loss(run).label())
                    .color(color)
                    .strong(),
            )
            .truncate(),
        );
        let mut notes = vec![cx.loss(run).to_string()];
        if !cx.loss(run).practice.is_default() {
            notes.push(
                "Drawn for the family against the full teacher: the practice options (support, \
                 temperatures, precision) are not applied to this surface; \"What the student \
                 sees\" shows what they change."
                    .to_string(),
            );
        }
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
            && let Some(g) = m.data.global
        {
            let ([mu, ls], min) = m.data.refined(&w, g);
            let mut scale = format!(
                "D from {} to {} on this window; colour log₁₀(D − D_min + δ), δ = {}",
                fmt_value(m.data.min),
                fmt_value(m.data.max),
                fmt_value(m.data.delta)
            );
            if m.data.infinite > 0 {
                scale.push_str(&format!(
                    "\nD is infinite on {} cells (grey)",
                    m.data.infinite
                ));
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
        .label_formatter(move |pos| {
            hover_text(pos, &w, hover_map.as_deref().map(|m| &m.data), history)
        });
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
        let path = path(history);
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
                .data
                .minima
                .iter()
                .filter(|&&k| Some(k) != m.data.global)
                .map(|&k| m.data.refined(&w, k).0)
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
        if let Some(now) = path_point(cx.record(run)) {
            let at = vec![now];
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
            && let Some(g) = m.data.global
        {
            let at = vec![m.data.refined(&w, g).0];
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
    map: Option<&LandscapeMap>,
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
    let threads = default_threads();
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

/// The colours of a finished grid of values: the iso-lines in a lighter shade of their level's
/// colour and the map as an image (grey where D is infinite).
fn build_map(values: Vec<f64>, w: &Window) -> Map {
    let data = LandscapeMap::new(values, w);
    // Opaque, a lighter shade of the level's own colour: thin translucent lines show brighter dots
    // where their segments overlap.
    let contours = data
        .iso
        .iter()
        .map(|(t, line)| (viridis(*t).lerp_to_gamma(Color32::WHITE, 0.5), line.clone()))
        .collect();
    let n = w.n;
    let mut pixels = Vec::with_capacity(n * n);
    for r in 0..n {
        // Image row 0 is the top: the largest log σ.
        let j = n - 1 - r;
        for i in 0..n {
            pixels.push(
                data.shade(j * n + i)
                    .map_or(Color32::from_gray(190), viridis),
            );
        }
    }
    Map {
        data,
        contours,
        image: ColorImage::new([n, n], pixels),
    }
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
    use crate::toy::analysis::landscape::tests::{grid_of, near};
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
        let divs: Vec<Divergence> = result.runs.iter().map(|r| r.divergence.family).collect();
        palette::run_colors(&divs)
    }

    /// The window and the map of one run, computed synchronously.
    fn map_of(result: &FitResult, run: usize) -> (Window, Map) {
        let (w, values) = grid_of(result, run);
        (w, build_map(values, &w))
    }

    #[test]
    fn maps_are_opaque_viridis_images() {
        let result = fit("minillm-gmm", 400);
        let (_, rkl) = map_of(&result, 1);
        assert!(rkl.image.pixels.iter().all(|c| c.a() == 255));
        assert_eq!(viridis(0.0), Color32::from_rgb(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), Color32::from_rgb(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    #[test]
    fn hover_reads_the_cell_or_the_epoch() {
        let result = fit("minillm-gmm", 50);
        let (w, fkl) = map_of(&result, 0);
        let fkl = &fkl.data;
        let history = &result.runs[0].history;
        let k = fkl.global.unwrap();
        let [mu, ls] = w.point(k);
        let text = hover_text(
            &HoverPosition::Elsewhere {
                position: PlotPoint::new(mu, ls),
            },
            &w,
            Some(fkl),
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
            Some(fkl),
            history,
        )
        .unwrap();
        assert!(text.starts_with("epoch 7\n"), "{text}");
        assert!(text.contains(&fmt_value(r.objective)));
    }

    /// Renders the view the way the app does, waiting (bounded) for the background maps.
    fn render(result: &FitResult, epoch: usize, size: egui::Vec2, file: &str) -> Arc<Job> {
        let colors = colors(result);
        let mut harness = egui_kittest::Harness::builder()
            .with_context_setup(crate::views::common::install_fonts)
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
        assert!(near(
            &job.window,
            fkl.data.global.unwrap(),
            -1.0,
            2.427,
            1.5
        ));
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
        assert!(job.map(1).unwrap().data.minima.len() >= 2);
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
            assert!(m.data.global.is_some(), "{}", job.divs[k]);
            assert!(m.data.values.iter().all(|v| !v.is_nan()), "{}", job.divs[k]);
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
            .with_context_setup(crate::views::common::install_fonts)
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
