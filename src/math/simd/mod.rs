//! Explicit SIMD for the hot loops: one generic kernel body, compiled per instruction set and picked at
//! run time.
//!
//! The crate is compiled for baseline x86-64, so LLVM alone would use SSE2 at best, and it does not
//! vectorise float reductions (they are not associative; on aarch64, where NEON is the baseline, the
//! reductions are the reason for explicit lanes). Kernels are therefore written once over
//! [`V<S>`], a vector of `S::LANES` f64 with the usual operators, for a backend `S: Simd`: on x86-64
//! `Avx512` (8 lanes) or `Avx2` (4 lanes, FMA), on aarch64 `Neon` (2 lanes, FMA), and [`Scalar`]
//! (1 lane, any architecture). [`multiversion!`] compiles a body for each backend inside a
//! `#[target_feature]` function and calls the best one the CPU supports, detected once.
//!
//! Reductions keep one partial sum per lane and add the lanes in a fixed order at the end, so a result
//! depends only on the inputs and the backend (the backends differ in the last bits).

use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "aarch64")]
pub use neon::Neon;

#[cfg(test)]
mod conformance;

/// A SIMD backend: a zero-sized token whose existence proves the CPU runs its instructions.
///
/// `Reg` holds `LANES` f64, `Bits` their bit patterns as u64, `Mask` a per-lane boolean.
pub trait Simd: Copy {
    type Reg: Copy;
    type Bits: Copy;
    type Mask: Copy;
    const LANES: usize;

    fn splat(self, x: f64) -> Self::Reg;
    /// The first `LANES` values of `s` (panics when `s` is shorter).
    fn load(self, s: &[f64]) -> Self::Reg;
    /// Writes the lanes to the first `LANES` values of `s` (panics when `s` is shorter).
    fn store(self, v: Self::Reg, s: &mut [f64]);
    fn add(self, a: Self::Reg, b: Self::Reg) -> Self::Reg;
    fn sub(self, a: Self::Reg, b: Self::Reg) -> Self::Reg;
    fn mul(self, a: Self::Reg, b: Self::Reg) -> Self::Reg;
    fn div(self, a: Self::Reg, b: Self::Reg) -> Self::Reg;
    /// `a·b + c`, rounded once where the backend has FMA.
    fn mul_add(self, a: Self::Reg, b: Self::Reg, c: Self::Reg) -> Self::Reg;
    fn sqrt(self, a: Self::Reg) -> Self::Reg;
    fn abs(self, a: Self::Reg) -> Self::Reg;
    /// `a < b`, `a <= b`, `a == b` per lane; false where either is NaN (as Rust's operators).
    fn lt(self, a: Self::Reg, b: Self::Reg) -> Self::Mask;
    fn le(self, a: Self::Reg, b: Self::Reg) -> Self::Mask;
    fn eq(self, a: Self::Reg, b: Self::Reg) -> Self::Mask;
    fn and(self, a: Self::Mask, b: Self::Mask) -> Self::Mask;
    fn or(self, a: Self::Mask, b: Self::Mask) -> Self::Mask;
    fn not(self, a: Self::Mask) -> Self::Mask;
    fn any(self, m: Self::Mask) -> bool;
    fn all(self, m: Self::Mask) -> bool;
    /// `m ? a : b` per lane.
    fn select(self, m: Self::Mask, a: Self::Reg, b: Self::Reg) -> Self::Reg;
    /// The sum of the lanes, in a fixed order: the upper half of the lanes added to the lower half
    /// until one lane is left (`(a0 + a2) + (a1 + a3)` for 4 lanes).
    fn sum_lanes(self, a: Self::Reg) -> f64;
    fn to_bits(self, a: Self::Reg) -> Self::Bits;
    fn bits_to_float(self, a: Self::Bits) -> Self::Reg;
    fn splat_bits(self, x: u64) -> Self::Bits;
    fn bits_add(self, a: Self::Bits, b: Self::Bits) -> Self::Bits;
    fn bits_and(self, a: Self::Bits, b: Self::Bits) -> Self::Bits;
    fn bits_or(self, a: Self::Bits, b: Self::Bits) -> Self::Bits;
    fn bits_shl52(self, a: Self::Bits) -> Self::Bits;
    fn bits_shr52(self, a: Self::Bits) -> Self::Bits;

