//! Branch-free `exp` and `ln` on f32 lanes, written lane by lane so that LLVM vectorises a loop over
//! them (16 lanes: one AVX-512 register, two AVX2 or four NEON registers).
//!
//! Accuracy: `exp` within 2 ulp (degree-7 Taylor on |r| ≤ ln2/2, error 5e-9 before rounding) for
//! results ≥ 2^-126, 0 below (subnormals are flushed: they weigh nothing in a row sum next to the
//! `f32` rounding of its larger terms); `ln` is fdlibm's `logf` reduction (within 1 ulp) for positive
//! normal inputs only. NaN in, NaN out for `exp`.

/// `1.5·2^23`: adding it rounds an f32 of magnitude below 2^22 to an integer held in the low
/// mantissa bits.
const SHIFT: f32 = 12_582_912.0;
/// ln 2 split so that `k·LN2_HI` is exact for |k| ≤ 2^8 (15 significant bits).
const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
/// Below this `e^x` is subnormal (flushed to 0).
const EXP_LO: f32 = -87.336_55;
/// Above this `e^x` overflows.
const EXP_HI: f32 = 88.722_84;

/// `e^x` (see the module documentation).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    exp_with::<false>(x)
}

/// [`exp`] with the polynomial's multiply-adds fused when `FUSED` (for code compiled with FMA:
/// half the instructions, one rounding per step instead of two).
#[inline(always)]
pub fn exp_with<const FUSED: bool>(x: f32) -> f32 {
    // Comparisons are false for NaN, which therefore flows through the polynomial.
    let xc = if x < EXP_LO { EXP_LO } else { x };
    let xc = if xc > 88.0 { 88.0 } else { xc };
    let kf = (xc * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    let mut p: f32 = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = if FUSED { p.mul_add(r, c) } else { p * r + c };
    }
    // The low mantissa bits of k + SHIFT hold k; move k + 127 into the exponent field.
    let bits = (kf + SHIFT)
        .to_bits()
        .wrapping_add(127u32.wrapping_sub(SHIFT.to_bits()));
    let y = p * f32::from_bits(bits << 23);
    let y = if x < EXP_LO { 0.0 } else { y };
    if x > EXP_HI { f32::INFINITY } else { y }
}

/// fdlibm's `logf` minimax coefficients Lg1..Lg4.
const LG1: f32 = f32::from_bits(0x3f2a_aaaa);
const LG2: f32 = f32::from_bits(0x3ecc_ce13);
const LG3: f32 = f32::from_bits(0x3e91_e9ee);
const LG4: f32 = f32::from_bits(0x3e78_9e26);
/// `logf`'s split of ln 2.
const LOG_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const LOG_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
/// The bits of √2/2: mantissas are reduced into [√2/2, √2).
const SQRT_HALF: u32 = 0x3f35_04f3;

/// `ln x` for positive normal finite `x` (other inputs give garbage; callers select around them).
#[inline(always)]
pub fn ln_positive_normal(x: f32) -> f32 {
    let u = x.to_bits().wrapping_add(0x3f80_0000 - SQRT_HALF);
    let k = ((u >> 23) as i32 - 127) as f32;
    let f = f32::from_bits((u & 0x007f_ffff) + SQRT_HALF) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let r = z * (LG1 + w * LG3) + w * (LG2 + w * LG4);
    let hfsq = 0.5 * f * f;
    k * LOG_LN2_HI - ((hfsq - (s * (hfsq + r) + k * LOG_LN2_LO)) - f)
}

/// `ln(e^a + e^b)`, exact down to `-inf` (both `-inf` gives `-inf`).
#[inline(always)]
pub fn log_add_exp(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    let r = hi + ln_positive_normal(1.0 + exp(lo - hi));
    if hi == f32::NEG_INFINITY { hi } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::rng::Rng;

    fn ulps(a: f32, b: f64) -> f64 {
        let b32 = b as f32;
        let ulp = (f32::from_bits(b32.abs().to_bits() + 1) - b32.abs()) as f64;
        (a as f64 - b).abs() / ulp
    }

    #[test]
    fn exp_is_within_two_ulp_and_keeps_the_ends() {
        let mut rng = Rng::new(1);
        let mut worst = 0f64;
        for _ in 0..200_000 {
            let x = (-87.0 + 175.0 * rng.uniform()) as f32;
            worst = worst.max(ulps(exp(x), f64::from(x).exp()));
        }
        assert!(worst <= 2.0, "{worst} ulp");
        for _ in 0..20_000 {
            let x = (-87.0 + 175.0 * rng.uniform()) as f32;
            worst = worst.max(ulps(exp_with::<true>(x), f64::from(x).exp()));
        }
        assert!(worst <= 2.0, "fused: {worst} ulp");
        assert_eq!(exp_with::<true>(0.0), 1.0);
        assert_eq!(exp_with::<true>(-90.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-1e4), 0.0);
        assert_eq!(exp(-90.0), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_one_ulp_on_normal_inputs() {
        let mut rng = Rng::new(2);
        let mut worst = 0f64;
        for _ in 0..200_000 {
            let x = (10f64.powf(-37.0 + 75.0 * rng.uniform())) as f32;
            worst = worst.max(ulps(ln_positive_normal(x), f64::from(x).ln()));
        }
        assert!(worst <= 1.0, "{worst} ulp");
        assert_eq!(ln_positive_normal(1.0), 0.0);
        assert_eq!(
            log_add_exp(f32::NEG_INFINITY, f32::NEG_INFINITY),
            f32::NEG_INFINITY
        );
        assert!((log_add_exp(-200.0, -201.0) - (-200.0 + (1.0 + (-1f32).exp()).ln())).abs() < 1e-4);
    }
}
