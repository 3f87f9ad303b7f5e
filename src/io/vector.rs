//! One vector of f64 from a command-line argument: an inline list (`"1,0.9,-1e-3,-inf"`), a `.npy`
//! file, or a `.csv`/`.txt` file of numbers.
//!
//! Values are returned as read: NaN and ±inf pass through (a teacher may put `-inf` on a class);
//! the caller decides what is legal. Every failure is a [`VectorError`] naming the input, the
//! position and what was expected; no input makes these functions panic.

use std::fmt;
use std::io;
use std::path::Path;

/// Why an argument could not be read as a vector. Displays as one line:
/// `<input>[ line N]: <what was wrong>; <what was expected>`.
#[derive(Debug)]
pub struct VectorError {
    input: String,
    line: Option<usize>,
    message: String,
    source: Option<io::Error>,
}

impl VectorError {
    fn new(input: impl Into<String>, message: impl Into<String>) -> Self {
        VectorError {
            input: input.into(),
            line: None,
            message: message.into(),
            source: None,
        }
    }

    fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The input as named in the message: a file path, or `inline list`.
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

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "{} line {n}: {}", self.input, self.message),
            None => write!(f, "{}: {}", self.input, self.message),
        }
    }
}

impl std::error::Error for VectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

const INLINE: &str = "inline list";
const NPY_BYTES: &str = "npy data";
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
const EXPECT_NUMBER: &str = "expected a number such as 0.5, -1e-3, inf, -inf or nan";
const EXPECT_ONE: &str = "no numbers found; expected at least one";

