//! Teacher (and initial student) logits from `.safetensors` and `.npy` files: which tensor plays
//! which role, and the checks on shapes and values. Parsing is [`crate::io::safetensors`] and
//! [`crate::io::npy`]; the data is streamed by [`crate::io::dtype`].
//!
//! # Formats
//!
//! - **`.safetensors`**: logits may be `F32`, `F16`, `BF16` or `F64`; labels `I32` or `I64`. An
//!   optional `__metadata__` string map is kept; its `contexts` entry, if present, is a JSON list of
//!   one string per position (the text before it), shown by the position inspector.
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
//! # Top-k teachers (practice.md §10.6)
//!
//! Instead of `teacher_logits`, a `.safetensors` file may hold the teacher as its top k classes per
//! position (what `scripts/dump_hf_logits.py --topk K` writes):
//!
//! | name | shape | dtype | |
//! |---|---|---|---|
//! | `teacher_topk_ids` | `[N, k]` or `[B, T, k]` | I32, I64 | the k classes of largest teacher log-probability, decreasing |
//! | `teacher_topk_logprobs` | same as the ids | F32, F16, BF16, F64 | their log-probabilities over all V classes (read as f64) |
//! | `teacher_tail_logprob` | `[N]` or `[B, T]` | F32, F16, BF16, F64 | optional: log of the mass outside the top k (-inf: none) |
//!
//! V, which the top k alone does not tell, is the student logits' V (in the file or a separate
//! file), else the `__metadata__` entry `vocab` (a decimal string). Ids must be distinct classes
//! below V, log-probabilities ≤ 0 (or -inf) and non-increasing along a row. With `teacher_logits`
//! as well, both are kept: the students see the stored top k, the metrics use the full teacher.
//!
//! # Limits and checks
//!
//! Teacher and student together hold at most [`MAX_LOGITS`] = 2^31 values (8 GiB as f32); headers at
//! most [`MAX_HEADER_BYTES`] (`.npy`: [`npy::MAX_HEADER_BYTES`]). Teacher logits must lie in
//! `[-1e5, 1e5]` or be `-inf` (at least one finite per row), student logits in `[-1e5, 1e5]`
//! ([`crate::math::range`], the same on both backends). Data is streamed from the file
//! straight into one `Vec<f32>` per tensor, so loading needs no more memory than the result. Every
//! error is a [`RealError::File`] naming the file, the problem and what was expected; no input
//! panics.

use super::{RealData, RealError, TopKTeacher, tokens};
use crate::io::dtype::{self, Dtype, Span};
use crate::io::{npy, safetensors};
use crate::math::range;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

pub use crate::io::safetensors::{MAX_HEADER_BYTES, SafetensorsHeader, TensorInfo};

/// Name of the teacher logits tensor in a `.safetensors` file.
pub const TEACHER_TENSOR: &str = "teacher_logits";
/// Name of the optional initial student logits tensor.
pub const STUDENT_TENSOR: &str = "student_logits";
/// Name of the optional next-token labels tensor.
pub const LABELS_TENSOR: &str = "labels";
/// Names of a top-k teacher's tensors (practice.md §10.6).
pub const TOPK_IDS_TENSOR: &str = "teacher_topk_ids";
pub const TOPK_LOGPROBS_TENSOR: &str = "teacher_topk_logprobs";
pub const TOPK_TAIL_TENSOR: &str = "teacher_tail_logprob";
/// `__metadata__` key holding the vocabulary size of a top-k teacher (a decimal string).
pub const VOCAB_METADATA: &str = "vocab";
/// `__metadata__` key holding a JSON list of one context string per position.
pub const CONTEXTS_METADATA: &str = "contexts";
/// Most logits loaded at once (teacher and student together): 2^31, i.e. 8 GiB of f32, which is
/// also what `kdviz gpu bench` accepts.
pub const MAX_LOGITS: usize = 1 << 31;

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

// ------------------------------------------------------------------------------------ safetensors

/// Reads and validates the header of a `.safetensors` file (see [`safetensors::read_header`]).
pub fn read_safetensors_header(path: &Path) -> Result<SafetensorsHeader, RealError> {
    let (mut file, file_len) = open(path)?;
    Ok(safetensors::read_header(&mut file, file_len, path)?)
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
    let span = Span {
        dtype,
        start: info.start,
        count,
    };
    let out = dtype::read_i64s(&mut file, path, &span, &format!("'{}'", info.name))?;
    Ok((info.shape.clone(), out))
}

// ------------------------------------------------------------------------------------ sources

/// Where a float tensor's data lies in a file.
#[derive(Debug, Clone)]
struct Source {
    /// How messages name the tensor: `tensor 'teacher_logits'` or `array`.
    what: String,
    shape: Vec<usize>,
    span: Span,
}

