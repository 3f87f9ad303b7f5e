//! Rényi divergence of order α (practice.md §5): `D_α = log Σ p^α q^(1−α) / (α − 1)`, gradient
//! `q − r` with `r = softmax(α log p + (1−α) log q)`: TAID's gradient at t = α.

use super::fastmath;
use super::kl::fkl;
use super::logspace::log_softmax_inplace;
use super::simd::{map_sum, multiversion};

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
    mix(alpha, lp, lq, lr);
    // log Z = log Σ p^α q^(1−α) (lp, lq are normalised, so Z = Σ exp of the mixture).
    let log_z = log_softmax_inplace(lr, r);
    difference(q, r, grad);
    let am1 = alpha - 1.0;
    if log_z.abs() > std::f64::consts::LN_2 {
        // Z < ½ (the spec's rule) or Z > 2: no cancellation in log Z, and no term of the sum
        // below may overflow (it would for α > 1 and a student far from the teacher).
        return log_z / am1;
    }
    z_minus_1(am1, lp, p, lq).ln_1p() / am1
}

multiversion! {
    /// `lr = α log p + (1−α) log q`; a teacher zero stays a zero of r (α > 0): `-inf`, never
    /// `−inf·0`.
    fn mix[s](alpha: f64, lp: &[f64], lq: &[f64], lr: &mut [f64]) {
        map_sum(s, [lp, lq], [lr], #[inline(always)] |[lp, lq]| {
            let m = lp * alpha + lq * (1.0 - alpha);
            ([lp.gt(f64::NEG_INFINITY).select(m, f64::NEG_INFINITY)], [])
        });
    }
}

multiversion! {
    /// `grad = q − r`.
    fn difference[s](q: &[f64], r: &[f64], grad: &mut [f64]) {
        map_sum(s, [q, r], [grad], #[inline(always)] |[q, r]| ([q - r], []));
    }
}

multiversion! {
    /// `Z − 1 = Σ p (e^((α−1)(lp − lq)) − 1)`, summed without the cancellation of Z − 1 as
    /// α → 1: `p·expm1(x)` where |x| < 1, else `e^(lp + x) − p`; every term is below Z ≤ 2.
    fn z_minus_1[s](am1: f64, lp: &[f64], p: &[f64], lq: &[f64]) -> f64 {
        let [zm1] = map_sum(s, [lp, p, lq], [], #[inline(always)] |[lp, p, lq]| {
            let x = (lp - lq) * am1;
            let near = x.abs().lt(1.0);
            let small = p * fastmath::exp_m1(x);
            let term = if near.all() {
                small
            } else {
                near.select(small, fastmath::exp(lp + x) - p)
            };
            // A teacher zero adds nothing (its x is infinite or NaN).
            ([], [lp.gt(f64::NEG_INFINITY).select(term, 0.0)])
        });
        zm1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar loop the kernels replaced (libm `exp`, `exp_m1`, one class at a time).
    #[allow(clippy::too_many_arguments)]
    fn scalar(alpha: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let n = q.len();
        let (mut lr, mut r) = (vec![0.0; n], vec![0.0; n]);
        for k in 0..n {
            lr[k] = if lp[k] > f64::NEG_INFINITY {
                alpha * lp[k] + (1.0 - alpha) * lq[k]
            } else {
                f64::NEG_INFINITY
            };
        }
        let log_z = log_softmax_inplace(&mut lr, &mut r);
        for k in 0..n {
            grad[k] = q[k] - r[k];
        }
        let am1 = alpha - 1.0;
        if log_z.abs() > std::f64::consts::LN_2 {
            return log_z / am1;
        }
        let mut zm1 = 0.0;
        for k in 0..n {
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

    /// The vectorised kernels agree with the scalar loop they replaced (ordinary, extreme and
    /// peaked rows, teacher zeros, α from 1e-3 to 10 and next to 1).
    #[test]
    fn the_vector_kernels_match_the_scalar_loop() {
        use crate::math::reference_rows::{assert_close, rows};
        for (i, (t, s)) in rows().iter().enumerate() {
            let n = t.len();
            for alpha in [0.5, 1e-3, 1.0 - 1e-9, 1.0 + 1e-9, 2.5, 10.0] {
                let (mut g, mut want_g) = (vec![0.0; n], vec![0.0; n]);
                let (mut lr, mut r) = (vec![0.0; n], vec![0.0; n]);
                let want = scalar(alpha, &t.logp, &t.p, &s.logp, &s.p, &mut want_g);
                let got = renyi(alpha, &t.logp, &t.p, &s.logp, &s.p, &mut g, &mut lr, &mut r);
                let what = format!("row {i}, alpha = {alpha}");
                // Z − 1 is a sum of terms of size p·|α − 1|·|log p − log q| that cancel as q → p:
                // absolute precision relative to their sum, as for either loop.
                let spread: f64 = (0..n)
                    .filter(|&k| t.p[k] > 0.0)
                    .map(|k| t.p[k] * (t.logp[k] - s.logp[k]).abs())
                    .sum();
                let tol = 1e-12 * want.abs().max(spread);
                assert!(
                    (got - want).abs() <= tol,
                    "{what}: value {got:e} vs {want:e}"
                );
                assert_close(&format!("{what}: gradient"), &g, &want_g, 1e-12);
            }
        }
    }
}
