//! Forward and reverse KL, and the KL building block the other families reuse.

use super::simd::{Simd, V, map_sum, multiversion};

/// `x (log x − log y)` with `0·log 0 = 0`: the masked KL term, per lane.
#[inline(always)]
pub(crate) fn kl_term<S: Simd>(lx: V<S>, x: V<S>, ly: V<S>) -> V<S> {
    x.gt(0.0).select(x * (lx - ly), 0.0)
}

multiversion! {
    /// `KL(x‖y) = Σ x (log x − log y)`, with `0·log 0 = 0`; `+inf` where `x > 0` and `y = 0`.
    pub fn kl[s](lx: &[f64], x: &[f64], ly: &[f64]) -> f64 {
        let [v] = map_sum(s, [lx, x, ly], [], #[inline(always)] |[a, pa, b]| {
            ([], [kl_term(a, pa, b)])
        });
        v
    }
}

multiversion! {
    /// Forward KL(p‖q); gradient `q − p`.
    pub fn fkl[s](lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let [v] = map_sum(s, [lp, p, lq, q], [grad], #[inline(always)] |[lp, p, lq, q]| {
            ([q - p], [kl_term(lp, p, lq)])
        });
        v
    }
}

multiversion! {
    /// Reverse KL(q‖p); gradient `q (log q − log p − KL)`. Infinite where the teacher has zeros.
    pub fn rkl[s](lp: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let v = kl(lq, q, lp);
        if v.is_finite() {
            // Masked where q = 0: a class the teacher rules out (log p = -inf) and the student's
            // probability underflows contributes 0, not 0·inf = NaN.
            map_sum(s, [lp, lq, q], [grad], #[inline(always)] |[lp, lq, q]| {
                ([q.gt(0.0).select(q * (lq - lp - v), 0.0)], [])
            });
        }
        v
    }
}

multiversion! {
    /// Partial derivatives of `KL(x‖y)` w.r.t. `log x` and `log y` (x, y treated as free positive
    /// vectors); the softmax projection is applied by the caller.
    pub fn kl_partials[s](lx: &[f64], x: &[f64], ly: &[f64], d_lx: &mut [f64], d_ly: &mut [f64]) {
        map_sum(s, [lx, x, ly], [d_lx, d_ly], #[inline(always)] |[a, pa, b]| {
            ([kl_term(a, pa, b), pa.gt(0.0).select(-pa, 0.0)], [])
        });
    }
}
