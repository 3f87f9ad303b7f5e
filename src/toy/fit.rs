//! The fit loop: every divergence from the same initial student, full-batch steps, per-epoch records.

use super::budget::{self, FitSize};
use super::metrics::{EpochRecord, MetricsSpec, Regions};
use super::optim::{Optimizer, OptimizerSpec};
use super::parallel;
use super::student::{Student, StudentSpec};
use super::teacher::{Teacher, TeacherSpec};
use crate::math::practice::{Loss, PracticeWorkspace, evaluate};
use crate::math::range::short;
use crate::math::simd::{all_finite, copy_streaming};
use crate::math::{
    Divergence, LogDist, RowAt, TaidSchedule, Workspace, check_classes, range, value_and_grad,
    value_and_grad_at,
};
use serde::Serialize;
use std::sync::{Arc, OnceLock};

/// Upper limit on epochs per fit (a live toy, not a training job); [`budget`] bounds the work and
/// the memory of the whole fit.
pub const MAX_EPOCHS: usize = 200_000;

/// Which student distributions to keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotPlan {
    /// Keep q at every epoch (the GUI scrubs through them) while that fits in
    /// [`budget::STORE_BYTES`]; beyond, at as many epochs as fit ([`FitSize::store_epochs`]).
    pub every: bool,
    /// Keep q at these epochs (always, `every` or not).
    pub at: Vec<usize>,
}

/// A whole fit, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSpec {
    pub teacher: TeacherSpec,
    pub student: StudentSpec,
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    /// The losses fitted: a family and its practice options (`fkl:support=topk,k=16`).
    pub divergences: Vec<Loss>,
    pub snapshots: SnapshotPlan,
    pub metrics: MetricsSpec,
    /// Multiplies the gradient the optimiser sees (the AKL notebooks' `batchmean` divides by V);
    /// recorded values stay the true divergences.
    pub loss_scale: f64,
}

/// The student distribution at one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub epoch: usize,
    /// Reads as `&[f64]`.
    pub q: SnapshotQ,
    /// A free-logit student's `log Σ exp z`: its logits are `log q + lse` (what the practice
    /// options round and cap, not log q).
    #[serde(skip)]
    pub lse: Option<f64>,
}

/// A snapshot's q, read as `&[f64]`: a free-logit student's q as the fit computed it (kept side by
/// side with the run's other epochs in one buffer), or a Gaussian student's (μ, log σ), from which q
/// is computed the first time it is read and kept from then on.
///
/// A refit of a Gaussian student on a 2401-point grid over 4000 epochs would otherwise write 77 MB
/// per divergence; two numbers per epoch give the same q bit for bit ([`Student::set_dist`] equals
/// the fit's own softmax), for the few epochs a view actually shows.
///
/// Dropping the last snapshot of a buffer hands the buffer to the next fit (see [`spare`]).
#[derive(Debug, Clone)]
pub struct SnapshotQ(Source);

#[derive(Debug, Clone)]
enum Source {
    Owned(Vec<f64>),
    /// `len` doubles from `start` of a run's q of every kept epoch (`None` only while dropped).
    Shared {
        all: Option<Arc<Vec<f64>>>,
        start: usize,
        len: usize,
    },
    Gaussian {
        student: Arc<Student>,
        params: Box<[f64]>,
        q: OnceLock<Vec<f64>>,
    },
}

impl SnapshotQ {
    /// A q kept as it is.
    pub fn stored(q: Vec<f64>) -> Self {
        SnapshotQ(Source::Owned(q))
    }

    /// The q of a Gaussian student (1-D or 2-D) at `params`, computed when first read.
    fn gaussian(student: Arc<Student>, params: Box<[f64]>) -> Self {
        SnapshotQ(Source::Gaussian {
            student,
            params,
            q: OnceLock::new(),
        })
    }

    /// True while q has not been computed (a Gaussian student's snapshot not read yet).
    pub fn is_deferred(&self) -> bool {
        matches!(&self.0, Source::Gaussian { q, .. } if q.get().is_none())
    }
}

/// Free-logit snapshots at `epochs`, q of each `n` doubles side by side in `blocks` of `block` epochs.
fn shared_snapshots(
    blocks: &[Arc<Vec<f64>>],
    block: usize,
    epochs: &[usize],
    lse: &[f64],
    n: usize,
) -> Vec<Snapshot> {
    epochs
        .iter()
        .zip(lse)
        .enumerate()
        .filter_map(|(k, (&epoch, &lse))| {
            Some(Snapshot {
                epoch,
                lse: Some(lse),
                q: SnapshotQ(Source::Shared {
                    all: Some(blocks.get(k / block)?.clone()),
                    start: (k % block) * n,
                    len: n,
                }),
            })
        })
        .collect()
}

/// Doubles per block of a run's kept q (1 MiB): a partial result shares the full blocks and copies
/// only the one being filled.
const BLOCK_DOUBLES: usize = 1 << 17;

/// q of a Gaussian student at `params`, as the fit computes it.
fn gaussian_q(student: &Student, params: &[f64]) -> Vec<f64> {
    let n = student.classes().unwrap_or(0);
    let mut dist = LogDist {
        logp: spare::take(n),
        p: spare::take(n),
    };
    student.set_dist(params, &mut dist);
    spare::give(std::mem::take(&mut dist.logp));
    dist.p
}

impl std::ops::Deref for SnapshotQ {
    type Target = [f64];

    fn deref(&self) -> &[f64] {
        match &self.0 {
            Source::Owned(q) => q,
            Source::Shared { all, start, len } => all
                .as_ref()
                .and_then(|a| a.get(*start..start + len))
                .unwrap_or(&[]),
            Source::Gaussian { student, params, q } => {
                q.get_or_init(|| gaussian_q(student, params))
            }
        }
    }
}

