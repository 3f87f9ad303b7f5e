//! AMiD: a divergence between the teacher (or student) and the α-mixture assistant r of p and q.
//!
//! `r ∝ (λ p^s + (1−λ) q^s)^(1/s)` with `s = (1−α)/2` (the general power mean, also for α > 1, where the
//! released code falls back to α = 1), and the geometric mixture `p^λ q^(1−λ)` at α = 1. The student is
//! not detached inside r: the gradient flows through r as in the AMiD code.

use super::ab::ab_partials;
use super::divergence::{AmidDiv, AmidOrder};
use super::kl::{kl, kl_partials};
use super::logspace::{log_softmax_inplace, logaddexp};

/// Buffers AMiD needs besides the gradient.
#[derive(Default)]
pub struct AmidScratch {
    pub lr: Vec<f64>,
    pub r: Vec<f64>,
    pub omega: Vec<f64>,
    pub d_x: Vec<f64>,
    pub d_y: Vec<f64>,
}

impl AmidScratch {
    fn resize(&mut self, n: usize) {
        for v in [
            &mut self.lr,
            &mut self.r,
            &mut self.omega,
            &mut self.d_x,
            &mut self.d_y,
        ] {
            v.resize(n, 0.0);
        }
    }
}

/// Log of the unnormalised mixture for one class and `ω = ∂ log r_un / ∂ log q`.
#[inline]
fn mix(alpha: f64, lambda: f64, lp: f64, lq: f64) -> (f64, f64) {
    if lambda <= 0.0 {
        return (lq, 1.0);
    }
    if lambda >= 1.0 {
        return (lp, 0.0);
    }
    let s = 0.5 * (1.0 - alpha);
    if lp == f64::NEG_INFINITY {
        // p^s = 0 for s > 0 (r follows q); p^s = inf for s <= 0 (the mean collapses to 0).
        return if s > 0.0 {
            ((1.0 - lambda).ln() / s + lq, 1.0)
        } else {
            (f64::NEG_INFINITY, 0.0)
        };
    }
    let d = lp - lq;
    if (s * d).abs() < 1e-4 {
        // (1/s) log(λ e^{s lp} + (1−λ) e^{s lq}) by its cumulant series: the direct form cancels as s → 0.
        let mean = lambda * lp + (1.0 - lambda) * lq;
        let var = lambda * (1.0 - lambda) * d * d;
        let k3 = lambda * (1.0 - lambda) * (1.0 - 2.0 * lambda) * d * d * d;
        let lr = mean + s * var / 2.0 + s * s * k3 / 6.0;
        // ω = (1−λ)/(λ e^{s d} + 1 − λ), expanded to the same order.
        let e = (s * d).exp();
        (lr, (1.0 - lambda) / (lambda * e + (1.0 - lambda)))
    } else {
        let inner = logaddexp(lambda.ln() + s * lp, (1.0 - lambda).ln() + s * lq);
        let omega = (1.0 - lambda) / (lambda * (s * d).exp() + (1.0 - lambda));
        (inner / s, omega)
    }
}

/// Fills `lr`/`r` with the normalised α-mixture (also used by the assistant view).
pub fn mixture(
    alpha: f64,
    lambda: f64,
    lp: &[f64],
    lq: &[f64],
    lr: &mut [f64],
    r: &mut [f64],
    omega: &mut [f64],
) {
    for k in 0..lp.len() {
        let (l, w) = mix(alpha, lambda, lp[k], lq[k]);
        lr[k] = l;
        omega[k] = w;
    }
    log_softmax_inplace(lr, r);
}

#[allow(clippy::too_many_arguments)]
pub fn amid(
    alpha: f64,
    lambda: f64,
    div: AmidDiv,
    order: AmidOrder,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    ws: &mut AmidScratch,
) -> f64 {
    let n = p.len();
    ws.resize(n);
    let AmidScratch {
        lr,
        r,
        omega,
        d_x,
        d_y,
    } = ws;
    mixture(alpha, lambda, lp, lq, lr, r, omega);

    // D(x‖y) with x, y chosen by `order`; partials w.r.t. log x and log y.
    let (lx, x, ly): (&[f64], &[f64], &[f64]) = match order {
        AmidOrder::Pr => (lp, p, lr),
        AmidOrder::Qr => (lq, q, lr),
        AmidOrder::Rp => (lr, r, lp),
        AmidOrder::Rq => (lr, r, lq),
    };
    let value = match div {
        AmidDiv::Fkl => {
            kl_partials(lx, x, ly, d_x, d_y);
            kl(lx, x, ly)
        }
        AmidDiv::Ab { alpha: a, beta: b } => ab_partials(a, b, lx, ly, d_x, d_y),
    };
    if !value.is_finite() {
        return value;
    }
    // Route the partials: G_r (w.r.t. log r) and the student's direct share (w.r.t. log q).
    let (g_r, g_q): (&[f64], Option<&[f64]>) = match order {
        AmidOrder::Pr => (d_y, None),
        AmidOrder::Qr => (d_y, Some(d_x)),
        AmidOrder::Rp => (d_x, None),
        AmidOrder::Rq => (d_x, Some(d_y)),
    };
    let sum_gr: f64 = g_r.iter().sum();
    // H = ∂L/∂log q = G_q + ω ⊙ (G_r − r ΣG_r); then through the student's log-softmax.
    let mut sum_h = 0.0;
    for k in 0..n {
        let h = omega[k] * (g_r[k] - r[k] * sum_gr) + g_q.map_or(0.0, |g| g[k]);
        grad[k] = h;
        sum_h += h;
    }
    for k in 0..n {
        grad[k] -= q[k] * sum_h;
    }
    value
}
