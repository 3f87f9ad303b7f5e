//! Teacher (and initial student) logits from `.safetensors` and `.npy` files.
//!
//! # Formats
//!
//! - **`.safetensors`**: an 8-byte little-endian header length, a JSON header mapping tensor names to
//!   `{dtype, shape, data_offsets}` (offsets relative to the data after the header), then the data,
//!   little-endian. Logits may be `F32`, `F16`, `BF16` or `F64`; labels `I32` or `I64`. An optional
//!   `__metadata__` string map is kept; its `contexts` entry, if present, is a JSON list of one string
//!   per position (the text before it), shown by the position inspector.
//! - **`.npy`**: one array, `<f4`, `<f8` or `<f2`, C order, format version 1, 2 or 3.
//!
//! Logits have shape `[N, V]` or `[B, T, V]`; the latter is flattened to `N = B·T` rows.
//!
//! # Tensor names (safetensors)
//!
//! | name | shape | dtype | |
//! |---|---|---|---|
//! | `teacher_logits` | `[N, V]` or `[B, T, V]` | F32, F16, BF16, F64 | required, unless the file holds exactly one tensor |
//! | `student_logits` | same as the teacher | F32, F16, BF16, F64 | optional initial student |
//! | `labels` | `[N]` or `[B, T]` | I32, I64 | optional: the token that came next (Hinton's hard label), each in `0..V` |
//!
//! A separate student file (`.safetensors` or `.npy`) may be given instead of `student_logits`: its
//! `student_logits` tensor, else its only tensor.
//!
//! # Limits and checks
//!
//! Teacher and student together hold at most [`MAX_LOGITS`] = 2^31 values (8 GiB as f32); headers at
//! most [`MAX_HEADER_BYTES`]. Teacher logits must be finite or `-inf` (at least one finite per row),
//! student logits finite. Data is streamed from the file straight into one `Vec<f32>` per tensor, so
//! loading needs no more memory than the result. Every error is a [`RealError::File`] naming the file,
//! the problem and what was expected; no input panics.

use super::{RealData, RealError, tokens};
use crate::gpu::{bf16_to_f32, f16_to_f32};
use crate::io::vector::{npy_header_len, parse_npy_header};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Name of the teacher logits tensor in a `.safetensors` file.
pub const TEACHER_TENSOR: &str = "teacher_logits";
/// Name of the optional initial student logits tensor.
pub const STUDENT_TENSOR: &str = "student_logits";
/// Name of the optional next-token labels tensor.
pub const LABELS_TENSOR: &str = "labels";
/// `__metadata__` key holding a JSON list of one context string per position.
pub const CONTEXTS_METADATA: &str = "contexts";
/// Most logits loaded at once (teacher and student together): 2^31, i.e. 8 GiB of f32, which is
/// also what `kdviz gpu bench` accepts.
pub const MAX_LOGITS: usize = 1 << 31;
/// Largest accepted `.safetensors` JSON header (the `safetensors` library's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest accepted `.npy` header; NumPy writes a few hundred bytes.
const MAX_NPY_HEADER: u64 = 1 << 20;
/// Bytes read per chunk while converting.
const CHUNK_BYTES: usize = 1 << 20;

/// Element types kdviz reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
}

impl Dtype {
    /// From a safetensors dtype name (`F32`, `BF16`, ...).
    pub fn from_safetensors(s: &str) -> Option<Self> {
        Some(match s {
            "F64" => Dtype::F64,
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "I64" => Dtype::I64,
            "I32" => Dtype::I32,
            _ => return None,
        })
    }

    /// From a NumPy dtype string; only the float types logits come in.
    pub fn from_npy(s: &str) -> Option<Self> {
        Some(match s {
            "<f8" => Dtype::F64,
            "<f4" => Dtype::F32,
            "<f2" => Dtype::F16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
        }
    }

    pub fn is_float(self) -> bool {
        !matches!(self, Dtype::I64 | Dtype::I32)
    }
}

/// One entry of a `.safetensors` header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// The dtype name as written (`F32`, `BF16`, `U8`, ...); see [`Dtype::from_safetensors`].
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Absolute byte offset of the first data byte in the file.
    pub start: u64,
    /// Bytes of data.
    pub len: u64,
}

