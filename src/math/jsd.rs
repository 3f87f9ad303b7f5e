//! Generalized Jensen-Shannon divergence in TRL's convention.

use super::kl::{fkl, kl_term, rkl};
use super::logspace::log_mixture;
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
    log_mixture(beta, lp, p, 1.0 - beta, lq, q, lm);
    let scale = if norm {
        1.0 / (beta * (1.0 - beta))
    } else {
        1.0
    };
    let [kl_pm, kl_qm] = jsd_kls((1.0 - beta) * scale, lp, p, lq, q, lm, grad);
    scale * (beta * kl_pm + (1.0 - beta) * kl_qm)
}

multiversion! {
    /// `KL(p‖m)` and `KL(q‖m)` given `log m`; `grad = c q (log q − log m − KL(q‖m))`.
    fn jsd_kls[s](
        c: f64,
        lp: &[f64],
        p: &[f64],
        lq: &[f64],
        q: &[f64],
        lm: &[f64],
        grad: &mut [f64],
    ) -> [f64; 2] {
        let kls = map_sum(s, [lp, p, lq, q, lm], [], #[inline(always)] |[lp, p, lq, q, lm]| {
            ([], [kl_term(lp, p, lm), kl_term(lq, q, lm)])
        });
        let kl_qm = kls[1];
        map_sum(s, [lq, q, lm], [grad], #[inline(always)] |[lq, q, lm]| {
            ([c * q * (lq - lm - kl_qm)], [])
        });
        kls
    }
}
