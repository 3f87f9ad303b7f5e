//! Branch-free `exp`, `exp_m1`, `ln` and `ln_1p` on SIMD vectors of f64.
//!
//! libm's versions are scalar calls, and the fit loop evaluates one or two of them per class per step.
//! These use selects instead of branches and build `2^k` from integer bits, so that one vector of lanes
//! is evaluated at once on any [`Simd`] backend. They are accurate to about one ulp (see the tests) and
//! keep the special values exact: `exp(-inf) = 0`, `exp(+inf) = +inf`, `ln(0) = -inf`, NaN in, NaN out.
//! Polynomials use fused multiply-adds where the backend has them (the last bit may then differ).

use super::simd::{Simd, V};

/// `1.5·2^52`: adding it rounds a float of magnitude below 2^51 to an integer, held in the low
/// mantissa bits (round to nearest even, without a rounding instruction).
const SHIFT: f64 = 6_755_399_441_055_744.0;
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split so that `k·LN2_HI` is exact for |k| < 2^20 (fdlibm's constants, by bit pattern).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 6.93147180369123816490e-01
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10
/// Below this `exp` rounds to 0 (half the smallest subnormal); above `EXP_MAX` it overflows.
const EXP_MIN: f64 = -745.2;
const EXP_MAX: f64 = 709.8;

/// Taylor coefficients `1/n!` for n = 2..=13 of `e^r − 1 − r`; for |r| ≤ ln2/2 the first omitted term
/// is below 5e-18.
const EXP_POLY: [f64; 12] = inv_factorials();

const fn inv_factorials() -> [f64; 12] {
    let mut c = [0.0; 12];
    let mut f = 1.0;
    let mut n = 2;
    while n <= 13 {
        f *= n as f64;
        c[n - 2] = 1.0 / f;
        n += 1;
    }
    c
}

/// Splits `x = k·ln2 + r`, |r| ≤ ln2/2; returns `k` (an integer-valued float) and `r`.
#[inline(always)]
fn reduce<S: Simd>(x: V<S>) -> (V<S>, V<S>) {
    let kf = x.mul_add(LOG2_E, SHIFT) - SHIFT;
    let r = (-kf).mul_add(LN2_LO, x - kf * LN2_HI); // k·LN2_HI is exact
    (kf, r)
}

/// `e^r − 1` for |r| ≤ ln2/2, written `r + r²·P(r)` so that the leading terms stay exact.
#[inline(always)]
fn exp_m1_reduced<S: Simd>(r: V<S>) -> V<S> {
    let mut p = r.1.v(EXP_POLY[11]);
    for &c in EXP_POLY[..11].iter().rev() {
        p = p.mul_add(r, c);
    }
    (r * r).mul_add(p, r)
}

/// `2^k` for an integer-valued float `k` in [−1022, 1023], built from the exponent bits.
#[inline(always)]
fn pow2<S: Simd>(kf: V<S>) -> V<S> {
    // The low mantissa bits of k + SHIFT hold k; add the exponent bias and shift into place.
    let shifted = (kf + SHIFT).to_bits();
    let biased = shifted.wrapping_add(1023u64.wrapping_sub(SHIFT.to_bits()));
    biased.shl52().to_float()
}

/// `2^k` as two factors `2^(k−j)·2^j`, `j ≈ k/2`, so that subnormal and overflowing results need no
/// branch.
#[inline(always)]
fn pow2_split<S: Simd>(kf: V<S>) -> (V<S>, V<S>) {
    let jf = (kf * 0.5 + SHIFT) - SHIFT; // round(k/2)
    (pow2(kf - jf), pow2(jf))
}

/// `e^x`, within one ulp of the correctly rounded result for normal results.
#[inline(always)]
pub fn exp<S: Simd>(x: V<S>) -> V<S> {
    let normal = x.ge(-708.0) & x.le(709.0);
    if normal.all() {
        // 2^k is a normal number: one scale factor.
        let (kf, r) = reduce(x);
        return (1.0 + exp_m1_reduced(r)) * pow2(kf);
    }
    // Clamping keeps k in range; the clamped ends still round to 0 and +inf. NaN passes through.
    let xc = x.lt(EXP_MIN).select(EXP_MIN, x);
    let xc = xc.gt(EXP_MAX).select(EXP_MAX, xc);
    let (kf, r) = reduce(xc);
    let (s1, s2) = pow2_split(kf);
    // (1 + em)·s1 is exact, so a subnormal result is rounded once.
    (1.0 + exp_m1_reduced(r)) * s1 * s2
}

/// `e^x − 1`, accurate near 0 where `exp(x) − 1` would cancel.
#[inline(always)]
pub fn exp_m1<S: Simd>(x: V<S>) -> V<S> {
    // Below −40 the result is −1 to double precision; above 709 it equals e^x.
    let xc = x.lt(-40.0).select(-40.0, x);
    let xc = xc.gt(EXP_MAX).select(EXP_MAX, xc);
    let (kf, r) = reduce(xc);
    let em = exp_m1_reduced(r);
    // k ≤ 1024 here; 2^1024 is taken as 2·2^1023.
    let top = kf.gt(1023.0);
    let s = pow2(top.select(1023.0, kf));
    // 2^k·(1 + em) − 1 = 2^k·em + (2^k − 1), with 2^k − 1 exact for the k where it matters.
    let small = s.mul_add(em, s - 1.0);
    let large = (1.0 + em) * s * top.select(2.0, 1.0);
    xc.gt(709.0).select(large, small)
}

/// fdlibm's minimax coefficients Lg1..Lg7 for `log(1+f)` on [√2/2 − 1, √2 − 1], by bit pattern.
const LG: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593), // 6.666666666666735130e-01
    f64::from_bits(0x3fd9_9999_9997_fa04), // 3.999999999940941908e-01
    f64::from_bits(0x3fd2_4924_9422_9359), // 2.857142874366239149e-01
    f64::from_bits(0x3fcc_71c5_1d8e_78af), // 2.222219843214978396e-01
    f64::from_bits(0x3fc7_4664_96cb_03de), // 1.818357216161805012e-01
    f64::from_bits(0x3fc3_9a09_d078_c69f), // 1.531383769920937332e-01
    f64::from_bits(0x3fc2_f112_df3e_5244), // 1.479819860511658591e-01
];
/// High word of √2/2: mantissas are reduced into [√2/2, √2).
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_0000_0000;
/// `2^52`: ORing a small integer into its mantissa and subtracting it converts the integer to a float.
const TWO52: f64 = 4_503_599_627_370_496.0;
/// `2^54`, to scale subnormals into the normal range.
const TWO54: f64 = 18_014_398_509_481_984.0;

