//! Total variation distance.

/// `½ Σ |p − q|`; sub-gradient `½ q (s − ⟨s⟩_q)` with `s = sign(q − p)` and `sign(0) = 0`.
pub fn tvd(p: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let mut v = 0.0;
    let mut mean_s = 0.0;
    for k in 0..p.len() {
        let d = q[k] - p[k];
        v += d.abs();
        let s = sign(d);
        grad[k] = s;
        mean_s += q[k] * s;
    }
    for k in 0..p.len() {
        grad[k] = 0.5 * q[k] * (grad[k] - mean_s);
    }
    0.5 * v
}

#[inline]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
