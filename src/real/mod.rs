//! Real-model scale: teacher logits over `[N positions × V classes]` from a file or from the built-in
//! n-gram language model, students with free or low-rank logits, trained on the GPU (CPU fallback)
//! under any divergence of [`crate::math`].
//!
//! Layers: `app`/`cli` → `real` → `gpu`, `io`, `math`.

pub mod corpus;
pub mod files;
pub mod tokens;
pub mod topk;
pub mod train;

pub use topk::TopKTeacher;

use crate::math::range;

/// Teacher logits at `n` positions over a vocabulary of `v` classes, with what is known about them.
#[derive(Debug, Clone, PartialEq)]
pub struct RealData {
    /// Where it came from, for titles and messages (a path, or `built-in: ...`).
    pub source: String,
    pub n: usize,
    pub v: usize,
    /// `[n × v]` row-major logits in `[-1e5, 1e5]` ([`range::MAX_LOGIT`]); `-inf` marks a class the
    /// teacher rules out. Never NaN or `+inf`. Empty when the teacher is known only as its top k
    /// (`topk` from a file): see [`RealData::has_full_teacher`].
    pub teacher: Vec<f32>,
    /// The teacher as its top k per position (practice.md §10.6), read from a file or derived from
    /// `teacher` (`--topk`); when present, the students train against it (top-k supports only).
    pub topk: Option<TopKTeacher>,
    /// The student's vocabulary size: `v`, unless a student file of another size was given, which
    /// only `uld` trains on (it matches ranks, not classes).
    pub student_v: usize,
    /// Optional `[n × student_v]` initial student logits (free student only).
    pub student_init: Option<Vec<f32>>,
    /// One label per class (token strings), when known.
    pub tokens: Option<Vec<String>>,
    /// One short description per position (the text before it), when known.
    pub contexts: Option<Vec<String>>,
    /// The class that actually came next at each position (the hard label of `hinton`), when known.
    pub labels: Option<Vec<u32>>,
}

impl RealData {
    /// Checks the invariants every consumer relies on; the message names what is wrong.
    pub fn check(&self) -> Result<(), RealError> {
        let (n, v) = (self.n, self.v);
        if n == 0 || v < 2 {
            return Err(RealError::Input(format!(
                "{}: {n} positions × {v} classes; expected at least 1 position and 2 classes",
                self.source
            )));
        }
        let want = n
            .checked_mul(v)
            .ok_or_else(|| RealError::Input(format!("{}: {n} × {v} overflows", self.source)))?;
        match &self.topk {
            Some(t) => t.check(&self.source, n, v)?,
            None if self.teacher.is_empty() => {
                return Err(RealError::Input(format!(
                    "{}: no teacher; expected teacher logits [N, V] or a top-k teacher",
                    self.source
                )));
            }
            None => {}
        }
        if self.has_full_teacher() && self.teacher.len() != want {
            return Err(RealError::Input(format!(
                "{}: teacher holds {} logits; expected {n} × {v} = {want}",
                self.source,
                self.teacher.len()
            )));
        }
        for (r, row) in self.teacher.chunks_exact(v).enumerate() {
            if let Some((k, x)) = range::first_bad_logit(row.iter().map(|&x| f64::from(x)), true) {
                return Err(RealError::Input(format!(
                    "{}: teacher logit at position {r}, class {k} is {}; expected {}",
                    self.source,
                    range::short(x),
                    range::logit_range(true)
                )));
            }
            if row.iter().all(|x| *x == f32::NEG_INFINITY) {
                return Err(RealError::Input(format!(
                    "{}: teacher position {r} has every logit -inf; expected at least one finite",
                    self.source
                )));
            }
        }
        let sv = self.student_v;
        if sv < 2 {
            return Err(RealError::Input(format!(
                "{}: the student has {sv} classes; expected at least 2",
                self.source
            )));
        }
        if let Some(s) = &self.student_init {
            if Some(s.len()) != n.checked_mul(sv) {
                return Err(RealError::Input(format!(
                    "{}: initial student holds {} logits; expected {n} positions × {sv} classes",
                    self.source,
                    s.len()
                )));
            }
            if let Some((i, x)) = range::first_bad_logit(s.iter().map(|&x| f64::from(x)), false) {
                return Err(RealError::Input(format!(
                    "{}: initial student logit at position {}, class {} is {}; expected {}",
                    self.source,
                    i / sv,
                    i % sv,
                    range::short(x),
                    range::logit_range(false)
                )));
            }
        }
        if let Some(t) = &self.tokens
            && t.len() != v
        {
            return Err(RealError::Input(format!(
                "{}: {} token labels for a vocabulary of {v} classes; expected one per class",
                self.source,
                t.len()
            )));
        }
        if let Some(c) = &self.contexts
            && c.len() != n
        {
            return Err(RealError::Input(format!(
                "{}: {} context strings for {n} positions; expected one per position",
                self.source,
                c.len()
            )));
        }
        if let Some(l) = &self.labels {
            if l.len() != n {
                return Err(RealError::Input(format!(
                    "{}: {} labels for {n} positions; expected one per position",
                    self.source,
                    l.len()
                )));
            }
            if let Some(r) = l.iter().position(|&k| k as usize >= v) {
                return Err(RealError::Input(format!(
                    "{}: label {} at position {r} is outside the vocabulary of {v} classes",
                    self.source, l[r]
                )));
            }
        }
        Ok(())
    }

