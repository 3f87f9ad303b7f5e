//! How logits and gradients are laid out on the device: the element formats, the row layout, the
//! host-side encoding and decoding, and the WGSL accessors `loss.wgsl` reads and writes through.
//!
//! bf16 has no WGSL type: two values are packed per `u32` word (the even class in the low half).
//! A row of bf16 starts on a word, so rows of an odd vocabulary carry one padding half-word, and an
//! invocation owns both halves of a word: the loops over a row visit `2·lid, 2·lid + 1, 2·lid +
//! 2·WG, …` ([`Storage`]'s `first`/`next` in WGSL) and the even class's gradient waits in a
//! private register until its odd neighbour writes the whole word. No two invocations write one
//! word, so no atomics are needed.

use super::convert::{f16_to_f32, f32_to_f16};

/// How logits and the gradient are stored on the device; arithmetic is always f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Storage {
    #[default]
    F32,
    /// Needs `SHADER_F16`. Inputs are rounded to f16 on upload (|logit| ≤ 65504), the gradient
    /// comes back through f16 (about 3 significant digits).
    F16,
    /// Packed in pairs per 32-bit word, on every adapter. Inputs are rounded to bf16 on upload
    /// (round to nearest even: f32's range, 8 significant bits), the gradient comes back through
    /// bf16 (about 2–3 significant digits), as a bf16 training step stores them.
    Bf16,
}

/// The largest finite bf16, 0x7f7f.
const BF16_MAX: f32 = 3.389_531_4e38;

impl Storage {
    pub fn bytes(self) -> usize {
        match self {
            Storage::F32 => 4,
            Storage::F16 | Storage::Bf16 => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
            Storage::Bf16 => "bf16",
        }
    }

    /// Elements from one row's start to the next: the vocabulary, made even under bf16.
    pub fn row_stride(self, v: usize) -> usize {
        match self {
            Storage::Bf16 => v.next_multiple_of(2),
            Storage::F32 | Storage::F16 => v,
        }
    }

    /// Device bytes of one row.
    pub fn row_bytes(self, v: usize) -> usize {
        self.row_stride(v) * self.bytes()
    }

    /// The largest magnitude a logit keeps when stored (beyond it the format has only ±inf).
    pub fn max_finite(self) -> f32 {
        match self {
            Storage::F32 => f32::MAX,
            Storage::F16 => 65504.0,
            Storage::Bf16 => BF16_MAX,
        }
    }

    /// What a stored value reads back as: `x` rounded to the format.
    pub fn round(self, x: f32) -> f32 {
        match self {
            Storage::F32 => x,
            Storage::F16 => f16_to_f32(f32_to_f16(x)),
            Storage::Bf16 => half::bf16::from_f32(x).to_f32(),
        }
    }

    /// Device bytes of whole rows of `v` values (row-major, `data.len()` a multiple of `v`),
    /// padded to whole 4-byte words (`write_buffer` copies words).
    pub fn encode_rows(self, data: &[f32], v: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / v.max(1) * self.row_bytes(v) + 2);
        match self {
            Storage::F32 => {
                for x in data {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            Storage::F16 => {
                for &x in data {
                    out.extend_from_slice(&f32_to_f16(x).to_le_bytes());
                }
            }
            Storage::Bf16 => {
                for row in data.chunks_exact(v) {
                    for &x in row {
                        out.extend_from_slice(&half::bf16::from_f32(x).to_bits().to_le_bytes());
                    }
                    if v % 2 == 1 {
                        out.extend_from_slice(&[0, 0]);
                    }
                }
            }
        }
        if out.len() % 4 != 0 {
            out.extend_from_slice(&[0, 0]);
        }
        out
    }

    /// Rows of `v` values from device bytes laid out by [`Storage::encode_rows`] (padding dropped);
    /// fills as many whole rows of `out` as `bytes` holds.
    pub fn decode_rows(self, bytes: &[u8], v: usize, out: &mut [f32]) {
        let row_bytes = self.row_bytes(v);
        for (o, b) in out.chunks_exact_mut(v).zip(bytes.chunks(row_bytes)) {
            match self {
                Storage::F32 => {
                    for (x, w) in o.iter_mut().zip(b.chunks_exact(4)) {
                        *x = f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    }
                }
                Storage::F16 => {
                    for (x, h) in o.iter_mut().zip(b.chunks_exact(2)) {
                        *x = f16_to_f32(u16::from_le_bytes([h[0], h[1]]));
                    }
                }
                Storage::Bf16 => {
                    for (x, h) in o.iter_mut().zip(b.chunks_exact(2)) {
                        *x = half::bf16::from_bits(u16::from_le_bytes([h[0], h[1]])).to_f32();
                    }
                }
            }
        }
    }

    /// The element type of `loss.wgsl`'s and `shaping.wgsl`'s row bindings (an `enable` must
    /// come first in a module).
    pub(crate) fn wgsl_elem(self) -> &'static str {
        match self {
            Storage::F32 => "alias Elem = f32;",
            Storage::F16 => "enable f16;\nalias Elem = f16;",
            Storage::Bf16 => "alias Elem = u32;",
        }
    }

