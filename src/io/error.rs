//! The one error type of the readers in [`crate::io`].

use std::io;
use std::path::Path;

/// Why an input could not be read. Displays as one line:
/// `<input>[ line N]: <what was wrong>; <what was expected>`.
#[derive(Debug, thiserror::Error)]
#[error("{input}{}: {message}", line_suffix(.line))]
pub struct ReadError {
    input: String,
    line: Option<usize>,
    message: String,
    #[source]
    source: Option<io::Error>,
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map_or_else(String::new, |n| format!(" line {n}"))
}

impl ReadError {
    pub(crate) fn new(input: impl Into<String>, message: impl Into<String>) -> Self {
        ReadError {
            input: input.into(),
            line: None,
            message: message.into(),
            source: None,
        }
    }

    /// An error about the file at `path`, named as `path.display()` shows it.
    pub(crate) fn file(path: &Path, message: impl Into<String>) -> Self {
        ReadError::new(label(path), message)
    }

    /// A failed read or seek of `path`: `<what>: <the OS error>`, the OS error kept as the source.
    pub(crate) fn os(path: &Path, what: &str, err: io::Error) -> Self {
        let mut e = ReadError::file(path, format!("{what}: {err}"));
        e.source = Some(err);
        e
    }

    pub(crate) fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The same error, told of the file at `path` (parsers of bytes name their input generically).
    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        self.input = label(path);
        self
    }

    /// The input as named in the message: a file path, `inline list` or `npy data`.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The 1-based line of a text file where the problem is, if it is tied to one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What was wrong and what was expected, without the input name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

fn label(path: &Path) -> String {
    path.display().to_string()
}
