//! Gradient and mass flow of one run at one epoch, per class:
//!
//! * **force** `−∂D/∂z`: what the divergence does to each class's logit. Gradient descent moves z along
//!   it, so `+` pushes the class up and `−` pushes it down; the forces sum to 0 (softmax shift
//!   invariance, spec eq. 0.1).
//! * **Δq**: the mass the next optimiser step actually moved, `q(e+1) − q(e)` (Adam rescales the force,
//!   so the two differ in size, not in where mass goes).
//! * **αβ factors** (ABKD, spec §7.2): the per-class force `w = q^β·(q^α − p^α)/α` split into the
//!   confidence factor `q^β` and the hardness factor `(q^α − p^α)/α` (`log(q/p)` at α = 0). FKL and
//!   RKL are the αβ points (1, 0) and (0, 1) and get the split too.
//! * **DKD parts** (practice.md §6): a DKD run's force split into its target-class part α·TCKD and its
//!   non-target part β·NCKD, each as weighted in the loss; they sum to the force.

use super::abplane::{ab_exponents, ab_factors};
use super::{q_at, record_at};
use crate::io::csv::{Opt, Quoted};
use crate::math::practice::{Loss, PracticeWorkspace, evaluate};
use crate::math::{Divergence, LogDist, Workspace, dkd, eakd, value_and_grad};
use crate::toy::FitResult;
use std::fmt::{self, Write};

/// The divergence as it was optimised at `epoch`: TAID with a schedule at the t recorded then.
pub fn divergence_at(result: &FitResult, run: usize, epoch: usize) -> Divergence {
    let r = &result.runs[run];
    match r.divergence.family {
        Divergence::Taid { t, schedule } => {
            let t = record_at(&r.history, epoch).and_then(|r| r.t).unwrap_or(t);
            Divergence::Taid { t, schedule }
        }
        d => d,
    }
}

/// The student of `run` at `epoch`. A Gaussian student is rebuilt from the recorded (μ, σ), exactly
/// as the fit builds its logits (the kept q underflows to 0 in the far tails, where log q would be
/// −inf); a free-logit student comes from the kept q.
pub fn student_at(result: &FitResult, run: usize, epoch: usize) -> Option<LogDist> {
    let r = &result.runs[run];
    let rec = record_at(&r.history, epoch)?;
    let (xs, p) = (&result.teacher.xs, &result.teacher.dist.p);
    if let (Some(mu), Some(sigma)) = (rec.mu, rec.sigma)
        && mu.is_finite()
        && sigma.is_finite()
        && sigma > 0.0
        && xs.len() == p.len()
    {
        let inv = 0.5 / (sigma * sigma);
        let z: Vec<f64> = xs.iter().map(|&x| -(x - mu) * (x - mu) * inv).collect();
        if let Ok(d) = LogDist::from_logits(&z, false) {
            return Some(d);
        }
    }
    let q = q_at(r, epoch);
    if q.len() != p.len() {
        return None;
    }
    LogDist::from_probs(q).ok()
}

/// The student's logits as the fit's practice pipeline read them at `epoch`: a free-logit student's
/// `log q + lse` (its parameters), a Gaussian's log-probabilities.
pub fn student_logits(result: &FitResult, run: usize, epoch: usize) -> Option<Vec<f64>> {
    let student = student_at(result, run, epoch)?;
    let snaps = &result.runs[run].snapshots;
    // The snapshot student_at read q from: the last kept at or before `epoch`.
    let kept = snaps.partition_point(|s| s.epoch <= epoch).max(1) - 1;
    let shift = snaps.get(kept).and_then(|s| s.lse).unwrap_or(0.0);
    Some(student.logp.iter().map(|l| l + shift).collect())
}

