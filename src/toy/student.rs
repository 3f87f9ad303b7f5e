//! Toy students: free logits (one per class) or a Gaussian N(μ, σ²) on the teacher's grid.

use rand::RngExt as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::math::LogDist;
use crate::math::fastmath;
use crate::math::simd::{self, Simd, V, map_sum, multiversion};

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
    Gaussian { xs: Vec<f64> },
}

impl StudentSpec {
    /// The student and its initial parameters for a teacher with these class positions.
    pub fn build(&self, xs: &[f64]) -> Result<(Student, Vec<f64>), String> {
        let n = xs.len();
        match self {
            StudentSpec::Logits { init, seed, logits } => {
                let params = match init {
                    Init::Uniform => {
                        let mut rng = StdRng::seed_from_u64(*seed);
                        (0..n).map(|_| rng.random::<f64>()).collect()
                    }
                    Init::Zeros => vec![0.0; n],
                    Init::Given => {
                        if logits.len() != n {
                            return Err(format!(
                                "student logits: {} values given for a teacher with {n} classes; expected {n}",
                                logits.len()
                            ));
                        }
                        if let Some((i, v)) =
                            logits.iter().enumerate().find(|(_, v)| !v.is_finite())
                        {
                            return Err(format!(
                                "student logits: entry {i} is {v}; expected a finite number"
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
                if !mu.is_finite() {
                    return Err(format!("student mu={mu}; expected a finite number"));
                }
                if !(sigma.is_finite() && *sigma > 0.0) {
                    return Err(format!("student sigma={sigma}; expected a positive number"));
                }
                Ok((Student::Gaussian { xs: xs.to_vec() }, vec![*mu, sigma.ln()]))
            }
        }
    }
}

impl Student {
    /// Writes the student logits for `params` into `z`.
    pub fn logits(&self, params: &[f64], z: &mut [f64]) {
        match self {
            Student::Logits => z.copy_from_slice(params),
            Student::Gaussian { xs } => {
                gaussian_logits(xs, params[0], 0.5 * (-2.0 * params[1]).exp(), z)
            }
        }
    }

    /// Fills `dist` with `softmax(logits(params))` (what [`Student::logits`] then
    /// [`LogDist::set_logits`] give), in fewer passes over the classes; returns the log-sum-exp.
    pub fn set_dist(&self, params: &[f64], dist: &mut LogDist) -> f64 {
        match self {
            Student::Logits => dist.set_logits(params),
            Student::Gaussian { xs } => {
                dist.logp.resize(xs.len(), 0.0);
                dist.p.resize(xs.len(), 0.0);
                let inv = 0.5 * (-2.0 * params[1]).exp();
                gaussian_log_softmax(xs, params[0], inv, &mut dist.logp, &mut dist.p)
            }
        }
    }

    /// Chain rule from the gradient w.r.t. the logits to the gradient w.r.t. the parameters.
    /// For the Gaussian, `Σ g = 0` removes the `−1` term of `∂/∂ log σ` (spec §12).
    pub fn param_grad(&self, params: &[f64], g_logits: &[f64], out: &mut [f64]) {
        match self {
            Student::Logits => out.copy_from_slice(g_logits),
            Student::Gaussian { xs } => {
                let inv_var = (-2.0 * params[1]).exp();
                let [gm, gs] = gaussian_moments(xs, params[0], g_logits);
                out[0] = gm * inv_var;
                out[1] = gs * inv_var;
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
            Student::Logits => None,
            Student::Gaussian { .. } => Some((params[0], params[1].exp())),
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
    /// `log_softmax` and `softmax` of the Gaussian logits `z_j = −(x_j − μ)² · inv` without storing z:
    /// the largest logit is found from the smallest `(x − μ)²`, then z is recomputed where needed.
    fn gaussian_log_softmax[s](xs: &[f64], mu: f64, inv: f64, logp: &mut [f64], p: &mut [f64]) -> f64 {
        let logit = |x| gaussian_logit(x, mu, inv);
        let m = simd::max_map(s, xs, logit);
        let [sum] = map_sum(s, [xs], [&mut *p], #[inline(always)] |[x]| {
            let e = fastmath::exp(logit(x) - m);
            ([e], [e])
        });
        let (lse, inv_sum) = (m + sum.ln(), 1.0 / sum);
        for ((l, e), &x) in logp.iter_mut().zip(p.iter_mut()).zip(xs) {
            let d = x - mu;
            *l = -(d * d * inv) - lse;
            *e *= inv_sum;
        }
        lse
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

    /// The fused Gaussian softmax gives exactly what logits then `set_logits` give.
    #[test]
    fn gaussian_set_dist_matches_logits_then_softmax() {
        let xs: Vec<f64> = (0..2001)
            .map(|j| -12.0 + 24.0 * j as f64 / 2000.0)
            .collect();
        let student = Student::Gaussian { xs: xs.clone() };
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
}
