//! DistiLLM's skew KL and skew reverse KL (and DistiLLM-2's stop-gradient variant).

use super::kl::{fkl, rkl};
use super::logspace::logaddexp;

/// `KL(p ‖ αp + (1−α)q)`; gradient `−(1−α) q (p/m − ⟨p/m⟩_q)`.
pub fn skl(alpha: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    if alpha == 0.0 {
        return fkl(lp, p, lq, q, grad);
    }
    let (la, l1a) = (alpha.ln(), (-alpha).ln_1p());
    let mut v = 0.0;
    let mut mean = 0.0;
    for k in 0..p.len() {
        let lm = logaddexp(la + lp[k], l1a + lq[k]);
        let ratio = (lp[k] - lm).exp(); // p/m <= 1/α, bounded even where q underflows
        if p[k] > 0.0 {
            v += p[k] * (lp[k] - lm);
        }
        grad[k] = ratio;
        mean += q[k] * ratio;
    }
    let c = -(1.0 - alpha);
    for k in 0..p.len() {
        grad[k] = c * q[k] * (grad[k] - mean);
    }
    v
}

/// `KL(q ‖ (1−α)p + αq)`; gradient `q (h − ⟨h⟩_q)` with `h = log(q/m) − α q/m`, or `h = log(q/m)` when the
/// mixture is detached (DistiLLM-2).
pub fn srkl(alpha: f64, detach: bool, lp: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    if alpha == 0.0 {
        return rkl(lp, lq, q, grad);
    }
    let (la, l1a) = (alpha.ln(), (-alpha).ln_1p());
    let mut v = 0.0;
    let mut mean = 0.0;
    for k in 0..q.len() {
        let lm = logaddexp(l1a + lp[k], la + lq[k]);
        let log_ratio = lq[k] - lm; // q/m <= 1/α
        v += q[k] * log_ratio;
        let h = if detach {
            log_ratio
        } else {
            log_ratio - alpha * log_ratio.exp()
        };
        grad[k] = h;
        mean += q[k] * h;
    }
    for k in 0..q.len() {
        grad[k] = q[k] * (grad[k] - mean);
    }
    v
}
