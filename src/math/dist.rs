//! A categorical distribution held as log-probabilities and probabilities side by side.

use super::logspace::log_softmax_into;

/// Why a vector cannot be turned into a distribution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("the vector is empty; expected at least one class")]
    Empty,
    #[error("entry {index} is {value}; expected a finite number")]
    NotFinite { index: usize, value: f64 },
    #[error("every logit is -inf; expected at least one finite logit")]
    AllMinusInfinity,
    #[error("entry {index} is {value}; expected a probability >= 0")]
    Negative { index: usize, value: f64 },
    #[error("the probabilities sum to 0; expected a positive total")]
    ZeroMass,
}

/// `logp[k] = log p[k]`; zero-probability classes carry `logp = -inf` and `p = 0` exactly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogDist {
    pub logp: Vec<f64>,
    pub p: Vec<f64>,
}

impl LogDist {
    /// Softmax of logits. `-inf` is allowed when `allow_neg_inf` (a teacher may give zero mass to a
    /// class); NaN and `+inf` never are.
    pub fn from_logits(logits: &[f64], allow_neg_inf: bool) -> Result<Self, DistError> {
        if logits.is_empty() {
            return Err(DistError::Empty);
        }
        for (index, &value) in logits.iter().enumerate() {
            let ok = value.is_finite() || (allow_neg_inf && value == f64::NEG_INFINITY);
            if !ok {
                return Err(DistError::NotFinite { index, value });
            }
        }
        if logits.iter().all(|&v| v == f64::NEG_INFINITY) {
            return Err(DistError::AllMinusInfinity);
        }
        let mut d = LogDist::zeros(logits.len());
        d.set_logits(logits);
        Ok(d)
    }

    /// Normalises non-negative weights (they need not sum to one); zeros become `-inf` log-probabilities.
    pub fn from_probs(probs: &[f64]) -> Result<Self, DistError> {
        if probs.is_empty() {
            return Err(DistError::Empty);
        }
        for (index, &value) in probs.iter().enumerate() {
            if !value.is_finite() {
                return Err(DistError::NotFinite { index, value });
            }
            if value < 0.0 {
                return Err(DistError::Negative { index, value });
            }
        }
        let total: f64 = probs.iter().sum();
        if total <= 0.0 {
            return Err(DistError::ZeroMass);
        }
        let p: Vec<f64> = probs.iter().map(|&v| v / total).collect();
        let logp = p.iter().map(|&v| v.ln()).collect();
        Ok(LogDist { logp, p })
    }

    /// A buffer of `n` classes to be filled by [`LogDist::set_logits`].
    pub fn zeros(n: usize) -> Self {
        LogDist {
            logp: vec![0.0; n],
            p: vec![0.0; n],
        }
    }

    /// Refills from logits without allocating (the fit loop calls this every step). Inputs are trusted.
    pub fn set_logits(&mut self, logits: &[f64]) -> f64 {
        self.logp.resize(logits.len(), 0.0);
        self.p.resize(logits.len(), 0.0);
        log_softmax_into(logits, &mut self.logp, &mut self.p)
    }

    pub fn len(&self) -> usize {
        self.p.len()
    }

    pub fn is_empty(&self) -> bool {
        self.p.is_empty()
    }

    /// True when some class has probability exactly zero.
    pub fn has_zeros(&self) -> bool {
        self.logp.contains(&f64::NEG_INFINITY)
    }
}
