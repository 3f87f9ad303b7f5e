//! Forward and reverse KL, and the KL building block the other families reuse.

/// `KL(x‖y) = Σ x (log x − log y)`, with `0·log 0 = 0`; `+inf` where `x > 0` and `y = 0`.
#[inline]
pub fn kl(lx: &[f64], x: &[f64], ly: &[f64]) -> f64 {
    let mut v = 0.0;
    for ((&a, &pa), &b) in lx.iter().zip(x).zip(ly) {
        if pa > 0.0 {
            v += pa * (a - b);
        }
    }
    v
}

/// Forward KL(p‖q); gradient `q − p`.
pub fn fkl(lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    for ((g, &qk), &pk) in grad.iter_mut().zip(q).zip(p) {
        *g = qk - pk;
    }
    kl(lp, p, lq)
}

/// Reverse KL(q‖p); gradient `q (log q − log p − KL)`. Infinite where the teacher has zeros.
pub fn rkl(lp: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let v = kl(lq, q, lp);
    if v.is_finite() {
        for (((g, &qk), &a), &b) in grad.iter_mut().zip(q).zip(lq).zip(lp) {
            *g = qk * (a - b - v);
        }
    }
    v
}

/// Partial derivatives of `KL(x‖y)` w.r.t. `log x` and `log y` (x, y treated as free positive vectors);
/// the softmax projection is applied by the caller.
pub fn kl_partials(lx: &[f64], x: &[f64], ly: &[f64], d_lx: &mut [f64], d_ly: &mut [f64]) {
    for k in 0..x.len() {
        if x[k] > 0.0 {
            d_lx[k] = x[k] * (lx[k] - ly[k]);
            d_ly[k] = -x[k];
        } else {
            d_lx[k] = 0.0;
            d_ly[k] = 0.0;
        }
    }
}