/// Natural logarithm: within one ulp; `ln(0) = −inf`, `ln(+inf) = +inf`, NaN for negatives and NaN.
#[inline(always)]
pub fn ln<S: Simd>(x: V<S>) -> V<S> {
    let sub = x.lt(f64::MIN_POSITIVE);
    let xs = sub.select(x * TWO54, x);
    let bias = sub.select(1023.0 + 54.0, 1023.0);
    let u = xs
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    let kf = (u.shr52() | TWO52.to_bits()).to_float() - TWO52 - bias;
    let m = (u & 0x000f_ffff_ffff_ffff)
        .wrapping_add(SQRT_HALF_BITS)
        .to_float();
    let r = ln_reduced(m - 1.0, kf);
    let r = x.eq(f64::INFINITY).select(x, r);
    let r = x.eq(0.0).select(f64::NEG_INFINITY, r);
    x.ge(0.0).select(r, f64::NAN)
}

/// `ln(x)` for positive normal finite `x` only (no special cases): other lanes get garbage.
#[inline(always)]
pub fn ln_positive_normal<S: Simd>(x: V<S>) -> V<S> {
    let u = x
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    let kf = (u.shr52() | TWO52.to_bits()).to_float() - (TWO52 + 1023.0);
    let m = (u & 0x000f_ffff_ffff_ffff)
        .wrapping_add(SQRT_HALF_BITS)
        .to_float();
    ln_reduced(m - 1.0, kf)
}

/// `k·ln2 + log(1+f)` for f in [√2/2 − 1, √2 − 1] (fdlibm's `__ieee754_log` evaluation order).
#[inline(always)]
fn ln_reduced<S: Simd>(f: V<S>, kf: V<S>) -> V<S> {
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * w.mul_add(w.mul_add(LG[5], LG[3]), LG[1]);
    let t2 = z * w.mul_add(w.mul_add(w.mul_add(LG[6], LG[4]), LG[2]), LG[0]);
    let r = t2 + t1;
    s * (hfsq + r) + kf * LN2_LO - hfsq + f + kf * LN2_HI
}

