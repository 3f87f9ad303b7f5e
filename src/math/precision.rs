//! Storage formats of logits, their rounding (practice.md §12.1) and the arithmetic mode (§12.3):
//! what a value becomes when it is stored in f32, bf16 or f16, and in which formats a loss is computed.
//!
//! Rounding is round-to-nearest-even, once, from the exact f64 value, with gradual underflow and
//! overflow to ±∞. bf16 and f16 use the formula rather than `half::{bf16,f16}::from_f64`, which does
//! not round f64 values correctly (it drops low significand bits first, or goes through f32).

use std::fmt;

/// A storage format of logits, widest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    F64,
    F32,
    Bf16,
    F16,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::F64, Format::F32, Format::Bf16, Format::F16];

    pub fn name(self) -> &'static str {
        match self {
            Format::F64 => "f64",
            Format::F32 => "f32",
            Format::Bf16 => "bf16",
            Format::F16 => "f16",
        }
    }

    /// The format named `s` (case-insensitive), if any.
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }

    /// (significand bits, least normal exponent, largest finite value) of the format.
    fn limits(self) -> (i32, i32, f64) {
        match self {
            Format::F64 => (53, -1022, f64::MAX),
            Format::F32 => (24, -126, f32::MAX as f64),
            Format::Bf16 => (8, -126, (2.0 - 2f64.powi(-7)) * 2f64.powi(127)),
            Format::F16 => (11, -14, 65504.0),
        }
    }

    /// The format in which an operation on values of `self` and `other` is done (PyTorch's
    /// promotion: the wider one; bf16 with f16 is f32).
    pub fn promote(self, other: Format) -> Format {
        use Format::*;
        match (self, other) {
            (F64, _) | (_, F64) => F64,
            (F32, _) | (_, F32) => F32,
            (Bf16, F16) | (F16, Bf16) => F32,
            (a, _) => a,
        }
    }

    /// The units in the last place at 1.0 (machine epsilon) of the format.
    pub fn epsilon(self) -> f64 {
        2f64.powi(1 - self.limits().0)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the arithmetic after storage is done (practice.md §12.3): `Exact` rounds the stored logits
/// only and computes in f64; `Naive` and `Logspace` emulate eager code that computes in the stored
/// formats (softmax then log, or log-softmax then exp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compute {
    #[default]
    Exact,
    Naive,
    Logspace,
}

impl Compute {
    pub const ALL: [Compute; 3] = [Compute::Exact, Compute::Naive, Compute::Logspace];

