//! Generalized Jensen-Shannon divergence in TRL's convention.

use super::kl::{fkl, kl_term, rkl};
use super::logspace::{Mixture, logaddexp};
use super::simd::{map_sum, multiversion};

/// `β KL(p‖m) + (1−β) KL(q‖m)`, `m = βp + (1−β)q`; the endpoints are special-cased to FKL (β = 0) and
/// RKL (β = 1) as TRL does. With `norm` the interior is divided by β(1−β), which is continuous.
#[allow(clippy::too_many_arguments)]
pub fn jsd(
    beta: f64,
    norm: bool,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    lm: &mut [f64],
) -> f64 {
    if beta == 0.0 {
        return fkl(lp, p, lq, q, grad);
    }
    if beta == 1.0 {
        return rkl(lp, lq, q, grad);
    }
    if norm {
        return jsd_normalised(beta, lp, p, lq, q, grad, lm);
    }
    let scale = if norm {
        1.0 / (beta * (1.0 - beta))
    } else {
        1.0
    };
    let [kl_pm, kl_qm] = jsd_terms(
        Mixture::new(beta),
        (1.0 - beta) * scale,
        lp,
        p,
        lq,
        q,
        lm,
        grad,
    );
    scale * (beta * kl_pm + (1.0 - beta) * kl_qm)
}

/// `L = ln(1 + u)/u` and `H = 1 − L` for `u > −1`, without cancellation near `u = 0` (where `H`
/// is `u/2 − u²/3 + ...`); from `½` on, `ln(1 + u)` comes from `far` (a difference of logs, not
/// small there), since `u` itself may have overflowed.
fn ratios(u: f64, far: impl FnOnce() -> f64) -> (f64, f64) {
    let a = u.abs();
    if a < 1e-3 {
        let h = u * (0.5 - u * (1.0 / 3.0 - u * (0.25 - u * 0.2)));
        (1.0 - h, h)
    } else if a < 0.5 {
        let l = u.ln_1p();
        (l / u, (u - l) / u)
    } else {
        let l = if u.is_finite() { far() / u } else { 0.0 };
        (l, 1.0 - l)
    }
}

/// The normalised JSD, `JSD_β / (β(1−β)) = KL(p‖m)/(1−β) + KL(q‖m)/β`, exact near both ends.
/// `KL(q‖m)` is O(β²) and `log q − log m` O(β): their plain forms leave a rounding error that the
/// 1/β turns into nonsense (8e272 at β = 1e-300). With `u = β(p/q − 1)` (from `expm1`),
/// `log(m/q) = ln(1 + u)` and `Σ q u = 0`, so `KL(q‖m)/β = Σ (p − q)·H(u)` (terms ≥ 0) and the
/// gradient `q(log q − log m − KL(q‖m))/β = −(p − q)·L(u) − q·KL(q‖m)/β`: nothing is divided by β.
/// Symmetrically `KL(p‖m)/(1−β) = Σ (q − p)·H(y)`, `y = (1−β)(q/p − 1)`, plus `Σ q` over the
/// teacher's zero classes (where `Σ p y` no longer vanishes).
fn jsd_normalised(
    beta: f64,
    lp: &[f64],
    p: &[f64],
    lq: &[f64],
    q: &[f64],
    grad: &mut [f64],
    l_of_u: &mut [f64],
) -> f64 {
    let (lb, lb1) = (beta.ln(), (-beta).ln_1p());
    let (mut kl_pm, mut kl_qm) = (0.0, 0.0);
    for k in 0..p.len() {
        let lm = || logaddexp(lp[k] + lb, lq[k] + lb1);
        let u = beta * (lp[k] - lq[k]).exp_m1();
        let (l, h) = ratios(u, || lm() - lq[k]);
        kl_qm += (p[k] - q[k]) * h;
        l_of_u[k] = l;
        if p[k] == 0.0 {
            kl_pm += q[k]; // the limit of (q − p)·H(y) as p → 0
            continue;
        }
        let y = (1.0 - beta) * (lq[k] - lp[k]).exp_m1();
        let (_, h) = ratios(y, || lm() - lp[k]);
        kl_pm += (q[k] - p[k]) * h;
    }
    for k in 0..q.len() {
        grad[k] = -(p[k] - q[k]) * l_of_u[k] - q[k] * kl_qm;
    }
    kl_pm + kl_qm
}

