//! TAID at a fixed interpolation t (the schedule of t is run by the fit loop).

use super::kl::fkl;
use super::logspace::log_softmax_inplace;

/// `KL(p_t‖q)` with `p_t = softmax(t log p + (1−t) stopgrad(log q))`; gradient `q − p_t`.
/// `lpt` and `pt` receive `log p_t` and `p_t`.
#[allow(clippy::too_many_arguments)]
pub fn taid(
    t: f64,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    lpt: &mut [f64],
    pt: &mut [f64],
) -> f64 {
    interpolate(t, (lp, p), (lq, q), lpt, pt);
    // KL(p_t‖q) with p_t held constant: FKL towards p_t.
    fkl(lpt, pt, lq, q, grad)
}

/// Fills `log p_t` and `p_t` (TAID's intermediate teacher). t = 0 is the student itself and t = 1
/// the teacher, copied bit for bit (renormalising would leave `KL(q‖q)` at ±1e-17, not 0).
pub fn interpolate(
    t: f64,
    (lp, p): (&[f64], &[f64]),
    (lq, q): (&[f64], &[f64]),
    lpt: &mut [f64],
    pt: &mut [f64],
) {
    if t == 0.0 || t == 1.0 {
        let (ls, s) = if t == 0.0 { (lq, q) } else { (lp, p) };
        lpt.copy_from_slice(ls);
        pt.copy_from_slice(s);
        return;
    }
    for k in 0..lq.len() {
        lpt[k] = t * lp[k] + (1.0 - t) * lq[k];
    }
    log_softmax_inplace(lpt, pt);
}
