//! A categorical distribution held as log-probabilities and probabilities side by side.

use super::logspace::log_softmax_into;
use super::range::MIN_CLASSES;

/// Why a vector cannot be turned into a distribution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("the vector has {}; expected at least 2 classes", entries(*.0))]
    TooFewClasses(usize),
    #[error("entry {index} is {}; expected a finite number", super::range::short(*value))]
    NotFinite { index: usize, value: f64 },
    #[error("every logit is -inf; expected at least one finite logit")]
    AllMinusInfinity,
    #[error("entry {index} is {}; expected a probability >= 0", super::range::short(*value))]
    Negative { index: usize, value: f64 },
    #[error("the probabilities sum to 0; expected a positive total")]
    ZeroMass,
}

fn entries(n: usize) -> String {
    match n {
        0 => "no entries".into(),
        1 => "1 entry".into(),
        n => format!("{n} entries"),
    }
}

/// `logp[k] = log p[k]`; zero-probability classes carry `logp = -inf` and `p = 0` exactly.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogDist {
    pub logp: Vec<f64>,
    pub p: Vec<f64>,
}

impl LogDist {
    /// Softmax of logits (at least two classes). `-inf` is allowed when `allow_neg_inf` (a teacher may give zero mass to a
    /// class); NaN and `+inf` never are.
    pub fn from_logits(logits: &[f64], allow_neg_inf: bool) -> Result<Self, DistError> {
        if logits.len() < MIN_CLASSES {
            return Err(DistError::TooFewClasses(logits.len()));
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
    /// Any finite weights work: they are divided by the largest before summing, so the sum cannot
    /// overflow (`1e308` three times is uniform, not NaN).
    pub fn from_probs(probs: &[f64]) -> Result<Self, DistError> {
        if probs.len() < MIN_CLASSES {
            return Err(DistError::TooFewClasses(probs.len()));
        }
        for (index, &value) in probs.iter().enumerate() {
            if !value.is_finite() {
                return Err(DistError::NotFinite { index, value });
            }
            if value < 0.0 {
                return Err(DistError::Negative { index, value });
            }
        }
        let max = probs.iter().copied().fold(0.0, f64::max);
        if max <= 0.0 {
            return Err(DistError::ZeroMass);
        }
        // Scaled weights lie in [0, 1] and sum to at most n: no overflow; the largest is exactly 1.
        let scaled: Vec<f64> = probs.iter().map(|&v| v / max).collect();
        let total: f64 = scaled.iter().sum();
        let log_total = total.ln();
        let p = scaled.iter().map(|&v| v / total).collect();
        let logp = scaled.iter().map(|&v| v.ln() - log_total).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10, failure 3: `1e308` three times overflowed the normalising sum (p = 0, NaN gradients).
    #[test]
    fn huge_weights_normalise_by_their_largest() {
        let d = LogDist::from_probs(&[1e308, 1e308, 1e308]).unwrap();
        for (&p, &lp) in d.p.iter().zip(&d.logp) {
            assert!((p - 1.0 / 3.0).abs() < 1e-16, "{p}");
            assert!((lp + 3f64.ln()).abs() < 1e-15, "{lp}");
        }
        let d = LogDist::from_probs(&[f64::MAX, 0.0, 5e-324]).unwrap();
        assert_eq!(d.p[0], 1.0);
        assert_eq!((d.p[1], d.logp[1]), (0.0, f64::NEG_INFINITY));
        assert_eq!(d.p[2], 0.0); // 5e-324 / 1.8e308 underflows: probability 0 in f64
        let d = LogDist::from_probs(&[1e-320, 3e-320]).unwrap();
        assert!((d.p[1] - 0.75).abs() < 1e-3, "subnormal weights: {:?}", d.p);
    }

    /// Issue 10, failure 10: one class is refused here as everywhere else.
    #[test]
    fn one_class_is_not_a_distribution() {
        let e = DistError::TooFewClasses(1);
        assert_eq!(LogDist::from_logits(&[0.3], true), Err(e.clone()));
        assert_eq!(LogDist::from_probs(&[1.0]), Err(e.clone()));
        assert_eq!(
            e.to_string(),
            "the vector has 1 entry; expected at least 2 classes"
        );
        assert_eq!(LogDist::from_probs(&[]), Err(DistError::TooFewClasses(0)));
    }

    /// Issue 10, failure 2: `x − (m + ln Σ)` lost `ln Σ` once |m| ≳ 1e13.
    #[test]
    fn log_softmax_keeps_the_log_sum_at_huge_offsets() {
        for offset in [0.0, 1e13, 1e15, -1e15, 1e16] {
            let z = [offset, offset, offset - 4.0]; // exact in f64 up to 2^54
            let d = LogDist::from_logits(&z, false).unwrap();
            let want = -(2.0 + (-4f64).exp()).ln();
            assert!(
                (d.logp[0] - want).abs() < 1e-15,
                "offset {offset}: {}",
                d.logp[0]
            );
            let total: f64 = d.logp.iter().map(|l| l.exp()).sum();
            assert!(
                (total - 1.0).abs() < 1e-15,
                "offset {offset}: Σ exp(log p) = {total}"
            );
        }
    }
}
