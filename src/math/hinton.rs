//! Hinton et al.'s distillation loss: hard-label cross-entropy plus temperature-scaled KL.

use super::kl::kl;
use super::logspace::log_softmax_inplace;

/// `(1−a) CE(label, q) + a T² KL(p^T‖q^T)`; gradient `(1−a)(q − e_label) + a T (q^T − p^T)`.
/// `a` weights the soft (KL) term. `label < q.len()` is checked by the caller.
#[allow(clippy::too_many_arguments)]
pub fn hinton(
    temperature: f64,
    a: f64,
    label: usize,
    lp: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    buf: [&mut [f64]; 4],
) -> f64 {
    let [lpt, pt, lqt, qt] = buf;
    for k in 0..q.len() {
        lpt[k] = lp[k] / temperature;
        lqt[k] = lq[k] / temperature;
    }
    log_softmax_inplace(lpt, pt);
    log_softmax_inplace(lqt, qt);
    let soft = kl(lpt, pt, lqt);
    let ce = -lq[label];
    for k in 0..q.len() {
        grad[k] = (1.0 - a) * q[k] + a * temperature * (qt[k] - pt[k]);
    }
    grad[label] -= 1.0 - a; // the hard label's −e_label
    (1.0 - a) * ce + a * temperature * temperature * soft
}
