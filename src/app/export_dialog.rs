//! The Export menu's long-running exports, rendered on a worker thread so the window never waits: the
//! epoch animation of the current view (GIF or APNG, with a progress bar and Cancel) and the paper-style
//! layouts (epochs as panels, divergences × epochs) as PNG or SVG.

use crate::app::Status;
use crate::figure::{self, AnimFormat, FigureSpec, Layout, Outcome, anim};
use crate::toy::FitResult;
use crate::views::state::{Theme, ToyState, View};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

/// The CLI's limit too: a GIF of more frames is not a figure any more.
const MAX_FRAMES: usize = 2000;
/// More panels than this no longer read at slide size.
const MAX_LAYOUT_EPOCHS: usize = 12;

/// The animation dialog's inputs.
struct AnimSettings {
    path: String,
    first: usize,
    last: usize,
    /// Frames given as a count spread over the range, instead of every `step` epochs.
    by_count: bool,
    step: usize,
    count: usize,
    fps: u32,
    width: f32,
    height: f32,
    scale: f32,
    theme: Theme,
}

impl Default for AnimSettings {
    fn default() -> Self {
        AnimSettings {
            path: "kdviz-animation.gif".into(),
            first: 0,
            last: 199,
            by_count: false,
            step: 1,
            count: 50,
            fps: 10,
            width: 960.0,
            height: 600.0,
            scale: 1.0,
            theme: Theme::Light,
        }
    }
}

impl AnimSettings {
    fn epochs(&self) -> Vec<usize> {
        if self.by_count {
            anim::epochs_by_count(self.first, self.last, self.count)
        } else {
            anim::epochs_by_step(self.first, self.last, self.step)
        }
    }
}

/// The paper-layout inputs of the Export menu.
struct LayoutSettings {
    path: String,
    epochs: String,
    layout: Layout,
    scale: f32,
    title: String,
    /// The config (name, snapshots, length) the epochs field was filled from, to refill it on a preset.
    filled_for: Option<(String, Vec<usize>, usize)>,
}

impl Default for LayoutSettings {
    fn default() -> Self {
        LayoutSettings {
            path: "kdviz-layout.png".into(),
            epochs: String::new(),
            layout: Layout::EpochGrid,
            scale: 2.0,
            title: String::new(),
            filled_for: None,
        }
    }
}

/// A render running on the worker thread.
struct Job {
    /// "animation" or "layout", for the status line.
    what: &'static str,
    path: String,
    done: Arc<AtomicUsize>,
    total: usize,
    cancel: Arc<AtomicBool>,
    outcome: Receiver<Result<Outcome, String>>,
}

/// State of the animation dialog and the layout exports; the app keeps one.
#[derive(Default)]
pub struct FigureExport {
    open: bool,
    anim: AnimSettings,
    layout: LayoutSettings,
    job: Option<Job>,
}

