//! Training students on real-model-sized logits: full-batch Adam on `[N × V]` rows, per-epoch
//! metrics, on the GPU when one is usable and on the CPU otherwise.
//!
//! One epoch, on either backend:
//!
//! 1. student logits `S` (free: the parameters; low-rank: `S = H·W`);
//! 2. per row, the divergence value and its gradient `G` w.r.t. `S` (the loss kernel / on the CPU
//!    the f32 engine [`crate::math::row32`] for fkl, rkl, tvd, jsd and akl, the f64 engine
//!    [`crate::math::value_and_grad`] for the others; see `train/cpu.rs`);
//! 3. per row, the metrics: KL(p‖q), KL(q‖p), the AKL head and tail gaps (head = top-1 ∪ cumulative
//!    teacher mass ≤ μ, exactly as the toy's [`crate::toy::metrics`]), and whether the student's
//!    argmax is the teacher's; averaged over rows on the CPU;
//! 4. the objective `mean_r value_r`, whose gradient is `G / N`; low-rank: `dH = G·Wᵀ / N`,
//!    `dW = Hᵀ·G / N`;
//! 5. one PyTorch Adam step (bias-corrected, `eps` after the square root, f32 parameters and moments
//!    as torch keeps them).
//!
//! Epoch 0 is the initial student; `epochs` steps follow. Top-1 agreement splits ties: see [`EpochStats::top1`].
//!
//! TAID: a fixed `t` is used as is; with a schedule, `t` moves once per epoch exactly as in the toy
//! ([`crate::toy::fit::TaidState`], fed the mean over rows of the cross-entropy `−Σ p_t log q`, which is
//! what the TAID code feeds `update_t`). Hinton's hard label is `data.labels` when present, else the
//! teacher's argmax of each row.

mod cpu;
mod floor;

pub use cpu::{matmul_nn, matmul_nt, matmul_tn};
pub use floor::cpu_copy_bandwidth;

use super::{RealData, RealError};
use crate::gpu::{GpuContext, GpuError};
use crate::io::csv::Quoted;
use crate::math::Divergence;
use crate::math::practice::{Loss, stored_refusal};
use crate::math::range::{clamp0, short};
use crate::math::rng::Rng;
use crate::toy::fit::TaidState;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Upper limit on epochs per run.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Upper limit on the rank of a low-rank student.
pub const MAX_RANK: usize = crate::toy::lesson::MAX_REAL_RANK;

/// What the student's parameters are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StudentKind {
    /// The `[N × V]` logits themselves (initialised from `RealData::student_init`, else zeros =
    /// uniform). Can match the teacher exactly.
    #[default]
    Free,
    /// Logits `H·W`, `H` `[N × rank]`, `W` `[rank × V]`; cannot match a teacher of higher rank.
    /// Seeded init: `H ~ N(0, 1/rank)`, `W ~ N(0, 0.01)`, so the initial logits have standard
    /// deviation 0.1 (a nearly uniform student) whatever the rank. `student_init` is ignored.
    LowRank { rank: usize },
}

impl fmt::Display for StudentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StudentKind::Free => f.write_str("free"),
            StudentKind::LowRank { rank } => write!(f, "lowrank:d={rank}"),
        }
    }
}

impl FromStr for StudentKind {
    type Err = String;

    /// `free`, `lowrank:d=64` (also `lowrank:64`, `lowrank:rank=64`; `lowrank` alone is d = 64).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!("student '{s}'; expected 'free' or 'lowrank:d=N' with N from 1 to {MAX_RANK}")
        };
        if s.eq_ignore_ascii_case("free") {
            return Ok(StudentKind::Free);
        }
        let (name, arg) = s.split_once(':').unwrap_or((s, "d=64"));
        if !name.trim().eq_ignore_ascii_case("lowrank") {
            return Err(bad());
        }
        let arg = arg.trim();
        let num = arg
            .strip_prefix("d=")
            .or_else(|| arg.strip_prefix("rank="))
            .unwrap_or(arg);
        match num.trim().parse::<usize>() {
            Ok(rank) if (1..=MAX_RANK).contains(&rank) => Ok(StudentKind::LowRank { rank }),
            _ => Err(bad()),
        }
    }
}

/// Where to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The GPU when one is usable, else the CPU (the reason is reported in `TrainResult::fallback`).
    #[default]
    Auto,
    /// The GPU or an error.
    Gpu,
    /// The CPU engine (all cores; f32 or f64 per row, see [`CpuArith`]).
    Cpu,
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Gpu => "gpu",
            BackendChoice::Cpu => "cpu",
        })
    }
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => Err(format!("backend '{s}'; expected auto, gpu or cpu")),
        }
    }
}

/// The CPU engine's arithmetic for the families the f32 engine has ([`crate::math::row32`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuArith {
    /// f32 lanes with f64 row sums for fkl, rkl, tvd, jsd and akl (μ of the metrics head); the
    /// f64 engine for the other families and any practice option.
    #[default]
    F32,
    /// The f64 engine for every family (the reference).
    F64,
}

impl fmt::Display for CpuArith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpuArith::F32 => "f32",
            CpuArith::F64 => "f64",
        })
    }
}

