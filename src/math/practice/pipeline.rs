//! One row of a [`Loss`] from raw logits, in the order of practice.md §0.2: 1 storage rounding,
//! 2 soft-capping, 3 standardisation, 4 temperatures and log-softmax, 5 the support, 6 the family
//! (and the chain rule back through 5 → 2), 7 T².

use super::loss::Loss;
use super::options::{Practice, Support};
use super::support::{self, StoredTopK, SupportReport, SupportScratch};
use crate::math::eakd::row_weight;
use crate::math::emulate::{EmulateError, emulate};
use crate::math::precision::{Compute, Format, round_all};
use crate::math::{Divergence, LogDist, Workspace, check_classes, value_and_grad_at};

/// An input the loss cannot be evaluated on; the message names the culprit and what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PracticeError(pub String);

/// What one row gives besides its gradient: the value and what a user wants to see about the
/// support (the "What the student sees" view and `eval --json` read it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The value (not clamped at 0: a truncated top-k loss can be negative). Meaningless when
    /// `nonfinite` is set.
    pub value: f64,
    /// An emulated computation (`compute=naive|logspace`) that produced a non-finite number: what
    /// and where, e.g. "nan: student probability rounds to 0 in bf16 at class 3".
    pub nonfinite: Option<String>,
    pub support: SupportReport,
}

/// Scratch space for [`evaluate`], reused across rows.
#[derive(Default)]
pub struct PracticeWorkspace {
    pub family: Workspace,
    support: SupportScratch,
    teacher: LogDist,
    student: LogDist,
    u: Vec<f64>,
    z: Vec<f64>,
    /// The student's `tanh(z/c)` (step 2), for the chain rule.
    cap: Vec<f64>,
    /// The student's centred logits `x − mean` (step 3), for the chain rule.
    centred: Vec<f64>,
    scratch: [Vec<f64>; 2],
    /// Classes seen among a stored teacher's ids (the duplicate check).
    seen: Vec<bool>,
}

/// The loss of one row: teacher logits `u` (V_t), student logits `z` (V_s), gradient w.r.t. `z`
/// into `grad` (length V_s). `stream` selects the sampler stream of `support=sampled` (§10.5: row
/// r of epoch e is `e·rows + r`; `eval` passes 0). With no option set this is
/// [`value_and_grad`](crate::math::value_and_grad) on the softmaxes, nothing more.
pub fn evaluate(
    loss: &Loss,
    u: &[f64],
    z: &[f64],
    stream: u64,
    grad: &mut [f64],
    ws: &mut PracticeWorkspace,
) -> Result<Outcome, PracticeError> {
    check(loss, u, z, grad)?;
    let pr = &loss.practice;
    if pr.is_default() {
        ws.teacher.set_logits(u);
        ws.student.set_logits(z);
        let at = support::stream_at(stream);
        let value = value_and_grad_at(
            &loss.family,
            &ws.teacher,
            &ws.student,
            grad,
            &mut ws.family,
            at,
        );
        return Ok(Outcome {
            value,
            ..Outcome::default()
        });
    }
    if pr.compute != Compute::Exact {
        // §12.3: arithmetic in the stored formats (the parser allowed only tt, st and the formats).
        let (tt, st) = (pr.teacher_temperature(), pr.student_temperature());
        let (tfmt, sfmt) = (pr.teacher_format(), pr.student_format());
        return match emulate(&loss.family, u, z, tt, st, tfmt, sfmt, pr.compute, grad) {
            Ok(value) => Ok(Outcome {
                value,
                ..Outcome::default()
            }),
            Err(EmulateError::NonFinite(what)) => Ok(Outcome {
                value: f64::NAN,
                nonfinite: Some(what),
                ..Outcome::default()
            }),
            Err(EmulateError::Unsupported(why)) => Err(PracticeError(why)),
        };
    }
    ws.u.clear();
    ws.u.extend_from_slice(u);
    ws.z.clear();
    ws.z.extend_from_slice(z);
    // 1–2. Storage rounding (the gradient passes straight through) and soft-capping (the student
    // keeps tanh(z/c) for the chain rule).
    store_and_cap(&mut ws.u, pr.teacher_format(), pr.softcap, None);
    store_and_cap(
        &mut ws.z,
        pr.student_format(),
        pr.softcap,
        Some(&mut ws.cap),
    );
    // EA-KD's entropy weight reads the logits here, before standardisation (§7, KD_ours).
    let eakd_weight = match loss.family {
        Divergence::Eakd {
            entropy_temperature,
            hub,
            ..
        } if pr.std => Some((
            entropy_temperature,
            hub,
            eakd_row_weight(ws, entropy_temperature, hub),
        )),
        _ => None,
    };
    // 3–4. Standardisation and the temperatures, then the softmaxes.
    let (tt, st) = (pr.teacher_temperature(), pr.student_temperature());
    standardise_and_temper(&mut ws.u, pr.std, tt, None);
    let spread = standardise_and_temper(&mut ws.z, pr.std, st, Some(&mut ws.centred));
    ws.teacher.set_logits(&ws.u);
    ws.student.set_logits(&ws.z);
    // 5–6. The support and the family, gradient w.r.t. the step-4 student logits.
    let (mut value, report) = support::apply(
        &loss.family,
        &pr.support,
        &ws.teacher,
        &ws.student,
        stream,
        grad,
        &mut ws.support,
        &mut ws.family,
    );
    if let Some((wt, hub, w_raw)) = eakd_weight {
        // The family weighted the row by the standardised logits' entropies; the weight is
        // detached, so rescaling value and gradient swaps in the weight of step 2's logits.
        let w_std = eakd_row_weight(ws, wt, hub);
        if w_std > 0.0 {
            let r = w_raw / w_std;
            value *= r;
            grad.iter_mut().for_each(|g| *g *= r);
        }
    }
    // Chain rule back through 4 → 3 → 2.
    if st != 1.0 {
        grad.iter_mut().for_each(|g| *g /= st);
    }
    if let Some((s, sigma)) = spread {
        standardise_back(grad, &ws.centred, s, sigma);
    }
    if pr.softcap.is_some() {
        for (g, t) in grad.iter_mut().zip(&ws.cap) {
            *g *= 1.0 - t * t;
        }
    }
    // 7. T².
    times_t2(pr.t2, st, &mut value, grad);
    Ok(Outcome {
        value,
        nonfinite: None,
        support: report,
    })
}

