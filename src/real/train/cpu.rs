//! The CPU trainer, rows split across all cores, f32 parameters and Adam moments (as on the GPU),
//! cache-blocked f32 matmuls for the low-rank student. Per row:
//!
//! - the f32 engine ([`row32`]: f32 lanes, f64 row sums) for fkl, rkl, tvd, jsd (`norm=false`) and
//!   akl with the metrics' μ and AKL.py's convention, unless [`CpuArith::F64`] is asked for;
//! - the f64 engine ([`value_and_grad`]) for every other family; with practice options the
//!   pipeline [`practice::evaluate`], or [`practice::evaluate_stored`] against a top-k teacher.
//!
//! A free student's Adam step is fused into the next forward pass: the step records its
//! constants, and the forward updates each row's logits and moments just before evaluating it, so
//! the row is read from memory once per epoch ([`CpuEngine::step`]). A low-rank student on the
//! f32 engine runs its epoch fused, block of rows by block of rows ([`lowrank`]).
//!
//! [`value_and_grad`]: crate::math::value_and_grad

use super::{
    AdamStep, CpuArith, Engine, Prep, StudentKind, Sums, TrainConfig, lowrank_init, par_rows,
    threads, top1_credit,
};
use crate::math::akl::gaps;
use crate::math::kl::kl;
use crate::math::practice::{self, Loss, PracticeWorkspace};
use crate::math::range::clamp0;
use crate::math::row32::{self, Family32, Scratch32, Teacher32};
use crate::math::{AklConvention, Divergence, LogDist, RowAt, Workspace, value_and_grad_at};
use crate::real::{RealData, RealError};
use lowrank::{FusedBuffers, LowRankRef, lowrank_fused};

mod block_gemm;
mod lowrank;

enum Params {
    Free {
        z: Vec<f32>,
        m: Vec<f32>,
        v: Vec<f32>,
        /// The step recorded by [`Engine::step`], applied row by row by the next forward.
        pending: Option<AdamStep>,
    },
    LowRank {
        d: usize,
        h: Vec<f32>,
        w: Vec<f32>,
        mh: Vec<f32>,
        vh: Vec<f32>,
        mw: Vec<f32>,
        vw: Vec<f32>,
        /// `H·W`, recomputed every forward.
        s: Vec<f32>,
        /// Gradients of H and W.
        gh: Vec<f32>,
        gw: Vec<f32>,
        /// The last forward computed `gh` and `gw` itself (the fused f32 path).
        grads_ready: bool,
        /// The fused f32 path's buffers.
        fused: FusedBuffers,
    },
}

pub(crate) struct CpuEngine<'a> {
    data: &'a RealData,
    prep: &'a Prep,
    params: Params,
    /// Per-row gradient w.r.t. the logits, not yet divided by N.
    g: Vec<f32>,
    /// Forward passes so far, one per epoch: a sampled family (rkl-est) draws from stream
    /// seed + epoch·N + row (practice.md §10.5).
    epoch: u64,
    /// Per teacher row the f32 engine's constants; empty where the f32 engine is not used (f64
    /// asked for, no full teacher, another vocabulary, a top-k teacher).
    teacher32: Vec<Teacher32>,
}

impl<'a> CpuEngine<'a> {
    pub(crate) fn new(
        data: &'a RealData,
        cfg: &TrainConfig,
        prep: &'a Prep,
    ) -> Result<CpuEngine<'a>, RealError> {
        // The student's own vocabulary: the teacher's, except for uld across vocabularies.
        let (n, v) = (data.n, data.student_v);
        let params = match cfg.student {
            StudentKind::Free => Params::Free {
                z: data
                    .student_init
                    .clone()
                    .unwrap_or_else(|| vec![0.0; n * v]),
                m: vec![0.0; n * v],
                v: vec![0.0; n * v],
                pending: None,
            },
            StudentKind::LowRank { rank: d } => {
                let (h, w) = lowrank_init(n, v, d, cfg.seed);
                Params::LowRank {
                    d,
                    mh: vec![0.0; h.len()],
                    vh: vec![0.0; h.len()],
                    mw: vec![0.0; w.len()],
                    vw: vec![0.0; w.len()],
                    gh: vec![0.0; h.len()],
                    gw: vec![0.0; w.len()],
                    h,
                    w,
                    s: vec![0.0; n * v],
                    grads_ready: false,
                    fused: FusedBuffers::default(),
                }
            }
        };
        let f32_rows = cfg.cpu_arith == CpuArith::F32
            && data.has_full_teacher()
            && data.aligned()
            && data.topk.is_none();
        let mut teacher32 = Vec::new();
        if f32_rows {
            teacher32 = vec![Teacher32::new(&[], (0.0, 0)); n];
            par_rows(&mut teacher32, 1, |r, out| {
                out[0] = Teacher32::new(data.teacher_row(r), prep.head[r]);
            });
        }
        Ok(CpuEngine {
            data,
            prep,
            params,
            g: vec![0.0; n * v],
            epoch: 0,
            teacher32,
        })
    }
}

