//! Total variation distance.

use super::simd::{map_sum, multiversion};

multiversion! {
    /// `½ Σ |p − q|`; sub-gradient `½ q (s − ⟨s⟩_q)` with `s = sign(q − p)` and `sign(0) = 0`.
    pub fn tvd[s](p: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
        let [v, mean_s] = map_sum(s, [p, q], [&mut *grad], #[inline(always)] |[p, q]| {
            let d = q - p;
            let sign = d.gt(0.0).select(1.0, d.lt(0.0).select(-1.0, 0.0));
            ([sign], [d.abs(), q * sign])
        });
        for (g, &qk) in grad.iter_mut().zip(q) {
            *g = 0.5 * qk * (*g - mean_s);
        }
        0.5 * v
    }
}
