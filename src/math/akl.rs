//! Adaptive KL exactly as the authors' `AKL.py`: head = top-1 ∪ {cumulative teacher mass ≤ μ}, the
//! crossing class in the tail, L1 gaps, detached weights.

use super::LogDist;
use super::divergence::AklConvention;
use super::kl::kl_term;
use super::simd::{map_sum, multiversion};
use std::cmp::Ordering;

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

/// The head of the DSKD/ToDi convention (practice.md §8): sort p ascending (ties: lower index
/// first), accumulate it in that order; the classes whose cumulative mass is ≤ μ are the tail,
/// the rest (from the crossing class on) the head. No top-1 rule: with μ < min p the tail is empty.
pub fn dskd_head_mask(p: &[f64], mu: f64) -> Vec<bool> {
    let mut mask = vec![true; p.len()];
    if let Some(last) = dskd_last_tail(p, mu) {
        let order = ascending_order(p);
        for &k in order.iter().take_while(|&&k| k != last) {
            mask[k] = false;
        }
        mask[last] = false;
    }
    mask
}

/// Classes by ascending probability, ties by index.
fn ascending_order(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]).then(i.cmp(&j)));
    idx
}

/// The last tail class of the DSKD order, if the tail is not empty.
fn dskd_last_tail(p: &[f64], mu: f64) -> Option<usize> {
    let mut csum = 0.0;
    let mut last = None;
    for k in ascending_order(p) {
        csum += p[k];
        if csum > mu {
            break; // cumulative mass only grows: everything after is head
        }
        last = Some(k);
    }
    last
}

/// The head mask of either convention.
pub fn head_mask_for(p: &[f64], mu: f64, convention: AklConvention) -> Vec<bool> {
    match convention {
        AklConvention::Akl => head_mask(p, mu),
        AklConvention::Dskd => dskd_head_mask(p, mu),
    }
}

/// The DSKD head as a per-row teacher threshold `(thr, kcut)` for the GPU kernel: the tail is
/// `{u < thr} ∪ {u = thr, k ≤ kcut}` (a prefix of the ascending order), the head the rest;
/// `(−inf, u32::MAX)` when the tail is empty. `row` is validated as for [`head_threshold`].
pub fn dskd_threshold(row: &[f32], mu: f64) -> (f32, u32) {
    let logits: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
    let Ok(dist) = LogDist::from_logits(&logits, true) else {
        return (f32::NEG_INFINITY, u32::MAX);
    };
    match dskd_last_tail(&dist.p, mu) {
        Some(last) => (row[last], last as u32),
        None => (f32::NEG_INFINITY, u32::MAX),
    }
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
            // q = 0 masks the reverse term (0·inf where the teacher has a zero, see kl::rkl).
            ([wh * (q - p) + q.gt(0.0).select(wt * q * (lq - lp - r), 0.0)], [])
        });
        wh * f + wt * r
    }
}

