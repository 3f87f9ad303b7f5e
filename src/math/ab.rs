//! The αβ-divergence (ABKD) in the cancellation-free form of the spec (§7.1), valid on every limit line.
//!
//! Per class, with `d = lx − ly` and the three exponents `A = a·lx + b·ly`, `B = (a+b)·lx = A + b·d`,
//! `C = (a+b)·ly = A − a·d`, everything is a divided difference of `exp` at these nodes:
//!
//! ```text
//! term = d² · e[A, B, C]          (= exp(a lx + b ly) d² Φ(b d, −a d) of the spec)
//! ∂term/∂lx =  d · e[A, B]        (= x^a (x^b − y^b)/b)
//! ∂term/∂ly = −d · e[A, C]        (= y^b (y^a − x^a)/a)
//! ```
//!
//! Divided differences of `exp` are bounded by `exp` of their largest node, so scaling by that node
//! keeps every intermediate finite wherever the result is (a class whose probability underflows while
//! its log-probability is finite gives no `0·inf`).

use super::fastmath;
use super::logspace::exprel;
use super::simd::{Simd, V, map_sum, multiversion};

/// Below this spread of the nodes `e[A, B, C]` is summed as a Taylor series (the divided-difference
/// quotient would cancel); above it the quotient loses at most a few bits.
const SERIES_SPREAD: f64 = 0.5;
/// Series terms: the first omitted one is below 1e-18 relative for a spread up to [`SERIES_SPREAD`].
const SERIES_TERMS: usize = 16;

/// One class's term of `D_AB^(a,b)(x‖y)` and its partials w.r.t. `log x` and `log y`.
///
/// Zero masses are handled by their limits; `+inf` where the divergence is infinite.
pub fn ab_term(a: f64, b: f64, lx: f64, ly: f64) -> (f64, f64, f64) {
    let ninf = f64::NEG_INFINITY;
    if lx == ninf || ly == ninf {
        return ab_term_with_zero(a, b, lx, ly);
    }
    let d = lx - ly;
    if d == 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let base = a * lx + b * ly;
    // Node offsets from A: B − A = b d, C − A = −a d (computed from d, not by subtracting nodes).
    let (ob, oc) = (b * d, -a * d);
    let d_lx = d * times_exp(base + ob.max(0.0), exprel(-ob.abs()));
    let d_ly = -d * times_exp(base + oc.max(0.0), exprel(-oc.abs()));
    let (top, r) = exp_dd2_scaled(0.0, ob, oc);
    let term = d.abs() * times_exp(base + top, d.abs() * r);
    (term, d_lx, d_ly)
}

/// `e^s · f` for `f > 0`, directly while `e^s` is a comfortably normal number, else as `e^(s + ln f)` so
/// that a huge scale times a tiny factor neither overflows nor underflows first.
fn times_exp(s: f64, f: f64) -> f64 {
    if s.abs() < 700.0 {
        s.exp() * f
    } else {
        (s + f.ln()).exp()
    }
}

