//! NumPy `.npy` files: format version 1.0, 2.0 or 3.0, C order, dtype `<f8`, `<f4`, `<f2`, `<i8` or
//! `<i4` ([`Dtype::from_npy`]).
//!
//! One header reader serves every shape: [`parse_npy`] takes the whole file of a 1-D vector
//! (`(V,)`, `(1, V)` or `(V, 1)`) into f64, [`read_header`] reads just the header of an array of
//! any rank, whose data the caller streams with [`super::dtype::read_f32s`]. [`write_npy_f64`]
//! writes a vector.

mod header;
#[cfg(test)]
mod tests;

use super::dtype::Dtype;
use super::{EXPECT_ONE, ReadError, read_file, read_up_to, show};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest header [`read_header`] accepts; NumPy writes a few hundred bytes.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// How errors of [`parse_npy`] and [`parse_header`] name their input.
const NPY_BYTES: &str = "npy data";
const EXPECT_DTYPE: &str = "expected little-endian <f8, <f4, <f2, <i4 or <i8";
const EXPECT_SHAPE: &str = "expected (V,), (1, V) or (V, 1)";
/// The longest preamble: magic, version, 4-byte header length.
const PREAMBLE: usize = 12;

/// The header of a `.npy` file of any shape and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The dtype string as written, e.g. `<f4`; see [`NpyHeader::dtype`].
    pub descr: String,
    pub shape: Vec<u64>,
    /// Byte offset of the first data byte from the start of the file.
    pub data_offset: usize,
}

impl NpyHeader {
    /// The element type, when kdviz reads it.
    pub fn dtype(&self) -> Option<Dtype> {
        Dtype::from_npy(&self.descr)
    }
}

/// Parses the bytes of a 1-D `.npy` vector: shape `(V,)`, `(1, V)` or `(V, 1)` with V ≥ 1. Bytes
/// after the array are ignored, as `numpy.load` does (several arrays may be saved into one file).
/// Values are returned as stored (NaN and ±inf included).
pub fn parse_npy(bytes: &[u8]) -> Result<Vec<f64>, ReadError> {
    let fail = |msg: String| ReadError::new(NPY_BYTES, msg);
    let (header, header_end) = split_header(bytes)?;
    let dtype = Dtype::from_npy(&header.descr).ok_or_else(|| {
        fail(format!(
            "dtype '{}' is not supported; {EXPECT_DTYPE}",
            show(&header.descr)
        ))
    })?;
    check_c_order(&header).map_err(fail)?;
    let shape_text = format_shape(&header.shape);
    let count = match *header.shape.as_slice() {
        [v] | [1, v] | [v, 1] => v,
        _ => {
            return Err(fail(format!(
                "shape {shape_text} is not supported; {EXPECT_SHAPE}"
            )));
        }
    };
    let data = &bytes[header_end..];
    let need = usize::try_from(count).ok().and_then(|c| c.checked_mul(dtype.size())).ok_or_else(|| {
        fail(format!("shape {shape_text} is too large: {count} values cannot be addressed; {EXPECT_SHAPE}"))
    })?;
    if data.len() < need {
        return Err(fail(format!(
            "truncated: header says {count} values ({need} bytes) but only {} bytes follow",
            data.len()
        )));
    }
    if count == 0 {
        return Err(fail(format!("shape {shape_text} holds {EXPECT_ONE}")));
    }
    let mut out = Vec::with_capacity(need / dtype.size());
    dtype.decode_f64(&data[..need], &mut out);
    Ok(out)
}

/// Reads a 1-D `.npy` file; see [`parse_npy`] for what is accepted.
pub fn read_npy(path: &Path) -> Result<Vec<f64>, ReadError> {
    let bytes = read_file(path)?;
    parse_npy(&bytes).map_err(|e| e.in_file(path))
}

/// Parses the preamble and header of a `.npy` file of any shape: `bytes` is the file or a prefix
/// holding at least the whole header. C order only; the dtype and the data are not checked.
/// Errors are labelled `npy data`, like [`parse_npy`]'s.
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, ReadError> {
    let (header, header_end) = split_header(bytes)?;
    check_c_order(&header).map_err(|m| ReadError::new(NPY_BYTES, m))?;
    Ok(NpyHeader {
        descr: header.descr,
        shape: header.shape,
        data_offset: header_end,
    })
}

