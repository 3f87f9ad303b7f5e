//! EA-KD (practice.md §7): an entropy-based row weight, detached, times Hinton's `T²·KL`.

use super::kl::kl;
use super::logspace::log_softmax_inplace;

/// The EA-KD code's entropy `−Σ x ln(x + 1e-10)` (its 1e-10 kept: the weight is theirs).
fn entropy(x: &[f64]) -> f64 {
    -x.iter().map(|&x| x * (x + 1e-10).ln()).sum::<f64>()
}

/// `softmax(l / t)` into `lo` (log) and `o`.
fn tempered(l: &[f64], t: f64, lo: &mut [f64], o: &mut [f64]) {
    for (y, x) in lo.iter_mut().zip(l) {
        *y = x / t;
    }
    log_softmax_inplace(lo, o);
}

/// The row weight `w = (H_t + H_t·H_s/H_ub)/2`, entropies of `softmax(·/wt)`; `hub` is `ln V` when
/// not given. `buf` is scratch.
pub fn row_weight(wt: f64, hub: Option<f64>, lp: &[f64], lq: &[f64], buf: [&mut [f64]; 2]) -> f64 {
    let [l, x] = buf;
    let hub = hub.unwrap_or((lq.len() as f64).ln());
    tempered(lp, wt, l, x);
    let ht = entropy(x);
    tempered(lq, wt, l, x);
    let hs = entropy(x);
    0.5 * (ht + ht * hs / hub)
}

/// `w·T²·KL(p^T‖q^T)`; gradient `w·T·(q^T − p^T)` (w held constant).
#[allow(clippy::too_many_arguments)]
pub fn eakd(
    temperature: f64,
    wt: f64,
    hub: Option<f64>,
    lp: &[f64],
    lq: &[f64],
    grad: &mut [f64],
    buf: [&mut [f64]; 4],
) -> f64 {
    let [lpt, pt, lqt, qt] = buf;
    let w = row_weight(wt, hub, lp, lq, [lpt, pt]);
    tempered(lp, temperature, lpt, pt);
    tempered(lq, temperature, lqt, qt);
    let soft = kl(lpt, pt, lqt);
    for k in 0..grad.len() {
        grad[k] = w * temperature * (qt[k] - pt[k]);
    }
    w * temperature * temperature * soft
}