    /// `dst.copy_from_slice(src)` with streaming (non-temporal) stores where the backend has them,
    /// for data written once and read much later: it neither evicts the working set nor is read in
    /// before being overwritten.
    #[inline(always)]
    fn copy_streaming(self, src: &[f64], dst: &mut [f64]) {
        dst.copy_from_slice(src);
    }

    /// `x` in every lane, as a [`V`].
    #[inline(always)]
    fn v(self, x: f64) -> V<Self> {
        V(self.splat(x), self)
    }
}

/// One lane, plain f64 arithmetic: the fallback on every architecture.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

impl Simd for Scalar {
    type Reg = f64;
    type Bits = u64;
    type Mask = bool;
    const LANES: usize = 1;

    #[inline(always)]
    fn splat(self, x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn load(self, s: &[f64]) -> f64 {
        s[0]
    }
    #[inline(always)]
    fn store(self, v: f64, s: &mut [f64]) {
        s[0] = v;
    }
    #[inline(always)]
    fn add(self, a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: f64, b: f64) -> f64 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f64, b: f64) -> f64 {
        a * b
    }
    #[inline(always)]
    fn div(self, a: f64, b: f64) -> f64 {
        a / b
    }
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64, c: f64) -> f64 {
        a * b + c // no FMA assumed: `f64::mul_add` would be a slow libm call
    }
    #[inline(always)]
    fn sqrt(self, a: f64) -> f64 {
        a.sqrt()
    }
    #[inline(always)]
    fn abs(self, a: f64) -> f64 {
        a.abs()
    }
    #[inline(always)]
    fn lt(self, a: f64, b: f64) -> bool {
        a < b
    }
    #[inline(always)]
    fn le(self, a: f64, b: f64) -> bool {
        a <= b
    }
    #[inline(always)]
    fn eq(self, a: f64, b: f64) -> bool {
        a == b
    }
    #[inline(always)]
    fn and(self, a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    fn or(self, a: bool, b: bool) -> bool {
        a | b
    }
    #[inline(always)]
    fn not(self, a: bool) -> bool {
        !a
    }
    #[inline(always)]
    fn any(self, m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn all(self, m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn select(self, m: bool, a: f64, b: f64) -> f64 {
        if m { a } else { b }
    }
    #[inline(always)]
    fn sum_lanes(self, a: f64) -> f64 {
        a
    }
    #[inline(always)]
    fn to_bits(self, a: f64) -> u64 {
        a.to_bits()
    }
    #[inline(always)]
    fn bits_to_float(self, a: u64) -> f64 {
        f64::from_bits(a)
    }
    #[inline(always)]
    fn splat_bits(self, x: u64) -> u64 {
        x
    }
    #[inline(always)]
    fn bits_add(self, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn bits_and(self, a: u64, b: u64) -> u64 {
        a & b
    }
    #[inline(always)]
    fn bits_or(self, a: u64, b: u64) -> u64 {
        a | b
    }
    #[inline(always)]
    fn bits_shl52(self, a: u64) -> u64 {
        a << 52
    }
    #[inline(always)]
    fn bits_shr52(self, a: u64) -> u64 {
        a >> 52
    }
}

/// `S::LANES` f64 values with arithmetic operators (an `f64` operand is broadcast).
#[derive(Clone, Copy, Debug)]
pub struct V<S: Simd>(pub S::Reg, pub S);

/// Per-lane booleans from comparing two [`V`].
#[derive(Clone, Copy, Debug)]
pub struct M<S: Simd>(pub S::Mask, pub S);

/// Bit patterns of the lanes of a [`V`].
#[derive(Clone, Copy, Debug)]
pub struct U<S: Simd>(pub S::Bits, pub S);

impl<S: Simd> V<S> {
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        V(self.1.sqrt(self.0), self.1)
    }
    #[inline(always)]
    pub fn abs(self) -> Self {
        V(self.1.abs(self.0), self.1)
    }
    /// `self·b + c`, fused where the backend has FMA.
    #[inline(always)]
    pub fn mul_add(self, b: impl IntoV<S>, c: impl IntoV<S>) -> Self {
        let s = self.1;
        V(s.mul_add(self.0, b.into_v(s).0, c.into_v(s).0), s)
    }
    #[inline(always)]
    pub fn lt(self, b: impl IntoV<S>) -> M<S> {
        M(self.1.lt(self.0, b.into_v(self.1).0), self.1)
    }
    #[inline(always)]
    pub fn le(self, b: impl IntoV<S>) -> M<S> {
        M(self.1.le(self.0, b.into_v(self.1).0), self.1)
    }
    #[inline(always)]
    pub fn gt(self, b: impl IntoV<S>) -> M<S> {
        M(self.1.lt(b.into_v(self.1).0, self.0), self.1)
    }
    #[inline(always)]
    pub fn ge(self, b: impl IntoV<S>) -> M<S> {
        M(self.1.le(b.into_v(self.1).0, self.0), self.1)
    }
    #[inline(always)]
    pub fn eq(self, b: impl IntoV<S>) -> M<S> {
        M(self.1.eq(self.0, b.into_v(self.1).0), self.1)
    }
    /// True in the lanes holding a finite number.
    #[inline(always)]
    pub fn is_finite(self) -> M<S> {
        self.abs().lt(f64::INFINITY)
    }
    #[inline(always)]
    pub fn to_bits(self) -> U<S> {
        U(self.1.to_bits(self.0), self.1)
    }
    #[inline(always)]
    pub fn sum_lanes(self) -> f64 {
        self.1.sum_lanes(self.0)
    }
}

impl<S: Simd> M<S> {
    /// `self ? a : b` per lane.
    #[inline(always)]
    pub fn select(self, a: impl IntoV<S>, b: impl IntoV<S>) -> V<S> {
        let s = self.1;
        V(s.select(self.0, a.into_v(s).0, b.into_v(s).0), s)
    }
    #[inline(always)]
    pub fn any(self) -> bool {
        self.1.any(self.0)
    }
    #[inline(always)]
    pub fn all(self) -> bool {
        self.1.all(self.0)
    }
}

impl<S: Simd> U<S> {
    #[inline(always)]
    pub fn to_float(self) -> V<S> {
        V(self.1.bits_to_float(self.0), self.1)
    }
    #[inline(always)]
    pub fn wrapping_add(self, b: u64) -> Self {
        U(self.1.bits_add(self.0, self.1.splat_bits(b)), self.1)
    }
    #[inline(always)]
    pub fn shl52(self) -> Self {
        U(self.1.bits_shl52(self.0), self.1)
    }
    #[inline(always)]
    pub fn shr52(self) -> Self {
        U(self.1.bits_shr52(self.0), self.1)
    }
}

impl<S: Simd> BitAnd<u64> for U<S> {
    type Output = Self;
    #[inline(always)]
    fn bitand(self, b: u64) -> Self {
        U(self.1.bits_and(self.0, self.1.splat_bits(b)), self.1)
    }
}

impl<S: Simd> BitOr<u64> for U<S> {
    type Output = Self;
    #[inline(always)]
    fn bitor(self, b: u64) -> Self {
        U(self.1.bits_or(self.0, self.1.splat_bits(b)), self.1)
    }
}

impl<S: Simd> BitAnd for M<S> {
    type Output = Self;
    #[inline(always)]
    fn bitand(self, b: Self) -> Self {
        M(self.1.and(self.0, b.0), self.1)
    }
}

impl<S: Simd> BitOr for M<S> {
    type Output = Self;
    #[inline(always)]
    fn bitor(self, b: Self) -> Self {
        M(self.1.or(self.0, b.0), self.1)
    }
}

impl<S: Simd> Not for M<S> {
    type Output = Self;
    #[inline(always)]
    fn not(self) -> Self {
        M(self.1.not(self.0), self.1)
    }
}

/// A [`V`] or an `f64` to broadcast.
pub trait IntoV<S: Simd>: Copy {
    fn into_v(self, s: S) -> V<S>;
}

impl<S: Simd> IntoV<S> for V<S> {
    #[inline(always)]
    fn into_v(self, _: S) -> V<S> {
        self
    }
}

impl<S: Simd> IntoV<S> for f64 {
    #[inline(always)]
    fn into_v(self, s: S) -> V<S> {
        s.v(self)
    }
}

macro_rules! binary_op {
    ($trait:ident, $method:ident) => {
        impl<S: Simd, B: IntoV<S>> $trait<B> for V<S> {
            type Output = V<S>;
            #[inline(always)]
            fn $method(self, b: B) -> V<S> {
                V(self.1.$method(self.0, b.into_v(self.1).0), self.1)
            }
        }

        impl<S: Simd> $trait<V<S>> for f64 {
            type Output = V<S>;
            #[inline(always)]
            fn $method(self, b: V<S>) -> V<S> {
                V(b.1.$method(b.1.splat(self), b.0), b.1)
            }
        }
    };
}

binary_op!(Add, add);
binary_op!(Sub, sub);
binary_op!(Mul, mul);
binary_op!(Div, div);

impl<S: Simd> Neg for V<S> {
    type Output = V<S>;
    #[inline(always)]
    fn neg(self) -> V<S> {
        V(self.1.mul(self.1.splat(-1.0), self.0), self.1)
    }
}

/// The backend the kernels run on in this process.
#[derive(Clone, Copy, Debug)]
pub enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
    #[cfg(target_arch = "aarch64")]
    Neon(Neon),
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2(_) => "avx2",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512(_) => "avx512",
            #[cfg(target_arch = "aarch64")]
            Level::Neon(_) => "neon",
        }
    }
}