/// Reads the header of the `.npy` file `file`, positioned at its start, without reading the data;
/// a header longer than [`MAX_HEADER_BYTES`] is refused before it is read. Errors name `path`.
pub fn read_header<R: Read + Seek>(file: &mut R, path: &Path) -> Result<NpyHeader, ReadError> {
    let pre = read_up_to(file, path, PREAMBLE)?;
    if let Some(n) = header_len(&pre)
        && n > MAX_HEADER_BYTES
    {
        return Err(ReadError::file(
            path,
            format!(
                "npy header length field says {n} bytes; expected at most {MAX_HEADER_BYTES} (damaged file?)"
            ),
        ));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| ReadError::os(path, "cannot seek", e))?;
    let prefix = read_up_to(file, path, MAX_HEADER_BYTES as usize + PREAMBLE)?;
    parse_header(&prefix).map_err(|e| e.in_file(path))
}

/// Whether `file` starts (from its current position) with the `.npy` magic.
pub fn starts_with_magic<R: Read>(file: &mut R, path: &Path) -> Result<bool, ReadError> {
    Ok(read_up_to(file, path, MAGIC.len())? == MAGIC)
}

/// Writes `data` as a version 1.0 `.npy` file with dtype `<f8` and shape `(len,)`.
pub fn write_npy_f64(path: &Path, data: &[f64]) -> io::Result<()> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        data.len()
    );
    // NumPy pads with spaces and ends with '\n' so that the data starts 64-byte aligned.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let header_len =
        u16::try_from(header.len()).map_err(|_| io::Error::other("npy header too long"))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 8 * data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

/// The header length a preamble declares (`bytes` starts at the magic), or `None` when the bytes
/// are too short or not a known version.
fn header_len(bytes: &[u8]) -> Option<u64> {
    match (bytes.get(6..8)?, bytes.get(8..)?) {
        ([1, 0], [a, b, ..]) => Some(u64::from(u16::from_le_bytes([*a, *b]))),
        ([2 | 3, 0], [a, b, c, d, ..]) => Some(u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

/// Checks the magic, version and header length, and parses the header dict; returns it with the
/// offset of the first data byte. Memory order is left to the caller, since the 1-D reader reports
/// an unsupported dtype first.
fn split_header(bytes: &[u8]) -> Result<(header::Header, usize), ReadError> {
    let fail = |msg: String| ReadError::new(NPY_BYTES, msg);
    if !bytes.starts_with(MAGIC) {
        let got = &bytes[..bytes.len().min(MAGIC.len())];
        return Err(fail(format!(
            "bad magic \"{}\": not a .npy file; expected it to start with \\x93NUMPY",
            show(&String::from_utf8_lossy(got))
        )));
    }
    let too_short = || {
        fail(format!(
            "truncated: {} bytes, too short for a .npy preamble",
            bytes.len()
        ))
    };
    // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
    let header_start = match bytes.get(6..8) {
        Some([1, 0]) => 10,
        Some([2 | 3, 0]) => 12,
        Some(&[major, minor]) => {
            return Err(fail(format!(
                "format version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0"
            )));
        }
        _ => return Err(too_short()),
    };
    let header_len = header_len(bytes).ok_or_else(too_short)?;
    let available = bytes.len() - header_start;
    let header_end = match usize::try_from(header_len) {
        Ok(n) if n <= available => header_start + n,
        _ => {
            return Err(fail(format!(
                "truncated: header length field says {header_len} bytes but only {available} bytes follow"
            )));
        }
    };
    // Header strings are latin-1 in versions 1 and 2, UTF-8 in version 3.
    let header = header::parse_header(
        &bytes[header_start..header_end],
        header_start,
        bytes[6] == 3,
    )
    .map_err(fail)?;
    Ok((header, header_end))
}

fn check_c_order(header: &header::Header) -> Result<(), String> {
    if header.fortran_order {
        return Err(
            "fortran_order=True is not supported; expected a C-order array (save np.ascontiguousarray(x))".into(),
        );
    }
    Ok(())
}

fn format_shape(dims: &[u64]) -> String {
    match dims {
        [v] => format!("({v},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
