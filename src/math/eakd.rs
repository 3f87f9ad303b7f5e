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

/// The row weight and what it is made of, for reading (the gradient view, the presets' tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowWeight {
    /// `(H_t + H_t·H_s/H_ub)/2`.
    pub w: f64,
    /// The teacher's entropy at the entropy temperature `wt`.
    pub ht: f64,
    /// The student's entropy at `wt`.
    pub hs: f64,
    /// The bound `H_ub` used (`ln V` unless `hub` is given).
    pub hub: f64,
}

/// [`row_weight`] with its entropies (allocates; not for the fit loop).
pub fn row_weight_parts(wt: f64, hub: Option<f64>, lp: &[f64], lq: &[f64]) -> RowWeight {
    let n = lp.len().max(lq.len());
    let (mut l, mut x) = (vec![0.0; n], vec![0.0; n]);
    let hub = hub.unwrap_or((lq.len() as f64).ln());
    let mut h = |v: &[f64]| {
        let (l, x) = (&mut l[..v.len()], &mut x[..v.len()]);
        tempered(v, wt, l, x);
        entropy(x)
    };
    let (ht, hs) = (h(lp), h(lq));
    RowWeight {
        w: 0.5 * (ht + ht * hs / hub),
        ht,
        hs,
        hub,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_weight_parts_agree_with_the_weight_the_loss_uses() {
        let lp = [1.5, 0.2, -0.7, -2.0];
        let lq = [0.1, 0.3, -0.2, 0.4];
        let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
        for hub in [None, Some(100.0)] {
            let parts = row_weight_parts(3.0, hub, &lp, &lq);
            assert_eq!(parts.w, row_weight(3.0, hub, &lp, &lq, [&mut a, &mut b]));
            assert_eq!(parts.hub, hub.unwrap_or(4f64.ln()));
            assert!((parts.w - 0.5 * (parts.ht + parts.ht * parts.hs / parts.hub)).abs() < 1e-15);
        }
    }
}