impl FromStr for CpuArith {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(CpuArith::F32),
            "f64" => Ok(CpuArith::F64),
            _ => Err(format!("CPU arithmetic '{s}'; expected f32 or f64")),
        }
    }
}

/// How the GPU trainer's epoch is laid out in kernels (`gpu/fused.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpuEpoch {
    /// The free student's Adam and the metrics run inside the family's loss kernel (one kernel
    /// per epoch for a free student) where the loss and the device allow: a family without
    /// practice options on the full teacher.
    #[default]
    Fused,
    /// Adam, the loss and the metrics as separate kernels (to compare).
    Separate,
}

impl fmt::Display for GpuEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GpuEpoch::Fused => "fused",
            GpuEpoch::Separate => "separate",
        })
    }
}

impl FromStr for GpuEpoch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fused" => Ok(GpuEpoch::Fused),
            "separate" => Ok(GpuEpoch::Separate),
            _ => Err(format!("GPU epoch '{s}'; expected fused or separate")),
        }
    }
}

/// A training run's settings.
///
/// Defaults: free student, 100 epochs, Adam lr 0.05 (β = 0.9, 0.999, eps 1e-8), seed 0, metrics head
/// μ = 0.5, backend auto, f32 CPU arithmetic. lr 0.05 suits both students: with a free student it halves the toy's 0.1
/// (real rows are more peaked); with a low-rank student each Adam step moves a logit by about
/// `lr·√d`, so larger rates oscillate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub student: StudentKind,
    pub epochs: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Seeds the low-rank initialisation.
    pub seed: u64,
    /// Head of the metrics: top-1 ∪ {cumulative teacher mass ≤ μ} (independent of an AKL
    /// divergence's own μ).
    pub mu: f64,
    pub backend: BackendChoice,
    /// The CPU engine's arithmetic (the GPU is f32 throughout).
    pub cpu_arith: CpuArith,
    /// The GPU trainer's kernels.
    pub gpu_epoch: GpuEpoch,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            student: StudentKind::Free,
            epochs: 100,
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            seed: 0,
            mu: 0.5,
            backend: BackendChoice::Auto,
            cpu_arith: CpuArith::F32,
            gpu_epoch: GpuEpoch::Fused,
        }
    }
}

impl TrainConfig {
    /// Checks every field; the message names the field and the expected range.
    pub fn check(&self) -> Result<(), RealError> {
        let err = |m: String| Err(RealError::Input(m));
        if self.epochs > MAX_EPOCHS {
            return err(format!(
                "epochs={}; expected at most {MAX_EPOCHS}",
                self.epochs
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1e3) {
            return err(format!(
                "lr={}; expected a positive number up to 1e3",
                short(self.lr)
            ));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return err(format!("{name}={}; expected a number in [0, 1)", short(b)));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return err(format!(
                "eps={}; expected a positive number",
                short(self.eps)
            ));
        }
        if !(0.0..1.0).contains(&self.mu) {
            return err(format!(
                "mu={}; expected a number in [0, 1)",
                short(self.mu)
            ));
        }
        if let StudentKind::LowRank { rank } = self.student
            && !(1..=MAX_RANK).contains(&rank)
        {
            return err(format!("lowrank rank d={rank}; expected 1 to {MAX_RANK}"));
        }
        Ok(())
    }
}

/// The metrics of one epoch, averaged over rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// 0 = the initial student.
    pub epoch: usize,
    /// Mean over rows of the loss being minimised, as the student sees it (its true value, not a
    /// cross-entropy; under a top-k support or a temperature, not the divergence to the teacher).
    pub objective: f64,
    /// The per-class metrics, always against the full teacher at temperature 1; `None` when the
    /// student's vocabulary is not the teacher's (`uld` across vocabularies), where class `k` of
    /// one is not class `k` of the other, or when only the teacher's top k is known (a top-k file).
    pub classes: Option<ClassMetrics>,
    /// Wall time since the start of the run (after setup and upload).
    pub seconds: f64,
}

/// The metrics that compare teacher and student class by class, averaged over rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassMetrics {
    pub kl_pq: f64,
    pub kl_qp: f64,
    /// `Σ_head |p − q|` and `Σ_tail |p − q|` with the head of [`TrainConfig::mu`].
    pub head_gap: f64,
    pub tail_gap: f64,
    /// Fraction of rows where the student's argmax is the teacher's (a row whose largest student
    /// logit is shared by `m` classes, the teacher's among them, counts `1/m`).
    pub top1: f64,
}

impl EpochStats {
    /// One per-class metric, or `None` where the vocabularies differ.
    pub fn class(&self, pick: fn(&ClassMetrics) -> f64) -> Option<f64> {
        self.classes.as_ref().map(pick)
    }

