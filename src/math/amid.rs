//! AMiD: a divergence between the teacher (or student) and the α-mixture assistant r of p and q.
//!
//! `r ∝ (λ p^s + (1−λ) q^s)^(1/s)` with `s = (1−α)/2` (the general power mean, also for α > 1, where the
//! released code falls back to α = 1), and the geometric mixture `p^λ q^(1−λ)` at α = 1. The student is
//! not detached inside r: the gradient flows through r as in the AMiD code.

use super::ab::{ab_partials, project_exact};
use super::divergence::{AmidDiv, AmidOrder};
use super::fastmath;
use super::kl::{kl, kl_partials};
use super::logspace::{log_softmax_inplace, logaddexp_v};
use super::simd::{map_sum, multiversion, update_sum};

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

/// Fills `lr`/`r` with the normalised α-mixture (also used by the assistant view).
///
/// At the endpoints r is q (λ = 0) or p (λ = 1) bit for bit, not renormalised: `D(p, r)` at λ = 1
/// (or `D(q, r)` at λ = 0) is then exactly 0, not ±1e-16.
#[allow(clippy::too_many_arguments)]
pub fn mixture(
    alpha: f64,
    lambda: f64,
    (lp, p): (&[f64], &[f64]),
    (lq, q): (&[f64], &[f64]),
    lr: &mut [f64],
    r: &mut [f64],
    omega: &mut [f64],
) {
    if lambda <= 0.0 || lambda >= 1.0 {
        let (lsrc, src, w) = if lambda <= 0.0 {
            (lq, q, 1.0)
        } else {
            (lp, p, 0.0)
        };
        lr.copy_from_slice(lsrc);
        r.copy_from_slice(src);
        omega.fill(w);
    } else {
        mix_interior(0.5 * (1.0 - alpha), lambda, lp, lq, lr, omega);
        log_softmax_inplace(lr, r);
    }
}

multiversion! {
    /// The unnormalised log-mixture and `ω = ∂ log r_un / ∂ log q` per class, for 0 < λ < 1.
    fn mix_interior[s](
        s_exp: f64,
        lambda: f64,
        lp: &[f64],
        lq: &[f64],
        lr: &mut [f64],
        omega: &mut [f64],
    ) {
        let (l1, ll, ll1) = (1.0 - lambda, lambda.ln(), (1.0 - lambda).ln());
        // Where p = 0: p^s = 0 for s > 0 (r follows q); p^s = inf for s <= 0 (the mean collapses).
        let (zero_shift, zero_omega) = if s_exp > 0.0 {
            (ll1 / s_exp, 1.0)
        } else {
            (f64::NEG_INFINITY, 0.0)
        };
        map_sum(s, [lp, lq], [lr, omega], #[inline(always)] |[lp, lq]| {
            let d = lp - lq;
            let sd = d * s_exp;
            let w = l1 / (fastmath::exp(sd) * lambda + l1);
            // The cumulant series where the direct form cancels (|s d| small, s → 0 included).
            let mean = lp * lambda + lq * l1;
            let var = d * d * (lambda * l1);
            let k3 = d * d * d * (lambda * l1 * (1.0 - 2.0 * lambda));
            let series = mean + var * (s_exp / 2.0) + k3 * (s_exp * s_exp / 6.0);
            let direct = logaddexp_v(lp * s_exp + ll, lq * s_exp + ll1) / s_exp;
            let l = sd.abs().lt(1e-4).select(series, direct);
            let zero = lp.eq(f64::NEG_INFINITY);
            ([zero.select(lq + zero_shift, l), zero.select(zero_omega, w)], [])
        });
    }
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
    mixture(alpha, lambda, (lp, p), (lq, q), lr, r, omega);

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
    let (g_r, g_q): (&mut [f64], Option<&[f64]>) = match order {
        AmidOrder::Pr => (d_y, None),
        AmidOrder::Qr => (d_y, Some(d_x)),
        AmidOrder::Rp => (d_x, None),
        AmidOrder::Rq => (d_x, Some(d_y)),
    };
    if let AmidDiv::Ab { alpha: a, beta: b } = div
        && (a < 0.0 || b < 0.0)
    {
        // A negative exponent: the partials reach 1e17 and more, and both softmax projections (r's,
        // then q's) would cancel down to the gradient, as αβ's did; see `ab::project_exact`.
        project_exact(lr, r, g_r);
        for k in 0..n {
            grad[k] = omega[k] * g_r[k] + g_q.map_or(0.0, |g| g[k]);
        }
        project_exact(lq, q, grad);
        return value;
    }
    chain_to_logits(g_r, g_q.unwrap_or(&[]), omega, r, q, grad);
    value
}

multiversion! {
    /// `grad = H − q ΣH` with `H = ∂L/∂log q = G_q + ω ⊙ (G_r − r ΣG_r)`; `g_q` is empty when the
    /// student enters through r only.
    fn chain_to_logits[s](g_r: &[f64], g_q: &[f64], omega: &[f64], r: &[f64], q: &[f64], grad: &mut [f64]) {
        let [sum_gr] = map_sum(s, [g_r], [], #[inline(always)] |[g]| ([], [g]));
        // g_q is absent (zero) when the student enters through r only.
        let [sum_h] = if g_q.is_empty() {
            map_sum(s, [g_r, omega, r], [&mut *grad], #[inline(always)] |[g, w, r]| {
                let h = w * (g - r * sum_gr);
                ([h], [h])
            })
        } else {
            map_sum(s, [g_r, omega, r, g_q], [&mut *grad], #[inline(always)] |[g, w, r, gq]| {
                let h = w * (g - r * sum_gr) + gq;
                ([h], [h])
            })
        };
        update_sum(s, [q], [grad], #[inline(always)] |[q], [h]| ([h - q * sum_h], []));
    }
}
