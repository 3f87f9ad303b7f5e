//! The input and output policy of every path that evaluates a divergence (README "Input ranges").
//!
//! **Inputs.** A distribution has at least [`MIN_CLASSES`] classes. A logit given by a person or a
//! file (`kdviz eval`, a TOML teacher or student, a real-model file, on either backend) is a finite
//! number in `[−MAX_LOGIT, MAX_LOGIT]`, or `-inf` for a teacher class of probability 0.
//! Probabilities are any finite numbers `≥ 0` with a positive sum (normalised by their largest first,
//! so no sum overflows). Internally generated logits (a Gaussian student, a mixture teacher on a
//! grid) are not bounded: the f64 engine forms `(x − max) − ln Σ` and stays exact for any finite
//! spread.
//!
//! Why `1e5`: the real-model kernels run in f32, where a logit of magnitude `1e5` still resolves
//! `0.008` and every intermediate (`x − max`, `z − u`, the αβ family's `d²`, AMiD's `d³`) stays far
//! inside f32's range; in f64 it keeps every family's value and gradient finite except where the
//! value itself exceeds f64 (αβ exponents < 0), which [`check_output`] refuses. Real logits are a
//! few hundred at most, and fp16's largest value 65504 (a common mask) fits; masks belong at
//! `-inf`, not at `-1e9` or `f32::MIN`.
//!
//! **Outputs.** [`check_output`]: a value is printed only when it is finite (clamped at 0 by
//! [`super::value_and_grad`]) with every gradient entry finite, or `+inf` for a teacher with
//! zero-probability classes (the true divergence is infinite). Anything else is an error.

use super::dist::LogDist;
use super::simd::all_finite;

/// Largest accepted magnitude of a finite logit from a person or a file.
pub const MAX_LOGIT: f64 = 1e5;
/// Fewest classes a distribution may have (one class makes every divergence 0).
pub const MIN_CLASSES: usize = 2;

/// The accepted range, for messages: `a finite logit in [-100000, 100000]` (`or -inf` for teachers).
pub fn logit_range(allow_neg_inf: bool) -> String {
    let tail = if allow_neg_inf {
        " or -inf (probability 0)"
    } else {
        ""
    };
    format!("a finite logit in [-{MAX_LOGIT}, {MAX_LOGIT}]{tail}")
}

/// The accepted range of whole vectors, for messages that cannot name one entry:
/// `logits in [-100000, 100000] (a teacher's may also be -inf)`.
pub fn logits_range() -> String {
    format!("logits in [-{MAX_LOGIT}, {MAX_LOGIT}] (a teacher's may also be -inf)")
}

/// True when `x` is an accepted logit.
pub fn logit_ok(x: f64, allow_neg_inf: bool) -> bool {
    (x.is_finite() && x.abs() <= MAX_LOGIT) || (allow_neg_inf && x == f64::NEG_INFINITY)
}

/// The first entry that is not an accepted logit: `(index, value)`.
pub fn first_bad_logit(
    values: impl IntoIterator<Item = f64>,
    allow_neg_inf: bool,
) -> Option<(usize, f64)> {
    values
        .into_iter()
        .enumerate()
        .find(|&(_, x)| !logit_ok(x, allow_neg_inf))
}

/// A divergence value with rounding's negative zero-crossings removed: every family is ≥ 0, so
/// `−1e-17` means 0 (README "Input ranges"). NaN passes through, to be refused.
#[inline]
pub fn clamp0(v: f64) -> f64 {
    if v <= 0.0 { 0.0 } else { v }
}

/// A number for a message: short (`1e16`, not 17 digits of zeros), exact otherwise.
pub fn short(x: f64) -> String {
    let m = x.abs();
    if x.is_finite() && m != 0.0 && !(1e-4..1e6).contains(&m) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Checks one evaluation before anything is printed: `Ok(true)` for a finite value with a finite
/// gradient, `Ok(false)` for an infinite value the teacher's zero-probability classes explain
/// (the gradient is then undefined), an error naming the divergence and the offending number
/// otherwise (NaN, an overflow, a non-finite gradient entry).
pub fn check_output(
    div: &impl std::fmt::Display,
    teacher: &LogDist,
    value: f64,
    grad: &[f64],
) -> Result<bool, String> {
    if value.is_nan() {
        return Err(format!(
            "{div} is undefined (NaN) for these inputs; expected {}",
            logits_range()
        ));
    }
    if value == f64::INFINITY {
        if teacher.has_zeros() {
            return Ok(false);
        }
        return Err(format!(
            "{div} overflows: its value exceeds f64's range (1.8e308) for these inputs; expected \
             logits closer together (αβ exponents below 0 raise tiny probabilities to huge powers: \
             exponents ≥ 0; rkl-est's k3 grows as e^|ln p/q|: clamp=true)"
        ));
    }
    if !value.is_finite() {
        return Err(format!(
            "{div} is {value} for these inputs; expected a value ≥ 0"
        ));
    }
    if all_finite(grad) {
        return Ok(true);
    }
    if let Some((k, g)) = grad.iter().enumerate().find(|(_, g)| !g.is_finite()) {
        return Err(format!(
            "{div} = {} but its gradient at class {k} is {g} (it exceeds f64's range for these \
             inputs); expected αβ exponents ≥ 0 or logits closer together",
            short(value)
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logit_range_and_its_message() {
        assert!(logit_ok(1e5, false) && logit_ok(-1e5, false));
        assert!(!logit_ok(1.00001e5, false) && !logit_ok(f64::NAN, true));
        assert!(!logit_ok(f64::NEG_INFINITY, false) && logit_ok(f64::NEG_INFINITY, true));
        assert!(!logit_ok(f64::INFINITY, true));
        assert_eq!(first_bad_logit([0.0, 1e16, -1e16], false), Some((1, 1e16)));
        assert_eq!(first_bad_logit([0.0, f64::NEG_INFINITY], true), None);
        assert_eq!(
            logit_range(true),
            "a finite logit in [-100000, 100000] or -inf (probability 0)"
        );
        assert_eq!(short(1e308), "1e308");
        assert_eq!(short(-3e38), "-3e38");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(-10000.0), "-10000");
    }

    #[test]
    fn outputs_are_finite_or_explained() {
        let zeros = LogDist::from_logits(&[0.0, f64::NEG_INFINITY], true).unwrap();
        let full = LogDist::from_logits(&[0.0, 1.0], true).unwrap();
        assert_eq!(check_output(&"rkl", &full, 0.3, &[0.1, -0.1]), Ok(true));
        assert_eq!(
            check_output(&"rkl", &zeros, f64::INFINITY, &[f64::NAN; 2]),
            Ok(false)
        );
        let e = check_output(&"ab", &full, f64::INFINITY, &[0.0; 2]).unwrap_err();
        assert!(e.starts_with("ab overflows"), "{e}");
        let e = check_output(&"ab", &full, 0.059, &[f64::NEG_INFINITY, f64::NAN]).unwrap_err();
        assert_eq!(
            e,
            "ab = 0.059 but its gradient at class 0 is -inf (it exceeds f64's range for these \
             inputs); expected αβ exponents ≥ 0 or logits closer together"
        );
        assert!(check_output(&"x", &full, f64::NAN, &[0.0; 2]).is_err());
    }
}