impl PartialEq for SnapshotQ {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<Vec<f64>> for SnapshotQ {
    fn from(q: Vec<f64>) -> Self {
        SnapshotQ::stored(q)
    }
}

impl Serialize for SnapshotQ {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl Drop for SnapshotQ {
    fn drop(&mut self) {
        let buf = match &mut self.0 {
            Source::Owned(q) => Some(std::mem::take(q)),
            Source::Shared { all, .. } => all.take().and_then(Arc::into_inner),
            Source::Gaussian { q, .. } => q.take(),
        };
        if let Some(buf) = buf {
            spare::give(buf);
        }
    }
}

/// Buffers kept from dropped fits for the next ones.
///
/// A refit of free logits keeps q at every epoch of every run: 1806 vectors of 1000 doubles (14 MB) for
/// the logits benchmark. Fresh memory costs a page fault per 4 KiB, which took about as long as
/// computing the fit; reusing the buffers of the fit being replaced avoids that.
mod spare {
    use std::sync::Mutex;

    struct Pool {
        bufs: Vec<Vec<f64>>,
        /// Total capacity of `bufs`, in doubles.
        doubles: usize,
    }

    static POOL: Mutex<Pool> = Mutex::new(Pool {
        bufs: Vec::new(),
        doubles: 0,
    });
    /// The most doubles kept (one q store, [`super::budget::STORE_BYTES`]): beyond that, dropped
    /// buffers are freed.
    const MAX_DOUBLES: usize = (super::budget::STORE_BYTES / 8) as usize;

    fn pool() -> std::sync::MutexGuard<'static, Pool> {
        POOL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `buf` for reuse, unless the pool is full.
    pub fn give(buf: Vec<f64>) {
        let mut pool = pool();
        if buf.capacity() > 0 && pool.doubles + buf.capacity() <= MAX_DOUBLES {
            pool.doubles += buf.capacity();
            pool.bufs.push(buf);
        }
    }

    /// An empty buffer with room for `len` doubles: the smallest kept one that fits, or a new one.
    pub fn take(len: usize) -> Vec<f64> {
        let mut buf = take_as_is(len);
        buf.clear();
        buf
    }

    /// A buffer of `len` doubles whose values are left over from its last use (zeros where it had
    /// none): for a store written before it is read, without a pass of zeros over cold memory.
    pub fn take_sized(len: usize) -> Vec<f64> {
        let mut buf = take_as_is(len);
        if buf.len() >= len {
            buf.truncate(len);
        } else {
            buf.resize(len, 0.0);
        }
        buf
    }

    fn take_as_is(len: usize) -> Vec<f64> {
        let mut pool = pool();
        let best = (0..pool.bufs.len())
            .filter(|&i| pool.bufs[i].capacity() >= len)
            .min_by_key(|&i| pool.bufs[i].capacity());
        match best {
            Some(i) => {
                let buf = pool.bufs.swap_remove(i);
                pool.doubles -= buf.capacity();
                buf
            }
            None => Vec::with_capacity(len),
        }
    }
}

/// The history of one divergence's fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    #[serde(serialize_with = "crate::toy::fit::serialize_display")]
    pub divergence: Loss,
    pub history: Vec<EpochRecord>,
    pub snapshots: Vec<Snapshot>,
}

pub(crate) fn serialize_display<S: serde::Serializer>(
    d: &impl std::fmt::Display,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Everything a fit produces.
#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    pub teacher: Teacher,
    pub regions: Regions,
    pub runs: Vec<Run>,
}

/// Teacher, student and masks built once and shared by every divergence's run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub teacher: Teacher,
    /// Shared with the snapshots of a Gaussian student, which compute q from it.
    pub student: Arc<Student>,
    pub init: Vec<f64>,
    pub regions: Regions,
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    /// The epochs whose q is kept, ascending; `None`: every epoch.
    pub kept: Option<Vec<usize>>,
    pub loss_scale: f64,
}

impl FitSpec {
    /// Checks every field and builds what the runs share.
    pub fn prepare(&self) -> Result<Prepared, String> {
        if self.epochs > MAX_EPOCHS {
            return Err(format!(
                "epochs={}; expected at most {MAX_EPOCHS}",
                self.epochs
            ));
        }
        self.optimizer.check()?;
        self.metrics.check()?;
        if !(self.loss_scale.is_finite() && self.loss_scale > 0.0) {
            return Err(format!(
                "loss_scale={}; expected a positive number",
                short(self.loss_scale)
            ));
        }
        if let Some(&e) = self.snapshots.at.iter().find(|&&e| e > self.epochs) {
            return Err(format!(
                "snapshot epoch {e} is after the last epoch {}; expected 0 to {}",
                self.epochs, self.epochs
            ));
        }
        let teacher = self.teacher.build()?;
        let mut at = self.snapshots.at.clone();
        at.sort_unstable();
        at.dedup();
        let size = FitSize {
            epochs: self.epochs,
            classes: teacher.dist.len(),
            runs: self.divergences.len().max(1),
            snapshots: at.len(),
        };
        size.check()?;
        let kept = if self.snapshots.every {
            size.store_epochs(&at)
        } else {
            Some(at)
        };
        let (student, init) = self.student.build(&teacher)?;
        for d in &self.divergences {
            check_classes(&d.family, teacher.dist.len())?;
            check_practice(d, &teacher)?;
        }
        let regions = Regions::new(&teacher.dist.p, &self.metrics);
        Ok(Prepared {
            teacher,
            student: Arc::new(student),
            init,
            regions,
            optimizer: self.optimizer,
            epochs: self.epochs,
            kept,
            loss_scale: self.loss_scale,
        })
    }

    /// Runs every divergence from the same initial student, on as many threads as pay for
    /// themselves ([`parallel::threads_for`]); the result does not depend on the threads.
    pub fn run(&self) -> Result<FitResult, String> {
        self.run_on(None)
    }