/// One thread's buffers for the per-row engines.
struct RowScratch {
    buf: Vec<f64>,
    grad: Vec<f64>,
    teacher: LogDist,
    student: LogDist,
    ws: Workspace,
    head: Vec<bool>,
    /// The practice pipeline's scratch and its f64 rows (practice options only).
    practice: PracticeWorkspace,
    u: Vec<f64>,
    z: Vec<f64>,
    f32: Scratch32,
}

/// One thread's share of a forward pass: its rows' gradients, and for a free student its rows'
/// logits and moments (updated in place by a pending step).
struct Share<'s> {
    first: usize,
    g: &'s mut [f32],
    free: Option<(&'s mut [f32], &'s mut [f32], &'s mut [f32])>,
}

impl CpuEngine<'_> {
    /// The f32 row engine's family for `div`, where it runs it (`--cpu-arith f32`, a full aligned
    /// teacher, no practice option, a family `math::row32` has); the f64 engine otherwise.
    fn family32(&self, div: &Loss) -> Option<Family32> {
        match (div.practice.is_default(), self.teacher32.is_empty()) {
            (true, false) => Family32::of(&div.family, self.prep.mu),
            _ => None,
        }
    }

    /// The arithmetic the rows of `div` run in: "f32" or "f64".
    pub(crate) fn arithmetic(&self, div: &Loss) -> &'static str {
        if self.family32(div).is_some() {
            "f32"
        } else {
            "f64"
        }
    }
}

