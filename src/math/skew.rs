//! DistiLLM's skew KL and skew reverse KL (and DistiLLM-2's stop-gradient variant).

use super::fastmath;
use super::kl::{fkl, kl_term, rkl};
use super::logspace::Mixture;
use super::simd::{map_sum, multiversion};

/// `KL(p ‖ αp + (1−α)q)`; gradient `−(1−α) q (p/m − ⟨p/m⟩_q)`.
pub fn skl(alpha: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    if alpha == 0.0 {
        return fkl(lp, p, lq, q, grad);
    }
    skl_terms(alpha, lp, p, lq, q, grad)
}

multiversion! {
    /// The value, and `grad = −(1−α) q (p/m − ⟨p/m⟩_q)`.
    fn skl_terms[s](alpha: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let mix = Mixture::new(alpha);
        let [v, mean] = map_sum(s, [lp, p, lq, q], [&mut *grad], #[inline(always)] |[lp, p, lq, q]| {
            let lm = mix.log(lp, p, lq, q);
            let ratio = fastmath::exp(lp - lm); // p/m <= 1/α, bounded even where q underflows
            ([ratio], [kl_term(lp, p, lm), q * ratio])
        });
        let c = -(1.0 - alpha);
        scale_centered(c, mean, q, grad);
        v
    }
}

/// `KL(q ‖ (1−α)p + αq)`; gradient `q (h − ⟨h⟩_q)` with `h = log(q/m) − α q/m`, or `h = log(q/m)` when the
/// mixture is detached (DistiLLM-2).
#[allow(clippy::too_many_arguments)]
pub fn srkl(
    alpha: f64,
    detach: bool,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
) -> f64 {
    if alpha == 0.0 {
        return rkl(lp, lq, q, grad);
    }
    srkl_terms(alpha, detach, lp, p, lq, q, grad)
}

multiversion! {
    /// `Σ q log(q/m)` and `grad = q (h − ⟨h⟩_q)`.
    #[allow(clippy::too_many_arguments)]
    fn srkl_terms[s](alpha: f64, detach: bool, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let mix = Mixture::new(1.0 - alpha);
        // Without the stop-gradient, h also carries −α q/m (q/m ≤ 1/α).
        let a = if detach { 0.0 } else { alpha };
        let [v, mean] = map_sum(s, [lp, p, lq, q], [&mut *grad], #[inline(always)] |[lp, p, lq, q]| {
            let log_ratio = lq - mix.log(lp, p, lq, q);
            let h = log_ratio - a * fastmath::exp(log_ratio);
            ([h], [q * log_ratio, q * h])
        });
        scale_centered(1.0, mean, q, grad);
        v
    }
}

/// `g ← c · q · (g − mean)`: the softmax projection of per-class factors `g` with `mean = ⟨g⟩_q`.
#[inline(always)]
fn scale_centered(c: f64, mean: f64, q: &[f64], grad: &mut [f64]) {
    for (g, &qk) in grad.iter_mut().zip(q) {
        *g = c * qk * (*g - mean);
    }
}
