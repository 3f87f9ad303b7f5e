//! The desktop app: the eframe shell around the views. Tabs, side panels, the workers that fit and
//! train off the UI thread, dialogs and persistence. Owns no maths and draws no plot itself.

pub mod export_dialog;
pub mod fit_worker;
pub mod help;
pub mod kdviz_app;
pub mod lesson_bar;
pub mod panels;
pub mod presenter;
pub mod real_tab;
pub mod real_worker;
pub mod timeline;
pub mod toy_tab;
pub mod undo;

#[cfg(test)]
mod tests;

pub use kdviz_app::{KdvizApp, Mode};

use crate::views::state::Theme;

/// A line for the status bar: information, or an error that left the last good state in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

impl Status {
    pub fn info(text: impl Into<String>) -> Self {
        Status {
            text: text.into(),
            error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Status {
            text: text.into(),
            error: true,
        }
    }
}

/// How the window opens (`kdviz app --tab real --run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOptions {
    pub mode: Mode,
    /// Starts a real-model run at once (demos, screenshots).
    pub run: bool,
    /// Opens a lesson at a step (from 0).
    pub lesson: Option<(String, usize)>,
    /// Starts in presenter mode.
    pub present: bool,
    /// Opens the toy tab on this preset.
    pub preset: Option<String>,
    /// Opens the toy tab on this config file.
    pub config: Option<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            mode: Mode::Toy,
            run: false,
            lesson: None,
            present: false,
            preset: None,
            config: None,
        }
    }
}

/// Opens the window; returns an error message when no window can be opened (no display, no GPU driver).
pub fn run_app(opts: AppOptions) -> Result<(), String> {
    if let Some((name, step)) = &opts.lesson {
        crate::toy::lesson::load(name)?.step(step + 1)?;
    }
    // Checked before the window opens, so that a wrong name or file is a one-line error (exit 2).
    if let Some(name) = &opts.preset {
        crate::toy::preset::load(name)?;
    }
    if let Some(path) = &opts.config {
        let config = crate::toy::FitConfig::from_file(std::path::Path::new(path))?;
        // Its `[view]` table too, as `kdviz figure --config` checks it.
        let mut state = crate::views::state::ToyState::default();
        state.apply_config(config);
        if let Some(problem) = state.apply_hints().first() {
            let line = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| crate::toy::FitConfig::view_line(&text, problem));
            return Err(match line {
                Some(line) => format!("{path} line {line}: {problem}"),
                None => format!("{path}: {problem}"),
            });
        }
    }
    if let Some(missing) = no_display() {
        return Err(format!(
            "cannot open the window: {missing} (the command-line tools work without one: kdviz --help)"
        ));
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("kdviz")
            .with_inner_size([1440.0, 900.0])
            .with_maximized(true)
            .with_min_inner_size([800.0, 500.0]),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "kdviz",
        options,
        Box::new(move |cc| {
            let mut app = KdvizApp::new(cc);
            app.mode = opts.mode;
            if let Some(name) = &opts.preset {
                app.mode = Mode::Toy;
                app.toy.load_preset(name);
            }
            if let Some(path) = &opts.config {
                app.mode = Mode::Toy;
                app.toy.load_config_file(path);
            }
            if let Some((name, step)) = opts.lesson.clone() {
                app.lesson_action(lesson_bar::Action::Open(name, step), &cc.egui_ctx);
            }
            if opts.present {
                app.presenter.enter(&cc.egui_ctx);
            }
            if opts.run {
                app.real.run(&cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        format!(
            "cannot open the window: {} (the command-line tools work without one: kdviz --help)",
            without_source_paths(&e.to_string())
        )
    })
}

/// Why no window can open on a Unix desktop without a display server, before winit says it with
/// the path of its own source file.
fn no_display() -> Option<&'static str> {
    let unix_desktop = cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "android")
    ));
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    (unix_desktop && !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("WAYLAND_SOCKET"))
        .then_some("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
}

/// A library's error without the source locations some of them carry (winit's `os error at
/// /root/.cargo/registry/src/.../mod.rs:765: ...`): they tell the user nothing.
pub fn without_source_paths(message: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for word in message.split(' ') {
        if word.contains(".rs:") {
            if out.last() == Some(&"at") {
                out.pop();
            }
            // `mod.rs:765:` ends a clause: keep its colon on the word before.
            if word.ends_with(':')
                && let Some(last) = out.pop()
            {
                out.push(last.trim_end_matches(':'));
                out.push(":");
            }
            continue;
        }
        out.push(word);
    }
    out.join(" ").replace(" :", ":")
}

/// Sets egui's light or dark visuals for kdviz's theme, and text sizes readable on a projector (body
/// 15 points, small text 13) in both; the first call also installs the fonts (a fallback that draws
/// the arrows of the divergences' names).
pub fn set_theme(ctx: &egui::Context, theme: Theme) {
    ctx.set_theme(match theme {
        Theme::Light => egui::Theme::Light,
        Theme::Dark => egui::Theme::Dark,
    });
    ctx.all_styles_mut(crate::views::common::readable_text);
    let installed = egui::Id::unique("kdviz-fonts-installed");
    if !ctx.data(|d| d.get_temp::<bool>(installed).unwrap_or(false)) {
        crate::views::common::install_fonts(ctx);
        ctx.data_mut(|d| d.insert_temp(installed, true));
    }
}

/// The "dark" switch of the top bar: flips the theme and applies it at once.
pub fn theme_toggle_ui(ui: &mut egui::Ui, theme: &mut Theme) {
    let dark = *theme == Theme::Dark;
    if ui.selectable_label(dark, "dark").clicked() {
        *theme = if dark { Theme::Light } else { Theme::Dark };
        set_theme(ui.ctx(), *theme);
    }
}

#[cfg(test)]
mod error_text_tests {
    use super::without_source_paths;

    #[test]
    fn source_paths_are_dropped_from_library_errors() {
        assert_eq!(
            without_source_paths(
                "winit EventLoopError: os error at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/\
                 winit-0.30.13/src/platform_impl/linux/mod.rs:765: neither WAYLAND_DISPLAY nor \
                 WAYLAND_SOCKET nor DISPLAY is set."
            ),
            "winit EventLoopError: os error: neither WAYLAND_DISPLAY nor WAYLAND_SOCKET nor DISPLAY \
             is set."
        );
        assert_eq!(without_source_paths("no adapter"), "no adapter");
    }
}