impl Engine for CpuEngine<'_> {
    fn forward(&mut self, div: &Loss, want_ce: bool) -> Result<Sums, RealError> {
        let (n, v, tv) = (self.data.n, self.data.student_v, self.data.v);
        let family32 = self.family32(div);
        let (data, prep, teacher32) = (self.data, self.prep, &self.teacher32[..]);
        if let Params::LowRank {
            d,
            h,
            w,
            gh,
            gw,
            grads_ready,
            fused,
            ..
        } = &mut self.params
        {
            *grads_ready = family32.is_some();
            if let Some(fam) = family32 {
                self.epoch += 1;
                let low = LowRankRef { d: *d, h, w };
                let grads = (&mut gh[..], &mut gw[..]);
                let sums = lowrank_fused(data, prep, teacher32, fam, low, grads, fused, threads());
                return Ok(sums);
            }
        }
        let per = n.div_ceil(threads()).max(1);
        let (mut shares, shared, pending): (Vec<Share>, &[f32], Option<AdamStep>) =
            match &mut self.params {
                Params::Free {
                    z,
                    m,
                    v: vv,
                    pending,
                } => {
                    let parts = self.g.chunks_mut(per * v).zip(z.chunks_mut(per * v));
                    let parts = parts.zip(m.chunks_mut(per * v).zip(vv.chunks_mut(per * v)));
                    let shares = parts
                        .enumerate()
                        .map(|(i, ((g, z), (m, vv)))| Share {
                            first: i * per,
                            g,
                            free: Some((z, m, vv)),
                        })
                        .collect();
                    (shares, &[], pending.take())
                }
                Params::LowRank { d, h, w, s, .. } => {
                    matmul_nn(h, w, s, n, *d, v);
                    let shares = self
                        .g
                        .chunks_mut(per * v)
                        .enumerate()
                        .map(|(i, g)| Share {
                            first: i * per,
                            g,
                            free: None,
                        })
                        .collect();
                    (shares, s, None)
                }
            };
        let epoch = self.epoch;
        self.epoch += 1;
        let partials: Vec<Sums> = std::thread::scope(|sc| {
            let handles: Vec<_> = shares
                .drain(..)
                .map(|mut share| {
                    sc.spawn(move || {
                        let mut scr = RowScratch {
                            buf: vec![0.0; v.max(tv)],
                            grad: vec![0.0; v],
                            teacher: LogDist::zeros(tv),
                            student: LogDist::zeros(v),
                            ws: Workspace::default(),
                            head: vec![false; tv],
                            practice: PracticeWorkspace::default(),
                            u: Vec::new(),
                            z: Vec::new(),
                            f32: Scratch32::default(),
                        };
                        let mut sums = Sums::default();
                        let rows = share.g.len() / v.max(1);
                        for j in 0..rows {
                            let r = share.first + j;
                            let g_row = &mut share.g[j * v..(j + 1) * v];
                            let s_row: &[f32] = match &mut share.free {
                                Some((z, m, vv)) => {
                                    let z_row = &mut z[j * v..(j + 1) * v];
                                    if let Some(adam) = &pending {
                                        let (m_row, v_row) = (
                                            &mut m[j * v..(j + 1) * v],
                                            &mut vv[j * v..(j + 1) * v],
                                        );
                                        adam_rows(adam, z_row, m_row, v_row, g_row);
                                    }
                                    z_row
                                }
                                None => &shared[r * v..(r + 1) * v],
                            };
                            match family32 {
                                Some(fam) => {
                                    let t32 = &teacher32[r];
                                    row_f32(
                                        data,
                                        prep,
                                        r,
                                        fam,
                                        t32,
                                        s_row,
                                        g_row,
                                        &mut scr.f32,
                                        &mut sums,
                                    )
                                }
                                None => {
                                    let at = RowAt {
                                        epoch,
                                        rows: n as u64,
                                        row: r as u64,
                                    };
                                    row(
                                        data, prep, at, s_row, div, want_ce, g_row, &mut scr,
                                        &mut sums,
                                    )
                                }
                            }
                        }
                        sums
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        Ok(total(partials))
    }

    /// A free student's step is recorded and applied by the next forward (or by
    /// [`Engine::student_logits`]), row by row as it reads the row; a low-rank student steps now.
    fn step(&mut self, adam: &AdamStep) -> Result<(), RealError> {
        let (n, v) = (self.data.n, self.data.student_v);
        match &mut self.params {
            Params::Free {
                z,
                m,
                v: vv,
                pending,
            } => {
                // Two steps without a forward between them: apply the first.
                if let Some(prev) = pending.replace(*adam) {
                    adam_par(&prev, z, m, vv, &self.g);
                }
            }
            Params::LowRank {
                d,
                h,
                w,
                mh,
                vh,
                mw,
                vw,
                gh,
                gw,
                grads_ready,
                ..
            } => {
                if !*grads_ready {
                    matmul_nt(&self.g, w, gh, n, v, *d);
                    matmul_tn(h, &self.g, gw, n, *d, v);
                }
                adam_par(adam, h, mh, vh, gh);
                adam_par(adam, w, mw, vw, gw);
            }
        }
        Ok(())
    }

    fn student_logits(&mut self) -> Result<Vec<f32>, RealError> {
        let (n, v) = (self.data.n, self.data.student_v);
        Ok(match &mut self.params {
            Params::Free {
                z,
                m,
                v: vv,
                pending,
            } => {
                if let Some(adam) = pending.take() {
                    adam_par(&adam, z, m, vv, &self.g);
                }
                z.clone()
            }
            Params::LowRank { d, h, w, .. } => {
                let mut s = vec![0.0; n * v];
                matmul_nn(h, w, &mut s, n, *d, v);
                s
            }
        })
    }
}

/// Per-thread sums added in thread (row) order: the total does not depend on timing.
fn total(partials: impl IntoIterator<Item = Sums>) -> Sums {
    let mut s = Sums::default();
    for p in partials {
        s.objective += p.objective;
        s.kl_pq += p.kl_pq;
        s.kl_qp += p.kl_qp;
        s.head += p.head;
        s.tail += p.tail;
        s.top1 += p.top1;
        s.ce += p.ce;
        s.bad_grad += p.bad_grad;
        s.refused = s.refused.or(p.refused);
    }
    s
}

/// One row on the f32 engine: value, gradient and metrics (see [`row`] for the policy on values
/// beyond f32's range and on non-finite gradients, which this shares).
#[allow(clippy::too_many_arguments)]
fn row_f32(
    data: &RealData,
    prep: &Prep,
    r: usize,
    fam: Family32,
    t32: &Teacher32,
    s_row: &[f32],
    g_row: &mut [f32],
    scr: &mut Scratch32,
    sums: &mut Sums,
) {
    let out = row32::value_and_grad(fam, data.teacher_row(r), t32, s_row, g_row, scr);
    let value = if out.value > F32_MAX {
        f64::INFINITY
    } else {
        out.value
    };
    if value.is_finite() {
        if !all_finite(g_row) {
            sums.bad_grad += 1;
            g_row.fill(0.0);
        }
    } else {
        g_row.fill(0.0);
    }
    sums.objective += value;
    sums.kl_pq += out.kl_pq;
    sums.kl_qp += out.kl_qp;
    sums.head += out.head_gap;
    sums.tail += out.tail_gap;
    // As [`top1_credit`], from the kernel's max.
    let t = prep.t_argmax[r] as usize;
    if s_row.get(t) == Some(&out.z_max) {
        let ties = s_row.iter().filter(|&&z| z == out.z_max).count();
        sums.top1 += 1.0 / ties.max(1) as f64;
    }
}

/// No NaN or infinity in `x` (`x·0` is 0 for finite numbers only), in 16 lanes.
fn all_finite(x: &[f32]) -> bool {
    let mut acc = [0f32; 16];
    let (body, tail) = x.as_chunks::<16>();
    for c in body {
        for l in 0..16 {
            acc[l] += c[l] * 0.0;
        }
    }
    acc.iter().chain(tail).all(|a| a.is_finite())
}

const F32_MAX: f64 = f32::MAX as f64;

/// Value, gradient and metrics of row `at.row`.
#[allow(clippy::too_many_arguments)]
fn row(
    data: &RealData,
    prep: &Prep,
    at: RowAt,
    s_row: &[f32],
    loss: &Loss,
    want_ce: bool,
    g_row: &mut [f32],
    scr: &mut RowScratch,
    sums: &mut Sums,
) {
    let r = at.row as usize;
    let t_row = data.teacher_row(r);
    let (tv, sv) = (data.v, s_row.len());
    let full = data.has_full_teacher();
    if full {
        for (b, &x) in scr.buf.iter_mut().zip(t_row) {
            *b = f64::from(x);
        }
        scr.teacher.set_logits(&scr.buf[..tv]);
    }
    for (b, &x) in scr.buf.iter_mut().zip(s_row) {
        *b = f64::from(x);
    }
    scr.student.set_logits(&scr.buf[..sv]);
    let d = match loss.family {
        Divergence::Hinton { temperature, a, .. } => Divergence::Hinton {
            temperature,
            a,
            label: prep.labels[r] as usize,
        },
        d => d,
    };
    if full {
        // The metrics head, from the row's threshold; AKL with the same μ reuses it instead of
        // sorting the teacher row again every epoch.
        let (thr, kcut) = prep.head[r];
        for (k, (h, &u)) in scr.head.iter_mut().zip(t_row).enumerate() {
            *h = u > thr || (u == thr && k as u32 <= kcut);
        }
    }
    let value = if loss.practice.is_default() && data.topk.is_none() {
        if let Divergence::Akl {
            mu,
            convention: AklConvention::Akl,
        } = d
            && mu == prep.mu
        {
            scr.ws.prime_head(&scr.teacher.p, mu, &scr.head);
        }
        let (t, s) = (&scr.teacher, &scr.student);
        value_and_grad_at(&d, t, s, &mut scr.grad, &mut scr.ws, at)
    } else {
        match practice_row(data, loss, d, at, t_row, s_row, scr) {
            Ok(v) => v,
            Err(why) => {
                sums.refused.get_or_insert(why);
                f64::NAN
            }
        }
    };
    // The real path's values and gradients are f32 (the GPU computes in f32): a row beyond f32's
    // range is infinite on both backends, so both refuse the same inputs (math::range).
    let value = if value > F32_MAX {
        f64::INFINITY
    } else {
        value
    };
    if value.is_finite() {
        let mut ok = true;
        for (o, &x) in g_row.iter_mut().zip(&scr.grad) {
            ok &= x.abs() <= F32_MAX; // false for NaN
            *o = x as f32;
        }
        if !ok {
            sums.bad_grad += 1;
            g_row.fill(0.0);
        }
    } else {
        // As the GPU kernel: no step from a row whose divergence is infinite.
        g_row.fill(0.0);
    }
    sums.objective += value;
    if tv != sv || !full {
        // uld across vocabularies: class k of the student is not class k of the teacher; a top-k
        // file: the full teacher is not known. Either way the per-class metrics do not exist (and
        // `train` reports none).
        return;
    }
    // The metrics compare the student with the full teacher, whatever the loss sees.
    let (t, s) = (&scr.teacher, &scr.student);
    sums.kl_pq += clamp0(kl(&t.logp, &t.p, &s.logp));
    sums.kl_qp += clamp0(kl(&s.logp, &s.p, &t.logp));
    let (gh, gt) = gaps(&t.p, &s.p, &scr.head);
    sums.head += gh;
    sums.tail += gt;
    sums.top1 += top1_credit(s_row, prep.t_argmax[r] as usize);
    if want_ce {
        // The gradient is q − p_t, so p_t = q − grad (as the toy's fit loop).
        let ce: f64 = (0..s.p.len())
            .map(|k| -(s.p[k] - scr.grad[k]) * s.logp[k])
            .sum();
        sums.ce += ce;
    }
}

/// One row through the practice pipeline (practice.md §0.2), gradient into `scr.grad`: against
/// the stored top k when the data has one, else from the full rows, on the sampler stream
/// `epoch·N + row` (§10.5). A refusal or an emulated computation gone non-finite is the message.
#[allow(clippy::too_many_arguments)]
fn practice_row(
    data: &RealData,
    loss: &Loss,
    family: Divergence,
    at: RowAt,
    t_row: &[f32],
    s_row: &[f32],
    scr: &mut RowScratch,
) -> Result<f64, String> {
    let loss = Loss {
        family,
        practice: loss.practice,
    };
    scr.z.clear();
    scr.z.extend(s_row.iter().map(|&x| f64::from(x)));
    scr.grad.resize(scr.z.len(), 0.0);
    let r = at.row;
    let out = match &data.topk {
        Some(top) => practice::evaluate_stored(
            &loss,
            &top.row(r as usize),
            &scr.z,
            &mut scr.grad,
            &mut scr.practice,
        ),
        None => {
            scr.u.clear();
            scr.u.extend(t_row.iter().map(|&x| f64::from(x)));
            let stream = at.epoch.wrapping_mul(at.rows).wrapping_add(r);
            practice::evaluate(
                &loss,
                &scr.u,
                &scr.z,
                stream,
                &mut scr.grad,
                &mut scr.practice,
            )
        }
    }
    .map_err(|e| format!("{e} (position {r})"))?;
    match out.nonfinite {
        Some(what) => Err(format!("{loss} at position {r}: {what}")),
        None => Ok(out.value),
    }
}

/// Adam over all elements, on all cores.
fn adam_par(adam: &AdamStep, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
    let per = p.len().div_ceil(threads()).max(1024);
    std::thread::scope(|s| {
        for (((p, m), v), g) in p
            .chunks_mut(per)
            .zip(m.chunks_mut(per))
            .zip(v.chunks_mut(per))
            .zip(g.chunks(per))
        {
            s.spawn(move || adam_rows(adam, p, m, v, g));
        }
    });
}

// ------------------------------------------------------------------ matmuls

/// Columns per cache block: a `[d × 512]` block of W (128 KiB at d = 64) stays in L2 while the rows
/// stream past it.
const CB: usize = 512;

/// `y += a·x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// `Σ x·y` with 16 partial sums (vectorisable; fixed order).
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (xc, yc) = (x.chunks_exact(16), y.chunks_exact(16));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..16 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail += a * b;
    }
    acc.iter().sum::<f32>() + tail
}

crate::math::simd::fma_versions! {
    fn adam_rows<_FMA>(adam: &AdamStep, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        // Adam over one stretch of elements.
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
            adam.update(p, m, v, g);
        }
    }
}

crate::math::simd::fma_versions! {
    fn nn_rows<_FMA>(h: &[f32], w: &[f32], s: &mut [f32], d: usize, v: usize) {
        for c0 in (0..v).step_by(CB) {
            let c1 = (c0 + CB).min(v);
            for (hr, sr) in h.chunks_exact(d).zip(s.chunks_exact_mut(v)) {
                let out = &mut sr[c0..c1];
                out.fill(0.0);
                for (k, &a) in hr.iter().enumerate() {
                    axpy(a, &w[k * v + c0..k * v + c1], out);
                }
            }
        }
    }
}

crate::math::simd::fma_versions! {
    fn nt_rows<_FMA>(g: &[f32], w: &[f32], out: &mut [f32], v: usize, d: usize) {
        out.fill(0.0);
        for c0 in (0..v).step_by(CB) {
            let c1 = (c0 + CB).min(v);
            for (gr, or) in g.chunks_exact(v).zip(out.chunks_exact_mut(d)) {
                let gb = &gr[c0..c1];
                for (k, o) in or.iter_mut().enumerate() {
                    *o += dot(gb, &w[k * v + c0..k * v + c1]);
                }
            }
        }
    }
}

crate::math::simd::fma_versions! {
    fn tn_block<_FMA>(
        h: &[f32],
        g: &[f32],
        blk: &mut [f32],
        d: usize,
        v: usize,
        c0: usize,
        c1: usize,
    ) {
        let w = c1 - c0;
        blk.fill(0.0);
        for (hr, gr) in h.chunks_exact(d).zip(g.chunks_exact(v)) {
            let gb = &gr[c0..c1];
            for (k, &a) in hr.iter().enumerate() {
                axpy(a, gb, &mut blk[k * w..(k + 1) * w]);
            }
        }
    }
}

/// `S = H·W`: `H` `[n × d]`, `W` `[d × v]`, `S` `[n × v]`, row-major, on all cores.
pub fn matmul_nn(h: &[f32], w: &[f32], s: &mut [f32], n: usize, d: usize, v: usize) {
    assert!(h.len() == n * d && w.len() == d * v && s.len() == n * v);
    if n == 0 || v == 0 {
        return;
    }
    let per = n.div_ceil(threads()).max(1);
    std::thread::scope(|sc| {
        for (hc, scn) in h.chunks(per * d.max(1)).zip(s.chunks_mut(per * v)) {
            sc.spawn(move || {
                if d == 0 {
                    scn.fill(0.0);
                } else {
                    nn_rows(hc, w, scn, d, v)
                }
            });
        }
    });
}

/// `out = G·Wᵀ`: `G` `[n × v]`, `W` `[d × v]`, `out` `[n × d]`, on all cores.
pub fn matmul_nt(g: &[f32], w: &[f32], out: &mut [f32], n: usize, v: usize, d: usize) {
    assert!(g.len() == n * v && w.len() == d * v && out.len() == n * d);
    if n == 0 || d == 0 {
        return;
    }
    let per = n.div_ceil(threads()).max(1);
    std::thread::scope(|sc| {
        for (gc, oc) in g.chunks(per * v.max(1)).zip(out.chunks_mut(per * d)) {
            sc.spawn(move || nt_rows(gc, w, oc, v, d));
        }
    });
}

/// `out = Hᵀ·G`: `H` `[n × d]`, `G` `[n × v]`, `out` `[d × v]`, on all cores (threads own column
/// blocks, so no reduction across threads).
pub fn matmul_tn(h: &[f32], g: &[f32], out: &mut [f32], n: usize, d: usize, v: usize) {
    assert!(h.len() == n * d && g.len() == n * v && out.len() == d * v);
    if d == 0 || v == 0 {
        return;
    }
    let blocks: Vec<(usize, usize)> = (0..v).step_by(CB).map(|c| (c, (c + CB).min(v))).collect();
    let per = blocks.len().div_ceil(threads()).max(1);
    let results: Vec<Vec<(usize, usize, Vec<f32>)>> = std::thread::scope(|sc| {
        let handles: Vec<_> = blocks
            .chunks(per)
            .map(|bs| {
                sc.spawn(move || {
                    bs.iter()
                        .map(|&(c0, c1)| {
                            let mut blk = vec![0f32; d * (c1 - c0)];
                            if n > 0 {
                                tn_block(h, g, &mut blk, d, v, c0, c1);
                            }
                            (c0, c1, blk)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for (c0, c1, blk) in results.into_iter().flatten() {
        let w = c1 - c0;
        for k in 0..d {
            out[k * v + c0..k * v + c1].copy_from_slice(&blk[k * w..(k + 1) * w]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::practice::Loss;
    use crate::math::props::{config, logit, spec};
    use crate::real::train::{Prep, TrainConfig};
    use proptest::prelude::*;

    /// Rows of f32 teacher (some -inf) and student logits inside the input policy, and specs.
    fn cases() -> impl Strategy<Value = (RealData, Vec<String>)> {
        (1usize..4, 2usize..9).prop_flat_map(|(n, v)| {
            let t = prop_oneof![6 => logit(), 1 => Just(f64::NEG_INFINITY)];
            (
                proptest::collection::vec(t, n * v),
                proptest::collection::vec(logit(), n * v),
                proptest::collection::vec(spec(v), 3),
            )
                .prop_map(move |(t, s, specs)| {
                    let mut teacher: Vec<f32> = t.iter().map(|&x| x as f32).collect();
                    for row in teacher.chunks_mut(v) {
                        if row.iter().all(|&x| x == f32::NEG_INFINITY) {
                            row[0] = 0.0;
                        }
                    }
                    let data = RealData {
                        source: "proptest".into(),
                        n,
                        v,
                        student_v: v,
                        teacher,
                        topk: None,
                        student_init: Some(s.iter().map(|&x| x as f32).collect()),
                        tokens: None,
                        contexts: None,
                        labels: None,
                    };
                    (data, specs)
                })
        })
    }

    /// rkl-est draws afresh every epoch and row: two forward passes on the same logits differ,
    /// and row r of epoch e is the f64 engine's estimate on stream seed + e·N + r.
    #[test]
    fn a_sampled_estimator_draws_per_row_and_epoch() {
        let (n, v) = (3, 5);
        let teacher: Vec<f32> = (0..n * v).map(|i| ((i * 7 % 11) as f32) * 0.3).collect();
        let student: Vec<f32> = (0..n * v).map(|i| ((i * 5 % 13) as f32) * 0.2).collect();
        let data = RealData {
            source: "test".into(),
            n,
            v,
            student_v: v,
            teacher,
            topk: None,
            student_init: Some(student),
            tokens: None,
            contexts: None,
            labels: None,
        };
        let cfg = TrainConfig::default();
        let prep = Prep::new(&data, cfg.mu);
        let div: Divergence = "rkl-est:kind=k1,mode=pg,n=2,seed=9".parse().unwrap();
        let mut engine = CpuEngine::new(&data, &cfg, &prep).unwrap();
        let first = engine.forward(&div.into(), false).unwrap().objective;
        let second = engine.forward(&div.into(), false).unwrap().objective;
        assert_ne!(first, second, "epoch 1 drew the same tokens as epoch 0");
        let mut want = 0.0;
        for r in 0..n {
            let row = |x: &[f32]| -> Vec<f64> {
                x[r * v..(r + 1) * v]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect()
            };
            let t = LogDist::from_logits(&row(&data.teacher), true).unwrap();
            let s =
                LogDist::from_logits(&row(data.student_init.as_deref().unwrap()), false).unwrap();
            let at = RowAt {
                epoch: 1,
                rows: n as u64,
                row: r as u64,
            };
            let mut grad = vec![0.0; v];
            want += value_and_grad_at(&div, &t, &s, &mut grad, &mut Workspace::default(), at);
        }
        assert!(
            (second - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{second} vs {want}"
        );
    }

    fn small_data(n: usize, v: usize) -> RealData {
        let teacher: Vec<f32> = (0..n * v).map(|i| ((i * 7 % 11) as f32) * 0.3).collect();
        let student: Vec<f32> = (0..n * v).map(|i| ((i * 5 % 13) as f32) * 0.2).collect();
        RealData {
            source: "test".into(),
            n,
            v,
            student_v: v,
            teacher,
            topk: None,
            student_init: Some(student),
            tokens: None,
            contexts: None,
            labels: Some((0..n as u32).map(|r| r % v as u32).collect()),
        }
    }

    /// Two epochs' objectives and the last gradient of `loss` on `data`.
    fn two_epochs(data: &RealData, loss: &str) -> (Vec<f64>, Vec<f32>) {
        let loss: Loss = loss.parse().unwrap();
        // The f64 engine on both sides: practice options always take it.
        let cfg = TrainConfig {
            cpu_arith: CpuArith::F64,
            ..TrainConfig::default()
        };
        let prep = Prep::new(data, cfg.mu);
        let mut engine = CpuEngine::new(data, &cfg, &prep).unwrap();
        let obj = (0..2)
            .map(|_| {
                let s = engine.forward(&loss, false).unwrap();
                assert_eq!(s.refused, None);
                s.objective
            })
            .collect();
        (obj, engine.g.clone())
    }

    fn assert_same_run(what: &str, a: &(Vec<f64>, Vec<f32>), b: &(Vec<f64>, Vec<f32>)) {
        for (x, y) in a.0.iter().zip(&b.0) {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                "{what}: {x} vs {y}"
            );
        }
        for (k, (x, y)) in a.1.iter().zip(&b.1).enumerate() {
            assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1e-3),
                "{what}: g[{k}] {x} vs {y}"
            );
        }
    }

    /// Practice options at their neutral values take the pipeline's path (the options are given),
    /// yet train exactly as the plain family: Hinton's labels, rkl-est's streams per row and epoch
    /// and TAID's t reach the pipeline as they reach the fast path.
    #[test]
    fn neutral_practice_options_train_as_the_plain_family() {
        let data = small_data(3, 5);
        for (plain, neutral) in [
            ("fkl", "fkl:st=1"),
            ("rkl", "rkl:tt=1,precision=f64"),
            ("akl:mu=0.5", "akl:mu=0.5,st=1"),
            ("jsd:beta=0.3", "jsd:beta=0.3,t2=false,tprecision=f64"),
            ("hinton:T=2", "hinton:T=2,precision=f64"),
            ("taid:t=0.4", "taid:t=0.4,st=1"),
            (
                "rkl-est:kind=k3,n=3,seed=5",
                "rkl-est:kind=k3,n=3,seed=5,st=1",
            ),
            ("fkl", "fkl:support=topk-tail,k=5"),
        ] {
            let loss: Loss = neutral.parse().unwrap();
            assert!(!loss.practice.is_default(), "{neutral}");
            assert_same_run(
                neutral,
                &two_epochs(&data, neutral),
                &two_epochs(&data, plain),
            );
        }
    }

    /// A top-k teacher derived from the full one (`--topk`) trains as the top-k support on the
    /// full teacher, also for a smaller k; a sampled support draws per row and epoch.
    #[test]
    fn a_derived_top_k_teacher_trains_as_the_full_row_support() {
        let data = small_data(4, 7);
        let top = data.clone().with_topk(4).unwrap();
        for spec in [
            "fkl:support=topk-tail,k=4",
            "fkl:support=topk-tail,k=2,st=2,t2=true",
            "rkl:support=topk,k=3",
            "akl:support=topk-renorm,k=4",
        ] {
            assert_same_run(spec, &two_epochs(&top, spec), &two_epochs(&data, spec));
        }
        let (obj, _) = two_epochs(&data, "fkl:support=sampled,n=4,seed=1");
        assert_ne!(
            obj[0], obj[1],
            "epoch 1 drew the same teacher samples as epoch 0"
        );
    }

    proptest! {
        #![proptest_config(config())]

        /// With f64 arithmetic, the CPU trainer's epoch-0 objective and gradient are the f64
        /// engine's on the same (f32) logits, row by row: the real path adds no numerics of its
        /// own.
        #[test]
        fn the_cpu_engine_is_the_f64_engine((data, specs) in cases()) {
            prop_assert!(data.check().is_ok());
            let cfg = TrainConfig { cpu_arith: CpuArith::F64, ..TrainConfig::default() };
            let prep = Prep::new(&data, cfg.mu);
            let (n, v) = (data.n, data.v);
            for spec in &specs {
                let div: Divergence = spec.parse().map_err(|e: crate::math::SpecError| TestCaseError::fail(e.to_string()))?;
                let mut engine = CpuEngine::new(&data, &cfg, &prep).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let sums = engine.forward(&div.into(), false).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let (mut want, mut bad) = (0.0, 0);
                for r in 0..n {
                    let row = |x: &[f32]| x[r * v..(r + 1) * v].iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
                    let t = LogDist::from_logits(&row(&data.teacher), true).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let s_init = data.student_init.as_deref().unwrap_or(&[]);
                    let s = LogDist::from_logits(&row(s_init), false).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let d = match div {
                        Divergence::Hinton { temperature, a, .. } => Divergence::Hinton { temperature, a, label: prep.labels[r] as usize },
                        d => d,
                    };
                    let mut grad = vec![0.0; v];
                    // Row r of epoch 0 is stream seed + r for a sampled family (§10.5).
                    let at = RowAt { epoch: 0, rows: n as u64, row: r as u64 };
                    let value = value_and_grad_at(&d, &t, &s, &mut grad, &mut Workspace::default(), at);
                    let value = if value > F32_MAX { f64::INFINITY } else { value };
                    want += value;
                    let g_row = &engine.g[r * v..(r + 1) * v];
                    if value.is_finite() && grad.iter().all(|g| g.abs() <= F32_MAX) {
                        for k in 0..v {
                            prop_assert_eq!(g_row[k], grad[k] as f32, "{} row {} class {}", spec, r, k);
                        }
                    } else {
                        bad += usize::from(value.is_finite());
                        prop_assert!(g_row.iter().all(|&g| g == 0.0), "{spec} row {r}: no step");
                    }
                }
                prop_assert_eq!(sums.bad_grad, bad, "{}", spec);
                let close = sums.objective == want
                    || (sums.objective - want).abs() <= 1e-12 * want.abs();
                prop_assert!(close, "{spec}: objective {} vs {want}", sums.objective);
            }
        }
    }
}
