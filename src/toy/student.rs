//! Toy students: free logits (one per class) or a Gaussian N(μ, σ²) on the teacher's grid.

use crate::math::rng::Rng;
use serde::{Deserialize, Serialize};

use super::gaussian2d;
use super::metrics::{self, Regions};
use super::teacher::Teacher;
use crate::math::LogDist;
use crate::math::logspace::{log_softmax_fused, log_softmax_fused_at};
use crate::math::range::{self, short};
use crate::math::simd;
use crate::math::simd::{Simd, V, map_sum, multiversion};

/// How free logits start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// U[0,1) per class from a seeded generator (the AKL notebooks' `torch.rand`, not its stream).
    Uniform,
    Zeros,
    /// The `logits` field, verbatim (e.g. the AKL notebooks' printed initial logits).
    Given,
}

/// The TOML `[student]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum StudentSpec {
    Logits {
        #[serde(default = "default_init")]
        init: Init,
        #[serde(default)]
        seed: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        logits: Vec<f64>,
    },
    Gaussian {
        mu: f64,
        sigma: f64,
    },
    /// N(m, Σ) on a 2-D teacher's grid.
    Gaussian2d {
        mean: [f64; 2],
        cov: [[f64; 2]; 2],
        covariance: Covariance,
    },
}

/// Which covariances a 2-D Gaussian student may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Covariance {
    /// Any symmetric positive definite Σ = L·Lᵀ.
    Full,
    /// Factorised (mean-field): Σ diagonal.
    Diagonal,
}

fn default_init() -> Init {
    Init::Uniform
}

/// The trainable parameters and how they map to student logits on the grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Student {
    /// `params` are the logits themselves.
    Logits,
    /// `params = [μ, log σ]`; logits `z_j = −(x_j − μ)² / (2σ²)` (normalisation cancels in softmax).
    /// Build it with [`Student::gaussian`]: `ascending` says `xs` never decreases (a grid), so that
    /// the largest logit is found next to μ instead of by a pass.
    Gaussian { xs: Vec<f64>, ascending: bool },
    /// `params = [m₁, m₂, log L₁₁, L₂₁, log L₂₂]` at the points `(xs[j], ys[j])` (see [`gaussian2d`]).
    Gaussian2d {
        xs: Vec<f64>,
        ys: Vec<f64>,
        diagonal: bool,
    },
}

thread_local! {
    /// A 2-D student's logits before the softmax.
    static LOGITS: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on the 2-D student's logits at `params`.
fn with_logits2d<R>(xs: &[f64], ys: &[f64], params: &[f64], f: impl FnOnce(&[f64]) -> R) -> R {
    LOGITS.with_borrow_mut(|z| {
        z.resize(xs.len(), 0.0);
        gaussian2d::logits(xs, ys, params, z);
        f(z)
    })
}

impl StudentSpec {
    /// The student and its initial parameters for this teacher.
    pub fn build(&self, teacher: &Teacher) -> Result<(Student, Vec<f64>), String> {
        let xs = &teacher.xs;
        let n = xs.len();
        let plane = teacher.plane.as_ref();
        match (self, plane) {
            (StudentSpec::Gaussian2d { .. }, None) => {
                return Err("student kind = \"gaussian2d\" needs a 2-D teacher; expected teacher kind = \"mixture2d\"".into());
            }
            (
                StudentSpec::Gaussian2d {
                    mean,
                    cov,
                    covariance,
                },
                Some(plane),
            ) => {
                let diagonal = *covariance == Covariance::Diagonal;
                let params = gaussian2d::init(*mean, cov, diagonal)?;
                let student = Student::Gaussian2d {
                    xs: plane.xs.clone(),
                    ys: plane.ys.clone(),
                    diagonal,
                };
                return Ok((student, params));
            }
            (StudentSpec::Gaussian { .. }, Some(_)) => {
                return Err("student kind = \"gaussian\" is 1-D but the teacher is 2-D; expected kind = \"gaussian2d\" (or \"logits\")".into());
            }
            _ => {}
        }
        match self {
            StudentSpec::Logits { init, seed, logits } => {
                let params = match init {
                    Init::Uniform => {
                        let mut rng = Rng::new(*seed);
                        (0..n).map(|_| rng.uniform()).collect()
                    }
                    Init::Zeros => vec![0.0; n],
                    Init::Given => {
                        if logits.len() != n {
                            return Err(format!(
                                "student logits: {} values given for a teacher with {n} classes; expected {n}",
                                logits.len()
                            ));
                        }
                        if let Some((i, v)) = range::first_bad_logit(logits.iter().copied(), false)
                        {
                            return Err(format!(
                                "student logits: entry {i} is {}; expected {}",
                                range::short(v),
                                range::logit_range(false)
                            ));
                        }
                        logits.clone()
                    }
                };
                if !matches!(init, Init::Given) && !logits.is_empty() {
                    return Err(
                        "student logits are given but init is not \"given\"; set init = \"given\""
                            .into(),
                    );
                }
                Ok((Student::Logits, params))
            }
            StudentSpec::Gaussian { mu, sigma } => {
                GaussianRange::on(xs).check(*mu, *sigma)?;
                Ok((Student::gaussian(xs.to_vec()), vec![*mu, sigma.ln()]))
            }
            StudentSpec::Gaussian2d { .. } => Err("student gaussian2d: no 2-D teacher".into()),
        }
    }
}

/// The initial (μ, σ) a Gaussian student accepts on a teacher's grid: σ from 1/1000 of the grid
/// spacing (a spike on one point, whose logits stay finite) to 1000 times the grid's width (flat to
/// f64 precision), μ within 100 widths of the grid. Outside, the logits `−(x − μ)²/(2σ²)` overflow
/// to −inf or lose every digit, and the fit reports NaN for a reason the user cannot see.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianRange {
    pub mu: [f64; 2],
    pub sigma: [f64; 2],
}

