//! The real-model tab: the same divergences on `[positions × vocabulary]` teacher logits (the built-in
//! n-gram model or a file), students trained on the GPU (CPU fallback), metrics per epoch and a
//! position inspector.

use crate::app::Status;
use crate::app::panels::{divergences, log_slider, slider};
use crate::app::real_worker::{Event, RealWorker, Source};
use crate::figure::real::{self as export};
use crate::math::Divergence;
use crate::math::practice::Loss;
use crate::real::RealData;
use crate::real::train::{
    BackendChoice, CpuArith, GpuEpoch, MAX_RANK, StudentKind, TrainConfig, bytes_per_epoch,
};
use crate::views::real::{InspectorState, RunState, inspector, plots};
use crate::views::state::Slot;
use std::sync::Arc;
use std::time::Instant;

/// Default positions of the built-in teacher in the app (the CLI and file inputs may use more).
const BUILTIN_POSITIONS: usize = 2048;

/// The tab's inputs: what a run is made of (kept between sessions with the app's other settings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RealSettings {
    pub builtin: bool,
    pub positions: usize,
    pub teacher_path: String,
    pub student_path: String,
    pub tokens_path: String,
    /// The student's own vocabulary (uld across tokenizers); 0 is the teacher's.
    pub student_vocab: usize,
    /// The teacher as its top k per position, derived from the full one; 0 is the full teacher.
    pub teacher_topk: usize,
    pub slots: Vec<Slot>,
    pub low_rank: bool,
    pub rank: usize,
    pub epochs: usize,
    pub lr: f64,
    pub mu: f64,
    pub backend: BackendChoice,
    /// The CPU engine's arithmetic (the f64 engine is the reference).
    pub cpu_arith: CpuArith,
}

impl Default for RealSettings {
    fn default() -> Self {
        let cfg = TrainConfig::default();
        RealSettings {
            builtin: true,
            positions: BUILTIN_POSITIONS,
            teacher_path: String::new(),
            student_path: String::new(),
            tokens_path: String::new(),
            student_vocab: 0,
            teacher_topk: 0,
            slots: ["fkl", "rkl", "akl:mu=0.5"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .map(|div| Slot { div, enabled: true })
                .collect(),
            low_rank: true,
            rank: 16,
            epochs: cfg.epochs,
            lr: cfg.lr,
            mu: cfg.mu,
            backend: BackendChoice::Auto,
            cpu_arith: cfg.cpu_arith,
        }
    }
}

impl RealSettings {
    fn source(&self) -> Result<Source, String> {
        let student_vocab = (self.student_vocab > 0).then_some(self.student_vocab);
        let teacher_topk = (self.teacher_topk > 0).then_some(self.teacher_topk);
        if self.builtin {
            return Ok(Source::Builtin {
                positions: self.positions,
                student_vocab,
                teacher_topk,
            });
        }
        let path = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.into())
        };
        Ok(Source::File {
            teacher: path(&self.teacher_path)
                .ok_or("choose a teacher file (.safetensors or .npy) or the built-in teacher")?,
            student: path(&self.student_path),
            tokens: path(&self.tokens_path),
            student_vocab,
            teacher_topk,
        })
    }

    fn config(&self) -> TrainConfig {
        TrainConfig {
            student: if self.low_rank {
                StudentKind::LowRank { rank: self.rank }
            } else {
                StudentKind::Free
            },
            epochs: self.epochs,
            lr: self.lr,
            mu: self.mu,
            backend: self.backend,
            cpu_arith: self.cpu_arith,
            ..TrainConfig::default()
        }
    }

    fn divergences(&self) -> Vec<Loss> {
        self.slots
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.div)
            .collect()
    }
}

pub struct RealTab {
    pub settings: RealSettings,
    pub inspector: InspectorState,
    worker: Option<RealWorker>,
    wake: Option<Arc<dyn Fn() + Send + Sync>>,
    data: Option<Arc<RealData>>,
    runs: Vec<RunState>,
    /// The id of the training job whose events fill `runs`, its student and its backend.
    job: u64,
    job_student: StudentKind,
    job_backend: BackendChoice,
    running: bool,
    started: Option<Instant>,
    adapter: Option<Result<String, String>>,
    bandwidth: Option<Result<crate::gpu::CopyBandwidth, String>>,
    status: Option<Status>,
    export_path: String,
    export_scale: f32,
}