impl FigureExport {
    /// Frames (or panels) rendered and the total, while an export runs.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.job
            .as_ref()
            .map(|j| (j.done.load(Ordering::Relaxed), j.total))
    }

    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The Export menu's entries: open the animation dialog, and write a paper layout.
    pub fn menu_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &ToyState,
        result: Option<&Arc<FitResult>>,
        last_epoch: usize,
    ) -> Option<Status> {
        if ui.button("Animation… (GIF / APNG)").clicked() {
            self.open_dialog(state, last_epoch);
            ui.close();
        }
        ui.separator();
        ui.strong("Paper layout (distributions)");
        self.refill_epochs(state);
        let l = &mut self.layout;
        ui.horizontal(|ui| {
            ui.radio_value(&mut l.layout, Layout::EpochGrid, "epochs as panels");
            ui.radio_value(&mut l.layout, Layout::RowsByEpochs, "divergences × epochs");
        });
        labelled(ui, "layout epochs", |ui| {
            ui.add(egui::TextEdit::singleline(&mut l.epochs).hint_text("1,5,10,300"))
        });
        labelled(ui, "layout title", |ui| {
            ui.add(egui::TextEdit::singleline(&mut l.title).hint_text("none"))
        });
        labelled(ui, "layout file", |ui| {
            ui.add(egui::TextEdit::singleline(&mut l.path).hint_text("layout.png / .svg"))
        });
        ui.add(
            egui::Slider::new(&mut l.scale, 1.0..=4.0)
                .step_by(0.5)
                .text("layout scale"),
        );
        let button = ui.add_enabled(self.job.is_none(), egui::Button::new("Export layout"));
        if button.clicked() {
            ui.close();
            return Some(
                match self.start_layout(state, result, last_epoch, ui.ctx()) {
                    Ok(()) => Status::info(format!("rendering {}…", self.layout.path)),
                    Err(e) => Status::error(e),
                },
            );
        }
        None
    }

    fn open_dialog(&mut self, state: &ToyState, last_epoch: usize) {
        if !self.open {
            self.anim.theme = state.theme;
            self.anim.last = self.anim.last.min(last_epoch);
        }
        self.open = true;
    }

    /// Fills the layout's epochs from the preset's snapshot epochs whenever another config is loaded.
    fn refill_epochs(&mut self, state: &ToyState) {
        let c = &state.config;
        let key = (c.name.clone(), c.snapshots.clone(), c.epochs);
        if self.layout.filled_for.as_ref() == Some(&key) {
            return;
        }
        let epochs = if c.snapshots.is_empty() {
            anim::epochs_by_count(1, c.epochs, 4)
        } else {
            c.snapshots.clone()
        };
        self.layout.epochs = join(&epochs);
        self.layout.filled_for = Some(key);
    }

    /// Draws the animation dialog (when open) and takes the worker's outcome when it finishes; returns
    /// a line for the status bar when there is news.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        state: &ToyState,
        result: Option<&Arc<FitResult>>,
        last_epoch: usize,
    ) -> Option<Status> {
        let mut status = self.poll();
        if self.job.is_some() {
            // The worker wakes the UI per frame; this also catches a worker that died.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        let mut open = self.open;
        egui::Window::new("Export animation")
            .open(&mut open)
            .resizable(false)
            .collapsible(false)
            .show(ctx, |ui| {
                if let Some(s) = self.dialog_ui(ui, state, result, last_epoch) {
                    status = Some(s);
                }
            });
        self.open = open;
        status
    }

    fn poll(&mut self) -> Option<Status> {
        let job = self.job.as_ref()?;
        let status = match job.outcome.try_recv() {
            Err(TryRecvError::Empty) => return None,
            Ok(Ok(Outcome::Done(n))) if job.what == "animation" => {
                Status::info(format!("exported {} ({n} frames)", job.path))
            }
            Ok(Ok(Outcome::Done(_))) => Status::info(format!("exported {}", job.path)),
            Ok(Ok(Outcome::Cancelled(n))) => Status::info(format!(
                "{} cancelled after {n} of {} frames; {} not written",
                job.what, job.total, job.path
            )),
            Ok(Err(e)) => Status::error(e),
            Err(TryRecvError::Disconnected) => Status::error(format!(
                "the {} export stopped unexpectedly; {} may be incomplete",
                job.what, job.path
            )),
        };
        self.job = None;
        Some(status)
    }

    fn dialog_ui(
        &mut self,
        ui: &mut egui::Ui,
        state: &ToyState,
        result: Option<&Arc<FitResult>>,
        last_epoch: usize,
    ) -> Option<Status> {
        let busy = self.job.is_some();
        let a = &mut self.anim;
        ui.label(format!(
            "The epoch animation of the current view ({}), one frame per epoch.",
            state.active.title()
        ));
        ui.add_enabled_ui(!busy, |ui| {
            egui::Grid::new("anim-settings")
                .num_columns(2)
                .spacing([12.0, 6.0])
                .show(ui, |ui| {
                    labelled_row(ui, "first epoch", |ui| {
                        ui.add(egui::DragValue::new(&mut a.first).range(0..=last_epoch))
                    });
                    labelled_row(ui, "last epoch", |ui| {
                        ui.add(egui::DragValue::new(&mut a.last).range(0..=last_epoch))
                    });
                    ui.label("frames");
                    ui.horizontal(|ui| {
                        let every = ui.radio_value(&mut a.by_count, false, "every").id;
                        let unit = if a.step == 1 { " epoch" } else { " epochs" };
                        ui.add_enabled(
                            !a.by_count,
                            egui::DragValue::new(&mut a.step)
                                .range(1..=1000)
                                .suffix(unit),
                        )
                        .labelled_by(every);
                        let count = ui.radio_value(&mut a.by_count, true, "count").id;
                        ui.add_enabled(
                            a.by_count,
                            egui::DragValue::new(&mut a.count)
                                .range(1..=MAX_FRAMES)
                                .suffix(" frames"),
                        )
                        .labelled_by(count)
                        .on_hover_text("frames spread evenly over the range, both ends included");
                    });
                    ui.end_row();
                    labelled_row(ui, "frame rate", |ui| {
                        ui.add(
                            egui::DragValue::new(&mut a.fps)
                                .range(1..=60)
                                .suffix(" fps"),
                        )
                    });
                    labelled_row(ui, "frame width", |ui| {
                        ui.add(egui::DragValue::new(&mut a.width).range(200.0..=4000.0))
                    });
                    labelled_row(ui, "frame height", |ui| {
                        ui.add(egui::DragValue::new(&mut a.height).range(150.0..=4000.0))
                    });
                    labelled_row(ui, "frame scale", |ui| {
                        ui.add(
                            egui::DragValue::new(&mut a.scale)
                                .range(1.0..=4.0)
                                .speed(0.05)
                                .suffix("×"),
                        )
                    });
                    ui.label("theme");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut a.theme, Theme::Light, "light");
                        ui.radio_value(&mut a.theme, Theme::Dark, "dark");
                    });
                    ui.end_row();
                    // The path's extension is the format; the buttons rewrite it.
                    ui.label("format");
                    ui.horizontal(|ui| {
                        let current = AnimFormat::from_path(Path::new(&a.path));
                        for (f, name) in [(AnimFormat::Gif, "GIF"), (AnimFormat::Apng, "APNG")] {
                            if ui.radio(current == Some(f), name).clicked() {
                                a.path = Path::new(&a.path)
                                    .with_extension(f.extension())
                                    .display()
                                    .to_string();
                            }
                        }
                    });
                    ui.end_row();
                    labelled_row(ui, "file", |ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut a.path)
                                .hint_text("animation.gif / .apng")
                                .desired_width(260.0),
                        )
                    });
                });
        });
        let frames = a.epochs();
        let px = (a.width * a.scale).round() as u32;
        let py = (a.height * a.scale).round() as u32;
        ui.label(format!(
            "{} frames, {:.1} s, {px}×{py} pixels",
            frames.len(),
            frames.len() as f32 / a.fps.max(1) as f32
        ));
        if u64::from(px) * u64::from(py) > figure::raster::MAX_PIXELS {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "over the {} million pixels a frame may have: lower the scale or the size",
                    figure::raster::MAX_PIXELS / 1_000_000
                ),
            );
        }
        let mut status = None;
        ui.horizontal(|ui| {
            if ui.add_enabled(!busy, egui::Button::new("Start")).clicked() {
                status = Some(
                    match self.start_animation(state, result, last_epoch, ui.ctx()) {
                        Ok(()) => Status::info(format!("rendering {}…", self.anim.path)),
                        Err(e) => Status::error(e),
                    },
                );
            }
            if let Some(job) = &self.job {
                if ui.button("Cancel").clicked() {
                    job.cancel.store(true, Ordering::Relaxed);
                }
                let done = job.done.load(Ordering::Relaxed);
                ui.add(
                    egui::ProgressBar::new(done as f32 / job.total.max(1) as f32)
                        .desired_width(220.0)
                        .text(format!("frame {done}/{}", job.total)),
                );
            }
        });
        status
    }

    /// Checks the dialog's inputs and starts rendering the animation on a worker thread.
    fn start_animation(
        &mut self,
        state: &ToyState,
        result: Option<&Arc<FitResult>>,
        last_epoch: usize,
        ctx: &egui::Context,
    ) -> Result<(), String> {
        let result = result.ok_or("no fit to export yet")?.clone();
        let a = &self.anim;
        let path = a.path.trim().to_string();
        if path.is_empty() {
            return Err("animation: no file name; expected a path ending in .gif or .apng".into());
        }
        let format = AnimFormat::from_path(Path::new(&path));
        if format.is_none() {
            return Err(format!(
                "{path}: cannot write an animation in this format; expected .gif or .apng"
            ));
        }
        if a.first > a.last || a.last > last_epoch {
            return Err(format!(
                "animation: epochs {} to {} are not a range; expected first <= last <= {last_epoch}",
                a.first, a.last
            ));
        }
        let epochs = a.epochs();
        if epochs.len() > MAX_FRAMES {
            return Err(format!(
                "animation: {} frames; expected at most {MAX_FRAMES} (raise the step)",
                epochs.len()
            ));
        }
        let spec = FigureSpec {
            view: state.active,
            layout: Layout::View,
            epochs: vec![a.first],
            title: None,
            size: egui::vec2(a.width, a.height),
            scale: a.scale,
            theme: a.theme,
            transparent: false,
        };
        figure::raster::check_pixels(spec.size, spec.scale)
            .map_err(|e| format!("animation: {e}"))?;
        let fps = a.fps;
        let state = state.clone();
        self.spawn(
            "animation",
            path,
            epochs.len(),
            ctx,
            move |path, cancel, done, wake| {
                figure::write_animation(
                    Path::new(path),
                    fps,
                    &result,
                    &state,
                    &spec,
                    &epochs,
                    cancel,
                    &mut |i, _| {
                        done.store(i, Ordering::Relaxed);
                        wake();
                    },
                )
            },
        )
    }

    /// Checks the layout inputs and starts rendering the layout (PNG or SVG) on a worker thread.
    fn start_layout(
        &mut self,
        state: &ToyState,
        result: Option<&Arc<FitResult>>,
        last_epoch: usize,
        ctx: &egui::Context,
    ) -> Result<(), String> {
        let result = result.ok_or("no fit to export yet")?.clone();
        let l = &self.layout;
        let path = l.path.trim().to_string();
        let ext = figure::format::format_of(&path, &path, &["png", "svg"])?;
        let epochs = parse_epochs(&l.epochs, last_epoch)?;
        let spec = FigureSpec {
            view: View::Distributions,
            layout: l.layout,
            size: figure::default_size(l.layout, epochs.len(), result.runs.len()),
            epochs,
            title: Some(l.title.trim().to_string()).filter(|t| !t.is_empty()),
            scale: l.scale,
            theme: state.theme,
            transparent: false,
        };
        if ext == "png" {
            figure::raster::check_pixels(spec.size, spec.scale)
                .map_err(|e| format!("{path}: {e}"))?;
        }
        let state = state.clone();
        self.spawn("layout", path, 1, ctx, move |path, _, done, _| {
            let bytes_written = if ext == "svg" {
                std::fs::write(path, figure::render_svg(&result, &state, &spec))
                    .map_err(|e| format!("{path}: cannot write: {e}"))
            } else {
                // Fail on an unwritable path before rendering.
                std::fs::File::create(path).map_err(|e| format!("{path}: cannot write: {e}"))?;
                let saved = figure::render_png(&result, &state, &spec)
                    .and_then(|img| figure::raster::save_png(&img, Path::new(path)));
                if saved.is_err() {
                    std::fs::remove_file(path).ok(); // no empty or partial PNG left behind
                }
                saved
            };
            bytes_written?;
            done.store(1, Ordering::Relaxed);
            Ok(Outcome::Done(1))
        })
    }

    /// Runs `work(path, cancel, done, wake)` on a new thread; its outcome is taken by `poll`.
    fn spawn(
        &mut self,
        what: &'static str,
        path: String,
        total: usize,
        ctx: &egui::Context,
        work: impl FnOnce(&str, &AtomicBool, &AtomicUsize, &dyn Fn()) -> Result<Outcome, String>
        + Send
        + 'static,
    ) -> Result<(), String> {
        if self.job.is_some() {
            return Err("an export is already running".into());
        }
        let (tx, rx) = channel();
        let done = Arc::new(AtomicUsize::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (d, c, p, ctx) = (done.clone(), cancel.clone(), path.clone(), ctx.clone());
        std::thread::Builder::new()
            .name("kdviz-export".into())
            .spawn(move || {
                let wake = || ctx.request_repaint();
                let _ = tx.send(work(&p, &c, &d, &wake));
                ctx.request_repaint();
            })
            .map_err(|e| format!("cannot start the export: {e}"))?;
        self.job = Some(Job {
            what,
            path,
            done,
            total,
            cancel,
            outcome: rx,
        });
        Ok(())
    }
}

