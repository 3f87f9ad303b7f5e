//! The aarch64 backend: NEON (Advanced SIMD), 2 f64 lanes with fused multiply-add.
//!
//! NEON is part of every aarch64 CPU that runs an OS (the `aarch64-unknown-linux-gnu` and
//! `aarch64-apple-darwin` targets enable it), but as on x86 a token is created only by
//! [`Neon::detect`], after run-time detection, which is what each `unsafe` block relies on. The
//! methods are `#[inline(always)]` so that they are compiled into the `#[target_feature]` kernel that
//! calls them.
//!
//! Masks are `uint64x2_t` lanes of all ones or all zeros, as the comparisons make them; `any` and
//! `all` rely on that.

use super::Simd;
use std::arch::aarch64::*;

/// NEON is available (token created after detection).
#[derive(Clone, Copy, Debug)]
pub struct Neon(());

impl Neon {
    pub fn detect() -> Option<Self> {
        std::arch::is_aarch64_feature_detected!("neon").then_some(Neon(()))
    }
}

/// Wraps the body of a method in `unsafe`: sound because the token (`self`) exists only on CPUs with
/// NEON (see the module documentation). The target enabling NEON does not make the intrinsics safe
/// to call outside a `#[target_feature(enable = "neon")]` function.
macro_rules! guarded {
    ($body:expr) => {
        // SAFETY: `self` is a token made by `detect()`, so the CPU supports these intrinsics.
        unsafe { $body }
    };
}

impl Simd for Neon {
    type Reg = float64x2_t;
    type Bits = uint64x2_t;
    type Mask = uint64x2_t;
    const LANES: usize = 2;

    #[inline(always)]
    fn splat(self, x: f64) -> float64x2_t {
        guarded!(vdupq_n_f64(x))
    }
    #[inline(always)]
    fn load(self, s: &[f64]) -> float64x2_t {
        let s = &s[..2];
        // SAFETY: `s` holds 2 f64 (checked above) and the token guarantees NEON.
        unsafe { vld1q_f64(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: float64x2_t, s: &mut [f64]) {
        let s = &mut s[..2];
        // SAFETY: `s` holds 2 f64 (checked above) and the token guarantees NEON.
        unsafe { vst1q_f64(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
        guarded!(vaddq_f64(a, b))
    }
    #[inline(always)]
    fn sub(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
        guarded!(vsubq_f64(a, b))
    }
    #[inline(always)]
    fn mul(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
        guarded!(vmulq_f64(a, b))
    }
    #[inline(always)]
    fn div(self, a: float64x2_t, b: float64x2_t) -> float64x2_t {
        guarded!(vdivq_f64(a, b))
    }
    #[inline(always)]
    fn mul_add(self, a: float64x2_t, b: float64x2_t, c: float64x2_t) -> float64x2_t {
        // The addend comes first: vfmaq_f64(c, a, b) = c + a·b, rounded once.
        guarded!(vfmaq_f64(c, a, b))
    }
    #[inline(always)]
    fn sqrt(self, a: float64x2_t) -> float64x2_t {
        guarded!(vsqrtq_f64(a))
    }
    #[inline(always)]
    fn abs(self, a: float64x2_t) -> float64x2_t {
        guarded!(vabsq_f64(a))
    }
    #[inline(always)]
    fn lt(self, a: float64x2_t, b: float64x2_t) -> uint64x2_t {
        guarded!(vcltq_f64(a, b))
    }
    #[inline(always)]
    fn le(self, a: float64x2_t, b: float64x2_t) -> uint64x2_t {
        guarded!(vcleq_f64(a, b))
    }
    #[inline(always)]
    fn eq(self, a: float64x2_t, b: float64x2_t) -> uint64x2_t {
        guarded!(vceqq_f64(a, b))
    }
    #[inline(always)]
    fn and(self, a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        guarded!(vandq_u64(a, b))
    }
    #[inline(always)]
    fn or(self, a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        guarded!(vorrq_u64(a, b))
    }
    #[inline(always)]
    fn not(self, a: uint64x2_t) -> uint64x2_t {
        // There is no 64-bit `vmvnq`; the bitwise not is the same on 32-bit lanes.
        guarded!(vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(a))))
    }
    #[inline(always)]
    fn any(self, m: uint64x2_t) -> bool {
        guarded!(vmaxvq_u32(vreinterpretq_u32_u64(m)) != 0)
    }
    #[inline(always)]
    fn all(self, m: uint64x2_t) -> bool {
        guarded!(vminvq_u32(vreinterpretq_u32_u64(m)) == u32::MAX)
    }
    #[inline(always)]
    fn select(self, m: uint64x2_t, a: float64x2_t, b: float64x2_t) -> float64x2_t {
        guarded!(vbslq_f64(m, a, b))
    }
    #[inline(always)]
    fn sum_lanes(self, a: float64x2_t) -> f64 {
        guarded!(vgetq_lane_f64::<0>(a) + vgetq_lane_f64::<1>(a))
    }
    #[inline(always)]
    fn to_bits(self, a: float64x2_t) -> uint64x2_t {
        guarded!(vreinterpretq_u64_f64(a))
    }
    #[inline(always)]
    fn bits_to_float(self, a: uint64x2_t) -> float64x2_t {
        guarded!(vreinterpretq_f64_u64(a))
    }
    #[inline(always)]
    fn splat_bits(self, x: u64) -> uint64x2_t {
        guarded!(vdupq_n_u64(x))
    }
    #[inline(always)]
    fn bits_add(self, a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        guarded!(vaddq_u64(a, b))
    }
    #[inline(always)]
    fn bits_and(self, a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        guarded!(vandq_u64(a, b))
    }
    #[inline(always)]
    fn bits_or(self, a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        guarded!(vorrq_u64(a, b))
    }
    #[inline(always)]
    fn bits_shl52(self, a: uint64x2_t) -> uint64x2_t {
        guarded!(vshlq_n_u64::<52>(a))
    }
    #[inline(always)]
    fn bits_shr52(self, a: uint64x2_t) -> uint64x2_t {
        guarded!(vshrq_n_u64::<52>(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neon_agrees_with_scalar_on_edge_values() {
        let t = Neon::detect().expect("NEON is part of every aarch64 target kdviz builds for");
        super::super::conformance::agrees_with_scalar(t);
    }
}
