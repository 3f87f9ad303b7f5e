//! The fit loop: every divergence from the same initial student, full-batch steps, per-epoch records.

use super::metrics::{EpochRecord, MetricsSpec, Regions};
use super::optim::{Optimizer, OptimizerSpec};
use super::student::{Student, StudentSpec};
use super::teacher::{Teacher, TeacherSpec};
use crate::math::simd::{all_finite, copy_streaming};
use crate::math::{
    Divergence, LogDist, TaidSchedule, Workspace, check_classes, range, value_and_grad,
};
use serde::Serialize;

/// Upper limit on epochs per fit (a live toy, not a training job).
pub const MAX_EPOCHS: usize = 1_000_000;

/// Which student distributions to keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotPlan {
    /// Keep q at every epoch (the GUI scrubs through them).
    pub every: bool,
    /// Keep q at these epochs.
    pub at: Vec<usize>,
}

impl SnapshotPlan {
    fn wants(&self, epoch: usize) -> bool {
        self.every || self.at.contains(&epoch)
    }
}

/// A whole fit, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSpec {
    pub teacher: TeacherSpec,
    pub student: StudentSpec,
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    pub divergences: Vec<Divergence>,
    pub snapshots: SnapshotPlan,
    pub metrics: MetricsSpec,
    /// Multiplies the gradient the optimiser sees (the AKL notebooks' `batchmean` divides by V);
    /// recorded values stay the true divergences.
    pub loss_scale: f64,
}

/// The student distribution at one epoch.
///
/// Dropping a snapshot hands its buffer to the next fit (see [`spare`]), so `q` cannot be moved out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub epoch: usize,
    pub q: Vec<f64>,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.q));
    }
}

/// Snapshot buffers kept from dropped fits for the next ones.
///
/// A refit keeps q at every epoch of every run: 1806 vectors of 2001 doubles (29 MB) for the Gaussian
/// benchmark. Fresh memory costs a page fault per 4 KiB, which took longer than computing the fit;
/// reusing the buffers of the fit being replaced avoids that.
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
    /// The most doubles kept (256 MiB): beyond that, dropped buffers are freed.
    const MAX_DOUBLES: usize = 32 << 20;

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

    /// Up to `count` buffers with room for `len` doubles each (holding stale values).
    pub fn take(count: usize, len: usize) -> Vec<Vec<f64>> {
        let mut pool = pool();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let Some(buf) = pool.bufs.pop() else {
                break;
            };
            pool.doubles -= buf.capacity();
            if buf.capacity() >= len {
                out.push(buf); // the caller overwrites the contents
            } // else too small for this fit: freed
        }
        out
    }
}

/// The history of one divergence's fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    #[serde(serialize_with = "crate::toy::fit::serialize_display")]
    pub divergence: Divergence,
    pub history: Vec<EpochRecord>,
    pub snapshots: Vec<Snapshot>,
}

