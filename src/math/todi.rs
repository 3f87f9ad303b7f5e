//! ToDi, token-wise divergence control (practice.md §1): per class, FKL's and RKL's terms mixed by
//! `w⁺ = σ(β log(p/q))`, `w⁻ = 1 − w⁺`, both weights detached (the ToDi code's `.detach()`).
//! At β = 1 the value equals Jeffreys (σ(d) = p/(p+q)); the gradient does not.

use super::fastmath;
use super::simd::{Simd, V, map_sum, multiversion, update_sum};

/// The logistic sigmoid, without overflow on either side.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `(σ(x), σ(−x))` per lane from one exponential, each without overflow or cancellation: the
/// same two values as [`sigmoid`] at `x` and `−x`.
#[inline(always)]
fn sigmoid_pair<S: Simd>(x: V<S>) -> (V<S>, V<S>) {
    let e = fastmath::exp(-x.abs());
    let (big, small) = (1.0 / (1.0 + e), e / (1.0 + e));
    let pos = x.ge(0.0);
    (pos.select(big, small), pos.select(small, big))
}

/// `Σ w⁺ p d − w⁻ q d` with `d = log p − log q`; gradient `a − q Σ a`,
/// `a = −w⁺ p + w⁻ q (1 − d)`. Infinite where the teacher has a zero (its RKL term is).
pub fn todi(beta: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let [value, sum_a, zeros] = todi_terms(beta, lp, p, lq, q, grad);
    if zeros > 0.0 {
        return f64::INFINITY; // w⁻ = 1 and q·(log q − log 0) = ∞
    }
    project(q, sum_a, grad);
    value
}

multiversion! {
    /// The value, `a` into `grad`, `Σ a`, and the number of teacher zeros (where the rest is
    /// meaningless).
    fn todi_terms[s](beta: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> [f64; 3] {
        map_sum(s, [lp, p, lq, q], [grad], #[inline(always)] |[lp, p, lq, q]| {
            let d = lp - lq;
            let (wp, wm) = sigmoid_pair(d * beta);
            let a = -(wp * p) + wm * q * (1.0 - d);
            let zero = lp.eq(f64::NEG_INFINITY).select(1.0, 0.0);
            ([a], [wp * p * d - wm * q * d, a, zero])
        })
    }
}

multiversion! {
    /// `grad ← grad − q·Σa`: the softmax projection.
    fn project[s](q: &[f64], sum_a: f64, grad: &mut [f64]) {
        update_sum(s, [q], [grad], #[inline(always)] |[q], [g]| ([g - q * sum_a], []));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar loop the kernel replaced (libm `exp`, one class at a time).
    fn scalar(beta: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let (mut value, mut sum_a) = (0.0, 0.0);
        for k in 0..q.len() {
            if lp[k] == f64::NEG_INFINITY {
                return f64::INFINITY;
            }
            let d = lp[k] - lq[k];
            let wp = sigmoid(beta * d);
            let wm = sigmoid(-beta * d);
            value += wp * p[k] * d - wm * q[k] * d;
            let a = -wp * p[k] + wm * q[k] * (1.0 - d);
            grad[k] = a;
            sum_a += a;
        }
        for k in 0..q.len() {
            grad[k] -= q[k] * sum_a;
        }
        value
    }

    /// The vectorised kernel agrees with the scalar loop it replaced (ordinary, extreme and peaked
    /// rows, teacher zeros, β from 1e-3 to 100).
    #[test]
    fn the_vector_kernel_matches_the_scalar_loop() {
        use crate::math::reference_rows::{assert_close, rows};
        for (i, (t, s)) in rows().iter().enumerate() {
            let n = t.len();
            for beta in [1.0, 1e-3, 0.3, 2.0, 100.0] {
                let (mut g, mut want_g) = (vec![0.0; n], vec![0.0; n]);
                let want = scalar(beta, &t.logp, &t.p, &s.logp, &s.p, &mut want_g);
                let got = todi(beta, &t.logp, &t.p, &s.logp, &s.p, &mut g);
                let what = format!("row {i}, beta = {beta}");
                assert_close(&format!("{what}: value"), &[got], &[want], 1e-12);
                if want.is_finite() {
                    assert_close(&format!("{what}: gradient"), &g, &want_g, 1e-12);
                }
            }
        }
    }

    #[test]
    fn the_sigmoid_pair_is_the_sigmoid_at_both_signs() {
        use crate::math::simd::Scalar;
        for x in [
            0.0, -0.0, 1e-300, 0.5, -0.5, 3.0, -40.0, 40.0, 700.0, -800.0, 1e300, -1e300,
        ] {
            let (a, b) = sigmoid_pair(Scalar.v(x));
            let close = |u: f64, v: f64| (u - v).abs() <= 2e-16 * v.abs();
            assert!(
                close(a.0, sigmoid(x)) && close(b.0, sigmoid(-x)),
                "{x}: {a:?} {b:?}"
            );
        }
    }
}
