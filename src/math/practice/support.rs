//! Teacher supports (practice.md §10): what the family sees when only part of the teacher is
//! stored. Input: the teacher's and the student's log-probabilities after steps 1–4; output: the
//! value and the gradient w.r.t. the student's step-4 logits.
//!
//! * `topk` and `topk-renorm,renorm=teacher`: the per-class forms `f(p, q)` and `w = q ∂f/∂q` of
//!   the separable families ([`per_class`]); the gradient is `w_j·1[j∈K] − q_j Σ_K w`.
//! * `topk-renorm,renorm=both`: the family on the restricted logits (u_K, z_K).
//! * `topk-tail`: the family on K+1 cells, chained back (§10.3); fkl follows verl's eps rule.
//! * `sampled`: the family against the empirical teacher of n draws (§10.4, sampler §10.5).

use super::options::{Renorm, Support};
use crate::math::ab::ab_term;
use crate::math::logspace::logaddexp;
use crate::math::sampler::Sampler;
use crate::math::todi::sigmoid;
use crate::math::{Divergence, LogDist, RowAt, Workspace, value_and_grad, value_and_grad_at};

/// What a top-k support shows about a row (§10.3's suggested metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopKReport {
    pub k: usize,
    /// Teacher and student mass on the teacher's top-k (full-V softmaxes).
    pub p_k: f64,
    pub q_k: f64,
    /// How many of the teacher's top-k classes are among the student's top-k.
    pub overlap: usize,
}

/// What one support evaluation reports besides the value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SupportReport {
    pub top_k: Option<TopKReport>,
    /// `clamp=true`: whether the truncated FKL was below 0 and clamped.
    pub clamped: Option<bool>,
    /// `lpmin`: whether a log-probability of the top-k was below it (on either side).
    pub lpmin_active: Option<bool>,
    /// fkl with `topk-tail`: whether the tail bucket was used (q̄ > eps).
    pub tail_active: Option<bool>,
    /// `sampled`: the teacher draws per class.
    pub counts: Option<Vec<u32>>,
}

/// Scratch space of the supports.
#[derive(Default)]
pub struct SupportScratch {
    order: Vec<usize>,
    order_s: Vec<usize>,
    in_k: Vec<bool>,
    cells_t: LogDist,
    cells_s: LogDist,
    g_cells: Vec<f64>,
    counts: Vec<u32>,
    /// A stored top-k teacher spread over V (−inf / 0 outside K), see [`apply_stored`].
    stored: LogDist,
}

/// A teacher stored as its top k classes (practice.md §10.6), taken as the teacher side after
/// steps 1–4: the ids in decreasing log-probability, their log-probabilities over the full V,
/// and optionally the log of the mass outside them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredTopK<'a> {
    pub ids: &'a [u32],
    pub logprobs: &'a [f64],
    /// `ln p̄` of the stored K; `None`: `p̄ = −expm1(lse(lp_K))` clamped at 0.
    pub tail: Option<f64>,
}

/// The sampler stream `seed + stream` (`stream` = e·R + r) as a [`RowAt`].
pub fn stream_at(stream: u64) -> RowAt {
    RowAt {
        epoch: 0,
        rows: 1,
        row: stream,
    }
}

