//! The checks every SIMD backend passes against [`Scalar`]: each [`Simd`] method, lane by lane, on
//! edge values (NaN, ±inf, ±0, subnormals, the largest finite values) placed in every lane.

use super::{MAX_LANES, Scalar, Simd};

/// Values whose pairs exercise every special case of the float operations.
const EDGES: [f64; 20] = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    3.0,
    -7.25,
    1e300,
    -1e-300,
    1e16,
    f64::MIN_POSITIVE,
    f64::MIN_POSITIVE / 4.0, // subnormal
    -5e-324,                 // the smallest subnormal
    f64::MAX,
    -f64::MAX,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    -f64::NAN,
    f64::EPSILON,
];

/// Bit patterns for the integer operations: carries across the 32-bit halves and out of the top.
const BITS: [u64; 8] = [
    0,
    1,
    u64::MAX,
    0xffff_ffff,
    0x8000_0000_0000_0000,
    0x7ff0_0000_0000_0000,
    0x0123_4567_89ab_cdef,
    0xfedc_ba98_7654_3210,
];

/// Equal bits, or both NaN (the payload of a NaN result is not part of the contract).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn lanes<S: Simd>(s: S, v: S::Reg) -> Vec<f64> {
    let mut b = [0.0; MAX_LANES];
    s.store(v, &mut b);
    b[..S::LANES].to_vec()
}

fn mask_lanes<S: Simd>(s: S, m: S::Mask) -> Vec<bool> {
    let v = s.select(m, s.splat(1.0), s.splat(0.0));
    lanes(s, v).iter().map(|&x| x == 1.0).collect()
}

fn bit_lanes<S: Simd>(s: S, b: S::Bits) -> Vec<u64> {
    let v = s.bits_to_float(b);
    lanes(s, v).iter().map(|x| x.to_bits()).collect()
}

/// `xs` cut into vectors of `lanes` values (the last one padded by wrapping around).
fn vectors<T: Copy>(xs: &[T], lanes: usize) -> Vec<Vec<T>> {
    (0..xs.len().div_ceil(lanes))
        .map(|k| (0..lanes).map(|j| xs[(k * lanes + j) % xs.len()]).collect())
        .collect()
}

/// Vectors `(a, b)` of `lanes` lanes holding every ordered pair of `values`, each pair once in every
/// lane position.
fn every_pair_in_every_lane<T: Copy>(values: &[T], lanes: usize) -> Vec<(Vec<T>, Vec<T>)> {
    let pairs: Vec<(T, T)> = values
        .iter()
        .flat_map(|&a| values.iter().map(move |&b| (a, b)))
        .collect();
    (0..lanes)
        .flat_map(|shift| {
            let mut p = pairs.clone();
            p.rotate_left(shift);
            vectors(&p, lanes)
        })
        .map(|v| v.into_iter().unzip())
        .collect()
}

/// The lanes added as the trait documents: the upper half onto the lower until one lane is left.
fn halving_sum(mut x: Vec<f64>) -> f64 {
    while x.len() > 1 {
        let h = x.len() / 2;
        x = (0..h).map(|k| x[k] + x[k + h]).collect();
    }
    x[0]
}