    /// [`FitSpec::run`] on `threads` threads (`None`: as [`FitSpec::run`] chooses).
    pub fn run_on(&self, threads: Option<usize>) -> Result<FitResult, String> {
        let prep = self.prepare()?;
        let n = self.divergences.len();
        let threads = threads
            .unwrap_or_else(|| parallel::threads_for(n, prep.work(n), parallel::PARALLEL_WORK));
        let runs = prep.run_all(&self.divergences, threads)?;
        Ok(FitResult {
            teacher: prep.teacher,
            regions: prep.regions,
            runs,
        })
    }
}

/// A loss with practice options reads the teacher's logits ([`Teacher::logits`]: its
/// log-probabilities unless given as logits), which must be finite (a class of zero probability has
/// none).
fn check_practice(loss: &Loss, teacher: &Teacher) -> Result<(), String> {
    if loss.practice.is_default() {
        return Ok(());
    }
    match teacher.logits().iter().position(|x| !x.is_finite()) {
        Some(k) => Err(format!(
            "{loss}: the teacher gives class {k} zero probability; practice options read the \
             teacher's log-probabilities as logits and need every class above 0 (use the family \
             without options, or a teacher with a floor)"
        )),
        None => Ok(()),
    }
}

/// A student's log-probabilities that hold NaN or are all −inf (a Gaussian whose σ collapsed).
fn not_a_distribution(logp: &[f64]) -> bool {
    logp.iter().any(|x| x.is_nan()) || logp.iter().all(|&x| x == f64::NEG_INFINITY)
}

/// Why `div` is `value` (±inf or NaN) at `epoch`, blaming what is at fault: a student that is not a
/// distribution any more, a class one side gives zero probability while the other covers it, or
/// neither; and the divergences that stay finite on this teacher and student, never `div`'s own family.
fn not_finite(
    div: &Divergence,
    value: f64,
    epoch: usize,
    teacher: &LogDist,
    student: &LogDist,
    gaussian: Option<(f64, f64)>,
) -> String {
    let head = format!("{div} is {value} at epoch {epoch}");
    if not_a_distribution(&student.logp) {
        return match gaussian {
            Some((mu, sigma)) => format!(
                "{head}: the Gaussian student (mu={}, sigma={}) is no longer a distribution on the \
                 teacher's grid; start from a wider sigma or lower the learning rate",
                short(mu),
                short(sigma)
            ),
            None => format!(
                "{head}: the student's logits are no longer a distribution; lower the learning rate"
            ),
        };
    }
    let (lp, lq) = (&teacher.logp, &student.logp);
    let class =
        |test: fn(f64, f64) -> bool| (0..lp.len().min(lq.len())).find(|&k| test(lp[k], lq[k]));
    let cause = if let Some(k) = class(|p, q| q == f64::NEG_INFINITY && p > f64::NEG_INFINITY) {
        format!(
            "the student gives zero probability to class {k}, which the teacher covers (p = {})",
            crate::math::label::num(teacher.p[k])
        )
    } else if let Some(k) = class(|p, q| p == f64::NEG_INFINITY && q > f64::NEG_INFINITY) {
        format!(
            "the teacher gives zero probability to class {k}, which the student covers (q = {})",
            crate::math::label::num(student.p[k])
        )
    } else {
        "teacher and student are finite distributions".to_string()
    };
    let mut finite = Vec::new();
    let (mut grad, mut ws) = (vec![0.0; teacher.len()], Workspace::default());
    // The plain families people reach for first; every family is in `kdviz divergences`.
    for name in ["fkl", "rkl", "jsd", "tvd", "skl", "srkl"] {
        let Some(other) = crate::math::FAMILIES
            .iter()
            .map(|f| f.default())
            .find(|d| d.name() == name)
        else {
            continue;
        };
        if other.name() == div.name() {
            continue;
        }
        if value_and_grad(&other, teacher, student, &mut grad, &mut ws).is_finite() {
            finite.push(other.to_string());
        }
    }
    match finite.as_slice() {
        [] => format!("{head}: {cause}"),
        names => format!(
            "{head}: {cause}; divergences finite here: {}",
            names.join(", ")
        ),
    }
}

/// TAID's `update_t` (SakanaAI/TAID): relative loss improvement → momentum → a step of t above the
/// linear floor.
#[derive(Debug, Clone)]
pub struct TaidState {
    schedule: TaidSchedule,
    pub t: f64,
    prev_loss: f64,
    momentum: f64,
}

impl TaidState {
    pub fn new(schedule: TaidSchedule) -> Self {
        TaidState {
            schedule,
            t: schedule.t_start,
            prev_loss: f64::INFINITY,
            momentum: 0.0,
        }
    }

    /// Called after the loss of step `step` (0-based) was computed, `total` steps in all.
    /// `loss` is the cross-entropy form the TAID code feeds its schedule.
    pub fn update(&mut self, loss: f64, step: usize, total: usize) {
        let s = self.schedule;
        if self.prev_loss.is_infinite() {
            self.prev_loss = loss;
            return;
        }
        let delta = (self.prev_loss - loss) / (self.prev_loss + 1e-15);
        self.momentum = s.momentum * self.momentum + (1.0 - s.momentum) * delta;
        let progress = if total > 0 {
            step as f64 / total as f64
        } else {
            1.0
        };
        let target = s.t_start + (s.t_end - s.t_start) * progress;
        let sigmoid = 1.0 / (1.0 + (-self.momentum).exp());
        let dt = s.rate * sigmoid * (1.0 - self.t);
        self.t = if s.adaptive {
            s.t_end.min(target.max(self.t + dt))
        } else {
            target
        };
        self.prev_loss = loss;
    }
}

impl Prepared {
    /// Whether q is kept at `epoch`.
    fn keeps(&self, epoch: usize) -> bool {
        self.kept
            .as_ref()
            .is_none_or(|k| k.binary_search(&epoch).is_ok())
    }

