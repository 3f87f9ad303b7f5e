//! What a fit may cost, checked before it starts (`kdviz fit`, `kdviz figure`, `kdviz bench` and the
//! app run the same check): a bound on the work, (epochs + 1) × classes × divergences, and one on the
//! memory the fit keeps; and the store of q that the app's scrubber (and `kdviz figure`) reads, kept
//! at every epoch up to a byte budget and thinned beyond it.
//!
//! The bounds keep any accepted config within seconds to a minute of fitting and within the 256 MiB
//! that the CLI and the app are measured against (BENCHMARKS.md, "Memory").

use super::metrics::EpochRecord;

/// The most class-epochs, (epochs + 1) × classes × divergences, a fit may take: about 20 to 40
/// seconds on one core of a 2020s machine (10 to 20 ns a class-epoch, BENCHMARKS.md).
pub const MAX_WORK: u64 = 2_000_000_000;

/// The most memory a fit may keep besides the q store: its per-epoch records, its working state and
/// the snapshots asked for by epoch (a config's `snapshots`, a figure's epochs and frames).
pub const MAX_FIT_BYTES: u64 = 48 << 20;

/// The q store of the app's scrubber and of `kdviz figure`: q at every epoch while it fits in this,
/// else at as many epochs as fit (evenly spaced and log-spaced, plus the epochs asked for).
pub const STORE_BYTES: u64 = 24 << 20;

/// Working state of one divergence's run per class: parameters, q and log q, the gradient, the
/// optimiser's moments and the divergence's scratch buffers (an upper estimate).
pub const RUN_BYTES_PER_CLASS: u64 = 160;

/// A run's working state besides its per-class vectors (the stepper, its vectors' headers, its
/// result), an upper estimate.
const RUN_OVERHEAD: u64 = 4096;

/// What the teacher, the initial student and the head/tail masks take per class, once per fit.
const SHARED_BYTES_PER_CLASS: u64 = 64;

/// A kept snapshot's bookkeeping besides its q (its epoch, the handle on the buffer).
pub const SNAPSHOT_OVERHEAD: u64 = 72;

/// A fit's size, as the budget sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitSize {
    pub epochs: usize,
    pub classes: usize,
    pub runs: usize,
    /// Snapshots asked for by epoch (within the fit), per run.
    pub snapshots: usize,
}

impl FitSize {
    /// (epochs + 1) × classes × runs.
    pub fn work(&self) -> u64 {
        (self.epochs as u64 + 1)
            .saturating_mul(self.classes as u64)
            .saturating_mul(self.runs as u64)
    }

    /// Bytes of the per-epoch records of every run.
    pub fn history_bytes(&self) -> u64 {
        (self.epochs as u64 + 1)
            .saturating_mul(self.runs as u64)
            .saturating_mul(size_of::<EpochRecord>() as u64)
    }

    /// Bytes of the runs' working state and of what they share.
    pub fn working_bytes(&self) -> u64 {
        let c = self.classes as u64;
        c.saturating_mul(self.runs as u64)
            .saturating_mul(RUN_BYTES_PER_CLASS)
            .saturating_add(c.saturating_mul(SHARED_BYTES_PER_CLASS))
            .saturating_add((self.runs as u64).saturating_mul(RUN_OVERHEAD))
    }

    /// Bytes of one kept epoch of q over every run.
    pub fn epoch_q_bytes(&self) -> u64 {
        (self.classes as u64 * 8 + SNAPSHOT_OVERHEAD).saturating_mul(self.runs as u64)
    }

    /// Bytes of the snapshots asked for by epoch.
    pub fn snapshot_bytes(&self) -> u64 {
        (self.snapshots as u64).saturating_mul(self.epoch_q_bytes())
    }

    /// Checks [`MAX_WORK`] and [`MAX_FIT_BYTES`]; the error names the product, its parts and the bound.
    pub fn check(&self) -> Result<(), String> {
        let FitSize {
            epochs,
            classes,
            runs,
            snapshots,
        } = *self;
        let work = self.work();
        if work > MAX_WORK {
            return Err(format!(
                "the fit is {} class-epochs of work ((epochs + 1) × classes × divergences = {} × {} \
                 × {}); the limit is {}: fewer epochs, classes or divergences",
                grouped(work),
                grouped(epochs as u64 + 1),
                grouped(classes as u64),
                grouped(runs as u64),
                grouped(MAX_WORK)
            ));
        }
        let (history, working, kept) = (
            self.history_bytes(),
            self.working_bytes(),
            self.snapshot_bytes(),
        );
        let total = history.saturating_add(working).saturating_add(kept);
        if total > MAX_FIT_BYTES {
            let divs = if runs == 1 {
                "divergence"
            } else {
                "divergences"
            };
            let runs = grouped(runs as u64);
            let mut parts = vec![format!(
                "{} of per-epoch records for {} epochs × {runs} {divs}",
                mib(history),
                grouped(epochs as u64 + 1)
            )];
            parts.push(format!(
                "{} of working state for {} classes × {runs} {divs}",
                mib(working),
                grouped(classes as u64)
            ));
            if snapshots > 0 {
                parts.push(format!(
                    "{} of q kept at {} epochs",
                    mib(kept),
                    grouped(snapshots as u64)
                ));
            }
            return Err(format!(
                "the fit would keep {} in memory ({}); the limit is {}: fewer epochs, classes, \
                 divergences or snapshot epochs",
                mib(total),
                parts.join(", "),
                mib(MAX_FIT_BYTES)
            ));
        }
        Ok(())
    }

