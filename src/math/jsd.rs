//! Generalized Jensen-Shannon divergence in TRL's convention.

use super::kl::{fkl, rkl};
use super::logspace::logaddexp;

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
    let (lb, l1b) = (beta.ln(), (-beta).ln_1p());
    let mut kl_pm = 0.0;
    let mut kl_qm = 0.0;
    for k in 0..p.len() {
        let m = logaddexp(lb + lp[k], l1b + lq[k]);
        lm[k] = m;
        if p[k] > 0.0 {
            kl_pm += p[k] * (lp[k] - m);
        }
        kl_qm += q[k] * (lq[k] - m);
    }
    let scale = if norm {
        1.0 / (beta * (1.0 - beta))
    } else {
        1.0
    };
    let c = (1.0 - beta) * scale;
    for k in 0..p.len() {
        grad[k] = c * q[k] * (lq[k] - lm[k] - kl_qm);
    }
    scale * (beta * kl_pm + (1.0 - beta) * kl_qm)
}