/// Evaluates `div` under `support` (k already checked against V); writes the gradient to `grad`.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    div: &Divergence,
    support: &Support,
    teacher: &LogDist,
    student: &LogDist,
    stream: u64,
    grad: &mut [f64],
    ws: &mut SupportScratch,
    inner: &mut Workspace,
) -> (f64, SupportReport) {
    let mut report = SupportReport::default();
    let value = match *support {
        // rkl-est's draws follow the row's stream, like the sampled support's.
        Support::Full => value_and_grad_at(div, teacher, student, grad, inner, stream_at(stream)),
        Support::TopK { .. } | Support::TopKRenorm { .. } | Support::TopKTail { .. } => {
            let k = support.k().unwrap_or(1);
            let top = select(teacher, student, k, ws);
            let ln_pbar = || lse_at(&teacher.logp, ws.order[k..].iter().copied());
            let ln_pbar = matches!(support, Support::TopKTail { .. }).then(ln_pbar);
            return top_k(
                div, support, teacher, student, top, ln_pbar, grad, ws, inner,
            );
        }
        Support::Sampled { n, seed } => {
            sampled_counts(&teacher.p, n, seed, stream, &mut ws.counts);
            let d = &mut ws.cells_t;
            d.p.clear();
            d.logp.clear();
            let ln_n = (n as f64).ln();
            for &c in &ws.counts {
                d.p.push(f64::from(c) / n as f64);
                d.logp.push(if c > 0 {
                    f64::from(c).ln() - ln_n
                } else {
                    f64::NEG_INFINITY
                });
            }
            report.counts = Some(ws.counts.clone());
            value_and_grad(div, &ws.cells_t, student, grad, inner)
        }
    };
    (value, report)
}

/// The draws per class of `support=sampled,n,seed` on the row of sampler stream `stream` (§10.4,
/// §10.5): `p` is the teacher after steps 1–4. The GPU path draws here too (WGSL has no u64/f64).
pub fn sampled_counts(p: &[f64], n: usize, seed: u64, stream: u64, counts: &mut Vec<u32>) {
    Sampler::new(seed.wrapping_add(stream)).counts(p, n, counts);
}

/// The three top-k supports once K is in `ws.order[..k]` (and `ws.in_k`); `ln_pbar` is the log of
/// the teacher's mass outside K (`topk-tail` only).
#[allow(clippy::too_many_arguments)]
fn top_k(
    div: &Divergence,
    support: &Support,
    teacher: &LogDist,
    student: &LogDist,
    top: TopKReport,
    ln_pbar: Option<f64>,
    grad: &mut [f64],
    ws: &mut SupportScratch,
    inner: &mut Workspace,
) -> (f64, SupportReport) {
    let mut report = SupportReport {
        top_k: Some(top),
        ..SupportReport::default()
    };
    let k = top.k;
    let value = match *support {
        Support::TopK { clamp, lpmin, .. } => {
            let (lp, p, lq, q) = (&teacher.logp, &teacher.p, &student.logp, &student.p);
            let mut v = match (div, lpmin) {
                (Divergence::Fkl, Some(x)) => {
                    let active = ws.order[..k].iter().any(|&j| lp[j] < x || lq[j] < x);
                    report.lpmin_active = Some(active);
                    truncated(&ws.order[..k], q, grad, |j| {
                        let (a, b) = (lp[j].max(x), lq[j].max(x));
                        let ea = a.exp();
                        let w = if lq[j] >= x { -ea } else { 0.0 };
                        (ea * (a - b), w)
                    })
                }
                _ => truncated(&ws.order[..k], q, grad, |j| {
                    per_class(div, lp[j], p[j], lq[j], q[j])
                }),
            };
            if clamp {
                report.clamped = Some(v < 0.0);
                if v < 0.0 {
                    v = 0.0;
                    grad.iter_mut().for_each(|g| *g = 0.0);
                }
            }
            v
        }
        Support::TopKRenorm { renorm, .. } => {
            let kk = &ws.order[..k];
            match renorm {
                Renorm::Both => {
                    fill_cells(&mut ws.cells_t, kk, &teacher.logp, None);
                    fill_cells(&mut ws.cells_s, kk, &student.logp, None);
                    ws.g_cells.resize(k, 0.0);
                    let v = value_and_grad(div, &ws.cells_t, &ws.cells_s, &mut ws.g_cells, inner);
                    grad.iter_mut().for_each(|g| *g = 0.0);
                    for (i, &j) in kk.iter().enumerate() {
                        grad[j] = ws.g_cells[i];
                    }
                    v
                }
                Renorm::Teacher => {
                    let (lp, p, lq, q) = (&teacher.logp, &teacher.p, &student.logp, &student.p);
                    let ln_pk = lse_at(lp, kk.iter().copied());
                    let pk = ln_pk.exp();
                    truncated(kk, q, grad, |j| {
                        per_class(div, lp[j] - ln_pk, p[j] / pk, lq[j], q[j])
                    })
                }
            }
        }
        Support::TopKTail { eps, .. } => {
            let ln_pbar = ln_pbar.unwrap_or(f64::NEG_INFINITY);
            let (v, active) = tail(div, teacher, student, top, ln_pbar, eps, grad, ws, inner);
            report.tail_active = active;
            v
        }
        // The caller passes only the top-k supports.
        Support::Full | Support::Sampled { .. } => f64::NAN,
    };
    (value, report)
}