    /// Runs one divergence for all epochs.
    pub fn run(&self, div: &Loss) -> Result<Run, String> {
        self.run_with(div, &mut |_| true)
    }

    /// Runs one divergence; `keep_going(epoch)` is asked every epoch and stops the run early when false.
    pub fn run_with(
        &self,
        div: &Loss,
        keep_going: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Run, String> {
        let mut stepper = self.stepper(div);
        while !stepper.is_done() && keep_going(stepper.recorded()) {
            stepper.step()?;
        }
        Ok(stepper.finish())
    }

    /// One divergence's fit, to be advanced epoch by epoch.
    pub fn stepper(&self, div: &Loss) -> Stepper<'_> {
        let n = self.teacher.dist.len();
        let taid = match div.family {
            Divergence::Taid {
                schedule: Some(s), ..
            } => Some(TaidState::new(s)),
            _ => None,
        };
        // A Gaussian student's q is kept as its two parameters; free logits keep q itself.
        let deferred = self.student.classes().is_some();
        let stored = match &self.kept {
            _ if deferred => 0,
            None => self.epochs + 1,
            Some(k) => k.len(),
        };
        Stepper {
            prep: self,
            div: *div,
            params: self.init.clone(),
            student: LogDist::zeros(n),
            grad: vec![0.0; n],
            pgrad: vec![0.0; self.init.len()],
            ws: Workspace::default(),
            pws: PracticeWorkspace::default(),
            opt: Optimizer::new(self.optimizer, self.init.len()),
            taid,
            history: Vec::with_capacity(self.epochs + 1),
            snapshots: Vec::new(),
            blocks: Vec::new(),
            filling: Vec::new(),
            filled: 0,
            block: (BLOCK_DOUBLES / n.max(1)).clamp(1, stored.max(1)),
            stored_epochs: Vec::with_capacity(stored),
            stored_lse: Vec::with_capacity(stored),
            deferred,
            next: 0,
        }
    }
}

/// One divergence's fit in progress: [`Stepper::step`] records an epoch and takes the optimiser step
/// after it. The app's worker advances the runs of a refit together, so that a partial result holds
/// every run up to the same epoch.
pub struct Stepper<'a> {
    prep: &'a Prepared,
    div: Loss,
    params: Vec<f64>,
    student: LogDist,
    grad: Vec<f64>,
    pgrad: Vec<f64>,
    ws: Workspace,
    /// Scratch of the practice pipeline (a loss with options).
    pws: PracticeWorkspace,
    opt: Optimizer,
    taid: Option<TaidState>,
    history: Vec<EpochRecord>,
    /// A Gaussian student's snapshots.
    snapshots: Vec<Snapshot>,
    /// A free-logit student's q at `stored_epochs`, side by side in full blocks of `block` epochs
    /// (shared with partial results) and the block being filled (`block` epochs long, its first
    /// `filled` doubles written).
    blocks: Vec<Arc<Vec<f64>>>,
    filling: Vec<f64>,
    filled: usize,
    block: usize,
    stored_epochs: Vec<usize>,
    /// `log Σ exp z` at `stored_epochs`.
    stored_lse: Vec<f64>,
    /// Snapshots are the Gaussian student's parameters (q computed when read).
    deferred: bool,
    /// The epoch the next step records.
    next: usize,
}