/// The parsed header of a `.safetensors` file: its tensors in header order and its metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafetensorsHeader {
    pub tensors: Vec<TensorInfo>,
    pub metadata: BTreeMap<String, String>,
}

impl SafetensorsHeader {
    pub fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    fn names(&self) -> String {
        let names: Vec<String> = self
            .tensors
            .iter()
            .map(|t| format!("'{}' {:?} {}", t.name, t.shape, t.dtype))
            .collect();
        if names.is_empty() {
            "no tensors".into()
        } else {
            names.join(", ")
        }
    }
}

/// A tensor converted to f32, with its shape as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn file_err(path: &Path, message: impl Into<String>) -> RealError {
    RealError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<(File, u64), RealError> {
    let file = File::open(path).map_err(|e| file_err(path, format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(file_err(
            path,
            "is a directory; expected a .safetensors or .npy file",
        ));
    }
    Ok((file, meta.len()))
}

/// Reads up to `n` bytes from the current position (fewer only at the end of the file).
fn read_up_to(file: &mut File, path: &Path, n: usize) -> Result<Vec<u8>, RealError> {
    let mut buf = Vec::new();
    file.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(|e| file_err(path, format!("cannot read: {e}")))?;
    Ok(buf)
}

// ------------------------------------------------------------------------------------ safetensors

/// Reads and validates the header of a `.safetensors` file: the length field, the JSON, every
/// entry's dtype/shape/offsets (offsets inside the file, sizes matching the shape for known dtypes).
pub fn read_safetensors_header(path: &Path) -> Result<SafetensorsHeader, RealError> {
    let (mut file, file_len) = open(path)?;
    let pre = read_up_to(&mut file, path, 8)?;
    let Ok(pre) = <[u8; 8]>::try_from(pre.as_slice()) else {
        return Err(file_err(
            path,
            format!(
                "truncated: {file_len} bytes; a .safetensors file starts with an 8-byte header length"
            ),
        ));
    };
    let header_len = u64::from_le_bytes(pre);
    if header_len > MAX_HEADER_BYTES {
        return Err(file_err(
            path,
            format!(
                "header length field says {header_len} bytes, over the limit of \
                 {MAX_HEADER_BYTES}; expected a .safetensors file (is it damaged, or another format?)"
            ),
        ));
    }
    let available = file_len.saturating_sub(8);
    if header_len > available {
        return Err(file_err(
            path,
            format!(
                "truncated: header length field says {header_len} bytes but only {available} bytes \
                 follow"
            ),
        ));
    }
    // header_len ≤ MAX_HEADER_BYTES fits in usize.
    let text = read_up_to(&mut file, path, header_len as usize)?;
    if text.len() as u64 != header_len {
        return Err(file_err(path, "truncated while reading the header"));
    }
    parse_safetensors_header(&text, file_len).map_err(|m| file_err(path, m))
}

/// Parses the JSON header `text` of a file of `file_len` bytes; the message says what is wrong.
fn parse_safetensors_header(text: &[u8], file_len: u64) -> Result<SafetensorsHeader, String> {
    const EXPECT: &str =
        "expected a JSON object of {\"dtype\", \"shape\", \"data_offsets\"} per tensor";
    let data_start = 8 + text.len() as u64;
    let data_len = file_len.saturating_sub(data_start);
    let json = match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(format!("header is JSON but not an object; {EXPECT}")),
        Err(e) => return Err(format!("header is not valid JSON ({e}); {EXPECT}")),
    };
    let mut header = SafetensorsHeader::default();
    for (name, entry) in json {
        if name == "__metadata__" {
            let Value::Object(m) = entry else {
                return Err("__metadata__ is not an object; expected a map of strings".into());
            };
            for (k, v) in m {
                let Value::String(v) = v else {
                    return Err(format!(
                        "__metadata__ entry '{k}' is not a string; expected a map of strings"
                    ));
                };
                header.metadata.insert(k, v);
            }
            continue;
        }
        let bad = |what: &str| format!("tensor '{name}': {what}; {EXPECT}");
        let Value::Object(e) = entry else {
            return Err(bad("entry is not an object"));
        };
        let dtype = match e.get("dtype") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(bad("no \"dtype\" string")),
        };
        let shape = match e.get("shape") {
            Some(Value::Array(dims)) => dims
                .iter()
                .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| bad("\"shape\" holds something other than non-negative integers"))?,
            _ => return Err(bad("no \"shape\" list")),
        };
        let (begin, end) = match e.get("data_offsets") {
            Some(Value::Array(o)) => match (
                o.as_slice(),
                o.first().and_then(Value::as_u64),
                o.get(1).and_then(Value::as_u64),
            ) {
                ([_, _], Some(b), Some(e)) => (b, e),
                _ => return Err(bad("\"data_offsets\" is not two non-negative integers")),
            },
            _ => return Err(bad("no \"data_offsets\" pair")),
        };
        if begin > end {
            return Err(format!(
                "tensor '{name}': data_offsets [{begin}, {end}] run backwards; the header is damaged"
            ));
        }
        if end > data_len {
            return Err(format!(
                "truncated or damaged: tensor '{name}' has data_offsets [{begin}, {end}] but only \
                 {data_len} data bytes follow the header (file of {file_len} bytes); expected the \
                 whole file"
            ));
        }
        if let Some(dt) = Dtype::from_safetensors(&dtype) {
            let need = shape
                .iter()
                .try_fold(dt.size() as u64, |a, &d| a.checked_mul(d as u64));
            if need != Some(end - begin) {
                return Err(format!(
                    "tensor '{name}': shape {shape:?} of {dtype} needs {} bytes but data_offsets \
                     [{begin}, {end}] hold {}; the header is damaged",
                    need.map_or("more than 2^64".to_string(), |n| n.to_string()),
                    end - begin
                ));
            }
        }
        header.tensors.push(TensorInfo {
            name,
            dtype,
            shape,
            start: data_start + begin,
            len: end - begin,
        });
    }
    Ok(header)
}

