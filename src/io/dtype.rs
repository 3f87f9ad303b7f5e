//! Element types of `.npy` and `.safetensors` arrays, and their little-endian decoding.
//!
//! f16 and bf16 go through the `half` crate: exact IEEE conversions (every f16 and bf16 value is an
//! f32 value), signalling NaNs come back quiet.

use super::ReadError;
use half::{bf16, f16};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes read per chunk while streaming an array out of a file.
const CHUNK_BYTES: usize = 1 << 20;

/// The element types kdviz reads.
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

    /// From a NumPy dtype string; little-endian only (NumPy has no bf16).
    pub fn from_npy(s: &str) -> Option<Self> {
        Some(match s {
            "<f8" => Dtype::F64,
            "<f4" => Dtype::F32,
            "<f2" => Dtype::F16,
            "<i8" => Dtype::I64,
            "<i4" => Dtype::I32,
            _ => return None,
        })
    }

    /// Bytes per element.
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

    /// Appends the values in `data` (whole elements; a partial one at the end is ignored) as f64.
    /// Integers beyond 2^53 round to the nearest f64; logits that large are meaningless anyway.
    pub fn decode_f64(self, data: &[u8], out: &mut Vec<f64>) {
        match self {
            Dtype::F64 => out.extend(chunks(data).map(f64::from_le_bytes)),
            Dtype::F32 => out.extend(chunks(data).map(|c| f64::from(f32::from_le_bytes(c)))),
            Dtype::F16 => {
                out.extend(chunks(data).map(|c| f64::from(f16::from_le_bytes(c).to_f32())))
            }
            Dtype::BF16 => {
                out.extend(chunks(data).map(|c| f64::from(bf16::from_le_bytes(c).to_f32())));
            }
            Dtype::I64 => out.extend(chunks(data).map(|c| i64::from_le_bytes(c) as f64)),
            Dtype::I32 => out.extend(chunks(data).map(|c| f64::from(i32::from_le_bytes(c)))),
        }
    }

    /// Appends the values in `data` as f32: f64 rounds to nearest (out of range becomes ±inf),
    /// f16 and bf16 are exact.
    pub fn decode_f32(self, data: &[u8], out: &mut Vec<f32>) {
        match self {
            Dtype::F64 => out.extend(chunks(data).map(|c| f64::from_le_bytes(c) as f32)),
            Dtype::F32 => out.extend(chunks(data).map(f32::from_le_bytes)),
            Dtype::F16 => out.extend(chunks(data).map(|c| f16::from_le_bytes(c).to_f32())),
            Dtype::BF16 => out.extend(chunks(data).map(|c| bf16::from_le_bytes(c).to_f32())),
            Dtype::I64 => out.extend(chunks(data).map(|c| i64::from_le_bytes(c) as f32)),
            Dtype::I32 => out.extend(chunks(data).map(|c| i32::from_le_bytes(c) as f32)),
        }
    }

    /// Appends the values in `data` as i64; meant for the integer types (floats truncate towards
    /// zero, saturating).
    pub fn decode_i64(self, data: &[u8], out: &mut Vec<i64>) {
        match self {
            Dtype::I64 => out.extend(chunks(data).map(i64::from_le_bytes)),
            Dtype::I32 => out.extend(chunks(data).map(|c| i64::from(i32::from_le_bytes(c)))),
            float => {
                let mut tmp = Vec::new();
                float.decode_f64(data, &mut tmp);
                out.extend(tmp.into_iter().map(|x| x as i64));
            }
        }
    }
}

/// The whole `N`-byte elements of `data`.
fn chunks<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    data.as_chunks::<N>().0.iter().copied()
}

/// Where an array's data lies in a file: `count` elements of `dtype` from byte `start` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub dtype: Dtype,
    pub start: u64,
    pub count: usize,
}

/// Streams `span` out of `file` into one f32 vector, chunk by chunk, so that reading needs no more
/// memory than the result. `what` names the array in messages (`tensor 'teacher_logits'`, `array`).
pub fn read_f32s<R: Read + Seek>(
    file: &mut R,
    path: &Path,
    span: &Span,
    what: &str,
) -> Result<Vec<f32>, ReadError> {
    let no_memory = || {
        format!(
            "cannot allocate {:.1} GiB for the {} values of {what}; expected a smaller file",
            span.count as f64 * 4.0 / f64::from(1u32 << 30),
            span.count,
        )
    };
    stream(file, path, span, what, no_memory, |b, out| {
        span.dtype.decode_f32(b, out);
    })
}

/// Streams `span` out of `file` into one f64 vector (every float format converts exactly), for
/// values kept in f64 such as a top-k teacher's log-probabilities.
pub fn read_f64s<R: Read + Seek>(
    file: &mut R,
    path: &Path,
    span: &Span,
    what: &str,
) -> Result<Vec<f64>, ReadError> {
    let no_memory = || {
        format!(
            "cannot allocate {:.1} GiB for the {} values of {what}; expected a smaller file",
            span.count as f64 * 8.0 / f64::from(1u32 << 30),
            span.count,
        )
    };
    stream(file, path, span, what, no_memory, |b, out| {
        span.dtype.decode_f64(b, out);
    })
}

/// Streams the integers of `span` (dtype `I32` or `I64`) out of `file`. `what` names the tensor in
/// messages (`'labels'`).
pub fn read_i64s<R: Read + Seek>(
    file: &mut R,
    path: &Path,
    span: &Span,
    what: &str,
) -> Result<Vec<i64>, ReadError> {
    let no_memory = || format!("cannot allocate memory for {} integers", span.count);
    stream(file, path, span, what, no_memory, |b, out| {
        span.dtype.decode_i64(b, out);
    })
}

