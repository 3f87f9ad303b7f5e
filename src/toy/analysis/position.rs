//! One position (row) of a real model's output, as the inspector draws it: the softmax of its f32
//! logits, the classes by teacher rank and the head of the metrics.

use crate::math::akl;

/// Softmax of one row of f32 logits in f64 (`-inf` gives 0), with the exact `exp` (not the fit's
/// fast one): the inspector's table prints these to four decimals.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&x| (x as f64 - max).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

/// Classes in descending teacher probability (ties by index), and how many of the first ones form
/// the head: top-1 plus cumulative mass ≤ μ, the AKL head the metrics use.
pub fn order_and_head(p: &[f64], mu: f64) -> (Vec<usize>, usize) {
    let order = akl::descending_order(p);
    let mut mask = Vec::new();
    akl::head_mask_from_order(p, &order, mu, &mut mask);
    let head = mask.iter().filter(|&&h| h).count();
    (order, head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_top1_plus_mass_up_to_mu() {
        let p = [0.1, 0.4, 0.3, 0.2];
        let (order, head) = order_and_head(&p, 0.5);
        assert_eq!(order, vec![1, 2, 3, 0]);
        assert_eq!(head, 1); // 0.4, then 0.7 > 0.5
        let (_, head) = order_and_head(&p, 0.75);
        assert_eq!(head, 2);
    }

    #[test]
    fn softmax_handles_minus_infinity() {
        let q = softmax(&[0.0, f32::NEG_INFINITY, 0.0]);
        assert_eq!(q, vec![0.5, 0.0, 0.5]);
    }
}