/// The loss of one row against a teacher stored as its top k (practice.md §10.6): the stored ids
/// and log-probabilities are the teacher after steps 1–4, `z` the student's full row of V logits.
/// Only the three top-k supports apply, with k up to the stored k; the teacher-side keys (`tt`,
/// `softcap`, `std`, `tprecision`) need the full teacher row and are refused. `precision` rounds
/// the student only (the teacher is taken as stored); `st` and `t2` act as in [`evaluate`].
pub fn evaluate_stored(
    loss: &Loss,
    teacher: &StoredTopK<'_>,
    z: &[f64],
    grad: &mut [f64],
    ws: &mut PracticeWorkspace,
) -> Result<Outcome, PracticeError> {
    check_stored(loss, teacher, z, grad, &mut ws.seen)?;
    let pr = &loss.practice;
    ws.z.clear();
    ws.z.extend_from_slice(z);
    round_all(&mut ws.z, pr.student_format());
    let st = pr.student_temperature();
    if st != 1.0 {
        ws.z.iter_mut().for_each(|x| *x /= st);
    }
    ws.student.set_logits(&ws.z);
    let (mut value, report) = support::apply_stored(
        &loss.family,
        &pr.support,
        teacher,
        &ws.student,
        grad,
        &mut ws.support,
        &mut ws.family,
    );
    if st != 1.0 {
        grad.iter_mut().for_each(|g| *g /= st);
    }
    times_t2(pr.t2, st, &mut value, grad);
    Ok(Outcome {
        value,
        nonfinite: None,
        support: report,
    })
}

/// Why `loss` cannot be evaluated against a stored top-k teacher, if it cannot (§10.6).
pub fn stored_refusal(loss: &Loss, stored_k: usize) -> Option<String> {
    let pr = &loss.practice;
    let fam = loss.family.name();
    let Some(k) = pr.support.k() else {
        return Some(format!(
            "{fam}: support={} needs the teacher's full row; a teacher stored as its top \
             {stored_k} trains only with support=topk, topk-renorm or topk-tail and k ≤ {stored_k}",
            pr.support.name()
        ));
    };
    if k > stored_k {
        return Some(format!(
            "{fam}: k={k} is more than the teacher's stored top {stored_k}; expected k ≤ {stored_k}"
        ));
    }
    let given = [
        ("tt", pr.tt.is_some()),
        ("softcap", pr.softcap.is_some()),
        ("std", pr.std),
        ("tprecision", pr.tprecision.is_some()),
    ];
    given.iter().find(|(_, on)| *on).map(|(key, _)| {
        format!(
            "{fam}: {key} needs the teacher's full row; a teacher stored as its top {stored_k} \
             takes only st, t2, precision and the top-k keys (support, k, renorm, clamp, lpmin, eps)"
        )
    })
}

