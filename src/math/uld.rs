//! Universal Logit Distillation (practice.md §2): the L1 distance between the teacher's and the
//! student's probabilities sorted descending, the shorter vector padded with zeros. Ranks are
//! matched, never class ids, so the two vocabularies may differ in size.

use std::cmp::Ordering;

/// Indices of `q` by descending value, ties by index (the spec's order), into `order`.
pub fn descending_into(q: &[f64], order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..q.len());
    order.sort_unstable_by(|&i, &j| q[j].total_cmp(&q[i]).then(i.cmp(&j)));
}

/// `Σ_r |Q↓_r − P↓_r|` over `L = max(V_t, V_s)` ranks; `p_desc` is the teacher sorted descending.
/// Gradient (sort order held fixed): `a − q Σ a`, `a_j = q_j sign(Q↓_{r_j} − P↓_{r_j})`, sign(0) = 0.
pub fn uld(p_desc: &[f64], q: &[f64], grad: &mut [f64], order: &mut Vec<usize>) -> f64 {
    descending_into(q, order);
    let (mut value, mut sum_a) = (0.0, 0.0);
    for (r, &j) in order.iter().enumerate() {
        let diff = q[j] - p_desc.get(r).copied().unwrap_or(0.0);
        value += diff.abs();
        let sign = match diff.partial_cmp(&0.0) {
            Some(Ordering::Greater) => 1.0,
            Some(Ordering::Less) => -1.0,
            _ => 0.0,
        };
        grad[j] = q[j] * sign;
        sum_a += grad[j];
    }
    // Teacher ranks beyond the student's vocabulary meet the student's zero padding.
    value += p_desc.iter().skip(q.len()).sum::<f64>();
    for (g, &qj) in grad.iter_mut().zip(q) {
        *g -= qj * sum_a;
    }
    value
}
