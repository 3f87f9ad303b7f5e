//! The eframe application: side panel of settings, central views, timeline and status bar.

use crate::app::export_dialog::FigureExport;
use crate::app::fit_worker::FitWorker;
use crate::app::panels::{divergences, optimizer, student, teacher};
use crate::app::real_tab::{RealSettings, RealTab};
use crate::app::{Status, timeline};
use crate::toy::{FitResult, FitSpec, preset};
use crate::views::palette;
use crate::views::state::{Layout, Theme, ToyState, View};
use crate::views::{self, ViewCtx};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the real-model tab's settings are kept between sessions.
const REAL_KEY: &str = "kdviz-real";

/// The Export menu's inputs.
struct ExportSettings {
    path: String,
    scale: f32,
    transparent: bool,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            path: "kdviz-figure.png".into(),
            scale: 2.0,
            transparent: false,
        }
    }
}

/// Runtime-only resources and transient inputs; nothing here is persisted.
struct Runtime {
    worker: FitWorker,
    /// The last fit that succeeded: what the views show.
    result: Option<Arc<FitResult>>,
    /// The settings of the last request, to notice changes.
    requested: Option<FitSpec>,
    requested_at: Instant,
    waiting: bool,
    status: Option<Status>,
    fit_ms: f64,
    frame_ms: f32,
    play_carry: f32,
    teacher_panel: teacher::TeacherPanel,
    export: ExportSettings,
    /// The animation dialog and the paper-layout exports (worker-thread renders).
    figures: FigureExport,
    student_panel: student::StudentPanel,
    config_path: String,
}

/// The two tabs: the toy fits, and real-model-sized logits on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Toy,
    Real,
}

pub struct KdvizApp {
    pub state: ToyState,
    pub mode: Mode,
    pub real: RealTab,
    rt: Runtime,
}

