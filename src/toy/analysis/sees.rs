//! "What the student sees" (practice.md §9–§12): for one run at one epoch, per class in teacher-rank
//! order, the full teacher, the teacher the loss actually reads (top-k cells, the renormalised p̃,
//! the tail bucket, the sampled p̂), the student, and the gradient w.r.t. the student's logits under
//! the run's options against the same loss on the full teacher; for numerics options the error
//! against f64, for sampled estimators the mean and spread over seeds against the exact gradient.
//!
//! The logits are those the fit read ([`super::gradient::student_logits`], [`Teacher::logits`]): a
//! logits teacher's own, a free student's own (`ln q` + its kept normaliser), a Gaussian's
//! log-probabilities; so the numbers at epoch e are the fit's at epoch e.
//!
//! [`Teacher::logits`]: crate::toy::Teacher::logits

use crate::io::csv::{Opt, Quoted};
use crate::math::Divergence;
use crate::math::practice::support::top_k_into;
use crate::math::practice::{
    Loss, Outcome, Practice, PracticeWorkspace, Support, SupportReport, evaluate, seen,
};
use crate::math::precision::Compute;
use crate::toy::FitResult;
use std::fmt::{self, Write};

/// Seeds of the sampled estimators' mean and spread.
pub const SEEDS: usize = 64;

/// Which teacher the loss reads (after temperatures, soft-capping, standardisation and rounding).
#[derive(Debug, Clone, PartialEq)]
pub enum Reads {
    /// All of the (transformed) teacher.
    Full,
    /// `support=topk`: the K cells of the full-V softmax, not renormalised.
    TopK { k: usize },
    /// `support=topk-renorm`: p̃ = p_K / P_K on the K cells.
    Renorm { k: usize },
    /// `support=topk-tail`: the K cells and one bucket p̄ = 1 − P_K (the student's q̄ alike).
    Tail { k: usize, p_bar: f64, q_bar: f64 },
    /// `support=sampled`: p̂ = counts / n.
    Sampled { n: usize },
}

/// The gradient of a loss with numerics options against the same loss in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Numerics {
    /// The loss without `precision`, `tprecision` and `compute`.
    pub reference: Loss,
    pub value: f64,
    /// Per rank.
    pub grad: Vec<f64>,
    /// `|g − g₆₄| / |g₆₄|` per rank; `None` where both are 0 (or the emulation gave no number).
    pub rel_err: Vec<Option<f64>>,
    /// `|v − v₆₄| / |v₆₄|`.
    pub value_err: Option<f64>,
    /// `‖g − g₆₄‖₂ / ‖g₆₄‖₂` (practice.md §12.4's gradient error).
    pub grad_err: Option<f64>,
}

/// The gradient of a sampled estimator over [`SEEDS`] seeds against the exact gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The exact loss: `support=full`, or `rkl` for `rkl-est` (the other options kept).
    pub exact_loss: Loss,
    /// Draws per evaluation (the loss's own `n`).
    pub n: usize,
    pub exact_value: f64,
    /// Per rank.
    pub exact: Vec<f64>,
    pub mean: Vec<f64>,
    /// Standard deviation of one evaluation's gradient over the seeds (not of the mean).
    pub sd: Vec<f64>,
    pub value_mean: f64,
    pub value_sd: f64,
    /// `‖mean − exact‖₂ / ‖exact‖₂` and `‖sd‖₂ / ‖exact‖₂`.
    pub bias: f64,
    pub spread: f64,
}

