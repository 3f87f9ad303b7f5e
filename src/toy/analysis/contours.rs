//! What the contour view draws for a 2-D toy: the student's mean and covariance per epoch, its
//! 1σ / 2σ ellipses, and the closed-form optimum where the textbook gives one (Bishop §10.1.2):
//! FKL's is moment matching (the mixture's mean and covariance, its diagonal for a factorised
//! student); RKL's, for a single-Gaussian teacher and a factorised student, has the teacher's mean
//! and variances 1/Λᵢᵢ (Λ = Σ⁻¹).

use crate::io::csv::Quoted;
use crate::math::Divergence;
use crate::toy::plane::{self, Component2d, Grid2d, ellipse, matrix};
use crate::toy::{EpochRecord, FitResult, Plane, Run};
use std::fmt::{self, Write};

/// Points per ellipse.
pub const ELLIPSE_POINTS: usize = 96;

/// The mean and covariance of a 2-D student at `epoch` (the last record when the run is shorter).
pub fn mean_cov(run: &Run, epoch: usize) -> Option<([f64; 2], [[f64; 2]; 2])> {
    let r = super::record_at(&run.history, epoch)?;
    Some((r.mean?, r.cov?))
}

/// The mean's path from epoch 0 to `epoch`.
pub fn path(history: &[EpochRecord], epoch: usize) -> Vec<[f64; 2]> {
    history
        .iter()
        .take(epoch.saturating_add(1))
        .filter_map(|r| r.mean)
        .collect()
}

/// A factorised student keeps Σ₁₂ = 0 at every epoch (a full one moves off it at once unless the
/// problem is symmetric, in which case both closed forms agree).
pub fn factorised(run: &Run) -> bool {
    run.history
        .iter()
        .all(|r| r.cov.is_none_or(|c| c[0][1] == 0.0))
}

/// A closed-form optimum and the line that states it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedForm {
    pub mean: [f64; 2],
    pub cov: [[f64; 2]; 2],
    pub text: String,
}

/// The closed-form optimum of `run`'s divergence, where the textbook gives one.
pub fn closed_form(result: &FitResult, run: &Run) -> Option<ClosedForm> {
    let parts = &result.teacher.plane.as_ref()?.components;
    let diag = factorised(run);
    let n = crate::math::label::num;
    match run.divergence.family {
        Divergence::Fkl => {
            let (mean, mut cov) = plane::moments(parts);
            let text = if diag {
                cov[0][1] = 0.0;
                cov[1][0] = 0.0;
                format!(
                    "FKL optimum: σ₁² = Σ₁₁ = {}, σ₂² = Σ₂₂ = {}",
                    n(cov[0][0]),
                    n(cov[1][1])
                )
            } else {
                "FKL optimum: moment matching".to_string()
            };
            Some(ClosedForm { mean, cov, text })
        }
        Divergence::Rkl if diag && parts.len() == 1 => {
            let prec = matrix(&parts[0].cov).try_inverse()?;
            let v = [1.0 / prec[(0, 0)], 1.0 / prec[(1, 1)]];
            Some(ClosedForm {
                mean: parts[0].mean,
                cov: [[v[0], 0.0], [0.0, v[1]]],
                text: format!(
                    "RKL optimum: σ₁² = 1/Λ₁₁ = {}, σ₂² = 1/Λ₂₂ = {}",
                    n(v[0]),
                    n(v[1])
                ),
            })
        }
        _ => None,
    }
}

/// The marginal densities of a distribution on the grid: along x₁ (one value per column, the sum
/// over its rows) and along x₂ (one per row), each divided by its axis's spacing, so that
/// `Σ marginal × spacing` is the distribution's mass (1).
pub fn marginals(grid: &Grid2d, p: &[f64]) -> [Vec<f64>; 2] {
    let [nx, ny] = grid.points;
    let (mut m1, mut m2) = (vec![0.0; nx], vec![0.0; ny]);
    for (k, &v) in p.iter().enumerate().take(nx * ny) {
        m1[k % nx] += v;
        m2[k / nx] += v;
    }
    let (h1, h2) = (grid.step(0), grid.step(1));
    m1.iter_mut().for_each(|v| *v /= h1);
    m2.iter_mut().for_each(|v| *v /= h2);
    [m1, m2]
}

/// The student N(m, Σ) on the teacher's grid as the fit computes it (normalised over the grid's
/// points); `None` for a Σ that is not positive definite.
pub fn gaussian_on_grid(plane: &Plane, mean: [f64; 2], cov: [[f64; 2]; 2]) -> Option<Vec<f64>> {
    plane::cholesky(&cov, "").ok()?;
    let one = [Component2d {
        weight: 1.0,
        mean,
        cov,
    }];
    let logq = plane::log_density(&one, &plane.xs, &plane.ys);
    let total = crate::math::logspace::logsumexp(&logq);
    total
        .is_finite()
        .then(|| logq.iter().map(|l| (l - total).exp()).collect())
}

