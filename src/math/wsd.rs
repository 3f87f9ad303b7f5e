//! Weighted symmetric KL `(1−λ)·FKL + λ·RKL` (DistiLLM's `symmetric_kl`, ABKD's `wsd`) and Jeffreys
//! `FKL + RKL` (practice.md §4). The codes' FKL is the cross-entropy form (value + (1−λ)H(p)); kdviz
//! shows the true divergence, with the same gradient.

use super::kl::kl_term;
use super::simd::{map_sum, multiversion};

multiversion! {
    /// `wf·KL(p‖q) + wr·KL(q‖p)`; gradient `wf (q − p) + wr q (log q − log p − RKL)`. A zero weight
    /// drops its term entirely (λ = 0 is FKL exactly, even where the teacher has zeros).
    pub fn sym_kl[s](wf: f64, wr: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let [f, r] = map_sum(s, [lp, p, lq, q], [], #[inline(always)] |[lp, p, lq, q]| {
            ([], [kl_term(lp, p, lq), kl_term(lq, q, lp)])
        });
        let r = if wr > 0.0 { r } else { 0.0 };
        let f = if wf > 0.0 { f } else { 0.0 };
        if !r.is_finite() {
            return f64::INFINITY;
        }
        if wr > 0.0 {
            map_sum(s, [lp, p, lq, q], [grad], #[inline(always)] |[lp, p, lq, q]| {
                // q = 0 masks the reverse term (0·inf where the teacher has a zero, see kl::rkl).
                ([wf * (q - p) + q.gt(0.0).select(wr * q * (lq - lp - r), 0.0)], [])
            });
        } else {
            // No reverse term at all: log p = −inf must not meet a zero weight (0·inf).
            map_sum(s, [p, q], [grad], #[inline(always)] |[p, q]| ([wf * (q - p)], []));
        }
        wf * f + wr * r
    }
}

/// `wsd:lambda=λ`: `(1−λ)·FKL + λ·RKL`.
pub fn wsd(lambda: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    sym_kl(1.0 - lambda, lambda, lp, p, lq, q, grad)
}

/// `jeffreys`: `FKL + RKL`.
pub fn jeffreys(lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    sym_kl(1.0, 1.0, lp, p, lq, q, grad)
}