impl KdvizApp {
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let state = cc
            .storage
            .and_then(|s| eframe::get_value::<ToyState>(s, eframe::APP_KEY))
            .unwrap_or_default();
        let mut app = Self::with_state(cc.egui_ctx.clone(), state);
        if let Some(real) = cc
            .storage
            .and_then(|s| eframe::get_value::<RealSettings>(s, REAL_KEY))
        {
            app.real = RealTab::with_settings(real);
        }
        app
    }

    /// Builds the app around a given state (tests start from defaults or a preset).
    pub fn with_state(ctx: egui::Context, state: ToyState) -> Self {
        let wake_ctx = ctx.clone();
        let worker = FitWorker::spawn(Arc::new(move || wake_ctx.request_repaint()));
        let rt = Runtime {
            worker,
            result: None,
            requested: None,
            requested_at: Instant::now(),
            waiting: false,
            status: None,
            fit_ms: 0.0,
            frame_ms: 0.0,
            play_carry: 0.0,
            teacher_panel: Default::default(),
            export: ExportSettings::default(),
            figures: FigureExport::default(),
            student_panel: Default::default(),
            config_path: "kdviz-config.toml".into(),
        };
        let app = KdvizApp {
            state,
            mode: Mode::Toy,
            real: RealTab::default(),
            rt,
        };
        app.apply_theme(&ctx);
        app
    }

    /// The fit the views currently show.
    pub fn result(&self) -> Option<&FitResult> {
        self.rt.result.as_deref()
    }

    pub fn status(&self) -> Option<&Status> {
        self.rt.status.as_ref()
    }

    /// The animation dialog and layout exports (tests read their progress).
    pub fn figure_export(&self) -> &FigureExport {
        &self.rt.figures
    }

    /// Time spent in the last call of `ui()`, in milliseconds.
    pub fn last_frame_ms(&self) -> f64 {
        self.rt.frame_ms as f64
    }

    /// True while a requested refit has not come back yet.
    pub fn is_fitting(&self) -> bool {
        self.rt.waiting
    }

    /// Blocks until the pending refit has arrived (tests; the app itself never waits).
    pub fn wait_for_fit(&mut self, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while self.rt.waiting && t0.elapsed() < timeout {
            self.receive();
            std::thread::sleep(Duration::from_millis(2));
        }
        !self.rt.waiting
    }

    /// Loads a built-in preset by name.
    pub fn load_preset(&mut self, name: &str) {
        match preset::load(name) {
            Ok(cfg) => {
                let errors = self.state.apply_config(cfg);
                self.state.apply_hints();
                self.rt.status = Some(match errors.first() {
                    Some(e) => Status::error(e.clone()),
                    None => Status::info(format!("preset {name}")),
                });
            }
            Err(e) => self.rt.status = Some(Status::error(e)),
        }
    }

    fn apply_theme(&self, ctx: &egui::Context) {
        ctx.set_theme(match self.state.theme {
            Theme::Light => egui::Theme::Light,
            Theme::Dark => egui::Theme::Dark,
        });
    }

    /// Takes a finished refit from the worker, if one arrived.
    fn receive(&mut self) {
        if let Some(outcome) = self.rt.worker.poll() {
            self.rt.waiting = false;
            self.rt.fit_ms = outcome.elapsed.as_secs_f64() * 1e3;
            match outcome.result {
                Ok(r) => {
                    self.rt.result = Some(r);
                    if self.rt.status.as_ref().is_some_and(|s| s.error) {
                        self.rt.status = None;
                    }
                }
                // Keep showing the last good fit; say why the new one failed.
                Err(e) => self.rt.status = Some(Status::error(e)),
            }
        }
    }

    /// Sends the current settings to the worker when they changed.
    fn refit_if_changed(&mut self) {
        match self.state.fit_spec() {
            Ok(spec) => {
                if self.rt.requested.as_ref() != Some(&spec) {
                    self.rt.worker.request(spec.clone());
                    self.rt.requested = Some(spec);
                    self.rt.requested_at = Instant::now();
                    self.rt.waiting = true;
                }
            }
            Err(e) => {
                if self.rt.status.as_ref().map(|s| &s.text) != Some(&e) {
                    self.rt.status = Some(Status::error(e));
                }
            }
        }
    }

    fn last_epoch(&self) -> usize {
        self.rt
            .result
            .as_ref()
            .and_then(|r| r.runs.first())
            .map_or(self.state.config.epochs, |r| r.history.len() - 1)
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("kdviz");
            ui.separator();
            ui.selectable_value(&mut self.mode, Mode::Toy, "Toy");
            ui.selectable_value(&mut self.mode, Mode::Real, "Real model");
            ui.separator();
            if self.mode == Mode::Real {
                self.theme_toggle(ui);
                ui.separator();
                let theme = self.state.theme;
                ui.menu_button("Export", |ui| self.real.export_ui(ui, theme));
                return;
            }
            egui::ComboBox::from_label("preset")
                .selected_text(if self.state.config.name.is_empty() {
                    "custom"
                } else {
                    &self.state.config.name
                })
                .show_ui(ui, |ui| {
                    let mut chosen = None;
                    for (name, _) in preset::PRESETS {
                        if ui
                            .selectable_label(self.state.config.name == *name, *name)
                            .clicked()
                        {
                            chosen = Some(*name);
                        }
                    }
                    if let Some(name) = chosen {
                        self.load_preset(name);
                    }
                });
            ui.separator();
            ui.add(
                egui::TextEdit::singleline(&mut self.rt.config_path)
                    .desired_width(160.0)
                    .hint_text("config.toml"),
            );
            if ui.button("Save config").clicked() {
                let text = self.state.to_config().to_toml();
                self.rt.status = Some(match std::fs::write(&self.rt.config_path, text) {
                    Ok(()) => Status::info(format!("saved {}", self.rt.config_path)),
                    Err(e) => Status::error(format!("{}: cannot write: {e}", self.rt.config_path)),
                });
            }
            if ui.button("Load config").clicked() {
                let path = self.rt.config_path.clone();
                self.load_config_file(&path);
            }
            if ui.button("Reset to defaults").clicked() {
                let theme = self.state.theme;
                self.state = ToyState {
                    theme,
                    ..ToyState::default()
                };
                self.rt.status = Some(Status::info("reset to the built-in defaults"));
            }
            ui.separator();
            self.theme_toggle(ui);
            ui.separator();
            // The menu holds text fields and sliders: only a click outside (or an export) closes it.
            let keep_open = egui::containers::menu::MenuConfig::new()
                .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
            egui::containers::menu::MenuButton::new("Export")
                .config(keep_open)
                .ui(ui, |ui| self.export_ui(ui));
            ui.separator();
            ui.selectable_value(&mut self.state.layout, Layout::Tabs, "tabs");
            ui.selectable_value(&mut self.state.layout, Layout::Grid, "grid");
        });
    }

    fn theme_toggle(&mut self, ui: &mut egui::Ui) {
        let dark = self.state.theme == Theme::Dark;
        if ui.selectable_label(dark, "dark").clicked() {
            self.state.theme = if dark { Theme::Light } else { Theme::Dark };
            self.apply_theme(ui.ctx());
        }
    }

    /// The status line of the tab on show.
    pub fn shown_status(&self) -> Option<&Status> {
        match self.mode {
            Mode::Toy => self.rt.status.as_ref(),
            Mode::Real => self.real.status(),
        }
    }

    fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(
            "The current view at the current epoch, drawn like the app (no hover, no controls).",
        );
        ui.add(
            egui::TextEdit::singleline(&mut self.rt.export.path)
                .hint_text("figure.png / .svg / .csv"),
        );
        ui.add(
            egui::Slider::new(&mut self.rt.export.scale, 1.0..=4.0)
                .step_by(0.5)
                .text("PNG scale"),
        );
        ui.checkbox(&mut self.rt.export.transparent, "transparent background");
        if ui.button("Export view").clicked() {
            let path = self.rt.export.path.clone();
            self.rt.status = Some(match self.export_view(&path) {
                Ok(()) => Status::info(format!("exported {path}")),
                Err(e) => Status::error(e),
            });
            ui.close();
        }
        ui.separator();
        let last = self.last_epoch();
        let result = self.rt.result.clone();
        let figures = &mut self.rt.figures;
        if let Some(s) = figures.menu_ui(ui, &self.state, result.as_ref(), last) {
            self.rt.status = Some(s);
        }
    }

    /// Writes the active view at the current epoch as PNG, SVG or CSV (chosen by the extension).
    pub fn export_view(&self, path: &str) -> Result<(), String> {
        let result = self.rt.result.as_deref().ok_or("no fit to export yet")?;
        let ext = std::path::Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let spec = crate::figure::FigureSpec {
            view: self.state.active,
            layout: crate::figure::Layout::View,
            epochs: vec![self.state.epoch],
            title: None,
            size: egui::vec2(960.0, 600.0),
            scale: self.rt.export.scale,
            theme: self.state.theme,
            transparent: self.rt.export.transparent,
        };
        let write = |bytes: &[u8]| {
            std::fs::write(path, bytes).map_err(|e| format!("{path}: cannot write: {e}"))
        };
        match ext.as_str() {
            "png" => crate::figure::render_png(result, &self.state, &spec)?
                .save(path)
                .map_err(|e| format!("{path}: cannot write: {e}")),
            "svg" => write(crate::figure::render_svg(result, &self.state, &spec).as_bytes()),
            "csv" => write(crate::figure::view_csv(result, spec.view, &spec.epochs)?.as_bytes()),
            _ => Err(format!(
                "{path}: cannot write .{ext} files here; expected .png, .svg or .csv"
            )),
        }
    }

    /// Loads a TOML config; a bad file leaves the current settings untouched.
    pub fn load_config_file(&mut self, path: &str) {
        match crate::toy::FitConfig::from_file(std::path::Path::new(path))
            .and_then(|c| c.to_spec().map(|_| c))
        {
            Ok(cfg) => {
                self.state.apply_config(cfg);
                self.state.apply_hints();
                self.rt.status = Some(Status::info(format!("loaded {path}")));
            }
            Err(e) => self.rt.status = Some(Status::error(e)),
        }
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            let classes = teacher::class_count(&self.state.config.teacher).unwrap_or(0);
            egui::CollapsingHeader::new("Teacher")
                .default_open(true)
                .show(ui, |ui| {
                    let cfg = &mut self.state.config;
                    if let Some(s) = teacher::teacher_ui(
                        ui,
                        &mut self.rt.teacher_panel,
                        &mut cfg.teacher,
                        &mut cfg.student,
                    ) {
                        self.rt.status = Some(s);
                    }
                });
            egui::CollapsingHeader::new("Student")
                .default_open(true)
                .show(ui, |ui| {
                    student::student_ui(
                        ui,
                        &mut self.rt.student_panel,
                        &mut self.state.config.student,
                        classes,
                    );
                });
            egui::CollapsingHeader::new("Divergences")
                .default_open(true)
                .show(ui, |ui| {
                    divergences::divergences_ui(ui, &mut self.state.slots, classes);
                });
            egui::CollapsingHeader::new("Optimiser")
                .default_open(true)
                .show(ui, |ui| {
                    optimizer::optimizer_ui(ui, &mut self.state.config);
                });
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            match self.shown_status() {
                Some(s) if s.error => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Error: {}", s.text));
                }
                Some(s) => {
                    ui.label(&s.text);
                }
                None => {
                    ui.label("ready");
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("frame {:.1} ms", self.rt.frame_ms));
                if self.mode == Mode::Real {
                    return; // the toy's refit time means nothing on this tab
                }
                ui.separator();
                ui.label(format!("refit {:.1} ms", self.rt.fit_ms));
                if self.rt.waiting && self.rt.requested_at.elapsed() > Duration::from_millis(150) {
                    let p = &self.rt.worker.progress;
                    let done = p.done.load(std::sync::atomic::Ordering::Relaxed) as f32;
                    let total = p.total.load(std::sync::atomic::Ordering::Relaxed).max(1) as f32;
                    ui.add(
                        egui::ProgressBar::new(done / total)
                            .desired_width(160.0)
                            .text("fitting…"),
                    );
                }
            });
        });
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        let Some(result) = self.rt.result.clone() else {
            ui.centered_and_justified(|ui| {
                ui.spinner();
            });
            return;
        };
        let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = palette::run_colors(&divs);
        let cx = ViewCtx::new(&result, &colors, self.state.epoch);
        match self.state.layout {
            Layout::Tabs => {
                ui.horizontal(|ui| {
                    for v in View::ALL {
                        ui.selectable_value(&mut self.state.active, v, v.title());
                    }
                });
                ui.separator();
                views::view_ui(ui, self.state.active, &cx, &mut self.state);
            }
            Layout::Grid => {
                ui.horizontal_wrapped(|ui| {
                    for v in View::ALL {
                        let mut on = self.state.grid_views.contains(&v);
                        if ui.toggle_value(&mut on, v.title()).changed() {
                            if on {
                                self.state.grid_views.push(v);
                            } else {
                                self.state.grid_views.retain(|&x| x != v);
                            }
                        }
                    }
                });
                ui.separator();
                let shown = self.state.grid_views.clone();
                let cols = if shown.len() > 1 { 2 } else { 1 };
                let rows = shown.len().div_ceil(cols).max(1);
                let w = ui.available_width() / cols as f32 - 8.0;
                let h = ui.available_height() / rows as f32 - 8.0;
                egui::Grid::new("views-grid")
                    .spacing([8.0, 8.0])
                    .show(ui, |ui| {
                        for (i, v) in shown.iter().enumerate() {
                            ui.allocate_ui(egui::vec2(w, h), |ui| {
                                ui.set_min_size(egui::vec2(w, h));
                                ui.vertical(|ui| {
                                    ui.strong(v.title());
                                    ui.push_id(("grid-view", i), |ui| {
                                        views::view_ui(ui, *v, &cx, &mut self.state)
                                    });
                                });
                            });
                            if (i + 1) % cols == 0 {
                                ui.end_row();
                            }
                        }
                    });
            }
        }
    }
}

