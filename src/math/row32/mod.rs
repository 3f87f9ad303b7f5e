//! The f32 row engine: value, gradient and the real trainer's per-row metrics of one row of f32
//! logits, in f32 lanes with f64 accumulation of every row sum and of the value (each lane adds
//! four chunks' terms in f32 first: [`RUN`]).
//!
//! Families: `fkl`, `rkl`, `tvd`, `jsd:beta=β` (TRL's convention, `norm=false`; β = 0 and 1 are fkl
//! and rkl as in [`super::jsd`]) and `akl:mu=μ` with AKL.py's head convention when μ is the μ of
//! the head the caller passes ([`Family32::of`]). Every other family, and any practice option,
//! stays on the f64 engine ([`super::value_and_grad_at`]), which is also the reference the tests
//! compare this one against.
//!
//! One row is four sweeps over data that stays in L2 (a row of 8k classes is 32 KiB per array):
//! the student's max; `e^(z − max)` and its sum; the teacher's and student's probabilities with
//! every row sum the families and metrics need (fkl writes its gradient here); the gradient of
//! the families that need a row sum first. The teacher's log-sum-exp is computed once per row
//! ([`Teacher32::new`]), not per epoch.
//!
//! Agreement with the f64 engine on the same f32 logits: the log-probabilities are exact
//! differences of f32 values minus an f32-rounded log-sum-exp, and `exp` is within 2 ulp, so every
//! probability carries a relative error of a few `ε32·(1 + |log p|)` (ε32 = 6e-8), and a row sum the
//! same relative to the sum of its terms' magnitudes. The tests bound value and gradient at 1e-5
//! of that scale (observed: 5e-8 on values, 1e-6 on gradients).
//!
//! The kernels are plain lane-by-lane loops over `[f32; 16]` that LLVM vectorises, compiled for
//! AVX-512 and AVX2+FMA on x86-64, NEON with fused multiply-adds on aarch64 (picked at run time by
//! [`super::simd::level`], so `KDVIZ_SIMD` caps them too) and for the baseline of the target
//! (unfused multiply-adds).

mod exp;

use exp::exp_with;
pub use exp::{exp, ln_positive_normal, log_add_exp};

use super::divergence::{AklConvention, Divergence};
use super::range::clamp0;

/// Lanes per step.
const L: usize = 16;
/// Chunks of L lanes whose terms a row sum adds in f32 before adding them to its f64 sum (a
/// relative rounding of at most 3·ε32 of their magnitude; converting every chunk to f64 was a
/// third of a row's work).
const RUN: usize = 4;
type F = [f32; L];
type D = [f64; L];

/// Below this `e^x` is 0 in f64: a teacher zero (`-inf`) against a student probability above it
/// makes KL(q‖p) infinite on the f64 engine, whatever f32 rounds the probability to.
const F64_EXP_UNDERFLOW: f32 = -745.1;

/// A family the f32 engine evaluates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family32 {
    Fkl,
    Rkl,
    Tvd,
    /// The head is the one of the [`Teacher32`] (its μ is the one given to [`Family32::of`]).
    Akl,
    /// `0 < beta < 1`.
    Jsd {
        beta: f64,
    },
}

impl Family32 {
    /// `div` on the f32 engine, or `None` where it stays on the f64 engine. `head_mu` is the μ of
    /// the head thresholds the caller passes in [`Teacher32`]: AKL takes the f32 engine with that
    /// μ and AKL.py's convention only.
    pub fn of(div: &Divergence, head_mu: f64) -> Option<Family32> {
        match *div {
            Divergence::Fkl => Some(Family32::Fkl),
            Divergence::Rkl => Some(Family32::Rkl),
            Divergence::Tvd => Some(Family32::Tvd),
            Divergence::Akl {
                mu,
                convention: AklConvention::Akl,
            } if mu == head_mu => Some(Family32::Akl),
            Divergence::Jsd {
                beta: 0.0,
                norm: false,
            } => Some(Family32::Fkl),
            Divergence::Jsd {
                beta: 1.0,
                norm: false,
            } => Some(Family32::Rkl),
            Divergence::Jsd { beta, norm: false } if beta > 0.0 && beta < 1.0 => {
                Some(Family32::Jsd { beta })
            }
            _ => None,
        }
    }
}

/// A teacher row's constants, computed once: `log p = (t − max) − ln_sum`, and the head threshold
/// `(thr, kcut)` of [`super::akl::head_threshold`] (head: `t > thr`, or `t = thr` and `k ≤ kcut`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Teacher32 {
    pub max: f32,
    pub ln_sum: f32,
    pub head: (f32, u32),
}

