//! The seeded sampler of sampled teachers and sampled-token estimators (practice.md §10.5): one
//! SplitMix64 stream per evaluated row, one output per draw, and a categorical draw by a plain
//! running sum over the classes, so that a (seed, row, epoch) gives the same tokens on every machine.
//!
//! It is separate from [`super::rng`] (the stream of teachers and initialisations) because its
//! outputs are part of the spec's test vectors.

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Sampler {
    state: u64,
}

impl Sampler {
    pub fn new(seed: u64) -> Sampler {
        Sampler { state: seed }
    }

    /// The stream of row `row` of epoch `epoch` when each epoch evaluates `rows` rows: seed
    /// `seed + epoch·rows + row` (wrapping), so every epoch draws afresh and `eval` is (0, 0).
    pub fn for_row(seed: u64, epoch: u64, rows: u64, row: u64) -> Sampler {
        Sampler::new(
            seed.wrapping_add(epoch.wrapping_mul(rows))
                .wrapping_add(row),
        )
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1) with 53 bits (exact in f64).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// One class drawn from the probabilities `pi` as they are (not renormalised, not sorted): the
    /// first class whose running sum exceeds a uniform; when rounding leaves the total below the
    /// uniform, the last class with positive probability. A class of probability 0 is never drawn.
    /// `None` only when no class has positive probability.
    pub fn categorical(&mut self, pi: &[f64]) -> Option<usize> {
        let v = self.uniform();
        let mut c = 0.0;
        for (k, &p) in pi.iter().enumerate() {
            c += p;
            if v < c && p > 0.0 {
                return Some(k);
            }
        }
        pi.iter().rposition(|&p| p > 0.0)
    }

    /// Counts of `n` draws from `pi` per class, into `counts` (cleared first).
    pub fn counts(&mut self, pi: &[f64], n: usize, counts: &mut Vec<u32>) {
        counts.clear();
        counts.resize(pi.len(), 0);
        for _ in 0..n {
            if let Some(k) = self.categorical(pi) {
                counts[k] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::LogDist;
    use crate::math::reference_rows::{A_U, A_Z, B_U};

    fn softmax(x: &[f64]) -> Vec<f64> {
        LogDist::from_logits(x, false).expect("finite logits").p
    }

    #[test]
    fn seed_zero_gives_the_spec_outputs_and_uniforms() {
        let mut s = Sampler::new(0);
        assert_eq!(s.next_u64(), 0xe220a8397b1dcdaf);
        assert_eq!(s.next_u64(), 0x6e789e6aa1b965f4);
        assert_eq!(s.next_u64(), 0x06c45d188009454f);
        let mut s = Sampler::new(0);
        assert_eq!(s.uniform(), 0.8833108082136426);
        assert_eq!(s.uniform(), 0.43152799704850997);
        assert_eq!(s.uniform(), 0.026433771592597743);
    }

    #[test]
    fn counts_match_the_spec_vectors() {
        // practice.md §10.5: vector A, n=16, seed=3; vector B, n=8, seed=42.
        let pa = softmax(&A_U);
        let mut counts = Vec::new();
        Sampler::new(3).counts(&pa, 16, &mut counts);
        assert_eq!(counts, [4, 1, 4, 5, 2, 0]);
        let pb = softmax(&B_U);
        Sampler::new(42).counts(&pb, 8, &mut counts);
        assert_eq!(counts, [5, 0, 1, 2]);
        // Vector A's student, seed 7: draws 1, 0, 5, 3.
        let qa = softmax(&A_Z);
        let mut s = Sampler::new(7);
        let draws: Vec<usize> = (0..4).filter_map(|_| s.categorical(&qa)).collect();
        assert_eq!(draws, [1, 0, 5, 3]);
    }

    #[test]
    fn zero_probability_classes_are_never_drawn() {
        let pi = [0.0, 0.5, 0.0, 0.5 - 1e-12, 0.0];
        let mut s = Sampler::new(11);
        for _ in 0..10_000 {
            let k = s.categorical(&pi);
            assert!(matches!(k, Some(1 | 3)), "{k:?}");
        }
        assert_eq!(Sampler::new(1).categorical(&[0.0, 0.0]), None);
    }

    #[test]
    fn rows_and_epochs_get_their_own_streams() {
        assert_eq!(Sampler::for_row(5, 0, 10, 0).state, 5);
        assert_eq!(Sampler::for_row(5, 2, 10, 3).state, 28);
        assert_eq!(Sampler::for_row(u64::MAX, 1, 1, 0).state, 0);
    }
}