/// `e[t0, t1, t2]` of `exp` as `(m, r)` with `e[t0, t1, t2] = e^m · r`, `m` the largest node and
/// `r` in (0, ½].
fn exp_dd2_scaled(t0: f64, t1: f64, t2: f64) -> (f64, f64) {
    let mut t = [t0, t1, t2];
    t.sort_by(|x, y| y.total_cmp(x));
    let (u1, u2) = (t[1] - t[0], t[2] - t[0]); // t[0] ≥ t[1] ≥ t[2], so 0 ≥ u1 ≥ u2
    let r = if -u2 <= SERIES_SPREAD {
        // e[0, u1, u2] = Σ h_n(u1, u2) / (n+2)!, h_n the complete homogeneous polynomial.
        let (mut h, mut u2n, mut fact, mut sum) = (1.0, 1.0, 2.0, 0.5);
        for n in 1..SERIES_TERMS {
            u2n *= u2;
            h = u1 * h + u2n;
            fact *= (n + 2) as f64;
            sum += h / fact;
        }
        sum
    } else {
        // (e[0, u1] − e[u1, u2]) / (0 − u2), both first differences in (0, 1].
        (exprel(u1) - u1.exp() * exprel(u2 - u1)) / -u2
    };
    (t[0], r)
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

/// The vectorised kernel's constants for exponents `a, b ≥ 0` with `a + b > 0`, where every node is
/// `≤ 0` for log-probabilities and nothing can overflow.
#[derive(Clone, Copy)]
struct Fast {
    a: f64,
    b: f64,
    inv_ab: f64,
    /// `1/a` and `1/b`, or 0 on the limit lines a = 0, b = 0 (where the series is used).
    inv_a: f64,
    inv_b: f64,
    /// `|d|` up to which `e[A, B, C] = e^A Σ c_n dⁿ` is used.
    series_d: f64,
    /// `c_n = h_n(b, −a) / (n+2)!`: `e[A, B, C] = e^A Σ c_n dⁿ`, one multiply-add per term.
    coef: [f64; SERIES_TERMS],
    /// `bⁿ/(n+1)!` and `(−a)ⁿ/(n+1)!`: `E(b d)` and `E(−a d)` as series in `d`.
    coef_b: [f64; SERIES_TERMS],
    coef_a: [f64; SERIES_TERMS],
}

impl Fast {
    fn new(a: f64, b: f64) -> Option<Self> {
        if !(a >= 0.0 && b >= 0.0 && a + b > 0.0) {
            return None;
        }
        let mut coef = [0.0; SERIES_TERMS];
        let (mut h, mut an, mut fact) = (1.0, 1.0, 2.0);
        coef[0] = 0.5;
        for (n, c) in coef.iter_mut().enumerate().skip(1) {
            an *= -a;
            h = b * h + an;
            fact *= (n + 2) as f64;
            *c = h / fact;
        }
        Some(Fast {
            a,
            b,
            inv_ab: 1.0 / (a + b),
            inv_a: if a > 0.0 { 1.0 / a } else { 0.0 },
            inv_b: if b > 0.0 { 1.0 / b } else { 0.0 },
            series_d: SERIES_SPREAD / a.max(b),
            coef,
            coef_b: exprel_series(b),
            coef_a: exprel_series(-a),
        })
    }

    /// `Σ c_n dⁿ` by Horner's rule.
    #[inline(always)]
    fn poly<S: Simd>(c: &[f64; SERIES_TERMS], d: V<S>) -> V<S> {
        let mut p = d.1.v(c[SERIES_TERMS - 1]);
        for &cn in c[..SERIES_TERMS - 1].iter().rev() {
            p = p.mul_add(d, cn);
        }
        p
    }

    /// `(term, ∂/∂lx, ∂/∂ly)` for finite `lx`, `ly`, per lane.
    #[inline(always)]
    fn term<S: Simd>(&self, lx: V<S>, ly: V<S>) -> (V<S>, V<S>, V<S>) {
        let d = lx - ly;
        let base = lx * self.a + ly * self.b;
        let g = fastmath::exp(base); // e^A
        let near = d.abs().le(self.series_d);
        if near.all() {
            // Every lane in the series range (the usual case near convergence): three polynomials.
            let d_lx = d * g * Self::poly(&self.coef_b, d);
            let d_ly = -(d * g * Self::poly(&self.coef_a, d));
            let term = g * d * d * Self::poly(&self.coef, d);
            return (term, d_lx, d_ly);
        }
        // B = A + b d and C = A − a d: d·e[A, B] = (e^B − e^A)/b and −d·e[A, C] = (e^C − e^A)/a.
        let (ob, oc) = (d * self.b, d * -self.a);
        let d_lx = Self::side(d, g, base + ob, ob, self.inv_b, &self.coef_b);
        let d_ly = -Self::side(d, g, base + oc, oc, -self.inv_a, &self.coef_a);
        // Spread (a+b)|d| > ½: the middle node is A and the difference quotient is well conditioned.
        let direct = (d_lx + d_ly) * self.inv_ab;
        let term = if near.any() {
            near.select(g * d * d * Self::poly(&self.coef, d), direct)
        } else {
            direct
        };
        (term, d_lx, d_ly)
    }

    /// `d·e[A, A + c·d] = (e^(A + c d) − e^A)/c`, or `d·e^A·E(c d)` from its series where `|c d| < ½`
    /// (the difference would cancel; this also covers c = 0). `inv_c = 1/c` (0 when c = 0).
    #[inline(always)]
    fn side<S: Simd>(
        d: V<S>,
        g: V<S>,
        node: V<S>,
        off: V<S>,
        inv_c: f64,
        coef: &[f64; SERIES_TERMS],
    ) -> V<S> {
        let small = off.abs().lt(SERIES_SPREAD);
        let quotient = (fastmath::exp(node) - g) * inv_c;
        if small.any() {
            small.select(d * g * Self::poly(coef, d), quotient)
        } else {
            quotient
        }
    }
}

/// `tⁿ/(n+1)!` for n < [`SERIES_TERMS`]: `E(t·d) = Σ cₙ dⁿ`, accurate for |t·d| ≤ ½.
fn exprel_series(t: f64) -> [f64; SERIES_TERMS] {
    let mut c = [0.0; SERIES_TERMS];
    let (mut tn, mut fact) = (1.0, 1.0);
    for (n, cn) in c.iter_mut().enumerate() {
        fact *= (n + 1) as f64;
        *cn = tn / fact;
        tn *= t;
    }
    c
}

/// `D_AB^(a,b)(p‖q)` and its gradient w.r.t. the student logits: `w − q Σw` with `w = ∂/∂log q`.
pub fn ab(a: f64, b: f64, lp: &[f64], lq: &[f64], q: &[f64], grad: &mut [f64]) -> f64 {
    let Some(fast) = Fast::new(a, b) else {
        // A negative exponent: `w` can reach 1e30 and more, see `project_exact`.
        let (v, _) = ab_scalar(a, b, lp, lq, grad);
        if v.is_finite() {
            project_exact(lq, q, grad);
        }
        return v;
    };
    let (v, sum_w) = ab_fast(&fast, lp, lq, grad);
    if v.is_finite() {
        for k in 0..q.len() {
            grad[k] -= q[k] * sum_w;
        }
    }
    v
}

/// `w ← w − q Σw` as `w_k (1 − q_k) − q_k Σ_{j≠k} w_j`, with `1 − q_k = −expm1(log q_k)` and the sums
/// taken around the largest `|w|`. With a negative exponent `w` reaches 1e30 at a class whose
/// `q ≈ 1`; `w_k − q_k Σw` then cancels down to the gradient and keeps none of its digits (the
/// property tests found 20 % errors), while this form is accurate to a few ulps.
pub(super) fn project_exact(lq: &[f64], q: &[f64], w: &mut [f64]) {
    let Some(m) = (0..w.len()).max_by(|&i, &j| w[i].abs().total_cmp(&w[j].abs())) else {
        return;
    };
    let wm = w[m];
    let rest: f64 = (0..w.len()).filter(|&j| j != m).map(|j| w[j]).sum();
    for k in 0..w.len() {
        let others = if k == m { rest } else { wm + (rest - w[k]) };
        w[k] = w[k] * -lq[k].exp_m1() - q[k] * others;
    }
}

/// Value and `Σw`, writing `w` to `grad`, one class at a time.
fn ab_scalar(a: f64, b: f64, lp: &[f64], lq: &[f64], grad: &mut [f64]) -> (f64, f64) {
    let mut v = 0.0;
    let mut sum_w = 0.0;
    for k in 0..lq.len() {
        let (term, _, w) = ab_term(a, b, lp[k], lq[k]);
        v += term;
        grad[k] = w;
        sum_w += w;
    }
    (v, sum_w)
}

/// The vectorised [`ab_scalar`]; classes with a zero mass are redone by [`ab_term`].
fn ab_fast(fast: &Fast, lp: &[f64], lq: &[f64], grad: &mut [f64]) -> (f64, f64) {
    let [mut v, mut sum_w, zeros] = ab_fast_pass(fast, lp, lq, grad);
    if zeros > 0.0 {
        for k in 0..lq.len() {
            if !(lp[k].is_finite() && lq[k].is_finite()) {
                let (term, _, w) = ab_term(fast.a, fast.b, lp[k], lq[k]);
                v += term;
                grad[k] = w;
                sum_w += w;
            }
        }
    }
    (v, sum_w)
}

multiversion! {
    /// Value, `Σw` and the number of classes with an infinite log-probability (left at 0 here).
    fn ab_fast_pass[s](fast: &Fast, lp: &[f64], lq: &[f64], grad: &mut [f64]) -> [f64; 3] {
        map_sum(s, [lp, lq], [grad], #[inline(always)] |[x, y]| {
            let finite = x.is_finite() & y.is_finite();
            let (term, _, w) = fast.term(finite.select(x, 0.0), finite.select(y, 0.0));
            let keep = |v: V<_>| finite.select(v, 0.0);
            ([keep(w)], [keep(term), keep(w), finite.select(0.0, 1.0)])
        })
    }
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
    let Some(fast) = Fast::new(a, b) else {
        let mut v = 0.0;
        for k in 0..lx.len() {
            let (term, gx, gy) = ab_term(a, b, lx[k], ly[k]);
            v += term;
            d_lx[k] = gx;
            d_ly[k] = gy;
        }
        return v;
    };
    let [mut v, zeros] = ab_partials_pass(&fast, lx, ly, d_lx, d_ly);
    if zeros > 0.0 {
        for k in 0..lx.len() {
            if !(lx[k].is_finite() && ly[k].is_finite()) {
                let (term, gx, gy) = ab_term(a, b, lx[k], ly[k]);
                v += term;
                d_lx[k] = gx;
                d_ly[k] = gy;
            }
        }
    }
    v
}

