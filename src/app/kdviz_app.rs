//! The eframe application: the top bar (tab switch, lessons, theme, the tab's own controls), the
//! caption or lesson bar above the views, the status bar, and the two tabs; presenter mode, the help
//! overlay, the app-wide keys; persistence of both tabs' settings and the lesson progress.

use crate::app::lesson_bar::{self, Action, LessonPlayer, Progress};
use crate::app::presenter::Presenter;
use crate::app::real_tab::{RealSettings, RealTab};
use crate::app::toy_tab::ToyTab;
use crate::app::{Status, help, set_theme, theme_toggle_ui};
use crate::views::state::ToyState;
use egui::{Key, Modifiers};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Where the real-model tab's settings are kept between sessions.
const REAL_KEY: &str = "kdviz-real";
/// Where the lesson progress and presenter mode's zoom are kept.
const CLASSROOM_KEY: &str = "kdviz-classroom";

/// What the classroom features keep between sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Classroom {
    pub progress: Option<Progress>,
    pub presenter: Presenter,
}

/// The two tabs: the toy fits, and real-model-sized logits on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Toy,
    Real,
}

pub struct KdvizApp {
    pub toy: ToyTab,
    pub real: RealTab,
    pub mode: Mode,
    pub lessons: LessonPlayer,
    pub presenter: Presenter,
    /// The keyboard shortcut overlay (F1 or ?).
    pub help_open: bool,
    /// Time spent in the last call of `ui()`, in milliseconds.
    frame_ms: f32,
}

impl KdvizApp {
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let state = cc
            .storage
            .and_then(|s| eframe::get_value::<ToyState>(s, eframe::APP_KEY))
            .unwrap_or_default();
        let mut app = Self::with_state(cc.egui_ctx.clone(), state);
        if let Some(storage) = cc.storage {
            app.restore(storage);
        }
        app
    }

    /// Takes the real-model tab's settings and the lesson progress from a previous session.
    pub fn restore(&mut self, storage: &dyn eframe::Storage) {
        if let Some(real) = eframe::get_value::<RealSettings>(storage, REAL_KEY) {
            self.real = RealTab::with_settings(real);
        }
        if let Some(c) = eframe::get_value::<Classroom>(storage, CLASSROOM_KEY) {
            self.lessons.progress = c.progress;
            self.presenter = c.presenter.restored();
        }
    }

    /// What [`Self::save`](eframe::App::save) keeps of the classroom features.
    pub fn classroom(&self) -> Classroom {
        Classroom {
            progress: self.lessons.progress.clone(),
            presenter: self.presenter.clone(),
        }
    }

    /// Builds the app around a given toy state (tests start from defaults or a preset).
    pub fn with_state(ctx: egui::Context, state: ToyState) -> Self {
        set_theme(&ctx, state.theme);
        KdvizApp {
            toy: ToyTab::new(ctx, state),
            real: RealTab::default(),
            mode: Mode::Toy,
            lessons: LessonPlayer::default(),
            presenter: Presenter::default(),
            help_open: false,
            frame_ms: 0.0,
        }
    }

    /// Opens a lesson, resumes it, or moves through it (the menu, the bar and the keys come here).
    pub fn lesson_action(&mut self, action: Action, ctx: &egui::Context) {
        self.lessons
            .act(action, &mut self.toy, &mut self.real, &mut self.mode, ctx);
    }

    /// The app-wide keys, read before the timeline's: the help overlay, presenter mode, lesson steps.
    fn keys(&mut self, ctx: &egui::Context) {
        if self.help_open {
            if help::dismissed(ctx) {
                self.help_open = false;
            }
            return;
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        if help::requested(ctx) {
            self.help_open = true;
            return;
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::F5)) {
            self.presenter.toggle(ctx);
        }
        if self.presenter.on && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            self.presenter.leave(ctx);
        }
        if let Some(action) = self.lessons.keys(ctx) {
            self.lesson_action(action, ctx);
        }
    }

    /// The Lessons menu: the lessons, resume and leave, presenter mode, the shortcut list.
    fn lessons_menu_ui(&mut self, ui: &mut egui::Ui) {
        let mut action = None;
        ui.menu_button("Lessons", |ui| {
            action = self.lessons.menu_ui(ui);
            ui.separator();
            if ui.button("Presenter mode (F5)").clicked() {
                self.presenter.toggle(ui.ctx());
                ui.close();
            }
            if ui.button("Keyboard shortcuts (F1 or ?)").clicked() {
                self.help_open = true;
                ui.close();
            }
        });
        if let Some(a) = action {
            self.lesson_action(a, ui.ctx());
        }
    }

    /// Above the views: the lesson bar while a lesson is open, else the preset's description (and,
    /// while presenting, the way out).
    fn caption_bar_ui(&mut self, ui: &mut egui::Ui) {
        if self.lessons.is_open() {
            let mut action = None;
            egui::Panel::top("lesson-bar").show(ui, |ui| {
                action = self.lessons.bar_ui(ui, &mut self.presenter);
            });
            if let Some(a) = action {
                self.lesson_action(a, ui.ctx());
            }
            return;
        }
        let description = match self.mode {
            Mode::Toy => self.toy.state.config.description.trim().to_string(),
            Mode::Real => String::new(),
        };
        if description.is_empty() && !self.presenter.on {
            return;
        }
        egui::Panel::top("caption").show(ui, |ui| {
            ui.horizontal(|ui| {
                if self.presenter.on {
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
                        if ui.button("Exit presenter (Esc)").clicked() {
                            self.presenter.leave(ui.ctx());
                        }
                        ui.with_layout(egui::Layout::left_to_right(egui::Align::Min), |ui| {
                            lesson_bar::preset_caption_ui(ui, &description)
                        });
                    });
                } else {
                    ui.vertical(|ui| lesson_bar::preset_caption_ui(ui, &description));
                }
            });
        });
    }

    /// Time spent in the last call of `ui()`, in milliseconds.
    pub fn last_frame_ms(&self) -> f64 {
        self.frame_ms as f64
    }

    /// The status line of the tab on show.
    pub fn shown_status(&self) -> Option<&Status> {
        match self.mode {
            Mode::Toy => self.toy.status(),
            Mode::Real => self.real.status(),
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("kdviz");
            ui.separator();
            ui.selectable_value(&mut self.mode, Mode::Toy, "Toy");
            ui.selectable_value(&mut self.mode, Mode::Real, "Real model");
            ui.separator();
            self.lessons_menu_ui(ui);
            if ui
                .button("?")
                .on_hover_text("keyboard shortcuts (F1 or ?)")
                .clicked()
            {
                self.help_open = true;
            }
            ui.separator();
            match self.mode {
                Mode::Toy => self.toy.top_bar_ui(ui),
                Mode::Real => {
                    // One theme for both tabs (kept with the toy's settings).
                    theme_toggle_ui(ui, &mut self.toy.state.theme);
                    ui.separator();
                    let theme = self.toy.state.theme;
                    ui.menu_button("Export", |ui| self.real.export_ui(ui, theme));
                }
            }
        });
    }

    fn status_bar_ui(&mut self, ui: &mut egui::Ui) {
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
                ui.label(format!("frame {:.1} ms", self.frame_ms));
                if self.mode == Mode::Toy {
                    // the toy's refit time means nothing on the real-model tab
                    ui.separator();
                    self.toy.status_ui(ui);
                }
            });
        });
    }
}

