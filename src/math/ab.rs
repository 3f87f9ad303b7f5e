//! The αβ-divergence (ABKD) in the cancellation-free form of the spec (§7.1), valid on every limit line.

use super::logspace::{exprel, exprel_divided};

/// One class's term of `D_AB^(a,b)(x‖y)` and its partials w.r.t. `log x` and `log y`.
///
/// `term = exp(a lx + b ly) d² Φ(b d, −a d)` with `d = lx − ly`;
/// `∂/∂ly = −exp((a+b) ly) d E(a d)` (that is `y^b (y^a − x^a)/a`), and `∂/∂lx` by the symmetry
/// `D^(a,b)(x‖y) = D^(b,a)(y‖x)`. Zero masses are handled by their limits; `+inf` where the
/// divergence is infinite.
#[inline]
pub fn ab_term(a: f64, b: f64, lx: f64, ly: f64) -> (f64, f64, f64) {
    let ninf = f64::NEG_INFINITY;
    if lx == ninf || ly == ninf {
        return ab_term_with_zero(a, b, lx, ly);
    }
    let d = lx - ly;
    let term = (a * lx + b * ly).exp() * d * d * exprel_divided(b * d, -a * d);
    let d_ly = -((a + b) * ly).exp() * d * exprel(a * d);
    let d_lx = ((a + b) * lx).exp() * d * exprel(-b * d);
    (term, d_lx, d_ly)
}

/// The limits of [`ab_term`] when `x = 0` or `y = 0`: `y^(a+b)/(a(a+b))` needs `a > 0` and `a + b > 0`
/// (symmetrically for `y = 0`), otherwise the term is infinite.
fn ab_term_with_zero(a: f64, b: f64, lx: f64, ly: f64) -> (f64, f64, f64) {
    let ninf = f64::NEG_INFINITY;
    if lx == ninf && ly == ninf {
        return (0.0, 0.0, 0.0);
    }
    if lx == ninf {
        if a > 0.0 && a + b > 0.0 {
            let yab = ((a + b) * ly).exp();
            (yab / (a * (a + b)), 0.0, yab / a)
        } else {
            (f64::INFINITY, 0.0, 0.0)
        }
    } else if b > 0.0 && a + b > 0.0 {
        let xab = ((a + b) * lx).exp();
        (xab / (b * (a + b)), xab / b, 0.0)
    } else {
        (f64::INFINITY, 0.0, 0.0)
    }
}

/// `D_AB^(a,b)(p‖q)` and its gradient w.r.t. the student logits: `w − q Σw` with `w = ∂/∂log q`.
pub fn ab(a: f64, b: f64, lp: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let mut v = 0.0;
    let mut sum_w = 0.0;
    for k in 0..q.len() {
        let (term, _, w) = ab_term(a, b, lp[k], lq[k]);
        v += term;
        grad[k] = w;
        sum_w += w;
    }
    if v.is_finite() {
        for k in 0..q.len() {
            grad[k] -= q[k] * sum_w;
        }
    }
    v
}

/// `D_AB` between two log-distributions with both partial vectors (used by AMiD).
pub fn ab_partials(
    a: f64,
    b: f64,
    lx: &[f64],
    ly: &[f64],
    d_lx: &mut [f64],
    d_ly: &mut [f64],
) -> f64 {
    let mut v = 0.0;
    for k in 0..lx.len() {
        let (term, gx, gy) = ab_term(a, b, lx[k], ly[k]);
        v += term;
        d_lx[k] = gx;
        d_ly[k] = gy;
    }
    v
}