/// The CSV of the contour view: the teacher's density on the grid, then every run's mean,
/// covariance and 1σ / 2σ ellipse points at `epochs`.
pub fn write_csv(result: &FitResult, epochs: &[usize], out: &mut impl Write) -> fmt::Result {
    let Some(plane) = &result.teacher.plane else {
        return out.write_str("# the contour view needs a 2-D teacher (kind = \"mixture2d\")\n");
    };
    let cell = plane.grid.step(0) * plane.grid.step(1);
    out.write_str("class,x,y,teacher density\n")?;
    for (k, p) in result.teacher.dist.p.iter().enumerate() {
        writeln!(out, "{k},{},{},{}", plane.xs[k], plane.ys[k], p / cell)?;
    }
    out.write_str("\ndivergence,epoch,what,k,x,y\n")?;
    for run in &result.runs {
        let name = Quoted(&run.divergence.to_string()).to_string();
        for &e in epochs {
            let Some((m, c)) = mean_cov(run, e) else {
                continue;
            };
            let e = super::clamp_epoch(result, e);
            writeln!(out, "{name},{e},mean,0,{},{}", m[0], m[1])?;
            writeln!(out, "{name},{e},cov row 1,0,{},{}", c[0][0], c[0][1])?;
            writeln!(out, "{name},{e},cov row 2,0,{},{}", c[1][0], c[1][1])?;
            for (what, k) in [("1 sigma", 1.0), ("2 sigma", 2.0)] {
                for (i, p) in ellipse(m, &c, k, ELLIPSE_POINTS).iter().enumerate() {
                    writeln!(out, "{name},{e},{what},{i},{},{}", p[0], p[1])?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv::parse_csv;
    use crate::toy::analysis::fit_preset;

    #[test]
    fn closed_forms_of_bishop_factorised() {
        let r = fit_preset("bishop-factorised", 5);
        let fkl = closed_form(&r, &r.runs[0]).unwrap();
        let rkl = closed_form(&r, &r.runs[1]).unwrap();
        assert!((rkl.cov[0][0] - 0.19).abs() < 1e-12 && (rkl.cov[1][1] - 0.19).abs() < 1e-12);
        assert_eq!(
            rkl.text,
            "RKL optimum: σ₁² = 1/Λ₁₁ = 0.19, σ₂² = 1/Λ₂₂ = 0.19"
        );
        assert_eq!(fkl.cov, [[1.0, 0.0], [0.0, 1.0]]);
        assert!(factorised(&r.runs[0]));
    }

    /// bishop-factorised's teacher N(0, [[1, 0.9], [0.9, 1]]) has standard normal marginals: on the
    /// grid (spacing 0.1, ±6 = 6σ) each integrates to 1 to rounding, and at 0 it is 1/√(2π) within
    /// 1e-4 (the midpoint rule on a Gaussian errs by far less; the grid cuts off below 1e-8). FKL's
    /// factorised student matches both marginals after the fit (Bishop: FKL matches the marginals),
    /// RKL's is narrower (variance 0.19: a peak of 1/√(2π·0.19) = 0.915).
    #[test]
    fn marginals_integrate_to_one_and_fkl_matches_the_teachers() {
        let epochs = crate::toy::preset::load("bishop-factorised")
            .unwrap()
            .epochs;
        let r = fit_preset("bishop-factorised", epochs);
        let plane = r.teacher.plane.as_ref().unwrap();
        let g = plane.grid;
        let [t1, t2] = marginals(&g, &r.teacher.dist.p);
        assert_eq!((t1.len(), t2.len()), (121, 121));
        let peak = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        for (m, a) in [(&t1, 0), (&t2, 1)] {
            let mass: f64 = m.iter().sum::<f64>() * g.step(a);
            assert!((mass - 1.0).abs() < 1e-12, "axis {a}: mass {mass}");
            assert!((m[60] - peak).abs() < 1e-4, "axis {a}: {} at 0", m[60]);
        }
        let student = |run: usize| {
            let (m, c) = mean_cov(&r.runs[run], epochs).unwrap();
            marginals(&g, &gaussian_on_grid(plane, m, c).unwrap())
        };
        let [f1, f2] = student(0);
        let gap = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            gap(&f1, &t1) < 0.01 && gap(&f2, &t2) < 0.01,
            "FKL: {} {}",
            gap(&f1, &t1),
            gap(&f2, &t2)
        );
        assert!(((f1.iter().sum::<f64>() * g.step(0)) - 1.0).abs() < 1e-12);
        let [r1, _] = student(1);
        let want = 1.0 / (2.0 * std::f64::consts::PI * 0.19).sqrt();
        assert!(
            (r1[60] - want).abs() < 0.02,
            "RKL's peak {} (want {want})",
            r1[60]
        );
    }

    #[test]
    fn csv_holds_the_grid_and_the_ellipses() {
        let r = fit_preset("bishop-two-modes", 3);
        let mut out = String::new();
        write_csv(&r, &[0, 3], &mut out).unwrap();
        let rows = parse_csv(&out);
        assert_eq!(rows[0].join(","), "class,x,y,teacher density");
        let table = 2 + 121 * 121; // the header, the grid, a blank line
        assert_eq!(rows[table].join(","), "divergence,epoch,what,k,x,y");
        // 2 runs × 2 epochs × (3 + 2 rings of 97 points).
        assert_eq!(
            rows.len(),
            table + 1 + 2 * 2 * (3 + 2 * (ELLIPSE_POINTS + 1))
        );
        assert_eq!(
            rows[table + 1][..6],
            ["fkl", "0", "mean", "0", "-1", "-0.5"]
        );
    }
}