/// `∂D/∂z` of `run` at `epoch` and the student it was taken at; `None` where D is infinite. A loss
/// with practice options goes through the same pipeline as the fit (stream = epoch), with the
/// student's log-probabilities as its logits.
pub fn gradient_at(result: &FitResult, run: usize, epoch: usize) -> Option<(LogDist, Vec<f64>)> {
    let student = student_at(result, run, epoch)?;
    let div = divergence_at(result, run, epoch);
    let mut grad = vec![0.0; student.len()];
    let practice = result.runs[run].divergence.practice;
    let value = if practice.is_default() {
        value_and_grad(
            &div,
            &result.teacher.dist,
            &student,
            &mut grad,
            &mut Workspace::default(),
        )
    } else {
        let loss = Loss {
            family: div,
            practice,
        };
        let z = student_logits(result, run, epoch)?;
        let out = evaluate(
            &loss,
            result.teacher.logits(),
            &z,
            epoch as u64,
            &mut grad,
            &mut PracticeWorkspace::default(),
        )
        .ok()?;
        if out.nonfinite.is_some() {
            return None;
        }
        // As the fit does for a Gaussian student: the gradient w.r.t. the unnormalised log-density.
        let gaussian = record_at(&result.runs[run].history, epoch)
            .is_some_and(|r| r.mu.is_some() || r.mean.is_some());
        if gaussian {
            let total: f64 = grad.iter().sum();
            grad.iter_mut()
                .zip(&student.p)
                .for_each(|(g, q)| *g -= q * total);
        }
        out.value
    };
    value.is_finite().then_some((student, grad))
}

/// The two kept epochs Δq compares: the snapshot at (or before) `epoch` and the next one, or the last
/// two at the end of the run.
pub fn flow_epochs(result: &FitResult, run: usize, epoch: usize) -> Option<(usize, usize)> {
    let snaps = &result.runs.get(run)?.snapshots;
    let i = match snaps.binary_search_by_key(&epoch, |s| s.epoch) {
        Ok(i) => i,
        Err(0) => 0,
        Err(i) => i - 1,
    };
    if i + 1 < snaps.len() {
        Some((snaps[i].epoch, snaps[i + 1].epoch))
    } else if i > 0 {
        Some((snaps[i - 1].epoch, snaps[i].epoch))
    } else {
        None
    }
}

/// `q(b) − q(a)` per class over [`flow_epochs`].
pub fn flow(result: &FitResult, run: usize, epoch: usize) -> Option<(usize, usize, Vec<f64>)> {
    let (a, b) = flow_epochs(result, run, epoch)?;
    let r = &result.runs[run];
    let (qa, qb) = (q_at(r, a), q_at(r, b));
    if qa.len() != qb.len() {
        return None;
    }
    Some((a, b, qb.iter().zip(qa).map(|(y, x)| y - x).collect()))
}

/// Largest finite magnitude (1 when there is none, so scaling never divides by 0).
pub fn max_abs(v: &[f64]) -> f64 {
    let m = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    if m > 0.0 { m } else { 1.0 }
}

/// The force on a Gaussian student's parameters by the chain rule (spec §12), from `∂D/∂z` over the
/// grid `xs`: `(−∂D/∂μ, −∂D/∂log σ)`, what actually moves the student.
pub fn parameter_force(grad: &[f64], xs: &[f64], mu: f64, sigma: f64) -> (f64, f64) {
    let (mut gm, mut gs) = (0.0, 0.0);
    for (&gk, &x) in grad.iter().zip(xs) {
        let d = x - mu;
        gm += gk * d;
        gs += gk * d * d;
    }
    let iv = 1.0 / (sigma * sigma);
    (-gm * iv, -gs * iv)
}

/// ABKD's split of an αβ run's per-class force, indexed by class.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    pub alpha: f64,
    pub beta: f64,
    /// `q^β`.
    pub confidence: Vec<f64>,
    /// `(q^α − p^α)/α`.
    pub hardness: Vec<f64>,
    /// Their product, the force before the softmax's centring.
    pub w: Vec<f64>,
}

impl Factors {
    /// The factors at `(alpha, beta)` of the teacher's and the student's log-probabilities.
    pub fn new(alpha: f64, beta: f64, lp: &[f64], lq: &[f64]) -> Self {
        let (confidence, hardness) = ab_factors(alpha, beta, lp, lq);
        let w = confidence
            .iter()
            .zip(&hardness)
            .map(|(c, h)| c * h)
            .collect();
        Factors {
            alpha,
            beta,
            confidence,
            hardness,
            w,
        }
    }
}