/// Everything the view draws for one run at one epoch; per-class vectors are in teacher-rank order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sees {
    pub run: usize,
    pub epoch: usize,
    pub loss: Loss,
    /// The class at each rank (largest p first; equal p: lower class first).
    pub order: Vec<usize>,
    /// The full teacher p and the student q.
    pub p: Vec<f64>,
    pub q: Vec<f64>,
    /// The teacher the loss reads, per rank; `None` outside the top-k cells (and the tail bucket
    /// of `topk-tail` is in [`Reads::Tail`]).
    pub used: Vec<Option<f64>>,
    pub reads: Reads,
    /// The loss under its options: value and report (`nonfinite` set when the emulation failed).
    pub outcome: Outcome,
    /// The gradient w.r.t. the student's logits, per rank; `None` when `outcome.nonfinite`.
    pub grad: Option<Vec<f64>>,
    /// The same loss with `support=full`.
    pub full_loss: Loss,
    pub full_value: f64,
    pub full_grad: Vec<f64>,
    pub numerics: Option<Numerics>,
    pub spread: Option<Spread>,
}

impl Sees {
    /// The numbers of `run` at `epoch` (clamped to the fit); an error names what the loss refused.
    pub fn new(result: &FitResult, run: usize, epoch: usize) -> Result<Sees, String> {
        let r = result.runs.get(run).ok_or_else(|| {
            format!(
                "run {run} does not exist; the fit has {}",
                result.runs.len()
            )
        })?;
        let epoch = super::clamp_epoch(result, epoch);
        let loss = r.divergence;
        let teacher = &result.teacher.dist;
        let q = super::q_at(r, epoch);
        // What the fit read: a logits teacher's own logits, the free student's own (log q + its
        // normaliser) or the Gaussian's log-probabilities.
        let u = result.teacher.logits();
        let z: Vec<f64> = match super::gradient::student_logits(result, run, epoch) {
            Some(z) => z,
            None => q.iter().map(|x| x.ln()).collect(),
        };
        let order = rank_order(&teacher.p);
        let by_rank = |g: &[f64]| -> Vec<f64> { order.iter().map(|&j| g[j]).collect() };
        let mut ws = PracticeWorkspace::default();
        let stream = epoch as u64;

        let (outcome, g) = eval(&loss, u, &z, stream, &mut ws)?;
        let grad = outcome.nonfinite.is_none().then(|| by_rank(&g));
        let full_loss = with_support(loss, Support::Full);
        let (full_out, full_g) = eval(&full_loss, u, &z, stream, &mut ws)?;

        let (used, reads) = used_teacher(&loss.practice, u, &z, &order, &outcome.support);

        let numerics = if has_numerics(&loss.practice) {
            let reference = Loss {
                family: loss.family,
                practice: Practice {
                    precision: None,
                    tprecision: None,
                    compute: Compute::Exact,
                    ..loss.practice
                },
            };
            let (ref_out, ref_g) = eval(&reference, u, &z, stream, &mut ws)?;
            let ref_g = by_rank(&ref_g);
            Some(numerics(
                reference,
                ref_out.value,
                ref_g,
                &outcome,
                grad.as_deref(),
            ))
        } else {
            None
        };

        let spread = match sampled(&loss) {
            Some((n, exact_loss)) => {
                let (ex_out, ex_g) = eval(&exact_loss, u, &z, stream, &mut ws)?;
                let mut sum = vec![0.0; q.len()];
                let mut sum2 = vec![0.0; q.len()];
                let (mut vs, mut vs2) = (0.0, 0.0);
                for s in 0..SEEDS as u64 {
                    let (out, g) = eval(&reseed(loss, s), u, &z, stream, &mut ws)?;
                    vs += out.value;
                    vs2 += out.value * out.value;
                    for (j, &c) in order.iter().enumerate() {
                        sum[j] += g[c];
                        sum2[j] += g[c] * g[c];
                    }
                }
                let m = SEEDS as f64;
                let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
                let sd: Vec<f64> = sum2
                    .iter()
                    .zip(&mean)
                    .map(|(s2, mu)| (s2 / m - mu * mu).max(0.0).sqrt())
                    .collect();
                let exact = by_rank(&ex_g);
                let norm = l2(exact.iter().copied());
                let bias = l2(mean.iter().zip(&exact).map(|(a, b)| a - b)) / norm;
                let spread = l2(sd.iter().copied()) / norm;
                let value_mean = vs / m;
                Some(Spread {
                    exact_loss,
                    n,
                    exact_value: ex_out.value,
                    exact,
                    mean,
                    sd,
                    value_mean,
                    value_sd: (vs2 / m - value_mean * value_mean).max(0.0).sqrt(),
                    bias,
                    spread,
                })
            }
            None => None,
        };

        let (p, q, full_grad) = (by_rank(&teacher.p), by_rank(q), by_rank(&full_g));
        Ok(Sees {
            run,
            epoch,
            loss,
            p,
            q,
            order,
            used,
            reads,
            outcome,
            grad,
            full_loss,
            full_value: full_out.value,
            full_grad,
            numerics,
            spread,
        })
    }

