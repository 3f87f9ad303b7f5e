//! Progress bars on stderr, one style for `kdviz fit` and `figure` (fits that take more than a moment,
//! animations), `kdviz real` and `kdviz gpu bench`.
//!
//! indicatif hides a bar whose stderr is not a terminal (a log file, a pipe, the tests' captured
//! stderr), so only a person watching sees them; stdout carries the results either way.

use crate::toy::{FitResult, FitSpec, parallel};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps labelled `label` (`fkl`, `frames`), drawn at most 10 times a second.
pub fn bar(len: usize, label: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix:>12.bold} [{bar:32.cyan/blue}] {pos:>5}/{len:<5} {msg} ({elapsed})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.into());
    bar
}

/// Fits below this many class-epochs finish within a second or so: no progress is shown.
const QUIET_WORK: u64 = 100_000_000;

/// [`FitSpec::run`] with progress on stderr for a fit that takes more than a moment: a bar of the
/// epochs of every divergence on a terminal, else a line per divergence (such a fit runs its
/// divergences one after another; a quicker one on the threads [`FitSpec::run`] would use).
pub fn fit(spec: &FitSpec) -> Result<FitResult, String> {
    let prep = spec.prepare()?;
    let (epochs, runs) = (spec.epochs + 1, spec.divergences.len());
    let work = (epochs as u64)
        .saturating_mul(prep.teacher.dist.len() as u64)
        .saturating_mul(runs as u64);
    if work < QUIET_WORK {
        let threads = parallel::threads_for(runs, prep.work(runs), parallel::PARALLEL_WORK);
        let runs = prep.run_all(&spec.divergences, threads)?;
        return Ok(FitResult {
            teacher: prep.teacher,
            regions: prep.regions,
            runs,
        });
    }
    let bar = bar(epochs * runs, "fit");
    let mut out = Vec::with_capacity(runs);
    for (i, div) in spec.divergences.iter().enumerate() {
        if bar.is_hidden() {
            eprintln!("kdviz: fitting {div} ({}/{runs})", i + 1);
        }
        bar.set_message(div.to_string());
        let base = (i * epochs) as u64;
        out.push(prep.run_with(div, &mut |e| {
            if e % 64 == 0 {
                bar.set_position(base + e as u64);
            }
            true
        })?);
    }
    bar.finish_and_clear();
    Ok(FitResult {
        teacher: prep.teacher,
        regions: prep.regions,
        runs: out,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hidden_when_stderr_is_not_a_terminal() {
        // The test harness captures stderr through a pipe when run by cargo; a terminal run may differ.
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            assert!(super::bar(3, "x").is_hidden());
        }
    }
}