/// `1,5,10,300` → sorted, distinct epochs within the fit.
fn parse_epochs(raw: &str, last_epoch: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for item in raw
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let e: usize = item.parse().map_err(|_| {
            format!(
                "layout epochs: {item:?} is not an epoch; expected whole numbers like 1,5,10,300"
            )
        })?;
        if e > last_epoch {
            return Err(format!(
                "layout epochs: {e} is after the last epoch; expected 0 to {last_epoch}"
            ));
        }
        out.push(e);
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() || out.len() > MAX_LAYOUT_EPOCHS {
        return Err(format!(
            "layout epochs: {} given; expected 1 to {MAX_LAYOUT_EPOCHS}, like 1,5,10,300",
            out.len()
        ));
    }
    Ok(out)
}

fn join(epochs: &[usize]) -> String {
    epochs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A label and its widget on one line, the widget named by the label for screen readers and tests.
fn labelled(ui: &mut egui::Ui, label: &str, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
    ui.horizontal(|ui| {
        let id = ui.label(label).id;
        add(ui).labelled_by(id);
    });
}

/// [`labelled`] as a row of a two-column grid.
fn labelled_row(ui: &mut egui::Ui, label: &str, add: impl FnOnce(&mut egui::Ui) -> egui::Response) {
    let id = ui.label(label).id;
    add(ui).labelled_by(id);
    ui.end_row();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_epochs_parse_and_check() {
        assert_eq!(parse_epochs("300, 1,5 10,5", 800).unwrap(), [1, 5, 10, 300]);
        assert!(parse_epochs("1,x", 800).unwrap_err().contains("\"x\""));
        assert!(parse_epochs("1,900", 800).unwrap_err().contains("0 to 800"));
        assert!(parse_epochs(" , ", 800).is_err());
    }
}
