//! Assistant distributions: what TAID and AMiD actually fit the student to.
//!
//! * TAID (spec §9): the intermediate teacher `p_t = softmax(t·log p + (1−t)·log q)` at the t recorded
//!   for the epoch.
//! * AMiD (spec §10): the α-mixture `r ∝ (λ p^s + (1−λ) q^s)^(1/s)`, `s = (1−α)/2` (the geometric
//!   mixture at α = 1).
//!
//! Without a TAID or AMiD run the view is the α-mixture explorer of AMiD's illustration (spec §14
//! F6): r for α ∈ {−3, −1, 0, 1, 3} and a free α, at one λ.

use super::gradient::{divergence_at, student_at};
use crate::io::csv::Quoted;
use crate::math::{AmidDiv, AmidOrder, Divergence, LogDist, amid, taid};
use crate::toy::FitResult;
use std::fmt::{self, Write};

/// α of the explorer's fixed mixtures.
pub const F6_ALPHAS: [f64; 5] = [-3.0, -1.0, 0.0, 1.0, 3.0];
/// The explorer's starting λ (the teacher's weight) and free α.
pub const DEFAULT_LAMBDA: f64 = 0.3;
pub const DEFAULT_FREE_ALPHA: f64 = 0.5;

/// The explorer's demo when the teacher is continuous: AMiD's figure as estimated in spec §14 F6,
/// p = N(−2, 0.5²) and q = N(2, 1²) on 1101 points over [−5, 6].
pub const DEMO_P: (f64, f64) = (-2.0, 0.5);
pub const DEMO_Q: (f64, f64) = (2.0, 1.0);
const DEMO_RANGE: (f64, f64) = (-5.0, 6.0);
const DEMO_POINTS: usize = 1101;

/// Runs whose objective has an assistant distribution (TAID, AMiD).
pub fn assistant_runs(result: &FitResult) -> Vec<usize> {
    (0..result.runs.len())
        .filter(|&r| {
            matches!(
                result.runs[r].divergence.family,
                Divergence::Taid { .. } | Divergence::Amid { .. }
            )
        })
        .collect()
}

/// The assistant of `run` at `epoch` for its `student` (log r, r) and a caption saying what it is.
pub fn assistant_of(
    result: &FitResult,
    run: usize,
    epoch: usize,
    student: &LogDist,
) -> Option<(LogDist, String)> {
    let teacher = &result.teacher.dist;
    let n = teacher.len();
    if student.len() != n {
        return None;
    }
    let mut r = LogDist::zeros(n);
    match divergence_at(result, run, epoch) {
        Divergence::Taid { t, .. } => {
            taid::interpolate(
                t,
                (&teacher.logp, &teacher.p),
                (&student.logp, &student.p),
                &mut r.logp,
                &mut r.p,
            );
            Some((r, format!("p_t at t = {t:.3}")))
        }
        Divergence::Amid {
            alpha,
            lambda,
            div,
            order,
        } => {
            // r at the run's own α and λ; the title names them.
            let mut omega = vec![0.0; n];
            amid::mixture(
                alpha,
                lambda,
                (&teacher.logp, &teacher.p),
                (&student.logp, &student.p),
                &mut r.logp,
                &mut r.p,
                &mut omega,
            );
            let d = match div {
                AmidDiv::Fkl => "KL".to_string(),
                AmidDiv::Ab { alpha, beta } => format!("AB({alpha}, {beta})"),
            };
            let args = match order {
                AmidOrder::Pr => "p, r",
                AmidOrder::Qr => "q, r",
                AmidOrder::Rp => "r, p",
                AmidOrder::Rq => "r, q",
            };
            Some((r, format!("fits {d}({args})")))
        }
        _ => None,
    }
}

/// A normal density's log on a grid, up to a constant, normalised over the grid.
pub fn gaussian(xs: &[f64], (mean, std): (f64, f64)) -> LogDist {
    let z: Vec<f64> = xs
        .iter()
        .map(|&x| -0.5 * ((x - mean) / std).powi(2))
        .collect();
    let mut d = LogDist::zeros(z.len());
    d.set_logits(&z);
    d
}

/// The demo grid of AMiD's figure.
pub fn demo_grid() -> Vec<f64> {
    let (lo, hi) = DEMO_RANGE;
    let step = (hi - lo) / (DEMO_POINTS - 1) as f64;
    (0..DEMO_POINTS).map(|i| lo + step * i as f64).collect()
}

/// What the explorer mixes: x positions, p, q, whether it is the demo, and the density factor
/// (1/grid step for the demo, so its heights read as densities like AMiD's figure).
#[derive(Debug, Clone, PartialEq)]
pub struct MixturePair {
    pub xs: Vec<f64>,
    pub p: LogDist,
    pub q: LogDist,
    pub demo: bool,
    pub scale: f64,
}