/// The best backend this CPU supports, detected once. `KDVIZ_SIMD` names a cap ([`SIMD_CAPS`]:
/// `scalar` or `avx2` on x86-64, `scalar` on aarch64) to test or time the other versions; a backend
/// the CPU lacks is never chosen.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let raw = std::env::var("KDVIZ_SIMD").unwrap_or_default();
        let cap = simd_cap(&raw).unwrap_or_else(|e| {
            // A library cannot fail here (every caller needs a backend): say so once, use the best.
            eprintln!("kdviz: warning: {e}");
            ""
        });
        detect(cap)
    })
}

/// The values `KDVIZ_SIMD` accepts on this architecture (its backends, slowest first); unset or
/// empty means no cap.
#[cfg(target_arch = "x86_64")]
pub const SIMD_CAPS: &[&str] = &["scalar", "avx2", "avx512"];
/// The values `KDVIZ_SIMD` accepts on this architecture (its backends, slowest first); unset or
/// empty means no cap.
#[cfg(target_arch = "aarch64")]
pub const SIMD_CAPS: &[&str] = &["scalar", "neon"];
/// The values `KDVIZ_SIMD` accepts on this architecture; unset or empty means no cap.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const SIMD_CAPS: &[&str] = &["scalar"];

/// Checks a `KDVIZ_SIMD` value: the cap it names, or a message naming the accepted values.
pub fn simd_cap(raw: &str) -> Result<&str, String> {
    let v = raw.trim();
    if v.is_empty() || SIMD_CAPS.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "KDVIZ_SIMD={raw:?} is not a SIMD backend; expected one of {} (or unset); using the \
             best this CPU supports",
            SIMD_CAPS.join(", ")
        ))
    }
}

