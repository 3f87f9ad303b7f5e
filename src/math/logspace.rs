//! Log-space helpers shared by every divergence.
//!
//! Probabilities are carried as log-probabilities so that tiny tail masses and exact zeros (`-inf`) stay
//! exact; products become sums and mixtures become `logaddexp`.

/// `log(exp(a) + exp(b))`, exact for infinite arguments (`-inf` is the identity, `+inf` absorbs).
#[inline]
pub fn logaddexp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY || hi == f64::INFINITY {
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

/// Writes `log_softmax(x)` into `out` and `softmax(x)` into `probs`; returns the log-sum-exp.
/// Entries equal to `-inf` become probability 0 exactly.
pub fn log_softmax_into(x: &[f64], out: &mut [f64], probs: &mut [f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (e, &v) in probs.iter_mut().zip(x) {
        *e = (v - m).exp();
        s += *e;
    }
    let inv = 1.0 / s;
    let lse = m + s.ln();
    for ((o, e), &v) in out.iter_mut().zip(probs.iter_mut()).zip(x) {
        *o = v - lse;
        *e *= inv;
    }
    lse
}

/// In-place variant of [`log_softmax_into`]: `x` becomes `log_softmax(x)`.
pub fn log_softmax_inplace(x: &mut [f64], probs: &mut [f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (e, &v) in probs.iter_mut().zip(x.iter()) {
        *e = (v - m).exp();
        s += *e;
    }
    let inv = 1.0 / s;
    let lse = m + s.ln();
    for (o, e) in x.iter_mut().zip(probs.iter_mut()) {
        *o -= lse;
        *e *= inv;
    }
    lse
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

/// Derivative of [`exprel`]: `E'(x) = (x e^x - expm1(x)) / x^2`.
#[inline]
pub fn exprel_prime(x: f64) -> f64 {
    if x.abs() < 1e-3 {
        // Taylor series 1/2 + x/3 + x^2/8 + x^3/30 + x^4/144 + x^5/840; error below 1e-19 here.
        0.5 + x * (1.0 / 3.0 + x * (1.0 / 8.0 + x * (1.0 / 30.0 + x * (1.0 / 144.0 + x / 840.0))))
    } else {
        (x * x.exp() - x.exp_m1()) / (x * x)
    }
}

/// Divided difference `Phi(x, y) = (E(x) - E(y)) / (x - y)`, continuous at `x == y`.
#[inline]
pub fn exprel_divided(x: f64, y: f64) -> f64 {
    let h = x - y;
    if h.abs() < 1e-4 * (1.0 + x.abs().max(y.abs())) {
        // Midpoint expansion keeps full precision where the difference quotient would cancel:
        // Phi(x, y) = E'(c) + E'''(c) h^2 / 24 + O(h^4), c the midpoint.
        let c = 0.5 * (x + y);
        exprel_prime(c) + exprel_third(c) * h * h / 24.0
    } else {
        (exprel(x) - exprel(y)) / h
    }
}

/// Third derivative of `E`, needed only for the second-order term of [`exprel_divided`].
#[inline]
fn exprel_third(x: f64) -> f64 {
    // E(x) = sum_n x^n/(n+1)!, so E'''(x) = sum_n (n+3)(n+2)(n+1) x^n / (n+4)!.
    if x.abs() < 1.0 {
        let mut term = 1.0;
        let mut sum = 0.0;
        for n in 0..30 {
            let nf = n as f64;
            let coef = (nf + 3.0) * (nf + 2.0) * (nf + 1.0)
                / ((nf + 4.0) * (nf + 3.0) * (nf + 2.0) * (nf + 1.0));
            sum += coef * term;
            term *= x / (nf + 1.0);
            if term.abs() < 1e-18 {
                break;
            }
        }
        sum
    } else {
        // E(x) = (e^x - 1)/x; differentiate three times in closed form.
        let e = x.exp();
        let x2 = x * x;
        (e * (x2 * x - 3.0 * x2 + 6.0 * x - 6.0) + 6.0) / (x2 * x2)
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
    fn divided_difference_is_continuous() {
        for &c in &[-3.0, -0.2, 0.0, 1e-6, 0.7, 4.0] {
            let at = exprel_divided(c, c);
            for &h in &[1e-3, 1e-5, 1e-7] {
                let near = exprel_divided(c + h, c - h);
                assert!(
                    (near - at).abs() < 1e-6 * (1.0 + at.abs()),
                    "c={c} h={h} {near} {at}"
                );
            }
        }
    }

    #[test]
    fn exprel_third_matches_finite_differences() {
        for &x in &[-2.0, -0.5, 0.3, 0.99, 1.01, 2.5] {
            let h = 1e-3;
            let fd = (exprel_prime(x + h) - 2.0 * exprel_prime(x) + exprel_prime(x - h)) / (h * h);
            assert!(
                (fd - exprel_third(x)).abs() < 1e-5,
                "x={x} fd={fd} {}",
                exprel_third(x)
            );
        }
    }
}
