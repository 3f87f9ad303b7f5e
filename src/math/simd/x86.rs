//! The x86-64 backends: AVX2+FMA (4 lanes) and AVX-512F (8 lanes).
//!
//! A token is created only by [`Avx2::detect`] / [`Avx512::detect`], after `is_x86_feature_detected!`
//! confirmed the instructions; every intrinsic below runs under that guarantee, which is what each
//! `unsafe` block relies on. The methods are `#[inline(always)]` so that they are compiled into the
//! `#[target_feature]` kernel that calls them.

use super::Simd;
use std::arch::x86_64::*;

/// AVX2 and FMA are available (token created after detection).
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

/// AVX-512F, AVX2 and FMA are available (token created after detection).
#[derive(Clone, Copy, Debug)]
pub struct Avx512(());

impl Avx2 {
    pub fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }
}

impl Avx512 {
    pub fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && Avx2::detect().is_some()).then_some(Avx512(()))
    }
}

/// Wraps the body of a method in `unsafe`: sound because the token (`self`) exists only on CPUs with
/// the backend's features (see the module documentation).
macro_rules! guarded {
    ($body:expr) => {
        // SAFETY: `self` is a token made by `detect()`, so the CPU supports these intrinsics.
        unsafe { $body }
    };
}

/// The streaming copy shared by both backends: a scalar head up to `align` bytes, whole vectors of
/// `lanes` f64 stored by `stream(dst, src)`, a scalar tail, then a store fence.
#[inline(always)]
fn copy_streaming_with(
    src: &[f64],
    dst: &mut [f64],
    align: usize,
    lanes: usize,
    mut stream: impl FnMut(&mut [f64], &[f64]),
) {
    assert_eq!(src.len(), dst.len());
    let n = dst.len();
    let head = dst.as_ptr().align_offset(align).min(n);
    let body_end = head + (n - head) / lanes * lanes;
    dst[..head].copy_from_slice(&src[..head]);
    for k in (head..body_end).step_by(lanes) {
        stream(&mut dst[k..k + lanes], &src[k..k + lanes]);
    }
    dst[body_end..].copy_from_slice(&src[body_end..]);
    // SAFETY: SSE2 is part of x86-64; the fence orders the streaming stores before later stores
    // (such as the release that hands the data to another thread).
    unsafe { _mm_sfence() }
}