#[cfg(target_arch = "x86_64")]
fn detect(cap: &str) -> Level {
    let avx512 = Avx512::detect().filter(|_| cap != "scalar" && cap != "avx2");
    let avx2 = Avx2::detect().filter(|_| cap != "scalar");
    match (avx512, avx2) {
        (Some(t), _) => Level::Avx512(t),
        (None, Some(t)) => Level::Avx2(t),
        (None, None) => Level::Scalar,
    }
}

#[cfg(target_arch = "aarch64")]
fn detect(cap: &str) -> Level {
    match Neon::detect().filter(|_| cap != "scalar") {
        Some(t) => Level::Neon(t),
        None => Level::Scalar,
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detect(_cap: &str) -> Level {
    Level::Scalar
}

/// Defines a function whose body is generic over the backend and dispatched on [`level`].
///
/// `fn name[s](args) -> T { body }`: the body sees the backend token as `s: S` (`S: Simd`) and the
/// arguments as declared; arguments are plain `name: Type` pairs. Each SIMD version is compiled inside
/// a `#[target_feature]` function, so the backend's intrinsics are inlined into one loop.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident[$s:ident]($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(unused_variables, clippy::too_many_arguments)]
            fn body<S: $crate::math::simd::Simd>($s: S, $($arg: $ty),*) $(-> $ret)? $body

            match $crate::math::simd::level() {
                #[cfg(target_arch = "x86_64")]
                $crate::math::simd::Level::Avx512(t) => {
                    #[target_feature(enable = "avx512f,avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    fn avx512(t: $crate::math::simd::Avx512, $($arg: $ty),*) $(-> $ret)? {
                        body(t, $($arg),*)
                    }
                    // SAFETY: the token `t` is only made after AVX-512F, AVX2 and FMA were detected.
                    unsafe { avx512(t, $($arg),*) }
                }
                #[cfg(target_arch = "x86_64")]
                $crate::math::simd::Level::Avx2(t) => {
                    #[target_feature(enable = "avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    fn avx2(t: $crate::math::simd::Avx2, $($arg: $ty),*) $(-> $ret)? {
                        body(t, $($arg),*)
                    }
                    // SAFETY: the token `t` is only made after AVX2 and FMA were detected.
                    unsafe { avx2(t, $($arg),*) }
                }
                #[cfg(target_arch = "aarch64")]
                $crate::math::simd::Level::Neon(t) => {
                    #[target_feature(enable = "neon")]
                    #[allow(clippy::too_many_arguments)]
                    fn neon(t: $crate::math::simd::Neon, $($arg: $ty),*) $(-> $ret)? {
                        body(t, $($arg),*)
                    }
                    // SAFETY: the token `t` is only made after NEON was detected.
                    unsafe { neon(t, $($arg),*) }
                }
                $crate::math::simd::Level::Scalar => body($crate::math::simd::Scalar, $($arg),*),
            }
        }
    };
}
pub(crate) use multiversion;

