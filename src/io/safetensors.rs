//! `.safetensors` files: an 8-byte little-endian header length, a JSON header mapping tensor names
//! to `{dtype, shape, data_offsets}` (offsets relative to the data after the header), then the
//! data, little-endian. An optional `__metadata__` entry maps strings to strings.
//!
//! [`read_header`] reads and checks the header only; the caller streams a tensor's data with
//! [`super::dtype::read_f32s`] or [`super::dtype::read_i64s`].

use super::dtype::Dtype;
use super::{ReadError, read_up_to};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Largest accepted JSON header (the `safetensors` library's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

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

    /// The tensors for a message: `'a' [1, 2] F32, 'b' [3] I64`, or `no tensors`.
    pub fn names(&self) -> String {
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

/// Reads and validates the header of the `.safetensors` file `file` of `file_len` bytes,
/// positioned at its start: the length field, the JSON, every entry's dtype/shape/offsets (offsets
/// inside the file, sizes matching the shape for the dtypes of [`Dtype`]). Errors name `path`.
pub fn read_header<R: Read>(
    file: &mut R,
    file_len: u64,
    path: &Path,
) -> Result<SafetensorsHeader, ReadError> {
    let fail = |m: String| ReadError::file(path, m);
    let pre = read_up_to(file, path, 8)?;
    let Ok(pre) = <[u8; 8]>::try_from(pre.as_slice()) else {
        return Err(fail(format!(
            "truncated: {file_len} bytes; a .safetensors file starts with an 8-byte header length"
        )));
    };
    let header_len = u64::from_le_bytes(pre);
    if header_len > MAX_HEADER_BYTES {
        return Err(fail(format!(
            "header length field says {header_len} bytes, over the limit of \
             {MAX_HEADER_BYTES}; expected a .safetensors file (is it damaged, or another format?)"
        )));
    }
    let available = file_len.saturating_sub(8);
    if header_len > available {
        return Err(fail(format!(
            "truncated: header length field says {header_len} bytes but only {available} bytes \
             follow"
        )));
    }
    // header_len ≤ MAX_HEADER_BYTES fits in usize.
    let text = read_up_to(file, path, header_len as usize)?;
    if text.len() as u64 != header_len {
        return Err(fail("truncated while reading the header".into()));
    }
    parse_header(&text, file_len).map_err(fail)
}

/// Parses the JSON header `text` of a file of `file_len` bytes; the message says what is wrong.
fn parse_header(text: &[u8], file_len: u64) -> Result<SafetensorsHeader, String> {
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