pub(crate) fn serialize_display<S: serde::Serializer>(
    d: &Divergence,
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
    pub student: Student,
    pub init: Vec<f64>,
    pub regions: Regions,
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    pub snapshots: SnapshotPlan,
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
                self.loss_scale
            ));
        }
        if let Some(&e) = self.snapshots.at.iter().find(|&&e| e > self.epochs) {
            return Err(format!(
                "snapshot epoch {e} is after the last epoch {}; expected 0 to {}",
                self.epochs, self.epochs
            ));
        }
        let teacher = self.teacher.build()?;
        let (student, init) = self.student.build(&teacher.xs)?;
        for d in &self.divergences {
            check_classes(d, teacher.dist.len())?;
        }
        let regions = Regions::new(&teacher.dist.p, &self.metrics);
        Ok(Prepared {
            teacher,
            student,
            init,
            regions,
            optimizer: self.optimizer,
            epochs: self.epochs,
            snapshots: self.snapshots.clone(),
            loss_scale: self.loss_scale,
        })
    }

    /// Runs every divergence from the same initial student.
    pub fn run(&self) -> Result<FitResult, String> {
        let prep = self.prepare()?;
        let runs = self
            .divergences
            .iter()
            .map(|d| prep.run(d))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FitResult {
            teacher: prep.teacher,
            regions: prep.regions,
            runs,
        })
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
    /// Runs one divergence for all epochs.
    pub fn run(&self, div: &Divergence) -> Result<Run, String> {
        self.run_with(div, &mut |_| true)
    }

    /// Runs one divergence; `keep_going(epoch)` is asked every epoch and stops the run early when false
    /// (the GUI uses it to cancel a stale refit).
    pub fn run_with(
        &self,
        div: &Divergence,
        keep_going: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Run, String> {
        let n = self.teacher.dist.len();
        let teacher = &self.teacher.dist;
        let mut params = self.init.clone();
        let mut student = LogDist::zeros(n);
        let mut grad = vec![0.0; n];
        let mut pgrad = vec![0.0; params.len()];
        let mut ws = Workspace::default();
        let mut opt = Optimizer::new(self.optimizer, params.len());
        let mut taid = match div {
            Divergence::Taid {
                schedule: Some(s), ..
            } => Some(TaidState::new(*s)),
            _ => None,
        };
        let mut history = Vec::with_capacity(self.epochs + 1);
        let wanted = (0..=self.epochs)
            .filter(|&e| self.snapshots.wants(e))
            .count();
        let mut snapshots = Vec::with_capacity(wanted);
        let mut buffers = spare::take(wanted, n);
        for epoch in 0..=self.epochs {
            if !keep_going(epoch) {
                break;
            }
            let [kl_pq, kl_qp, tvd, head_gap, tail_gap, far_tail] =
                self.student
                    .set_dist_measured(&params, &mut student, teacher, &self.regions);
            let current = match (&taid, div) {
                (Some(state), Divergence::Taid { schedule, .. }) => Divergence::Taid {
                    t: state.t,
                    schedule: *schedule,
                },
                _ => *div,
            };
            let objective = value_and_grad(&current, teacher, &student, &mut grad, &mut ws);
            // The output policy (math::range): a finite value with a finite gradient, else an error.
            match range::check_output(div, teacher, objective, &grad) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!(
                        "{div} is {objective} at epoch {epoch}: the teacher gives zero probability to classes the \
                         student covers; choose a divergence that stays finite there (fkl, jsd, tvd, skl)"
                    ));
                }
                Err(e) => return Err(format!("epoch {epoch}: {e}")),
            }
            let ms = self.student.mu_sigma(&params);
            history.push(EpochRecord {
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
                t: taid.as_ref().map(|s| s.t).or(match div {
                    Divergence::Taid { t, .. } => Some(*t),
                    _ => None,
                }),
            });
            if self.snapshots.wants(epoch) {
                let mut q = buffers.pop().unwrap_or_default();
                q.resize(n, 0.0); // no-op for a recycled buffer of the same size
                copy_streaming(&student.p, &mut q);
                snapshots.push(Snapshot { epoch, q });
            }
            if epoch == self.epochs {
                break;
            }
            if let Some(state) = &mut taid {
                // The gradient is q − p_t, so p_t = q − grad: the cross-entropy −Σ p_t log q follows.
                let ce: f64 = -(0..n)
                    .map(|k| (student.p[k] - grad[k]) * student.logp[k])
                    .sum::<f64>();
                state.update(ce, epoch, self.epochs);
            }
            if self.loss_scale != 1.0 {
                grad.iter_mut().for_each(|g| *g *= self.loss_scale);
            }
            let step_grad = match self.student.as_logits(&params) {
                Some(_) => &grad,
                None => {
                    self.student.param_grad(&params, &grad, &mut pgrad);
                    &pgrad
                }
            };
            opt.step(&mut params, step_grad);
            if !all_finite(&params) {
                return Err(format!(
                    "{div} diverged at epoch {}: the student's parameters became non-finite; lower the learning rate",
                    epoch + 1
                ));
            }
        }
        buffers.into_iter().for_each(spare::give); // left over when stopped early
        Ok(Run {
            divergence: *div,
            history,
            snapshots,
        })
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
            divergences: vec![Divergence::Fkl, Divergence::Rkl],
            snapshots: SnapshotPlan {
                every: true,
                at: Vec::new(),
            },
            metrics: MetricsSpec::default(),
            loss_scale: 1.0,
        }
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
