//! `kdviz eval` on arbitrary f64 inputs: a divergence spec built from the bytes (any family, its
//! parameters from the same values), a teacher as logits or probabilities and a student. The
//! command line's checks run first; what they accept must give a value that is not NaN, ≥ 0, and
//! either finite with a finite gradient (summing to 0: the logits' shift does not change q; within
//! the property tests' tolerances) or +inf with no gradient because the teacher has
//! zero-probability classes.
#![no_main]

use kdviz::cli::eval::{TeacherVector, eval_vectors};
use kdviz::math::params::ParamKind;
use kdviz::math::{AmidDiv, Divergence, FAMILIES};
use libfuzzer_sys::fuzz_target;

/// Values the fuzzer reaches by one byte: the edges of the input policy and of f64.
const SPECIAL: [f64; 20] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e5,
    -1e5,
    99_999.999,
    1e-300,
    5e-324,
    1e300,
    -1e300,
    f64::MAX,
    f64::MIN_POSITIVE,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1.0 - 1e-16,
    1e-16,
    -10.0,
];

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// Small steps in [-10, 10] for most tags, an edge value, or 8 raw bytes as an f64.
    fn value(&mut self) -> Option<f64> {
        let tag = self.byte()?;
        Some(match tag {
            0..=200 => (f64::from(tag) - 100.0) / 10.0,
            201..=220 => SPECIAL[usize::from(tag - 201)],
            _ => {
                let (raw, rest) = self.0.split_first_chunk::<8>()?;
                self.0 = rest;
                f64::from_le_bytes(*raw)
            }
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let (Some(family), Some(shape)) = (b.byte(), b.byte()) else {
        return;
    };
    let family = &FAMILIES[usize::from(family) % FAMILIES.len()];
    let mut spec = family.name.to_string();
    let mut sep = ':';
    for param in family.params {
        let Some(use_it) = b.byte() else { return };
        if use_it % 3 == 0 {
            continue; // the default
        }
        let text = match param.kind {
            ParamKind::Real { .. } => match b.value() {
                Some(x) => format!("{x:?}"),
                None => return,
            },
            ParamKind::Bool { .. } => (use_it % 2 == 0).to_string(),
            ParamKind::Choice { options, .. } => options[usize::from(use_it) % options.len()].into(),
            ParamKind::Class { .. } => (use_it % 20).to_string(),
            _ => continue,
        };
        spec.push(sep);
        spec.push_str(&format!("{}={text}", param.key));
        sep = ',';
    }
    let Ok(div) = spec.parse::<Divergence>() else {
        return;
    };
    let n = 1 + usize::from(shape % 16);
    let probs = shape & 0x80 != 0;
    let mut teacher = Vec::with_capacity(n);
    let mut student = Vec::with_capacity(n);
    for _ in 0..n {
        match (b.value(), b.value()) {
            (Some(t), Some(s)) => {
                teacher.push(t);
                student.push(s);
            }
            _ => return,
        }
    }
    let input = if probs {
        TeacherVector::Probs(&teacher)
    } else {
        TeacherVector::Logits(&teacher)
    };
    let Ok(ev) = eval_vectors(&div, input, &student) else {
        return;
    };
    let spec = format!("{spec} teacher {input:?} student {student:?}");
    let v = ev.value;
    assert!(!v.is_nan() && v >= 0.0, "{spec}: value {v}");
    match &ev.grad {
        Some(g) => {
            assert!(v.is_finite(), "{spec}: value {v} with a gradient");
            assert!(g.iter().all(|x| x.is_finite()), "{spec}: gradient {g:?}");
            // The tolerances of the property tests (src/math/props.rs): negative αβ exponents
            // raise tiny probabilities to powers up to 1e58 and carry a few 1e-3 of relative
            // error into the gradient.
            let negative = match div {
                Divergence::Ab { alpha, beta } => alpha < 0.0 || beta < 0.0,
                Divergence::Alpha { alpha } => !(0.0..=1.0).contains(&alpha),
                Divergence::Amid {
                    div: AmidDiv::Ab { alpha, beta },
                    ..
                } => alpha < 0.0 || beta < 0.0,
                _ => false,
            };
            let sum: f64 = g.iter().sum();
            let scale: f64 = g.iter().map(|x| x.abs()).sum();
            let tol = if negative { 1e-2 } else { 1e-9 };
            assert!(
                sum.abs() <= tol * (1.0 + scale),
                "{spec}: gradient sums to {sum} (Σ|g| = {scale}): {g:?}"
            );
        }
        None => assert!(v == f64::INFINITY, "{spec}: value {v} without a gradient"),
    }
});