/// The refusals of [`evaluate_stored`]: the loss (see [`stored_refusal`]), the sizes, the stored
/// ids (distinct classes below V) and log-probabilities (not NaN, not +inf), the student's logits.
fn check_stored(
    loss: &Loss,
    teacher: &StoredTopK<'_>,
    z: &[f64],
    grad: &[f64],
    seen: &mut Vec<bool>,
) -> Result<(), PracticeError> {
    let err = |msg: String| Err(PracticeError(format!("{}: {msg}", loss.family.name())));
    let (kk, vs) = (teacher.ids.len(), z.len());
    if let Some(why) = stored_refusal(loss, kk) {
        return Err(PracticeError(why));
    }
    if vs < 2 {
        return err(format!(
            "the student has {vs} logits; expected at least 2 classes"
        ));
    }
    if grad.len() != vs {
        return err(format!(
            "the gradient has {} entries for {vs} student classes",
            grad.len()
        ));
    }
    if teacher.logprobs.len() != kk {
        return err(format!(
            "the stored teacher has {kk} ids and {} log-probabilities; expected as many",
            teacher.logprobs.len()
        ));
    }
    if kk > vs {
        return err(format!(
            "the stored teacher keeps {kk} classes of a student with {vs}; expected at most {vs}"
        ));
    }
    seen.clear();
    seen.resize(vs, false);
    for (i, (&j, &lp)) in teacher.ids.iter().zip(teacher.logprobs).enumerate() {
        if j as usize >= vs {
            return err(format!(
                "stored teacher id {j} (entry {i}) is not a class; expected an id below {vs}"
            ));
        }
        if std::mem::replace(&mut seen[j as usize], true) {
            return err(format!(
                "stored teacher id {j} appears twice; expected {kk} distinct classes"
            ));
        }
        if lp.is_nan() || lp > 0.0 {
            return err(format!(
                "stored teacher log-probability {lp} (entry {i}); expected a number ≤ 0 or -inf"
            ));
        }
    }
    if let Some(t) = teacher.tail
        && (t.is_nan() || t > 0.0)
    {
        return err(format!(
            "stored teacher tail log-probability {t}; expected a number ≤ 0 or -inf"
        ));
    }
    if let Some((k, v)) = z.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return err(format!(
            "student logit {k} is {v}; practice options need finite logits"
        ));
    }
    check_classes(&loss.family, vs).map_err(PracticeError)
}

/// EA-KD's row weight of the current logits `ws.u`, `ws.z`.
fn eakd_row_weight(ws: &mut PracticeWorkspace, wt: f64, hub: Option<f64>) -> f64 {
    let n = ws.z.len().max(ws.u.len());
    ws.scratch[0].resize(n, 0.0);
    ws.scratch[1].resize(n, 0.0);
    let [a, b] = &mut ws.scratch;
    row_weight(wt, hub, &ws.u, &ws.z, [a, b])
}

/// The refusals that need the row: sizes, finite logits (when an option transforms them), k ≤ V
/// and the family's own class checks.
fn check(loss: &Loss, u: &[f64], z: &[f64], grad: &[f64]) -> Result<(), PracticeError> {
    let err = |msg: String| Err(PracticeError(format!("{}: {msg}", loss.family.name())));
    let (vt, vs) = (u.len(), z.len());
    for (side, v) in [("teacher", vt), ("student", vs)] {
        if v < 2 {
            return err(format!(
                "the {side} has {v} logits; expected at least 2 classes"
            ));
        }
    }
    if grad.len() != vs {
        return err(format!(
            "the gradient has {} entries for {vs} student classes",
            grad.len()
        ));
    }
    if vt != vs {
        if !loss.family.accepts_vocab_mismatch() {
            return err(format!(
                "teacher has {vt} classes, student {vs}; only uld accepts different sizes"
            ));
        }
        if loss.practice.support != Support::Full {
            return err(format!(
                "teacher has {vt} classes, student {vs}; uld accepts different sizes only with \
                 support=full"
            ));
        }
    }
    if !loss.practice.is_default() {
        for (side, x) in [("teacher", u), ("student", z)] {
            if let Some((k, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return err(format!(
                    "{side} logit {k} is {v}; practice options need finite logits"
                ));
            }
        }
    }
    if let Some(k) = loss.practice.support.k()
        && k > vt
    {
        return err(format!("k={k} is out of range; expected 1..{vt}"));
    }
    check_classes(&loss.family, vt).map_err(PracticeError)
}

/// `x ← (x − mean)/(std + 1e-7)` with the unbiased std (§9.4); keeps `x − mean` in `centred` when
/// given; returns `(std + 1e-7, std)`.
fn standardise(x: &mut [f64], centred: Option<&mut Vec<f64>>) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    x.iter_mut().for_each(|v| *v -= mean);
    let sigma = (x.iter().map(|d| d * d).sum::<f64>() / (n - 1.0)).sqrt();
    if let Some(c) = centred {
        c.clear();
        c.extend_from_slice(x);
    }
    let s = sigma + 1e-7;
    x.iter_mut().for_each(|v| *v /= s);
    (s, sigma)
}