    /// Whether the loss has any practice option (else it reads the full teacher as it is).
    pub fn has_options(&self) -> bool {
        !self.loss.practice.is_default()
    }

    pub const CSV_HEADER: &'static str =
        "divergence,epoch,rank,class,p,used,q,grad,grad_full,grad_f64,rel_err_f64,mean,sd,exact";

    /// One row per rank (empty cells where a column does not apply).
    pub fn write_csv_rows(&self, out: &mut impl Write) -> fmt::Result {
        let name = self.loss.to_string();
        let at = |v: Option<&Vec<f64>>, j: usize| Opt(v.and_then(|v| v.get(j).copied()));
        let num = self.numerics.as_ref();
        let spr = self.spread.as_ref();
        for (j, &class) in self.order.iter().enumerate() {
            writeln!(
                out,
                "{},{},{},{class},{},{},{},{},{},{},{},{},{},{}",
                Quoted(&name),
                self.epoch,
                j + 1,
                self.p[j],
                Opt(self.used[j]),
                self.q[j],
                at(self.grad.as_ref(), j),
                self.full_grad[j],
                at(num.map(|n| &n.grad), j),
                Opt(num.and_then(|n| n.rel_err[j])),
                at(spr.map(|s| &s.mean), j),
                at(spr.map(|s| &s.sd), j),
                at(spr.map(|s| &s.exact), j),
            )?;
        }
        Ok(())
    }

    /// [`Sees::CSV_HEADER`] and every run's rows at each epoch (clamped to the fit); a run whose
    /// loss refuses the row is left out with a comment line saying why.
    pub fn write_csv(result: &FitResult, epochs: &[usize], out: &mut impl Write) -> fmt::Result {
        writeln!(out, "{}", Self::CSV_HEADER)?;
        for &e in epochs {
            for run in 0..result.runs.len() {
                match Sees::new(result, run, e) {
                    Ok(s) => s.write_csv_rows(out)?,
                    Err(why) => writeln!(out, "# {why}")?,
                }
            }
        }
        Ok(())
    }
}

/// The run the view opens on: the first whose loss has practice options or is a sampled estimator
/// (`rkl-est`), else run 0.
pub fn default_run(result: &FitResult) -> usize {
    result
        .runs
        .iter()
        .position(|r| {
            !r.divergence.practice.is_default()
                || matches!(r.divergence.family, Divergence::RklEst { .. })
        })
        .unwrap_or(0)
}

/// Classes by decreasing p, equal p lower class first.
pub fn rank_order(p: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    order
}

fn eval(
    loss: &Loss,
    u: &[f64],
    z: &[f64],
    stream: u64,
    ws: &mut PracticeWorkspace,
) -> Result<(Outcome, Vec<f64>), String> {
    let mut g = vec![0.0; z.len()];
    let out = evaluate(loss, u, z, stream, &mut g, ws).map_err(|e| e.to_string())?;
    Ok((out, g))
}

fn with_support(loss: Loss, support: Support) -> Loss {
    Loss {
        family: loss.family,
        practice: Practice {
            support,
            ..loss.practice
        },
    }
}

fn has_numerics(p: &Practice) -> bool {
    p.precision.is_some() || p.tprecision.is_some() || p.compute != Compute::Exact
}