/// Reads one float tensor of a `.safetensors` file, converted to f32 (at most [`MAX_LOGITS`]
/// values). Values are not checked; [`load`] checks them.
pub fn read_safetensors_tensor(path: &Path, name: &str) -> Result<Tensor, RealError> {
    let header = read_safetensors_header(path)?;
    let info = header.get(name).ok_or_else(|| {
        file_err(
            path,
            format!("no tensor '{name}'; the file holds {}", header.names()),
        )
    })?;
    let src = float_source(path, info)?;
    check_count(path, &src, 0)?;
    read_source(path, &src)
}

/// Reads an integer tensor (`I32` or `I64`) of a `.safetensors` file, e.g. [`LABELS_TENSOR`].
pub fn read_safetensors_ints(path: &Path, name: &str) -> Result<(Vec<usize>, Vec<i64>), RealError> {
    let header = read_safetensors_header(path)?;
    let info = header.get(name).ok_or_else(|| {
        file_err(
            path,
            format!("no tensor '{name}'; the file holds {}", header.names()),
        )
    })?;
    read_ints(path, info)
}

fn read_ints(path: &Path, info: &TensorInfo) -> Result<(Vec<usize>, Vec<i64>), RealError> {
    let dtype = match Dtype::from_safetensors(&info.dtype) {
        Some(d @ (Dtype::I32 | Dtype::I64)) => d,
        _ => {
            return Err(file_err(
                path,
                format!(
                    "tensor '{}' has dtype {}; expected I32 or I64",
                    info.name, info.dtype
                ),
            ));
        }
    };
    let count = (info.len / dtype.size() as u64) as usize; // the header check made it exact
    if count > MAX_LOGITS {
        return Err(file_err(
            path,
            format!(
                "tensor '{}' holds {count} integers; expected at most {MAX_LOGITS}",
                info.name
            ),
        ));
    }
    let (mut file, _) = open(path)?;
    file.seek(SeekFrom::Start(info.start))
        .map_err(|e| file_err(path, format!("cannot seek: {e}")))?;
    let mut out = Vec::new();
    out.try_reserve_exact(count)
        .map_err(|_| file_err(path, format!("cannot allocate memory for {count} integers")))?;
    let mut left = count;
    let mut buf = vec![0u8; CHUNK_BYTES];
    while left > 0 {
        let k = left.min(CHUNK_BYTES / dtype.size());
        let bytes = &mut buf[..k * dtype.size()];
        file.read_exact(bytes).map_err(|e| {
            file_err(
                path,
                format!("truncated while reading '{}': {e}", info.name),
            )
        })?;
        match dtype {
            Dtype::I32 => out.extend(
                bytes
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| i64::from(i32::from_le_bytes(*c))),
            ),
            _ => out.extend(
                bytes
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .map(|c| i64::from_le_bytes(*c)),
            ),
        }
        left -= k;
    }
    Ok((info.shape.clone(), out))
}