impl GaussianRange {
    pub fn on(xs: &[f64]) -> Self {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let width = if hi > lo { hi - lo } else { 1.0 };
        let spacing = width / (xs.len().max(2) - 1) as f64;
        let (lo, hi) = if hi >= lo { (lo, hi) } else { (0.0, 0.0) };
        GaussianRange {
            mu: [rounded(lo - 100.0 * width), rounded(hi + 100.0 * width)],
            sigma: [rounded(spacing / 1000.0), rounded(1000.0 * width)],
        }
    }

    /// The message names the value, the accepted range and where the range comes from.
    pub fn check(&self, mu: f64, sigma: f64) -> Result<(), String> {
        let [lo, hi] = self.mu;
        if !(mu.is_finite() && (lo..=hi).contains(&mu)) {
            return Err(format!(
                "student mu={} is out of range; expected {} to {} (the teacher's grid widened by \
                 100 widths on each side)",
                short(mu),
                short(lo),
                short(hi)
            ));
        }
        let [lo, hi] = self.sigma;
        if !(sigma.is_finite() && (lo..=hi).contains(&sigma)) {
            return Err(format!(
                "student sigma={} is out of range; expected {} to {} (from 1/1000 of the teacher's \
                 grid spacing to 1000 times the grid's width)",
                short(sigma),
                short(lo),
                short(hi)
            ));
        }
        Ok(())
    }
}

/// `x` to four significant digits, so that a range reads `1e-5 to 24000` and a value typed as
/// printed is inside it.
fn rounded(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap_or(x)
}

impl Student {
    /// A 1-D Gaussian student on the points `xs`.
    pub fn gaussian(xs: Vec<f64>) -> Student {
        let ascending = xs.windows(2).all(|w| w[0] <= w[1]);
        Student::Gaussian { xs, ascending }
    }

    /// Writes the student logits for `params` into `z`.
    pub fn logits(&self, params: &[f64], z: &mut [f64]) {
        match self {
            Student::Logits => z.copy_from_slice(params),
            Student::Gaussian { xs, .. } => {
                gaussian_logits(xs, params[0], 0.5 * (-2.0 * params[1]).exp(), z)
            }
            Student::Gaussian2d { xs, ys, .. } => gaussian2d::logits(xs, ys, params, z),
        }
    }

    /// Fills `dist` with `softmax(logits(params))` (what [`Student::logits`] then
    /// [`LogDist::set_logits`] give, bit for bit), without a logits buffer; returns the log-sum-exp.
    pub fn set_dist(&self, params: &[f64], dist: &mut LogDist) -> f64 {
        match self {
            Student::Logits => dist.set_logits(params),
            Student::Gaussian { xs, ascending } => {
                dist.logp.resize(xs.len(), 0.0);
                dist.p.resize(xs.len(), 0.0);
                let inv = 0.5 * (-2.0 * params[1]).exp();
                let max = gaussian_max(xs, *ascending, params[0], inv);
                gaussian_log_softmax(xs, params[0], inv, max, &mut dist.logp, &mut dist.p)
            }
            Student::Gaussian2d { xs, ys, .. } => {
                with_logits2d(xs, ys, params, |z| dist.set_logits(z))
            }
        }
    }

