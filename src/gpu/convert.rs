//! Host-side f16 conversions (f16 storage) and input validation.

use super::{GpuError, Storage};

/// f32 → IEEE binary16 bits, round to nearest even; overflow gives ±inf, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// IEEE binary16 bits → f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
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
    let limit = storage.max_finite();
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
        Storage::Bf16 => " within bf16's ±3.39e38",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversion kdviz used before `half`.
    fn old_f32_to_f16(x: f32) -> u16 {
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
            r += 1;
        }
        sign | r as u16
    }

    /// Bit for bit as before, except for NaN: `half` keeps the payload's top bits where the old
    /// code wrote the canonical quiet NaN; both give a quiet NaN of the same sign.
    fn same_as_before(x: f32) {
        let (got, old) = (f32_to_f16(x), old_f32_to_f16(x));
        if x.is_nan() {
            assert_eq!(got & 0xfe00, old & 0xfe00, "{:#010x}", x.to_bits());
        } else {
            assert_eq!(got, old, "{:#010x} {x}", x.to_bits());
        }
    }

    #[test]
    fn f32_to_f16_matches_the_old_rounding() {
        // Every f16 value, the f32 neighbours of each and of each midpoint between two f16 values
        // (where round-to-nearest-even decides), then a sweep over the f32 bit patterns.
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            let next = f16_to_f32(h.wrapping_add(1));
            let mid = ((f64::from(x) + f64::from(next)) / 2.0) as f32;
            for y in [x, mid] {
                let b = y.to_bits();
                for d in [b.wrapping_sub(1), b, b.wrapping_add(1)] {
                    same_as_before(f32::from_bits(d));
                }
            }
        }
        let mut b = 0u32;
        loop {
            same_as_before(f32::from_bits(b));
            same_as_before(f32::from_bits(b ^ 0x1fff));
            match b.checked_add(997) {
                Some(n) => b = n,
                None => break,
            }
        }
    }

    #[test]
    fn f16_to_f32_matches_the_old_conversion() {
        fn old(h: u16) -> f32 {
            let sign = u32::from(h & 0x8000) << 16;
            let exp = u32::from((h >> 10) & 0x1f);
            let man = u32::from(h & 0x3ff);
            let bits = match exp {
                0 => {
                    let v = man as f32 * f32::from_bits(0x3380_0000);
                    return if sign != 0 { -v } else { v };
                }
                31 => sign | 0x7f80_0000 | (man << 13),
                _ => sign | ((exp + 112) << 23) | (man << 13),
            };
            f32::from_bits(bits)
        }
        for h in 0..=u16::MAX {
            let (got, want) = (f16_to_f32(h), old(h));
            // A signalling NaN comes back quiet; everything else bit for bit.
            let quiet = if want.is_nan() { 0x0040_0000 } else { 0 };
            assert_eq!(got.to_bits(), want.to_bits() | quiet, "{h:#06x}");
        }
    }

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
