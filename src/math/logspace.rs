//! Log-space helpers shared by every divergence.
//!
//! Probabilities are carried as log-probabilities so that tiny tail masses and exact zeros (`-inf`) stay
//! exact; products become sums and mixtures become `logaddexp`.

use super::fastmath;
use super::simd::{self, Simd, V, map_sum, multiversion, update_sum};

/// `log(exp(a) + exp(b))`, exact for infinite arguments (`-inf` is the identity, `+inf` absorbs).
#[inline]
pub fn logaddexp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi.is_infinite() {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Log-sum-exp of a slice; `-inf` for an empty slice or one holding only `-inf`.
pub fn logsumexp(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    let s: f64 = x.iter().map(|&v| (v - m).exp()).sum();
    m + s.ln()
}

multiversion! {
    /// Writes `log_softmax(x)` into `out` and `softmax(x)` into `probs`; returns the log-sum-exp.
    /// Entries equal to `-inf` become probability 0 exactly.
    pub fn log_softmax_into[s](x: &[f64], out: &mut [f64], probs: &mut [f64]) -> f64 {
        log_softmax_fused(s, [x], #[inline(always)] |z| z, out, probs, #[inline(always)] |_, _, _| []).0
    }
}

/// `out = log_softmax(z)` and `probs = softmax(z)` for the logits `z = logit(ins[0])`, in three
/// passes (max, exponentials, normalisation). The last pass also sums `observe(log q, q, ins)` per
/// entry, so that a consumer of the result (the fit's metrics) needs no pass of its own.
/// Returns the log-sum-exp and the sums.
#[inline(always)]
pub fn log_softmax_fused<S: Simd, const I: usize, const R: usize>(
    s: S,
    ins: [&[f64]; I],
    logit: impl Fn(V<S>) -> V<S>,
    out: &mut [f64],
    probs: &mut [f64],
    observe: impl FnMut(V<S>, V<S>, [V<S>; I]) -> [V<S>; R],
) -> (f64, [f64; R]) {
    let m = simd::max_map(s, ins[0], &logit);
    log_softmax_fused_at(s, ins, logit, m, out, probs, observe)
}

/// [`log_softmax_fused`] given the largest logit `m` (known without a pass: a Gaussian's, next to
/// its mean); `m` must be exactly the largest `logit(ins[0][k])`.
#[inline(always)]
pub fn log_softmax_fused_at<S: Simd, const I: usize, const R: usize>(
    s: S,
    ins: [&[f64]; I],
    logit: impl Fn(V<S>) -> V<S>,
    m: f64,
    out: &mut [f64],
    probs: &mut [f64],
    mut observe: impl FnMut(V<S>, V<S>, [V<S>; I]) -> [V<S>; R],
) -> (f64, [f64; R]) {
    let src = ins[0];
    let [below, ties] = map_sum(
        s,
        [src],
        [&mut *probs],
        #[inline(always)]
        |[v]| {
            let x = logit(v) - m;
            let e = fastmath::exp(x);
            ([e], split_sum(x, e))
        },
    );
    // `(x − m) − ln Σ`, never `x − (m + ln Σ)`: once |m| ≳ 1e13, `m + ln Σ` rounds back to `m` and the
    // log-probabilities lose `ln Σ` entirely (issue 10).
    let (log_sum, inv) = (log_of_sum(below, ties), 1.0 / (ties + below));
    let sums = update_sum(
        s,
        ins,
        [out, probs],
        #[inline(always)]
        |x, [_, e]| {
            let (lq, q) = ((logit(x[0]) - m) - log_sum, e * inv);
            ([lq, q], observe(lq, q, x))
        },
    );
    (m + log_sum, sums)
}

multiversion! {
    /// In-place variant of [`log_softmax_into`]: `x` becomes `log_softmax(x)`.
    pub fn log_softmax_inplace[s](x: &mut [f64], probs: &mut [f64]) -> f64 {
        let probs = &mut probs[..x.len()];
        let (m, log_sum, inv) = exp_shifted(s, x, probs);
        for (o, e) in x.iter_mut().zip(probs.iter_mut()) {
            *o = (*o - m) - log_sum; // not `*o − (m + ln Σ)`: see log_softmax_fused
            *e *= inv;
        }
        m + log_sum
    }
}

/// `probs = exp(x − max x)`; returns the max, the log of the sum and the reciprocal of the sum.
#[inline(always)]
fn exp_shifted<S: Simd>(s: S, x: &[f64], probs: &mut [f64]) -> (f64, f64, f64) {
    let m = simd::max(s, x);
    let [below, ties] = map_sum(
        s,
        [x],
        [probs],
        #[inline(always)]
        |[v]| {
            let x = v - m;
            let e = fastmath::exp(x);
            ([e], split_sum(x, e))
        },
    );
    (m, log_of_sum(below, ties), 1.0 / (ties + below))
}

/// The exponentials `e = exp(x − max)` summed in two parts: those below the max, and the count of
/// entries at the max (each contributing exactly 1).
#[inline(always)]
fn split_sum<S: Simd>(x: V<S>, e: V<S>) -> [V<S>; 2] {
    [x.lt(0.0).select(e, 0.0), x.eq(0.0).select(1.0, 0.0)]
}

/// `ln Σ` from [`split_sum`]'s parts as `ln_1p(Σ − 1)`: a peaked row's top class gets
/// `log q = −1.7e-16` exactly instead of 0 (`ln(1 + 1.7e-16)` rounds to 0), which the αβ family's
/// gradient with a negative exponent multiplies by 1e30 (found by the property tests).
#[inline(always)]
fn log_of_sum(below: f64, ties: f64) -> f64 {
    if ties >= 1.0 {
        ((ties - 1.0) + below).ln_1p()
    } else {
        (ties + below).ln() // no entry at a finite max: every entry -inf, or a NaN
    }
}

/// Below this a mixture of probabilities has lost relative precision (or underflowed), and its log
/// is computed in log space instead.
const MIX_TINY: f64 = 1e-290;

/// The weights of a two-component mixture `wa·a + wb·b`, with their logs.
#[derive(Clone, Copy, Debug)]
pub struct Mixture {
    wa: f64,
    wb: f64,
    lwa: f64,
    lwb: f64,
}

impl Mixture {
    /// Weights `wa = w`, `wb = 1 − w`.
    pub fn new(w: f64) -> Self {
        Mixture {
            wa: w,
            wb: 1.0 - w,
            lwa: w.ln(),
            lwb: (-w).ln_1p(),
        }
    }

    /// `log(wa·a + wb·b)` per lane: one `ln` of the mixed probabilities, or `logaddexp` of the
    /// log-probabilities in a vector where some mixture is tiny (exact down to `-inf`).
    #[inline(always)]
    pub fn log<S: Simd>(&self, la: V<S>, a: V<S>, lb: V<S>, b: V<S>) -> V<S> {
        let mix = a * self.wa + b * self.wb;
        let tiny = mix.lt(MIX_TINY);
        let direct = fastmath::ln_positive_normal(mix);
        if tiny.any() {
            tiny.select(logaddexp_v(la + self.lwa, lb + self.lwb), direct)
        } else {
            direct
        }
    }
}

/// [`logaddexp`] per lane.
#[inline(always)]
pub fn logaddexp_v<S: Simd>(x: V<S>, y: V<S>) -> V<S> {
    let x_big = x.ge(y);
    let (hi, lo) = (x_big.select(x, y), x_big.select(y, x));
    let r = hi + fastmath::ln_1p(fastmath::exp(lo - hi));
    hi.abs().eq(f64::INFINITY).select(hi, r)
}

/// `E(x) = expm1(x)/x`, with `E(0) = 1`; the building block of the αβ-divergence.
#[inline]
pub fn exprel(x: f64) -> f64 {
    if x.abs() < 1e-5 {
        1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0))
    } else if x == f64::NEG_INFINITY {
        0.0
    } else {
        x.exp_m1() / x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logaddexp_handles_infinities() {
        assert_eq!(logaddexp(f64::NEG_INFINITY, 1.5), 1.5);
        assert_eq!(
            logaddexp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
        assert_eq!(logaddexp(f64::INFINITY, 3.0), f64::INFINITY);
        assert!((logaddexp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn mixture_log_matches_logaddexp_down_to_underflow() {
        use crate::math::simd::Scalar;
        let mix = Mixture::new(0.3);
        for &(la, lb) in &[
            (-1.0, -2.0),
            (-700.0, -720.0),
            (-800.0, -3.0),
            (-900.0, -950.0),
            (f64::NEG_INFINITY, -2.0),
            (f64::NEG_INFINITY, -1000.0),
            (f64::NEG_INFINITY, f64::NEG_INFINITY),
        ] {
            let v = |x: f64| Scalar.v(x);
            let got = mix.log(v(la), v(la.exp()), v(lb), v(lb.exp())).0;
            let want = logaddexp(0.3f64.ln() + la, 0.7f64.ln() + lb);
            assert!(
                got == want || (got - want).abs() <= 4e-16 * want.abs(),
                "log mix of ({la}, {lb}): {got} vs {want}"
            );
        }
    }
}