    /// The accessors `loss.wgsl` goes through for its `teacher`, `student` and `grad` bindings:
    /// `ld_t`/`ld_s`/`ld_g(i)` read element `i` as f32, `st_g(i, last, g)` writes the gradient
    /// (`last`: the row's last class), `row_base(row)` is the first element of a row, and
    /// `first(lid)`/`next(k)` walk one invocation's classes of a row.
    pub(crate) fn wgsl_access(self) -> &'static str {
        match self {
            Storage::F32 | Storage::F16 => WGSL_PLAIN,
            Storage::Bf16 => WGSL_BF16,
        }
    }
}

const WGSL_PLAIN: &str = "
fn ld_t(i: u32) -> f32 { return f32(teacher[i]); }
fn ld_s(i: u32) -> f32 { return f32(student[i]); }
fn ld_g(i: u32) -> f32 { return f32(grad[i]); }
fn st_g(i: u32, last: bool, g: f32) { grad[i] = Elem(g); }
fn row_base(row: u32) -> u32 { return row * P.v; }
fn first(lid: u32) -> u32 { return lid; }
fn next(k: u32) -> u32 { return k + WG; }
";

// Round to nearest even on the bit pattern; NaN stays a (quiet) NaN, overflow gives ±inf.
const WGSL_BF16: &str = "
fn bf16_half(w: u32, i: u32) -> f32 {
    return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));
}
fn to_bf16(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return (b >> 16u) | 0x40u;
    }
    return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}
fn ld_t(i: u32) -> f32 { return bf16_half(teacher[i >> 1u], i); }
fn ld_s(i: u32) -> f32 { return bf16_half(student[i >> 1u], i); }
fn ld_g(i: u32) -> f32 { return bf16_half(grad[i >> 1u], i); }
var<private> grad_low: u32;
fn st_g(i: u32, last: bool, g: f32) {
    let h = to_bf16(g);
    if ((i & 1u) == 0u) {
        grad_low = h;
        if (last) {
            grad[i >> 1u] = h;
        }
    } else {
        grad[i >> 1u] = grad_low | (h << 16u);
    }
}
fn row_base(row: u32) -> u32 { return row * ((P.v + 1u) & ~1u); }
fn first(lid: u32) -> u32 { return 2u * lid; }
fn next(k: u32) -> u32 { return select(k + 1u, k + 2u * WG - 1u, (k & 1u) == 1u); }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rows_are_padded_to_words_and_round_trip() {
        let v = 3;
        let data = [
            1.0f32,
            -2.5,
            1.0 + 1.0 / 256.0,
            3.0,
            f32::NEG_INFINITY,
            1e38,
        ];
        let bytes = Storage::Bf16.encode_rows(&data, v);
        assert_eq!(bytes.len(), 2 * 4 * 2); // two rows of two words
        // 1 + 2⁻⁸ is the midpoint of 1 and 1 + 2⁻⁷: ties to even gives 1.
        assert_eq!(
            &bytes[4..6],
            &half::bf16::from_f32(1.0).to_bits().to_le_bytes()
        );
        assert_eq!(&bytes[6..8], &[0, 0]); // the padding half-word
        let mut out = [0f32; 6];
        Storage::Bf16.decode_rows(&bytes, v, &mut out);
        let want = data.map(|x| Storage::Bf16.round(x));
        assert_eq!(out, want);
        assert_eq!(out[2], 1.0);
        assert_eq!(out[4], f32::NEG_INFINITY);
        assert!((out[5] - 1e38).abs() <= 1e38 / 256.0);
    }

    #[test]
    fn f32_and_f16_rows_are_not_padded() {
        let data = [0.5f32, 1.5, -3.0];
        assert_eq!(Storage::F32.encode_rows(&data, 3).len(), 12);
        let b = Storage::F16.encode_rows(&data, 3);
        assert_eq!(b.len(), 8); // 6 bytes, then one half-word to a whole word
        let mut out = [0f32; 3];
        Storage::F16.decode_rows(&b, 3, &mut out);
        assert_eq!(out, data);
        assert_eq!(Storage::F16.row_stride(3), 3);
        assert_eq!(Storage::Bf16.row_stride(3), 4);
        assert_eq!(Storage::Bf16.row_bytes(5751), 5752 * 2);
    }

    #[test]
    fn the_largest_bf16_keeps_and_beyond_it_overflows() {
        assert_eq!(Storage::Bf16.round(BF16_MAX), BF16_MAX);
        assert_eq!(half::bf16::MAX.to_f32(), BF16_MAX);
        assert_eq!(Storage::Bf16.round(f32::MAX), f32::INFINITY);
    }
}
