//! Distillation as practised (practice.md §0.2, §9, §10, §12): the options every divergence
//! accepts and the pipeline that evaluates a family under them.
//!
//! A [`Loss`] is a [`Divergence`](super::Divergence) (the family and its own parameters) plus a
//! [`Practice`] (the common keys); [`evaluate`] runs one row from raw logits.

pub mod loss;
pub mod options;
pub mod pipeline;
pub mod support;
pub mod sweep;

pub use loss::{COMMON_KEYS, CommonKey, Loss, is_common_key};
pub use options::{Practice, Renorm, Support};
pub use pipeline::{
    Outcome, PracticeError, PracticeWorkspace, evaluate, evaluate_stored, seen, seen_teacher,
    stored_refusal,
};
pub use support::{StoredTopK, SupportReport, TopKReport, sampled_counts};

#[cfg(test)]
mod stored_tests;
#[cfg(test)]
mod tests;
