//! One vector of f64 from a command-line argument: an inline list (`"1,0.9,-1e-3,-inf"`), a `.npy`
//! file, or a `.csv`/`.txt` file of numbers; this module only picks the format.
//!
//! Values are returned as read: NaN and ±inf pass through (a teacher may put `-inf` on a class);
//! the caller decides what is legal.

use super::npy::{self, parse_npy, read_npy};
use super::text::{is_number, parse_inline, parse_text_bytes, read_text};
use super::{ReadError, read_file};
use std::path::Path;

/// Reads the vector named by a command-line argument.
///
/// The argument is a path if it names an existing file or ends in `.npy`, `.csv` or `.txt`
/// (any case); otherwise it is an inline comma-separated list. An existing file with another
/// extension is read as `.npy` if it starts with the NumPy magic, else as text.
pub fn read_vector(arg: &str) -> Result<Vec<f64>, ReadError> {
    let path = Path::new(arg);
    // A device or a pipe would be read forever or block (`/dev/zero`, a FIFO named x.csv).
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        return Err(ReadError::new(
            arg,
            "is not a regular file (a device or a pipe); expected a .npy, .csv or .txt file or a \
             comma-separated list of numbers",
        ));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("npy") => return read_npy(path),
        Some("csv" | "txt") => return read_text(path),
        _ => {}
    }
    if path.is_file() {
        let bytes = read_file(path)?;
        return if bytes.starts_with(npy::MAGIC) {
            parse_npy(&bytes).map_err(|e| e.in_file(path))
        } else {
            parse_text_bytes(&bytes, &path.display().to_string())
        };
    }
    parse_inline(arg).map_err(|e| {
        // A lone word that failed as a number was most likely meant as a file name.
        if arg.contains(',') {
            e
        } else if path.is_dir() {
            ReadError::new(
                arg,
                "is a directory; expected a .npy, .csv or .txt file or a comma-separated list of numbers",
            )
        } else if arg.contains(['/', '\\']) || path.extension().is_some_and(looks_like_ext) {
            ReadError::new(
                arg,
                "no such file, and not a number; expected an existing .npy, .csv or .txt file or a comma-separated list of numbers",
            )
        } else {
            e
        }
    })
}

/// `1.5` has extension `5`; only alphabetic extensions suggest a file name.
fn looks_like_ext(ext: &std::ffi::OsStr) -> bool {
    ext.to_str().is_some_and(|s| {
        s.chars().any(|c| c.is_ascii_alphabetic()) && !is_number(&format!("1.{s}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::npy::write_npy_f64;
    use crate::io::test_util::{TempDir, assert_has, dict, npy};

    // ------------------------------------------------------------ files and dispatch

    #[test]
    fn npy_round_trip() {
        let dir = TempDir::new();
        let path = dir.0.join("round.npy");
        let v = [0.0, -1.5, 1e-300, f64::NEG_INFINITY, f64::MAX, 3.0];
        write_npy_f64(&path, &v).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0, "data must start 64-byte aligned");
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        assert_eq!(read_npy(&path).unwrap(), v);
        assert_eq!(read_vector(path.to_str().unwrap()).unwrap(), v);
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = TempDir::new();
        let p = dir.file("data.npy", &npy(1, &dict(">f8", "(1,)"), &[0; 8]));
        let m = read_npy(&p).unwrap_err().to_string();
        assert_has(
            &m,
            &format!("{}: dtype '>f8' is not supported", p.display()),
        );
        let p = dir.file("empty.csv", b"");
        let m = read_text(&p).unwrap_err().to_string();
        assert_has(
            &m,
            &format!("{}: no numbers found; expected at least one", p.display()),
        );
        let missing = dir.0.join("missing.npy");
        let e = read_vector(missing.to_str().unwrap()).unwrap_err();
        assert_has(&e.to_string(), "missing.npy: cannot read file:");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn read_vector_dispatch() {
        let dir = TempDir::new();
        let txt = dir.file("t.txt", b"1\n2\n");
        assert_eq!(read_vector(txt.to_str().unwrap()).unwrap(), [1.0, 2.0]);
        let csv = dir.file("T.CSV", b"3,4\n");
        assert_eq!(read_vector(csv.to_str().unwrap()).unwrap(), [3.0, 4.0]);
        // An existing file with another extension is sniffed by content.
        let bin = dir.file(
            "logits.bin",
            &npy(1, &dict("<f4", "(1,)"), &2f32.to_le_bytes()),
        );
        assert_eq!(read_vector(bin.to_str().unwrap()).unwrap(), [2.0]);
        let dat = dir.file("logits.dat", b"5 6");
        assert_eq!(read_vector(dat.to_str().unwrap()).unwrap(), [5.0, 6.0]);
        // An existing file whose name looks like a list is still a file.
        let odd = dir.file("1,2", b"9");
        assert_eq!(read_vector(odd.to_str().unwrap()).unwrap(), [9.0]);
        // Inline lists.
        assert_eq!(
            read_vector("1, -inf,2.5").unwrap(),
            [1.0, f64::NEG_INFINITY, 2.5]
        );
        assert_eq!(read_vector("1.5").unwrap(), [1.5]);
        assert_has(
            &read_vector("1,b").unwrap_err().to_string(),
            "inline list: item 2 \"b\"",
        );
        assert_has(
            &read_vector("").unwrap_err().to_string(),
            "inline list: no numbers found",
        );
        assert_has(
            &read_vector("abc").unwrap_err().to_string(),
            "inline list: item 1 \"abc\" is not a number",
        );
    }

    #[test]
    fn read_vector_path_like_words() {
        let dir = TempDir::new();
        let d = dir.0.to_str().unwrap().to_string();
        assert_has(
            &read_vector(&d).unwrap_err().to_string(),
            "is a directory; expected a .npy, .csv or .txt file",
        );
        let m = read_vector("teacher.bin").unwrap_err().to_string();
        assert_has(&m, "teacher.bin: no such file, and not a number");
        let m = read_vector(&format!("{d}/nope")).unwrap_err().to_string();
        assert_has(&m, "nope: no such file");
        #[cfg(unix)]
        assert_has(
            &read_vector("/dev/null").unwrap_err().to_string(),
            "/dev/null: is not a regular file (a device or a pipe)",
        );
        // "1e5x" has no path-like extension, so it stays an inline error.
        assert_has(
            &read_vector("1e5x").unwrap_err().to_string(),
            "inline list: item 1",
        );
    }
}
