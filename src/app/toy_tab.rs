//! The toy tab: settings on the left, the views of the last good fit in the middle, the timeline
//! below. Every change of settings refits on a worker thread; the views keep the last good fit.

use crate::app::export_dialog::FigureExport;
use crate::app::fit_worker::FitWorker;
use crate::app::panels::{divergences, optimizer, student, teacher};
use crate::app::undo::{self, History};
use crate::app::{Status, timeline};
use crate::figure::{self, FigureSpec};
use crate::toy::{FitConfig, FitResult, FitSpec, preset};
use crate::views::palette;
use crate::views::state::{Layout, ToyState, View};
use crate::views::{self, ViewCtx};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The toy tab: its persisted state, and the runtime resources and transient inputs beside it.
pub struct ToyTab {
    pub state: ToyState,
    worker: FitWorker,
    /// What the views show: the last fit that succeeded, or the epochs a running refit has so far.
    result: Option<Arc<FitResult>>,
    /// The last whole fit that succeeded (shown again when a refit fails part way).
    complete: Option<Arc<FitResult>>,
    /// The settings of the last request, to notice changes.
    requested: Option<FitSpec>,
    requested_at: Instant,
    waiting: bool,
    status: Option<Status>,
    fit_ms: f64,
    /// The status text a failed fit set: the next good fit clears that one, not a load's complaint.
    fit_error: Option<String>,
    /// Settings before each change, for undo and redo.
    history: History<ToyState>,
    /// The last request came from a drag: an older request's partial result may be shown meanwhile.
    dragged: bool,
    play_carry: f32,
    teacher_panel: teacher::TeacherPanel,
    student_panel: student::StudentPanel,
    export: ExportSettings,
    /// The animation dialog and the paper-layout exports (worker-thread renders).
    figures: FigureExport,
    config_path: String,
    /// The settings panel on the left (hidden in presenter mode).
    pub show_settings: bool,
}

impl ToyTab {
    /// The tab around a given state; `ctx` is woken when a refit arrives.
    pub fn new(ctx: egui::Context, state: ToyState) -> Self {
        let worker = FitWorker::spawn(Arc::new(move || ctx.request_repaint()));
        let history = History::new(undo::settings(&state), undo::LIMIT);
        ToyTab {
            state,
            worker,
            result: None,
            complete: None,
            history,
            dragged: false,
            requested: None,
            requested_at: Instant::now(),
            waiting: false,
            status: None,
            fit_ms: 0.0,
            fit_error: None,
            play_carry: 0.0,
            teacher_panel: Default::default(),
            student_panel: Default::default(),
            export: ExportSettings::default(),
            figures: FigureExport::default(),
            config_path: "kdviz-config.toml".into(),
            show_settings: true,
        }
    }