/// The supports against a teacher stored as its top k (§10.6): `support` is a top-k one with k no
/// more than the stored entries, the ids distinct classes of the student's V (the caller checked).
/// A smaller k uses the first k entries; the mass of the dropped ones joins the tail.
pub fn apply_stored(
    div: &Divergence,
    support: &Support,
    stored: &StoredTopK<'_>,
    student: &LogDist,
    grad: &mut [f64],
    ws: &mut SupportScratch,
    inner: &mut Workspace,
) -> (f64, SupportReport) {
    let k = support.k().unwrap_or(1);
    let v = student.len();
    // The teacher over V: the stored cells, nothing elsewhere (only K and p̄ are ever read).
    let mut teacher = std::mem::take(&mut ws.stored);
    teacher.logp.clear();
    teacher.logp.resize(v, f64::NEG_INFINITY);
    teacher.p.clear();
    teacher.p.resize(v, 0.0);
    ws.in_k.clear();
    ws.in_k.resize(v, false);
    ws.order.clear();
    for (&j, &lp) in stored.ids[..k].iter().zip(stored.logprobs) {
        let j = j as usize;
        teacher.logp[j] = lp;
        teacher.p[j] = lp.exp();
        ws.in_k[j] = true;
        ws.order.push(j);
    }
    ws.order.extend((0..v).filter(|&j| !ws.in_k[j]));
    top_k_into(&student.logp, k, &mut ws.order_s);
    let top = report_k(&teacher, student, k, ws);
    let ln_pbar = matches!(support, Support::TopKTail { .. }).then(|| stored_tail(stored, k));
    let out = top_k(
        div, support, &teacher, student, top, ln_pbar, grad, ws, inner,
    );
    ws.stored = teacher;
    out
}

/// `ln p̄` outside the first k stored entries: the stored tail plus the dropped entries, else
/// `ln(−expm1(lse(lp_k)))` (clamped at p̄ = 0).
fn stored_tail(stored: &StoredTopK<'_>, k: usize) -> f64 {
    let lp = stored.logprobs;
    match stored.tail {
        Some(t) => {
            let dropped = lse_at(lp, k..lp.len());
            logaddexp(t, dropped)
        }
        None => {
            let pbar = -lse_at(lp, 0..k).exp_m1();
            if pbar > 0.0 {
                pbar.ln()
            } else {
                f64::NEG_INFINITY
            }
        }
    }
}

/// `K` = the k largest teacher log-probabilities, decreasing, equal values lower index first, in
/// `ws.order[..k]` (and `ws.in_k`); P_K, Q_K and the overlap with the student's top-k.
fn select(teacher: &LogDist, student: &LogDist, k: usize, ws: &mut SupportScratch) -> TopKReport {
    top_k_into(&teacher.logp, k, &mut ws.order);
    top_k_into(&student.logp, k, &mut ws.order_s);
    ws.in_k.clear();
    ws.in_k.resize(teacher.len(), false);
    for &j in &ws.order[..k] {
        ws.in_k[j] = true;
    }
    report_k(teacher, student, k, ws)
}

/// P_K, Q_K and the overlap with the student's top-k, once `ws.order`, `ws.in_k` and
/// `ws.order_s` hold K and the student's order.
fn report_k(teacher: &LogDist, student: &LogDist, k: usize, ws: &SupportScratch) -> TopKReport {
    let kk = &ws.order[..k];
    TopKReport {
        k,
        p_k: kk.iter().map(|&j| teacher.p[j]).sum(),
        q_k: kk.iter().map(|&j| student.p[j]).sum(),
        overlap: ws.order_s[..k].iter().filter(|&&j| ws.in_k[j]).count(),
    }
}

