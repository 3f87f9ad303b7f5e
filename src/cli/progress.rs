//! Progress bars on stderr, one style for `kdviz fit` and `figure` (fits that take more than a moment,
//! animations), `kdviz real` and `kdviz gpu bench`.
//!
//! indicatif hides a bar whose stderr is not a terminal (a log file, a pipe, the tests' captured
//! stderr), so only a person watching sees them; stdout carries the results either way.

use crate::toy::parallel::{self, Event};
use crate::toy::{FitResult, FitSpec};
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
/// epochs of every divergence on a terminal, else a line per divergence as it starts; the
/// divergences run on the threads [`FitSpec::run`] would use.
pub fn fit(spec: &FitSpec) -> Result<FitResult, String> {
    let prep = spec.prepare()?;
    let (epochs, runs) = (spec.epochs + 1, spec.divergences.len());
    let work = (epochs as u64)
        .saturating_mul(prep.teacher.dist.len() as u64)
        .saturating_mul(runs as u64);
    let bar = (work >= QUIET_WORK).then(|| bar(epochs * runs, "fit"));
    let threads = parallel::threads_for(runs, prep.work(runs), parallel::PARALLEL_WORK);
    let observe = |event| {
        let Some(bar) = &bar else { return };
        match event {
            Event::Started(i) => {
                let div = &spec.divergences[i];
                if bar.is_hidden() {
                    eprintln!("kdviz: fitting {div} ({}/{runs})", i + 1);
                }
                bar.set_message(div.to_string());
            }
            Event::Epochs(n) => bar.inc(n as u64),
        }
    };
    let out = prep.run_all_observed(&spec.divergences, threads, &observe)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
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