    /// Whether the full teacher row is known (not only its top k from a file): the metrics against
    /// the teacher, the position inspector and a full-support loss need it.
    pub fn has_full_teacher(&self) -> bool {
        !self.teacher.is_empty()
    }

    /// The teacher's logits at one position (empty without a full teacher).
    pub fn teacher_row(&self, r: usize) -> &[f32] {
        if !self.has_full_teacher() {
            return &[];
        }
        &self.teacher[r * self.v..(r + 1) * self.v]
    }

    /// The same teacher with a student over its own vocabulary of `sv` classes, starting uniform
    /// (what `uld` distils across tokenizers); refused when initial student logits are loaded or
    /// when teacher and student together pass the loader's bound on logits.
    pub fn with_student_vocab(mut self, sv: usize) -> Result<RealData, RealError> {
        if self.student_init.is_some() {
            return Err(RealError::Input(format!(
                "{}: a student vocabulary of {sv} classes and initial student logits were both \
                 given; expected one (the file fixes the student's classes)",
                self.source
            )));
        }
        let total = (self.n.checked_mul(sv)).and_then(|c| c.checked_add(self.teacher.len()));
        if self.topk.is_some() {
            return Err(RealError::Input(format!(
                "{}: a student vocabulary of {sv} classes with a top-k teacher; expected the \
                 teacher's vocabulary (a top-k teacher's ids are the student's classes)",
                self.source
            )));
        }
        if sv < 2 || total.is_none_or(|c| c > files::MAX_LOGITS) {
            return Err(RealError::Input(format!(
                "a student vocabulary of {sv} classes over {} positions; expected 2 or more \
                 classes and at most {} logits, teacher and student together",
                self.n,
                files::MAX_LOGITS
            )));
        }
        self.student_v = sv;
        Ok(self)
    }

    /// The same data with the teacher also as its top `k` per position, derived from the full
    /// teacher (`kdviz real --topk K`): the students train against the top k, the metrics stay
    /// against the full teacher.
    pub fn with_topk(mut self, k: usize) -> Result<RealData, RealError> {
        if !self.aligned() {
            return Err(RealError::Input(format!(
                "--topk {k} with a student vocabulary of {} classes; expected the teacher's {} (a \
                 top-k teacher's ids are the student's classes)",
                self.student_v, self.v
            )));
        }
        self.topk = Some(TopKTeacher::derive(&self, k)?);
        Ok(self)
    }

    /// Whether the student's classes are the teacher's (same vocabulary): the per-class metrics
    /// (KL, head/tail gaps, top-1) and the position inspector need it.
    pub fn aligned(&self) -> bool {
        self.student_v == self.v
    }

    /// The label of class `k`: its token string when known, else `#k`.
    pub fn token(&self, k: usize) -> String {
        match &self.tokens {
            Some(t) => t.get(k).cloned().unwrap_or_else(|| format!("#{k}")),
            None => format!("#{k}"),
        }
    }
}

/// Why real-model data could not be loaded or trained on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RealError {
    /// A file could not be read or is malformed: the path and what was wrong / expected.
    #[error("{path}: {message}")]
    File { path: String, message: String },
    /// Inputs that do not fit together (shapes, values, parameters).
    #[error("{0}")]
    Input(String),
    /// The GPU path failed (the caller may fall back to the CPU).
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
    /// The run was stopped by the user.
    #[error("stopped")]
    Cancelled,
}

/// A reader's error becomes a file error with the same message.
impl From<crate::io::ReadError> for RealError {
    fn from(e: crate::io::ReadError) -> Self {
        let path = match e.line() {
            Some(n) => format!("{} line {n}", e.input()),
            None => e.input().to_string(),
        };
        RealError::File {
            path,
            message: e.message().to_string(),
        }
    }
}