/// DKD's force split at the target class (practice.md §6), as weighted in the loss: the force of
/// `T²·α·TCKD` (target vs rest) and of `T²·β·NCKD` (the shape of the non-targets). They sum to the
/// run's force.
#[derive(Debug, Clone, PartialEq)]
pub struct DkdParts {
    pub label: usize,
    /// `−∂(T²·α·TCKD)/∂z`.
    pub target: Vec<f64>,
    /// `−∂(T²·β·NCKD)/∂z`.
    pub non_target: Vec<f64>,
}

impl DkdParts {
    /// The parts for a DKD divergence; `None` for every other family.
    pub fn new(div: &Divergence, lp: &[f64], lq: &[f64]) -> Option<Self> {
        let Divergence::Dkd {
            alpha,
            beta,
            temperature,
            label,
        } = *div
        else {
            return None;
        };
        if label >= lq.len() {
            return None;
        }
        let (t, n) = dkd::part_grads(alpha, beta, temperature, label, lp, lq);
        // 0 − x, not −x: a class a part leaves alone reads 0, not −0.
        let neg = |v: Vec<f64>| v.into_iter().map(|x| 0.0 - x).collect();
        Some(DkdParts {
            label,
            target: neg(t),
            non_target: neg(n),
        })
    }
}

/// The per-class values of one run at one epoch, indexed by class.
#[derive(Debug, Clone, PartialEq)]
pub struct RunGradient {
    /// The run's divergence as optimised at the epoch ([`divergence_at`]).
    pub divergence: Divergence,
    pub epoch: usize,
    pub p: Vec<f64>,
    /// The kept student q at the epoch.
    pub q: Vec<f64>,
    /// `∂D/∂z` at [`student_at`]'s student; `None` where D is infinite.
    pub grad: Option<Vec<f64>>,
    /// `−∂D/∂z`.
    pub force: Option<Vec<f64>>,
    /// The two epochs and `q(b) − q(a)` ([`flow`]).
    pub flow: Option<(usize, usize, Vec<f64>)>,
    /// For a point of the αβ family with a finite D.
    pub factors: Option<Factors>,
    /// For a DKD run with a finite D.
    pub dkd: Option<DkdParts>,
    /// EA-KD's detached row weight and its entropies at the epoch's student (practice.md §7).
    pub eakd: Option<eakd::RowWeight>,
}

impl RunGradient {
    /// Everything the gradient view draws for `run` at `epoch` (clamp it as the views do, with
    /// [`super::clamp_epoch`]).
    pub fn new(result: &FitResult, run: usize, epoch: usize) -> Self {
        let divergence = divergence_at(result, run, epoch);
        let grad = gradient_at(result, run, epoch);
        let factors = match (ab_exponents(&divergence), &grad) {
            (Some((a, b)), Some((student, _))) => {
                Some(Factors::new(a, b, &result.teacher.dist.logp, &student.logp))
            }
            _ => None,
        };
        let dkd = grad.as_ref().and_then(|(student, _)| {
            DkdParts::new(&divergence, &result.teacher.dist.logp, &student.logp)
        });
        let eakd = match (divergence, &grad) {
            (
                Divergence::Eakd {
                    entropy_temperature,
                    hub,
                    ..
                },
                Some((student, _)),
            ) => Some(eakd::row_weight_parts(
                entropy_temperature,
                hub,
                &result.teacher.dist.logp,
                &student.logp,
            )),
            _ => None,
        };
        let grad = grad.map(|(_, g)| g);
        RunGradient {
            divergence,
            epoch,
            p: result.teacher.dist.p.clone(),
            q: q_at(&result.runs[run], epoch).to_vec(),
            force: grad.as_ref().map(|g| g.iter().map(|v| -v).collect()),
            grad,
            flow: flow(result, run, epoch),
            factors,
            dkd,
            eakd,
        }
    }

    pub const CSV_HEADER: &'static str = "divergence,epoch,class,x,teacher,q,force,delta_q,confidence,hardness,w,tckd_force,nckd_force";

