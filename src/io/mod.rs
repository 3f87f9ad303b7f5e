//! Reading input data, one module per file format: `.npy` ([`npy`]), `.safetensors`
//! ([`safetensors`]), numbers as text ([`text`]), token vocabularies ([`tokens`]); [`dtype`] holds
//! the element types the binary formats share, [`vector`] picks the format of a command-line
//! argument.
//!
//! No math and no UI, and no roles: which tensor is the teacher, which shapes and values are legal
//! is decided by the callers (`real::files`, the CLI). Every failure is a [`ReadError`];
//! no input makes these functions panic.

pub mod csv;
pub mod dtype;
mod error;
pub mod npy;
pub mod safetensors;
pub mod text;
pub mod tokens;
pub mod vector;

#[cfg(test)]
mod test_util;

pub use error::ReadError;

use std::io::Read;
use std::path::Path;

/// Message ending of every reader that found nothing.
const EXPECT_ONE: &str = "no numbers found; expected at least one";

/// A token for an error message: at most 40 characters, control characters escaped.
pub(crate) fn show(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// The whole file at `path`.
fn read_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    std::fs::read(path).map_err(|e| ReadError::os(path, "cannot read file", e))
}

/// Up to `n` bytes from the current position of `file` (fewer only at its end).
pub(crate) fn read_up_to<R: Read>(
    file: &mut R,
    path: &Path,
    n: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    file.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::os(path, "cannot read", e))?;
    Ok(buf)
}