/// Reads the vector named by a command-line argument.
///
/// The argument is a path if it names an existing file or ends in `.npy`, `.csv` or `.txt`
/// (any case); otherwise it is an inline comma-separated list. An existing file with another
/// extension is read as `.npy` if it starts with the NumPy magic, else as text.
pub fn read_vector(arg: &str) -> Result<Vec<f64>, VectorError> {
    let path = Path::new(arg);
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
        return if bytes.starts_with(NPY_MAGIC) {
            parse_npy(&bytes).map_err(|e| relabel(e, path))
        } else {
            parse_text_bytes(&bytes, &label(path))
        };
    }
    parse_inline(arg).map_err(|e| {
        // A lone word that failed as a number was most likely meant as a file name.
        if arg.contains(',') {
            e
        } else if path.is_dir() {
            VectorError::new(
                arg,
                "is a directory; expected a .npy, .csv or .txt file or a comma-separated list of numbers",
            )
        } else if arg.contains(['/', '\\']) || path.extension().is_some_and(looks_like_ext) {
            VectorError::new(
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

/// Parses a comma-separated list such as `"1, 0.9,-1e-3, -inf"`. Spaces around items are ignored;
/// an empty item is an error except a single trailing one (`"1,2,"`).
pub fn parse_inline(text: &str) -> Result<Vec<f64>, VectorError> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    let n = items.len();
    let mut out = Vec::with_capacity(n);
    for (i, item) in items.iter().enumerate() {
        if item.is_empty() {
            if i + 1 == n {
                break;
            }
            return Err(VectorError::new(
                INLINE,
                format!("item {} is empty; {EXPECT_NUMBER}", i + 1),
            ));
        }
        match parse_number(item) {
            Some(v) => out.push(v),
            None => {
                return Err(VectorError::new(
                    INLINE,
                    format!(
                        "item {} \"{}\" is not a number; {EXPECT_NUMBER}",
                        i + 1,
                        show(item)
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(VectorError::new(INLINE, EXPECT_ONE));
    }
    Ok(out)
}

/// Reads a `.npy` file; see [`parse_npy`] for what is accepted.
pub fn read_npy(path: &Path) -> Result<Vec<f64>, VectorError> {
    let bytes = read_file(path)?;
    parse_npy(&bytes).map_err(|e| relabel(e, path))
}

/// Reads a text file of numbers separated by commas, whitespace or newlines. Blank lines and
/// lines starting with `#` are skipped; a header line is an error (it would shift every index).
pub fn read_text(path: &Path) -> Result<Vec<f64>, VectorError> {
    let bytes = read_file(path)?;
    parse_text_bytes(&bytes, &label(path))
}

/// Writes `data` as a version 1.0 `.npy` file with dtype `<f8` and shape `(len,)`.
pub fn write_npy_f64(path: &Path, data: &[f64]) -> io::Result<()> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        data.len()
    );
    // NumPy pads with spaces and ends with '\n' so that the data starts 64-byte aligned.
    let unpadded = NPY_MAGIC.len() + 4 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let header_len =
        u16::try_from(header.len()).map_err(|_| io::Error::other("npy header too long"))?;
    let mut bytes = Vec::with_capacity(NPY_MAGIC.len() + 4 + header.len() + 8 * data.len());
    bytes.extend_from_slice(NPY_MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)
}

fn label(path: &Path) -> String {
    path.display().to_string()
}

fn relabel(mut e: VectorError, path: &Path) -> VectorError {
    e.input = label(path);
    e
}

fn read_file(path: &Path) -> Result<Vec<u8>, VectorError> {
    std::fs::read(path).map_err(|err| {
        let mut e = VectorError::new(label(path), format!("cannot read file: {err}"));
        e.source = Some(err);
        e
    })
}

/// `f64::from_str` takes `inf`, `+inf`, `-Infinity`, `NaN`, … in any case; only surrounding
/// whitespace needs trimming by the caller.
fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn is_number(s: &str) -> bool {
    parse_number(s).is_some()
}

/// A token for an error message: at most 40 characters, control characters escaped.
fn show(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------- text

fn parse_text_bytes(bytes: &[u8], input: &str) -> Result<Vec<f64>, VectorError> {
    if bytes.starts_with(NPY_MAGIC) {
        return Err(VectorError::new(
            input,
            "this is a NumPy .npy file, not text; expected numbers as text (or name the file *.npy)",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(err) => {
            let at = err.valid_up_to();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            return Err(VectorError::new(
                input,
                format!("byte offset {at} is not valid UTF-8; expected a text file of numbers"),
            )
            .at_line(line));
        }
    };
    parse_text(text, input)
}

fn parse_text(text: &str, input: &str) -> Result<Vec<f64>, VectorError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // BOM written by some spreadsheet exports
    let mut out = Vec::new();
    let mut first_data_line = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens = line_tokens(line).map_err(|field| {
            VectorError::new(input, format!("field {field} is empty; {EXPECT_NUMBER}"))
                .at_line(line_no)
        })?;
        let is_header = first_data_line && tokens.iter().all(|t| !is_number(t));
        first_data_line = false;
        if is_header {
            return Err(VectorError::new(
                input,
                format!(
                    "\"{}\" looks like a header line, which is not supported; expected only numbers (delete the line or start it with '#')",
                    show(line)
                ),
            )
            .at_line(line_no));
        }
        let many = tokens.len() > 1;
        for (k, tok) in tokens.iter().enumerate() {
            match parse_number(tok) {
                Some(v) => out.push(v),
                None => {
                    let item = if many {
                        format!("item {} ", k + 1)
                    } else {
                        String::new()
                    };
                    return Err(VectorError::new(
                        input,
                        format!("{item}\"{}\" is not a number; {EXPECT_NUMBER}", show(tok)),
                    )
                    .at_line(line_no));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(VectorError::new(input, EXPECT_ONE));
    }
    Ok(out)
}

/// Splits a line on commas, then each field on whitespace. An empty field between commas
/// (`1,,2`) is an error, returned as its 1-based field number, since silently dropping it would
/// shift every later class; one trailing comma is tolerated.
fn line_tokens(line: &str) -> Result<Vec<&str>, usize> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let n = fields.len();
    let mut tokens = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() {
            if i + 1 == n && n > 1 {
                break;
            }
            return Err(i + 1);
        }
        tokens.extend(field.split_whitespace());
    }
    Ok(tokens)
}

// ---------------------------------------------------------------- npy

const EXPECT_DTYPE: &str = "expected little-endian <f8, <f4, <f2, <i4 or <i8";
const EXPECT_SHAPE: &str = "expected (V,), (1, V) or (V, 1)";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F8,
    F4,
    F2,
    I8,
    I4,
}

impl Dtype {
    fn from_descr(s: &str) -> Option<Self> {
        Some(match s {
            "<f8" => Dtype::F8,
            "<f4" => Dtype::F4,
            "<f2" => Dtype::F2,
            "<i8" => Dtype::I8,
            "<i4" => Dtype::I4,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::F8 | Dtype::I8 => 8,
            Dtype::F4 | Dtype::I4 => 4,
            Dtype::F2 => 2,
        }
    }

    /// `data` holds exactly the values to decode (its length is a multiple of `size`).
    fn decode(self, data: &[u8]) -> Vec<f64> {
        match self {
            Dtype::F8 => data
                .as_chunks::<8>()
                .0
                .iter()
                .map(|c| f64::from_le_bytes(*c))
                .collect(),
            Dtype::F4 => data
                .as_chunks::<4>()
                .0
                .iter()
                .map(|c| f64::from(f32::from_le_bytes(*c)))
                .collect(),
            Dtype::F2 => data
                .as_chunks::<2>()
                .0
                .iter()
                .map(|c| f64::from(f16_to_f32(u16::from_le_bytes(*c))))
                .collect(),
            // Integers beyond 2^53 round to the nearest f64; logits that large are meaningless anyway.
            Dtype::I8 => data
                .as_chunks::<8>()
                .0
                .iter()
                .map(|c| i64::from_le_bytes(*c) as f64)
                .collect(),
            Dtype::I4 => data
                .as_chunks::<4>()
                .0
                .iter()
                .map(|c| f64::from(i32::from_le_bytes(*c)))
                .collect(),
        }
    }
}

/// IEEE 754 binary16 to binary32; exact for every input (f32 has more range and precision).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match exp {
        // Zero and subnormals: man · 2^-24, exact in f32.
        0 => {
            let mag = man as f32 * f32::from_bits(0x3380_0000);
            f32::from_bits(sign | mag.to_bits())
        }
        // Inf (man = 0) and NaN; the payload is kept in the top mantissa bits.
        0x1f => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
        // Normal: rebias the exponent from 15 to 127.
        _ => f32::from_bits(sign | ((exp + 127 - 15) << 23) | (man << 13)),
    }
}

/// Parses the bytes of a `.npy` file: format version 1.0, 2.0 or 3.0; dtype `<f8`, `<f4`, `<f2`,
/// `<i8` or `<i4`; C order; shape `(V,)`, `(1, V)` or `(V, 1)` with V ≥ 1. Bytes after the array
/// are ignored, as `numpy.load` does (several arrays may be saved into one file).
pub fn parse_npy(bytes: &[u8]) -> Result<Vec<f64>, VectorError> {
    let fail = |msg: String| VectorError::new(NPY_BYTES, msg);
    if !bytes.starts_with(NPY_MAGIC) {
        let got = &bytes[..bytes.len().min(NPY_MAGIC.len())];
        return Err(fail(format!(
            "bad magic \"{}\": not a .npy file; expected it to start with \\x93NUMPY",
            show(&String::from_utf8_lossy(got))
        )));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => {
            return Err(fail(format!(
                "truncated: {} bytes, too short for a .npy preamble",
                bytes.len()
            )));
        }
    };
    // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
    let header_start = match (major, minor) {
        (1, 0) => 10,
        (2 | 3, 0) => 12,
        _ => {
            return Err(fail(format!(
                "format version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0"
            )));
        }
    };
    let header_len = match bytes.get(8..header_start) {
        Some(&[a, b]) => u64::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => {
            return Err(fail(format!(
                "truncated: {} bytes, too short for a .npy preamble",
                bytes.len()
            )));
        }
    };
    let available = bytes.len() - header_start;
    let header_end = match usize::try_from(header_len) {
        Ok(n) if n <= available => header_start + n,
        _ => {
            return Err(fail(format!(
                "truncated: header length field says {header_len} bytes but only {available} bytes follow"
            )));
        }
    };
    let header =
        parse_header(&bytes[header_start..header_end], header_start, major == 3).map_err(fail)?;

    let dtype = Dtype::from_descr(&header.descr).ok_or_else(|| {
        fail(format!(
            "dtype '{}' is not supported; {EXPECT_DTYPE}",
            show(&header.descr)
        ))
    })?;
    if header.fortran_order {
        return Err(fail(
            "fortran_order=True is not supported; expected a C-order array (save np.ascontiguousarray(x))".into(),
        ));
    }
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
    Ok(dtype.decode(&data[..need]))
}

/// The header of a `.npy` file of any shape and dtype, for readers of larger arrays
/// ([`crate::real::files`]) that stream the data themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The dtype string as written, e.g. `<f4`; the caller decides what it accepts.
    pub descr: String,
    pub shape: Vec<u64>,
    /// Byte offset of the first data byte from the start of the file.
    pub data_offset: usize,
}

/// The header length a `.npy` preamble declares (`bytes` starts at the magic), or `None` when the
/// bytes are too short or not a known version; lets a streaming reader size its first read.
pub fn npy_header_len(bytes: &[u8]) -> Option<u64> {
    match (bytes.get(6..8)?, bytes.get(8..)?) {
        ([1, 0], [a, b, ..]) => Some(u64::from(u16::from_le_bytes([*a, *b]))),
        ([2 | 3, 0], [a, b, c, d, ..]) => Some(u64::from(u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

/// Parses the preamble and header of a `.npy` file of any shape: `bytes` is the file or a prefix
/// holding at least the whole header. C order only; the dtype and the data are not checked.
/// Errors are labelled `npy data`, like [`parse_npy`]'s.
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader, VectorError> {
    let fail = |msg: String| VectorError::new(NPY_BYTES, msg);
    if !bytes.starts_with(NPY_MAGIC) {
        let got = &bytes[..bytes.len().min(NPY_MAGIC.len())];
        return Err(fail(format!(
            "bad magic \"{}\": not a .npy file; expected it to start with \\x93NUMPY",
            show(&String::from_utf8_lossy(got))
        )));
    }
    let header_start = match bytes.get(6..8) {
        Some([1, 0]) => 10,
        Some([2 | 3, 0]) => 12,
        Some(&[major, minor]) => {
            return Err(fail(format!(
                "format version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0"
            )));
        }
        _ => {
            return Err(fail(format!(
                "truncated: {} bytes, too short for a .npy preamble",
                bytes.len()
            )));
        }
    };
    let Some(header_len) = npy_header_len(bytes) else {
        return Err(fail(format!(
            "truncated: {} bytes, too short for a .npy preamble",
            bytes.len()
        )));
    };
    let available = bytes.len() - header_start;
    let header_end = match usize::try_from(header_len) {
        Ok(n) if n <= available => header_start + n,
        _ => {
            return Err(fail(format!(
                "truncated: header length field says {header_len} bytes but only {available} bytes follow"
            )));
        }
    };
    let header = parse_header(
        &bytes[header_start..header_end],
        header_start,
        bytes[6] == 3,
    )
    .map_err(fail)?;
    if header.fortran_order {
        return Err(fail(
            "fortran_order=True is not supported; expected a C-order array (save np.ascontiguousarray(x))".into(),
        ));
    }
    Ok(NpyHeader {
        descr: header.descr,
        shape: header.shape,
        data_offset: header_end,
    })
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

/// The three keys NumPy writes; any others are ignored.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// A Python literal as found in an npy header. Tuples and lists are both `Seq`.
#[derive(Debug)]
enum Py {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Seq(Vec<Py>),
}

impl Py {
    fn kind(&self) -> &'static str {
        match self {
            Py::Str(_) => "a string",
            Py::Int(_) => "an integer",
            Py::Bool(_) => "a boolean",
            Py::None => "None",
            Py::Seq(_) => "a tuple or list",
        }
    }
}

/// `offset` is where `text` starts in the file, so that errors give file byte offsets.
/// Header strings are latin-1 in versions 1 and 2 and UTF-8 in version 3; only the string
/// contents depend on it, since everything else must be ASCII.
fn parse_header(text: &[u8], offset: usize, utf8: bool) -> Result<Header, String> {
    let mut p = HeaderParser {
        s: text,
        pos: 0,
        offset,
        utf8,
    };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(p.error("expected the header to be a dict starting with '{'"));
    }
    p.pos += 1;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.peek() == Some(b'}') {
            p.pos += 1;
            break;
        }
        let key_at = p.pos;
        let key = match p.value(0)? {
            Py::Str(k) => k,
            other => {
                return Err(p.error_at(
                    key_at,
                    &format!("dict key is {}; expected a string", other.kind()),
                ));
            }
        };
        p.skip_ws();
        if p.peek() != Some(b':') {
            return Err(p.error("expected ':' after a dict key"));
        }
        p.pos += 1;
        let value_at = p.pos;
        let value = p.value(0)?;
        match key.as_str() {
            "descr" => descr = Some((value_at, value)),
            "fortran_order" => fortran = Some((value_at, value)),
            "shape" => shape = Some((value_at, value)),
            _ => {}
        }
        p.skip_ws();
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {}
            _ => return Err(p.error("expected ',' or '}' after a dict value")),
        }
    }
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the header dict"));
    }
    let missing =
        |k: &str| format!("header has no '{k}' key; expected 'descr', 'fortran_order' and 'shape'");
    let descr = match descr.ok_or_else(|| missing("descr"))? {
        (_, Py::Str(s)) => s,
        (at, Py::Seq(_)) => {
            return Err(p.error_at(
                at,
                &format!("structured dtypes are not supported; {EXPECT_DTYPE}"),
            ));
        }
        (at, v) => {
            return Err(p.error_at(
                at,
                &format!("'descr' is {}; expected a dtype string", v.kind()),
            ));
        }
    };
    let fortran_order = match fortran.ok_or_else(|| missing("fortran_order"))? {
        (_, Py::Bool(b)) => b,
        (at, v) => {
            return Err(p.error_at(
                at,
                &format!("'fortran_order' is {}; expected True or False", v.kind()),
            ));
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        (at, Py::Seq(items)) => {
            let mut dims = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Py::Int(d) => dims.push(d),
                    v => {
                        return Err(p.error_at(
                            at,
                            &format!("'shape' holds {}; expected integers", v.kind()),
                        ));
                    }
                }
            }
            dims
        }
        (at, v) => {
            return Err(p.error_at(at, &format!("'shape' is {}; expected a tuple", v.kind())));
        }
    };
    Ok(Header {
        descr,
        fortran_order,
        shape,
    })
}

struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
    offset: usize,
    utf8: bool,
}

/// Nesting deeper than this is not a NumPy header; the limit keeps recursion bounded.
const MAX_DEPTH: usize = 8;

impl HeaderParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        self.error_at(self.pos, what)
    }

    fn error_at(&self, pos: usize, what: &str) -> String {
        let found = match self.s.get(pos) {
            Some(&b) if b.is_ascii_graphic() || b == b' ' => format!("found '{}'", b as char),
            Some(&b) => format!("found byte 0x{b:02x}"),
            None => "found the end of the header".to_string(),
        };
        format!(
            "malformed header at byte offset {} ({found}): {what}",
            self.offset + pos
        )
    }

    fn value(&mut self, depth: usize) -> Result<Py, String> {
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(open @ (b'(' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Py::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => {
                            return Err(self.error(&format!("expected ',' or '{}'", close as char)));
                        }
                    }
                }
            }
            Some(b'{') => Err(self.error("nested dicts are not expected in an npy header")),
            Some(b'0'..=b'9') => self.int(),
            Some(b'-') => Err(self.error("negative numbers are not allowed here")),
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    _ => Err(self.error_at(
                        start,
                        "expected a string, integer, tuple, True, False or None",
                    )),
                }
            }
            _ => Err(self.error("expected a string, integer, tuple, True, False or None")),
        }
    }

    /// A quoted string; backslash escapes keep the next byte literally, which covers what
    /// `repr` produces for dtype strings.
    fn string(&mut self, quote: u8) -> Result<Py, String> {
        let start = self.pos;
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, "string is not closed")),
                Some(b) if b == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) => raw.push(b),
                        None => return Err(self.error_at(start, "string is not closed")),
                    }
                    self.pos += 1;
                }
                Some(b) => {
                    raw.push(b);
                    self.pos += 1;
                }
            }
        }
        let s = if self.utf8 {
            String::from_utf8_lossy(&raw).into_owned()
        } else {
            raw.iter().map(|&b| char::from(b)).collect() // latin-1
        };
        Ok(Py::Str(s))
    }

    /// A non-negative integer, with Python 2's optional `L` suffix (`(3L,)` in old files).
    fn int(&mut self) -> Result<Py, String> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.error_at(start, "integer is too large"))?;
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(Py::Int(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Builds .npy bytes with `dict` as header text, padded like NumPy does.
    fn npy(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let len_bytes = if major == 1 { 2 } else { 4 };
        let mut header = dict.to_string();
        let unpadded = 6 + 2 + len_bytes + header.len() + 1;
        header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
        header.push('\n');
        let mut out = NPY_MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn dict(descr: &str, shape: &str) -> String {
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
    }

    fn f8(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn err_npy(bytes: &[u8]) -> String {
        parse_npy(bytes).expect_err("expected an error").to_string()
    }

    fn assert_has(msg: &str, needle: &str) {
        assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("kdviz-io-vector-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, contents).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    // ------------------------------------------------------------ npy dtypes

    #[test]
    fn npy_f8() {
        let v = [1.0, -2.5, f64::NEG_INFINITY, 1e300];
        assert_eq!(
            parse_npy(&npy(1, &dict("<f8", "(4,)"), &f8(&v))).unwrap(),
            v
        );
    }

    #[test]
    fn npy_f8_nan_passes_through() {
        let out = parse_npy(&npy(
            1,
            &dict("<f8", "(2,)"),
            &f8(&[f64::NAN, f64::INFINITY]),
        ))
        .unwrap();
        assert!(out[0].is_nan());
        assert_eq!(out[1], f64::INFINITY);
    }

    #[test]
    fn npy_f4() {
        let data: Vec<u8> = [0.5f32, -3.25, f32::NEG_INFINITY]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy(1, &dict("<f4", "(3,)"), &data)).unwrap(),
            [0.5, -3.25, f64::NEG_INFINITY]
        );
    }

    #[test]
    fn npy_f2() {
        // 1.0, -2.0, 65504 (max), smallest subnormal, largest subnormal, -0.0, inf, -inf
        let halves: [u16; 8] = [
            0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00,
        ];
        let data: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        let out = parse_npy(&npy(1, &dict("<f2", "(8,)"), &data)).unwrap();
        let want = [
            1.0,
            -2.0,
            65504.0,
            2f64.powi(-24),
            1023.0 * 2f64.powi(-24),
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        assert_eq!(out, want);
        assert!(out[5].is_sign_negative());
    }

    #[test]
    fn f16_every_bit_pattern() {
        // Reference: the binary16 definition evaluated in f64.
        for h in 0..=u16::MAX {
            let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
            let e = i32::from((h >> 10) & 0x1f);
            let m = f64::from(h & 0x3ff);
            let want = match e {
                0 => sign * m * 2f64.powi(-24),
                31 if m == 0.0 => sign * f64::INFINITY,
                31 => f64::NAN,
                _ => sign * (1.0 + m / 1024.0) * 2f64.powi(e - 15),
            };
            let got = f16_to_f32(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#06x}");
            } else {
                assert_eq!(f64::from(got), want, "{h:#06x}");
                assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
            }
        }
    }

    #[test]
    fn npy_i8_and_i4() {
        let d8: Vec<u8> = [3i64, -7, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(
            parse_npy(&npy(1, &dict("<i8", "(3,)"), &d8)).unwrap(),
            [3.0, -7.0, 0.0]
        );
        let d4: Vec<u8> = [i32::MIN, 42]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy(1, &dict("<i4", "(2,)"), &d4)).unwrap(),
            [f64::from(i32::MIN), 42.0]
        );
    }

    #[test]
    fn npy_big_endian_rejected() {
        let m = err_npy(&npy(1, &dict(">f8", "(1,)"), &[0; 8]));
        assert_has(
            &m,
            "npy data: dtype '>f8' is not supported; expected little-endian <f8, <f4, <f2, <i4 or <i8",
        );
    }

    #[test]
    fn npy_other_dtypes_rejected() {
        for d in ["<u4", "|u1", "<c16", "|b1", "<U3", "<i2", "=f8"] {
            let m = err_npy(&npy(1, &dict(d, "(1,)"), &[0; 16]));
            assert_has(&m, &format!("dtype '{d}' is not supported"));
        }
        let structured = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }";
        assert_has(
            &err_npy(&npy(1, structured, &[0; 8])),
            "structured dtypes are not supported",
        );
    }

    // ------------------------------------------------------------ versions and header syntax

    #[test]
    fn npy_versions_2_and_3() {
        let v = [1.0, 2.0];
        assert_eq!(
            parse_npy(&npy(2, &dict("<f8", "(2,)"), &f8(&v))).unwrap(),
            v
        );
        assert_eq!(
            parse_npy(&npy(3, &dict("<f8", "(2,)"), &f8(&v))).unwrap(),
            v
        );
    }

    #[test]
    fn npy_unknown_version_rejected() {
        let mut b = npy(1, &dict("<f8", "(1,)"), &[0; 8]);
        b[6] = 4;
        assert_has(
            &err_npy(&b),
            "format version 4.0 is not supported; expected 1.0, 2.0 or 3.0",
        );
        b[6] = 1;
        b[7] = 1;
        assert_has(&err_npy(&b), "format version 1.1 is not supported");
    }

    #[test]
    fn npy_header_spacing_order_and_trailing_commas() {
        let v = [5.0, 6.0];
        for h in [
            "{'shape':(2,),'fortran_order':False,'descr':'<f8'}",
            "{ \"descr\" : \"<f8\" ,\t'fortran_order' : False , 'shape' : ( 2 , ) , }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), 'extra': [1, None, 'x'],}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}",
        ] {
            assert_eq!(parse_npy(&npy(1, h, &f8(&v))).unwrap(), v, "{h}");
        }
    }

    #[test]
    fn npy_malformed_headers() {
        let cases = [
            ("'descr': '<f8'", "expected the header to be a dict"),
            ("{'descr' '<f8'}", "expected ':' after a dict key"),
            ("{'descr': '<f8' 'shape': (1,)}", "expected ',' or '}'"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)",
                "expected ',' or '}'",
            ),
            ("{'descr': '<f8", "string is not closed"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
                "unexpected text after the header dict",
            ),
            (
                "{'fortran_order': False, 'shape': (1,)}",
                "header has no 'descr' key",
            ),
            (
                "{'descr': '<f8', 'shape': (1,)}",
                "header has no 'fortran_order' key",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False}",
                "header has no 'shape' key",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
                "'fortran_order' is an integer",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': 1}",
                "'shape' is an integer; expected a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
                "negative numbers are not allowed",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': ('a',)}",
                "'shape' holds a string",
            ),
            (
                "{'descr': '<f8', 'fortran_order': false, 'shape': (1,)}",
                "found 'f'",
            ),
            ("{1: 2}", "dict key is an integer"),
            (
                "{'descr': ((((((((((1,),),),),),),),),),)}",
                "nested too deeply",
            ),
        ];
        for (h, want) in cases {
            let m = err_npy(&npy(1, h, &[0; 8]));
            assert!(m.starts_with("npy data: "), "{m}");
            assert_has(&m, want);
        }
        // Byte offsets count from the start of the file: the header starts at byte 10 in v1.
        let m = err_npy(&npy(1, "{'descr' '<f8'}", &[]));
        assert_has(
            &m,
            "npy data: malformed header at byte offset 19 (found ''')",
        );
        assert_has(&err_npy(&npy(2, "{'descr' '<f8'}", &[])), "byte offset 21");
    }

    #[test]
    fn npy_non_utf8_header_does_not_panic() {
        // Raw bytes outside strings are syntax errors; inside strings they decode lossily
        // (latin-1 in v1/v2, UTF-8 with replacement characters in v3).
        let h = "{'descr': 'XX', 'fortran_order': False, 'shape': (1,)}";
        for (major, shown) in [
            (1, "dtype 'ÿþ'"),
            (2, "dtype 'ÿþ'"),
            (3, "dtype '\u{fffd}\u{fffd}'"),
        ] {
            let mut b = npy(major, h, &[0; 8]);
            let at = b.windows(2).position(|w| w == b"XX").unwrap();
            b[at] = 0xff;
            b[at + 1] = 0xfe;
            let m = err_npy(&b);
            assert_has(&m, &format!("{shown} is not supported"));
        }
        let mut b = npy(1, h, &[0; 8]);
        b[10] = 0xc3;
        assert_has(&err_npy(&b), "found byte 0xc3");
    }

    // ------------------------------------------------------------ shapes and order

    #[test]
    fn npy_shapes() {
        let v = [1.0, 2.0, 3.0];
        for shape in ["(3,)", "(1, 3)", "(3, 1)"] {
            assert_eq!(
                parse_npy(&npy(1, &dict("<f8", shape), &f8(&v))).unwrap(),
                v,
                "{shape}"
            );
        }
        assert_eq!(
            parse_npy(&npy(1, &dict("<f8", "(1, 1)"), &f8(&[7.0]))).unwrap(),
            [7.0]
        );
    }

    #[test]
    fn npy_bad_shapes_rejected() {
        let m = err_npy(&npy(1, &dict("<f8", "(2, 3)"), &f8(&[0.0; 6])));
        assert_has(
            &m,
            "shape (2, 3) is not supported; expected (V,), (1, V) or (V, 1)",
        );
        assert_has(
            &err_npy(&npy(1, &dict("<f8", "()"), &f8(&[0.0]))),
            "shape () is not supported",
        );
        assert_has(
            &err_npy(&npy(1, &dict("<f8", "(1, 1, 3)"), &f8(&[0.0; 3]))),
            "shape (1, 1, 3)",
        );
        assert_has(
            &err_npy(&npy(1, &dict("<f8", "(0,)"), &[])),
            "no numbers found; expected at least one",
        );
    }

    #[test]
    fn npy_huge_shapes_do_not_overflow() {
        let m = err_npy(&npy(1, &dict("<f8", "(1, 18446744073709551615)"), &[0; 8]));
        assert_has(&m, "is too large");
        let m = err_npy(&npy(1, &dict("<f8", "(99999999999999999999999,)"), &[0; 8]));
        assert_has(&m, "integer is too large");
        let m = err_npy(&npy(1, &dict("<f8", "(4294967296, 4294967296)"), &[0; 8]));
        assert_has(&m, "is not supported");
        let m = err_npy(&npy(1, &dict("<f2", "(1000000000000,)"), &[0; 8]));
        assert_has(
            &m,
            "truncated: header says 1000000000000 values (2000000000000 bytes) but only 8 bytes follow",
        );
    }

    #[test]
    fn npy_fortran_order_rejected() {
        let h = "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }";
        let m = err_npy(&npy(1, h, &f8(&[1.0, 2.0])));
        assert_has(
            &m,
            "npy data: fortran_order=True is not supported; expected a C-order array",
        );
    }

    // ------------------------------------------------------------ damaged files

    #[test]
    fn npy_truncated_data() {
        let m = err_npy(&npy(1, &dict("<f8", "(80,)"), &f8(&[0.0; 40])));
        assert_has(
            &m,
            "truncated: header says 80 values (640 bytes) but only 320 bytes follow",
        );
    }

    #[test]
    fn npy_trailing_bytes_ignored() {
        let mut data = f8(&[1.0, 2.0]);
        data.extend_from_slice(b"more");
        assert_eq!(
            parse_npy(&npy(1, &dict("<f8", "(2,)"), &data)).unwrap(),
            [1.0, 2.0]
        );
    }

    #[test]
    fn npy_truncated_preamble_and_header() {
        assert_has(&err_npy(b""), "bad magic");
        assert_has(
            &err_npy(b"\x93NUMPY"),
            "truncated: 6 bytes, too short for a .npy preamble",
        );
        assert_has(
            &err_npy(b"\x93NUMPY\x01\x00\x05"),
            "too short for a .npy preamble",
        );
        assert_has(
            &err_npy(b"\x93NUMPY\x02\x00\x05\x00\x00"),
            "too short for a .npy preamble",
        );
        let full = npy(1, &dict("<f8", "(1,)"), &[0; 8]);
        assert_has(
            &err_npy(&full[..30]),
            "truncated: header length field says 118 bytes but only 20 bytes follow",
        );
        // An absurd v2 header length must be reported, not allocated.
        let mut b = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
        b.extend_from_slice(b"{}");
        assert_has(
            &err_npy(&b),
            "header length field says 4294967295 bytes but only 2 bytes follow",
        );
    }

    #[test]
    fn npy_bad_magic() {
        assert_has(
            &err_npy(b"1,2,3\n"),
            "npy data: bad magic \"1,2,3\\n\": not a .npy file",
        );
        assert_has(
            &err_npy(b"PK\x03\x04zipzip"),
            "expected it to start with \\x93NUMPY",
        );
    }

    #[test]
    fn npy_never_panics_on_prefixes_or_bit_flips() {
        let good = npy(2, &dict("<f2", "(3, 1)"), &[0, 60, 0, 188, 0, 124]);
        for n in 0..good.len() {
            let _ = parse_npy(&good[..n]);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                let _ = parse_npy(&b);
            }
        }
    }

    // ------------------------------------------------------------ inline

    #[test]
    fn inline_spaces_negatives_and_infinities() {
        let v = parse_inline("1,0.9,-1e-3, -inf , +inf,2.5E2").unwrap();
        assert_eq!(
            v,
            [1.0, 0.9, -1e-3, f64::NEG_INFINITY, f64::INFINITY, 250.0]
        );
        let v = parse_inline("Inf,-Infinity,INF").unwrap();
        assert_eq!(v, [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
        assert!(parse_inline("NaN").unwrap()[0].is_nan());
        assert_eq!(parse_inline("  7  ").unwrap(), [7.0]);
        assert_eq!(parse_inline("1,2,").unwrap(), [1.0, 2.0]);
    }

    #[test]
    fn inline_errors() {
        let e = parse_inline("1,2,abc").unwrap_err();
        assert_has(
            &e.to_string(),
            "inline list: item 3 \"abc\" is not a number; expected a number",
        );
        assert_eq!(e.input(), "inline list");
        assert_has(
            &parse_inline("1,,2").unwrap_err().to_string(),
            "inline list: item 2 is empty",
        );
        assert_has(
            &parse_inline("1 2").unwrap_err().to_string(),
            "item 1 \"1 2\" is not a number",
        );
        assert_has(
            &parse_inline("").unwrap_err().to_string(),
            "inline list: no numbers found; expected at least one",
        );
        assert_has(
            &parse_inline(" , ").unwrap_err().to_string(),
            "item 1 is empty",
        );
        let long = "x".repeat(100);
        let m = parse_inline(&long).unwrap_err().to_string();
        assert_has(&m, &format!("\"{}…\"", "x".repeat(40)));
        assert_has(
            &parse_inline("1,\u{7}").unwrap_err().to_string(),
            "item 2 \"\\u{7}\"",
        );
    }

    // ------------------------------------------------------------ text

    fn text_err(text: &str) -> String {
        parse_text(text, "t.csv")
            .expect_err("expected an error")
            .to_string()
    }

    #[test]
    fn text_separators_comments_and_blank_lines() {
        let text = "# teacher logits\n\n1.5, -2\n  3 4\t5\r\n# more\n-inf,\n  \n6e-1\n";
        assert_eq!(
            parse_text(text, "t.csv").unwrap(),
            [1.5, -2.0, 3.0, 4.0, 5.0, f64::NEG_INFINITY, 0.6]
        );
        assert_eq!(parse_text("\u{feff}1\n2", "t.csv").unwrap(), [1.0, 2.0]);
        assert_eq!(parse_text("1\n2", "t.csv").unwrap(), [1.0, 2.0]); // no final newline
    }

    #[test]
    fn text_errors() {
        assert_has(&text_err("1\nx\n"), "t.csv line 2: \"x\" is not a number");
        assert_has(
            &text_err("1\n2 3 y\n"),
            "t.csv line 2: item 3 \"y\" is not a number",
        );
        assert_has(&text_err("1,,2\n"), "t.csv line 1: field 2 is empty");
        assert_has(
            &text_err(""),
            "t.csv: no numbers found; expected at least one",
        );
        assert_has(
            &text_err("# only a comment\n\n   \n"),
            "t.csv: no numbers found",
        );
    }

    #[test]
    fn text_header_line_rejected() {
        let m = text_err("logit\n1\n2\n");
        assert_has(
            &m,
            "t.csv line 1: \"logit\" looks like a header line, which is not supported",
        );
        let m = text_err("# comment\nteacher,student\n1,2\n");
        assert_has(
            &m,
            "t.csv line 2: \"teacher,student\" looks like a header line",
        );
        // A first line that mixes numbers and words is a bad value, not a header.
        assert_has(
            &text_err("1,x\n"),
            "t.csv line 1: item 2 \"x\" is not a number",
        );
    }

    #[test]
    fn text_bytes_non_utf8_and_npy_in_disguise() {
        let m = parse_text_bytes(b"1\n2\n\xff3\n", "t.csv")
            .unwrap_err()
            .to_string();
        assert_has(&m, "t.csv line 3: byte offset 4 is not valid UTF-8");
        let npy_bytes = npy(1, &dict("<f8", "(1,)"), &f8(&[1.0]));
        let m = parse_text_bytes(&npy_bytes, "t.txt")
            .unwrap_err()
            .to_string();
        assert_has(&m, "t.txt: this is a NumPy .npy file, not text");
    }

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
        // "1e5x" has no path-like extension, so it stays an inline error.
        assert_has(
            &read_vector("1e5x").unwrap_err().to_string(),
            "inline list: item 1",
        );
    }
}
