//! The f32 engine against the f64 engine on the same f32 logits.

use super::*;
use crate::math::akl::{gaps, head_threshold};
use crate::math::kl::kl;
use crate::math::rng::Rng;
use crate::math::{LogDist, Workspace, value_and_grad as value_and_grad_f64};

/// The tolerance's unit: `1e-5` of the magnitude an f32 evaluation of the row carries (f32's ε is
/// 6e-8; a log-probability's rounding grows with its size, a sum's with the sum of its terms'
/// magnitudes; the worst observed on these rows is 5e-8 on values and 1e-6 on gradients).
const TOL: f64 = 1e-5;

/// Rows of many shapes: sizes around the lane count and above it; Gaussian logits of several
/// scales; logits of ±1e4; teacher zeros (`-inf`); a student equal to the teacher.
fn rows() -> Vec<(String, Vec<f32>, Vec<f32>)> {
    let mut rng = Rng::new(15);
    let mut out = Vec::new();
    for v in [2, 3, 15, 16, 17, 31, 100, 1001] {
        for (case, scale) in [("n(0,1)", 1.0), ("n(0,4)", 4.0), ("n(0,20)", 20.0)] {
            let mut g =
                |s: f64| -> Vec<f32> { (0..v).map(|_| (s * rng.normal()) as f32).collect() };
            let (t, z) = (g(scale), g(scale));
            out.push((format!("{case} V={v}"), t.clone(), z.clone()));
            // Teacher zeros in every third class (one class kept finite).
            let mut t0 = t.clone();
            for k in (1..v).step_by(3) {
                t0[k] = f32::NEG_INFINITY;
            }
            out.push((format!("{case} zeros V={v}"), t0, z));
        }
        let extreme = |rng: &mut Rng| -> Vec<f32> {
            (0..v)
                .map(|_| match (rng.uniform() * 3.0) as u32 {
                    0 => 1e4,
                    1 => -1e4,
                    _ => (3.0 * rng.normal()) as f32,
                })
                .collect()
        };
        let (t, z) = (extreme(&mut rng), extreme(&mut rng));
        out.push((format!("±1e4 V={v}"), t, z));
        let t: Vec<f32> = (0..v).map(|_| rng.normal() as f32).collect();
        out.push((format!("z = t V={v}"), t.clone(), t));
    }
    out
}

fn specs() -> Vec<&'static str> {
    vec![
        "fkl",
        "rkl",
        "tvd",
        "akl:mu=0.5",
        "jsd:beta=0.5",
        "jsd:beta=0.1",
        "jsd:beta=0.9",
    ]
}

#[test]
fn the_f32_engine_is_the_f64_engine_to_its_precision() {
    let mu = 0.5;
    let mut scr = Scratch32::default();
    let mut worst = [0f64; 2];
    for (case, t, z) in rows() {
        let v = t.len();
        let f64s = |x: &[f32]| x.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        let tp = LogDist::from_logits(&f64s(&t), true).unwrap();
        let sq = LogDist::from_logits(&f64s(&z), false).unwrap();
        let tc = Teacher32::new(&t, head_threshold(&t, mu));
        let mask = crate::math::akl::head_mask(&tp.p, mu);
        for spec in specs() {
            let div: Divergence = spec.parse().unwrap();
            if spec == "tvd" && case.starts_with("z = t") {
                continue; // p = q: the sub-gradient's sign(0) is decided by rounding
            }
            let fam = Family32::of(&div, mu).unwrap();
            let mut g32 = vec![f32::NAN; v];
            let got = value_and_grad(fam, &t, &tc, &z, &mut g32, &mut scr);
            let mut g64 = vec![0.0; v];
            let want = value_and_grad_f64(&div, &tp, &sq, &mut g64, &mut Workspace::default());
            let what = format!("{spec} {case}");
            // An f32 log-probability is off by about ε32·|log p|, so a probability by that
            // relative amount: class k weighs (p + q)(1 + |log p| + |log q|) (finite logs), the
            // row the sum of its classes.
            let fin = |x: f64| if x.is_finite() { x.abs() } else { 0.0 };
            let d = |k: usize| fin(tp.logp[k]) + fin(sq.logp[k]);
            let scale: f64 = (0..v).map(|k| (tp.p[k] + sq.p[k]) * (1.0 + d(k))).sum();
            let close = |a: f64, b: f64, s: f64| a == b || (a - b).abs() <= TOL * s;
            assert!(
                close(got.value, want, want.abs() + scale),
                "{what}: {} vs {want}",
                got.value
            );
            if !want.is_finite() {
                continue;
            }
            worst[0] = worst[0].max((got.value - want).abs() / (want.abs() + scale));
            for k in 0..v {
                let s = (tp.p[k] + sq.p[k]) * (1.0 + d(k) + scale);
                // Probabilities below f32's smallest normal are flushed to 0.
                let flushed = f64::from(f32::MIN_POSITIVE) * (1.0 + d(k) + scale);
                let e = (f64::from(g32[k]) - g64[k]).abs() - flushed;
                assert!(e <= TOL * s, "{what}: g[{k}] {} vs {}", g32[k], g64[k]);
                worst[1] = worst[1].max(e / s);
            }
            // The metrics.
            let kl_pq = clamp0(kl(&tp.logp, &tp.p, &sq.logp));
            let kl_qp = clamp0(kl(&sq.logp, &sq.p, &tp.logp));
            let (gh, gt) = gaps(&tp.p, &sq.p, &mask);
            assert!(
                close(got.kl_pq, kl_pq, kl_pq + scale),
                "{what}: kl_pq {} vs {kl_pq}",
                got.kl_pq
            );
            assert!(
                close(got.kl_qp, kl_qp, kl_qp + scale),
                "{what}: kl_qp {} vs {kl_qp}",
                got.kl_qp
            );
            assert!(
                close(got.head_gap, gh, 2.0),
                "{what}: head {} vs {gh}",
                got.head_gap
            );
            assert!(
                close(got.tail_gap, gt, 2.0),
                "{what}: tail {} vs {gt}",
                got.tail_gap
            );
            assert_eq!(
                got.z_max,
                z.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            );
        }
    }
    println!(
        "worst value error {:.2e}, gradient {:.2e} (units of the scale)",
        worst[0], worst[1]
    );
}