impl Teacher32 {
    /// The constants of teacher row `t` (finite or `-inf` logits, at least one finite).
    pub fn new(t: &[f32], head: (f32, u32)) -> Teacher32 {
        let (max, ln_sum) = log_sum_exp(t);
        Teacher32 { max, ln_sum, head }
    }
}

/// What one row produces besides its gradient.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Row32 {
    /// The divergence (≥ 0, `+inf` where infinite, NaN for non-finite logits).
    pub value: f64,
    /// KL(p‖q) and KL(q‖p), clamped at 0 (`+inf` where the teacher has zeros the student covers).
    pub kl_pq: f64,
    pub kl_qp: f64,
    /// `Σ_head |p − q|`, `Σ_tail |p − q|`.
    pub head_gap: f64,
    pub tail_gap: f64,
    /// The largest student logit.
    pub z_max: f32,
}

/// One thread's buffers: the row's p, q and (JSD) log m, in whole chunks of lanes.
#[derive(Debug, Default)]
pub struct Scratch32 {
    p: Vec<F>,
    q: Vec<F>,
    lm: Vec<F>,
}

/// Value, gradient w.r.t. the student logits `z` (into `grad`) and metrics of one row; `t` and
/// `tc` the teacher row and its constants. The gradient is unspecified where the value is not
/// finite.
pub fn value_and_grad(
    fam: Family32,
    t: &[f32],
    tc: &Teacher32,
    z: &[f32],
    grad: &mut [f32],
    scr: &mut Scratch32,
) -> Row32 {
    assert!(t.len() == z.len() && z.len() == grad.len());
    let chunks = z.len().div_ceil(L);
    for b in [&mut scr.p, &mut scr.q, &mut scr.lm] {
        b.resize(chunks, [0.0; L]);
    }
    dispatch(fam, (t, tc, z), grad, scr)
}

crate::math::simd::fma_versions! {
    /// [`row`] for the CPU's best level.
    fn dispatch<FUSED>(
        fam: Family32,
        io: (&[f32], &Teacher32, &[f32]),
        grad: &mut [f32],
        scr: &mut Scratch32,
    ) -> Row32 {
        row::<FUSED>(fam, io, grad, scr)
    }
}

/// `(max, ln Σ e^(x − max))` with the sum in f64.
pub fn log_sum_exp(x: &[f32]) -> (f32, f32) {
    let max = lane_max(x);
    let mut acc = [0f64; L];
    for k in (0..x.len()).step_by(L) {
        let c = load(x, k, f32::NEG_INFINITY);
        for l in 0..L {
            acc[l] += f64::from(exp(c[l] - max));
        }
    }
    (max, total(&acc).ln() as f32)
}

/// The largest entry (`-inf` for none); NaN entries are skipped (they show up in the sums).
#[inline(always)]
fn lane_max(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; L];
    for k in (0..x.len()).step_by(L) {
        let c = load(x, k, f32::NEG_INFINITY);
        for l in 0..L {
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
        }
    }
    m.into_iter().fold(f32::NEG_INFINITY, f32::max)
}

/// `x[k..k + L]`, padded with `pad` past the end.
#[inline(always)]
fn load(x: &[f32], k: usize, pad: f32) -> F {
    if let Some(c) = x.get(k..k + L)
        && let Ok(a) = <F>::try_from(c)
    {
        return a;
    }
    let mut b = [pad; L];
    let rest = &x[k.min(x.len())..];
    b[..rest.len()].copy_from_slice(rest);
    b
}

/// Writes the lanes of `v` that fall inside `x` from `k` on.
#[inline(always)]
fn store(x: &mut [f32], k: usize, v: &F) {
    if let Some(c) = x.get_mut(k..k + L) {
        c.copy_from_slice(v);
    } else {
        let from = k.min(x.len());
        let rest = &mut x[from..];
        let n = rest.len();
        rest.copy_from_slice(&v[..n]);
    }
}

#[inline(always)]
fn add(acc: &mut D, x: &F) {
    for l in 0..L {
        acc[l] += f64::from(x[l]);
    }
}

fn total(acc: &D) -> f64 {
    acc.iter().sum()
}

/// `[f(0), …, f(L − 1)]`, inlined: `std::array::from_fn` is not inlined into the
/// `target_feature` callers and ran lane by lane in scalar code.
#[inline(always)]
fn lanes(mut f: impl FnMut(usize) -> f32) -> F {
    let mut out = [0f32; L];
    for (l, o) in out.iter_mut().enumerate() {
        *o = f(l);
    }
    out
}

