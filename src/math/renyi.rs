//! Rényi divergence of order α (practice.md §5): `D_α = log Σ p^α q^(1−α) / (α − 1)`, gradient
//! `q − r` with `r = softmax(α log p + (1−α) log q)`: TAID's gradient at t = α.

use super::kl::fkl;
use super::logspace::log_softmax_inplace;

/// `D_α(p‖q)` and its gradient; `lr`, `r` receive `log r` and `r`. α = 1 is FKL exactly. Near
/// Z = 1 (½ ≤ Z ≤ 2) the value is `log1p(Z − 1)/(α − 1)` with Z − 1 summed per class (accurate as
/// α → 1); elsewhere `log Z/(α − 1)` (the spec uses the first form from Z = ½ on; above 2 its terms
/// can overflow and there is no cancellation to avoid).
#[allow(clippy::too_many_arguments)]
pub fn renyi(
    alpha: f64,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    lr: &mut [f64],
    r: &mut [f64],
) -> f64 {
    if alpha == 1.0 {
        return fkl(lp, p, lq, q, grad);
    }
    for k in 0..lq.len() {
        // A teacher zero stays a zero of r (α > 0): −inf, never −inf·0.
        lr[k] = if lp[k] > f64::NEG_INFINITY {
            alpha * lp[k] + (1.0 - alpha) * lq[k]
        } else {
            f64::NEG_INFINITY
        };
    }
    // log Z = log Σ p^α q^(1−α) (lp, lq are normalised, so Z = Σ exp of the mixture).
    let log_z = log_softmax_inplace(lr, r);
    for k in 0..q.len() {
        grad[k] = q[k] - r[k];
    }
    let am1 = alpha - 1.0;
    if log_z.abs() > std::f64::consts::LN_2 {
        // Z < ½ (the spec's rule) or Z > 2: no cancellation in log Z, and no term of the sum
        // below may overflow (it would for α > 1 and a student far from the teacher).
        return log_z / am1;
    }
    // Z − 1 = Σ p (e^((α−1)(lp − lq)) − 1), summed without the cancellation of Z − 1 as α → 1;
    // every term is below Z ≤ 2.
    let mut zm1 = 0.0;
    for k in 0..p.len() {
        if lp[k] > f64::NEG_INFINITY {
            let x = am1 * (lp[k] - lq[k]);
            zm1 += if x.abs() < 1.0 {
                p[k] * x.exp_m1()
            } else {
                (lp[k] + x).exp() - p[k]
            };
        }
    }
    zm1.ln_1p() / am1
}