// ------------------------------------------------------------------------------------ sources

/// Where a float tensor's data lies in a file.
#[derive(Debug, Clone)]
struct Source {
    /// How messages name the tensor: `tensor 'teacher_logits'` or `array`.
    what: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: u64,
    count: usize,
}

fn float_source(path: &Path, info: &TensorInfo) -> Result<Source, RealError> {
    let what = format!("tensor '{}'", info.name);
    let dtype = match Dtype::from_safetensors(&info.dtype) {
        Some(d) if d.is_float() => d,
        _ => {
            return Err(file_err(
                path,
                format!(
                    "{what} has dtype {}; expected F32, F16, BF16 or F64 logits",
                    info.dtype
                ),
            ));
        }
    };
    let count = count_of(path, &what, &info.shape)?;
    Ok(Source {
        what,
        dtype,
        shape: info.shape.clone(),
        start: info.start,
        count,
    })
}

fn count_of(path: &Path, what: &str, shape: &[usize]) -> Result<usize, RealError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            file_err(
                path,
                format!("{what} has shape {shape:?}, too large to address; expected at most {MAX_LOGITS} values"),
            )
        })
}

/// Refuses a tensor that, with `already` values loaded before it, exceeds [`MAX_LOGITS`].
fn check_count(path: &Path, src: &Source, already: usize) -> Result<(), RealError> {
    if src.count.saturating_add(already) > MAX_LOGITS {
        let gib = (src.count.saturating_add(already)) as f64 * 4.0 / f64::from(1u32 << 30);
        return Err(file_err(
            path,
            format!(
                "{} has shape {:?}: too large ({} values{}, {gib:.1} GiB as f32); kdviz loads at most \
                 2^31 logits (8 GiB) in all; expected fewer positions",
                src.what,
                src.shape,
                src.count,
                if already > 0 {
                    format!(" plus {already} already loaded")
                } else {
                    String::new()
                }
            ),
        ));
    }
    Ok(())
}

/// The single array of a `.npy` file.
fn npy_source(path: &Path) -> Result<Source, RealError> {
    let (mut file, file_len) = open(path)?;
    let pre = read_up_to(&mut file, path, 12)?;
    if let Some(n) = npy_header_len(&pre)
        && n > MAX_NPY_HEADER
    {
        return Err(file_err(
            path,
            format!(
                "npy header length field says {n} bytes; expected at most {MAX_NPY_HEADER} (damaged file?)"
            ),
        ));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| file_err(path, format!("cannot seek: {e}")))?;
    let prefix = read_up_to(&mut file, path, (MAX_NPY_HEADER + 12) as usize)?;
    let h = parse_npy_header(&prefix).map_err(|e| file_err(path, e.message()))?;
    let what = "array".to_string();
    let dtype = Dtype::from_npy(&h.descr).ok_or_else(|| {
        file_err(
            path,
            format!(
                "dtype '{}' is not supported; expected little-endian float logits <f4, <f8 or <f2",
                h.descr.escape_debug()
            ),
        )
    })?;
    let shape = h
        .shape
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| file_err(path, format!("shape {:?} is too large to address", h.shape)))?;
    let count = count_of(path, &what, &shape)?;
    let need = (count as u64).checked_mul(dtype.size() as u64);
    let have = file_len.saturating_sub(h.data_offset as u64);
    if need.is_none_or(|n| n > have) {
        return Err(file_err(
            path,
            format!(
                "truncated: shape {shape:?} of {} needs {} data bytes but only {have} follow the header",
                h.descr,
                need.map_or("more than 2^64".to_string(), |n| n.to_string())
            ),
        ));
    }
    Ok(Source {
        what,
        dtype,
        shape,
        start: h.data_offset as u64,
        count,
    })
}