impl Simd for Avx2 {
    type Reg = __m256d;
    type Bits = __m256i;
    type Mask = __m256d;
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(self, x: f64) -> __m256d {
        guarded!(_mm256_set1_pd(x))
    }
    #[inline(always)]
    fn load(self, s: &[f64]) -> __m256d {
        let s = &s[..4];
        // SAFETY: `s` holds 4 f64 (checked above) and the token guarantees AVX.
        unsafe { _mm256_loadu_pd(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m256d, s: &mut [f64]) {
        let s = &mut s[..4];
        // SAFETY: `s` holds 4 f64 (checked above) and the token guarantees AVX.
        unsafe { _mm256_storeu_pd(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_add_pd(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_sub_pd(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_mul_pd(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_div_pd(a, b))
    }
    #[inline(always)]
    fn mul_add(self, a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        guarded!(_mm256_fmadd_pd(a, b, c))
    }
    #[inline(always)]
    fn sqrt(self, a: __m256d) -> __m256d {
        guarded!(_mm256_sqrt_pd(a))
    }
    #[inline(always)]
    fn abs(self, a: __m256d) -> __m256d {
        guarded!(_mm256_andnot_pd(_mm256_set1_pd(-0.0), a))
    }
    #[inline(always)]
    fn lt(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_cmp_pd::<_CMP_LT_OQ>(a, b))
    }
    #[inline(always)]
    fn le(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_cmp_pd::<_CMP_LE_OQ>(a, b))
    }
    #[inline(always)]
    fn eq(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_cmp_pd::<_CMP_EQ_OQ>(a, b))
    }
    #[inline(always)]
    fn and(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_and_pd(a, b))
    }
    #[inline(always)]
    fn or(self, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_or_pd(a, b))
    }
    #[inline(always)]
    fn not(self, a: __m256d) -> __m256d {
        guarded!(_mm256_xor_pd(
            a,
            _mm256_castsi256_pd(_mm256_set1_epi64x(-1))
        ))
    }
    #[inline(always)]
    fn any(self, m: __m256d) -> bool {
        guarded!(_mm256_movemask_pd(m) != 0)
    }
    #[inline(always)]
    fn all(self, m: __m256d) -> bool {
        guarded!(_mm256_movemask_pd(m) == 0b1111)
    }
    #[inline(always)]
    fn select(self, m: __m256d, a: __m256d, b: __m256d) -> __m256d {
        guarded!(_mm256_blendv_pd(b, a, m))
    }
    #[inline(always)]
    fn sum_lanes(self, a: __m256d) -> f64 {
        guarded!({
            let lo = _mm256_castpd256_pd128(a);
            let hi = _mm256_extractf128_pd::<1>(a);
            let s = _mm_add_pd(lo, hi); // (a0 + a2, a1 + a3)
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        })
    }
    #[inline(always)]
    fn to_bits(self, a: __m256d) -> __m256i {
        guarded!(_mm256_castpd_si256(a))
    }
    #[inline(always)]
    fn bits_to_float(self, a: __m256i) -> __m256d {
        guarded!(_mm256_castsi256_pd(a))
    }
    #[inline(always)]
    fn splat_bits(self, x: u64) -> __m256i {
        guarded!(_mm256_set1_epi64x(x as i64))
    }
    #[inline(always)]
    fn bits_add(self, a: __m256i, b: __m256i) -> __m256i {
        guarded!(_mm256_add_epi64(a, b))
    }
    #[inline(always)]
    fn bits_and(self, a: __m256i, b: __m256i) -> __m256i {
        guarded!(_mm256_and_si256(a, b))
    }
    #[inline(always)]
    fn bits_or(self, a: __m256i, b: __m256i) -> __m256i {
        guarded!(_mm256_or_si256(a, b))
    }
    #[inline(always)]
    fn bits_shl52(self, a: __m256i) -> __m256i {
        guarded!(_mm256_slli_epi64::<52>(a))
    }
    #[inline(always)]
    fn bits_shr52(self, a: __m256i) -> __m256i {
        guarded!(_mm256_srli_epi64::<52>(a))
    }
    #[inline(always)]
    fn copy_streaming(self, src: &[f64], dst: &mut [f64]) {
        copy_streaming_with(src, dst, 32, 4, |d, s| {
            let v = self.load(s);
            assert!(d.len() == 4 && d.as_ptr().align_offset(32) == 0);
            // SAFETY: `d` holds 4 f64 at a 32-byte aligned address (checked) and the token
            // guarantees AVX.
            unsafe { _mm256_stream_pd(d.as_mut_ptr(), v) }
        });
    }
}

impl Simd for Avx512 {
    type Reg = __m512d;
    type Bits = __m512i;
    type Mask = __mmask8;
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(self, x: f64) -> __m512d {
        guarded!(_mm512_set1_pd(x))
    }
    #[inline(always)]
    fn load(self, s: &[f64]) -> __m512d {
        let s = &s[..8];
        // SAFETY: `s` holds 8 f64 (checked above) and the token guarantees AVX-512F.
        unsafe { _mm512_loadu_pd(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m512d, s: &mut [f64]) {
        let s = &mut s[..8];
        // SAFETY: `s` holds 8 f64 (checked above) and the token guarantees AVX-512F.
        unsafe { _mm512_storeu_pd(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m512d, b: __m512d) -> __m512d {
        guarded!(_mm512_add_pd(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m512d, b: __m512d) -> __m512d {
        guarded!(_mm512_sub_pd(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m512d, b: __m512d) -> __m512d {
        guarded!(_mm512_mul_pd(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m512d, b: __m512d) -> __m512d {
        guarded!(_mm512_div_pd(a, b))
    }
    #[inline(always)]
    fn mul_add(self, a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        guarded!(_mm512_fmadd_pd(a, b, c))
    }
    #[inline(always)]
    fn sqrt(self, a: __m512d) -> __m512d {
        guarded!(_mm512_sqrt_pd(a))
    }
    #[inline(always)]
    fn abs(self, a: __m512d) -> __m512d {
        guarded!(_mm512_abs_pd(a))
    }
    #[inline(always)]
    fn lt(self, a: __m512d, b: __m512d) -> __mmask8 {
        guarded!(_mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, b))
    }
    #[inline(always)]
    fn le(self, a: __m512d, b: __m512d) -> __mmask8 {
        guarded!(_mm512_cmp_pd_mask::<_CMP_LE_OQ>(a, b))
    }
    #[inline(always)]
    fn eq(self, a: __m512d, b: __m512d) -> __mmask8 {
        guarded!(_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(a, b))
    }
    #[inline(always)]
    fn and(self, a: __mmask8, b: __mmask8) -> __mmask8 {
        a & b
    }
    #[inline(always)]
    fn or(self, a: __mmask8, b: __mmask8) -> __mmask8 {
        a | b
    }
    #[inline(always)]
    fn not(self, a: __mmask8) -> __mmask8 {
        !a
    }
    #[inline(always)]
    fn any(self, m: __mmask8) -> bool {
        m != 0
    }
    #[inline(always)]
    fn all(self, m: __mmask8) -> bool {
        m == 0xff
    }
    #[inline(always)]
    fn select(self, m: __mmask8, a: __m512d, b: __m512d) -> __m512d {
        guarded!(_mm512_mask_blend_pd(m, b, a))
    }
    #[inline(always)]
    fn sum_lanes(self, a: __m512d) -> f64 {
        guarded!({
            let lo = _mm512_castpd512_pd256(a);
            let hi = _mm512_extractf64x4_pd::<1>(a);
            Avx2(()).sum_lanes(_mm256_add_pd(lo, hi))
        })
    }
    #[inline(always)]
    fn to_bits(self, a: __m512d) -> __m512i {
        guarded!(_mm512_castpd_si512(a))
    }
    #[inline(always)]
    fn bits_to_float(self, a: __m512i) -> __m512d {
        guarded!(_mm512_castsi512_pd(a))
    }
    #[inline(always)]
    fn splat_bits(self, x: u64) -> __m512i {
        guarded!(_mm512_set1_epi64(x as i64))
    }
    #[inline(always)]
    fn bits_add(self, a: __m512i, b: __m512i) -> __m512i {
        guarded!(_mm512_add_epi64(a, b))
    }
    #[inline(always)]
    fn bits_and(self, a: __m512i, b: __m512i) -> __m512i {
        guarded!(_mm512_and_si512(a, b))
    }
    #[inline(always)]
    fn bits_or(self, a: __m512i, b: __m512i) -> __m512i {
        guarded!(_mm512_or_si512(a, b))
    }
    #[inline(always)]
    fn bits_shl52(self, a: __m512i) -> __m512i {
        guarded!(_mm512_slli_epi64::<52>(a))
    }
    #[inline(always)]
    fn bits_shr52(self, a: __m512i) -> __m512i {
        guarded!(_mm512_srli_epi64::<52>(a))
    }
    #[inline(always)]
    fn copy_streaming(self, src: &[f64], dst: &mut [f64]) {
        copy_streaming_with(src, dst, 64, 8, |d, s| {
            let v = self.load(s);
            assert!(d.len() == 8 && d.as_ptr().align_offset(64) == 0);
            // SAFETY: `d` holds 8 f64 at a 64-byte aligned address (checked) and the token
            // guarantees AVX-512F.
            unsafe { _mm512_stream_pd(d.as_mut_ptr(), v) }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avx2_and_avx512_agree_with_scalar_on_edge_values() {
        if let Some(t) = Avx2::detect() {
            super::super::conformance::agrees_with_scalar(t);
        }
        if let Some(t) = Avx512::detect() {
            super::super::conformance::agrees_with_scalar(t);
        }
    }
}