impl Source {
    fn count(&self) -> usize {
        self.span.count
    }
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
        shape: info.shape.clone(),
        span: Span {
            dtype,
            start: info.start,
            count,
        },
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
    if src.count().saturating_add(already) > MAX_LOGITS {
        let gib = (src.count().saturating_add(already)) as f64 * 4.0 / f64::from(1u32 << 30);
        return Err(file_err(
            path,
            format!(
                "{} has shape {:?}: too large ({} values{}, {gib:.1} GiB as f32); kdviz loads at most \
                 2^31 logits (8 GiB) in all; expected fewer positions",
                src.what,
                src.shape,
                src.count(),
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

/// The single array of a `.npy` file: float logits, the data all there.
fn npy_source(path: &Path) -> Result<Source, RealError> {
    let (mut file, file_len) = open(path)?;
    let h = npy::read_header(&mut file, path)?;
    let what = "array".to_string();
    let dtype = h.dtype().filter(|d| d.is_float()).ok_or_else(|| {
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
        shape,
        span: Span {
            dtype,
            start: h.data_offset as u64,
            count,
        },
    })
}

/// Reads the `.npy` array of any rank, converted to f32 (at most [`MAX_LOGITS`] values; values
/// unchecked).
pub fn read_npy_tensor(path: &Path) -> Result<Tensor, RealError> {
    let src = npy_source(path)?;
    check_count(path, &src, 0)?;
    read_source(path, &src)
}

/// Streams `src` from the file into one f32 vector.
fn read_source(path: &Path, src: &Source) -> Result<Tensor, RealError> {
    let (mut file, _) = open(path)?;
    Ok(Tensor {
        shape: src.shape.clone(),
        data: dtype::read_f32s(&mut file, path, &src.span, &src.what)?,
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

fn is_npy(path: &Path, file: &mut File) -> Result<bool, RealError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        return Ok(true);
    }
    Ok(npy::starts_with_magic(file, path)?)
}

/// What a logits file offers: the logits for `role`, and from a safetensors teacher file also the
/// student, labels and metadata.
struct Found {
    logits: Source,
    student: Option<Source>,
    labels: Option<TensorInfo>,
    metadata: BTreeMap<String, String>,
}

/// Where the initial student logits come from: a separate student file, the teacher file's own
/// student tensor, or neither; both at once is an error naming the teacher file.
fn student_source<'a>(
    teacher: &'a Path,
    student: Option<&'a Path>,
    in_file: Option<Source>,
) -> Result<Option<(&'a Path, Source)>, RealError> {
    match (student, in_file) {
        (Some(sp), Some(_)) => Err(file_err(
            teacher,
            format!(
                "holds '{STUDENT_TENSOR}' and a separate student file {} was given too; \
                 expected one source of initial student logits",
                sp.display()
            ),
        )),
        (Some(sp), None) => Ok(Some((sp, describe(sp, Role::Student)?.logits))),
        (None, Some(s)) => Ok(Some((teacher, s))),
        (None, None) => Ok(None),
    }
}

fn describe(path: &Path, role: Role) -> Result<Found, RealError> {
    let (mut file, _) = open(path)?;
    if is_npy(path, &mut file)? {
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
        (None, []) => {
            return Err(file_err(
                path,
                format!(
                    "the safetensors header lists no tensors; expected a '{wanted}' tensor [N, V] \
                     (scripts/dump_hf_logits.py writes one)"
                ),
            ));
        }
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

/// The input policy ([`range`]): teacher logits in ±[`range::MAX_LOGIT`] or -inf, one finite per
/// row; student logits in ±[`range::MAX_LOGIT`]. Checked here, before either backend sees them, so
/// the CPU and the GPU refuse the same files with the same message.
fn check_values(
    path: &Path,
    role: Role,
    what: &str,
    data: &[f32],
    v: usize,
) -> Result<(), RealError> {
    let teacher = role == Role::Teacher;
    for (r, row) in data.chunks_exact(v).enumerate() {
        if let Some((k, x)) = range::first_bad_logit(row.iter().map(|&x| f64::from(x)), teacher) {
            let hint = if teacher && x < 0.0 {
                " (write -inf, not a large negative number, for a class the teacher rules out)"
            } else {
                ""
            };
            return Err(file_err(
                path,
                format!(
                    "{} logit of {what} at position {r}, class {k} is {}; expected {}{hint}",
                    role.name(),
                    range::short(x),
                    range::logit_range(teacher)
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
/// (see [`tokens::read_tokens`]). The positions must agree across all of them, and the vocabulary
/// too, except a student's: a student of another size is loaded for `uld`, and [`train`] refuses it
/// for every other family. All sizes are checked before any data is read.
///
/// [`train`]: crate::real::train::train
pub fn load(
    teacher: &Path,
    student: Option<&Path>,
    tokens: Option<&Path>,
) -> Result<RealData, RealError> {
    if let Some(header) = topk_header(teacher)? {
        if header.get(TEACHER_TENSOR).is_none() {
            return load_topk(teacher, &header, student, tokens);
        }
        // Both forms: the full teacher as usual, the stored top k beside it.
        let mut data = load_full(teacher, student, tokens)?;
        let (n, top) = read_topk(teacher, &header)?;
        if n != data.n {
            return Err(file_err(
                teacher,
                format!(
                    "tensor '{TOPK_IDS_TENSOR}' has {n} positions but '{TEACHER_TENSOR}' {}; \
                     expected the same positions",
                    data.n
                ),
            ));
        }
        data.topk = Some(top);
        data.check()?;
        return Ok(data);
    }
    load_full(teacher, student, tokens)
}

/// The header of a `.safetensors` teacher file that holds a top-k teacher, else `None`.
fn topk_header(path: &Path) -> Result<Option<SafetensorsHeader>, RealError> {
    let (mut file, _) = open(path)?;
    if is_npy(path, &mut file)? {
        return Ok(None);
    }
    drop(file);
    let header = read_safetensors_header(path)?;
    let has = |name| header.get(name).is_some();
    if has(TOPK_LOGPROBS_TENSOR) && !has(TOPK_IDS_TENSOR) {
        return Err(file_err(
            path,
            format!(
                "holds '{TOPK_LOGPROBS_TENSOR}' but no '{TOPK_IDS_TENSOR}'; a top-k teacher needs \
                 both (the ids [N, k] and their log-probabilities [N, k])"
            ),
        ));
    }
    Ok(has(TOPK_IDS_TENSOR).then_some(header))
}

/// `[N, k]` or `[B, T, k]` → (N, k), for the top-k tensors.
fn rows_k(path: &Path, info: &TensorInfo) -> Result<(usize, usize), RealError> {
    let count = count_of(path, &format!("tensor '{}'", info.name), &info.shape)?;
    let (n, k) = match *info.shape.as_slice() {
        [n, k] => (n, k),
        [b, t, k] => (b.saturating_mul(t), k),
        _ => {
            return Err(file_err(
                path,
                format!(
                    "tensor '{}' has shape {:?}; expected [N, k] or [B, T, k]",
                    info.name, info.shape
                ),
            ));
        }
    };
    if n == 0 || k == 0 {
        return Err(file_err(
            path,
            format!(
                "tensor '{}' has shape {:?}; expected at least 1 position and 1 class",
                info.name, info.shape
            ),
        ));
    }
    if count > MAX_LOGITS {
        return Err(file_err(
            path,
            format!(
                "tensor '{}' holds {count} values; expected at most {MAX_LOGITS}",
                info.name
            ),
        ));
    }
    Ok((n, k))
}

/// The top-k teacher of a file: its positions N and the stored ids, log-probabilities and tail.
/// Shapes and dtypes are checked here, values by [`TopKTeacher::check`] once V is known.
fn read_topk(path: &Path, header: &SafetensorsHeader) -> Result<(usize, TopKTeacher), RealError> {
    let missing = |name: &str| {
        file_err(
            path,
            format!(
                "holds '{TOPK_IDS_TENSOR}' but no '{name}'; a top-k teacher needs the ids [N, k] \
                 and their log-probabilities [N, k]"
            ),
        )
    };
    let ids_info = header
        .get(TOPK_IDS_TENSOR)
        .ok_or_else(|| missing(TOPK_IDS_TENSOR))?;
    let lp_info = header
        .get(TOPK_LOGPROBS_TENSOR)
        .ok_or_else(|| missing(TOPK_LOGPROBS_TENSOR))?;
    let (n, k) = rows_k(path, ids_info)?;
    if lp_info.shape != ids_info.shape {
        return Err(file_err(
            path,
            format!(
                "tensor '{TOPK_LOGPROBS_TENSOR}' has shape {:?} but '{TOPK_IDS_TENSOR}' {:?}; \
                 expected the same shape",
                lp_info.shape, ids_info.shape
            ),
        ));
    }
    let (_, raw_ids) = read_ints(path, ids_info)?;
    let ids = raw_ids
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            u32::try_from(j).map_err(|_| {
                file_err(
                    path,
                    format!(
                        "id {j} at position {}, entry {} of tensor '{TOPK_IDS_TENSOR}' is not a \
                         class; expected 0 ≤ id < V",
                        i / k,
                        i % k
                    ),
                )
            })
        })
        .collect::<Result<Vec<u32>, RealError>>()?;
    let logprobs = read_f64_tensor(path, lp_info)?;
    let tail = match header.get(TOPK_TAIL_TENSOR) {
        None => None,
        Some(info) => {
            let count: Option<usize> = info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            if !matches!(info.shape.len(), 1 | 2) || count != Some(n) {
                return Err(file_err(
                    path,
                    format!(
                        "tensor '{TOPK_TAIL_TENSOR}' has shape {:?}; expected [N] or [B, T] with \
                         {n} positions like '{TOPK_IDS_TENSOR}'",
                        info.shape
                    ),
                ));
            }
            Some(read_f64_tensor(path, info)?)
        }
    };
    let top = TopKTeacher {
        k,
        ids,
        logprobs,
        tail,
        derived: false,
    };
    Ok((n, top))
}

/// A float tensor of a `.safetensors` file as f64 (exact for every float dtype).
fn read_f64_tensor(path: &Path, info: &TensorInfo) -> Result<Vec<f64>, RealError> {
    let src = float_source(path, info)?;
    let (mut file, _) = open(path)?;
    Ok(dtype::read_f64s(&mut file, path, &src.span, &src.what)?)
}

/// A file whose teacher is only its top k: V from the student logits, else the `vocab` metadata.
fn load_topk(
    teacher: &Path,
    header: &SafetensorsHeader,
    student: Option<&Path>,
    tokens: Option<&Path>,
) -> Result<RealData, RealError> {
    let (n, top) = read_topk(teacher, header)?;
    let in_file = header
        .get(STUDENT_TENSOR)
        .map(|s| float_source(teacher, s))
        .transpose()?;
    let student_src = student_source(teacher, student, in_file)?;
    let vocab = match header.metadata.get(VOCAB_METADATA) {
        None => None,
        Some(text) => Some(text.trim().parse::<usize>().map_err(|_| {
            file_err(
                teacher,
                format!(
                    "__metadata__ '{VOCAB_METADATA}' is {text:?}; expected the vocabulary size as \
                     a decimal integer"
                ),
            )
        })?),
    };
    let student_shape = match &student_src {
        Some((sp, src)) => Some((sp, src, rows_cols(sp, src)?)),
        None => None,
    };
    let v = match (&student_shape, vocab) {
        (Some((sp, src, (sn, sv))), vocab) => {
            if *sn != n {
                return Err(file_err(
                    sp,
                    format!(
                        "{} has {sn} positions but the top-k teacher has {n}; expected the same \
                         positions",
                        src.what
                    ),
                ));
            }
            if let Some(v) = vocab
                && v != *sv
            {
                return Err(file_err(
                    teacher,
                    format!(
                        "__metadata__ '{VOCAB_METADATA}' is {v} but the student logits have {sv} \
                         classes; expected the same vocabulary"
                    ),
                ));
            }
            check_count(sp, src, n.saturating_mul(top.k))?;
            *sv
        }
        (None, Some(v)) => v,
        (None, None) => {
            return Err(file_err(
                teacher,
                format!(
                    "holds a top-k teacher but nothing tells its vocabulary size V; expected \
                     __metadata__ '{VOCAB_METADATA}' (scripts/dump_hf_logits.py --topk writes it) \
                     or student logits [N, V]"
                ),
            ));
        }
    };
    if v < 2 || u32::try_from(v).is_err() {
        return Err(file_err(
            teacher,
            format!("a vocabulary of {v} classes; expected 2 to 2^32 − 1"),
        ));
    }
    let tokens = tokens.map(|p| tokens::read_tokens(p, v)).transpose()?;
    let contexts = read_contexts(teacher, &header.metadata, n)?;
    let labels = header
        .get(LABELS_TENSOR)
        .map(|info| read_labels(teacher, info, n, v))
        .transpose()?;
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
        student_v: v,
        teacher: Vec::new(),
        topk: Some(top),
        student_init,
        tokens,
        contexts,
        labels,
    };
    data.check()?;
    Ok(data)
}

/// [`load`] for a file with `teacher_logits` (or an `.npy` file, or a single tensor).
fn load_full(
    teacher: &Path,
    student: Option<&Path>,
    tokens: Option<&Path>,
) -> Result<RealData, RealError> {
    let found = describe(teacher, Role::Teacher)?;
    let (n, v) = rows_cols(teacher, &found.logits)?;
    check_count(teacher, &found.logits, 0)?;

    let student_src = student_source(teacher, student, found.student)?;
    // A student of another vocabulary is loaded: only uld trains on it, which `train` checks
    // with the divergence in hand.
    let mut student_v = v;
    if let Some((sp, src)) = &student_src {
        let (sn, sv) = rows_cols(sp, src)?;
        student_v = sv;
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
        check_count(sp, src, found.logits.count())?;
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
            check_values(sp, Role::Student, &src.what, &s.data, student_v)?;
            Some(s.data)
        }
        None => None,
    };
    let data = RealData {
        source: teacher.display().to_string(),
        n,
        v,
        student_v,
        teacher: t.data,
        topk: None,
        student_init,
        tokens,
        contexts,
        labels,
    };
    data.check()?;
    Ok(data)
}