multiversion! {
    /// `KL(p‖m)` and `KL(q‖m)`, with `log m` kept in `lm` for the gradient
    /// `grad = c q (log q − log m − KL(q‖m))`.
    #[allow(clippy::too_many_arguments)]
    fn jsd_terms[s](
        mix: Mixture,
        c: f64,
        lp: &[f64],
        p: &[f64],
        lq: &[f64],
        q: &[f64],
        lm: &mut [f64],
        grad: &mut [f64],
    ) -> [f64; 2] {
        let kls = map_sum(s, [lp, p, lq, q], [&mut *lm], #[inline(always)] |[lp, p, lq, q]| {
            let lm = mix.log(lp, p, lq, q);
            ([lm], [kl_term(lp, p, lm), kl_term(lq, q, lm)])
        });
        let kl_qm = kls[1];
        map_sum(s, [lq, q, lm], [grad], #[inline(always)] |[lq, q, lm]| {
            ([c * q * (lq - lm - kl_qm)], [])
        });
        kls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::LogDist;

    fn normalised(beta: f64, t: &[f64], z: &[f64]) -> (f64, Vec<f64>) {
        let p = LogDist::from_logits(t, true).unwrap();
        let q = LogDist::from_logits(z, false).unwrap();
        let (mut g, mut lm) = (vec![0.0; t.len()], vec![0.0; t.len()]);
        let v = jsd(beta, true, &p.logp, &p.p, &q.logp, &q.p, &mut g, &mut lm);
        (v, g)
    }

    /// Fuzzing found `jsd:beta=1e-300,norm=true` at 8e272 with a gradient of 2e275 (the rounding of
    /// `log q − log m` divided by β), then a gradient [0, 1] at β = 5e-324. Near both ends the
    /// normalised value now tends to FKL (β → 0) and RKL (β → 1), smoothly, with a gradient that
    /// sums to 0.
    #[test]
    fn the_normalised_jsd_is_exact_near_both_ends() {
        let (t, z) = ([1e-300, 0.0, -3.0], [7.8, -9.8, 0.5]);
        let p = LogDist::from_logits(&t, true).unwrap();
        let q = LogDist::from_logits(&z, false).unwrap();
        let (mut g_fkl, mut g_rkl) = (vec![0.0; 3], vec![0.0; 3]);
        let fkl = crate::math::kl::fkl(&p.logp, &p.p, &q.logp, &q.p, &mut g_fkl);
        let rkl = crate::math::kl::rkl(&p.logp, &q.logp, &q.p, &mut g_rkl);
        for (beta, limit, g_limit) in [
            (5e-324, fkl, &g_fkl),
            (1e-300, fkl, &g_fkl),
            (1e-200, fkl, &g_fkl),
            (1.0 - 1e-16, rkl, &g_rkl),
        ] {
            let (v, g) = normalised(beta, &t, &z);
            assert!(
                (v - limit).abs() <= 1e-12 * limit,
                "β = {beta}: {v} vs {limit}"
            );
            let sum: f64 = g.iter().sum();
            assert!(sum.abs() < 1e-12, "β = {beta}: {g:?}");
            for (a, b) in g.iter().zip(g_limit) {
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "β = {beta}: {g:?} vs {g_limit:?}"
                );
            }
        }
        // Approaching the end, the values converge to it instead of wandering off (the old form
        // was already 1e-5 off at β = 1e-12).
        let mut last = f64::INFINITY;
        for e in 6..=15 {
            let (v, _) = normalised(10f64.powi(-e), &t, &z);
            let gap = (v - fkl).abs();
            assert!(
                gap <= last * 1.0001 + 1e-15,
                "β = 1e-{e}: gap {gap} after {last}"
            );
            last = gap;
        }
        assert!(last < 1e-9 * fkl, "{last}");
        // A teacher with a zero class: finite near β = 1, and its share (1−β)·q counted.
        let (v, g) = normalised(1.0 - 1e-9, &[0.0, f64::NEG_INFINITY, 1.0], &z);
        assert!(
            v.is_finite() && v > 0.0 && g.iter().all(|x| x.is_finite()),
            "{v} {g:?}"
        );
    }

    /// In the interior the cancellation-free form is the plain formula.
    #[test]
    fn the_normalised_form_matches_the_plain_one_inside() {
        let (t, z) = ([0.3, -1.0, 2.0, f64::NEG_INFINITY], [0.1, 0.2, -0.7, 1.5]);
        let p = LogDist::from_logits(&t, true).unwrap();
        let q = LogDist::from_logits(&z, false).unwrap();
        for beta in [0.01, 0.3, 0.5, 0.9, 0.99] {
            let (v, g) = normalised(beta, &t, &z);
            let (mut g0, mut lm) = (vec![0.0; 4], vec![0.0; 4]);
            let v0 = jsd(beta, false, &p.logp, &p.p, &q.logp, &q.p, &mut g0, &mut lm)
                / (beta * (1.0 - beta));
            assert!((v - v0).abs() <= 1e-13 * v0, "β = {beta}: {v} vs {v0}");
            for (a, b) in g.iter().zip(&g0) {
                let b = b / (beta * (1.0 - beta));
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "β = {beta}: {g:?} vs {g0:?}"
                );
            }
        }
    }
}
