//! The eframe application: the top bar (tab switch, theme, the tab's own controls), the status bar,
//! and the two tabs; persistence of both tabs' settings between sessions.

use crate::app::real_tab::{RealSettings, RealTab};
use crate::app::toy_tab::ToyTab;
use crate::app::{Status, set_theme, theme_toggle_ui};
use crate::views::state::ToyState;
use std::time::Instant;

/// Where the real-model tab's settings are kept between sessions.
const REAL_KEY: &str = "kdviz-real";

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
        if let Some(real) = cc
            .storage
            .and_then(|s| eframe::get_value::<RealSettings>(s, REAL_KEY))
        {
            app.real = RealTab::with_settings(real);
        }
        app
    }

    /// Builds the app around a given toy state (tests start from defaults or a preset).
    pub fn with_state(ctx: egui::Context, state: ToyState) -> Self {
        set_theme(&ctx, state.theme);
        super::install_fonts(&ctx);
        KdvizApp {
            toy: ToyTab::new(ctx, state),
            real: RealTab::default(),
            mode: Mode::Toy,
            frame_ms: 0.0,
        }
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
        // The toy keeps fitting while the other tab is on show.
        self.toy.begin_frame(&ctx, dt);
        for file in ctx.input(|i| i.raw.dropped_files.clone()) {
            let path = file.path();
            if self.mode == Mode::Real {
                self.real.dropped(path, &ctx);
            } else if path.extension().is_some_and(|e| e == "toml") {
                self.toy.load_config_file(&path.display().to_string());
            }
        }

        egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar_ui(ui));
        match self.mode {
            Mode::Toy => self.toy.panels_ui(ui),
            Mode::Real => {
                self.real.receive();
                egui::Panel::left("real-settings")
                    .resizable(true)
                    .default_size(330.0)
                    .show(ui, |ui| self.real.side_ui(ui));
                egui::CentralPanel::default().show(ui, |ui| self.real.central_ui(ui));
            }
        }
        self.toy.end_frame(&ctx);
        self.frame_ms = t0.elapsed().as_secs_f32() * 1e3;
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.toy.state);
        eframe::set_value(storage, REAL_KEY, &self.real.settings);
    }
}