/// Indices of `x` with the k largest first (decreasing, ties lower index first); the rest follow.
pub fn top_k_into(x: &[f64], k: usize, order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..x.len());
    let by = |a: &usize, b: &usize| x[*b].total_cmp(&x[*a]).then(a.cmp(b));
    if k < x.len() {
        order.select_nth_unstable_by(k, by);
    }
    order[..k].sort_unstable_by(by);
}

/// `Σ_K f` and the gradient `w_j·1[j∈K] − q_j Σ_K w` from the per-class pairs `(f_j, w_j)`.
fn truncated(
    kk: &[usize],
    q: &[f64],
    grad: &mut [f64],
    mut f_w: impl FnMut(usize) -> (f64, f64),
) -> f64 {
    grad.iter_mut().for_each(|g| *g = 0.0);
    let (mut value, mut sum_w) = (0.0, 0.0);
    for &j in kk {
        let (f, w) = f_w(j);
        value += f;
        sum_w += w;
        grad[j] = w;
    }
    for (g, &qj) in grad.iter_mut().zip(q) {
        *g -= qj * sum_w;
    }
    value
}

/// One class's term `f(p, q)` of a separable family and `w = q ∂f/∂q` (§10's table), from the
/// log-probabilities and probabilities of both sides.
pub fn per_class(div: &Divergence, lp: f64, p: f64, lq: f64, q: f64) -> (f64, f64) {
    let fkl = || (if p > 0.0 { p * (lp - lq) } else { 0.0 }, -p);
    let rkl = || (q * (lq - lp), q * (lq - lp + 1.0));
    match *div {
        Divergence::Fkl => fkl(),
        Divergence::Rkl => rkl(),
        Divergence::Jsd { beta, norm } => {
            if beta == 0.0 {
                return fkl();
            }
            if beta == 1.0 {
                return rkl();
            }
            let lm = logaddexp(beta.ln() + lp, (1.0 - beta).ln() + lq);
            let kp = if p > 0.0 { p * (lp - lm) } else { 0.0 };
            let kq = q * (lq - lm);
            let scale = if norm {
                1.0 / (beta * (1.0 - beta))
            } else {
                1.0
            };
            (
                scale * (beta * kp + (1.0 - beta) * kq),
                scale * (1.0 - beta) * kq,
            )
        }
        Divergence::Tvd => {
            let d = q - p;
            let sign = if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            (0.5 * d.abs(), 0.5 * q * sign)
        }
        Divergence::Skl { alpha } => {
            if alpha == 0.0 {
                return fkl();
            }
            let lm = logaddexp(alpha.ln() + lp, (1.0 - alpha).ln() + lq);
            let f = if p > 0.0 { p * (lp - lm) } else { 0.0 };
            (f, -(1.0 - alpha) * q * (lp - lm).exp())
        }
        Divergence::Srkl { alpha, detach } => {
            if alpha == 0.0 {
                return rkl();
            }
            let lm = logaddexp((1.0 - alpha).ln() + lp, alpha.ln() + lq);
            let log_ratio = lq - lm;
            let a = if detach { 0.0 } else { alpha };
            (q * log_ratio, q * (log_ratio + 1.0 - a * log_ratio.exp()))
        }
        Divergence::Ab { alpha, beta } => {
            let (term, _, w) = ab_term(alpha, beta, lp, lq);
            (term, w)
        }
        Divergence::Alpha { alpha } => {
            let (term, _, w) = ab_term(alpha, 1.0 - alpha, lp, lq);
            (term, w)
        }
        Divergence::Todi { beta } => {
            let d = lp - lq;
            let (wp, wm) = (sigmoid(beta * d), sigmoid(-beta * d));
            (wp * p * d - wm * q * d, -wp * p + wm * q * (1.0 - d))
        }
        Divergence::Wsd { lambda } => {
            let ((ff, wf), (fr, wr)) = (fkl(), rkl());
            (
                (1.0 - lambda) * ff + lambda * fr,
                (1.0 - lambda) * wf + lambda * wr,
            )
        }
        Divergence::Jeffreys => {
            let ((ff, wf), (fr, wr)) = (fkl(), rkl());
            (ff + fr, wf + wr)
        }
        // The parser refuses other families with these supports (§0.2); NaN would be refused by
        // the output check rather than printed.
        _ => (f64::NAN, f64::NAN),
    }
}