impl eframe::App for KdvizApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        // egui's frame interval (real time in the app, the harness's fixed step in tests).
        let dt = ctx.input(|i| i.unstable_dt).min(0.25);
        self.receive();
        let last = self.last_epoch();
        timeline::keys(&ctx, &mut self.state, last);
        if timeline::advance(&mut self.state, &mut self.rt.play_carry, dt, last) {
            ctx.request_repaint();
        }
        for file in ctx.input(|i| i.raw.dropped_files.clone()) {
            let path = file.path();
            if self.mode == Mode::Real {
                self.real.dropped(path, &ctx);
            } else if path.extension().is_some_and(|e| e == "toml") {
                self.load_config_file(&path.display().to_string());
            }
        }

        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        match self.mode {
            Mode::Toy => {
                egui::Panel::bottom("timeline").show(ui, |ui| {
                    let last = self.last_epoch();
                    timeline::timeline_ui(ui, &mut self.state, last);
                });
                egui::Panel::left("settings")
                    .resizable(true)
                    .default_size(330.0)
                    .show(ui, |ui| self.side_panel(ui));
                egui::CentralPanel::default().show(ui, |ui| self.central(ui));
            }
            Mode::Real => {
                self.real.receive();
                egui::Panel::left("real-settings")
                    .resizable(true)
                    .default_size(330.0)
                    .show(ui, |ui| self.real.side_ui(ui));
                egui::CentralPanel::default().show(ui, |ui| self.real.central_ui(ui));
            }
        }
        let last = self.last_epoch();
        let result = self.rt.result.clone();
        if let Some(s) = self
            .rt
            .figures
            .show(&ctx, &self.state, result.as_ref(), last)
        {
            self.rt.status = Some(s);
        }

        self.refit_if_changed();
        if self.rt.waiting {
            ctx.request_repaint_after(Duration::from_millis(30));
        }
        self.rt.frame_ms = t0.elapsed().as_secs_f32() * 1e3;
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
        eframe::set_value(storage, REAL_KEY, &self.real.settings);
    }
}