/// For a sampled estimator: its number of draws and the exact loss it estimates.
fn sampled(loss: &Loss) -> Option<(usize, Loss)> {
    if let Support::Sampled { n, .. } = loss.practice.support {
        return Some((n, with_support(*loss, Support::Full)));
    }
    if let Divergence::RklEst { n, x, .. } = loss.family {
        let draws = if x.is_some() { 1 } else { n };
        return Some((
            draws,
            Loss {
                family: Divergence::Rkl,
                practice: loss.practice,
            },
        ));
    }
    None
}

/// `loss` with its sampler's seed moved on by `s` (seed `s` = 0 is the fit's own draw).
fn reseed(loss: Loss, s: u64) -> Loss {
    let mut l = loss;
    if let Support::Sampled { n, seed } = l.practice.support {
        l.practice.support = Support::Sampled {
            n,
            seed: seed.wrapping_add(s.wrapping_mul(SEED_STEP)),
        };
    }
    if let Divergence::RklEst { ref mut seed, .. } = l.family {
        *seed = seed.wrapping_add(s.wrapping_mul(SEED_STEP));
    }
    l
}

/// The seeds' spacing. Streams start at `seed + epoch`, so consecutive seeds would replay the
/// draws of neighbouring epochs, and SplitMix64 adds its own increment 0x9E37… per draw, so a
/// multiple of it would replay one stream shifted by a draw: an odd constant unrelated to both.
const SEED_STEP: u64 = 0xD1B5_4A32_D192_ED03;

fn l2(x: impl Iterator<Item = f64>) -> f64 {
    x.map(|v| v * v).sum::<f64>().sqrt()
}

/// The teacher the loss reads, per rank, and which kind it is.
fn used_teacher(
    pr: &Practice,
    u: &[f64],
    z: &[f64],
    order: &[usize],
    report: &SupportReport,
) -> (Vec<Option<f64>>, Reads) {
    let (t, s) = seen(pr, u, z);
    let in_k = |k: usize| {
        let mut top = Vec::new();
        top_k_into(&t.logp, k, &mut top);
        let mut mask = vec![false; u.len()];
        top[..k].iter().for_each(|&j| mask[j] = true);
        mask
    };
    let cells = |k: usize, scale: f64| -> Vec<Option<f64>> {
        let mask = in_k(k);
        order
            .iter()
            .map(|&j| mask[j].then(|| t.p[j] / scale))
            .collect()
    };
    match pr.support {
        Support::Full => (order.iter().map(|&j| Some(t.p[j])).collect(), Reads::Full),
        Support::TopK { k, .. } => (cells(k, 1.0), Reads::TopK { k }),
        Support::TopKRenorm { k, .. } => {
            let mask = in_k(k);
            let pk: f64 = (0..u.len()).filter(|&j| mask[j]).map(|j| t.p[j]).sum();
            (cells(k, pk), Reads::Renorm { k })
        }
        Support::TopKTail { k, .. } => {
            let mask = in_k(k);
            // As the support computes them: from the complement, not by subtraction.
            let rest = |x: &[f64]| (0..u.len()).filter(|&j| !mask[j]).map(|j| x[j]).sum();
            let (p_bar, q_bar) = (rest(&t.p), rest(&s.p));
            (cells(k, 1.0), Reads::Tail { k, p_bar, q_bar })
        }
        Support::Sampled { n, .. } => {
            let counts = report.counts.as_deref().unwrap_or(&[]);
            let used = order
                .iter()
                .map(|&j| Some(f64::from(counts.get(j).copied().unwrap_or(0)) / n as f64))
                .collect();
            (used, Reads::Sampled { n })
        }
    }
}

