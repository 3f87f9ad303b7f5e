//! Host-side conversions (f16 storage, bf16 checkpoints) and input validation.

use super::{GpuError, Storage};

/// f32 → IEEE binary16 bits, round to nearest even; overflow gives ±inf, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut r = m >> shift;
        if rest > half || (rest == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && r & 1 == 1) {
        r += 1; // a carry into the exponent is the correct rounding (up to inf)
    }
    sign | r as u16
}

/// IEEE binary16 bits → f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match exp {
        0 => {
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        31 => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 bits (the upper half of an f32) → f32, exact; for checkpoints that store bf16 logits.
pub fn bf16_to_f32(bits: &[u16]) -> Vec<f32> {
    bits.iter()
        .map(|&b| f32::from_bits(u32::from(b) << 16))
        .collect()
}

/// Checks shapes and values the way the CPU engine does: student logits finite, teacher logits
/// finite or -inf with at least one finite per row, labels inside the vocabulary.
pub(crate) fn validate(
    teacher: &[f32],
    student: &[f32],
    n: usize,
    v: usize,
    storage: Storage,
) -> Result<(), GpuError> {
    let input = |m: String| Err(GpuError::Input(m));
    if n == 0 || v == 0 {
        return input(format!(
            "rows={n}, vocab={v}; expected at least one row and one class"
        ));
    }
    let Some(total) = n.checked_mul(v) else {
        return input(format!("rows={n} × vocab={v} overflows"));
    };
    for (name, len) in [("teacher", teacher.len()), ("student", student.len())] {
        if len != total {
            return input(format!(
                "{name} logits hold {len} values; expected rows × vocab = {n} × {v} = {total}"
            ));
        }
    }
    let limit = match storage {
        Storage::F32 => f32::MAX,
        Storage::F16 => 65504.0,
    };
    for (r, (t, s)) in teacher
        .chunks_exact(v)
        .zip(student.chunks_exact(v))
        .enumerate()
    {
        let mut any = false;
        for (k, (&u, &z)) in t.iter().zip(s).enumerate() {
            if !z.is_finite() || z.abs() > limit {
                return input(format!(
                    "student logit [{r}, {k}] is {z}; expected a finite number{}",
                    range_note(storage)
                ));
            }
            if u.abs() <= limit {
                any = true;
            } else if u != f32::NEG_INFINITY {
                return input(format!(
                    "teacher logit [{r}, {k}] is {u}; expected a finite number or -inf{}",
                    range_note(storage)
                ));
            }
        }
        if !any {
            return input(format!(
                "teacher row {r} is all -inf; expected at least one finite logit"
            ));
        }
    }
    Ok(())
}

fn range_note(storage: Storage) -> &'static str {
    match storage {
        Storage::F32 => "",
        Storage::F16 => " within f16's ±65504",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_and_rounds_to_even() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), h, "{h:#06x} {x}");
            }
        }
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00); // tie → even
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02);
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(f32::NEG_INFINITY), 0xfc00);
        assert_eq!(f32_to_f16(1e-8), 0);
    }

    #[test]
    fn bf16_is_the_upper_half() {
        assert_eq!(bf16_to_f32(&[0x3f80, 0xff80]), vec![1.0, f32::NEG_INFINITY]);
    }

    #[test]
    fn validation_names_the_culprit() {
        let e = validate(&[0.0; 3], &[0.0; 4], 2, 2, Storage::F32).unwrap_err();
        assert!(e.to_string().contains("teacher logits hold 3"), "{e}");
        let e = validate(&[0.0, 1.0], &[0.0, f32::NAN], 1, 2, Storage::F32).unwrap_err();
        assert!(e.to_string().contains("student logit [0, 1]"), "{e}");
        let ninf = f32::NEG_INFINITY;
        let e = validate(&[ninf, ninf], &[0.0, 0.0], 1, 2, Storage::F32).unwrap_err();
        assert!(e.to_string().contains("all -inf"), "{e}");
        let e = validate(&[1e5, 0.0], &[0.0, 0.0], 1, 2, Storage::F16).unwrap_err();
        assert!(e.to_string().contains("f16"), "{e}");
        assert!(validate(&[ninf, 0.0], &[0.0, 0.0], 1, 2, Storage::F32).is_ok());
    }
}