impl Default for RealTab {
    fn default() -> Self {
        RealTab {
            settings: RealSettings::default(),
            inspector: InspectorState::default(),
            worker: None,
            wake: None,
            data: None,
            runs: Vec::new(),
            job: 0,
            job_student: StudentKind::Free,
            job_backend: BackendChoice::Auto,
            running: false,
            started: None,
            adapter: None,
            bandwidth: None,
            status: None,
            export_path: "kdviz-real.png".into(),
            export_scale: 2.0,
        }
    }
}

impl RealTab {
    /// Starts from saved settings, each checked against the ranges the panel allows (a hand-edited
    /// or stale file must not start a 10⁹-epoch run).
    pub fn with_settings(mut settings: RealSettings) -> Self {
        let d = RealSettings::default();
        settings.positions = settings.positions.clamp(16, 8192);
        settings.rank = settings.rank.clamp(1, MAX_RANK);
        settings.epochs = settings.epochs.clamp(1, 5000);
        if !(settings.lr.is_finite() && (1e-4..=1.0).contains(&settings.lr)) {
            settings.lr = d.lr;
        }
        if !(0.0..1.0).contains(&settings.mu) {
            settings.mu = d.mu;
        }
        RealTab {
            settings,
            ..RealTab::default()
        }
    }