    /// Every run's metrics per epoch, one row each: `runs` are (loss, stats) pairs
    /// (`kdviz real --csv` and the real tab's metrics export).
    pub fn write_csv<'a>(
        runs: impl IntoIterator<Item = (&'a Loss, &'a [EpochStats])>,
        out: &mut impl std::fmt::Write,
    ) -> std::fmt::Result {
        writeln!(
            out,
            "divergence,epoch,objective,kl_pq,kl_qp,head_gap,tail_gap,top1,seconds"
        )?;
        for (div, stats) in runs {
            let name = Quoted(&div.to_string()).to_string();
            for s in stats {
                // Per-class metrics that do not exist (different vocabularies) are empty cells.
                let classes = match &s.classes {
                    Some(c) => format!(
                        "{},{},{},{},{}",
                        c.kl_pq, c.kl_qp, c.head_gap, c.tail_gap, c.top1
                    ),
                    None => ",,,,".to_string(),
                };
                writeln!(
                    out,
                    "{name},{},{},{classes},{}",
                    s.epoch, s.objective, s.seconds
                )?;
            }
        }
        Ok(())
    }

    /// [`EpochStats::write_csv`] as a string.
    pub fn csv<'a>(runs: impl IntoIterator<Item = (&'a Loss, &'a [EpochStats])>) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = Self::write_csv(runs, &mut out);
        out
    }
}

/// Everything a run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainResult {
    pub div: Loss,
    pub stats: Vec<EpochStats>,
    /// The final student logits `[N × V]`.
    pub student_logits: Vec<f32>,
    /// `GPU: <adapter> (<backend>)` or `CPU (<k> threads, <f32|f64>)`.
    pub backend: String,
    /// Why the GPU was not used under [`BackendChoice::Auto`].
    pub fallback: Option<String>,
    /// Rows per second over the training steps (`N × epochs / seconds`).
    pub rows_per_s: f64,
    /// `bytes_per_epoch × epochs / seconds`, in GB/s (10⁹ bytes).
    pub gb_per_s: f64,
    /// The byte model of one epoch on this backend's kernels (see [`bytes_per_epoch`]); on the CPU
    /// engine, the GPU's separate kernels' (the convention of its floor).
    pub bytes_per_epoch: f64,
}

/// The byte model: bytes one epoch's GPU kernels must move between memory and the chip, f32
/// everywhere, each kernel reading each input element once (re-reads of a row within a kernel count
/// once per pass; re-reads of matmul tiles are served from workgroup memory and the cache and are
/// not counted). With `E = N·V`, `P` the loss kernel's passes ([`crate::gpu::passes`]):
///
/// - loss: `(2P + 1)·4E` (P sweeps over teacher and student, one gradient write), as in
///   `peers-and-gpu.md` §3.3, plus the practice steps of full rows around it
///   ([`crate::gpu::loss_bytes_per_elem`]); a top-k support's sparse kernels
///   ([`crate::gpu::SparseBytes`]) per row;
/// - metrics: `12E` (student sweep for its log-sum-exp and argmax; teacher + student sweep for the
///   sums; the teacher's log-sum-exp is precomputed), `+4E` when a TAID schedule also reads `G`;
/// - free student: Adam reads parameter, gradient, two moments and writes three: `28E`;
/// - [`GpuEpoch::Fused`] (a family without practice options): the metrics come out of the
///   loss's gradient pass (`0`) and the free student's Adam out of its first pass, which already
///   reads the logits (`24E`).
/// - low-rank rank d: `S = H·W` writes `4E` and reads `4d(N+V)`; `dH = G·Wᵀ` and `dW = Hᵀ·G` each
///   read `4E + 4d(N+V)` and write their split-K partials `4·s·dN`, `4·s·dV` (s = splits); Adam on
///   `H` and `W` moves `4·(s + 6)·d(N+V)`.
///
/// Reading back the per-row values and metrics (`28N` bytes) is included.
pub fn bytes_per_epoch(
    div: &Loss,
    student: StudentKind,
    n: usize,
    v: usize,
    taid_schedule: bool,
    epoch: GpuEpoch,
) -> f64 {
    let fused = epoch == GpuEpoch::Fused && div.practice.is_default();
    let e = (n * v) as f64;
    let loss_bytes = match crate::gpu::topk_bytes_per_row(div, v) {
        // A top-k support reads the stored [N × k] teacher, not [N × V].
        Ok(sparse) if div.practice.support.k().is_some() => n as f64 * sparse.total() as f64,
        // Full rows: the family's passes, and the practice steps around it (`gpu/shaping.rs`).
        _ => crate::gpu::loss_bytes_per_elem(div, crate::gpu::Storage::F32) as f64 * e,
    };
    let mut bytes = loss_bytes + 28.0 * n as f64;
    if !fused {
        bytes += if taid_schedule { 16.0 } else { 12.0 } * e;
    }
    match student {
        StudentKind::Free => bytes += if fused { 24.0 } else { 28.0 } * e,
        StudentKind::LowRank { rank } => {
            let d = rank as f64;
            let hw = d * (n + v) as f64;
            let (sh, sw) = crate::gpu::train_splits(n, v, rank);
            let (sh, sw) = (sh as f64, sw as f64);
            bytes += 4.0 * e + 4.0 * hw; // S = H·W
            bytes += 4.0 * e + 4.0 * hw + 4.0 * sh * d * n as f64; // dH
            bytes += 4.0 * e + 4.0 * hw + 4.0 * sw * d * v as f64; // dW
            bytes += 4.0 * ((sh + 6.0) * d * n as f64 + (sw + 6.0) * d * v as f64);
        }
    }
    bytes
}