/// The chain rule of [`standardise`] (§9.4, not detached): with `g` = dL/dx', `d` = x − mean,
/// `dL/dx_j = (g_j − ḡ)/s − (Σ g_k d_k)·d_j/(s²(V−1)σ)`; the second term is dropped when σ = 0.
fn standardise_back(g: &mut [f64], d: &[f64], s: f64, sigma: f64) {
    let n = g.len() as f64;
    let mean = g.iter().sum::<f64>() / n;
    let gd: f64 = g.iter().zip(d).map(|(a, b)| a * b).sum();
    let c = if sigma > 0.0 {
        gd / (s * s * (n - 1.0) * sigma)
    } else {
        0.0
    };
    for (gj, dj) in g.iter_mut().zip(d) {
        *gj = (*gj - mean) / s - c * dj;
    }
}

/// The teacher and the student as the family sees them under `practice`: steps 1–4 of
/// [`evaluate`] (storage rounding, soft-capping, standardisation, temperatures and the softmaxes)
/// on the logits `u`, `z`, before any support; what "What the student sees" draws as the teacher
/// the loss reads.
pub fn seen(practice: &Practice, u: &[f64], z: &[f64]) -> (LogDist, LogDist) {
    (
        seen_teacher(practice, u),
        seen_side(
            practice,
            z,
            practice.student_format(),
            practice.student_temperature(),
        ),
    )
}

/// The teacher of [`seen`] alone: what `support=sampled` draws from (the GPU path's sampler).
pub fn seen_teacher(practice: &Practice, u: &[f64]) -> LogDist {
    seen_side(
        practice,
        u,
        practice.teacher_format(),
        practice.teacher_temperature(),
    )
}

fn seen_side(practice: &Practice, x: &[f64], fmt: Format, t: f64) -> LogDist {
    let mut x = x.to_vec();
    store_and_cap(&mut x, fmt, practice.softcap, None);
    standardise_and_temper(&mut x, practice.std, t, None);
    let mut d = LogDist::default();
    d.set_logits(&x);
    d
}

/// Step 7: value and gradient times st² when `t2`.
fn times_t2(t2: bool, st: f64, value: &mut f64, grad: &mut [f64]) {
    if t2 {
        let s2 = st * st;
        *value *= s2;
        grad.iter_mut().for_each(|g| *g *= s2);
    }
}

/// Steps 1–2 on one side: storage rounding, then soft-capping `c·tanh(x/c)`; `cap` keeps
/// `tanh(x/c)` for the chain rule.
fn store_and_cap(x: &mut [f64], fmt: Format, softcap: Option<f64>, cap: Option<&mut Vec<f64>>) {
    round_all(x, fmt);
    let Some(c) = softcap else { return };
    match cap {
        Some(cap) => {
            cap.clear();
            for v in x.iter_mut() {
                let t = (*v / c).tanh();
                cap.push(t);
                *v = c * t;
            }
        }
        None => x.iter_mut().for_each(|v| *v = c * (*v / c).tanh()),
    }
}

/// Steps 3–4 on one side: standardisation when `std` (keeping `x − mean` in `centred`), then the
/// temperature; returns [`standardise`]'s `(std + 1e-7, std)` when it ran.
fn standardise_and_temper(
    x: &mut [f64],
    std: bool,
    t: f64,
    centred: Option<&mut Vec<f64>>,
) -> Option<(f64, f64)> {
    let spread = std.then(|| standardise(x, centred));
    if t != 1.0 {
        x.iter_mut().for_each(|v| *v /= t);
    }
    spread
}