impl Stepper<'_> {
    /// True once the last epoch is recorded.
    pub fn is_done(&self) -> bool {
        self.next > self.prep.epochs
    }

    /// How many epochs are recorded (0, 1, ..., `recorded() − 1`).
    pub fn recorded(&self) -> usize {
        self.next
    }

    /// Records the next epoch (metrics, the objective, a snapshot if the plan wants one) and, unless it
    /// is the last, takes the optimiser step after it.
    pub fn step(&mut self) -> Result<(), String> {
        let prep = self.prep;
        let (epoch, div) = (self.next, self.div);
        if epoch > prep.epochs {
            return Ok(());
        }
        let n = prep.teacher.dist.len();
        let teacher = &prep.teacher.dist;
        let [kl_pq, kl_qp, tvd, head_gap, tail_gap, far_tail] =
            prep.student
                .set_dist_measured(&self.params, &mut self.student, teacher, &prep.regions);
        let current = match (&self.taid, div.family) {
            (Some(state), Divergence::Taid { schedule, .. }) => Divergence::Taid {
                t: state.t,
                schedule,
            },
            _ => div.family,
        };
        let objective = if div.practice.is_default() {
            // The toy fits one row per epoch: a sampled family (rkl-est) draws afresh every epoch
            // from stream seed + epoch (practice.md §10.5).
            let at = RowAt {
                epoch: epoch as u64,
                rows: 1,
                row: 0,
            };
            value_and_grad_at(
                &current,
                teacher,
                &self.student,
                &mut self.grad,
                &mut self.ws,
                at,
            )
        } else {
            self.practice_step(current, epoch)?
        };
        // The output policy (math::range): a finite value with a finite gradient, else an error
        // that blames what is at fault.
        match range::check_output(&div, teacher, objective, &self.grad) {
            Ok(true) => {}
            Err(e) if !not_a_distribution(&self.student.logp) => {
                return Err(format!("epoch {epoch}: {e}"));
            }
            _ => {
                return Err(not_finite(
                    &current,
                    objective,
                    epoch,
                    teacher,
                    &self.student,
                    prep.student.mu_sigma(&self.params),
                ));
            }
        }
        let ms = prep.student.mu_sigma(&self.params);
        let mc = prep.student.mean_cov(&self.params);
        self.history.push(EpochRecord {
            epoch,
            objective,
            kl_pq,
            kl_qp,
            tvd,
            head_gap,
            tail_gap,
            far_tail,
            mu: ms.map(|m| m.0),
            sigma: ms.map(|m| m.1),
            mean: mc.map(|m| m.0),
            cov: mc.map(|m| m.1),
            t: self.taid.as_ref().map(|s| s.t).or(match div.family {
                Divergence::Taid { t, .. } => Some(t),
                _ => None,
            }),
        });
        if prep.keeps(epoch) {
            if self.deferred {
                let q = SnapshotQ::gaussian(prep.student.clone(), self.params.clone().into());
                self.snapshots.push(Snapshot {
                    epoch,
                    q,
                    lse: None,
                });
            } else {
                if self.filling.is_empty() {
                    self.filling = spare::take_sized(self.block * n);
                }
                // Streaming stores: q goes to memory without first reading the cold lines it
                // replaces (a plain copy into them took 18 % of a step of FKL on 1000 classes).
                let at = self.filled;
                copy_streaming(&self.student.p, &mut self.filling[at..at + n]);
                self.filled += n;
                self.stored_epochs.push(epoch);
                // The free student's parameters are its logits: z − log q is their normaliser.
                self.stored_lse.push(self.params[0] - self.student.logp[0]);
                if self.filled >= self.filling.len() {
                    self.blocks
                        .push(Arc::new(std::mem::take(&mut self.filling)));
                    self.filled = 0;
                }
            }
        }
        self.next += 1;
        if epoch == prep.epochs {
            return Ok(());
        }
        if let Some(state) = &mut self.taid {
            // The gradient is q − p_t, so p_t = q − grad: the cross-entropy −Σ p_t log q follows.
            let (q, logq, grad) = (&self.student.p, &self.student.logp, &self.grad);
            let ce: f64 = -(0..n).map(|k| (q[k] - grad[k]) * logq[k]).sum::<f64>();
            state.update(ce, epoch, prep.epochs);
        }
        if prep.loss_scale != 1.0 {
            self.grad.iter_mut().for_each(|g| *g *= prep.loss_scale);
        }
        let step_grad = match prep.student.as_logits(&self.params) {
            Some(_) => &self.grad,
            None => {
                prep.student
                    .param_grad(&self.params, &self.grad, &mut self.pgrad);
                &self.pgrad
            }
        };
        self.opt.step(&mut self.params, step_grad);
        if !all_finite(&self.params) {
            return Err(format!(
                "{div} diverged at epoch {}: the student's parameters became non-finite; lower the learning rate",
                epoch + 1
            ));
        }
        Ok(())
    }

    /// The objective of a loss with practice options ([`evaluate`]) and its gradient w.r.t. the
    /// student's logits in `self.grad`. The logits are the free student's parameters as they are
    /// (rounding, soft-capping and standardisation act on them) or the Gaussian's log-probabilities;
    /// the teacher's are [`Teacher::logits`]. Row 0 of epoch e draws on stream e (§10.5).
    fn practice_step(&mut self, family: Divergence, epoch: usize) -> Result<f64, String> {
        let prep = self.prep;
        let loss = Loss {
            family,
            practice: self.div.practice,
        };
        let z = prep
            .student
            .as_logits(&self.params)
            .unwrap_or(&self.student.logp);
        let out = evaluate(
            &loss,
            prep.teacher.logits(),
            z,
            epoch as u64,
            &mut self.grad,
            &mut self.pws,
        )
        .map_err(|e| format!("epoch {epoch}: {e}"))?;
        if let Some(what) = out.nonfinite {
            return Err(format!("{} at epoch {epoch}: {what}", self.div));
        }
        if prep.student.as_logits(&self.params).is_none() {
            // The options break the softmax's shift invariance (Σ g ≠ 0 with a soft-cap or a
            // rounding); the log-probabilities move with the normaliser, so the gradient w.r.t. the
            // unnormalised log-density is g − q·Σg, as the students' chain rule expects.
            let total: f64 = self.grad.iter().sum();
            for (g, q) in self.grad.iter_mut().zip(&self.student.p) {
                *g -= q * total;
            }
        }
        Ok(out.value)
    }

    /// A copy of the first `epochs` records (at most those recorded so far) and their snapshots; a
    /// Gaussian student's snapshots copy two numbers each.
    pub fn partial(&self, epochs: usize) -> Run {
        let upto = epochs.min(self.history.len());
        let snapshots = if self.deferred {
            let kept = self.snapshots.partition_point(|s| s.epoch < upto);
            self.snapshots[..kept].to_vec()
        } else {
            let kept = self.stored_epochs.partition_point(|&e| e < upto);
            let n = self.prep.teacher.dist.len();
            let full = self.blocks.len() * self.block;
            let mut blocks = self.blocks.clone();
            if kept > full {
                let mut rest = spare::take((kept - full) * n);
                rest.extend_from_slice(&self.filling[..(kept - full) * n]);
                blocks.push(Arc::new(rest));
            }
            shared_snapshots(
                &blocks,
                self.block,
                &self.stored_epochs[..kept],
                &self.stored_lse[..kept],
                n,
            )
        };
        Run {
            divergence: self.div,
            history: self.history[..upto].to_vec(),
            snapshots,
        }
    }

    /// The run as recorded (the whole run once [`Stepper::is_done`]).
    pub fn finish(mut self) -> Run {
        let snapshots = if self.deferred {
            std::mem::take(&mut self.snapshots)
        } else {
            let n = self.prep.teacher.dist.len();
            // The last block keeps its length (its snapshots address only their own q), so that
            // the next fit reuses it without a pass of zeros.
            if self.filled > 0 {
                self.blocks
                    .push(Arc::new(std::mem::take(&mut self.filling)));
            }
            shared_snapshots(
                &self.blocks,
                self.block,
                &self.stored_epochs,
                &self.stored_lse,
                n,
            )
        };
        Run {
            divergence: self.div,
            history: std::mem::take(&mut self.history),
            snapshots,
        }
    }
}