/// `1.0` where `c` holds, else `0.0`.
#[inline(always)]
fn ind(c: bool) -> f32 {
    if c { 1.0 } else { 0.0 }
}

/// The row, all sweeps (inlined into each instruction set's version; `FUSED` where it has FMA).
#[inline(always)]
fn row<const FUSED: bool>(
    fam: Family32,
    (t, tc, z): (&[f32], &Teacher32, &[f32]),
    grad: &mut [f32],
    scr: &mut Scratch32,
) -> Row32 {
    // Sweeps 1 and 2: the student's max; e^(z − max) (kept in q) and its sum.
    let z_max = lane_max(z);
    let (mut sum, mut part) = ([0f64; L], [0f32; L]);
    let last = scr.q.len().saturating_sub(1);
    for (c, e) in scr.q.iter_mut().enumerate() {
        let zc = load(z, c * L, f32::NEG_INFINITY);
        for l in 0..L {
            e[l] = exp_with::<FUSED>(zc[l] - z_max);
            part[l] += e[l];
        }
        if c % RUN == RUN - 1 || c == last {
            add(&mut sum, &part);
            part = [0.0; L];
        }
    }
    let sum = total(&sum);
    if !sum.is_finite() {
        // A NaN or infinite student logit: no number of this row means anything.
        let nan = f64::NAN;
        return Row32 {
            value: nan,
            kl_pq: nan,
            kl_qp: nan,
            head_gap: nan,
            tail_gap: nan,
            z_max,
        };
    }
    let inv = (1.0 / sum) as f32;
    let ls_z = sum.ln() as f32;
    let (tm, tl) = (tc.max, tc.ln_sum);
    let (thr, kcut) = tc.head;

    // Sweep 3: p, q and the row sums. Padding: t = z = -inf gives p = q = 0, which adds nothing.
    let (beta, jsd) = match fam {
        Family32::Jsd { beta } => (beta, true),
        _ => (0.5, false),
    };
    let fkl = fam == Family32::Fkl;
    let (wp, wq) = (beta as f32, (1.0 - beta) as f32);
    let (lwp, lwq) = (beta.ln() as f32, (-beta).ln_1p() as f32);
    let mut s = Sums::default();
    // Per lane, RUN chunks' terms are added in f32, then to the f64 sums.
    let mut part = [[0f32; L]; 6];
    let mut part_jsd = [[0f32; L]; 2];
    let last = scr.p.len().saturating_sub(1);
    let chunks = scr
        .p
        .iter_mut()
        .zip(scr.q.iter_mut())
        .zip(scr.lm.iter_mut());
    for (c, ((p, q), lm)) in chunks.enumerate() {
        let k = c * L;
        let tc = load(t, k, f32::NEG_INFINITY);
        let zc = load(z, k, f32::NEG_INFINITY);
        // The terms go straight into the f32 runs (an array of them lived on the stack).
        for l in 0..L {
            let lp = (tc[l] - tm) - tl;
            let lq = (zc[l] - z_max) - ls_z;
            let (pl, ql) = (exp_with::<FUSED>(lp), q[l] * inv);
            p[l] = pl;
            q[l] = ql;
            part[0][l] += if pl > 0.0 { pl * (lp - lq) } else { 0.0 };
            part[1][l] += if ql > 0.0 { ql * (lq - lp) } else { 0.0 };
            // A teacher zero where the f64 engine's q is still positive: KL(q‖p) = +inf there.
            part[2][l] += ind(tc[l] == f32::NEG_INFINITY && lq > F64_EXP_UNDERFLOW);
            let head = tc[l] > thr || (tc[l] == thr && (k + l) as u32 <= kcut);
            let d = (pl - ql).abs();
            // `d·1` or `d·0` added unmasked: a select here became a masked store to the
            // stack, which the next chunk's load waits on.
            let head_d = d * ind(head);
            part[3][l] += head_d;
            part[4][l] += d - head_d;
            part[5][l] += ql * (ind(ql > pl) - ind(ql < pl));
        }
        let flush = c % RUN == RUN - 1 || c == last;
        if flush {
            for (acc, part) in s.acc.iter_mut().zip(&mut part) {
                add(acc, part);
                *part = [0.0; L];
            }
        }
        if fkl {
            let g: F = lanes(|l| q[l] - p[l]);
            store(grad, k, &g);
        }
        if jsd {
            let (mut kpm, mut kqm) = ([0f32; L], [0f32; L]);
            for l in 0..L {
                let (pl, ql) = (p[l], q[l]);
                let mix = wp * pl + wq * ql;
                let direct = ln_positive_normal(mix);
                lm[l] = direct;
                if mix < f32::MIN_POSITIVE {
                    let lp = (tc[l] - tm) - tl;
                    let lq = (zc[l] - z_max) - ls_z;
                    lm[l] = log_add_exp(lp + lwp, lq + lwq);
                }
                kpm[l] = if pl > 0.0 {
                    pl * ((tc[l] - tm) - tl - lm[l])
                } else {
                    0.0
                };
                kqm[l] = if ql > 0.0 {
                    ql * ((zc[l] - z_max) - ls_z - lm[l])
                } else {
                    0.0
                };
            }
            for l in 0..L {
                part_jsd[0][l] += kpm[l];
                part_jsd[1][l] += kqm[l];
            }
            if flush {
                for (acc, part) in s.jsd.iter_mut().zip(&mut part_jsd) {
                    add(acc, part);
                    *part = [0.0; L];
                }
            }
        }
    }
    let [f, r, zeros, gh, gt, ts] = s.acc.each_ref().map(total);
    let r = if zeros > 0.0 { f64::INFINITY } else { r };
    let out = |value: f64| Row32 {
        value: clamp0(value),
        kl_pq: clamp0(f),
        kl_qp: clamp0(r),
        head_gap: gh,
        tail_gap: gt,
        z_max,
    };

    // Sweep 4: the gradient of the families that need a row sum first.
    let value = match fam {
        Family32::Fkl => return out(f),
        Family32::Rkl => {
            if r.is_finite() {
                reverse_grad(t, (tm, tl), z, (z_max, ls_z), 0.0, 1.0, r as f32, scr, grad);
            }
            r
        }
        Family32::Akl => {
            let (wh, wt) = super::akl::weights(gh, gt);
            let r = if wt > 0.0 { r } else { 0.0 };
            if !r.is_finite() {
                return out(f64::INFINITY);
            }
            let (a, b) = (wh as f32, wt as f32);
            reverse_grad(t, (tm, tl), z, (z_max, ls_z), a, b, r as f32, scr, grad);
            wh * f + wt * r
        }
        Family32::Tvd => {
            let m = ts as f32;
            for (c, (p, q)) in scr.p.iter().zip(&scr.q).enumerate() {
                let g: F = lanes(|l| {
                    let sign = ind(q[l] > p[l]) - ind(q[l] < p[l]);
                    0.5 * q[l] * (sign - m)
                });
                store(grad, c * L, &g);
            }
            0.5 * (gh + gt)
        }
        Family32::Jsd { beta } => {
            let [kpm, kqm] = s.jsd.each_ref().map(total);
            let (c, m) = (wq, kqm as f32);
            for (ci, (q, lm)) in scr.q.iter().zip(&scr.lm).enumerate() {
                let zc = load(z, ci * L, f32::NEG_INFINITY);
                let g: F = lanes(|l| {
                    let lq = (zc[l] - z_max) - ls_z;
                    if q[l] > 0.0 {
                        c * q[l] * (lq - lm[l] - m)
                    } else {
                        0.0
                    }
                });
                store(grad, ci * L, &g);
            }
            beta * kpm + (1.0 - beta) * kqm
        }
    };
    out(value)
}

