//! Adaptive KL exactly as the authors' `AKL.py`: head = top-1 ∪ {cumulative teacher mass ≤ μ}, the
//! crossing class in the tail, L1 gaps, detached weights.

use super::kl::kl_term;
use super::simd::{map_sum, multiversion};

/// Teacher classes by descending probability, ties broken by index (a stable sort).
pub fn descending_order(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&i, &j| p[j].total_cmp(&p[i]).then(i.cmp(&j)));
    idx
}

/// Marks the head classes given the descending order.
pub fn head_mask_from_order(p: &[f64], order: &[usize], mu: f64, mask: &mut Vec<bool>) {
    mask.clear();
    mask.resize(p.len(), false);
    let mut csum = 0.0;
    for (rank, &k) in order.iter().enumerate() {
        csum += p[k];
        if rank == 0 || csum <= mu {
            mask[k] = true;
        } else {
            break; // cumulative mass only grows: everything after is tail
        }
    }
}

/// The head set for `mu` (convenience for callers without a cached order).
pub fn head_mask(p: &[f64], mu: f64) -> Vec<bool> {
    let mut mask = Vec::new();
    head_mask_from_order(p, &descending_order(p), mu, &mut mask);
    mask
}

/// L1 gaps `Σ_head |p − q|` and `Σ_tail |p − q|`.
pub fn gaps(p: &[f64], q: &[f64], head: &[bool]) -> (f64, f64) {
    let (mut gh, mut gt) = (0.0, 0.0);
    for k in 0..p.len() {
        let e = (p[k] - q[k]).abs();
        if head[k] {
            gh += e;
        } else {
            gt += e;
        }
    }
    (gh, gt)
}

/// `(w_head, w_tail)`; (½, ½) when p = q, where the reference code would divide 0 by 0.
pub fn weights(g_head: f64, g_tail: f64) -> (f64, f64) {
    let s = g_head + g_tail;
    if s > 0.0 {
        (g_head / s, g_tail / s)
    } else {
        (0.5, 0.5)
    }
}

multiversion! {
    /// `w_head KL(p‖q) + w_tail KL(q‖p)`, gradient `w_head (q − p) + w_tail q (log q − log p − RKL)`.
    /// `head` is the head mask as weights: 1 for head classes, 0 for tail classes.
    pub fn akl[s](head: &[f64], lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let [gh, gt, f, r] = map_sum(s, [head, lp, p, lq, q], [], #[inline(always)] |[h, lp, p, lq, q]| {
            let e = (p - q).abs();
            ([], [h * e, (1.0 - h) * e, kl_term(lp, p, lq), kl_term(lq, q, lp)])
        });
        let (wh, wt) = weights(gh, gt);
        let r = if wt > 0.0 { r } else { 0.0 };
        if !r.is_finite() {
            return f64::INFINITY;
        }
        map_sum(s, [lp, p, lq, q], [grad], #[inline(always)] |[lp, p, lq, q]| {
            ([wh * (q - p) + wt * q * (lq - lp - r)], [])
        });
        wh * f + wt * r
    }
}
