//! The AKL head as a per-row teacher threshold, computed on the CPU from the same f64 probabilities
//! as the reference engine.
//!
//! The reference rule (`math::akl`): sort p descending, ties by index; head = top-1 ∪ {cumulative mass
//! ≤ μ}. Its head is a prefix of that order, so it is `{k : u_k > thr} ∪ {k : u_k = thr, k ≤ kcut}`
//! where `thr` is the teacher logit of the last head class and `kcut` its index. The kernel compares
//! raw logits, so there is no rounding in the test, and ties (equal logits, hence equal
//! probabilities) split by index exactly as in the reference. The one case that can differ: two
//! different logits whose f64 probabilities round to the same value (logits within ~1e-16 of each
//! other); the reference orders those by index, the threshold by logit.
//!
//! Only the head needs ordering: select the top K classes in O(V), sort those, replay the
//! reference's cumulative sum, and grow K while the whole prefix is still head.

use crate::math::LogDist;
use std::cmp::Ordering;

/// `(thr, kcut)` for one teacher row (validated: finite or -inf logits, at least one finite).
pub(crate) fn head_threshold(row: &[f32], mu: f64) -> (f32, u32) {
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
    use crate::math::akl::head_mask;

    fn mask_from(row: &[f32], thr: f32, kcut: u32) -> Vec<bool> {
        row.iter()
            .enumerate()
            .map(|(k, &u)| u > thr || (u == thr && k as u32 <= kcut))
            .collect()
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
            vec![5.0],
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