impl eframe::App for KdvizApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        // egui's frame interval (real time in the app, the harness's fixed step in tests).
        let dt = ctx.input(|i| i.unstable_dt).min(0.25);
        self.presenter.track(&ctx);
        // Before the timeline's keys: during a lesson the arrows move between steps.
        self.keys(&ctx);
        // The toy keeps fitting while the other tab is on show.
        self.toy.begin_frame(&ctx, dt);
        self.lessons.drive(&mut self.toy);
        for file in ctx.input(|i| i.raw.dropped_files.clone()) {
            let path = file.path();
            if self.mode == Mode::Real {
                self.real.dropped(path, &ctx);
            } else if path.extension().is_some_and(|e| e == "toml") {
                self.toy.load_config_file(&path.display().to_string());
            }
        }

        // Presenter mode keeps the views, the caption or lesson bar and the timeline only.
        let presenting = self.presenter.on;
        if !presenting {
            egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui));
        }
        self.caption_bar_ui(ui);
        if !presenting {
            egui::Panel::bottom("status").show(ui, |ui| self.status_bar_ui(ui));
        }
        self.toy.show_settings = !presenting;
        match self.mode {
            Mode::Toy => self.toy.panels_ui(ui),
            Mode::Real => {
                self.real.receive();
                if !presenting {
                    egui::Panel::left("real-settings")
                        .resizable(true)
                        .default_size(330.0)
                        .show(ui, |ui| self.real.side_ui(ui));
                }
                egui::CentralPanel::default().show(ui, |ui| self.real.central_ui(ui));
            }
        }
        help::help_ui(&ctx, self.help_open);
        self.toy.end_frame(&ctx);
        self.frame_ms = t0.elapsed().as_secs_f32() * 1e3;
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.toy.state);
        eframe::set_value(storage, REAL_KEY, &self.real.settings);
        eframe::set_value(storage, CLASSROOM_KEY, &self.classroom());
    }
}