/// Defines `fn name(args) -> T` running `body` compiled for AVX-512 or AVX2+FMA (x86-64) or NEON
/// (aarch64) when the CPU has them, as [`level`] picks (so `KDVIZ_SIMD` caps it), with the const
/// `FMA` true there (`f32::mul_add` is then one instruction) and false on the baseline; for plain
/// loops that LLVM vectorises (the f32 engine), where [`multiversion!`] hands its body a [`Simd`]
/// token instead. `body` must be fully inlined to take the target's features: what it calls is
/// `#[inline(always)]`.
macro_rules! fma_versions {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$fma:ident>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn generic<const $fma: bool>($($arg: $ty),*) $(-> $ret)? $body

            match $crate::math::simd::level() {
                #[cfg(target_arch = "x86_64")]
                $crate::math::simd::Level::Avx512(_) => {
                    #[target_feature(enable = "avx512f,avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    fn avx512($($arg: $ty),*) $(-> $ret)? {
                        generic::<true>($($arg),*)
                    }
                    // SAFETY: the level is Avx512 only after AVX-512F, AVX2 and FMA were detected.
                    unsafe { avx512($($arg),*) }
                }
                #[cfg(target_arch = "x86_64")]
                $crate::math::simd::Level::Avx2(_) => {
                    #[target_feature(enable = "avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    fn avx2($($arg: $ty),*) $(-> $ret)? {
                        generic::<true>($($arg),*)
                    }
                    // SAFETY: the level is Avx2 only after AVX2 and FMA were detected.
                    unsafe { avx2($($arg),*) }
                }
                #[cfg(target_arch = "aarch64")]
                $crate::math::simd::Level::Neon(_) => {
                    #[target_feature(enable = "neon")]
                    #[allow(clippy::too_many_arguments)]
                    fn neon($($arg: $ty),*) $(-> $ret)? {
                        generic::<true>($($arg),*)
                    }
                    // SAFETY: the level is Neon only after NEON was detected (its FMA is part of it).
                    unsafe { neon($($arg),*) }
                }
                _ => generic::<false>($($arg),*),
            }
        }
    };
}
pub(crate) use fma_versions;

/// The most lanes of any backend (the size of the tail buffers).
const MAX_LANES: usize = 8;
/// `0, 1, 2, …`: compared with the tail length to mask the lanes past the end.
const LANE_INDEX: [f64; MAX_LANES] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];

/// Calls `f` on every index, `S::LANES` at a time: the lanes of `ins` go in, the first results are
/// stored to `outs`, the second are summed per lane. Returns the sums.
///
/// All slices must have the same length (checked). The tail is padded with zeros; the padding lanes'
/// results are discarded, whatever they are.
///
/// Mark the closure `#[inline(always)]`: a closure that is not inlined is compiled without the
/// kernel's target features, and every intrinsic in it becomes a function call.
#[inline(always)]
pub fn map_sum<S: Simd, const I: usize, const O: usize, const R: usize>(
    s: S,
    ins: [&[f64]; I],
    outs: [&mut [f64]; O],
    mut f: impl FnMut([V<S>; I]) -> ([V<S>; O], [V<S>; R]),
) -> [f64; R] {
    // The current values of `outs` are loaded but unused: the loads are dead code.
    update_sum(
        s,
        ins,
        outs,
        #[inline(always)]
        |x, _| f(x),
    )
}

