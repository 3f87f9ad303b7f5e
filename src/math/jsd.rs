//! Generalized Jensen-Shannon divergence in TRL's convention.

use super::kl::{fkl, kl_term, rkl};
use super::logspace::Mixture;
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
