//! A teacher stored as its top k classes per position (practice.md §10.6): what verl, TRL and
//! DistillKit cache instead of the full `[N × V]` logits. Read from a file
//! ([`crate::real::files`]: `teacher_topk_ids`, `teacher_topk_logprobs`, `teacher_tail_logprob`)
//! or derived from a full teacher (`kdviz real --topk K`, [`TopKTeacher::derive`]).
//!
//! The stored log-probabilities are the teacher after steps 1–4 of the pipeline (temperature 1):
//! a student trains against it only under `support=topk|topk-renorm|topk-tail` with k up to the
//! stored k ([`crate::math::practice::evaluate_stored`]).

use super::{RealData, RealError};
use crate::math::logspace::logsumexp;
use crate::math::practice::StoredTopK;

/// `k` classes per position: ids in decreasing log-probability (equal log-probs: lower id first),
/// their log-probabilities over the full vocabulary, optionally the log of the mass outside them.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKTeacher {
    pub k: usize,
    /// `[n × k]` class ids, each below V, distinct within a row.
    pub ids: Vec<u32>,
    /// `[n × k]` log-probabilities, non-increasing within a row, ≤ 0 or -inf.
    pub logprobs: Vec<f64>,
    /// `[n]` `ln p̄` (≤ 0 or -inf for an empty tail); `None`: `p̄ = −expm1(lse(lp_K))`.
    pub tail: Option<Vec<f64>>,
    /// Whether it was derived from the full teacher held beside it (`--topk`), not read from a
    /// file.
    pub derived: bool,
}

impl TopKTeacher {
    /// Position `r` as the pipeline takes it.
    pub fn row(&self, r: usize) -> StoredTopK<'_> {
        let span = r * self.k..(r + 1) * self.k;
        StoredTopK {
            ids: &self.ids[span.clone()],
            logprobs: &self.logprobs[span],
            tail: self.tail.as_ref().map(|t| t[r]),
        }
    }

    /// The top `k` of every row of `data`'s full teacher: the log-softmax in f64 of the f32 logits,
    /// the k largest (ties: lower id first), and the tail as the log-sum-exp of the other
    /// log-probabilities (not by subtraction, which loses a small tail).
    pub fn derive(data: &RealData, k: usize) -> Result<TopKTeacher, RealError> {
        let (n, v) = (data.n, data.v);
        if !data.has_full_teacher() {
            return Err(RealError::Input(format!(
                "{}: --topk {k} derives a top-k teacher from a full one; this teacher is already \
                 stored as its top {}",
                data.source,
                data.topk.as_ref().map_or(0, |t| t.k)
            )));
        }
        if !(1..=v).contains(&k) {
            return Err(RealError::Input(format!(
                "--topk {k} is out of range; expected 1..{v} (the teacher's classes)"
            )));
        }
        let mut ids = Vec::with_capacity(n * k);
        let mut logprobs = Vec::with_capacity(n * k);
        let mut tail = Vec::with_capacity(n);
        let (mut row, mut lp, mut order, mut rest) = (vec![0.0; v], Vec::new(), Vec::new(), vec![]);
        for r in 0..n {
            for (x, &u) in row.iter_mut().zip(data.teacher_row(r)) {
                *x = f64::from(u);
            }
            let lse = logsumexp(&row);
            lp.clear();
            lp.extend(row.iter().map(|&x| x - lse));
            order.clear();
            order.extend(0..v);
            order
                .sort_unstable_by(|&a: &usize, &b: &usize| lp[b].total_cmp(&lp[a]).then(a.cmp(&b)));
            ids.extend(order[..k].iter().map(|&j| j as u32));
            logprobs.extend(order[..k].iter().map(|&j| lp[j]));
            rest.clear();
            rest.extend(order[k..].iter().map(|&j| lp[j]));
            tail.push(logsumexp(&rest));
        }
        Ok(TopKTeacher {
            k,
            ids,
            logprobs,
            tail: Some(tail),
            derived: true,
        })
    }

    /// Checks shapes and values against `n` positions of `v` classes; the message names the
    /// position and what was expected.
    pub fn check(&self, source: &str, n: usize, v: usize) -> Result<(), RealError> {
        let err = |m: String| Err(RealError::Input(format!("{source}: {m}")));
        let k = self.k;
        if !(1..=v).contains(&k) {
            return err(format!(
                "the teacher is stored as its top {k}; expected 1 to {v} (the vocabulary) classes \
                 per position"
            ));
        }
        if self.ids.len() != n * k || self.logprobs.len() != n * k {
            return err(format!(
                "the top-k teacher holds {} ids and {} log-probabilities; expected {n} positions \
                 × {k}",
                self.ids.len(),
                self.logprobs.len()
            ));
        }
        if let Some(t) = &self.tail {
            if t.len() != n {
                return err(format!(
                    "the top-k teacher's tail holds {} values; expected one per position, {n}",
                    t.len()
                ));
            }
            if let Some(r) = t.iter().position(|&x| x.is_nan() || x > 0.0) {
                return err(format!(
                    "the tail log-probability at position {r} is {}; expected a number ≤ 0 or -inf",
                    t[r]
                ));
            }
        }
        let mut seen = vec![false; v];
        for r in 0..n {
            let row = self.row(r);
            for (i, (&j, &lp)) in row.ids.iter().zip(row.logprobs).enumerate() {
                if j as usize >= v {
                    return err(format!(
                        "top-k id {j} at position {r} is outside the vocabulary; expected ids \
                         below {v}"
                    ));
                }
                if std::mem::replace(&mut seen[j as usize], true) {
                    return err(format!(
                        "top-k id {j} appears twice at position {r}; expected {k} distinct classes"
                    ));
                }
                if lp.is_nan() || lp > 0.0 {
                    return err(format!(
                        "top-k log-probability at position {r}, entry {i} is {lp}; expected a \
                         number ≤ 0 or -inf"
                    ));
                }
                if i > 0 && lp > row.logprobs[i - 1] {
                    return err(format!(
                        "top-k log-probabilities at position {r} increase at entry {i}; expected \
                         them in decreasing order (the first k entries are the top k)"
                    ));
                }
            }
            if row.logprobs.iter().all(|&x| x == f64::NEG_INFINITY)
                && row.tail.is_none_or(|t| t == f64::NEG_INFINITY)
            {
                return err(format!(
                    "the top-k teacher at position {r} has no mass (every log-probability -inf); \
                     expected at least one finite"
                ));
            }
            for &j in row.ids {
                seen[j as usize] = false;
            }
        }
        Ok(())
    }
}