fn numerics(
    reference: Loss,
    value: f64,
    ref_g: Vec<f64>,
    outcome: &Outcome,
    grad: Option<&[f64]>,
) -> Numerics {
    let (rel_err, value_err, grad_err) = match grad {
        Some(g) => {
            let rel = g
                .iter()
                .zip(&ref_g)
                .map(|(a, b)| {
                    let d = (a - b).abs();
                    if d == 0.0 {
                        Some(0.0)
                    } else if *b == 0.0 {
                        None
                    } else {
                        Some(d / b.abs())
                    }
                })
                .collect();
            let norm = l2(ref_g.iter().copied());
            let gerr = (norm > 0.0).then(|| l2(g.iter().zip(&ref_g).map(|(a, b)| a - b)) / norm);
            let verr = (value != 0.0).then(|| (outcome.value - value).abs() / value.abs());
            (rel, verr, gerr)
        }
        None => (vec![None; ref_g.len()], None, None),
    };
    Numerics {
        reference,
        value,
        grad: ref_g,
        rel_err,
        value_err,
        grad_err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numerics presets through the view at epoch 0 give practice.md §12.4's gradient errors
    /// against f64: 20.05 % for bf16 logits (vector L), 15.09 % for bf16 arithmetic (vector S).
    #[test]
    fn the_numerics_presets_show_the_reported_gradient_errors() {
        for (preset, run, want) in [
            ("bf16-logits-jsd", 1, 0.2005),
            ("bf16-arithmetic-jsd", 1, 0.1509),
        ] {
            let result = crate::toy::analysis::fit_preset(preset, 5);
            let s = Sees::new(&result, run, 0).unwrap();
            let err = s.numerics.as_ref().unwrap().grad_err.unwrap();
            assert!((err - want).abs() < 5e-4, "{preset}: {err}");
        }
    }
    use crate::math::{LogDist, Workspace, value_and_grad};
    use crate::toy::analysis::fit_with;

    const PRESET: &str = "akl-fig3-longtail";

    /// topk-tail reads the K cells and one bucket: together they are the whole teacher, 1.
    #[test]
    fn the_used_teacher_of_topk_tail_sums_with_its_tail_to_one() {
        for spec in [
            "fkl:support=topk-tail,k=8",
            "jsd:tt=2,support=topk-tail,k=5",
        ] {
            let result = fit_with(PRESET, &[spec], 10);
            let s = Sees::new(&result, 0, 10).unwrap();
            let Reads::Tail { k, p_bar, q_bar } = s.reads else {
                panic!("{spec}: {:?}", s.reads)
            };
            let cells: Vec<f64> = s.used.iter().flatten().copied().collect();
            assert_eq!(cells.len(), k, "{spec}");
            let total = cells.iter().sum::<f64>() + p_bar;
            assert!((total - 1.0).abs() < 1e-12, "{spec}: {total}");
            assert!(p_bar > 0.0 && q_bar > 0.0 && q_bar < 1.0, "{spec}");
            // Without a temperature the cells are the teacher's own top-k, at its top ranks.
            if spec.starts_with("fkl") {
                for j in 0..k {
                    assert_eq!(s.used[j], Some(s.p[j]), "{spec} rank {j}");
                }
                assert!(s.used[k..].iter().all(Option::is_none));
                assert_eq!(s.outcome.support.tail_active, Some(true));
                let top = s.outcome.support.top_k.unwrap();
                assert!((top.p_k + p_bar - 1.0).abs() < 1e-12);
            }
        }
    }

    /// The "full teacher" comparison of a loss whose only option is its support is the family
    /// itself: `value_and_grad` on p and q.
    #[test]
    fn the_full_gradient_is_the_familys_own() {
        for spec in [
            "fkl:support=topk-tail,k=8",
            "rkl:support=topk,k=4",
            "jsd:support=topk-renorm,k=6",
        ] {
            let result = fit_with(PRESET, &[spec], 20);
            let s = Sees::new(&result, 0, 20).unwrap();
            let loss: Loss = spec.parse().unwrap();
            assert_eq!(s.full_loss, Loss::from(loss.family));
            let p = &result.teacher.dist;
            let q = LogDist::from_probs(crate::toy::analysis::q_at(&result.runs[0], 20)).unwrap();
            let mut g = vec![0.0; q.len()];
            let v = value_and_grad(&loss.family, p, &q, &mut g, &mut Workspace::default());
            assert!((s.full_value - v).abs() < 1e-12, "{spec}");
            for (rank, &class) in s.order.iter().enumerate() {
                assert!(
                    (s.full_grad[rank] - g[class]).abs() < 1e-12,
                    "{spec} class {class}: {} vs {}",
                    s.full_grad[rank],
                    g[class]
                );
            }
            // And the options' gradient differs from it (the view has something to show).
            let grad = s.grad.as_ref().unwrap();
            assert!(
                grad.iter()
                    .zip(&s.full_grad)
                    .any(|(a, b)| (a - b).abs() > 1e-6)
            );
        }
    }

    /// §10.4: the FKL gradient against p̂ is unbiased, E[q − p̂] = q − p. Over 64 seeds the mean is
    /// within 5 standard errors √(p(1−p)/(n·64)) of the exact gradient in every class, and the
    /// spread of one draw is the multinomial's √(p(1−p)/n) within 40 %.
    #[test]
    fn the_sampled_fkl_gradient_is_unbiased_over_seeds() {
        let n = 32;
        let result = fit_with(PRESET, &[&format!("fkl:support=sampled,n={n},seed=5")], 15);
        let s = Sees::new(&result, 0, 15).unwrap();
        let sp = s.spread.as_ref().unwrap();
        assert_eq!(sp.n, n);
        assert_eq!(sp.exact_loss, Loss::from(Divergence::Fkl));
        assert!(matches!(s.reads, Reads::Sampled { n: 32 }));
        let draws: f64 = s.used.iter().flatten().sum();
        assert!((draws - 1.0).abs() < 1e-12, "p̂ sums to 1");
        for j in 0..s.p.len() {
            // The exact gradient is q − p.
            assert!((sp.exact[j] - (s.q[j] - s.p[j])).abs() < 1e-12);
            let var = s.p[j] * (1.0 - s.p[j]) / n as f64;
            let se = (var / SEEDS as f64).sqrt();
            assert!(
                (sp.mean[j] - sp.exact[j]).abs() <= 5.0 * se + 1e-15,
                "rank {j}: mean {} exact {} (5 se = {})",
                sp.mean[j],
                sp.exact[j],
                5.0 * se
            );
        }
        // The head class: a binomial's spread.
        let sd0 = (s.p[0] * (1.0 - s.p[0]) / n as f64).sqrt();
        assert!((sp.sd[0] / sd0 - 1.0).abs() < 0.4, "{} vs {sd0}", sp.sd[0]);
        assert!(sp.bias < sp.spread, "bias {} spread {}", sp.bias, sp.spread);
    }

    /// `precision=f64` is the f64 reference itself: every per-class error and the value's are 0;
    /// bf16 is not.
    #[test]
    fn the_numerics_error_is_zero_in_f64_and_not_in_bf16() {
        let result = fit_with(PRESET, &["jsd:precision=f64", "jsd:precision=bf16"], 10);
        let s = Sees::new(&result, 0, 10).unwrap();
        let num = s.numerics.as_ref().unwrap();
        assert_eq!(num.reference, Loss::from(s.loss.family));
        assert!(
            num.rel_err.iter().all(|e| *e == Some(0.0)),
            "{:?}",
            num.rel_err
        );
        assert_eq!(num.value_err, Some(0.0));
        assert_eq!(num.grad_err, Some(0.0));
        let b = Sees::new(&result, 1, 10).unwrap();
        let num = b.numerics.as_ref().unwrap();
        assert!(num.grad_err.unwrap() > 1e-4, "{:?}", num.grad_err);
        assert!(num.rel_err.iter().flatten().any(|&e| e > 1e-4));
    }

    /// rkl-est against rkl: k1 in pg mode is unbiased for ∇RKL (§11). Each draw's gradient is
    /// `k(x)(e_x − q)` with `k = lq − lp`; the mean of 64 seeds of n draws is within 5 standard
    /// errors `√(Var_x/(n·64))` of the exact gradient in every class.
    #[test]
    fn rkl_est_is_compared_with_rkl() {
        let n = 16;
        let spec = format!("rkl-est:kind=k1,mode=pg,n={n},clamp=false");
        let result = fit_with(PRESET, &["fkl", &spec], 10);
        assert_eq!(default_run(&result), 1);
        let s = Sees::new(&result, 1, 10).unwrap();
        let sp = s.spread.as_ref().unwrap();
        assert_eq!(sp.exact_loss, Loss::from(Divergence::Rkl));
        assert_eq!(sp.n, n);
        let k: Vec<f64> = (0..s.p.len()).map(|x| s.q[x].ln() - s.p[x].ln()).collect();
        for j in 0..s.p.len() {
            let per_draw = |x: usize| k[x] * (f64::from(u8::from(x == j)) - s.q[j]);
            let mean: f64 = (0..s.p.len()).map(|x| s.q[x] * per_draw(x)).sum();
            let var: f64 = (0..s.p.len())
                .map(|x| s.q[x] * (per_draw(x) - mean).powi(2))
                .sum();
            assert!((mean - sp.exact[j]).abs() < 1e-12, "E[k1·pg] = ∇RKL");
            let se = (var / (n * SEEDS) as f64).sqrt();
            assert!(
                (sp.mean[j] - sp.exact[j]).abs() <= 5.0 * se,
                "rank {j}: {} vs {} (5 se = {})",
                sp.mean[j],
                sp.exact[j],
                5.0 * se
            );
        }
    }

    /// No option: the loss reads the full teacher, and the view compares it with itself.
    #[test]
    fn without_options_the_loss_reads_the_full_teacher() {
        let result = fit_with(PRESET, &["fkl", "rkl"], 5);
        assert_eq!(default_run(&result), 0);
        let s = Sees::new(&result, 1, 5).unwrap();
        assert!(!s.has_options());
        assert_eq!(s.reads, Reads::Full);
        assert_eq!(s.grad.as_ref(), Some(&s.full_grad));
        assert!(s.numerics.is_none() && s.spread.is_none());
        assert!(s.p.windows(2).all(|w| w[0] >= w[1]), "ranked by p");
    }

    /// [`seen`] is steps 1–4 of the pipeline: with tt = st the FKL on the full support is KL of
    /// the two distributions it returns.
    #[test]
    fn seen_matches_the_pipeline() {
        let loss: Loss = "fkl:tt=2,st=2,softcap=3,std=true,precision=bf16"
            .parse()
            .unwrap();
        let u = [0.3, -1.2, 2.5, 0.0, -0.7];
        let z = [0.1, 0.4, 1.9, -0.3, -1.1];
        let (t, s) = seen(&loss.practice, &u, &z);
        let kl: f64 = (0..5).map(|j| t.p[j] * (t.logp[j] - s.logp[j])).sum();
        let mut g = [0.0; 5];
        let out = evaluate(&loss, &u, &z, 0, &mut g, &mut PracticeWorkspace::default()).unwrap();
        assert!((out.value - kl).abs() < 1e-12, "{} vs {kl}", out.value);
    }

    #[test]
    fn csv_has_a_row_per_class_and_run() {
        let result = fit_with(PRESET, &["fkl:support=topk-tail,k=8", "fkl"], 5);
        let mut out = String::new();
        Sees::write_csv(&result, &[5], &mut out).unwrap();
        let table = crate::io::csv::parse_csv(&out);
        assert_eq!(table.len(), 1 + 2 * 80);
        assert_eq!(table[0].len(), Sees::CSV_HEADER.split(',').count());
        assert_eq!(table[1][0], "fkl:support=topk-tail,k=8");
        assert_eq!(table[1][2], "1");
        assert_eq!(table[9][5], "", "rank 9 is in the tail");
    }
}