multiversion! {
    /// Value and both partials; classes with an infinite log-probability are counted and left at 0.
    fn ab_partials_pass[s](fast: &Fast, lx: &[f64], ly: &[f64], d_lx: &mut [f64], d_ly: &mut [f64]) -> [f64; 2] {
        map_sum(s, [lx, ly], [d_lx, d_ly], #[inline(always)] |[x, y]| {
            let finite = x.is_finite() & y.is_finite();
            let (term, gx, gy) = fast.term(finite.select(x, 0.0), finite.select(y, 0.0));
            let keep = |v: V<_>| finite.select(v, 0.0);
            ([keep(gx), keep(gy)], [keep(term), finite.select(0.0, 1.0)])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised kernel (all lanes near, mixed and far vectors) agrees with the scalar reference.
    #[test]
    fn vector_kernel_matches_the_scalar_reference() {
        let mut worst: f64 = 0.0;
        for &(a, b) in &[
            (0.2, 0.7),
            (1.0, 0.0),
            (0.0, 1.0),
            (0.5, 0.5),
            (1e-7, 1e-7),
            (2.0, 1.0),
        ] {
            let (mut lx, mut ly) = (Vec::new(), Vec::new());
            for i in 0..400 {
                let x = -0.05 * i as f64;
                for j in 0..60 {
                    let y = x + (j as f64 - 30.0) * [1e-9, 1e-3, 0.05, 0.4, 30.0][j / 12];
                    if y <= 0.0 {
                        lx.push(x); // log-probabilities only
                        ly.push(y);
                    }
                }
            }
            let (mut gx, mut gy) = (vec![0.0; lx.len()], vec![0.0; lx.len()]);
            let value = ab_partials(a, b, &lx, &ly, &mut gx, &mut gy);
            let mut sum = 0.0;
            let rel = |u: f64, v: f64| (u - v).abs() / u.abs().max(1e-300);
            for k in 0..lx.len() {
                let (t, x, y) = ab_term(a, b, lx[k], ly[k]);
                sum += t;
                for (u, v) in [(x, gx[k]), (y, gy[k])] {
                    assert!(
                        rel(u, v) < 1e-13,
                        "({a},{b}) {} {}: {u:e} vs {v:e}",
                        lx[k],
                        ly[k]
                    );
                    worst = worst.max(rel(u, v));
                }
            }
            assert!(rel(sum, value) < 1e-13, "({a},{b}): {sum:e} vs {value:e}");
            worst = worst.max(rel(sum, value));
        }
        println!("largest relative difference {worst:.2e}");
    }
}