    /// The status line for the app's status bar.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn data(&self) -> Option<&RealData> {
        self.data.as_deref()
    }

    pub fn runs(&self) -> &[RunState] {
        &self.runs
    }

    /// The adapter line once the worker has looked for one.
    pub fn adapter(&self) -> Option<&Result<String, String>> {
        self.adapter.as_ref()
    }

    fn worker(&mut self, ctx: &egui::Context) -> &mut RealWorker {
        let wake = self
            .wake
            .get_or_insert_with(|| {
                let c = ctx.clone();
                Arc::new(move || c.request_repaint())
            })
            .clone();
        self.worker.get_or_insert_with(|| RealWorker::spawn(wake))
    }

    /// Loads the chosen teacher (for the inspector) without training.
    pub fn load(&mut self, ctx: &egui::Context) {
        match self.settings.source() {
            Ok(s) => {
                if let Err(e) = self.worker(ctx).load(s) {
                    self.status = Some(Status::error(e));
                }
            }
            Err(e) => self.status = Some(Status::error(e)),
        }
    }

    /// Starts training every enabled divergence; a run in progress is stopped first.
    pub fn run(&mut self, ctx: &egui::Context) {
        let divs = self.settings.divergences();
        if divs.is_empty() {
            self.status = Some(Status::error("switch on at least one divergence"));
            return;
        }
        let source = match self.settings.source() {
            Ok(s) => s,
            Err(e) => {
                self.status = Some(Status::error(e));
                return;
            }
        };
        let cfg = self.settings.config();
        if let Some(w) = &self.worker {
            w.stop();
        }
        self.runs = divs
            .iter()
            .map(|&loss| RunState {
                div: loss.family,
                loss,
                stats: Vec::new(),
                result: None,
            })
            .collect();
        match self.worker(ctx).train(source, divs, cfg) {
            Ok(job) => {
                self.job = job;
                self.job_student = cfg.student;
                self.job_backend = cfg.backend;
                self.running = true;
                self.started = Some(Instant::now());
                self.status = Some(Status::info("training…"));
            }
            Err(e) => self.status = Some(Status::error(e)),
        }
    }

    pub fn stop(&mut self) {
        if let Some(w) = &self.worker {
            w.stop();
        }
    }

    /// Takes every event the worker sent; call once per frame.
    pub fn receive(&mut self) {
        let Some(w) = &self.worker else {
            return;
        };
        for ev in w.drain() {
            match ev {
                Event::Loaded(d) => {
                    self.inspector.row = self.inspector.row.min(d.n - 1);
                    self.status = Some(Status::info(format!(
                        "loaded {} ({} positions × {} classes)",
                        d.source, d.n, d.v
                    )));
                    self.data = Some(d);
                }
                Event::Adapter(a) => self.adapter = Some(a),
                Event::Bandwidth(b) => self.bandwidth = Some(b),
                Event::Epoch { job, run, stats } if job == self.job => {
                    if let Some(r) = self.runs.get_mut(run) {
                        r.stats.push(stats);
                    }
                }
                Event::Finished { job, run, result } if job == self.job => {
                    if let Some(r) = self.runs.get_mut(run) {
                        r.result = Some(result);
                    }
                }
                Event::Failed { job, message } if job.is_none_or(|j| j == self.job) => {
                    self.status = Some(Status::error(message));
                }
                Event::Idle { job, cancelled } if job == self.job => {
                    self.running = false;
                    if cancelled {
                        self.status = Some(Status::info("stopped"));
                    } else if self.status.as_ref().is_some_and(|s| !s.error)
                        && !self.runs.is_empty()
                        && self.runs.iter().all(|r| r.result.is_some())
                    {
                        let secs = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
                        self.status = Some(Status::info(format!(
                            "trained {} divergences in {secs:.1} s",
                            self.runs.len()
                        )));
                    }
                }
                // Events of a job that a newer Run replaced.
                Event::Epoch { .. }
                | Event::Finished { .. }
                | Event::Failed { .. }
                | Event::Idle { .. } => {}
            }
        }
    }

    /// The settings side panel.
    pub fn side_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::CollapsingHeader::new("Teacher")
                .default_open(true)
                .show(ui, |ui| self.source_ui(ui, &ctx));
            egui::CollapsingHeader::new("Student")
                .default_open(true)
                .show(ui, |ui| {
                    let s = &mut self.settings;
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut s.low_rank, false, "free logits");
                        ui.selectable_value(&mut s.low_rank, true, "low rank H·W");
                    });
                    if s.low_rank {
                        let mut r = s.rank as f64;
                        if log_slider(ui, &mut r, 1.0..=MAX_RANK as f64, "rank d")
                            .on_hover_text(
                                "logits = H·W with H [positions × d], W [d × vocabulary]: \
                                 too small to match the teacher exactly",
                            )
                            .changed()
                        {
                            s.rank = r.round().clamp(1.0, MAX_RANK as f64) as usize;
                        }
                    } else {
                        ui.label("one free logit per position and class");
                    }
                });
            egui::CollapsingHeader::new("Divergences")
                .default_open(true)
                .show(ui, |ui| {
                    let v = self.data.as_ref().map_or(0, |d| d.v);
                    divergences::divergences_ui(ui, &mut self.settings.slots, v);
                });
            egui::CollapsingHeader::new("Optimiser")
                .default_open(true)
                .show(ui, |ui| {
                    let s = &mut self.settings;
                    log_slider(ui, &mut s.lr, 1e-4..=1.0, "Adam learning rate");
                    let mut e = s.epochs as f64;
                    if log_slider(ui, &mut e, 1.0..=5000.0, "epochs").changed() {
                        s.epochs = e.round().clamp(1.0, 5000.0) as usize;
                    }
                    slider(ui, &mut s.mu, 0.0..=0.99, "metrics head μ").on_hover_text(
                        "head = the teacher's top-1 class plus the classes holding cumulative \
                         teacher mass ≤ μ (the head/tail gaps use it)",
                    );
                    ui.horizontal(|ui| {
                        ui.label("backend");
                        for b in [BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu] {
                            ui.selectable_value(&mut s.backend, b, b.to_string());
                        }
                    });
                    ui.horizontal(|ui| {
                        ui.label("CPU arithmetic");
                        ui.selectable_value(&mut s.cpu_arith, CpuArith::F32, "f32")
                            .on_hover_text(
                                "SIMD rows in f32 with f64 sums, for fkl, rkl, tvd, jsd and akl \
                                 without practice options (the others run in f64)",
                            );
                        ui.selectable_value(&mut s.cpu_arith, CpuArith::F64, "f64")
                            .on_hover_text("the reference engine, every divergence in f64");
                    });
                });
        });
    }

    fn source_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let s = &mut self.settings;
        let mut own_vocab = s.student_vocab > 0;
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.builtin, true, "built-in");
            ui.selectable_value(&mut s.builtin, false, "file");
        });
        if s.builtin {
            ui.label(
                "a trigram model of Shakespeare, next-word distributions at held-out positions",
            );
            let mut n = s.positions as f64;
            if log_slider(ui, &mut n, 16.0..=8192.0, "positions").changed() {
                s.positions = n.round() as usize;
            }
        } else {
            for (field, label, hint) in [
                (&mut s.teacher_path, "teacher", "teacher.safetensors / .npy"),
                (
                    &mut s.student_path,
                    "student",
                    "optional initial student logits",
                ),
                (
                    &mut s.tokens_path,
                    "tokens",
                    "optional tokens.json / tokenizer.json",
                ),
            ] {
                ui.horizontal(|ui| {
                    ui.label(label);
                    ui.add(
                        egui::TextEdit::singleline(field)
                            .hint_text(hint)
                            .desired_width(200.0),
                    );
                });
            }
            ui.label(
                egui::RichText::new("or drop a .safetensors / .npy file on the window").small(),
            );
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut own_vocab, "student's own vocabulary")
                .on_hover_text(
                    "a student over another number of classes than the teacher's, starting \
                     uniform: only uld trains across vocabularies (it matches sorted \
                     probabilities); the inspector then shows the student by rank",
                );
            if own_vocab && s.student_vocab == 0 {
                s.student_vocab = 1000;
            }
            if own_vocab {
                ui.add(
                    egui::DragValue::new(&mut s.student_vocab)
                        .range(2..=1_000_000)
                        .suffix(" classes"),
                );
            }
        });
        if !own_vocab {
            s.student_vocab = 0;
        }
        let mut topk = s.teacher_topk > 0;
        ui.horizontal(|ui| {
            ui.checkbox(&mut topk, "teacher top-k").on_hover_text(
                "keep only the teacher's k most likely classes per position (and the mass of the \
                 rest), as a cached top-k teacher does: the students train with \
                 support=topk, topk-renorm or topk-tail (k up to this k); the metrics stay \
                 against the full teacher, so the cost of k shows",
            );
            if topk && s.teacher_topk == 0 {
                s.teacher_topk = 64;
            }
            if topk {
                ui.add(
                    egui::DragValue::new(&mut s.teacher_topk)
                        .range(1..=1_000_000)
                        .prefix("k = "),
                );
            }
        });
        if !topk {
            s.teacher_topk = 0;
        }
        if ui.button("Load teacher").clicked() {
            self.load(ctx);
        }
    }

    /// The Export menu of the tab: the metric plots or the inspected position, as PNG, SVG or CSV.
    pub fn export_ui(&mut self, ui: &mut egui::Ui, theme: crate::views::state::Theme) {
        ui.label("The metric plots, or the position in the inspector, drawn like the tab.");
        ui.add(
            egui::TextEdit::singleline(&mut self.export_path).hint_text("figure.png / .svg / .csv"),
        );
        ui.add(
            egui::Slider::new(&mut self.export_scale, 1.0..=4.0)
                .step_by(0.5)
                .text("PNG scale"),
        );
        let row = self.inspector.row;
        let chosen = ui
            .horizontal(|ui| {
                let mut chosen = None;
                if ui.button("Export metrics").clicked() {
                    chosen = Some(export::RealFigure::Metrics);
                }
                if ui.button(format!("Export position {row}")).clicked() {
                    chosen = Some(export::RealFigure::Position(row));
                }
                chosen
            })
            .inner;
        if let Some(what) = chosen {
            let path = self.export_path.trim().to_string();
            self.export(&path, what, theme);
            ui.close();
        }
    }

    /// Writes a figure of the tab (PNG, SVG or CSV by extension) and says so in the status bar.
    pub fn export(
        &mut self,
        path: &str,
        what: export::RealFigure,
        theme: crate::views::state::Theme,
    ) {
        let style = export::RealFigureStyle {
            scale: self.export_scale,
            theme,
            mu: self.settings.mu,
            ..Default::default()
        };
        self.status = Some(match &self.data {
            None => Status::error("no teacher loaded yet"),
            Some(d) => match export::write(std::path::Path::new(path), what, d, &self.runs, &style)
            {
                Ok(()) => Status::info(format!("exported {path}")),
                Err(e) => Status::error(e),
            },
        });
    }

    /// Takes dropped teacher files.
    pub fn dropped(&mut self, path: &std::path::Path, ctx: &egui::Context) {
        let name = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors" | "npy") => {
                self.settings.builtin = false;
                self.settings.teacher_path = name;
                self.load(ctx);
            }
            Some("json") => self.settings.tokens_path = name,
            _ => {
                self.status = Some(Status::error(format!(
                    "{name}: expected a .safetensors or .npy teacher, or a tokens .json"
                )))
            }
        }
    }

    /// The central area: run controls, adapter and throughput, metric plots, inspector.
    pub fn central_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.data.is_none() && self.worker.is_none() {
            self.load(&ctx); // the tab works on first launch: show the built-in teacher
        }
        self.controls_ui(ui, &ctx);
        ui.separator();
        let divs: Vec<_> = self.runs.iter().map(|r| r.div).collect();
        let colors = crate::views::palette::for_background(
            crate::views::palette::run_colors(&divs),
            ui.visuals().dark_mode,
        );
        let h = ui.available_height();
        ui.allocate_ui(egui::vec2(ui.available_width(), h * 0.45), |ui| {
            plots::metrics_ui(ui, &self.runs, &colors);
        });
        ui.separator();
        match &self.data {
            Some(d) => inspector::inspector_ui(
                ui,
                d,
                &self.runs,
                &colors,
                &mut self.inspector,
                self.settings.mu,
                false,
            ),
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("loading the teacher…");
                });
            }
        }
        if self.running {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        ui.horizontal_wrapped(|ui| {
            if self.running {
                if ui.button("Stop").clicked() {
                    self.stop();
                }
            } else if ui.button("Run").clicked() {
                self.run(ctx);
            }
            let total = self.settings.epochs.max(1) * self.runs.len().max(1);
            let done: usize = self
                .runs
                .iter()
                .map(|r| r.stats.last().map_or(0, |s| s.epoch))
                .sum();
            if self.running || done > 0 {
                let current = self.runs.iter().rev().find(|r| !r.stats.is_empty());
                let text = match current {
                    Some(r) => {
                        let e = r.stats.last().map_or(0, |s| s.epoch);
                        format!("{}: epoch {e}/{}", r.div.label(), self.settings.epochs)
                    }
                    None => "starting…".into(),
                };
                ui.add(
                    egui::ProgressBar::new(done as f32 / total as f32)
                        .desired_width(260.0)
                        .text(text),
                );
            }
            if let Some((rows, gbps)) = self.throughput() {
                ui.label(format!("{rows:.0} rows/s, {gbps:.2} GB/s"));
            }
        });
        ui.horizontal_wrapped(|ui| {
            match &self.adapter {
                Some(Ok(a)) => ui.label(format!("GPU: {a}")),
                Some(Err(e)) => ui.colored_label(ui.visuals().warn_fg_color, format!("GPU: {e}")),
                None => ui.label("GPU: not opened yet (opens on the first run)"),
            };
            if let Some(r) = self.runs.iter().find_map(|r| r.result.as_ref()) {
                ui.separator();
                ui.label(format!("ran on {}", r.backend));
                if let Some(f) = &r.fallback {
                    ui.label(format!("({f})"));
                }
            }
            ui.separator();
            match &self.bandwidth {
                Some(Ok(b)) => {
                    let frac = self
                        .throughput()
                        .map(|(_, g)| format!(", the last run moved {:.0}% of it", 100.0 * g / b.gbps))
                        .unwrap_or_default();
                    ui.label(format!("copy bandwidth {:.1} GB/s{frac}", b.gbps))
                        .on_hover_text(
                            "bandwidth model: a loss kernel that moves B bytes per epoch cannot run \
                             faster than B ÷ the copy bandwidth (read + write by a compute kernel)",
                        );
                }
                Some(Err(e)) => {
                    ui.label(format!("copy bandwidth: {e}"));
                }
                None => {}
            }
            if ui
                .small_button("measure bandwidth")
                .on_hover_text("copies 256 MB on the GPU: the floor of the byte model")
                .clicked()
                && let Err(e) = self.worker(ctx).measure_bandwidth()
            {
                self.status = Some(Status::error(e));
            }
        });
    }

    /// Rows per second and GB/s (byte model) of the run in progress, or of the last one finished.
    fn throughput(&self) -> Option<(f64, f64)> {
        let r = self.runs.iter().rev().find(|r| r.stats.len() > 1)?;
        if let Some(res) = &r.result {
            return Some((res.rows_per_s, res.gb_per_s));
        }
        let d = self.data.as_ref()?;
        let (first, last) = (r.stats.first()?, r.stats.last()?);
        let secs = last.seconds - first.seconds;
        if secs <= 0.0 {
            return None;
        }
        let epochs = (last.epoch - first.epoch) as f64;
        let taid_schedule = matches!(
            r.div,
            Divergence::Taid {
                schedule: Some(_),
                ..
            }
        );
        let bytes = bytes_per_epoch(
            &r.loss,
            self.job_student,
            d.n,
            d.v.max(d.student_v),
            taid_schedule,
            // As `train` counts: the GPU's fused kernels, the separate ones' model on the CPU.
            if self.job_backend == BackendChoice::Cpu {
                GpuEpoch::Separate
            } else {
                GpuEpoch::Fused
            },
        );
        Some((d.n as f64 * epochs / secs, bytes * epochs / secs / 1e9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_round_trip_and_bad_saved_values_are_reset() {
        let mut s = RealSettings {
            rank: 64,
            backend: BackendChoice::Cpu,
            ..RealSettings::default()
        };
        s.slots.pop();
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"backend\":\"cpu\""), "{text}");
        let back: RealSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        // Missing fields take their defaults; values outside the panel's ranges are brought back.
        let odd: RealSettings =
            serde_json::from_str(r#"{"epochs": 1000000000, "lr": -1.0, "rank": 0}"#).unwrap();
        let tab = RealTab::with_settings(odd);
        assert_eq!(tab.settings.epochs, 5000);
        assert_eq!(tab.settings.rank, 1);
        assert_eq!(tab.settings.lr, RealSettings::default().lr);
        assert_eq!(tab.settings.slots.len(), 3);
    }
}