impl Drop for Stepper<'_> {
    fn drop(&mut self) {
        // Stopped early (or finished: the snapshots hold the blocks then): the buffers go to the next
        // fit.
        spare::give(std::mem::take(&mut self.filling));
        for block in self.blocks.drain(..) {
            if let Some(buf) = Arc::into_inner(block) {
                spare::give(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::{Init, MetricsSpec, TailShape};

    fn small_fit() -> FitSpec {
        FitSpec {
            teacher: TeacherSpec::LongTail {
                classes: 37,
                shape: TailShape::Zipf,
                width: 1.0,
                exponent: 1.1,
                shuffle_seed: None,
                noise: 0.05,
                noise_seed: 7,
            },
            student: StudentSpec::Logits {
                init: Init::Uniform,
                seed: 1,
                logits: Vec::new(),
            },
            optimizer: OptimizerSpec::adam(0.1),
            epochs: 20,
            divergences: vec![Divergence::Fkl.into(), Divergence::Rkl.into()],
            snapshots: SnapshotPlan {
                every: true,
                at: Vec::new(),
            },
            metrics: MetricsSpec::default(),
            loss_scale: 1.0,
        }
    }

    /// rkl-est draws afresh every epoch: epoch e's objective is the estimate on stream seed + e
    /// (practice.md §10.5), not the first epoch's tokens again.
    #[test]
    fn a_sampled_estimator_draws_new_tokens_every_epoch() {
        let div: Divergence = "rkl-est:kind=k1,mode=pg,n=3,seed=5".parse().unwrap();
        let spec = FitSpec {
            epochs: 6,
            divergences: vec![div.into()],
            ..small_fit()
        };
        let run = &spec.run().unwrap().runs[0];
        let teacher = spec.teacher.build().unwrap().dist;
        let mut grad = vec![0.0; teacher.len()];
        let mut fresh = 0;
        for (record, snap) in run.history.iter().zip(&run.snapshots) {
            assert_eq!(record.epoch, snap.epoch);
            let student = LogDist::from_probs(&snap.q).unwrap();
            let ws = &mut Workspace::default();
            let on = |epoch: usize, grad: &mut [f64], ws: &mut Workspace| {
                let at = RowAt {
                    epoch: epoch as u64,
                    rows: 1,
                    row: 0,
                };
                value_and_grad_at(&div, &teacher, &student, grad, ws, at)
            };
            let value = on(record.epoch, &mut grad, ws);
            assert!(
                (record.objective - value).abs() < 1e-9,
                "epoch {}",
                record.epoch
            );
            if on(0, &mut grad, ws) != value {
                fresh += 1;
            }
        }
        assert!(
            fresh >= 3,
            "only {fresh} epochs drew other tokens than epoch 0's"
        );
    }

    /// A loss with practice options: each epoch's objective is the pipeline on the teacher's
    /// log-probabilities and the student's kept q (top-k supports are shift-invariant), while the
    /// metrics stay those against the full teacher; the default options leave the family's path.
    #[test]
    fn a_practice_loss_records_what_the_student_sees_and_the_full_kl() {
        use crate::math::practice::{PracticeWorkspace, evaluate};
        let specs = [
            "fkl:support=topk,k=4",
            "fkl:support=topk-tail,k=4",
            "jsd:support=topk-renorm,k=6,renorm=teacher",
            "fkl:support=sampled,n=16,seed=3",
        ];
        for spec in specs {
            let loss: Loss = spec.parse().unwrap();
            let fit = FitSpec {
                epochs: 30,
                divergences: vec![loss, Divergence::Fkl.into()],
                ..small_fit()
            };
            let result = fit.run().unwrap();
            let teacher = &result.teacher.dist;
            let run = &result.runs[0];
            assert_eq!(run.divergence, loss);
            let (mut grad, mut ws) = (vec![0.0; teacher.len()], PracticeWorkspace::default());
            for (record, snap) in run.history.iter().zip(&run.snapshots) {
                let student = LogDist::from_probs(&snap.q).unwrap();
                let out = evaluate(
                    &loss,
                    &teacher.logp,
                    &student.logp,
                    record.epoch as u64,
                    &mut grad,
                    &mut ws,
                )
                .unwrap();
                assert!(
                    (record.objective - out.value).abs() < 1e-9 * (1.0 + out.value.abs()),
                    "{spec} epoch {}: {} vs {}",
                    record.epoch,
                    record.objective,
                    out.value
                );
                let kl = crate::math::value_and_grad(
                    &Divergence::Fkl,
                    teacher,
                    &student,
                    &mut grad,
                    &mut Workspace::default(),
                );
                assert!(
                    (record.kl_pq - kl).abs() < 1e-9,
                    "{spec}: KL(p||q) is the full teacher's"
                );
            }
            // Epoch 0 is the same student for both runs: the same full KL, another objective.
            let (a, b) = (&run.history[0], &result.runs[1].history[0]);
            assert_eq!(a.kl_pq, b.kl_pq);
            assert_ne!(a.objective, b.objective, "{spec}");
        }
        let plain = FitSpec {
            divergences: vec!["fkl".parse::<Loss>().unwrap()],
            ..small_fit()
        };
        let family = FitSpec {
            divergences: vec![Divergence::Fkl.into()],
            ..small_fit()
        };
        assert_eq!(plain.run().unwrap().runs, family.run().unwrap().runs);
    }

    /// The truncated top-k FKL goes negative on the long tail while the true KL grows (verl #7856);
    /// verl's clamp stops it at 0.
    #[test]
    fn truncated_topk_goes_negative_and_the_clamp_stops_it() {
        let fit = FitSpec {
            epochs: 200,
            divergences: vec![
                "fkl:support=topk,k=4".parse().unwrap(),
                "fkl:support=topk,k=4,clamp=true".parse().unwrap(),
            ],
            ..small_fit()
        };
        let result = fit.run().unwrap();
        let (trunc, clamped) = (&result.runs[0].history, &result.runs[1].history);
        let last = trunc.last().unwrap();
        assert!(last.objective < -0.01, "{}", last.objective);
        assert!(last.kl_pq > trunc[0].kl_pq, "the true KL grows");
        let c = clamped.last().unwrap();
        assert_eq!(c.objective, 0.0);
        assert!(clamped.iter().all(|r| r.objective >= 0.0));
    }

    /// A Gaussian student under options that break the softmax's shift invariance (soft-cap,
    /// standardisation): the parameter gradient the optimiser gets equals central differences of
    /// the pipeline's objective.
    #[test]
    fn a_gaussian_students_practice_gradient_matches_finite_differences() {
        use crate::math::practice::{PracticeWorkspace, evaluate};
        for spec in ["fkl:softcap=3,support=topk-tail,k=20", "jsd:std=true,tt=2"] {
            let loss: Loss = spec.parse().unwrap();
            let fit = FitSpec {
                teacher: TeacherSpec::two_modes(201),
                student: StudentSpec::Gaussian {
                    mu: 0.7,
                    sigma: 1.3,
                },
                epochs: 2,
                divergences: vec![loss],
                ..small_fit()
            };
            let prep = fit.prepare().unwrap();
            let mut stepper = prep.stepper(&loss);
            stepper.step().unwrap();
            let analytic = stepper.pgrad.clone();
            let teacher = &prep.teacher.dist;
            let objective = |params: &[f64]| {
                let mut dist = LogDist::zeros(teacher.len());
                prep.student.set_dist(params, &mut dist);
                let mut g = vec![0.0; teacher.len()];
                evaluate(
                    &loss,
                    &teacher.logp,
                    &dist.logp,
                    0,
                    &mut g,
                    &mut PracticeWorkspace::default(),
                )
                .unwrap()
                .value
            };
            for i in 0..2 {
                let h = 1e-5;
                let (mut up, mut down) = (prep.init.clone(), prep.init.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (objective(&up) - objective(&down)) / (2.0 * h);
                assert!(
                    (fd - analytic[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{spec} param {i}: fd {fd} vs {}",
                    analytic[i]
                );
            }
        }
    }

    /// A teacher with a zero class has no finite log-probability to read as a logit.
    #[test]
    fn practice_options_on_a_teacher_with_zeros_say_so() {
        let fit = FitSpec {
            teacher: TeacherSpec::Probs {
                probs: vec![0.5, 0.3, 0.0, 0.2],
            },
            divergences: vec!["fkl:support=topk,k=2".parse().unwrap()],
            ..small_fit()
        };
        let e = fit.prepare().unwrap_err();
        assert!(
            e.contains("teacher gives class 2 zero probability")
                && e.contains("fkl:support=topk,k=2"),
            "{e}"
        );
    }

    /// Every family from a Gaussian student at the ends of its accepted range: finite numbers for a
    /// few epochs, or a message that names the student or the class at fault, never a bare NaN.
    #[test]
    fn gaussian_students_at_the_ends_of_their_range_stay_finite_or_say_why() {
        let teacher = TeacherSpec::two_modes(401);
        let xs = teacher.build().unwrap().xs;
        let range = super::super::student::GaussianRange::on(&xs);
        for (mu, sigma) in [
            (0.0, range.sigma[0]),
            (0.0, range.sigma[1]),
            (range.mu[0], 1.0),
            (range.mu[1], range.sigma[0]),
        ] {
            for family in crate::math::FAMILIES {
                let div = family.default();
                let spec = FitSpec {
                    teacher: teacher.clone(),
                    student: StudentSpec::Gaussian { mu, sigma },
                    epochs: 3,
                    divergences: vec![div.into()],
                    ..small_fit()
                };
                match spec.run() {
                    Ok(r) => {
                        for e in &r.runs[0].history {
                            assert!(
                                e.objective.is_finite() && e.kl_pq.is_finite(),
                                "{div} mu={mu} sigma={sigma}: {e:?}"
                            );
                        }
                    }
                    Err(e) => assert!(
                        !e.contains("NaN")
                            && (e.contains("zero probability") || e.contains("student")),
                        "{div} mu={mu} sigma={sigma}: {e}"
                    ),
                }
            }
        }
    }

    /// An infinite divergence names the class and the side at fault and suggests only divergences
    /// that are finite here, never the one that failed.
    #[test]
    fn an_infinite_divergence_names_the_class_and_finite_alternatives() {
        let spec = |div: &str, probs: Vec<f64>| FitSpec {
            teacher: TeacherSpec::Probs { probs },
            student: StudentSpec::Logits {
                init: Init::Zeros,
                seed: 0,
                logits: Vec::new(),
            },
            epochs: 2,
            divergences: vec![div.parse().unwrap()],
            ..small_fit()
        };
        let e = spec("rkl", vec![0.5, 0.5, 0.0]).run().unwrap_err();
        assert_eq!(
            e,
            "rkl is inf at epoch 0: the teacher gives zero probability to class 2, which the student \
             covers (q = 0.333); divergences finite here: fkl, jsd:beta=0.5, tvd, skl:alpha=0.1, \
             srkl:alpha=0.1"
        );
        let teacher = LogDist::from_probs(&[0.5, 0.5]).unwrap();
        let student = LogDist::from_logits(&[0.0, f64::NEG_INFINITY], true).unwrap();
        let e = not_finite(&Divergence::Fkl, f64::INFINITY, 4, &teacher, &student, None);
        assert!(
            e.starts_with(
                "fkl is inf at epoch 4: the student gives zero probability to class 1, which the \
                 teacher covers (p = 0.5); divergences finite here: rkl,"
            ),
            "{e}"
        );
        let broken = LogDist {
            logp: vec![f64::NAN; 2],
            p: vec![f64::NAN; 2],
        };
        let e = not_finite(
            &Divergence::Fkl,
            f64::NAN,
            9,
            &teacher,
            &broken,
            Some((0.5, 1e-200)),
        );
        assert_eq!(
            e,
            "fkl is NaN at epoch 9: the Gaussian student (mu=0.5, sigma=1e-200) is no longer a \
             distribution on the teacher's grid; start from a wider sigma or lower the learning rate"
        );
    }

    /// A Gaussian student's snapshots keep (μ, log σ): q is computed when first read and equals, bit
    /// for bit, the q the fit computed at that epoch.
    #[test]
    fn gaussian_snapshots_are_computed_when_read_and_exact() {
        let spec = FitSpec {
            teacher: TeacherSpec::two_modes(401),
            student: StudentSpec::Gaussian {
                mu: 0.0,
                sigma: 1.0,
            },
            optimizer: OptimizerSpec::adam(0.05),
            epochs: 60,
            ..small_fit()
        };
        let prep = spec.prepare().unwrap();
        for div in &spec.divergences {
            let mut stepper = prep.stepper(div);
            let mut fitted = Vec::new();
            while !stepper.is_done() {
                stepper.step().unwrap();
                fitted.push(stepper.student.p.clone());
            }
            let run = stepper.finish();
            assert_eq!(run.snapshots.len(), 61);
            for (snap, q) in run.snapshots.iter().zip(&fitted) {
                assert!(snap.q.is_deferred(), "epoch {}", snap.epoch);
                assert_eq!(&snap.q[..], &q[..], "{div} epoch {}", snap.epoch);
                assert!(!snap.q.is_deferred());
            }
        }
    }

    /// Free logits keep q itself, as the fit computed it.
    #[test]
    fn logit_snapshots_are_stored() {
        let run = small_fit().run().unwrap();
        assert_eq!(run.runs[0].snapshots.len(), 21);
        assert!(run.runs[0].snapshots.iter().all(|s| !s.q.is_deferred()));
        let sum: f64 = run.runs[1].snapshots[20].q.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }

    /// q is kept in blocks: a partial result (blocks shared, the one being filled copied) equals the
    /// finished run's first epochs, across block boundaries.
    #[test]
    fn partial_results_share_the_kept_blocks() {
        let spec = FitSpec {
            teacher: TeacherSpec::LongTail {
                classes: 50_000,
                shape: TailShape::Zipf,
                width: 1.0,
                exponent: 1.1,
                shuffle_seed: None,
                noise: 0.0,
                noise_seed: 0,
            },
            epochs: 8,
            divergences: vec![Divergence::Fkl.into()],
            ..small_fit()
        };
        let prep = spec.prepare().unwrap();
        let mut stepper = prep.stepper(&Divergence::Fkl.into());
        assert_eq!(stepper.block, 2);
        let mut partials = Vec::new();
        while !stepper.is_done() {
            stepper.step().unwrap();
            partials.push(stepper.partial(stepper.recorded()));
        }
        let run = stepper.finish();
        assert_eq!(run.snapshots.len(), 9);
        for p in &partials {
            let k = p.snapshots.len();
            assert_eq!(p.snapshots[..], run.snapshots[..k]);
            assert_eq!(p.snapshots[k - 1].q.len(), 50_000);
        }
    }

    /// A fit whose q at every epoch would not fit the store keeps the epochs that fit: the asked-for
    /// ones, the ends and a log- and evenly spaced selection, each exactly the q the fit computed.
    #[test]
    fn a_big_fit_thins_the_store() {
        let spec = FitSpec {
            teacher: TeacherSpec::LongTail {
                classes: 20_000,
                shape: TailShape::Zipf,
                width: 1.0,
                exponent: 1.1,
                shuffle_seed: None,
                noise: 0.0,
                noise_seed: 0,
            },
            epochs: 2000,
            divergences: vec![Divergence::Fkl.into()],
            snapshots: SnapshotPlan {
                every: true,
                at: vec![1234],
            },
            ..small_fit()
        };
        let run = spec.run().unwrap();
        let kept: Vec<usize> = run.runs[0].snapshots.iter().map(|s| s.epoch).collect();
        let room = (budget::STORE_BYTES / (20_000 * 8 + budget::SNAPSHOT_OVERHEAD)) as usize;
        assert!(
            kept.len() <= room + 3 && kept.len() > room / 2,
            "{}",
            kept.len()
        );
        for e in [0, 1, 2, 3, 1234, 2000] {
            assert!(kept.contains(&e), "{e}");
        }
        let exact = FitSpec {
            snapshots: SnapshotPlan {
                every: false,
                at: vec![1234],
            },
            ..spec
        }
        .run()
        .unwrap();
        let at = |r: &FitResult| -> Vec<f64> {
            let s = &r.runs[0].snapshots;
            s[s.iter().position(|s| s.epoch == 1234).unwrap()]
                .q
                .to_vec()
        };
        assert_eq!(at(&run), at(&exact));
        assert_eq!(exact.runs[0].snapshots.len(), 1);
    }

    /// Snapshot buffers handed back by a dropped fit hold exactly the next fit's q.
    #[test]
    fn recycled_snapshot_buffers_hold_the_new_fit() {
        let spec = small_fit();
        let first = spec.run().unwrap();
        let kept: Vec<Vec<Snapshot>> = first.runs.iter().map(|r| r.snapshots.clone()).collect();
        drop(first);
        let wider = FitSpec {
            teacher: TeacherSpec::LongTail {
                classes: 50,
                shape: TailShape::Zipf,
                width: 1.0,
                exponent: 1.1,
                shuffle_seed: None,
                noise: 0.05,
                noise_seed: 7,
            },
            ..small_fit()
        };
        assert!(
            wider.run().unwrap().runs[0]
                .snapshots
                .iter()
                .all(|s| s.q.len() == 50)
        );
        let second = spec.run().unwrap();
        for (run, kept) in second.runs.iter().zip(&kept) {
            assert_eq!(run.snapshots.len(), 21);
            assert_eq!(&run.snapshots, kept);
        }
    }
}