    /// One row per class: `xs` are the classes' x; a missing quantity is an empty field (force where
    /// D is infinite, Δq with a single kept epoch, the factors outside the αβ family, DKD's parts
    /// outside DKD). The
    /// divergence column is `name` (the run's spec; TAID's t of the epoch is in `divergence`).
    pub fn write_csv_rows(&self, name: &str, xs: &[f64], out: &mut impl Write) -> fmt::Result {
        let at = |v: Option<&Vec<f64>>, k: usize| Opt(v.and_then(|v| v.get(k).copied()));
        let flow = self.flow.as_ref().map(|(_, _, d)| d);
        let f = self.factors.as_ref();
        let d = self.dkd.as_ref();
        for k in 0..self.p.len() {
            writeln!(
                out,
                "{},{},{k},{},{},{},{},{},{},{},{},{},{}",
                Quoted(name),
                self.epoch,
                Opt(xs.get(k).copied()),
                self.p[k],
                Opt(self.q.get(k).copied()),
                at(self.force.as_ref(), k),
                at(flow, k),
                at(f.map(|f| &f.confidence), k),
                at(f.map(|f| &f.hardness), k),
                at(f.map(|f| &f.w), k),
                at(d.map(|d| &d.target), k),
                at(d.map(|d| &d.non_target), k),
            )?;
        }
        Ok(())
    }