/// The AKL head as a per-row teacher threshold `(thr, kcut)`, computed from the same f64
/// probabilities as the reference engine; the CPU trainer and the GPU kernels use it alike.
///
/// The reference rule ([`head_mask`]): sort p descending, ties by index; head = top-1 ∪
/// {cumulative mass ≤ μ}. Its head is a prefix of that order, so it is `{k : u_k > thr} ∪ {k : u_k = thr, k ≤ kcut}`
/// where `thr` is the teacher logit of the last head class and `kcut` its index. The kernel compares
/// raw logits, so there is no rounding in the test, and ties (equal logits, hence equal
/// probabilities) split by index exactly as in the reference. The one case that can differ: two
/// different logits whose f64 probabilities round to the same value (logits within ~1e-16 of each
/// other); the reference orders those by index, the threshold by logit.
///
/// Only the head needs ordering: select the top K classes in O(V), sort those, replay the
/// reference's cumulative sum, and grow K while the whole prefix is still head.
///
/// `row` is validated: finite or -inf logits, at least one finite.
pub fn head_threshold(row: &[f32], mu: f64) -> (f32, u32) {
    let logits: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
    let Ok(dist) = LogDist::from_logits(&logits, true) else {
        // Unreachable after validation; an empty head keeps the kernel defined.
        return (f32::INFINITY, 0);
    };
    let p = &dist.p;
    let n = p.len();
    let by_mass = |i: &u32, j: &u32| -> Ordering {
        let (i, j) = (*i as usize, *j as usize);
        p[j].total_cmp(&p[i]).then(i.cmp(&j))
    };
    let mut idx: Vec<u32> = Vec::with_capacity(n);
    let mut k = n.min(64);
    loop {
        idx.clear();
        idx.extend(0..n as u32);
        if k < n {
            idx.select_nth_unstable_by(k - 1, by_mass);
            idx.truncate(k);
        }
        idx.sort_unstable_by(by_mass);
        let mut csum = 0.0;
        let mut last = idx[0];
        let mut closed = false;
        for (rank, &i) in idx.iter().enumerate() {
            csum += p[i as usize];
            if rank == 0 || csum <= mu {
                last = i;
            } else {
                closed = true;
                break;
            }
        }
        if closed || k == n {
            return (row[last as usize], last);
        }
        k = (k * 4).min(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_from(row: &[f32], thr: f32, kcut: u32) -> Vec<bool> {
        row.iter()
            .enumerate()
            .map(|(k, &u)| u > thr || (u == thr && k as u32 <= kcut))
            .collect()
    }

    /// practice.md §8 on vector A: dskd's head is {0, 1, 2}, AKL.py's {0, 1}; the tail is empty
    /// below the smallest mass (no top-1 rule), and the DSKD threshold gives the same split.
    #[test]
    fn dskd_head_differs_from_akl_at_the_crossing_class() {
        let u = [1.0, 0.9, 0.8, 0.7, 0.0, -1.0];
        let d = LogDist::from_logits(&u, false).unwrap();
        let dskd = dskd_head_mask(&d.p, 0.5);
        assert_eq!(dskd, [true, true, true, false, false, false]);
        assert_eq!(
            head_mask(&d.p, 0.5),
            [true, true, false, false, false, false]
        );
        assert_eq!(dskd_head_mask(&d.p, 0.0), [true; 6]);
        let row: Vec<f32> = u.iter().map(|&x| x as f32).collect();
        for mu in [0.0, 0.03, 0.2, 0.5, 0.9, 0.999] {
            let (thr, kcut) = dskd_threshold(&row, mu);
            let head: Vec<bool> = (row.iter().enumerate())
                .map(|(k, &x)| x > thr || (x == thr && k as u32 > kcut))
                .collect();
            assert_eq!(head, dskd_head_mask(&d.p, mu), "mu={mu}");
        }
        // Ties: the lower index comes first in the ascending order, so it is tail first.
        let p = [0.25, 0.25, 0.25, 0.25];
        assert_eq!(dskd_head_mask(&p, 0.3), [false, true, true, true]);
    }

    #[test]
    fn reproduces_the_reference_mask() {
        let rows: Vec<Vec<f32>> = vec![
            vec![1.0, 0.9, 0.8, 0.7, 0.0, -1.0],
            vec![0.0; 1000],
            vec![3.0, 3.0, 1.0, 1.0, 1.0, f32::NEG_INFINITY, 0.0],
            (0..5000)
                .map(|i| ((i * 7919) % 997) as f32 * 0.01)
                .collect(),
            vec![5.0, -1.0], // the fewest classes a distribution has
        ];
        for row in &rows {
            for mu in [0.0, 0.1, 0.5, 0.9, 0.999] {
                let (thr, kcut) = head_threshold(row, mu);
                let r64: Vec<f64> = row.iter().map(|&x| x as f64).collect();
                let d = LogDist::from_logits(&r64, true).unwrap();
                assert_eq!(
                    mask_from(row, thr, kcut),
                    head_mask(&d.p, mu),
                    "mu={mu} len={}",
                    row.len()
                );
            }
        }
    }
}