    /// The fit the views currently show.
    pub fn result(&self) -> Option<&FitResult> {
        self.result.as_deref()
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// The animation dialog and layout exports (tests read their progress).
    pub fn figure_export(&self) -> &FigureExport {
        &self.figures
    }

    /// True while a requested refit has not come back yet (a partial result may be on show).
    pub fn is_fitting(&self) -> bool {
        self.waiting
    }

    fn result_is_complete(&self) -> bool {
        match (&self.result, &self.complete) {
            (Some(r), Some(c)) => Arc::ptr_eq(r, c),
            _ => false,
        }
    }

    /// Steps of settings that can be undone.
    pub fn undo_steps(&self) -> usize {
        self.history.undo_len()
    }

    /// Goes back one step of settings; false when there is none.
    pub fn undo(&mut self) -> bool {
        match self.history.undo(&undo::settings(&self.state)) {
            Some(s) => {
                undo::restore(&mut self.state, s);
                true
            }
            None => false,
        }
    }

    /// Re-applies the last undone step; false when there is none.
    pub fn redo(&mut self) -> bool {
        match self.history.redo(&undo::settings(&self.state)) {
            Some(s) => {
                undo::restore(&mut self.state, s);
                true
            }
            None => false,
        }
    }

    /// Ctrl+Z undoes, Ctrl+Shift+Z and Ctrl+Y redo (not while typing: a text field has its own undo).
    fn undo_keys(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (undo, redo) = ctx.input_mut(|i| {
            // The most specific shortcut first: Ctrl+Z would also match Ctrl+Shift+Z.
            let redo = i.consume_shortcut(&KeyboardShortcut::new(
                Modifiers::COMMAND | Modifiers::SHIFT,
                Key::Z,
            )) || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Y));
            let undo = i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Z));
            (undo, redo)
        });
        if undo {
            self.undo();
        }
        if redo {
            self.redo();
        }
    }

    /// Blocks until the pending refit has arrived (tests; the app itself never waits).
    pub fn wait_for_fit(&mut self, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while self.waiting && t0.elapsed() < timeout {
            self.receive();
            std::thread::sleep(Duration::from_millis(2));
        }
        !self.waiting
    }

    /// Loads a built-in preset by name.
    pub fn load_preset(&mut self, name: &str) {
        match preset::load(name) {
            Ok(cfg) => {
                let mut errors = self.state.apply_config(cfg);
                errors.extend(self.state.apply_hints());
                self.status = Some(match errors.first() {
                    Some(e) => Status::error(e.clone()),
                    None => Status::info(format!("preset {name}")),
                });
            }
            Err(e) => self.status = Some(Status::error(e)),
        }
    }

    /// Before the panels: takes a finished refit, reads the timeline keys and advances playback.
    pub fn begin_frame(&mut self, ctx: &egui::Context, dt: f32) {
        self.receive();
        let last = self.last_epoch();
        timeline::keys(ctx, &mut self.state, last);
        if timeline::advance(&mut self.state, &mut self.play_carry, dt, last) {
            ctx.request_repaint();
        }
    }

    /// The tab's panels: timeline, settings and views.
    pub fn panels_ui(&mut self, ui: &mut egui::Ui) {
        // Here rather than in `begin_frame`: Ctrl+Z on the real-model tab must not undo the toy.
        self.undo_keys(ui.ctx());
        egui::Panel::bottom("timeline").show(ui, |ui| {
            let last = self.last_epoch();
            timeline::timeline_ui(ui, &mut self.state, last);
        });
        if self.show_settings {
            egui::Panel::left("settings")
                .resizable(true)
                .default_size(330.0)
                .show(ui, |ui| self.side_ui(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| self.central_ui(ui));
    }

    /// After the panels: the export dialog's window and progress, and a refit if settings changed.
    pub fn end_frame(&mut self, ctx: &egui::Context) {
        let last = self.last_epoch();
        let result = self.result.clone();
        if let Some(s) = self.figures.show(ctx, &self.state, result.as_ref(), last) {
            self.status = Some(s);
        }
        // A drag (a slider, a drawing stroke) becomes one undo step when the pointer is released.
        let dragging = ctx.input(|i| i.pointer.any_down());
        self.history
            .observe(&undo::settings(&self.state), !dragging);
        self.refit(dragging);
        if self.waiting {
            ctx.request_repaint_after(Duration::from_millis(30));
        }
    }

    /// Takes what the worker sent since the last frame: a partial result of a running refit, or a
    /// finished one.
    pub fn receive(&mut self) {
        let Some(outcome) = self.worker.poll() else {
            return;
        };
        let latest = outcome.generation == self.worker.latest();
        match outcome.result {
            // After a click, a preset or an undo, the old settings' fit must not flash up.
            Ok(_) if !latest && !self.dragged => {}
            Ok(r) => {
                if outcome.complete {
                    self.complete = Some(r.clone());
                }
                self.result = Some(r);
                if latest && outcome.complete {
                    self.waiting = false;
                    self.fit_ms = outcome.elapsed.as_secs_f64() * 1e3;
                    if let Some(e) = self.fit_error.take()
                        && self.status.as_ref().is_some_and(|s| s.error && s.text == e)
                    {
                        self.status = None;
                    }
                }
            }
            // Keep showing the last whole fit; say why the new one failed.
            Err(e) if latest => {
                self.waiting = false;
                self.fit_ms = outcome.elapsed.as_secs_f64() * 1e3;
                if !self.result_is_complete() {
                    self.result = self.complete.clone();
                }
                self.fit_error = Some(e.clone());
                self.status = Some(Status::error(e));
            }
            Err(_) => {} // an older request's failure: a newer one is on its way
        }
    }

    /// Sends the current settings to the worker when they changed.
    pub fn refit_if_changed(&mut self) {
        self.refit(false);
    }

    /// [`ToyTab::refit_if_changed`]; `dragging`: a control is still moving, so the refit now running
    /// may show its first epochs before it gives way to this one.
    fn refit(&mut self, dragging: bool) {
        match self.state.fit_spec() {
            Ok(spec) => {
                if self.requested.as_ref() != Some(&spec) {
                    self.worker.request(spec.clone(), dragging);
                    self.dragged = dragging;
                    self.requested = Some(spec);
                    self.requested_at = Instant::now();
                    self.waiting = true;
                }
            }
            Err(e) => {
                if self.status.as_ref().map(|s| &s.text) != Some(&e) {
                    self.fit_error = Some(e.clone());
                    self.status = Some(Status::error(e));
                }
            }
        }
    }

    /// The scrubber's last epoch: the settings' (the fit on show may still be arriving, or be the
    /// previous preset's; the views show the nearest epoch it has).
    pub fn last_epoch(&self) -> usize {
        self.state.config.epochs
    }

    /// The top bar's toy part: undo/redo, presets, config file, theme, Export menu, tabs or grid.
    pub fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        self.undo_buttons_ui(ui);
        ui.separator();
        egui::ComboBox::from_label("preset")
            .selected_text(if self.state.config.name.is_empty() {
                "custom"
            } else {
                &self.state.config.name
            })
            .show_ui(ui, |ui| {
                let mut chosen = None;
                for (name, _) in preset::PRESETS {
                    let description = preset::load(name).map(|c| c.description);
                    if ui
                        .selectable_label(self.state.config.name == *name, *name)
                        .on_hover_text(description.unwrap_or_default())
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
            egui::TextEdit::singleline(&mut self.config_path)
                .desired_width(160.0)
                .hint_text("config.toml"),
        );
        if ui.button("Save config").clicked() {
            let text = self.state.to_config().to_toml();
            self.status = Some(match std::fs::write(&self.config_path, text) {
                Ok(()) => Status::info(format!("saved {}", self.config_path)),
                Err(e) => Status::error(format!("{}: cannot write: {e}", self.config_path)),
            });
        }
        if ui.button("Load config").clicked() {
            let path = self.config_path.clone();
            self.load_config_file(&path);
        }
        if ui.button("Reset to defaults").clicked() {
            let theme = self.state.theme;
            self.state = ToyState {
                theme,
                ..ToyState::default()
            };
            self.status = Some(Status::info("reset to the built-in defaults"));
        }
        ui.separator();
        super::theme_toggle_ui(ui, &mut self.state.theme);
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
    }

    /// ↶ and ↷: undo and redo of settings, greyed out when there is nothing to undo or redo.
    fn undo_buttons_ui(&mut self, ui: &mut egui::Ui) {
        // The arrows come from the monospace font, whose glyphs run small: enlarge them.
        let size = ui.text_style_height(&egui::TextStyle::Button) * 1.3;
        let arrow = |s: &str| egui::RichText::new(s).size(size);
        let undo = ui
            .add_enabled(self.history.can_undo(), egui::Button::new(arrow("↶")))
            .on_hover_text("undo the last change of settings (Ctrl+Z)")
            .on_disabled_hover_text("nothing to undo");
        if undo.clicked() {
            self.undo();
        }
        let redo = ui
            .add_enabled(self.history.can_redo(), egui::Button::new(arrow("↷")))
            .on_hover_text("redo (Ctrl+Shift+Z or Ctrl+Y)")
            .on_disabled_hover_text("nothing to redo");
        if redo.clicked() {
            self.redo();
        }
    }

    fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(
            "The current view at the current epoch, drawn like the app (no hover, no controls).",
        );
        ui.add(
            egui::TextEdit::singleline(&mut self.export.path).hint_text("figure.png / .svg / .csv"),
        );
        ui.add(
            egui::Slider::new(&mut self.export.scale, 1.0..=4.0)
                .step_by(0.5)
                .text("PNG scale"),
        );
        ui.checkbox(&mut self.export.transparent, "transparent background");
        if ui.button("Export view").clicked() {
            let path = self.export.path.clone();
            self.status = Some(match self.export_view(&path) {
                Ok(()) => Status::info(format!("exported {path}")),
                Err(e) => Status::error(e),
            });
            ui.close();
        }
        ui.separator();
        let last = self.last_epoch();
        let result = self.result.clone();
        let figures = &mut self.figures;
        if let Some(s) = figures.menu_ui(ui, &self.state, result.as_ref(), last) {
            self.status = Some(s);
        }
    }

    /// Writes the active view at the current epoch as PNG, SVG or CSV (chosen by the extension).
    pub fn export_view(&self, path: &str) -> Result<(), String> {
        let result = self.result.as_deref().ok_or("no fit to export yet")?;
        let ext = figure::format::format_of(path, path, &["png", "svg", "csv"])?;
        let spec = FigureSpec {
            view: self.state.active,
            layout: figure::Layout::View,
            epochs: vec![self.state.epoch],
            title: None,
            size: egui::vec2(960.0, 600.0),
            scale: self.export.scale,
            theme: self.state.theme,
            transparent: self.export.transparent,
        };
        let write = |bytes: &[u8]| {
            std::fs::write(path, bytes).map_err(|e| format!("{path}: cannot write: {e}"))
        };
        match ext.as_str() {
            "png" => figure::raster::save_png(
                &figure::render_png(result, &self.state, &spec)?,
                std::path::Path::new(path),
            ),
            "svg" => write(figure::render_svg(result, &self.state, &spec).as_bytes()),
            "csv" => write(figure::view_csv(result, spec.view, &spec.epochs)?.as_bytes()),
            _ => Err(format!("{path}: cannot write .{ext} files here")),
        }
    }

    /// Loads a TOML config; a bad file leaves the current settings untouched.
    pub fn load_config_file(&mut self, path: &str) {
        match FitConfig::from_file(std::path::Path::new(path)).and_then(|c| c.to_spec().map(|_| c))
        {
            Ok(cfg) => {
                let mut errors = self.state.apply_config(cfg);
                errors.extend(self.state.apply_hints());
                self.status = Some(match errors.first() {
                    Some(e) => {
                        let line = std::fs::read_to_string(path)
                            .ok()
                            .and_then(|text| FitConfig::view_line(&text, e));
                        match line {
                            Some(line) => Status::error(format!("{path} line {line}: {e}")),
                            None => Status::error(format!("{path}: {e}")),
                        }
                    }
                    None => Status::info(format!("loaded {path}")),
                });
            }
            Err(e) => self.status = Some(Status::error(e)),
        }
    }

    pub fn side_ui(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            let classes = teacher::class_count(&self.state.config.teacher).unwrap_or(0);
            egui::CollapsingHeader::new("Teacher")
                .default_open(true)
                .show(ui, |ui| {
                    let cfg = &mut self.state.config;
                    if let Some(s) = teacher::teacher_ui(
                        ui,
                        &mut self.teacher_panel,
                        &mut cfg.teacher,
                        &mut cfg.student,
                    ) {
                        self.status = Some(s);
                    }
                });
            egui::CollapsingHeader::new("Student")
                .default_open(true)
                .show(ui, |ui| {
                    student::student_ui(
                        ui,
                        &mut self.student_panel,
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

    /// The status bar's toy part (right to left): the last refit's time and, while a refit takes
    /// more than a few frames, its progress.
    pub fn status_ui(&self, ui: &mut egui::Ui) {
        ui.label(format!("refit {:.1} ms", self.fit_ms));
        if self.waiting && self.requested_at.elapsed() > Duration::from_millis(150) {
            let p = &self.worker.progress;
            let done = p.done.load(std::sync::atomic::Ordering::Relaxed) as f32;
            let total = p.total.load(std::sync::atomic::Ordering::Relaxed).max(1) as f32;
            ui.add(
                egui::ProgressBar::new(done / total)
                    .desired_width(160.0)
                    .text("fitting…"),
            );
        }
    }

    fn central_ui(&mut self, ui: &mut egui::Ui) {
        let Some(result) = self.result.clone() else {
            ui.centered_and_justified(|ui| {
                ui.spinner();
            });
            return;
        };
        let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = palette::for_background(palette::run_colors(&divs), ui.visuals().dark_mode);
        let cx = ViewCtx::new(&result, &colors, self.state.epoch);
        // Views that draw nothing for this teacher (1-D or 2-D) are left out of the tabs.
        let plane = result.teacher.plane.is_some();
        let active = self.state.active;
        let offered = View::ALL
            .into_iter()
            .filter(|v| v.fits(plane) || *v == active);
        match self.state.layout {
            Layout::Tabs => {
                ui.horizontal(|ui| {
                    for v in offered {
                        ui.selectable_value(&mut self.state.active, v, v.title());
                    }
                });
                ui.separator();
                views::view_ui(ui, self.state.active, &cx, &mut self.state);
            }
            Layout::Grid => {
                ui.horizontal_wrapped(|ui| {
                    for v in View::ALL.into_iter().filter(|v| v.fits(plane)) {
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
                let mut shown = self.state.grid_views.clone();
                shown.retain(|v| v.fits(plane));
                let cols = if shown.len() > 1 { 2 } else { 1 };
                views::common::cells_ui(ui, shown.len(), cols, 8.0, |ui, i, _| {
                    ui.strong(shown[i].title());
                    views::view_ui(ui, shown[i], &cx, &mut self.state);
                });
            }
        }
    }
}
