//! The spec's test inputs, and test rows for comparing a vectorised kernel with the scalar loop it
//! replaced: ordinary logits, logits at the ±1e5 bound, peaked and flat rows, teachers with exact
//! zeros, lengths that leave every tail of a SIMD vector, and the student equal to the teacher.

use super::dist::LogDist;

/// practice.md §0.3's test inputs, teacher `*_U` and student `*_Z` logits (A is also
/// divergences.md §15's vector).
pub const A_U: [f64; 6] = [1.0, 0.9, 0.8, 0.7, 0.0, -1.0];
pub const A_Z: [f64; 6] = [0.2, 1.0, -0.5, 0.9, 0.3, 0.0];
pub const B_U: [f64; 4] = [2.0, -0.5, 0.3, 1.1];
pub const B_Z: [f64; 4] = [0.4, 0.9, -1.2, 0.1];
pub const C_U: [f64; 4] = [12.0, -7.5, 4.0, 9.5];
pub const C_Z: [f64; 4] = [6.0, 11.0, -9.0, 2.5];
pub const D_U: [f64; 4] = [1.5, 1.2, 0.1, -0.4];
pub const D_Z: [f64; 4] = [2.6, 1.9, -1.0, -1.5];
use super::rng::Rng;

/// `(teacher, student)` pairs; the teacher of every third row has zeros (`-inf` log-probabilities).
pub fn rows() -> Vec<(LogDist, LogDist)> {
    let mut rng = Rng::new(14);
    let mut out = Vec::new();
    for (i, n) in [2, 3, 5, 8, 9, 17, 31, 64, 100]
        .into_iter()
        .cycle()
        .take(60)
        .enumerate()
    {
        let scale = [0.5, 3.0, 20.0, 300.0, 1e5][i % 5];
        let logit = |rng: &mut Rng| match i % 7 {
            6 => [1e5, -1e5][(rng.uniform() * 2.0) as usize],
            _ => scale * (2.0 * rng.uniform() - 1.0),
        };
        let mut zt: Vec<f64> = (0..n).map(|_| logit(&mut rng)).collect();
        let zs: Vec<f64> = match i % 4 {
            3 => zt.clone(),
            2 => zt.iter().map(|z| z + 0.01 * rng.normal()).collect(),
            _ => (0..n).map(|_| logit(&mut rng)).collect(),
        };
        if i % 3 == 0 {
            for k in (1..n).step_by(2) {
                zt[k] = f64::NEG_INFINITY;
            }
        }
        let teacher = LogDist::from_logits(&zt, true).expect("a valid teacher");
        let student = LogDist::from_logits(&zs, false).expect("a valid student");
        out.push((teacher, student));
    }
    out
}

/// Panics unless `got` equals `want` to `tol` relative to the larger of 1 and `want`'s largest entry
/// (and both are infinite together).
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * scale
        };
        assert!(ok, "{what}, entry {k}: {g:e} vs {w:e}");
    }
}