    /// [`Student::set_dist`], and [`measure`] of the new distribution against `teacher` computed in
    /// the same pass.
    pub fn set_dist_measured(
        &self,
        params: &[f64],
        dist: &mut LogDist,
        teacher: &LogDist,
        regions: &Regions,
    ) -> [f64; 6] {
        let n = teacher.len();
        dist.logp.resize(n, 0.0);
        dist.p.resize(n, 0.0);
        let [lp, p] = [&teacher.logp[..], &teacher.p[..]];
        let [head, far] = regions.weights();
        let sums = match self {
            Student::Logits => softmax_measured(
                params,
                None,
                [lp, p, head, far],
                &mut dist.logp,
                &mut dist.p,
            ),
            Student::Gaussian { xs, ascending } => {
                let (mu, inv) = (params[0], 0.5 * (-2.0 * params[1]).exp());
                let max = gaussian_max(xs, *ascending, mu, inv);
                softmax_measured(
                    xs,
                    Some((mu, inv, max)),
                    [lp, p, head, far],
                    &mut dist.logp,
                    &mut dist.p,
                )
            }
            Student::Gaussian2d { xs, ys, .. } => with_logits2d(xs, ys, params, |z| {
                softmax_measured(z, None, [lp, p, head, far], &mut dist.logp, &mut dist.p)
            }),
        };
        metrics::finish(sums)
    }

    /// Chain rule from the gradient w.r.t. the logits to the gradient w.r.t. the parameters.
    /// For the Gaussian, `Σ g = 0` removes the `−1` term of `∂/∂ log σ` (spec §12).
    pub fn param_grad(&self, params: &[f64], g_logits: &[f64], out: &mut [f64]) {
        match self {
            Student::Logits => out.copy_from_slice(g_logits),
            Student::Gaussian { xs, .. } => {
                let inv_var = (-2.0 * params[1]).exp();
                let [gm, gs] = gaussian_moments(xs, params[0], g_logits);
                out[0] = gm * inv_var;
                out[1] = gs * inv_var;
            }
            Student::Gaussian2d { xs, ys, diagonal } => {
                gaussian2d::param_grad(xs, ys, params, *diagonal, g_logits, out)
            }
        }
    }

    /// The parameters themselves when they are the logits (no copy needed).
    pub fn as_logits<'a>(&self, params: &'a [f64]) -> Option<&'a [f64]> {
        matches!(self, Student::Logits).then_some(params)
    }

    /// `(μ, σ)` for a Gaussian student.
    pub fn mu_sigma(&self, params: &[f64]) -> Option<(f64, f64)> {
        match self {
            Student::Gaussian { .. } => Some((params[0], params[1].exp())),
            _ => None,
        }
    }

    /// `(m, Σ)` for a 2-D Gaussian student.
    pub fn mean_cov(&self, params: &[f64]) -> Option<([f64; 2], [[f64; 2]; 2])> {
        match self {
            Student::Gaussian2d { .. } => Some(gaussian2d::mean_cov(params)),
            _ => None,
        }
    }

    /// The number of classes of a parametric student (`None` for free logits: as many as params).
    pub fn classes(&self) -> Option<usize> {
        match self {
            Student::Logits => None,
            Student::Gaussian { xs, .. } | Student::Gaussian2d { xs, .. } => Some(xs.len()),
        }
    }
}

multiversion! {
    /// `z_j = −(x_j − μ)² · inv`, `inv = 1/(2σ²)`.
    fn gaussian_logits[s](xs: &[f64], mu: f64, inv: f64, z: &mut [f64]) {
        map_sum(s, [xs], [z], #[inline(always)] |[x]| {
            let d = x - mu;
            ([-(d * d * inv)], [])
        });
    }
}

multiversion! {
    /// `Σ g_j (x_j − μ)` and `Σ g_j (x_j − μ)²`.
    fn gaussian_moments[s](xs: &[f64], mu: f64, g: &[f64]) -> [f64; 2] {
        map_sum(s, [xs, g], [], #[inline(always)] |[x, g]| {
            let d = x - mu;
            ([], [g * d, g * d * d])
        })
    }
}