impl MixturePair {
    /// AMiD's illustration: the two Gaussians of [`DEMO_P`] and [`DEMO_Q`] on [`demo_grid`].
    pub fn demo() -> Self {
        let xs = demo_grid();
        let step = xs[1] - xs[0];
        MixturePair {
            p: gaussian(&xs, DEMO_P),
            q: gaussian(&xs, DEMO_Q),
            xs,
            demo: true,
            scale: 1.0 / step,
        }
    }

    /// The teacher and the first run's student at `epoch` for a class teacher, else the demo.
    pub fn of(result: &FitResult, epoch: usize) -> Self {
        if result.teacher.components.is_none()
            && !result.runs.is_empty()
            && let Some(q) = student_at(result, 0, epoch)
        {
            return MixturePair {
                xs: (0..q.len()).map(|i| i as f64).collect(),
                p: result.teacher.dist.clone(),
                q,
                demo: false,
                scale: 1.0,
            };
        }
        Self::demo()
    }

    /// AMiD's normalised α-mixture of p and q with teacher weight λ.
    pub fn mixture(&self, alpha: f64, lambda: f64) -> LogDist {
        alpha_mixture(alpha, lambda, &self.p, &self.q)
    }
}

/// AMiD's normalised α-mixture of p and q with teacher weight λ.
pub fn alpha_mixture(alpha: f64, lambda: f64, p: &LogDist, q: &LogDist) -> LogDist {
    let n = p.len();
    let mut r = LogDist::zeros(n);
    let mut omega = vec![0.0; n];
    amid::mixture(
        alpha,
        lambda,
        (&p.logp, &p.p),
        (&q.logp, &q.p),
        &mut r.logp,
        &mut r.p,
        &mut omega,
    );
    r
}

/// One TAID/AMiD run's panel: the teacher, the student and the assistant at one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantPanel {
    pub run: usize,
    pub epoch: usize,
    /// The student of [`student_at`] (a Gaussian rebuilt from its parameters).
    pub student: Option<LogDist>,
    /// The assistant and its caption.
    pub assistant: Option<(LogDist, String)>,
}

impl AssistantPanel {
    pub fn new(result: &FitResult, run: usize, epoch: usize) -> Self {
        let student = student_at(result, run, epoch);
        let assistant = student
            .as_ref()
            .and_then(|s| assistant_of(result, run, epoch, s));
        AssistantPanel {
            run,
            epoch,
            student,
            assistant,
        }
    }

