//! ToDi, token-wise divergence control (practice.md §1): per class, FKL's and RKL's terms mixed by
//! `w⁺ = σ(β log(p/q))`, `w⁻ = 1 − w⁺`, both weights detached (the ToDi code's `.detach()`).
//! At β = 1 the value equals Jeffreys (σ(d) = p/(p+q)); the gradient does not.

/// The logistic sigmoid, without overflow on either side.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `Σ w⁺ p d − w⁻ q d` with `d = log p − log q`; gradient `a − q Σ a`,
/// `a = −w⁺ p + w⁻ q (1 − d)`. Infinite where the teacher has a zero (its RKL term is).
pub fn todi(beta: f64, lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let (mut value, mut sum_a) = (0.0, 0.0);
    for k in 0..q.len() {
        if lp[k] == f64::NEG_INFINITY {
            return f64::INFINITY; // w⁻ = 1 and q·(log q − log 0) = ∞
        }
        let d = lp[k] - lq[k];
        let wp = sigmoid(beta * d);
        let wm = sigmoid(-beta * d);
        value += wp * p[k] * d - wm * q[k] * d;
        let a = -wp * p[k] + wm * q[k] * (1.0 - d);
        grad[k] = a;
        sum_a += a;
    }
    for k in 0..q.len() {
        grad[k] -= q[k] * sum_a;
    }
    value
}
