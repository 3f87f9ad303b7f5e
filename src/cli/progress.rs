//! Progress bars on stderr, one style for `kdviz real`, `kdviz figure` animations and `kdviz gpu bench`.
//!
//! indicatif hides a bar whose stderr is not a terminal (a log file, a pipe, the tests' captured
//! stderr), so only a person watching sees them; stdout carries the results either way.

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