/// [`map_sum`] where `f` also sees the current values of `outs` (updates in place).
#[inline(always)]
pub fn update_sum<S: Simd, const I: usize, const O: usize, const R: usize>(
    s: S,
    ins: [&[f64]; I],
    mut outs: [&mut [f64]; O],
    mut f: impl FnMut([V<S>; I], [V<S>; O]) -> ([V<S>; O], [V<S>; R]),
) -> [f64; R] {
    let n = ins
        .first()
        .map_or_else(|| outs.first().map_or(0, |o| o.len()), |x| x.len());
    assert!(ins.iter().all(|x| x.len() == n) && outs.iter().all(|o| o.len() == n));
    let lanes = S::LANES;
    let mut acc = [s.v(0.0); R];
    let full = n - n % lanes;
    let mut k = 0;
    while k < full {
        let x = std::array::from_fn(
            #[inline(always)]
            |j| V(s.load(&ins[j][k..]), s),
        );
        let old = std::array::from_fn(
            #[inline(always)]
            |j| V(s.load(&outs[j][k..]), s),
        );
        let (o, r) = f(x, old);
        for (out, v) in outs.iter_mut().zip(o) {
            s.store(v.0, &mut out[k..]);
        }
        for (a, v) in acc.iter_mut().zip(r) {
            *a = *a + v;
        }
        k += lanes;
    }
    if full < n {
        let rem = n - full;
        let old = std::array::from_fn(
            #[inline(always)]
            |j| load_tail(s, outs[j], full),
        );
        let x = std::array::from_fn(
            #[inline(always)]
            |j| load_tail(s, ins[j], full),
        );
        let (o, r) = f(x, old);
        for (out, v) in outs.iter_mut().zip(o) {
            let mut b = [0.0; MAX_LANES];
            s.store(v.0, &mut b);
            out[full..].copy_from_slice(&b[..rem]);
        }
        let valid = V(s.load(&LANE_INDEX), s).lt(rem as f64);
        for (a, v) in acc.iter_mut().zip(r) {
            *a = *a + valid.select(v, 0.0);
        }
    }
    std::array::from_fn(
        #[inline(always)]
        |j| acc[j].sum_lanes(),
    )
}

/// `x[from..]` (shorter than a vector) padded with zeros.
#[inline(always)]
fn load_tail<S: Simd>(s: S, x: &[f64], from: usize) -> V<S> {
    let mut b = [0.0; MAX_LANES];
    b[..x.len() - from].copy_from_slice(&x[from..]);
    V(s.load(&b), s)
}

/// The largest entry (`-inf` for an empty slice); NaN-free input assumed.
#[inline(always)]
pub fn max<S: Simd>(s: S, x: &[f64]) -> f64 {
    max_map(
        s,
        x,
        #[inline(always)]
        |v| v,
    )
}

/// The largest `f(x)` over the entries (`-inf` for an empty slice); NaN-free values assumed.
#[inline(always)]
pub fn max_map<S: Simd>(s: S, x: &[f64], f: impl Fn(V<S>) -> V<S>) -> f64 {
    let Some(&first) = x.first() else {
        return f64::NEG_INFINITY;
    };
    let mut m = s.v(f64::NEG_INFINITY);
    let mut chunks = x.chunks_exact(S::LANES);
    for c in &mut chunks {
        let v = f(V(s.load(c), s));
        m = v.gt(m).select(v, m);
    }
    // The tail padded with a repeat of the first entry, which cannot change the maximum.
    let mut tail = [first; MAX_LANES];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    let v = f(V(s.load(&tail), s));
    m = v.gt(m).select(v, m);
    let mut lanes = [f64::NEG_INFINITY; MAX_LANES];
    s.store(m.0, &mut lanes);
    lanes.into_iter().fold(f64::NEG_INFINITY, f64::max)
}

