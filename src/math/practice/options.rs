//! The options every divergence accepts (practice.md §9–§12): temperatures, T², soft-capping,
//! standardisation, the teacher's support and the numerics. [`Practice`] holds them apart from the
//! family's own parameters; `Practice::default()` is "no option" and evaluates exactly as the family.

use crate::math::precision::{Compute, Format};

/// How the teacher is renormalised over its top-k cells (§10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Renorm {
    /// Both sides renormalised over K: the family on the restricted logits.
    #[default]
    Both,
    /// The teacher renormalised, the student not (maxtext before PR #4056, axolotl).
    Teacher,
}

impl Renorm {
    pub const ALL: [Renorm; 2] = [Renorm::Both, Renorm::Teacher];

    pub fn name(self) -> &'static str {
        match self {
            Renorm::Both => "both",
            Renorm::Teacher => "teacher",
        }
    }
}

/// Default of `eps`, the tail bucket's floor (verl's `benchmark_tail_kl.py`, §10.3).
pub const DEFAULT_EPS: f64 = 1e-7;
/// Default number of teacher draws of the sampled support (§10.4).
pub const DEFAULT_N: usize = 64;

/// What the student is trained against (§10); `k` is checked against V at evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Support {
    #[default]
    Full,
    /// Truncated top-k with the full-V softmaxes; `clamp` and `lpmin` are verl's (fkl only).
    TopK {
        k: usize,
        clamp: bool,
        lpmin: Option<f64>,
    },
    TopKRenorm {
        k: usize,
        renorm: Renorm,
    },
    /// K cells plus one tail bucket; `eps` is verl's floor of the student's tail (fkl only).
    TopKTail {
        k: usize,
        eps: f64,
    },
    /// The teacher replaced by `n` draws from it (RS-KD).
    Sampled {
        n: usize,
        seed: u64,
    },
}

impl Support {
    /// The spec name of the support.
    pub fn name(&self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::TopK { .. } => "topk",
            Support::TopKRenorm { .. } => "topk-renorm",
            Support::TopKTail { .. } => "topk-tail",
            Support::Sampled { .. } => "sampled",
        }
    }

    /// The number of teacher cells kept, for the three top-k supports.
    pub fn k(&self) -> Option<usize> {
        match *self {
            Support::TopK { k, .. }
            | Support::TopKRenorm { k, .. }
            | Support::TopKTail { k, .. } => Some(k),
            Support::Full | Support::Sampled { .. } => None,
        }
    }
}

/// The common options of one loss. `None` is "not given" (and prints nothing); a given value is
/// kept as given so that a spec prints back the same.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Practice {
    /// Teacher temperature (§9.1).
    pub tt: Option<f64>,
    /// Student temperature (§9.1).
    pub st: Option<f64>,
    /// Multiply value and gradient by st² (§9.2).
    pub t2: bool,
    /// Gemma-style soft-capping `c·tanh(x/c)` of both rows (§9.3).
    pub softcap: Option<f64>,
    /// Logit standardisation of both rows (§9.4).
    pub std: bool,
    pub support: Support,
    /// Storage format of the student's logits (and of the teacher's unless `tprecision`), §12.
    pub precision: Option<Format>,
    pub tprecision: Option<Format>,
    pub compute: Compute,
}

impl Practice {
    /// True when no option is given: the loss is the family alone.
    pub fn is_default(&self) -> bool {
        *self == Practice::default()
    }

    pub fn teacher_temperature(&self) -> f64 {
        self.tt.unwrap_or(1.0)
    }

    pub fn student_temperature(&self) -> f64 {
        self.st.unwrap_or(1.0)
    }

    /// The student's storage format.
    pub fn student_format(&self) -> Format {
        self.precision.unwrap_or_default()
    }

    /// The teacher's storage format: `tprecision`, else `precision`.
    pub fn teacher_format(&self) -> Format {
        self.tprecision.or(self.precision).unwrap_or_default()
    }
}