/// Every SIMD level gives the same numbers up to f32 rounding: the kernels are compiled per
/// level, and the level is chosen once per process, so this compares against the generic body
/// with the same multiply-adds (fused where the level has FMA; fused and unfused differ by an
/// ulp or two per `exp`, which a JSD gradient's cancellation can take past 1e-6, and both are
/// held to the f64 engine by the test above).
#[test]
fn the_dispatched_kernel_is_the_scalar_one() {
    let mut rng = Rng::new(7);
    let v = 777;
    let t: Vec<f32> = (0..v).map(|_| (3.0 * rng.normal()) as f32).collect();
    let z: Vec<f32> = (0..v).map(|_| (2.0 * rng.normal()) as f32).collect();
    let tc = Teacher32::new(&t, head_threshold(&t, 0.5));
    let fused = crate::math::simd::level().name() != "scalar";
    for spec in specs() {
        let fam = Family32::of(&spec.parse().unwrap(), 0.5).unwrap();
        let (mut a, mut b) = (vec![0.0; v], vec![0.0; v]);
        let (mut s1, mut s2) = (Scratch32::default(), Scratch32::default());
        let x = value_and_grad(fam, &t, &tc, &z, &mut a, &mut s1);
        for b in [&mut s2.p, &mut s2.q, &mut s2.lm] {
            b.resize(v.div_ceil(L), [0.0; L]);
        }
        let y = if fused {
            row::<true>(fam, (&t, &tc, &z), &mut b, &mut s2)
        } else {
            row::<false>(fam, (&t, &tc, &z), &mut b, &mut s2)
        };
        assert!((x.value - y.value).abs() <= 1e-6 * y.value.abs(), "{spec}");
        for k in 0..v {
            assert!(
                (a[k] - b[k]).abs() <= 1e-6 * (a[k].abs() + 1e-6),
                "{spec} {k}"
            );
        }
    }
}

#[test]
fn which_families_take_the_f32_engine() {
    let of = |s: &str| Family32::of(&s.parse().unwrap(), 0.5);
    assert_eq!(of("fkl"), Some(Family32::Fkl));
    assert_eq!(of("jsd:beta=0"), Some(Family32::Fkl));
    assert_eq!(of("jsd:beta=1"), Some(Family32::Rkl));
    assert_eq!(of("jsd:beta=0.3"), Some(Family32::Jsd { beta: 0.3 }));
    assert_eq!(of("akl:mu=0.5"), Some(Family32::Akl));
    for other in [
        "akl:mu=0.4",
        "akl:mu=0.5,convention=dskd",
        "jsd:beta=0.3,norm=true",
        "skl",
        "ab",
        "hinton",
    ] {
        assert_eq!(of(other), None, "{other}");
    }
}

/// Non-finite student logits give a NaN value (the trainer reports a diverged run), never a
/// finite one.
#[test]
fn a_non_finite_student_is_nan() {
    let t = [0.0f32, 1.0, 2.0];
    let tc = Teacher32::new(&t, head_threshold(&t, 0.5));
    for z in [[0.0, f32::NAN, 1.0], [0.0, f32::INFINITY, 1.0]] {
        for spec in specs() {
            let fam = Family32::of(&spec.parse().unwrap(), 0.5).unwrap();
            let r = value_and_grad(fam, &t, &tc, &z, &mut [0.0; 3], &mut Scratch32::default());
            assert!(r.value.is_nan(), "{spec} {z:?}: {}", r.value);
        }
    }
}