/// Reads the `.npy` array of any rank, converted to f32 (at most [`MAX_LOGITS`] values; values
/// unchecked).
pub fn read_npy_tensor(path: &Path) -> Result<Tensor, RealError> {
    let src = npy_source(path)?;
    check_count(path, &src, 0)?;
    read_source(path, &src)
}

/// Streams `src` from the file into one f32 vector, chunk by chunk.
fn read_source(path: &Path, src: &Source) -> Result<Tensor, RealError> {
    let (mut file, _) = open(path)?;
    file.seek(SeekFrom::Start(src.start))
        .map_err(|e| file_err(path, format!("cannot seek: {e}")))?;
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(src.count).map_err(|_| {
        file_err(
            path,
            format!(
                "cannot allocate {:.1} GiB for the {} values of {}; expected a smaller file",
                src.count as f64 * 4.0 / f64::from(1u32 << 30),
                src.count,
                src.what
            ),
        )
    })?;
    let size = src.dtype.size();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut halves: Vec<u16> = Vec::new();
    let mut left = src.count;
    while left > 0 {
        let k = left.min(CHUNK_BYTES / size);
        let bytes = &mut buf[..k * size];
        file.read_exact(bytes)
            .map_err(|e| file_err(path, format!("truncated while reading {}: {e}", src.what)))?;
        match src.dtype {
            Dtype::F32 => out.extend(
                bytes
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| f32::from_le_bytes(*c)),
            ),
            // Out-of-range f64 becomes ±inf and is reported by the value checks.
            Dtype::F64 => out.extend(
                bytes
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .map(|c| f64::from_le_bytes(*c) as f32),
            ),
            Dtype::F16 => out.extend(
                bytes
                    .as_chunks::<2>()
                    .0
                    .iter()
                    .map(|c| f16_to_f32(u16::from_le_bytes(*c))),
            ),
            Dtype::BF16 => {
                halves.clear();
                halves.extend(
                    bytes
                        .as_chunks::<2>()
                        .0
                        .iter()
                        .map(|c| u16::from_le_bytes(*c)),
                );
                out.extend(bf16_to_f32(&halves));
            }
            // Sources are float tensors (float_source, npy_source); integers would still convert.
            Dtype::I32 => out.extend(
                bytes
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| i32::from_le_bytes(*c) as f32),
            ),
            Dtype::I64 => out.extend(
                bytes
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .map(|c| i64::from_le_bytes(*c) as f32),
            ),
        }
        left -= k;
    }
    Ok(Tensor {
        shape: src.shape.clone(),
        data: out,
    })
}

// ------------------------------------------------------------------------------------ load

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Teacher,
    Student,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Student => "student",
        }
    }
}

fn is_npy(path: &Path, file_len: u64, file: &mut File) -> Result<bool, RealError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        return Ok(true);
    }
    let magic = read_up_to(file, path, 6)?;
    Ok(file_len >= 6 && magic == b"\x93NUMPY")
}

/// What a logits file offers: the logits for `role`, and from a safetensors teacher file also the
/// student, labels and metadata.
struct Found {
    logits: Source,
    student: Option<Source>,
    labels: Option<TensorInfo>,
    metadata: BTreeMap<String, String>,
}

