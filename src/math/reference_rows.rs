//! Test rows for comparing a vectorised kernel with the scalar loop it replaced: ordinary logits,
//! logits at the ±1e5 bound, peaked and flat rows, teachers with exact zeros, lengths that leave
//! every tail of a SIMD vector, and the student equal to the teacher.

use super::dist::LogDist;
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