/// `grad = a (q − p) + b q (log q − log p − r)`, the reverse term masked where q = 0 (a teacher
/// zero the student's probability underflows at contributes 0, not 0·inf).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn reverse_grad(
    t: &[f32],
    (tm, tl): (f32, f32),
    z: &[f32],
    (zm, zl): (f32, f32),
    a: f32,
    b: f32,
    r: f32,
    scr: &Scratch32,
    grad: &mut [f32],
) {
    for (c, (p, q)) in scr.p.iter().zip(&scr.q).enumerate() {
        let k = c * L;
        let tc = load(t, k, f32::NEG_INFINITY);
        let zc = load(z, k, f32::NEG_INFINITY);
        let g: F = lanes(|l| {
            let (lp, lq) = ((tc[l] - tm) - tl, (zc[l] - zm) - zl);
            let rev = if q[l] > 0.0 {
                b * q[l] * (lq - lp - r)
            } else {
                0.0
            };
            a * (q[l] - p[l]) + rev
        });
        store(grad, k, &g);
    }
}

/// The row sums of sweep 3, per lane in f64: KL(p‖q), KL(q‖p), teacher zeros the student covers,
/// head and tail gaps, `Σ q·sign(q − p)`; and JSD's KL(p‖m), KL(q‖m).
#[derive(Default)]
struct Sums {
    acc: [D; 6],
    jsd: [D; 2],
}

#[cfg(test)]
mod tests;