multiversion! {
    /// True when no entry is NaN or infinite.
    pub fn all_finite[s](x: &[f64]) -> bool {
        // The lanes' masks ANDed (a one-cycle chain per vector, where a sum waits on the adder).
        let mut ok = s.v(0.0).is_finite();
        let mut chunks = x.chunks_exact(S::LANES);
        for c in &mut chunks {
            ok = ok & V(s.load(c), s).is_finite();
        }
        ok.all() && chunks.remainder().iter().all(|v| v.is_finite())
    }
}

multiversion! {
    /// True when `a` and `b` hold the same numbers (`==` per entry, so never for NaN).
    pub fn equal[s](a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && {
            let [differ] = map_sum(s, [a, b], [], #[inline(always)] |[x, y]| {
                ([], [x.eq(y).select(0.0, 1.0)])
            });
            differ == 0.0
        }
    }
}

multiversion! {
    /// [`Simd::copy_streaming`] on the best backend.
    pub fn copy_streaming[s](src: &[f64], dst: &mut [f64]) {
        s.copy_streaming(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10, failure 10: `KDVIZ_SIMD=bogus` was silently ignored.
    #[test]
    fn simd_caps_are_checked() {
        assert_eq!(simd_cap(""), Ok(""));
        assert_eq!(simd_cap("scalar"), Ok("scalar"));
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(simd_cap(" avx2 "), Ok("avx2"));
            assert!(simd_cap("neon").is_err());
            assert_eq!(
                simd_cap("bogus").unwrap_err(),
                "KDVIZ_SIMD=\"bogus\" is not a SIMD backend; expected one of scalar, avx2, avx512 \
                 (or unset); using the best this CPU supports"
            );
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(simd_cap(" neon "), Ok("neon"));
            assert!(simd_cap("avx2").is_err());
            assert_eq!(
                simd_cap("bogus").unwrap_err(),
                "KDVIZ_SIMD=\"bogus\" is not a SIMD backend; expected one of scalar, neon (or \
                 unset); using the best this CPU supports"
            );
        }
    }

    /// The level in use is the one `KDVIZ_SIMD` asks for, when this CPU has it (the tests run under
    /// each cap: `scripts/test_aarch64.sh`, `KDVIZ_SIMD=scalar cargo test`).
    #[test]
    fn the_level_follows_the_cap() {
        let cap = simd_cap(&std::env::var("KDVIZ_SIMD").unwrap_or_default())
            .unwrap_or("")
            .to_owned();
        let name = level().name();
        if cap == "scalar" {
            assert_eq!(name, "scalar");
        }
        #[cfg(target_arch = "x86_64")]
        if cap == "avx2" {
            assert_ne!(name, "avx512");
        }
        #[cfg(target_arch = "aarch64")]
        if cap != "scalar" {
            assert_eq!(name, "neon", "every aarch64 CPU has NEON");
        }
        assert!(SIMD_CAPS.contains(&name), "{name}");
    }

    /// `all_finite` finds a NaN or an infinity at any position of any length (vectors and tail),
    /// and says true for finite slices, huge and subnormal entries included.
    #[test]
    fn all_finite_finds_every_bad_entry() {
        for len in 0..40 {
            let mut x: Vec<f64> = (0..len).map(|k| (k as f64 - 9.5) * 1e300).collect();
            if len > 2 {
                x[1] = f64::MIN_POSITIVE / 8.0;
                x[2] = -f64::MAX;
            }
            assert!(all_finite(&x), "{len}");
            for at in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut y = x.clone();
                    y[at] = bad;
                    assert!(!all_finite(&y), "{len} {at} {bad}");
                }
            }
        }
    }

    /// Streaming copies land exactly, whatever the length and the alignment of the destination.
    #[test]
    fn copy_streaming_copies_every_length_and_offset() {
        let src: Vec<f64> = (0..300).map(|k| k as f64 * 0.5 - 7.0).collect();
        for offset in 0..9 {
            for len in [0, 1, 3, 7, 8, 9, 16, 17, 63, 64, 65, 250] {
                let mut buf = vec![f64::NAN; offset + len + 3];
                copy_streaming(&src[..len], &mut buf[offset..offset + len]);
                assert_eq!(&buf[offset..offset + len], &src[..len]);
                assert!(
                    buf[..offset]
                        .iter()
                        .chain(&buf[offset + len..])
                        .all(|x| x.is_nan())
                );
            }
        }
    }
}