    pub fn name(self) -> &'static str {
        match self {
            Compute::Exact => "exact",
            Compute::Naive => "naive",
            Compute::Logspace => "logspace",
        }
    }

    /// The mode named `s` (case-insensitive), if any.
    pub fn parse(s: &str) -> Option<Compute> {
        Compute::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// `x` stored in `fmt`: nearest representable value, ties to even; zero and non-finite values are
/// kept; beyond the largest finite value it overflows to ±∞.
pub fn round(x: f64, fmt: Format) -> f64 {
    match fmt {
        Format::F64 => x,
        Format::F32 => x as f32 as f64,
        Format::Bf16 | Format::F16 => {
            if x == 0.0 || !x.is_finite() {
                return x;
            }
            let (bits, e_min, max) = fmt.limits();
            let a = x.abs();
            let e = exponent(a).max(e_min);
            // Powers of two: a / ulp and r · ulp are exact.
            let ulp = 2f64.powi(e - bits + 1);
            let r = (a / ulp).round_ties_even() * ulp;
            let r = if r > max { f64::INFINITY } else { r };
            r.copysign(x)
        }
    }
}

/// Rounds every entry of `xs` to `fmt` in place.
pub fn round_all(xs: &mut [f64], fmt: Format) {
    if fmt != Format::F64 {
        xs.iter_mut().for_each(|x| *x = round(*x, fmt));
    }
}

/// floor(log2 a) for a finite a > 0, exact (read from the f64 bits; subnormals included).
fn exponent(a: f64) -> i32 {
    let biased = ((a.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal f64: the exponent of its leading bit.
        let mantissa = a.to_bits() & ((1u64 << 52) - 1);
        (63 - mantissa.leading_zeros() as i32) - 1074
    } else {
        biased - 1023
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_the_spec_reproducer_logits() {
        // practice.md §12.4, reproducer L: the logits as bf16 stores them.
        let u = [31.11, 30.87, 31.28, -43.45, -48.75, -6.79];
        let z = [31.23, 30.75, 31.24, -43.3, -48.74, -6.7];
        let ru: Vec<f64> = u.iter().map(|&x| round(x, Format::Bf16)).collect();
        let rz: Vec<f64> = z.iter().map(|&x| round(x, Format::Bf16)).collect();
        assert_eq!(ru, [31.125, 30.875, 31.25, -43.5, -48.75, -6.78125]);
        assert_eq!(rz, [31.25, 30.75, 31.25, -43.25, -48.75, -6.6875]);
    }

    #[test]
    fn ties_go_to_even_and_overflow_goes_to_infinity() {
        // 1 + 2⁻⁸ is halfway between bf16's 1 and 1 + 2⁻⁷: the even one is 1.
        assert_eq!(round(1.0 + 2f64.powi(-8), Format::Bf16), 1.0);
        // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶: the even one is 1 + 2⁻⁶.
        assert_eq!(
            round(1.0 + 3.0 * 2f64.powi(-8), Format::Bf16),
            1.0 + 2f64.powi(-6)
        );
        // Just above a tie rounds up (the case half's from_f64 gets wrong).
        assert_eq!(
            round(1.0 + 2f64.powi(-8) + 2f64.powi(-40), Format::Bf16),
            1.0 + 2f64.powi(-7)
        );
        assert_eq!(round(65504.0, Format::F16), 65504.0);
        assert_eq!(round(65520.0, Format::F16), f64::INFINITY);
        assert_eq!(round(-65519.0, Format::F16), -65504.0);
        assert_eq!(round(-1e39, Format::Bf16), f64::NEG_INFINITY);
        assert_eq!(round(0.1, Format::F32), 0.1f32 as f64);
        assert!(round(-0.0, Format::Bf16).is_sign_negative());
        assert!(round(f64::NAN, Format::F16).is_nan());
    }

    #[test]
    fn subnormals_round_on_the_least_normal_exponents_grid() {
        // f16's smallest subnormal is 2⁻²⁴; half of it is a tie with 0, which is even.
        assert_eq!(round(2f64.powi(-24), Format::F16), 2f64.powi(-24));
        assert_eq!(round(2f64.powi(-25), Format::F16), 0.0);
        assert_eq!(round(1.5 * 2f64.powi(-25), Format::F16), 2f64.powi(-24));
        assert_eq!(
            round(3.0 * 2f64.powi(-25), Format::F16),
            2.0 * 2f64.powi(-24)
        );
        // An f64 subnormal is far below bf16's least subnormal.
        assert_eq!(round(f64::MIN_POSITIVE / 4.0, Format::Bf16), 0.0);
    }

    #[test]
    fn agrees_with_half_on_values_it_converts_exactly() {
        // half's from_f32 is correctly rounded; f32 inputs are exact in f64.
        let mut x = 1.234_567f32;
        for _ in 0..2000 {
            let xf = x as f64;
            assert_eq!(
                round(xf, Format::Bf16),
                half::bf16::from_f32(x).to_f64(),
                "{x}"
            );
            assert_eq!(
                round(xf, Format::F16),
                half::f16::from_f32(x).to_f64(),
                "{x}"
            );
            x = -x * 1.618_034 + 0.37;
            if x.abs() > 6e4 {
                x *= 1e-7;
            }
        }
    }

    #[test]
    fn exponent_is_exact_for_normals_and_subnormals() {
        assert_eq!(exponent(1.0), 0);
        assert_eq!(exponent(0.75), -1);
        assert_eq!(exponent(f64::MIN_POSITIVE), -1022);
        assert_eq!(exponent(f64::MIN_POSITIVE / 2.0), -1023);
        assert_eq!(exponent(5e-324), -1074);
    }

    #[test]
    fn promotion_follows_torch() {
        use Format::*;
        assert_eq!(Bf16.promote(F16), F32);
        assert_eq!(F32.promote(Bf16), F32);
        assert_eq!(Bf16.promote(Bf16), Bf16);
        assert_eq!(F16.promote(F64), F64);
        assert_eq!(Format::parse("BF16"), Some(Bf16));
        assert_eq!(Format::parse("f8"), None);
    }
}