fn describe(path: &Path, role: Role) -> Result<Found, RealError> {
    let (mut file, file_len) = open(path)?;
    if is_npy(path, file_len, &mut file)? {
        return Ok(Found {
            logits: npy_source(path)?,
            student: None,
            labels: None,
            metadata: BTreeMap::new(),
        });
    }
    drop(file);
    let header = read_safetensors_header(path)?;
    let wanted = match role {
        Role::Teacher => TEACHER_TENSOR,
        Role::Student => STUDENT_TENSOR,
    };
    let info = match (header.get(wanted), header.tensors.as_slice()) {
        (Some(t), _) => t,
        (None, [only]) => only,
        (None, _) => {
            return Err(file_err(
                path,
                format!(
                    "holds {} but no tensor '{wanted}'; expected a '{wanted}' tensor (or a file with \
                     exactly one tensor)",
                    header.names()
                ),
            ));
        }
    };
    let logits = float_source(path, info)?;
    let (student, labels) = match role {
        Role::Teacher => (
            header
                .get(STUDENT_TENSOR)
                .filter(|s| s.name != info.name)
                .map(|s| float_source(path, s))
                .transpose()?,
            header.get(LABELS_TENSOR).cloned(),
        ),
        Role::Student => (None, None),
    };
    Ok(Found {
        logits,
        student,
        labels,
        metadata: header.metadata,
    })
}

/// `[N, V]` or `[B, T, V]` → (N, V).
fn rows_cols(path: &Path, src: &Source) -> Result<(usize, usize), RealError> {
    let shape = &src.shape;
    let (n, v) = match *shape.as_slice() {
        [n, v] => (n, v),
        [b, t, v] => (b.saturating_mul(t), v), // count_of already proved b·t·v fits
        _ => {
            return Err(file_err(
                path,
                format!(
                    "{} has rank {} (shape {shape:?}); expected logits of shape [N, V] or [B, T, V]",
                    src.what,
                    shape.len()
                ),
            ));
        }
    };
    if n == 0 || v < 2 {
        return Err(file_err(
            path,
            format!(
                "{} has shape {shape:?}: {n} positions × {v} classes; expected at least 1 position \
                 and 2 classes",
                src.what
            ),
        ));
    }
    if u32::try_from(v).is_err() {
        return Err(file_err(
            path,
            format!("{} has {v} classes; expected at most 2^32 − 1", src.what),
        ));
    }
    Ok((n, v))
}

/// Teacher: finite or -inf, one finite per row. Student: finite.
fn check_values(
    path: &Path,
    role: Role,
    what: &str,
    data: &[f32],
    v: usize,
) -> Result<(), RealError> {
    for (r, row) in data.chunks_exact(v).enumerate() {
        let bad = match role {
            Role::Teacher => row.iter().position(|x| x.is_nan() || *x == f32::INFINITY),
            Role::Student => row.iter().position(|x| !x.is_finite()),
        };
        if let Some(k) = bad {
            let expected = match role {
                Role::Teacher => "a finite number or -inf",
                Role::Student => "a finite number",
            };
            return Err(file_err(
                path,
                format!(
                    "{} logit of {what} at position {r}, class {k} is {}; expected {expected}",
                    role.name(),
                    row[k]
                ),
            ));
        }
        if role == Role::Teacher && row.iter().all(|x| *x == f32::NEG_INFINITY) {
            return Err(file_err(
                path,
                format!(
                    "teacher position {r} of {what} has every logit -inf; expected at least one \
                     finite logit per position"
                ),
            ));
        }
    }
    Ok(())
}

fn read_labels(path: &Path, info: &TensorInfo, n: usize, v: usize) -> Result<Vec<u32>, RealError> {
    let count: Option<usize> = info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if !matches!(info.shape.len(), 1 | 2) || count != Some(n) {
        return Err(file_err(
            path,
            format!(
                "tensor '{}' has shape {:?}; expected [N] or [B, T] with {n} positions like the \
                 teacher",
                info.name, info.shape
            ),
        ));
    }
    let (_, raw) = read_ints(path, info)?;
    raw.iter()
        .enumerate()
        .map(|(r, &k)| {
            u32::try_from(k)
                .ok()
                .filter(|&k| (k as usize) < v)
                .ok_or_else(|| {
                    file_err(
                        path,
                        format!(
                            "label {k} at position {r} of tensor '{}' is outside the vocabulary; \
                             expected 0 ≤ label < {v} (drop ignore-index positions such as -100 \
                             before saving)",
                            info.name
                        ),
                    )
                })
        })
        .collect()
}