fn stream<R: Read + Seek, T>(
    file: &mut R,
    path: &Path,
    span: &Span,
    what: &str,
    no_memory: impl FnOnce() -> String,
    decode: impl Fn(&[u8], &mut Vec<T>),
) -> Result<Vec<T>, ReadError> {
    file.seek(SeekFrom::Start(span.start))
        .map_err(|e| ReadError::os(path, "cannot seek", e))?;
    let mut out = Vec::new();
    out.try_reserve_exact(span.count)
        .map_err(|_| ReadError::file(path, no_memory()))?;
    let size = span.dtype.size();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut left = span.count;
    while left > 0 {
        let k = left.min(CHUNK_BYTES / size);
        let bytes = &mut buf[..k * size];
        file.read_exact(bytes)
            .map_err(|e| ReadError::os(path, &format!("truncated while reading {what}"), e))?;
        decode(bytes, &mut out);
        left -= k;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversion kdviz used before `half`: IEEE binary16 bits → f32, payload kept as is.
    fn old_f16_to_f32(h: u16) -> f32 {
        let sign = u32::from(h & 0x8000) << 16;
        let exp = u32::from((h >> 10) & 0x1f);
        let man = u32::from(h & 0x3ff);
        match exp {
            0 => {
                let mag = man as f32 * f32::from_bits(0x3380_0000);
                f32::from_bits(sign | mag.to_bits())
            }
            0x1f => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
            _ => f32::from_bits(sign | ((exp + 127 - 15) << 23) | (man << 13)),
        }
    }

    fn decode16(dtype: Dtype, h: u16) -> f32 {
        let mut out = Vec::new();
        dtype.decode_f32(&h.to_le_bytes(), &mut out);
        out[0]
    }

    /// Bit for bit as before on every pattern, except that a signalling NaN comes back quiet
    /// (the top mantissa bit set), as the F16C instructions do; sign and payload are kept.
    fn same_or_quieted(got: f32, old: f32, h: u16) {
        if old.is_nan() {
            assert!(got.is_nan(), "{h:#06x}");
            assert_eq!(got.to_bits(), old.to_bits() | 0x0040_0000, "{h:#06x}");
        } else {
            assert_eq!(got.to_bits(), old.to_bits(), "{h:#06x}");
        }
    }

    #[test]
    fn f16_every_bit_pattern_matches_the_old_conversion() {
        let mut quieted = 0;
        for h in 0..=u16::MAX {
            let (got, old) = (decode16(Dtype::F16, h), old_f16_to_f32(h));
            same_or_quieted(got, old, h);
            quieted += usize::from(got.to_bits() != old.to_bits());
        }
        // Exactly the signalling NaNs: exponent all ones, top mantissa bit clear, payload ≠ 0.
        assert_eq!(quieted, 2 * 511);
    }

    #[test]
    fn f16_every_bit_pattern_matches_the_definition() {
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
            let mut got = Vec::new();
            Dtype::F16.decode_f64(&h.to_le_bytes(), &mut got);
            if want.is_nan() {
                assert!(got[0].is_nan(), "{h:#06x}");
            } else {
                assert_eq!(got[0], want, "{h:#06x}");
                assert_eq!(got[0].is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
            }
        }
    }

    #[test]
    fn bf16_every_bit_pattern_matches_the_old_conversion() {
        let mut quieted = 0;
        for b in 0..=u16::MAX {
            let (got, old) = (decode16(Dtype::BF16, b), f32::from_bits(u32::from(b) << 16));
            same_or_quieted(got, old, b);
            quieted += usize::from(got.to_bits() != old.to_bits());
        }
        assert_eq!(quieted, 2 * 63);
    }

    #[test]
    fn bf16_is_the_upper_half() {
        let mut out = Vec::new();
        Dtype::BF16.decode_f32(&[0x80, 0x3f, 0x80, 0xff], &mut out);
        assert_eq!(out, vec![1.0, f32::NEG_INFINITY]);
    }

    #[test]
    fn every_dtype_decodes() {
        let mut f = Vec::new();
        Dtype::F64.decode_f32(&(-1.5f64).to_le_bytes(), &mut f);
        Dtype::F32.decode_f32(&0.25f32.to_le_bytes(), &mut f);
        Dtype::F16.decode_f32(&0xfc00u16.to_le_bytes(), &mut f);
        Dtype::BF16.decode_f32(&0x3f80u16.to_le_bytes(), &mut f);
        Dtype::I64.decode_f32(&(-7i64).to_le_bytes(), &mut f);
        Dtype::I32.decode_f32(&9i32.to_le_bytes(), &mut f);
        assert_eq!(f, [-1.5, 0.25, f32::NEG_INFINITY, 1.0, -7.0, 9.0]);
        let mut i = Vec::new();
        Dtype::I32.decode_i64(&i32::MIN.to_le_bytes(), &mut i);
        Dtype::I64.decode_i64(&i64::MAX.to_le_bytes(), &mut i);
        Dtype::F32.decode_i64(&(-2.5f32).to_le_bytes(), &mut i);
        assert_eq!(i, [i64::from(i32::MIN), i64::MAX, -2]);
        // A partial element at the end is ignored.
        let mut d = Vec::new();
        Dtype::F32.decode_f64(&[0, 0, 128, 63, 1, 2], &mut d);
        assert_eq!(d, [1.0]);
    }
}
