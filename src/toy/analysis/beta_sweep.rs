//! The GKD β convention (reference figure F8): generalized JSD against β for one teacher and student.
//! The interior form tends to 0 at both ends while TRL's special-cased endpoints jump to FKL (β = 0)
//! and RKL (β = 1); the normalised GJSD/(β(1−β)) is continuous.

use crate::math::{Divergence, LogDist, Workspace, value_and_grad};
use crate::toy::FitResult;

/// Index of the run the sweep is drawn for: the first JSD run, else the first run.
pub fn sweep_run(result: &FitResult) -> Option<usize> {
    if result.runs.is_empty() {
        return None;
    }
    Some(
        result
            .runs
            .iter()
            .position(|r| matches!(r.divergence.family, Divergence::Jsd { .. }))
            .unwrap_or(0),
    )
}

/// (β, interior GJSD_β, normalised GJSD_β) at `betas`, plus (FKL, RKL) for the endpoints.
pub fn sweep(teacher: &LogDist, student: &LogDist, betas: &[f64]) -> (Vec<[f64; 3]>, [f64; 2]) {
    let mut ws = Workspace::default();
    let mut grad = vec![0.0; student.len()];
    let mut value = |div: Divergence| value_and_grad(&div, teacher, student, &mut grad, &mut ws);
    let ends = [value(Divergence::Fkl), value(Divergence::Rkl)];
    let rows = betas
        .iter()
        .map(|&beta| {
            let plain = value(Divergence::Jsd { beta, norm: false });
            let norm = value(Divergence::Jsd { beta, norm: true });
            [beta, plain, norm]
        })
        .collect();
    (rows, ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_vanishes_at_the_ends_while_the_normalised_form_meets_fkl_and_rkl() {
        let t = LogDist::from_logits(&[1.0, 0.9, 0.8, 0.7, 0.0, -1.0], false).unwrap();
        let s = LogDist::from_logits(&[0.2, 1.0, -0.5, 0.9, 0.3, 0.0], false).unwrap();
        let (rows, [fkl, rkl]) = sweep(&t, &s, &[1e-6, 0.5, 1.0 - 1e-6]);
        // Spec §14 F8: FKL = 0.20564, RKL = 0.18526, GJSD(0.5) = 0.04704.
        assert!((fkl - 0.2056397822).abs() < 1e-9 && (rkl - 0.1852638547).abs() < 1e-9);
        assert!((rows[1][1] - 0.0470403896).abs() < 1e-9);
        assert!(
            rows[0][1] < 1e-5 && rows[2][1] < 1e-5,
            "the interior tends to 0: {rows:?}"
        );
        assert!((rows[0][2] - fkl).abs() < 1e-3 * fkl && (rows[2][2] - rkl).abs() < 1e-3 * rkl);
        assert!((rows[1][2] - 4.0 * rows[1][1]).abs() < 1e-12);
    }
}