/// Panics naming the method, the inputs and both results at the first lane where `s` and
/// [`Scalar`] disagree.
pub(super) fn agrees_with_scalar<S: Simd>(s: S) {
    let n = S::LANES;
    let o = Scalar;
    for (va, vb) in every_pair_in_every_lane(&EDGES, n) {
        let (a, b) = (s.load(&va), s.load(&vb));
        let check = |name: &str, got: Vec<f64>, want: &dyn Fn(f64, f64) -> f64| {
            for j in 0..n {
                let w = want(va[j], vb[j]);
                assert!(
                    same(got[j], w),
                    "{name}({:e}, {:e}) lane {j}: {:e}, expected {w:e}",
                    va[j],
                    vb[j],
                    got[j]
                );
            }
        };
        check("add", lanes(s, s.add(a, b)), &|x, y| o.add(x, y));
        check("sub", lanes(s, s.sub(a, b)), &|x, y| o.sub(x, y));
        check("mul", lanes(s, s.mul(a, b)), &|x, y| o.mul(x, y));
        check("div", lanes(s, s.div(a, b)), &|x, y| o.div(x, y));
        check("sqrt", lanes(s, s.sqrt(a)), &|x, _| o.sqrt(x));
        // abs is a bit operation: exact, NaN's payload and cleared sign included.
        let abs = lanes(s, s.abs(a));
        for j in 0..n {
            assert_eq!(abs[j].to_bits(), o.abs(va[j]).to_bits(), "abs({:e})", va[j]);
        }
        // Fused (one rounding), as `f64::mul_add`; Scalar has no FMA (two roundings).
        for &c in &[0.0, -0.0, -1.0, 1e-17, f64::INFINITY, f64::NAN] {
            let got = lanes(s, s.mul_add(a, b, s.splat(c)));
            check("mul_add", got, &|x, y| x.mul_add(y, c));
        }

        let (lt, le, eq) = (s.lt(a, b), s.le(a, b), s.eq(a, b));
        let masks = |name: &str, m: S::Mask, want: &dyn Fn(f64, f64) -> bool| {
            let got = mask_lanes(s, m);
            let w: Vec<bool> = (0..n).map(|j| want(va[j], vb[j])).collect();
            assert_eq!(got, w, "{name}({va:?}, {vb:?})");
            assert_eq!(
                s.any(m),
                w.iter().any(|&x| x),
                "any of {name}({va:?}, {vb:?})"
            );
            assert_eq!(
                s.all(m),
                w.iter().all(|&x| x),
                "all of {name}({va:?}, {vb:?})"
            );
        };
        masks("lt", lt, &|x, y| o.lt(x, y));
        masks("le", le, &|x, y| o.le(x, y));
        masks("eq", eq, &|x, y| o.eq(x, y));
        masks("lt & eq", s.and(lt, eq), &|x, y| {
            o.and(o.lt(x, y), o.eq(x, y))
        });
        masks("le & !eq", s.and(le, s.not(eq)), &|x, y| {
            o.and(o.le(x, y), o.not(o.eq(x, y)))
        });
        masks("lt | eq", s.or(lt, eq), &|x, y| {
            o.or(o.lt(x, y), o.eq(x, y))
        });
        masks("!lt", s.not(lt), &|x, y| o.not(o.lt(x, y)));
        // select must pass the chosen lane's bits through untouched (NaN payloads, -0.0).
        let sel = lanes(s, s.select(lt, a, b));
        for j in 0..n {
            let w = o.select(o.lt(va[j], vb[j]), va[j], vb[j]);
            assert_eq!(
                sel[j].to_bits(),
                w.to_bits(),
                "select lt({}, {})",
                va[j],
                vb[j]
            );
        }

        let want_sum = halving_sum(va.clone());
        let got_sum = s.sum_lanes(a);
        assert!(
            same(got_sum, want_sum),
            "sum_lanes({va:?}): {got_sum:e}, {want_sum:e}"
        );
        let bits = bit_lanes(s, s.to_bits(a));
        let want_bits: Vec<u64> = va.iter().map(|&x| o.to_bits(x)).collect();
        assert_eq!(bits, want_bits, "to_bits({va:?})");
    }
    // The lanes are added in the documented order (a different order rounds differently here).
    let cancel = [1e16, 1.0, -1e16, 1.0, 3.0, 1e-3, -3.0, 0.5];
    for v in vectors(&cancel, n) {
        assert_eq!(
            s.sum_lanes(s.load(&v)).to_bits(),
            halving_sum(v.clone()).to_bits(),
            "sum_lanes({v:?})"
        );
    }

    for (ua, ub) in every_pair_in_every_lane(&BITS, n) {
        let fa: Vec<f64> = ua.iter().map(|&u| f64::from_bits(u)).collect();
        let fb: Vec<f64> = ub.iter().map(|&u| f64::from_bits(u)).collect();
        let (a, b) = (s.to_bits(s.load(&fa)), s.to_bits(s.load(&fb)));
        let check = |name: &str, got: S::Bits, want: &dyn Fn(u64, u64) -> u64| {
            let got = bit_lanes(s, got);
            let w: Vec<u64> = (0..n).map(|j| want(ua[j], ub[j])).collect();
            assert_eq!(got, w, "{name}({ua:x?}, {ub:x?})");
        };
        check("bits_add", s.bits_add(a, b), &|x, y| o.bits_add(x, y));
        check("bits_and", s.bits_and(a, b), &|x, y| o.bits_and(x, y));
        check("bits_or", s.bits_or(a, b), &|x, y| o.bits_or(x, y));
        check("bits_shl52", s.bits_shl52(a), &|x, _| o.bits_shl52(x));
        check("bits_shr52", s.bits_shr52(a), &|x, _| o.bits_shr52(x));
        check("splat_bits", s.splat_bits(ub[0]), &|_, _| ub[0]);
        let round = lanes(s, s.bits_to_float(a));
        let round: Vec<u64> = round.iter().map(|x| x.to_bits()).collect();
        assert_eq!(round, ua, "bits_to_float");
    }
    for &x in &EDGES {
        let v = lanes(s, s.splat(x));
        assert!(v.iter().all(|&y| y.to_bits() == x.to_bits()), "splat({x})");
    }
}
