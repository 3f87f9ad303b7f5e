//! The desktop app (eframe/egui): panels and views over the toy engine. Owns no maths.

pub mod app;
pub mod palette;
pub mod panels;
pub mod state;
pub mod timeline;
pub mod views;
pub mod worker;

pub use app::KdvizApp;

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

/// Opens the window; returns an error message when no window can be opened (no display, no GPU driver).
pub fn run_app() -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("kdviz")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "kdviz",
        options,
        Box::new(|cc| Ok(Box::new(KdvizApp::new(cc)))),
    )
    .map_err(|e| {
        format!(
            "cannot open the window: {e} (the command-line tools work without one: kdviz --help)"
        )
    })
}