/// Per-row sums one forward evaluation produces (before dividing by N).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sums {
    pub objective: f64,
    pub kl_pq: f64,
    pub kl_qp: f64,
    pub head: f64,
    pub tail: f64,
    pub top1: f64,
    /// `Σ_rows −Σ_k p_t log q` (TAID schedule only).
    pub ce: f64,
    /// Rows whose value is finite but whose gradient is not (CPU engine; refused by [`train`]).
    pub bad_grad: usize,
    /// The first row the practice pipeline refused or computed as non-finite, and why (CPU engine;
    /// refused by [`train`]).
    pub refused: Option<String>,
}

/// Adam's constants for one step (bias corrections from the host, in f64, as torch does).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamStep {
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    /// `lr / (1 − β1^t)`.
    pub step_size: f32,
    /// `√(1 − β2^t)`.
    pub bc2_sqrt: f32,
    /// Multiplies the raw gradient (1/N: the objective is a mean over rows).
    pub gscale: f32,
}

impl AdamStep {
    fn new(cfg: &TrainConfig, step: i32, n: usize) -> Self {
        AdamStep {
            b1: cfg.beta1 as f32,
            b2: cfg.beta2 as f32,
            eps: cfg.eps as f32,
            step_size: (cfg.lr / (1.0 - cfg.beta1.powi(step))) as f32,
            bc2_sqrt: (1.0 - cfg.beta2.powi(step)).sqrt() as f32,
            gscale: (1.0 / n as f64) as f32,
        }
    }

    /// One element: torch's `exp_avg.lerp_(g, 1−β1)`, `exp_avg_sq.mul_(β2).addcmul_(g, g, 1−β2)`,
    /// `p.addcdiv_(m, √v/√bc2 + eps, −step_size)`, in f32 (the GPU kernel does the same).
    #[inline(always)]
    pub fn update(&self, p: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        let g = g * self.gscale;
        *m += (1.0 - self.b1) * (g - *m);
        *v = *v * self.b2 + (1.0 - self.b2) * g * g;
        *p -= self.step_size * *m / (v.sqrt() / self.bc2_sqrt + self.eps);
    }
}

/// What both backends need from the teacher, computed once on the CPU.
pub(crate) struct Prep {
    /// Argmax of each teacher row (lowest index on ties).
    pub t_argmax: Vec<u32>,
    /// Hinton's hard label per row.
    pub labels: Vec<u32>,
    /// Per row `(threshold, cut index)` of the metrics head ([`crate::math::akl::head_threshold`]).
    pub head: Vec<(f32, u32)>,
    /// The μ of `head`.
    pub mu: f64,
}

impl Prep {
    fn new(data: &RealData, mu: f64) -> Prep {
        let (n, v) = (data.n, data.v);
        let mut head = vec![(0.0, 0); n];
        let t_argmax: Vec<u32> = match &data.topk {
            // Only the top k known: its first id is the argmax; no metrics need the head.
            Some(top) if !data.has_full_teacher() => (0..n).map(|r| top.row(r).ids[0]).collect(),
            _ => {
                par_rows(&mut head, 1, |r, out| {
                    out[0] =
                        crate::math::akl::head_threshold(&data.teacher[r * v..(r + 1) * v], mu);
                });
                (0..n).map(|r| argmax(data.teacher_row(r))).collect()
            }
        };
        let labels = data.labels.clone().unwrap_or_else(|| t_argmax.clone());
        Prep {
            t_argmax,
            labels,
            head,
            mu,
        }
    }
}

/// Top-1 agreement of one row: `1/ties` when the teacher's top class `t` holds the student's
/// largest logit shared by `ties` classes, else 0 (the expected agreement when ties are broken at
/// random: Adam's sign-like first steps leave whole groups of free logits exactly equal).
pub(crate) fn top1_credit(student: &[f32], t: usize) -> f64 {
    let max = student.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if student.get(t) != Some(&max) {
        return 0.0;
    }
    1.0 / student.iter().filter(|&&z| z == max).count().max(1) as f64
}

/// The first index of the largest value.
pub(crate) fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (k, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = k;
        }
    }
    best as u32
}

pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |t| t.get())
}

/// Runs `f(row, out_row)` over `out` split in rows of `width` items, on all cores.
pub(crate) fn par_rows<T: Send>(out: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let rows = out.len() / width.max(1);
    let per = rows.div_ceil(threads()).max(1);
    let f = &f;
    std::thread::scope(|s| {
        for (i, chunk) in out.chunks_mut(per * width).enumerate() {
            s.spawn(move || {
                for (j, o) in chunk.chunks_mut(width).enumerate() {
                    f(i * per + j, o);
                }
            });
        }
    });
}

/// The seeded low-rank initialisation `(H, W)` (see [`StudentKind::LowRank`]).
pub(crate) fn lowrank_init(n: usize, v: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let sh = (1.0 / d as f64).sqrt();
    let h = (0..n * d).map(|_| (sh * rng.normal()) as f32).collect();
    let w = (0..d * v).map(|_| (0.1 * rng.normal()) as f32).collect();
    (h, w)
}