    /// [`RunGradient::CSV_HEADER`] and every run's rows at each epoch (clamped to the fit).
    pub fn write_csv(result: &FitResult, epochs: &[usize], out: &mut impl Write) -> fmt::Result {
        writeln!(out, "{}", Self::CSV_HEADER)?;
        for &e in epochs {
            let e = super::clamp_epoch(result, e);
            for (run, r) in result.runs.iter().enumerate() {
                let name = r.divergence.to_string();
                RunGradient::new(result, run, e).write_csv_rows(&name, &result.teacher.xs, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv::parse_csv;
    use crate::toy::analysis::fit_preset;

    /// The view reads what the fit read: the free student's own logits (not log q) and the
    /// teacher's given logits, so bf16 rounds 31.23, as the epoch-0 gradient of the pipeline on
    /// practice.md's vector L shows.
    #[test]
    fn a_practice_gradient_reads_the_students_own_logits() {
        let result = fit_preset("bf16-logits-jsd", 20);
        let u = [31.11, 30.87, 31.28, -43.45, -48.75, -6.79];
        let z = [31.23, 30.75, 31.24, -43.3, -48.74, -6.7];
        let logits = student_logits(&result, 1, 0).unwrap();
        for (a, b) in logits.iter().zip(z) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let loss = result.runs[1].divergence;
        assert_eq!(loss.to_string(), "jsd:beta=0.5,precision=bf16");
        let mut want = vec![0.0; 6];
        crate::math::practice::evaluate(
            &loss,
            &u,
            &z,
            0,
            &mut want,
            &mut PracticeWorkspace::default(),
        )
        .unwrap();
        let (_, got) = gradient_at(&result, 1, 0).unwrap();
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-6), "{a} vs {b}");
        }
        // Later epochs too: the kept snapshot's normaliser restores the parameters.
        assert!(student_logits(&result, 1, 20).unwrap()[0] > 30.0);
    }

    #[test]
    fn recomputed_gradient_matches_the_fit_at_epoch_0() {
        for preset in ["longtail-all-divergences", "minillm-gmm", "taid-schedule"] {
            let result = fit_preset(preset, 5);
            let prepared = crate::toy::preset::load(preset)
                .unwrap()
                .to_spec()
                .unwrap()
                .prepare()
                .unwrap();
            let mut z = vec![0.0; result.teacher.dist.len()];
            prepared.student.logits(&prepared.init, &mut z);
            let init = LogDist::from_logits(&z, false).unwrap();
            for run in 0..result.runs.len() {
                let div = divergence_at(&result, run, 0);
                let mut want = vec![0.0; init.len()];
                let value = value_and_grad(
                    &div,
                    &result.teacher.dist,
                    &init,
                    &mut want,
                    &mut Workspace::default(),
                );
                assert!(value.is_finite());
                let (_, got) = gradient_at(&result, run, 0).expect("a finite divergence");
                let scale = max_abs(&want);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-9 * scale, "{preset} {div}: {g} vs {w}");
                }
                let sum: f64 = got.iter().sum();
                assert!(sum.abs() < 1e-9 * scale.max(1.0), "{div}: Σ ∂D/∂z = {sum}");
            }
        }
    }

    #[test]
    fn taid_uses_the_t_recorded_at_the_epoch() {
        let result = fit_preset("taid-schedule", 60);
        let run = 1; // taid with a schedule
        let Divergence::Taid { t, .. } = divergence_at(&result, run, 50) else {
            panic!("run 1 is TAID")
        };
        assert_eq!(Some(t), result.runs[run].history[50].t);
        assert!(t > 0.4, "the schedule moved t: {t}");
    }

    #[test]
    fn dkd_parts_sum_to_the_force_on_the_dkd_split_preset() {
        let result = fit_preset("dkd-split", 20);
        assert!(
            RunGradient::new(&result, 0, 10).dkd.is_none(),
            "Hinton has no split"
        );
        for run in [1, 2] {
            let g = RunGradient::new(&result, run, 10);
            let Divergence::Dkd { beta, .. } = g.divergence else {
                panic!("run {run} is DKD")
            };
            let parts = g.dkd.as_ref().expect("a DKD run has its parts");
            let force = g.force.as_ref().unwrap();
            let scale = max_abs(force);
            for (k, f) in force.iter().enumerate() {
                let sum = parts.target[k] + parts.non_target[k];
                assert!((sum - f).abs() <= 1e-12 * scale, "class {k}: {sum} vs {f}");
            }
            // The target class moves by TCKD alone; NCKD acts only on the non-targets and vanishes
            // at β = 0.
            assert_eq!(parts.label, 0);
            assert_eq!(parts.non_target[0], 0.0);
            assert!(parts.target[0].abs() > 1e-3 * scale);
            let nckd = max_abs(&parts.non_target);
            if beta == 0.0 {
                assert!(parts.non_target.iter().all(|&x| x == 0.0));
            } else {
                assert!(
                    nckd > 0.1 * scale,
                    "β = {beta}: NCKD part {nckd} of {scale}"
                );
            }
        }
        let mut csv = String::new();
        RunGradient::write_csv(&result, &[10], &mut csv).unwrap();
        let rows = parse_csv(&csv);
        let n = result.teacher.dist.len();
        let parts = RunGradient::new(&result, 1, 10).dkd.unwrap();
        let row = &rows[1 + n + 3]; // run 1, class 3
        assert_eq!(row[11].parse::<f64>().unwrap(), parts.target[3]);
        assert_eq!(row[12].parse::<f64>().unwrap(), parts.non_target[3]);
        assert_eq!(rows[1][11], "", "Hinton's row has no DKD parts");
    }

    #[test]
    fn csv_reads_back_the_force_and_the_flow() {
        let result = fit_preset("minillm-gmm", 30);
        let mut csv = String::new();
        RunGradient::write_csv(&result, &[10], &mut csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(rows[0].join(","), RunGradient::CSV_HEADER);
        let n = result.teacher.dist.len();
        assert_eq!(rows.len(), 1 + n * result.runs.len());
        assert!(rows.iter().all(|r| r.len() == 13));
        let fkl = RunGradient::new(&result, 0, 10);
        let (a, b, dq) = fkl.flow.clone().unwrap();
        assert_eq!((a, b), (10, 11));
        let force = fkl.force.as_ref().unwrap();
        let factors = fkl.factors.as_ref().expect("FKL is the αβ point (1, 0)");
        for k in [0, n / 2, n - 1] {
            let row = &rows[1 + k];
            assert_eq!(row[0], "fkl");
            assert_eq!(row[2].parse::<usize>().unwrap(), k);
            assert_eq!(row[6].parse::<f64>().unwrap(), force[k]);
            assert_eq!(row[7].parse::<f64>().unwrap(), dq[k]);
            assert_eq!(row[10].parse::<f64>().unwrap(), factors.w[k]);
        }
        // The forces sum to 0 (softmax shift invariance).
        let sum: f64 = rows[1..=n]
            .iter()
            .map(|r| r[6].parse::<f64>().unwrap())
            .sum();
        assert!(sum.abs() < 1e-9 * max_abs(force), "{sum}");
    }
}
