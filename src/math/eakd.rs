//! EA-KD (practice.md §7): an entropy-based row weight, detached, times Hinton's `T²·KL`.

use super::fastmath;
use super::kl::kl_term;
use super::logspace::log_softmax_fused;
use super::simd::{map_sum, multiversion};

multiversion! {
    /// `softmax(l / t)` into `lo` (log) and `o`; returns its entropy as the EA-KD code computes
    /// it, `−Σ x ln(x + 1e-10)` (its 1e-10 kept: the weight is theirs).
    fn tempered[s](l: &[f64], t: f64, lo: &mut [f64], o: &mut [f64]) -> f64 {
        let (_, [xlnx]) = log_softmax_fused(s, [l], #[inline(always)] |z| z / t, lo, o,
            // x + 1e-10 is a positive normal number.
            #[inline(always)] |_, x, _| [x * fastmath::ln_positive_normal(x + 1e-10)]);
        -xlnx
    }
}

/// `(H_t + H_t·H_s/H_ub)/2` from the two entropies; `hub` is `ln V` when not given.
fn weight(ht: f64, hs: f64, hub: Option<f64>, n_classes: usize) -> f64 {
    let hub = hub.unwrap_or((n_classes as f64).ln());
    0.5 * (ht + ht * hs / hub)
}

/// The row weight `w = (H_t + H_t·H_s/H_ub)/2`, entropies of `softmax(·/wt)`; `hub` is `ln V` when
/// not given. `buf` is scratch.
pub fn row_weight(wt: f64, hub: Option<f64>, lp: &[f64], lq: &[f64], buf: [&mut [f64]; 2]) -> f64 {
    let [l, x] = buf;
    let ht = tempered(lp, wt, l, x);
    let hs = tempered(lq, wt, l, x);
    weight(ht, hs, hub, lq.len())
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
    let mut h = |v: &[f64]| tempered(v, wt, &mut l[..v.len()], &mut x[..v.len()]);
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
    let w = if wt == temperature {
        // The entropies' softmax is the loss's (the defaults): computed once.
        let ht = tempered(lp, temperature, lpt, pt);
        let hs = tempered(lq, temperature, lqt, qt);
        weight(ht, hs, hub, lq.len())
    } else {
        let w = row_weight(wt, hub, lp, lq, [lpt, pt]);
        tempered(lp, temperature, lpt, pt);
        tempered(lq, temperature, lqt, qt);
        w
    };
    w * temperature * temperature * kl_and_grad(w * temperature, lpt, pt, lqt, qt, grad)
}

multiversion! {
    /// `KL(p^T‖q^T)`, and `c·(q^T − p^T)` into `grad`.
    fn kl_and_grad[s](c: f64, lpt: &[f64], pt: &[f64], lqt: &[f64], qt: &[f64], grad: &mut [f64]) -> f64 {
        let [kl] = map_sum(s, [lpt, pt, lqt, qt], [grad], #[inline(always)] |[lp, p, lq, q]| {
            ([(q - p) * c], [kl_term(lp, p, lq)])
        });
        kl
    }
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

    /// The scalar loops the kernels replaced (libm `exp`/`ln`, one class at a time).
    fn scalar(t: f64, wt: f64, hub: Option<f64>, lp: &[f64], lq: &[f64]) -> (f64, Vec<f64>) {
        use crate::math::logspace::log_softmax_inplace;
        let entropy = |x: &[f64]| -x.iter().map(|&x| x * (x + 1e-10).ln()).sum::<f64>();
        let tempered = |l: &[f64], t: f64| {
            let mut lo: Vec<f64> = l.iter().map(|x| x / t).collect();
            let mut o = vec![0.0; l.len()];
            log_softmax_inplace(&mut lo, &mut o);
            (lo, o)
        };
        let hub = hub.unwrap_or((lq.len() as f64).ln());
        let (ht, hs) = (entropy(&tempered(lp, wt).1), entropy(&tempered(lq, wt).1));
        let w = 0.5 * (ht + ht * hs / hub);
        let ((lpt, pt), (lqt, qt)) = (tempered(lp, t), tempered(lq, t));
        let mut kl = 0.0;
        for k in 0..pt.len() {
            if pt[k] > 0.0 {
                kl += pt[k] * (lpt[k] - lqt[k]);
            }
        }
        let g = (0..qt.len()).map(|k| w * t * (qt[k] - pt[k])).collect();
        (w * t * t * kl, g)
    }

    /// The vectorised kernels agree with the scalar loops they replaced (ordinary, extreme and
    /// peaked rows, teacher zeros; the entropies at the loss's temperature and at another).
    #[test]
    fn the_vector_kernels_match_the_scalar_loop() {
        use crate::math::reference_rows::{assert_close, rows};
        for (i, (p, q)) in rows().iter().enumerate() {
            let n = p.len();
            for (t, wt, hub) in [
                (3.0, 3.0, None),
                (1.0, 3.0, Some(100.0)),
                (0.01, 50.0, None),
                (100.0, 0.2, None),
            ] {
                let (want, want_g) = scalar(t, wt, hub, &p.logp, &q.logp);
                let mut g = vec![0.0; n];
                let [mut b0, mut b1, mut b2, mut b3] = std::array::from_fn(|_| vec![0.0; n]);
                let bufs = [&mut b0[..], &mut b1, &mut b2, &mut b3];
                let got = eakd(t, wt, hub, &p.logp, &q.logp, &mut g, bufs);
                let what = format!("row {i}, T = {t}, wt = {wt}");
                // w·T²·(a sum of O(1) terms that cancel to a small KL as q → p).
                let w = row_weight_parts(wt, hub, &p.logp, &q.logp).w;
                let tol = 1e-12 * want.abs().max(w * t * t);
                assert!(
                    (got - want).abs() <= tol,
                    "{what}: value {got:e} vs {want:e}"
                );
                assert_close(&format!("{what}: gradient"), &g, &want_g, 1e-12);
            }
        }
    }
}