fn read_contexts(
    path: &Path,
    meta: &BTreeMap<String, String>,
    n: usize,
) -> Result<Option<Vec<String>>, RealError> {
    let Some(text) = meta.get(CONTEXTS_METADATA) else {
        return Ok(None);
    };
    let list: Vec<String> = serde_json::from_str(text).map_err(|e| {
        file_err(
            path,
            format!(
                "__metadata__ '{CONTEXTS_METADATA}' is not a JSON list of strings ({e}); expected \
                 one string per position"
            ),
        )
    })?;
    if list.len() != n {
        return Err(file_err(
            path,
            format!(
                "__metadata__ '{CONTEXTS_METADATA}' holds {} strings; expected one per position, {n}",
                list.len()
            ),
        ));
    }
    Ok(Some(list))
}

/// Loads teacher logits (and whatever else the teacher file holds: `student_logits`, `labels`,
/// `contexts` metadata), an optional separate student file and an optional token-label file
/// (see [`tokens::read_tokens`]). Shapes and the vocabulary size must agree across all of them; all
/// sizes are checked before any data is read.
pub fn load(
    teacher: &Path,
    student: Option<&Path>,
    tokens: Option<&Path>,
) -> Result<RealData, RealError> {
    let found = describe(teacher, Role::Teacher)?;
    let (n, v) = rows_cols(teacher, &found.logits)?;
    check_count(teacher, &found.logits, 0)?;

    let student_src = match (student, found.student) {
        (Some(sp), Some(_)) => {
            return Err(file_err(
                teacher,
                format!(
                    "holds '{STUDENT_TENSOR}' and a separate student file {} was given too; \
                     expected one source of initial student logits",
                    sp.display()
                ),
            ));
        }
        (Some(sp), None) => Some((sp, describe(sp, Role::Student)?.logits)),
        (None, Some(s)) => Some((teacher, s)),
        (None, None) => None,
    };
    if let Some((sp, src)) = &student_src {
        let (sn, sv) = rows_cols(sp, src)?;
        if sv != v {
            return Err(file_err(
                sp,
                format!(
                    "V mismatch: {} has {sv} classes (shape {:?}) but the teacher has {v} (shape \
                     {:?} in {}); expected the same vocabulary",
                    src.what,
                    src.shape,
                    found.logits.shape,
                    teacher.display()
                ),
            ));
        }
        if sn != n {
            return Err(file_err(
                sp,
                format!(
                    "{} has {sn} positions (shape {:?}) but the teacher has {n} (shape {:?} in {}); \
                     expected the same positions",
                    src.what,
                    src.shape,
                    found.logits.shape,
                    teacher.display()
                ),
            ));
        }
        check_count(sp, src, found.logits.count)?;
    }
    // Cheap checks on the small inputs before the large reads.
    let tokens = tokens.map(|p| tokens::read_tokens(p, v)).transpose()?;
    let contexts = read_contexts(teacher, &found.metadata, n)?;
    let labels = found
        .labels
        .as_ref()
        .map(|info| read_labels(teacher, info, n, v))
        .transpose()?;

    let t = read_source(teacher, &found.logits)?;
    check_values(teacher, Role::Teacher, &found.logits.what, &t.data, v)?;
    let student_init = match &student_src {
        Some((sp, src)) => {
            let s = read_source(sp, src)?;
            check_values(sp, Role::Student, &src.what, &s.data, v)?;
            Some(s.data)
        }
        None => None,
    };
    let data = RealData {
        source: teacher.display().to_string(),
        n,
        v,
        teacher: t.data,
        student_init,
        tokens,
        contexts,
        labels,
    };
    data.check()?;
    Ok(data)
}