/// `ln(1 + y)`, accurate for small `y`: `ln(u)` with `u = 1 + y` plus the first-order correction for the
/// rounding of `u`.
#[inline(always)]
pub fn ln_1p<S: Simd>(y: V<S>) -> V<S> {
    let u = 1.0 + y;
    let r = ln(u) - ((u - 1.0) - y) / u;
    let r = y.eq(f64::INFINITY).select(y, r);
    y.eq(-1.0).select(f64::NEG_INFINITY, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::simd::{Scalar, map_sum};

    /// Deterministic points spread over `[lo, hi]` (a fixed-seed LCG, plus the ends).
    fn points(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut v = vec![lo, hi];
        for _ in 0..n {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            v.push(lo + (hi - lo) * u);
        }
        v
    }

    /// Points spread evenly in log scale over `[lo, hi]`, both positive.
    fn log_points(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        points(lo.ln(), hi.ln(), n)
            .into_iter()
            .map(f64::exp)
            .collect()
    }

    fn negated(xs: Vec<f64>) -> Vec<f64> {
        xs.into_iter().map(|x| -x).collect()
    }

    /// The function under test.
    #[derive(Clone, Copy, Debug)]
    enum Func {
        Exp,
        ExpM1,
        Ln,
        LnPositiveNormal,
        Ln1p,
    }

    fn apply<S: Simd>(s: S, f: Func, xs: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; xs.len()];
        map_sum(s, [xs], [&mut out], |[x]| {
            let y = match f {
                Func::Exp => exp(x),
                Func::ExpM1 => exp_m1(x),
                Func::Ln => ln(x),
                Func::LnPositiveNormal => ln_positive_normal(x),
                Func::Ln1p => ln_1p(x),
            };
            ([y], [])
        });
        out
    }

    /// `f` on `xs` for every backend this CPU has, by name.
    fn on_every_backend(f: Func, xs: &[f64]) -> Vec<(&'static str, Vec<f64>)> {
        #[allow(unused_mut)]
        let mut out = vec![("scalar", apply(Scalar, f, xs))];
        #[cfg(target_arch = "x86_64")]
        {
            use crate::math::simd::{Avx2, Avx512};
            if let Some(t) = Avx2::detect() {
                out.push(("avx2", apply(t, f, xs)));
            }
            if let Some(t) = Avx512::detect() {
                out.push(("avx512", apply(t, f, xs)));
            }
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(t) = crate::math::simd::Neon::detect() {
            out.push(("neon", apply(t, f, xs)));
        }
        out
    }

    fn std_of(f: Func) -> fn(f64) -> f64 {
        match f {
            Func::Exp => f64::exp,
            Func::ExpM1 => f64::exp_m1,
            Func::Ln | Func::LnPositiveNormal => f64::ln,
            Func::Ln1p => f64::ln_1p,
        }
    }

    /// Largest relative error against std over `xs`, printed and asserted below `tol`, per backend.
    fn max_rel_err(name: &str, f: Func, xs: &[f64], tol: f64) {
        for (backend, ys) in on_every_backend(f, xs) {
            let err = xs
                .iter()
                .zip(&ys)
                .map(|(&x, &a)| {
                    let b = std_of(f)(x);
                    if a == b { 0.0 } else { ((a - b) / b).abs() }
                })
                .fold(0.0, f64::max);
            println!(
                "{name} ({backend}): max relative error {err:.3e} over {} points",
                xs.len()
            );
            assert!(err < tol, "{name} ({backend}): {err:e}");
        }
    }

    /// Asserts `f(x) == want` bit for bit (or both NaN) on every backend.
    fn exact_at(f: Func, x: f64, want: f64) {
        for (backend, ys) in on_every_backend(f, &[x]) {
            let got = ys[0];
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{f:?}({x}) = {got:e} on {backend}, expected {want:e}"
            );
        }
    }

    #[test]
    fn exp_matches_std() {
        let f = Func::Exp;
        max_rel_err("exp [-700,700]", f, &points(-700.0, 700.0, 200_000), 4e-16);
        max_rel_err("exp [-1,1]", f, &points(-1.0, 1.0, 200_000), 4e-16);
        max_rel_err("exp [-1e-8,1e-8]", f, &points(-1e-8, 1e-8, 10_000), 4e-16);
        max_rel_err("exp [700,709.78]", f, &points(700.0, 709.78, 10_000), 4e-16);
        // Subnormal results carry fewer bits: compare absolutely, in units of the smallest subnormal.
        let xs = points(-745.0, -708.5, 10_000);
        for (backend, ys) in on_every_backend(f, &xs) {
            for (x, y) in xs.iter().zip(ys) {
                assert!((y - x.exp()).abs() <= 5e-324, "exp({x}) on {backend}");
            }
        }
    }

    #[test]
    fn exp_special_values() {
        let f = Func::Exp;
        exact_at(f, f64::NEG_INFINITY, 0.0);
        exact_at(f, -745.2, 0.0);
        exact_at(f, -1e300, 0.0);
        exact_at(f, f64::INFINITY, f64::INFINITY);
        exact_at(f, 709.79, f64::INFINITY);
        exact_at(f, 1e300, f64::INFINITY);
        exact_at(f, 0.0, 1.0);
        exact_at(f, -0.0, 1.0);
        exact_at(f, 709.782712893384, 709.782712893384f64.exp());
        exact_at(f, -745.1, (-745.1f64).exp());
        exact_at(f, f64::NAN, f64::NAN);
    }

    #[test]
    fn exp_m1_matches_std() {
        let f = Func::ExpM1;
        max_rel_err("exp_m1 [-50,50]", f, &points(-50.0, 50.0, 100_000), 4e-16);
        max_rel_err("exp_m1 [-1,1]", f, &points(-1.0, 1.0, 100_000), 4e-16);
        max_rel_err(
            "exp_m1 [-1e-6,1e-6]",
            f,
            &points(-1e-6, 1e-6, 10_000),
            4e-16,
        );
        max_rel_err(
            "exp_m1 [-700,709.78]",
            f,
            &points(-700.0, 709.78, 10_000),
            4e-16,
        );
        let tiny = log_points(1e-300, 1e-10, 10_000);
        max_rel_err("exp_m1 tiny", f, &tiny, 4e-16);
        max_rel_err("exp_m1 -tiny", f, &negated(tiny), 4e-16);
    }

    #[test]
    fn exp_m1_special_values() {
        let f = Func::ExpM1;
        exact_at(f, f64::NEG_INFINITY, -1.0);
        exact_at(f, -1e300, -1.0);
        exact_at(f, f64::INFINITY, f64::INFINITY);
        exact_at(f, 709.79, f64::INFINITY);
        exact_at(f, 0.0, 0.0);
        exact_at(f, 5e-324, 5e-324);
        exact_at(f, f64::NAN, f64::NAN);
    }

    #[test]
    fn ln_matches_std() {
        let f = Func::Ln;
        max_rel_err(
            "ln [1e-300,1e300]",
            f,
            &log_points(1e-300, 1e300, 200_000),
            4e-16,
        );
        max_rel_err("ln [0.5,2]", f, &points(0.5, 2.0, 200_000), 4e-16);
        max_rel_err(
            "ln [1-1e-6,1+1e-6]",
            f,
            &points(1.0 - 1e-6, 1.0 + 1e-6, 10_000),
            4e-16,
        );
        max_rel_err(
            "ln subnormal",
            f,
            &log_points(5e-324, 2.2e-308, 10_000),
            4e-16,
        );
        max_rel_err("ln huge", f, &log_points(1e300, f64::MAX, 10_000), 4e-16);
        let normal = log_points(f64::MIN_POSITIVE, f64::MAX, 200_000);
        max_rel_err("ln_positive_normal", Func::LnPositiveNormal, &normal, 4e-16);
    }

    #[test]
    fn ln_special_values() {
        let f = Func::Ln;
        exact_at(f, 0.0, f64::NEG_INFINITY);
        exact_at(f, -0.0, f64::NEG_INFINITY);
        exact_at(f, f64::INFINITY, f64::INFINITY);
        exact_at(f, 1.0, 0.0);
        exact_at(f, 5e-324, (5e-324f64).ln());
        exact_at(f, f64::MAX, f64::MAX.ln());
        exact_at(f, -1.0, f64::NAN);
        exact_at(f, f64::NEG_INFINITY, f64::NAN);
        exact_at(f, f64::NAN, f64::NAN);
    }

    #[test]
    fn ln_1p_matches_std() {
        let f = Func::Ln1p;
        max_rel_err("ln_1p [0,1]", f, &points(0.0, 1.0, 200_000), 4e-16);
        max_rel_err(
            "ln_1p [-0.999,10]",
            f,
            &points(-0.999, 10.0, 100_000),
            4e-16,
        );
        let tiny = log_points(1e-300, 1e-3, 100_000);
        max_rel_err("ln_1p tiny", f, &tiny, 4e-16);
        max_rel_err("ln_1p -tiny", f, &negated(tiny), 4e-16);
        max_rel_err("ln_1p huge", f, &log_points(10.0, 1e300, 10_000), 4e-16);
    }

    #[test]
    fn ln_1p_special_values() {
        let f = Func::Ln1p;
        exact_at(f, 0.0, 0.0);
        exact_at(f, -1.0, f64::NEG_INFINITY);
        exact_at(f, f64::INFINITY, f64::INFINITY);
        exact_at(f, 5e-324, 5e-324);
        exact_at(f, -2.0, f64::NAN);
        exact_at(f, f64::NAN, f64::NAN);
    }
}
