//! BiLD, bi-directional logit difference (practice.md §3): the leader's top-k classes, all their
//! k(k−1)/2 pairwise logit differences at temperature T on each side, softmaxed over the pairs, and
//! KL(teacher's ‖ student's). `lead=both` is t-LD + s-LD, what BiLD's trainer optimises.

use super::divergence::BildLead;
use std::cmp::Ordering;

/// BiLD's scripts' k (`BILD_K=8`); V when V < 8.
pub const DEFAULT_K: usize = 8;

/// Reusable buffers (a fit allocates nothing per step).
#[derive(Default)]
pub struct BildScratch {
    idx: Vec<usize>,
    top: Vec<usize>,
    dt: Vec<f64>,
    ds: Vec<f64>,
}

/// The `k` indices of the largest `l`, in decreasing order; equal values: lower index first.
///
/// Seeded with the k entries around the largest (the head itself on a smooth row, such as a
/// Gaussian's or a sorted Zipf teacher's), then one pass that compares every other entry with
/// the k-th best so far and inserts the rare one that ranks before it. The order `by` is total
/// (indices break ties), so the result is the same as a selection's. `idx` is scratch.
pub fn top_k(l: &[f64], k: usize, idx: &mut Vec<usize>, out: &mut Vec<usize>) {
    let by = |&i: &usize, &j: &usize| -> Ordering { l[j].total_cmp(&l[i]).then(i.cmp(&j)) };
    let (n, k) = (l.len(), k.min(l.len()));
    out.clear();
    idx.clear();
    if k == 0 {
        return;
    }
    // Where the seed goes only decides the speed: a plain comparison will do.
    let first = (1..n).fold(0, |b, i| if l[i] > l[b] { i } else { b });
    let start = first.saturating_sub(k / 2).min(n - k);
    out.extend(start..start + k);
    out.sort_unstable_by(by);
    let mut kth = l[out[k - 1]];
    for i in (0..start).chain(start + k..n) {
        // Strictly below the k-th value (plain `<`, exact for non-NaN): out, without `by`.
        if l[i] < kth || by(&i, &out[k - 1]).is_ge() {
            continue;
        }
        let at = out.partition_point(|j| by(j, &i).is_lt());
        out.pop();
        out.insert(at, i);
        kth = l[out[k - 1]];
    }
}

/// Log-softmax in place; returns nothing (the max keeps it finite).
fn log_softmax(x: &mut [f64]) {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = x.iter().map(|&v| (v - m).exp()).sum();
    let lse = m + s.ln();
    for v in x.iter_mut() {
        *v -= lse;
    }
}

/// One direction: LD over the pairs of `top`, its gradient added to `grad`.
fn ld(t: f64, top: &[usize], lp: &[f64], lq: &[f64], grad: &mut [f64], s: &mut BildScratch) -> f64 {
    // A teacher zero (log p = −inf) becomes a very negative finite logit, so that the differences
    // of two zeros are 0, not NaN.
    let a = |i: usize| (lp[top[i]] / t).max(-1e300);
    let b = |i: usize| lq[top[i]] / t;
    let k = top.len();
    s.dt.clear();
    s.ds.clear();
    for i in 0..k {
        for j in i + 1..k {
            s.dt.push(a(i) - a(j));
            s.ds.push(b(i) - b(j));
        }
    }
    if s.dt.is_empty() {
        return 0.0;
    }
    log_softmax(&mut s.dt);
    log_softmax(&mut s.ds);
    let mut value = 0.0;
    let mut m = 0;
    for i in 0..k {
        for j in i + 1..k {
            let (lpp, lqq) = (s.dt[m], s.ds[m]);
            let pp = lpp.exp();
            if pp > 0.0 {
                value += pp * (lpp - lqq);
            }
            // dKL/dΔs = Q − P; Δs_(i,j) = b_i − b_j.
            let g = (lqq.exp() - pp) / t;
            grad[top[i]] += g;
            grad[top[j]] -= g;
            m += 1;
        }
    }
    value
}

/// BiLD's value and gradient (classes outside the top-k get 0).
pub fn bild(
    k: usize,
    t: f64,
    lead: BildLead,
    lp: &[f64],
    lq: &[f64],
    grad: &mut [f64],
    s: &mut BildScratch,
) -> f64 {
    grad.fill(0.0);
    let mut value = 0.0;
    let mut top = std::mem::take(&mut s.top);
    if matches!(lead, BildLead::Both | BildLead::Teacher) {
        top_k(lp, k, &mut s.idx, &mut top);
        value += ld(t, &top, lp, lq, grad, s);
    }
    if matches!(lead, BildLead::Both | BildLead::Student) {
        top_k(lq, k, &mut s.idx, &mut top);
        value += ld(t, &top, lp, lq, grad, s);
    }
    s.top = top;
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass selection gives what sorting every index does, ties and `-inf` included.
    #[test]
    fn top_k_is_the_head_of_the_full_order() {
        let mut rng = crate::math::rng::Rng::new(8);
        let (mut idx, mut out) = (Vec::new(), Vec::new());
        for n in [1, 2, 3, 8, 9, 40, 1000] {
            for shape in 0..5 {
                // Random, with ties and -inf; then smooth rows whose peak is at the start, the
                // middle and the end (the seed window clamped at both ends).
                let l: Vec<f64> = (0..n)
                    .map(|i| match (shape, (rng.uniform() * 5.0) as u32) {
                        (0 | 1, 0) => f64::NEG_INFINITY,
                        (1, r) => r as f64,
                        (0, _) => rng.normal(),
                        (s, _) => -(i as f64 - (s - 2) as f64 * n as f64 / 2.0).powi(2),
                    })
                    .collect();
                let ties = shape == 1;
                let mut all: Vec<usize> = (0..n).collect();
                all.sort_by(|&i, &j| l[j].total_cmp(&l[i]).then(i.cmp(&j)));
                for k in [0, 1, 2, 8, n] {
                    top_k(&l, k, &mut idx, &mut out);
                    assert_eq!(out, all[..k.min(n)], "n = {n}, k = {k}, ties {ties}");
                }
            }
        }
    }
}
