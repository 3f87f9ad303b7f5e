//! Arithmetic in the stored formats (practice.md §12.3): `compute=naive|logspace` for fkl, rkl,
//! tvd and jsd, op by op. Each operation takes values of their formats, is evaluated once in f64
//! and rounded once to its format: the teacher side in `tfmt`, the student side in `sfmt`, every
//! op that mixes them in `f_m = tfmt.promote(sfmt)`.
//!
//! This emulates eager code that computes in bf16/f16/f32 (the reproducers of §12.4); it is not
//! bit-identical with any kernel. A NaN or infinity it produces is an outcome to report
//! ([`EmulateError::NonFinite`]), not a bug: eager bf16 code produces it too.

use super::Divergence;
use super::precision::{Compute, Format, round};

/// Why a row was not emulated, or what the emulated kernel produced instead of a number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmulateError {
    /// The family or the compute mode has no emulation.
    #[error("{0}")]
    Unsupported(String),
    /// The emulated kernel produced NaN or ±∞: what, and where it started.
    #[error("{0}")]
    NonFinite(String),
}

/// The emulated families; jsd at β = 0 / 1 is fkl / rkl (as the exact engine).
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Fkl,
    Rkl,
    Tvd,
    Jsd(f64),
}

const ACCEPTED: &str = "fkl, rkl, tvd or jsd (beta in [0, 1], norm=false)";

fn kernel(div: &Divergence, compute: Compute) -> Result<Kernel, EmulateError> {
    if compute == Compute::Exact {
        return Err(EmulateError::Unsupported(
            "compute=exact is the f64 engine, not an emulation; expected compute=naive or logspace"
                .into(),
        ));
    }
    match *div {
        Divergence::Fkl => Ok(Kernel::Fkl),
        Divergence::Rkl => Ok(Kernel::Rkl),
        Divergence::Tvd => Ok(Kernel::Tvd),
        Divergence::Jsd {
            beta: 0.0,
            norm: false,
        } => Ok(Kernel::Fkl),
        Divergence::Jsd {
            beta: 1.0,
            norm: false,
        } => Ok(Kernel::Rkl),
        Divergence::Jsd { beta, norm: false } if beta > 0.0 && beta < 1.0 => Ok(Kernel::Jsd(beta)),
        Divergence::Jsd { beta, norm } => Err(EmulateError::Unsupported(format!(
            "jsd: compute={} does not emulate beta={beta}, norm={norm}; expected {ACCEPTED}",
            compute.name()
        ))),
        _ => Err(EmulateError::Unsupported(format!(
            "{}: compute={} is not emulated for this family; expected {ACCEPTED}",
            div.name(),
            compute.name()
        ))),
    }
}

/// One side after storage, temperature and (log-)softmax, every value in the side's format.
struct Side {
    /// The stored (and temperature-scaled) logits.
    a: Vec<f64>,
    /// Probabilities and their logs.
    p: Vec<f64>,
    l: Vec<f64>,
    fmt: Format,
}

impl Side {
    fn new(x: &[f64], t: f64, fmt: Format, compute: Compute) -> Side {
        let r = |v: f64| round(v, fmt);
        let mut a: Vec<f64> = x.iter().map(|&v| r(v)).collect();
        if t != 1.0 {
            a.iter_mut().for_each(|v| *v = r(*v / t));
        }
        let ls = log_softmax(&a);
        let (p, l) = match compute {
            Compute::Logspace => {
                let l: Vec<f64> = ls.iter().map(|&v| r(v)).collect();
                (l.iter().map(|&v| r(v.exp())).collect(), l)
            }
            // Naive (exact is refused before a side is built): softmax, then log of the rounded P.
            _ => {
                let p: Vec<f64> = ls.iter().map(|&v| r(v.exp())).collect();
                let l = p.iter().map(|&v| r(v.ln())).collect();
                (p, l)
            }
        };
        Side { a, p, l, fmt }
    }
}

