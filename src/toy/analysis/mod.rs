//! The numbers the views draw, computed without egui so that they can be tested and exported as CSV:
//! the loss landscape over (μ, log σ), the per-class force and mass flow, the αβ plane's factors, the
//! TAID/AMiD assistant distributions, the GJSD β sweep and the real tab's position rows. The views
//! only draw what these return.

pub mod abplane;
pub mod assistant;
pub mod beta_sweep;
pub mod contours;
pub mod gradient;
pub mod landscape;
pub mod position;
pub mod sees;

use crate::toy::{EpochRecord, FitResult, Run};

/// `epoch` clamped to the last epoch every run of `result` recorded (what the views show).
pub fn clamp_epoch(result: &FitResult, epoch: usize) -> usize {
    let last = result
        .runs
        .iter()
        .map(|r| r.history.len())
        .min()
        .unwrap_or(1)
        .saturating_sub(1);
    epoch.min(last)
}

/// The student distribution of `run` at `epoch`: the nearest kept snapshot at or before it (the
/// first one before any; empty without snapshots).
pub fn q_at(run: &Run, epoch: usize) -> &[f64] {
    let snaps = &run.snapshots;
    match snaps.binary_search_by_key(&epoch, |s| s.epoch) {
        Ok(i) => &snaps[i].q,
        Err(0) => snaps.first().map_or(&[], |s| &s.q[..]),
        Err(i) => &snaps[i - 1].q,
    }
}

/// The epoch of the snapshot [`q_at`] reads for `epoch` (`None` without snapshots).
pub fn kept_epoch(run: &Run, epoch: usize) -> Option<usize> {
    let snaps = &run.snapshots;
    match snaps.binary_search_by_key(&epoch, |s| s.epoch) {
        Ok(_) => Some(epoch),
        Err(0) => snaps.first().map(|s| s.epoch),
        Err(i) => Some(snaps[i - 1].epoch),
    }
}

/// The record of `epoch`, or the last one when the history is shorter.
pub fn record_at(history: &[EpochRecord], epoch: usize) -> Option<&EpochRecord> {
    history.get(epoch.min(history.len().saturating_sub(1)))
}

/// The smallest 1, 2 or 5 × 10^k that is at least `x` shrunk by the relative `slack` (1e-9 lets a value
/// a rounding error above a step keep it; 0 is exact); 1 when `x` is not finite and positive.
pub fn step_125(x: f64, slack: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let e = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * e)
        .find(|&s| s >= x * (1.0 - slack))
        .unwrap_or(10.0 * e)
}

/// The fit of a preset with q kept at every epoch, as the app runs it (the analysis tests' input).
#[cfg(test)]
pub(crate) fn fit_preset(preset: &str, epochs: usize) -> FitResult {
    let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
    spec.snapshots = crate::toy::SnapshotPlan {
        every: true,
        at: vec![],
    };
    spec.epochs = epochs;
    spec.run().unwrap()
}

/// [`fit_preset`] with the preset's divergences replaced by `divs`.
#[cfg(test)]
pub(crate) fn fit_with(preset: &str, divs: &[&str], epochs: usize) -> FitResult {
    let mut cfg = crate::toy::preset::load(preset).unwrap();
    cfg.divergences = divs.iter().map(|s| s.to_string()).collect();
    let mut spec = cfg.to_spec().unwrap();
    spec.snapshots = crate::toy::SnapshotPlan {
        every: true,
        at: vec![],
    };
    spec.epochs = epochs;
    spec.run().unwrap()
}
