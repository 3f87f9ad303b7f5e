//! kdviz: fit a student to a teacher under any knowledge-distillation divergence and watch it converge.
//!
//! The crate is layered; each folder imports only the ones below it (ARCHITECTURE.md has a paragraph
//! per folder and says where to add a divergence, a view or a subcommand):
//!
//! ```text
//! cli      clap subcommands; prints JSON / CSV / text; never draws
//! app      the eframe shell: KdvizApp, ToyTab, RealTab, panels, workers, dialogs, persistence
//! figure   views drawn offscreen to PNG / SVG / GIF / APNG / CSV
//! views    egui + egui_plot only: every view, palette, view state, the real tab's plots
//! real     real-model data, the built-in corpus teacher, training (picks the backend)
//! gpu      wgpu device, WGSL kernels beside their Rust, the GPU trainer
//! toy      teachers, students, optimisers, the fit loop, metrics, presets, analysis
//! io       one module per file format
//! math     divergences (one file per family), parameter table, log-space numerics, rng
//! ```
//!
//! `math`, `toy` and `io` know nothing of egui or wgpu; `views` knows nothing of eframe, so `figure`
//! renders the app's own view code without the app.

pub mod app;
pub mod cli;
pub mod figure;
pub mod gpu;
pub mod io;
pub mod math;
pub mod real;
pub mod toy;
pub mod views;