    /// One row per class and panel: `divergence,epoch,class,x,teacher,student,assistant` (empty where
    /// there is no student at the epoch). Epochs are clamped to the fit.
    pub fn write_csv(result: &FitResult, epochs: &[usize], out: &mut impl Write) -> fmt::Result {
        writeln!(out, "divergence,epoch,class,x,teacher,student,assistant")?;
        let p = &result.teacher.dist.p;
        for &e in epochs {
            let e = super::clamp_epoch(result, e);
            for run in assistant_runs(result) {
                let panel = AssistantPanel::new(result, run, e);
                let name = result.runs[run].divergence.to_string();
                let at = |d: Option<&LogDist>, k: usize| crate::io::csv::Opt(d.map(|d| d.p[k]));
                for (k, (&x, &pk)) in result.teacher.xs.iter().zip(p).enumerate() {
                    writeln!(
                        out,
                        "{},{e},{k},{x},{pk},{},{}",
                        Quoted(&name),
                        at(panel.student.as_ref(), k),
                        at(panel.assistant.as_ref().map(|a| &a.0), k)
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The explorer's curves: the pair and one mixture per α at one λ.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureExplorer {
    pub pair: MixturePair,
    pub lambda: f64,
    /// (α, r) in drawing order.
    pub mixtures: Vec<(f64, LogDist)>,
}

impl MixtureExplorer {
    /// The fixed α of [`F6_ALPHAS`] and the free one, at λ.
    pub fn new(pair: MixturePair, lambda: f64, free_alpha: f64) -> Self {
        let mixtures = F6_ALPHAS
            .iter()
            .chain([&free_alpha])
            .map(|&a| (a, pair.mixture(a, lambda)))
            .collect();
        MixtureExplorer {
            pair,
            lambda,
            mixtures,
        }
    }

    /// One row per mixture and position: `alpha,lambda,class,x,teacher,student,mixture`, heights as
    /// drawn (densities, ×1/step, for the demo; probabilities otherwise).
    pub fn write_csv(&self, out: &mut impl Write) -> fmt::Result {
        writeln!(out, "alpha,lambda,class,x,teacher,student,mixture")?;
        let s = self.pair.scale;
        for (alpha, r) in &self.mixtures {
            for (k, &x) in self.pair.xs.iter().enumerate() {
                writeln!(
                    out,
                    "{alpha},{},{k},{x},{},{},{}",
                    self.lambda,
                    self.pair.p.p[k] * s,
                    self.pair.q.p[k] * s,
                    r.p[k] * s
                )?;
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

    /// The mixture's highest point as (x, density).
    fn peak(pair: &MixturePair, r: &LogDist) -> (f64, f64) {
        let (i, &v) =
            r.p.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
        (pair.xs[i], v * pair.scale)
    }

    #[test]
    fn the_demo_reproduces_amids_illustration() {
        // Spec §14 F6: computed single peaks for α = +1 and α = +3 at λ = 0.3, max p and max q.
        let pair = MixturePair::demo();
        let close = |(x, y): (f64, f64), (wx, wy): (f64, f64)| {
            (x - wx).abs() <= 0.011 && (y - wy).abs() <= 0.01 * wy
        };
        let r1 = alpha_mixture(1.0, 0.3, &pair.p, &pair.q);
        assert!(
            close(peak(&pair, &r1), (-0.525, 0.550)),
            "{:?}",
            peak(&pair, &r1)
        );
        let r3 = alpha_mixture(3.0, 0.3, &pair.p, &pair.q);
        assert!(
            close(peak(&pair, &r3), (-0.575, 1.341)),
            "{:?}",
            peak(&pair, &r3)
        );
        assert!(close(peak(&pair, &pair.p), (-2.0, 0.798)));
        assert!(close(peak(&pair, &pair.q), (2.0, 0.399)));
        // α = −1 is the plain m-mixture λp + (1−λ)q.
        let rm = alpha_mixture(-1.0, 0.3, &pair.p, &pair.q);
        for k in (0..pair.xs.len()).step_by(50) {
            let want = 0.3 * pair.p.p[k] + 0.7 * pair.q.p[k];
            assert!((rm.p[k] - want).abs() < 1e-12);
        }
    }

    #[test]
    fn taid_assistant_is_the_geometric_interpolation() {
        let result = fit_preset("taid-schedule", 30);
        let run = 1;
        let student = student_at(&result, run, 20).unwrap();
        let (r, _) = assistant_of(&result, run, 20, &student).unwrap();
        let t = result.runs[run].history[20].t.unwrap();
        // p_t ∝ p^t q^(1−t): the log-ratio to the unnormalised form is the same for every class.
        let lp = &result.teacher.dist.logp;
        let c0 = r.logp[0] - (t * lp[0] + (1.0 - t) * student.logp[0]);
        for ((lr, lp), lq) in r.logp.iter().zip(lp).zip(&student.logp) {
            let ck = lr - (t * lp + (1.0 - t) * lq);
            assert!((ck - c0).abs() < 1e-9);
        }
        assert!((r.p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn csv_reads_back_the_assistant() {
        let result = fit_preset("taid-schedule", 30);
        let mut csv = String::new();
        AssistantPanel::write_csv(&result, &[20], &mut csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(
            rows[0].join(","),
            "divergence,epoch,class,x,teacher,student,assistant"
        );
        let runs = assistant_runs(&result);
        let n = result.teacher.dist.len();
        assert_eq!(rows.len(), 1 + runs.len() * n);
        let panel = AssistantPanel::new(&result, runs[0], 20);
        let (r, _) = panel.assistant.as_ref().unwrap();
        for k in [0, n / 2, n - 1] {
            let row = &rows[1 + k];
            assert_eq!(row[0], result.runs[runs[0]].divergence.to_string());
            assert_eq!(row[6].parse::<f64>().unwrap(), r.p[k]);
        }
    }

    #[test]
    fn explorer_csv_holds_every_mixture_as_densities() {
        let explorer = MixtureExplorer::new(MixturePair::demo(), 0.3, 0.5);
        let mut csv = String::new();
        explorer.write_csv(&mut csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(
            rows[0].join(","),
            "alpha,lambda,class,x,teacher,student,mixture"
        );
        assert_eq!(rows.len(), 1 + 6 * DEMO_POINTS);
        // The α = +3 mixture's peak density, as in AMiD's figure (spec §14 F6).
        let top = rows[1..]
            .iter()
            .filter(|r| r[0] == "3")
            .map(|r| r[6].parse::<f64>().unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        assert!((top - 1.341).abs() <= 0.01 * 1.341, "{top}");
        assert!(rows[1..].iter().any(|r| r[0] == "0.5"), "the free α");
    }
}
