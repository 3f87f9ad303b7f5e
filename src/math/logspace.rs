//! Log-space helpers shared by every divergence.
//!
//! Probabilities are carried as log-probabilities so that tiny tail masses and exact zeros (`-inf`) stay
//! exact; products become sums and mixtures become `logaddexp`.

use super::fastmath;
use super::simd::{self, Simd, map_sum, multiversion};

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
        let n = x.len();
        let (out, probs) = (&mut out[..n], &mut probs[..n]);
        let (lse, inv) = exp_shifted(s, x, probs);
        for ((o, e), &v) in out.iter_mut().zip(probs.iter_mut()).zip(x) {
            *o = v - lse;
            *e *= inv;
        }
        lse
    }
}

multiversion! {
    /// In-place variant of [`log_softmax_into`]: `x` becomes `log_softmax(x)`.
    pub fn log_softmax_inplace[s](x: &mut [f64], probs: &mut [f64]) -> f64 {
        let probs = &mut probs[..x.len()];
        let (lse, inv) = exp_shifted(s, x, probs);
        for (o, e) in x.iter_mut().zip(probs.iter_mut()) {
            *o -= lse;
            *e *= inv;
        }
        lse
    }
}

/// `probs = exp(x − max x)`; returns the log-sum-exp and the reciprocal of the sum.
#[inline(always)]
fn exp_shifted<S: Simd>(s: S, x: &[f64], probs: &mut [f64]) -> (f64, f64) {
    let m = simd::max(s, x);
    let [sum] = map_sum(
        s,
        [x],
        [probs],
        #[inline(always)]
        |[v]| {
            let e = fastmath::exp(v - m);
            ([e], [e])
        },
    );
    (m + sum.ln(), 1.0 / sum)
}

/// Below this a mixture of probabilities has lost relative precision (or underflowed), and its log
/// is recomputed in log space.
const MIX_TINY: f64 = 1e-290;

multiversion! {
    /// `lm = log(wa·a + wb·b)` for two distributions given as probabilities and log-probabilities.
    ///
    /// One `ln` per class from the probabilities; the rare classes where the mixture is tiny are redone
    /// as `logaddexp(log wa + la, log wb + lb)`, which stays exact down to `-inf`.
    pub fn log_mixture[s](
        wa: f64,
        la: &[f64],
        a: &[f64],
        wb: f64,
        lb: &[f64],
        b: &[f64],
        lm: &mut [f64],
    ) {
        let [tiny] = map_sum(s, [a, b], [&mut *lm], #[inline(always)] |[a, b]| {
            let mix = a * wa + b * wb;
            ([fastmath::ln(mix)], [mix.lt(MIX_TINY).select(1.0, 0.0)])
        });
        if tiny > 0.0 {
            let (lwa, lwb) = (wa.ln(), wb.ln());
            for k in 0..a.len() {
                if a[k] * wa + b[k] * wb < MIX_TINY {
                    lm[k] = logaddexp(lwa + la[k], lwb + lb[k]);
                }
            }
        }
    }
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
}