/// `x − lse(x)` in f64 as §0.2 step 4 (`lse = m + ln Σ exp(x − m)`, subtracted as `(x − m) − ln Σ`);
/// IEEE results stand for non-finite logits.
fn log_softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ln_sum = x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln();
    x.iter().map(|&v| (v - m) - ln_sum).collect()
}

/// The f64 sum of `xs`, correctly rounded (Shewchuk's partials, as Python's `math.fsum`): a sum
/// over V is one op of §12.3, so it must not depend on the order of the terms.
fn exact_sum(xs: &[f64]) -> f64 {
    if xs.iter().any(|x| !x.is_finite()) {
        return xs.iter().sum();
    }
    let mut partials: Vec<f64> = Vec::new();
    for &x0 in xs {
        let mut x = x0;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    // Add the partials from the largest down; fix a half-way case the last addition rounded.
    let Some((&top, rest)) = partials.split_last() else {
        return 0.0;
    };
    let (mut hi, mut lo) = (top, 0.0);
    let mut n = rest.len();
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        lo = y - (hi - x);
        if lo != 0.0 {
            break;
        }
    }
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

/// torch's sign: 0 at 0, NaN stays NaN.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// Value and gradient w.r.t. the raw student logits `z` of `div` on raw logits `u` (teacher) and
/// `z`, computed op by op in the stored formats (practice.md §12.3): the storage rounding of both
/// sides is part of the emulation. The value is in `f_m`, the gradient in `sfmt`.
#[allow(clippy::too_many_arguments)]
pub fn emulate(
    div: &Divergence,
    u: &[f64],
    z: &[f64],
    tt: f64,
    st: f64,
    tfmt: Format,
    sfmt: Format,
    compute: Compute,
    grad: &mut [f64],
) -> Result<f64, EmulateError> {
    let kernel = kernel(div, compute)?;
    debug_assert_eq!(u.len(), z.len());
    debug_assert_eq!(z.len(), grad.len());
    let t = Side::new(u, tt, tfmt, compute);
    let s = Side::new(z, st, sfmt, compute);
    let fm = tfmt.promote(sfmt);
    let r = |v: f64| round(v, fm);
    let sum = |terms: &[f64]| r(exact_sum(terms));
    let (p, lp, q, lq) = (&t.p, &t.l, &s.p, &s.l);
    let n = p.len();
    // In the teacher sums a term with P = 0 is 0 (0·log 0), nothing else is masked.
    let teacher_term = |k: usize, diff: f64| if p[k] == 0.0 { 0.0 } else { r(p[k] * diff) };
    let value = match kernel {
        Kernel::Fkl => {
            let terms: Vec<f64> = (0..n).map(|k| teacher_term(k, r(lp[k] - lq[k]))).collect();
            (0..n).for_each(|j| grad[j] = r(q[j] - p[j]));
            sum(&terms)
        }
        Kernel::Rkl => {
            let d: Vec<f64> = (0..n).map(|k| r(lq[k] - lp[k])).collect();
            let terms: Vec<f64> = (0..n).map(|k| r(q[k] * d[k])).collect();
            let v = sum(&terms);
            (0..n).for_each(|j| grad[j] = r(q[j] * r(d[j] - v)));
            v
        }
        Kernel::Tvd => {
            let abs: Vec<f64> = (0..n).map(|k| r(p[k] - q[k]).abs()).collect();
            let signs: Vec<f64> = (0..n).map(|k| sign(r(q[k] - p[k]))).collect();
            let qs: Vec<f64> = (0..n).map(|k| r(q[k] * signs[k])).collect();
            let mean_sign = sum(&qs);
            (0..n).for_each(|j| grad[j] = r(0.5 * r(q[j] * r(signs[j] - mean_sign))));
            r(0.5 * sum(&abs))
        }
        Kernel::Jsd(beta) => {
            let c = 1.0 - beta;
            let lm: Vec<f64> = (0..n)
                .map(|k| r(r(round(beta * p[k], tfmt) + round(c * q[k], sfmt)).ln()))
                .collect();
            let terms: Vec<f64> = (0..n).map(|k| teacher_term(k, r(lp[k] - lm[k]))).collect();
            let kp = sum(&terms);
            let d: Vec<f64> = (0..n).map(|k| r(lq[k] - lm[k])).collect();
            let terms: Vec<f64> = (0..n).map(|k| r(q[k] * d[k])).collect();
            let kq = sum(&terms);
            (0..n).for_each(|j| grad[j] = r(c * r(q[j] * r(d[j] - kq))));
            r(r(beta * kp) + r(c * kq))
        }
    };
    for g in grad.iter_mut() {
        if st != 1.0 {
            *g = r(*g / st);
        }
        *g = round(*g, sfmt);
    }
    if value.is_finite() && grad.iter().all(|g| g.is_finite()) {
        Ok(value)
    } else {
        Err(EmulateError::NonFinite(non_finite(value, grad, &t, &s, fm)))
    }
}

/// What the emulated kernel produced (nan or inf) and the first place it can be traced to: an
/// overflowing stored logit, a probability rounded to 0, a log-probability overflowing, else the
/// entry where it shows.
fn non_finite(value: f64, grad: &[f64], t: &Side, s: &Side, fm: Format) -> String {
    let kind = |x: f64| if x.is_nan() { "nan" } else { "inf" };
    let grad_kind = grad.iter().find(|g| !g.is_finite()).map(|&g| {
        if grad.iter().any(|g| g.is_nan()) {
            "nan"
        } else {
            kind(g)
        }
    });
    let what = match (value.is_finite(), grad_kind) {
        (false, Some(g)) if g != kind(value) => format!("{} value, {g} gradient", kind(value)),
        (true, Some(g)) => g.to_string(),
        _ => kind(value).to_string(),
    };
    let sides = [("teacher", t), ("student", s)];
    let first = |pick: &dyn Fn(&Side) -> Option<usize>| {
        sides
            .iter()
            .find_map(|&(name, side)| pick(side).map(|k| (name, side.fmt, k)))
    };
    let cause = if let Some((side, fmt, k)) = first(&|x| x.a.iter().position(|v| !v.is_finite())) {
        format!("{side} logit overflows to infinity in {fmt} at class {k}")
    } else if let Some((side, fmt, k)) = first(&|x| x.p.iter().position(|&v| v == 0.0)) {
        format!("{side} probability rounds to 0 in {fmt} at class {k}")
    } else if let Some((side, fmt, k)) = first(&|x| x.l.iter().position(|v| !v.is_finite())) {
        format!("{side} log-probability overflows to -infinity in {fmt} at class {k}")
    } else if let Some(j) = grad.iter().position(|g| !g.is_finite()) {
        format!("gradient in {fm} at class {j}")
    } else {
        format!("value in {fm}")
    };
    format!("{what}: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::precision::round_all;
    use crate::math::reference_rows::{A_U, A_Z, B_U, B_Z};
    use crate::math::{LogDist, Workspace, value_and_grad};
    use Compute::{Logspace, Naive};
    use Format::{Bf16, F16, F32, F64};

    const L_U: [f64; 6] = [31.11, 30.87, 31.28, -43.45, -48.75, -6.79];
    const L_Z: [f64; 6] = [31.23, 30.75, 31.24, -43.3, -48.74, -6.7];
    const S_U: [f64; 6] = [
        0.361328125,
        -0.5546875,
        -1.140625,
        -2.015625,
        0.97265625,
        -2.171875,
    ];
    const S_Z: [f64; 6] = [
        0.4140625,
        -0.62109375,
        -1.234375,
        -2.03125,
        0.953125,
        -2.109375,
    ];
    const M_U: [f64; 6] = [-2.76, -4.59, -1.63, 3.65, 4.39, -2.49];
    const M_Z: [f64; 6] = [-2.764, -4.556, -1.65, 3.69, 4.383, -2.5];
    const JSD: Divergence = Divergence::Jsd {
        beta: 0.5,
        norm: false,
    };

    fn emulated(
        div: &Divergence,
        u: &[f64],
        z: &[f64],
        (tfmt, sfmt): (Format, Format),
        compute: Compute,
    ) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; z.len()];
        let v = emulate(div, u, z, 1.0, 1.0, tfmt, sfmt, compute, &mut g).expect("finite");
        (v, g)
    }

    /// The f64 engine (`compute=exact`) on logits stored in `tfmt` / `sfmt`.
    fn exact(
        div: &Divergence,
        u: &[f64],
        z: &[f64],
        tfmt: Format,
        sfmt: Format,
    ) -> (f64, Vec<f64>) {
        let (mut u, mut z) = (u.to_vec(), z.to_vec());
        round_all(&mut u, tfmt);
        round_all(&mut z, sfmt);
        let teacher = LogDist::from_logits(&u, false).expect("finite");
        let student = LogDist::from_logits(&z, false).expect("finite");
        let mut g = vec![0.0; z.len()];
        let v = value_and_grad(div, &teacher, &student, &mut g, &mut Workspace::default());
        (v, g)
    }

    /// ‖g − g_ref‖₂ / ‖g_ref‖₂ (§12.4).
    fn grad_error(g: &[f64], reference: &[f64]) -> f64 {
        let diff: f64 = g.iter().zip(reference).map(|(a, b)| (a - b).powi(2)).sum();
        let norm: f64 = reference.iter().map(|b| b * b).sum();
        (diff / norm).sqrt()
    }

    fn assert_close(got: (f64, Vec<f64>), value: f64, grad: &[f64], tol: f64) {
        assert!((got.0 - value).abs() <= tol, "value {} vs {value}", got.0);
        assert_eq!(got.1.len(), grad.len());
        for (j, (a, b)) in got.1.iter().zip(grad).enumerate() {
            assert!((a - b).abs() <= tol, "grad[{j}] {a} vs {b}");
        }
    }

    /// A §13.7 row: family, u, z, (teacher, student) formats, compute, value, gradient.
    type Row = (
        Divergence,
        &'static [f64],
        &'static [f64],
        (Format, Format),
        Compute,
        f64,
        &'static [f64],
    );

    #[test]
    fn emulated_rows_of_the_spec_are_bit_exact() {
        // practice.md §13.7: the values are exactly representable in their formats.
        let rows: [Row; 6] = [
            (
                Divergence::Fkl,
                &B_U,
                &B_Z,
                (Bf16, Bf16),
                Logspace,
                0.458984375,
                &[-0.3203125, 0.408203125, -0.052490234375, -0.037109375],
            ),
            (
                Divergence::Rkl,
                &B_U,
                &B_Z,
                (F16, F16),
                Naive,
                0.7412109375,
                &[-0.419189453125, 0.685546875, -0.0791015625, -0.186767578125],
            ),
            (
                Divergence::Tvd,
                &A_U,
                &A_Z,
                (Bf16, Bf16),
                Naive,
                0.263671875,
                &[
                    -0.10546875,
                    0.056884765625,
                    -0.05224609375,
                    0.051025390625,
                    0.0281982421875,
                    0.0208740234375,
                ],
            ),
            (
                JSD,
                &S_U,
                &S_Z,
                (Bf16, Bf16),
                Naive,
                -0.00034332275390625,
                &[
                    0.00360107421875,
                    -0.00154876708984375,
                    -0.0008392333984375,
                    1.6808509826660156e-5,
                    -0.001617431640625,
                    0.0003814697265625,
                ],
            ),
            (
                JSD,
                &S_U,
                &S_Z,
                (Bf16, Bf16),
                Logspace,
                -0.00133514404296875,
                &[
                    0.00360107421875,
                    -0.001556396484375,
                    -0.000843048095703125,
                    1.704692840576172e-5,
                    -0.001617431640625,
                    0.000385284423828125,
                ],
            ),
            (
                JSD,
                &M_U,
                &M_Z,
                (Bf16, F32),
                Logspace,
                -0.0013554448960348964,
                &[
                    -3.238792032789206e-6,
                    6.467057573900092e-7,
                    -1.2159299330960494e-5,
                    0.0013180467067286372,
                    -0.0012968281516805291,
                    -6.467111688834848e-6,
                ],
            ),
        ];
        for (div, u, z, fmts, compute, value, grad) in rows {
            let (v, g) = emulated(&div, u, z, fmts, compute);
            assert_eq!(
                (v, g.as_slice()),
                (value, grad),
                "{div} {fmts:?} {compute:?}"
            );
        }
    }

    const L_JSD: (f64, [f64; 6]) = (
        0.0011706610085651273,
        [
            0.011086764084413973,
            -0.007243842151667708,
            -0.0038429219327462644,
            5.890265243461201e-35,
            1.821846263756318e-38,
            2.8237669151615496e-19,
        ],
    );
    const S_JSD: (f64, [f64; 6]) = (
        0.00025221889158129264,
        [
            0.004215793824097892,
            -0.0015885238350767253,
            -0.0012578911338987063,
            -6.121489928414009e-5,
            -0.0017014652981316644,
            0.0003933013422933438,
        ],
    );
    const M_JSD_BF16_TEACHER: (f64, [f64; 6]) = (
        1.8623849765479877e-5,
        [
            -1.948515687606298e-6,
            4.6148984020425637e-7,
            -1.3524505260532897e-5,
            0.00143016623883955,
            -0.0014096446617576726,
            -5.5100459739424e-6,
        ],
    );

    #[test]
    fn exact_rows_of_the_spec_through_the_f64_engine() {
        // §13.7's f64 rows: `jsd` on L and S, `jsd:precision=bf16` on L, `jsd:tprecision=bf16` on M.
        let (v, g) = L_JSD;
        assert_close(exact(&JSD, &L_U, &L_Z, F64, F64), v, &g, 1e-9);
        assert_close(exact(&JSD, &S_U, &S_Z, F64, F64), S_JSD.0, &S_JSD.1, 1e-9);
        let grad = [
            0.010107823551872586,
            -0.008515932883616639,
            -0.0015918906682559474,
            9.301221227969176e-35,
            -2.8731260818979517e-38,
            2.423678516740789e-19,
        ];
        let at_bf16 = exact(&JSD, &L_U, &L_Z, Bf16, Bf16);
        assert_close(at_bf16, 0.0011709866459383182, &grad, 1e-9);
        let (v, g) = M_JSD_BF16_TEACHER;
        assert_close(exact(&JSD, &M_U, &M_Z, Bf16, F64), v, &g, 1e-9);
    }

    #[test]
    fn liger_1432_bf16_storage_alone_moves_the_gradient_by_20_percent() {
        // §12.4, L: exact arithmetic on bf16-rounded logits; value +0.028 %, gradient 20.05 %.
        let (v, g) = exact(&JSD, &L_U, &L_Z, Bf16, Bf16);
        let err = grad_error(&g, &L_JSD.1);
        assert!((err * 100.0 - 20.05).abs() < 0.01, "gradient error {err}");
        let rel = (v - L_JSD.0) / L_JSD.0;
        assert!((rel * 100.0 - 0.028).abs() < 0.001, "value error {rel}");
    }

    #[test]
    fn speculators_951_bf16_arithmetic_turns_the_jsd_negative() {
        // §12.4, S: naive bf16 value -0.000343 (true +0.000252), gradient error 15.09 %.
        let (v, g) = emulated(&JSD, &S_U, &S_Z, (Bf16, Bf16), Naive);
        assert_eq!(v, -0.00034332275390625);
        let err = grad_error(&g, &S_JSD.1);
        assert!(
            (err * 100.0 - 15.09).abs() < 0.01,
            "naive gradient error {err}"
        );
        let (v, g) = emulated(&JSD, &S_U, &S_Z, (Bf16, Bf16), Logspace);
        assert_eq!(v, -0.00133514404296875);
        let err = grad_error(&g, &S_JSD.1);
        assert!(
            (err * 100.0 - 15.04).abs() < 0.01,
            "logspace gradient error {err}"
        );
        // The same arithmetic in f32: gradient error 1.9e-6 (the §12.4 table's figure), and the
        // value keeps its sign (relative error 1.5e-4: an f32 ulp of the terms, not of the sum).
        let (v, g) = emulated(&JSD, &S_U, &S_Z, (F32, F32), Naive);
        let err = grad_error(&g, &S_JSD.1);
        assert!((err - 1.9e-6).abs() < 0.05e-6, "f32 gradient error {err}");
        let rel = ((v - S_JSD.0) / S_JSD.0).abs();
        assert!(v > 0.0 && rel < 2e-4, "f32 relative value error {rel}");
    }

    #[test]
    fn ms_swift_10156_a_bf16_teacher_alone_turns_the_jsd_negative() {
        // §12.4, M: f32 student, bf16 teacher, log-softmax then exp.
        let (v, g) = emulated(&JSD, &M_U, &M_Z, (Bf16, F32), Logspace);
        assert_eq!(v, -0.0013554448960348964);
        let err = grad_error(&g, &M_JSD_BF16_TEACHER.1);
        assert!((err * 100.0 - 7.9).abs() < 0.05, "gradient error {err}");
    }

    #[test]
    fn f64_naive_arithmetic_is_the_exact_engine() {
        // Every rounding is the identity in f64: the recipe must then be the f64 formulas, with the
        // temperatures' chain rule.
        let mut rng = crate::math::rng::Rng::new(13);
        let divs = [
            Divergence::Fkl,
            Divergence::Rkl,
            Divergence::Tvd,
            JSD,
            Divergence::Jsd {
                beta: 0.2,
                norm: false,
            },
            Divergence::Jsd {
                beta: 1.0,
                norm: false,
            },
        ];
        for row in 0..8 {
            let n = 3 + row;
            let u: Vec<f64> = (0..n).map(|_| 2.0 * rng.normal()).collect();
            let z: Vec<f64> = (0..n).map(|_| 2.0 * rng.normal()).collect();
            let (tt, st) = if row % 2 == 0 { (1.0, 1.0) } else { (1.5, 0.7) };
            for div in &divs {
                for compute in [Naive, Logspace] {
                    let mut g = vec![0.0; n];
                    let v =
                        emulate(div, &u, &z, tt, st, F64, F64, compute, &mut g).expect("finite");
                    let ut: Vec<f64> = u.iter().map(|x| x / tt).collect();
                    let zt: Vec<f64> = z.iter().map(|x| x / st).collect();
                    let (ve, ge) = exact(div, &ut, &zt, F64, F64);
                    let ge: Vec<f64> = ge.iter().map(|x| x / st).collect();
                    assert_close((v, g), ve, &ge, 1e-12);
                }
            }
        }
    }

    #[test]
    fn a_probability_rounding_to_zero_is_reported_not_printed() {
        // bf16 softmax of a logit 100 below the others underflows (e^-100 < bf16's least subnormal).
        let u = [0.0, 0.0, 0.0, 0.0];
        let z = [0.0, 0.0, 0.0, -100.0];
        let mut g = vec![0.0; 4];
        let err = emulate(&JSD, &u, &z, 1.0, 1.0, Bf16, Bf16, Naive, &mut g).unwrap_err();
        let msg = "nan: student probability rounds to 0 in bf16 at class 3";
        assert_eq!(err, EmulateError::NonFinite(msg.into()));
        let err = emulate(
            &Divergence::Fkl,
            &u,
            &z,
            1.0,
            1.0,
            Bf16,
            Bf16,
            Naive,
            &mut g,
        );
        let msg = "inf: student probability rounds to 0 in bf16 at class 3";
        assert_eq!(err, Err(EmulateError::NonFinite(msg.into())));
        // A teacher zero is masked in fkl's sum, but makes rkl infinite.
        assert!(
            emulate(
                &Divergence::Fkl,
                &z,
                &u,
                1.0,
                1.0,
                Bf16,
                Bf16,
                Naive,
                &mut g
            )
            .is_ok()
        );
        let err = emulate(
            &Divergence::Rkl,
            &z,
            &u,
            1.0,
            1.0,
            Bf16,
            Bf16,
            Naive,
            &mut g,
        );
        let msg = "inf value, nan gradient: teacher probability rounds to 0 in bf16 at class 3";
        assert_eq!(err, Err(EmulateError::NonFinite(msg.into())));
        // Log-space keeps it finite: P = exp(L) = 0 multiplies a finite log.
        assert!(emulate(&JSD, &u, &z, 1.0, 1.0, Bf16, Bf16, Logspace, &mut g).is_ok());
        // f16 overflows a logit of 7e4 to infinity.
        let big = [7e4, 0.0, 0.0, 0.0];
        let err = emulate(
            &Divergence::Fkl,
            &big,
            &u,
            1.0,
            1.0,
            F16,
            F16,
            Naive,
            &mut g,
        );
        let msg = "nan: teacher logit overflows to infinity in f16 at class 0";
        assert_eq!(err, Err(EmulateError::NonFinite(msg.into())));
    }

    #[test]
    fn other_families_and_exact_compute_are_refused_by_name() {
        let mut g = vec![0.0; 4];
        let refuse = |div: &Divergence, compute: Compute, g: &mut [f64]| match emulate(
            div, &B_U, &B_Z, 1.0, 1.0, Bf16, Bf16, compute, g,
        ) {
            Err(EmulateError::Unsupported(msg)) => msg,
            other => panic!("{div} {compute:?}: {other:?}"),
        };
        let msg = refuse(
            &Divergence::Akl {
                mu: 0.5,
                convention: Default::default(),
            },
            Naive,
            &mut g,
        );
        assert!(
            msg.starts_with("akl: compute=naive") && msg.contains("fkl, rkl, tvd or jsd"),
            "{msg}"
        );
        let msg = refuse(
            &Divergence::Jsd {
                beta: 0.5,
                norm: true,
            },
            Logspace,
            &mut g,
        );
        assert!(msg.contains("norm=true"), "{msg}");
        let msg = refuse(&Divergence::Fkl, Compute::Exact, &mut g);
        assert!(msg.contains("compute=exact"), "{msg}");
        // jsd at β = 0 / 1 is the fkl / rkl row.
        for (beta, div) in [(0.0, Divergence::Fkl), (1.0, Divergence::Rkl)] {
            let jsd = Divergence::Jsd { beta, norm: false };
            let a = emulated(&jsd, &B_U, &B_Z, (Bf16, F16), Naive);
            assert_eq!(a, emulated(&div, &B_U, &B_Z, (Bf16, F16), Naive));
        }
    }

    #[test]
    fn the_sum_is_correctly_rounded_whatever_the_order() {
        assert_eq!(exact_sum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        assert_eq!(exact_sum(&[0.1, 0.2, 0.3]), 0.6);
        assert_eq!(exact_sum(&[]), 0.0);
        // 1 + 2⁻⁵³ + 2⁻¹⁰⁶: just above the tie, rounds up (a left-to-right sum gives 1).
        let x = [1.0, 2f64.powi(-53), 2f64.powi(-106)];
        assert_eq!(exact_sum(&x), 1.0 + f64::EPSILON);
        assert_eq!(exact_sum(&[1.0, f64::INFINITY]), f64::INFINITY);
    }
}