    /// The epochs whose q the store keeps for a fit asking for q at every epoch: all of them while
    /// that fits in [`STORE_BYTES`] (`None`), else as many as fit, half evenly spaced and half
    /// log-spaced (the first epochs change fastest), with 0, the last epoch and `wanted` always in.
    pub fn store_epochs(&self, wanted: &[usize]) -> Option<Vec<usize>> {
        let all = self.epochs as u64 + 1;
        let room = (STORE_BYTES / self.epoch_q_bytes().max(1)).max(2);
        if all <= room {
            return None;
        }
        let last = self.epochs;
        let half = (room / 2).max(1) as usize;
        let mut kept: Vec<usize> = Vec::with_capacity(2 * half + wanted.len() + 2);
        kept.extend(
            (0..half).map(|i| (last as f64 * i as f64 / (half - 1).max(1) as f64).round() as usize),
        );
        let ln_end = ((last + 1) as f64).ln();
        kept.extend((0..half).map(|i| {
            ((ln_end * i as f64 / (half - 1).max(1) as f64).exp().round() as usize)
                .saturating_sub(1)
        }));
        kept.extend(wanted.iter().copied().filter(|&e| e <= last));
        kept.extend([0, last]);
        kept.sort_unstable();
        kept.dedup();
        Some(kept)
    }
}

/// `1234567` → `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as `12.3 MiB` (or `GiB`).
pub fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1u64 << 20) as f64;
    if m >= 1024.0 {
        format!("{:.1} GiB", m / 1024.0)
    } else {
        format!("{m:.1} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(epochs: usize, classes: usize, runs: usize) -> FitSize {
        FitSize {
            epochs,
            classes,
            runs,
            snapshots: 0,
        }
    }

    /// The reproducers: 1e6 epochs × 1e5 classes, and 1e5 × 1e5 (3 GiB of q in 6 s before).
    #[test]
    fn work_beyond_the_bound_names_the_product_and_the_bound() {
        let e = size(1_000_000, 100_000, 1).check().unwrap_err();
        assert_eq!(
            e,
            "the fit is 100,000,100,000 class-epochs of work ((epochs + 1) × classes × divergences = \
             1,000,001 × 100,000 × 1); the limit is 2,000,000,000: fewer epochs, classes or divergences"
        );
        assert!(
            size(100_000, 100_000, 2)
                .check()
                .unwrap_err()
                .contains("class-epochs")
        );
        // Every preset's size passes: the largest is 4001 × 2401 × 3.
        assert!(size(4000, 2401, 3).check().is_ok());
        assert!(size(19_999, 100_000, 1).check().is_ok());
    }

    /// README's Budgets table states the record's size.
    #[test]
    fn an_epoch_record_is_176_bytes() {
        assert_eq!(size_of::<EpochRecord>(), 176);
    }

    #[test]
    fn memory_beyond_the_bound_names_each_part() {
        let e = size(500_000, 2, 1).check().unwrap_err();
        assert!(
            e.starts_with(
                "the fit would keep 83.9 MiB in memory (83.9 MiB of per-epoch records for \
                           500,001 epochs × 1 divergence, 0.0 MiB of working state"
            ),
            "{e}"
        );
        assert!(
            e.ends_with(
                "the limit is 48.0 MiB: fewer epochs, classes, divergences or snapshot epochs"
            ),
            "{e}"
        );
        // Many divergences of few classes: each run has its own state.
        let e = size(0, 2, 20_000).check().unwrap_err();
        assert!(
            e.contains("84.2 MiB of working state for 2 classes × 20,000 divergences"),
            "{e}"
        );
        let e = size(10, 100_000, 4).check().unwrap_err();
        assert!(
            e.contains("of working state for 100,000 classes × 4 divergences"),
            "{e}"
        );
        let e = FitSize {
            snapshots: 2000,
            ..size(2000, 10_000, 3)
        }
        .check()
        .unwrap_err();
        assert!(e.contains("458.2 MiB of q kept at 2,000 epochs"), "{e}");
    }

    /// Small fits keep every epoch; a big one keeps what fits, the ends and the wanted epochs
    /// included, dense at the start.
    #[test]
    fn the_store_keeps_every_epoch_until_it_is_full() {
        assert_eq!(size(800, 80, 3).store_epochs(&[]), None);
        let big = size(100_000, 10_000, 2);
        let kept = big.store_epochs(&[12_345, 99_999]).unwrap();
        let room = (STORE_BYTES / big.epoch_q_bytes()) as usize;
        assert!(
            kept.len() <= room + 2 && kept.len() > room / 2,
            "{} of {room}",
            kept.len()
        );
        for e in [0, 1, 2, 12_345, 99_999, 100_000] {
            assert!(kept.binary_search(&e).is_ok(), "{e}");
        }
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        // Evenly spaced over the run besides the log-spaced start.
        let gaps = kept.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(gaps <= 2 * 100_000 / (room / 2), "{gaps}");
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(2_000_000_000), "2,000,000,000");
        assert_eq!(mib(48 << 20), "48.0 MiB");
        assert_eq!(mib(3 << 30), "3.0 GiB");
    }
}