/// `ln Σ_{j∈idx} exp(x_j)`, `-inf` when `idx` is empty.
fn lse_at(x: &[f64], idx: impl Iterator<Item = usize> + Clone) -> f64 {
    let m = idx.clone().map(|j| x[j]).fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + idx.map(|j| (x[j] - m).exp()).sum::<f64>().ln()
}

/// The cells `x[K]` (and a last cell `tail`) as logits of a distribution.
fn fill_cells(d: &mut LogDist, kk: &[usize], x: &[f64], tail: Option<f64>) {
    d.logp.clear();
    d.logp.extend(kk.iter().map(|&j| x[j]));
    d.logp.extend(tail);
    let logits = std::mem::take(&mut d.logp);
    d.set_logits(&logits);
}

/// `topk-tail` (§10.3): value, gradient, and for fkl whether the tail bucket was active.
#[allow(clippy::too_many_arguments)]
fn tail(
    div: &Divergence,
    teacher: &LogDist,
    student: &LogDist,
    top: TopKReport,
    ln_pbar: f64,
    eps: f64,
    grad: &mut [f64],
    ws: &mut SupportScratch,
    inner: &mut Workspace,
) -> (f64, Option<bool>) {
    let (lp, p, lq, q) = (&teacher.logp, &teacher.p, &student.logp, &student.p);
    let k = top.k;
    let ln_qbar = lse_at(lq, ws.order[k..].iter().copied());
    let (pbar, qbar) = (ln_pbar.exp(), ln_qbar.exp());
    let kk = &ws.order[..k];
    if let Divergence::Fkl = div {
        // verl's tail_kl.py: the student's tail floored at eps; used only when above it.
        let head: f64 = kk
            .iter()
            .map(|&j| {
                if p[j] > 0.0 {
                    p[j] * (lp[j] - lq[j])
                } else {
                    0.0
                }
            })
            .sum();
        let tail_term = if pbar > 0.0 {
            pbar * (ln_pbar - ln_qbar.max(eps.ln()))
        } else {
            0.0
        };
        let active = qbar > eps;
        let (pk, qk) = (top.p_k, top.q_k);
        for (j, g) in grad.iter_mut().enumerate() {
            let in_k = ws.in_k[j];
            *g = match (active, in_k) {
                (true, true) => q[j] * (pk + pbar) - p[j],
                (true, false) => q[j] * (pk - pbar * qk / qbar),
                (false, true) => q[j] * pk - p[j],
                (false, false) => q[j] * pk,
            };
        }
        return (head + tail_term, Some(active));
    }
    let has_tail = k < p.len();
    let tail_t = has_tail.then_some(ln_pbar);
    let tail_s = has_tail.then_some(ln_qbar);
    fill_cells(&mut ws.cells_t, kk, lp, tail_t);
    fill_cells(&mut ws.cells_s, kk, lq, tail_s);
    ws.g_cells.resize(ws.cells_s.len(), 0.0);
    let v = value_and_grad(div, &ws.cells_t, &ws.cells_s, &mut ws.g_cells, inner);
    let g_tail = if has_tail { ws.g_cells[k] } else { 0.0 };
    for (j, g) in grad.iter_mut().enumerate() {
        if !ws.in_k[j] {
            *g = g_tail * (lq[j] - ln_qbar).exp();
        }
    }
    for (i, &j) in kk.iter().enumerate() {
        grad[j] = ws.g_cells[i];
    }
    (v, None)
}