/// A backend: evaluates the current student, then steps it.
pub(crate) trait Engine {
    /// Value, gradient and metrics of the current student under `loss` (t already set for TAID).
    fn forward(&mut self, loss: &Loss, want_ce: bool) -> Result<Sums, RealError>;
    /// One Adam step along the gradient of the last forward.
    fn step(&mut self, adam: &AdamStep) -> Result<(), RealError>;
    /// The current student logits `[N × V]`.
    fn student_logits(&mut self) -> Result<Vec<f32>, RealError>;
    /// The kernels whose byte model the run's `bytes_per_epoch` counts: a GPU engine's own; on
    /// the CPU engine the separate kernels' (the convention of the CPU floor in BENCHMARKS.md).
    fn byte_model(&self) -> GpuEpoch {
        GpuEpoch::Separate
    }
}

/// Trains a student on `data` under `loss` (see the module documentation).
///
/// A loss with practice options (practice.md §9–§12) trains on either engine where the GPU takes
/// it ([`gpu_refusal`]), row `r` of epoch `e` on the sampler stream `e·N + r` (§10.5); with a
/// top-k teacher (`data.topk`) the student
/// sees only the stored top k ([`crate::math::practice::evaluate_stored`]), while the metrics
/// stay against the full teacher when it is known.
///
/// `loss` is a [`Loss`] or a plain [`Divergence`] (no practice option). `progress` is called once
/// per epoch (epoch 0 included); `cancel` is read before every epoch and stops the run with
/// [`RealError::Cancelled`].
pub fn train(
    gpu: Option<&GpuContext>,
    data: &RealData,
    loss: &(impl Into<Loss> + Copy),
    cfg: &TrainConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&EpochStats),
) -> Result<TrainResult, RealError> {
    let loss: &Loss = &(*loss).into();
    data.check()?;
    cfg.check()?;
    check_vocabularies(data, loss)?;
    check_teacher(data, loss)?;
    let div = &loss.family;
    let sv = data.student_v;
    if let StudentKind::LowRank { rank } = cfg.student
        && rank > sv.max(data.n)
    {
        return Err(RealError::Input(format!(
            "lowrank rank d={rank} exceeds both dimensions of the {} × {sv} logits; expected at most {}",
            data.n,
            data.n.max(sv)
        )));
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(RealError::Cancelled);
    }
    let prep = Prep::new(data, cfg.mu);
    let taid_schedule = matches!(
        div,
        Divergence::Taid {
            schedule: Some(_),
            ..
        }
    );
    if taid_schedule && !loss.practice.is_default() {
        return Err(RealError::Input(format!(
            "{loss}: a TAID schedule moves t by the cross-entropy to the plain teacher; with \
             practice options use a fixed t (taid:t=…)"
        )));
    }

    let mut fallback = None;
    let gpu_engine = match (cfg.backend, gpu) {
        (BackendChoice::Cpu, _) => None,
        (BackendChoice::Gpu, None) => return Err(RealError::Gpu(GpuError::NoAdapter)),
        (BackendChoice::Auto, None) => {
            fallback = Some(GpuError::NoAdapter.to_string());
            None
        }
        // A software rasteriser (llvmpipe, WARP) is a CPU running shader code: the CPU engine
        // trains the same thing several times faster (see BENCHMARKS.md).
        (BackendChoice::Auto, Some(ctx)) if ctx.info().device_type == "Cpu" => {
            fallback = Some(format!(
                "{} is a software adapter, slower than the CPU engine; trained on the CPU \
                 (choose the gpu backend to use it anyway)",
                ctx.info().name
            ));
            None
        }
        (choice, Some(ctx)) => match GpuEngine::new(ctx, data, loss, cfg, &prep) {
            Ok(e) => Some(e),
            Err(e @ (GpuError::NoAdapter | GpuError::Unsupported(_) | GpuError::Device(_)))
                if choice == BackendChoice::Auto =>
            {
                fallback = Some(format!("{e}; trained on the CPU instead"));
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let (mut engine, backend): (Box<dyn Engine + '_>, String) = match gpu_engine {
        Some(e) => {
            let name = e.name();
            (Box::new(e), name)
        }
        None => {
            let e = cpu::CpuEngine::new(data, cfg, &prep)?;
            let name = format!("CPU ({} threads, {})", threads(), e.arithmetic(loss));
            (Box::new(e), name)
        }
    };

    let n = data.n as f64;
    let mut taid = match div {
        Divergence::Taid {
            schedule: Some(s), ..
        } => Some(TaidState::new(*s)),
        _ => None,
    };
    let metrics = data.aligned() && data.has_full_teacher();
    let mut stats = Vec::with_capacity(cfg.epochs + 1);
    let start = Instant::now();
    for epoch in 0..=cfg.epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(RealError::Cancelled);
        }
        if epoch > 0 {
            engine.step(&AdamStep::new(cfg, epoch as i32, data.n))?;
        }
        let current = match (&taid, div) {
            (Some(state), Divergence::Taid { schedule, .. }) => Loss {
                family: Divergence::Taid {
                    t: state.t,
                    schedule: *schedule,
                },
                practice: loss.practice,
            },
            _ => *loss,
        };
        let s = engine.forward(&current, taid.is_some())?;
        if let Some(why) = s.refused {
            return Err(RealError::Input(why));
        }
        let st = EpochStats {
            epoch,
            objective: s.objective / n,
            classes: metrics.then(|| ClassMetrics {
                kl_pq: s.kl_pq / n,
                kl_qp: s.kl_qp / n,
                head_gap: s.head / n,
                tail_gap: s.tail / n,
                top1: s.top1 / n,
            }),
            seconds: start.elapsed().as_secs_f64(),
        };
        check_epoch(loss, data, cfg, epoch, &st, s.bad_grad)?;
        progress(&st);
        stats.push(st);
        if let Some(state) = &mut taid {
            state.update(s.ce / n, epoch, cfg.epochs);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let student_logits = engine.student_logits()?;
    let bytes = bytes_per_epoch(
        loss,
        cfg.student,
        data.n,
        data.v.max(sv),
        taid_schedule,
        engine.byte_model(),
    );
    let (rows_per_s, gb_per_s) = if cfg.epochs > 0 && seconds > 0.0 {
        let e = cfg.epochs as f64;
        (n * e / seconds, bytes * e / seconds / 1e9)
    } else {
        (0.0, 0.0)
    };
    Ok(TrainResult {
        div: *loss,
        stats,
        student_logits,
        backend,
        fallback,
        rows_per_s,
        gb_per_s,
        bytes_per_epoch: bytes,
    })
}

/// A student of another vocabulary than the teacher's trains only under `uld`, which compares
/// sorted probabilities (practice.md §2); every other family compares class by class.
pub fn check_vocabularies(data: &RealData, loss: &Loss) -> Result<(), RealError> {
    if data.aligned() || matches!(loss.family, Divergence::Uld) {
        return Ok(());
    }
    Err(RealError::Input(format!(
        "V mismatch: the teacher has {} classes, the student {}; {loss} compares class by class \
         and needs the same vocabulary (only uld accepts different sizes)",
        data.v, data.student_v
    )))
}

/// A teacher known as its top k (a top-k file, or `--topk`) serves only the top-k supports with
/// k up to its k, and none of the keys that read the teacher's full row (practice.md §10.6).
pub fn check_teacher(data: &RealData, loss: &Loss) -> Result<(), RealError> {
    let Some(top) = &data.topk else {
        return Ok(());
    };
    match stored_refusal(loss, top.k) {
        None => Ok(()),
        Some(why) if top.derived => Err(RealError::Input(format!(
            "{why} (the teacher is --topk {}; without --topk the full teacher is used)",
            top.k
        ))),
        Some(why) => Err(RealError::Input(why)),
    }
}

/// Why the GPU trainer cannot train `loss` on `data`, if it cannot. A top-k teacher (derived, or
/// a file without the full rows, which then has no per-class metrics) trains there under the options
/// the top-k kernels take (`gpu/topk`); full rows under the practice options `gpu/shaping.rs` runs.
pub fn gpu_refusal(data: &RealData, loss: &Loss) -> Option<String> {
    if data.topk.is_some() {
        return crate::gpu::topk_bytes_per_row(loss, data.v)
            .err()
            .map(|e| e.to_string());
    }
    practice_refusal(loss)
}

/// Why the GPU trainer cannot train `loss`'s practice options on a full teacher, if it cannot
/// ([`crate::gpu::loss_refusal`]: `compute≠exact`, `precision=f64`, a top-k support without a
/// stored top k); `None` for a plain divergence.
pub fn practice_refusal(loss: &Loss) -> Option<String> {
    if loss.practice.is_default() {
        return None;
    }
    match crate::gpu::loss_refusal(loss) {
        Ok(()) => None,
        // The reason itself: it is the options, not this device, that the GPU does not run.
        Err(GpuError::Unsupported(why)) => Some(why),
        Err(e) => Some(e.to_string()),
    }
}

/// The output policy ([`crate::math::range`]) for one epoch, the same on both backends: the
/// objective and metrics finite, every gradient finite, else an error that says why.
fn check_epoch(
    div: &Loss,
    data: &RealData,
    cfg: &TrainConfig,
    epoch: usize,
    st: &EpochStats,
    bad_grad: usize,
) -> Result<(), RealError> {
    let err = |m: String| Err(RealError::Input(m));
    if st.objective.is_nan() || st.class(|c| c.kl_pq).is_some_and(f64::is_nan) {
        if epoch == 0 {
            // No step was taken: the inputs themselves, not the learning rate.
            return err(format!(
                "{div} is undefined (NaN) at epoch 0, before any step, for these logits; expected \
                 {}",
                crate::math::range::logits_range()
            ));
        }
        return err(format!(
            "{div} diverged at epoch {epoch}: the student's logits became non-finite; lower the \
             learning rate (lr={})",
            short(cfg.lr)
        ));
    }
    if st.objective.is_infinite() {
        if data.teacher.contains(&f32::NEG_INFINITY) {
            return err(format!(
                "{div} is infinite at epoch {epoch}: the teacher gives zero probability (-inf \
                 logits) to classes the student covers; choose a divergence that stays finite \
                 there (fkl, jsd, tvd, skl)"
            ));
        }
        return err(format!(
            "{div} overflows at epoch {epoch}: a row's value exceeds f32's range (3.4e38, the \
             real-model path's range on both backends; αβ exponents below 0 raise tiny \
             probabilities to huge powers); choose exponents ≥ 0 or another divergence"
        ));
    }
    if bad_grad > 0 {
        return err(format!(
            "{div} at epoch {epoch}: the gradient of {bad_grad} rows exceeds f32's range while \
             the value is finite; choose αβ exponents ≥ 0 or another divergence"
        ));
    }
    Ok(())
}

/// A synthetic long-tailed teacher for benchmarks (no file needed): per row, logit
/// `−1.2·ln(rank + 1) + 0.1·noise` with the ranks a seeded random permutation (so rows differ and
/// the logits have full rank). Time an epoch with
/// `train(gpu, &synthetic_zipf(2048, 8192, 0), &div, &TrainConfig { epochs: 5, .. }, ..)` and read
/// `stats[e].seconds`, `rows_per_s`, `gb_per_s`.
pub fn synthetic_zipf(n: usize, v: usize, seed: u64) -> RealData {
    let mut rng = Rng::new(seed);
    let mut teacher = Vec::with_capacity(n * v);
    let mut perm: Vec<usize> = (0..v).collect();
    for _ in 0..n {
        rng.shuffle(&mut perm);
        teacher.extend(
            perm.iter()
                .map(|&rank| (-1.2 * ((rank + 1) as f64).ln() + 0.1 * rng.normal()) as f32),
        );
    }
    RealData {
        source: format!("synthetic: zipf {n} × {v}, seed {seed}"),
        n,
        v,
        student_v: v,
        teacher,
        topk: None,
        student_init: None,
        tokens: None,
        contexts: None,
        labels: None,
    }
}

/// The GPU trainer behind the [`Engine`] interface.
struct GpuEngine<'c> {
    inner: crate::gpu::Trainer<'c>,
    n: usize,
    /// The teacher's logits, which `support=sampled` draws from on the host every epoch.
    teacher: &'c [f32],
    /// Forward passes so far, one per epoch: row r of epoch e samples on stream e·N + r (§10.5).
    epoch: u64,
}

impl<'c> GpuEngine<'c> {
    fn new(
        ctx: &'c GpuContext,
        data: &'c RealData,
        loss: &Loss,
        cfg: &TrainConfig,
        prep: &Prep,
    ) -> Result<GpuEngine<'c>, GpuError> {
        use crate::gpu::{TrainSetup, TrainStudent};
        if let Some(why) = gpu_refusal(data, loss) {
            return Err(GpuError::Unsupported(why));
        }
        if !data.aligned() {
            return Err(GpuError::Unsupported(format!(
                "a student vocabulary other than the teacher's ({} classes, the teacher {}); uld \
                 across vocabularies trains on the CPU engine",
                data.student_v, data.v
            )));
        }
        let (n, v) = (data.n, data.v);
        let zeros;
        let hw;
        let student = match cfg.student {
            StudentKind::Free => TrainStudent::Free {
                init: match &data.student_init {
                    Some(s) => s,
                    None => {
                        zeros = vec![0f32; n * v];
                        &zeros
                    }
                },
            },
            StudentKind::LowRank { rank } => {
                hw = lowrank_init(n, v, rank, cfg.seed);
                TrainStudent::LowRank {
                    rank,
                    h: &hw.0,
                    w: &hw.1,
                }
            }
        };
        let mut metric_aux = Vec::with_capacity(5 * n);
        for r in 0..n {
            let (thr, kcut) = prep.head[r];
            let (m, log_sum) = lse64(data.teacher_row(r));
            metric_aux.extend([
                thr.to_bits(),
                kcut,
                prep.t_argmax[r],
                m.to_bits(),
                (log_sum as f32).to_bits(),
            ]);
        }
        // The stored top k as the kernels read it: f32 log-probabilities (practice.md §12.5).
        let topk32 = data.topk.as_ref().map(|t| {
            let lp: Vec<f32> = t.logprobs.iter().map(|&x| x as f32).collect();
            let tail: Option<Vec<f32>> = t
                .tail
                .as_ref()
                .map(|tail| tail.iter().map(|&x| x as f32).collect());
            (t, lp, tail)
        });
        let topk = topk32.as_ref().map(|(t, lp, tail)| crate::gpu::StoredRows {
            ids: &t.ids,
            lp,
            tail: tail.as_deref(),
            k: t.k,
        });
        let inner = crate::gpu::Trainer::new(
            ctx,
            &TrainSetup {
                n,
                v,
                teacher: &data.teacher,
                student,
                loss: *loss,
                topk,
                labels: &prep.labels,
                metric_aux: &metric_aux,
                fuse: cfg.gpu_epoch == GpuEpoch::Fused,
            },
        )?;
        Ok(GpuEngine {
            inner,
            n,
            teacher: &data.teacher,
            epoch: 0,
        })
    }

    fn name(&self) -> String {
        let info = self.inner.info();
        format!("GPU: {} ({})", info.name, info.backend)
    }
}

/// Log-sum-exp of a row (at least one finite entry) as its max and the log of the rescaled sum in
/// f64: the kernel forms `(u − max) − ln Σ`, never `u − (max + ln Σ)`, which rounded to f32 would
/// carry an error of ulp(max).
fn lse64(row: &[f32]) -> (f32, f64) {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let s: f64 = row
        .iter()
        .map(|&x| (f64::from(x) - f64::from(m)).exp())
        .sum();
    (m, s.ln())
}

impl Engine for GpuEngine<'_> {
    fn forward(&mut self, loss: &Loss, want_ce: bool) -> Result<Sums, RealError> {
        let stream0 = self.epoch.wrapping_mul(self.n as u64);
        self.epoch += 1;
        self.inner.sample_teacher(self.teacher, stream0)?;
        let (values, metrics) = self.inner.forward(&loss.family, want_ce)?;
        let mut s = Sums::default();
        // A divergence's f32 rounding below 0 is clamped; a practice loss may be negative (a
        // truncated top-k loss is not a divergence), as on the CPU engine.
        let objective = if loss.practice.is_default() {
            clamp0
        } else {
            std::convert::identity
        };
        // Row order, f64: the same summation as the CPU engine's.
        for r in 0..self.n {
            let m = &metrics[r * 6..r * 6 + 6];
            s.objective += objective(f64::from(values[r]));
            s.kl_pq += clamp0(f64::from(m[0]));
            s.kl_qp += clamp0(f64::from(m[1]));
            s.head += f64::from(m[2]);
            s.tail += f64::from(m[3]);
            s.top1 += f64::from(m[4]);
            s.ce += f64::from(m[5]);
        }
        Ok(s)
    }

    fn step(&mut self, adam: &AdamStep) -> Result<(), RealError> {
        self.inner.step(&crate::gpu::AdamConsts {
            b1: adam.b1,
            b2: adam.b2,
            eps: adam.eps,
            step_size: adam.step_size,
            bc2_sqrt: adam.bc2_sqrt,
            gscale: adam.gscale,
        });
        Ok(())
    }

    fn student_logits(&mut self) -> Result<Vec<f32>, RealError> {
        Ok(self.inner.student_logits()?)
    }

    fn byte_model(&self) -> GpuEpoch {
        if self.inner.fused() {
            GpuEpoch::Fused
        } else {
            GpuEpoch::Separate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv::parse_csv;

    #[test]
    fn stats_csv_reads_back() {
        let stats = |objective: f64| EpochStats {
            epoch: 2,
            objective,
            classes: Some(ClassMetrics {
                kl_pq: 0.5,
                kl_qp: 0.25,
                head_gap: 0.1,
                tail_gap: 0.2,
                top1: 0.875,
            }),
            seconds: 1.5,
        };
        let taid: Loss = "taid:t_start=0.4,t_end=1,rate=0.0005,momentum=0.99"
            .parse()
            .unwrap();
        let fkl = Loss::from(Divergence::Fkl);
        let (a, b) = ([stats(0.123456789)], [stats(f64::INFINITY), stats(1e-300)]);
        let csv = EpochStats::csv([(&fkl, &a[..]), (&taid, &b[..])]);
        let rows = parse_csv(&csv);
        assert_eq!(
            rows[0].join(","),
            "divergence,epoch,objective,kl_pq,kl_qp,head_gap,tail_gap,top1,seconds"
        );
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.len() == 9));
        assert_eq!(rows[1][0], "fkl");
        assert_eq!(rows[1][2].parse::<f64>().unwrap(), 0.123456789);
        assert_eq!(rows[2][0], taid.to_string());
        assert_eq!(rows[2][2].parse::<f64>().unwrap(), f64::INFINITY);
        assert_eq!(rows[3][2].parse::<f64>().unwrap(), 1e-300);
        assert!(csv.starts_with("divergence,") && csv.contains("\n\"fkl\",2,"));
        assert_eq!(rows[1][3].parse::<f64>().unwrap(), 0.5);
        assert_eq!(rows[1][7].parse::<f64>().unwrap(), 0.875);
        assert_eq!(rows[1][8].parse::<f64>().unwrap(), 1.5);
        // Across vocabularies the per-class cells are empty, the row keeps its 9 columns.
        let uld = [EpochStats {
            classes: None,
            ..stats(0.25)
        }];
        let rows = parse_csv(&EpochStats::csv([(&Loss::from(Divergence::Uld), &uld[..])]));
        assert_eq!(rows[1], ["uld", "2", "0.25", "", "", "", "", "", "1.5"]);
        // A loss with practice options is one cell, its spec as printed.
        let topk: Loss = "fkl:support=topk-tail,k=16,st=2".parse().unwrap();
        let rows = parse_csv(&EpochStats::csv([(&topk, &uld[..])]));
        assert_eq!(rows[1][0], "fkl:st=2,support=topk-tail,k=16");
        assert_eq!(rows[1].len(), 9);
    }
}