multiversion! {
    /// `log_softmax` and `softmax` of the Gaussian logits `z_j = −(x_j − μ)² · inv` without storing z.
    /// `max`: the largest logit when known ([`gaussian_max`]).
    fn gaussian_log_softmax[s](xs: &[f64], mu: f64, inv: f64, max: Option<f64>, logp: &mut [f64], p: &mut [f64]) -> f64 {
        let m = match max {
            Some(m) => m,
            None => simd::max_map(s, xs, #[inline(always)] |x| gaussian_logit(x, mu, inv)),
        };
        log_softmax_fused_at(
            s,
            [xs],
            #[inline(always)] |x| gaussian_logit(x, mu, inv),
            m,
            logp,
            p,
            #[inline(always)] |_, _, _| [],
        )
        .0
    }
}

multiversion! {
    /// The softmax of the logits `src` or, given `gaussian = (μ, inv, max)`, of the Gaussian logits
    /// of the positions `src` (`max`: the largest when known); with the sums of [`metrics::terms`]
    /// against the teacher `[lp, p, head, far]`.
    fn softmax_measured[s](
        src: &[f64],
        gaussian: Option<(f64, f64, Option<f64>)>,
        teacher: [&[f64]; 4],
        logq: &mut [f64],
        q: &mut [f64],
    ) -> [f64; 6] {
        let [lp, p, head, far] = teacher;
        let ins = [src, lp, p, head, far];
        match gaussian {
            None => {
                log_softmax_fused(
                    s,
                    ins,
                    #[inline(always)] |z| z,
                    logq,
                    q,
                    #[inline(always)] |a, b, c| measured(a, b, c),
                )
                .1
            }
            Some((mu, inv, max)) => {
                let m = match max {
                    Some(m) => m,
                    None => simd::max_map(s, src, #[inline(always)] |x| gaussian_logit(x, mu, inv)),
                };
                log_softmax_fused_at(
                    s,
                    ins,
                    #[inline(always)] |x| gaussian_logit(x, mu, inv),
                    m,
                    logq,
                    q,
                    #[inline(always)] |a, b, c| measured(a, b, c),
                )
                .1
            }
        }
    }
}

/// The metric terms of a new student entry `(lq, q)` given `[_, lp, p, head, far]`.
#[inline(always)]
fn measured<S: Simd>(lq: V<S>, q: V<S>, [_, lp, p, h, f]: [V<S>; 5]) -> [V<S>; 6] {
    metrics::terms(lp, p, lq, q, h, f)
}

/// The largest Gaussian logit `−(x_j − μ)² · inv` over ascending `xs`, exactly as a pass over every
/// point finds it, from the two points around μ: `x_j − μ` rounds monotonically in `x_j`, so the
/// logit rises up to μ and falls after it. `None` (a pass is needed) for points not ascending, and
/// where a logit may be NaN (μ not finite; `inv` 0 or infinite, which make `0 · ∞`).
fn gaussian_max(xs: &[f64], ascending: bool, mu: f64, inv: f64) -> Option<f64> {
    if !(ascending && mu.is_finite() && inv.is_finite() && inv > 0.0) {
        return None;
    }
    let k = xs.partition_point(|&x| x < mu);
    let logit = |x: f64| {
        let d = x - mu;
        -(d * d * inv)
    };
    let below = k.checked_sub(1).and_then(|j| xs.get(j)).map(|&x| logit(x));
    let above = xs.get(k).map(|&x| logit(x));
    match (below, above) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// `z = −(x − μ)² · inv`, per lane.
#[inline(always)]
fn gaussian_logit<S: Simd>(x: V<S>, mu: f64, inv: f64) -> V<S> {
    let d = x - mu;
    -(d * d * inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// σ = 1e-300 is refused up front, naming σ and the range, instead of a NaN blamed on the teacher.
    #[test]
    fn a_gaussian_student_outside_its_range_is_named() {
        let teacher = crate::toy::TeacherSpec::two_modes(2401).build().unwrap();
        let range = GaussianRange::on(&teacher.xs);
        assert_eq!(range.sigma, [1e-5, 24000.0]);
        assert_eq!(range.mu, [-2412.0, 2412.0]);
        let gauss = |mu, sigma| StudentSpec::Gaussian { mu, sigma }.build(&teacher);
        let e = gauss(0.0, 1e-300).unwrap_err();
        assert_eq!(
            e,
            "student sigma=1e-300 is out of range; expected 1e-5 to 24000 (from 1/1000 of the \
             teacher's grid spacing to 1000 times the grid's width)"
        );
        assert!(
            gauss(0.0, 1e300)
                .unwrap_err()
                .contains("sigma=1e300 is out of range")
        );
        assert!(gauss(0.0, f64::NAN).unwrap_err().contains("sigma=NaN"));
        assert!(gauss(0.0, -1.0).unwrap_err().contains("sigma=-1 is"));
        let e = gauss(1e300, 1.0).unwrap_err();
        assert!(
            e.starts_with("student mu=1e300 is out of range; expected -2412 to 2412"),
            "{e}"
        );
        // The ends themselves are accepted.
        for (mu, sigma) in [(-2412.0, 1e-5), (2412.0, 24000.0)] {
            assert!(gauss(mu, sigma).is_ok(), "{mu} {sigma}");
        }
    }

    /// The fused Gaussian softmax gives exactly what logits then `set_logits` give.
    #[test]
    fn gaussian_set_dist_matches_logits_then_softmax() {
        let xs: Vec<f64> = (0..2001)
            .map(|j| -12.0 + 24.0 * j as f64 / 2000.0)
            .collect();
        let student = Student::gaussian(xs.clone());
        for params in [[0.0, 0.0], [3.7, -1.2], [-11.9, 0.9], [40.0, 0.3]] {
            let mut z = vec![0.0; xs.len()];
            student.logits(&params, &mut z);
            let mut want = LogDist::zeros(xs.len());
            let lse_want = want.set_logits(&z);
            let mut got = LogDist::zeros(3);
            let lse_got = student.set_dist(&params, &mut got);
            assert_eq!(lse_got, lse_want, "{params:?}");
            assert_eq!(got, want, "{params:?}");
        }
    }

    /// The largest logit found next to μ is the one a pass over every point finds, bit for bit: μ on,
    /// between, off and far off the grid, σ from a spike to flat, grids of 1 to 2001 points; points
    /// not ascending and σ at the ends fall back to the pass.
    #[test]
    fn the_gaussian_max_next_to_mu_equals_the_pass() {
        let pass = |xs: &[f64], mu: f64, inv: f64| {
            let z: Vec<f64> = xs.iter().map(|x| -((x - mu) * (x - mu) * inv)).collect();
            crate::math::simd::max(crate::math::simd::Scalar, &z)
        };
        for n in [1, 2, 3, 7, 8, 9, 2001] {
            let xs: Vec<f64> = (0..n)
                .map(|j| -12.0 + 24.0 * j as f64 / (n.max(2) - 1) as f64)
                .collect();
            let mut mus = vec![0.0, 0.1, -11.99, 12.0, -12.0, 40.0, -1e300, 1e-300, 3.3e-7];
            mus.extend(xs.iter().step_by(97).copied());
            mus.extend(xs.windows(2).step_by(89).map(|w| 0.5 * (w[0] + w[1])));
            for &mu in &mus {
                for inv in [1e-300, 1e-10, 0.5, 3.7, 1e6, 1e250] {
                    let got = gaussian_max(&xs, true, mu, inv).unwrap();
                    assert_eq!(
                        got.to_bits(),
                        pass(&xs, mu, inv).to_bits(),
                        "{n} {mu} {inv}"
                    );
                }
            }
        }
        let xs = [0.0, 1.0, 0.5];
        assert_eq!(
            Student::gaussian(xs.to_vec()),
            Student::Gaussian {
                xs: xs.to_vec(),
                ascending: false
            }
        );
        assert_eq!(gaussian_max(&xs, false, 0.2, 1.0), None);
        assert_eq!(gaussian_max(&[0.0, 1.0], true, 0.2, f64::INFINITY), None);
        assert_eq!(gaussian_max(&[0.0, 1.0], true, 0.2, 0.0), None);
        assert_eq!(gaussian_max(&[0.0, 1.0], true, f64::NAN, 1.0), None);
    }

    /// Metrics measured inside the softmax pass equal `measure` after it, for both students.
    #[test]
    fn measured_softmax_matches_measure() {
        use crate::toy::{MetricsSpec, metrics::measure};
        let n = 203;
        let xs: Vec<f64> = (0..n).map(|j| -5.0 + 0.05 * j as f64).collect();
        let u: Vec<f64> = xs
            .iter()
            .map(|x| -(x - 1.0) * (x - 1.0) + (3.0 * x).sin())
            .collect();
        let teacher = LogDist::from_logits(&u, false).unwrap();
        let regions = Regions::new(&teacher.p, &MetricsSpec::default());
        let logits: Vec<f64> = (0..n).map(|j| (j as f64 * 0.37).cos()).collect();
        for (student, params) in [
            (Student::Logits, logits),
            (Student::gaussian(xs), vec![0.4, 0.2]),
        ] {
            let (mut a, mut b) = (LogDist::zeros(n), LogDist::zeros(n));
            student.set_dist(&params, &mut a);
            let want = measure(&teacher.logp, &teacher.p, &a.logp, &a.p, &regions);
            let got = student.set_dist_measured(&params, &mut b, &teacher, &regions);
            assert_eq!(a, b);
            assert_eq!(got, want);
        }
    }
}
