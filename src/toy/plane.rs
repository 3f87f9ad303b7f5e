//! The 2-D toy's teacher: a Gaussian mixture in the plane evaluated on a grid whose points are the
//! classes of the discrete engine (so every divergence applies unchanged), and the 2×2 algebra
//! (nalgebra) that the teacher, the 2-D student and the ellipses share.

use crate::math::label::num;
use nalgebra::{Matrix2, SymmetricEigen, Vector2};
use serde::{Deserialize, Serialize};

/// `points[0] × points[1]` points from `lo` to `hi` (inclusive) on each axis. Class `k` sits at
/// column `k % points[0]` (x) and row `k / points[0]` (y): x runs fastest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid2d {
    pub lo: [f64; 2],
    pub hi: [f64; 2],
    pub points: [usize; 2],
}

impl Grid2d {
    /// The positions along axis `a` (0 = x, 1 = y).
    pub fn axis(&self, a: usize) -> Vec<f64> {
        let n = self.points[a].max(2);
        let h = (self.hi[a] - self.lo[a]) / (n - 1) as f64;
        (0..self.points[a])
            .map(|i| self.lo[a] + h * i as f64)
            .collect()
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.points[0].saturating_mul(self.points[1])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The spacing along axis `a`.
    pub fn step(&self, a: usize) -> f64 {
        (self.hi[a] - self.lo[a]) / (self.points[a].max(2) - 1) as f64
    }

    /// (x, y) of every class, x running fastest.
    pub fn positions(&self) -> (Vec<f64>, Vec<f64>) {
        let (ax, ay) = (self.axis(0), self.axis(1));
        let mut xs = Vec::with_capacity(self.len());
        let mut ys = Vec::with_capacity(self.len());
        for &y in &ay {
            for &x in &ax {
                xs.push(x);
                ys.push(y);
            }
        }
        (xs, ys)
    }

    pub fn check(&self, max_classes: usize) -> Result<(), String> {
        for a in 0..2 {
            let name = ["x", "y"][a];
            if self.points[a] < 2 {
                return Err(format!(
                    "teacher grid points[{a}] = {} ({name}); expected at least 2 points per axis",
                    self.points[a]
                ));
            }
            let (lo, hi) = (self.lo[a], self.hi[a]);
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(format!(
                    "teacher grid {name} range [{}, {}]; expected finite lo < hi",
                    num(lo),
                    num(hi)
                ));
            }
        }
        if self.len() > max_classes {
            return Err(format!(
                "teacher grid points = [{}, {}] is {} classes; expected at most {max_classes}",
                self.points[0],
                self.points[1],
                self.len()
            ));
        }
        Ok(())
    }

    /// True when `p` lies inside the grid's rectangle.
    pub fn contains(&self, p: [f64; 2]) -> bool {
        (0..2).all(|a| p[a] >= self.lo[a] && p[a] <= self.hi[a])
    }
}

/// One Gaussian component of a 2-D mixture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component2d {
    pub weight: f64,
    pub mean: [f64; 2],
    pub cov: [[f64; 2]; 2],
}

impl Component2d {
    /// A component from its standard deviations and correlation (what the GUI edits).
    pub fn from_std(weight: f64, mean: [f64; 2], std: [f64; 2], rho: f64) -> Self {
        let c = rho * std[0] * std[1];
        Component2d {
            weight,
            mean,
            cov: [[std[0] * std[0], c], [c, std[1] * std[1]]],
        }
    }

    /// (σ₁, σ₂, ρ) of the covariance.
    pub fn std_rho(&self) -> ([f64; 2], f64) {
        let s = [self.cov[0][0].sqrt(), self.cov[1][1].sqrt()];
        (s, self.cov[0][1] / (s[0] * s[1]))
    }
}

/// A covariance as written in a config: `[[s11, s12], [s21, s22]]`.
pub fn matrix(cov: &[[f64; 2]; 2]) -> Matrix2<f64> {
    Matrix2::new(cov[0][0], cov[0][1], cov[1][0], cov[1][1])
}

/// The lower Cholesky factor of `cov`, or a message naming `what` when `cov` is not symmetric
/// positive definite.
pub fn cholesky(cov: &[[f64; 2]; 2], what: &str) -> Result<Matrix2<f64>, String> {
    let m = matrix(cov);
    let bad = || {
        format!(
            "{what} cov = [[{}, {}], [{}, {}]] is not symmetric positive definite; expected \
             [[s11, s12], [s12, s22]] with s11 > 0, s22 > 0 and s12² < s11·s22",
            num(m[(0, 0)]),
            num(m[(0, 1)]),
            num(m[(1, 0)]),
            num(m[(1, 1)])
        )
    };
    if !m.iter().all(|v| v.is_finite()) {
        return Err(bad());
    }
    let scale = m[(0, 0)].abs().max(m[(1, 1)].abs()).max(f64::MIN_POSITIVE);
    if (m[(0, 1)] - m[(1, 0)]).abs() > 1e-12 * scale {
        return Err(bad());
    }
    let l = nalgebra::Cholesky::new(m).ok_or_else(bad)?.unpack();
    // Nearly singular covariances give factors whose inverse overflows: reject them too.
    if !(l[(0, 0)] > 1e-150 && l[(1, 1)] > 1e-150) {
        return Err(bad());
    }
    Ok(l)
}

/// `log Σ_c w_c N(x; m_c, Σ_c)` at `(x, y)` (weights taken as given), by log-sum-exp.
fn mixture_log_density(parts: &[(f64, Vector2<f64>, Matrix2<f64>)], x: f64, y: f64) -> f64 {
    let mut acc = f64::NEG_INFINITY;
    for (logw_norm, mean, prec) in parts {
        let d = Vector2::new(x, y) - mean;
        let l = logw_norm - 0.5 * d.dot(&(prec * d));
        acc = crate::math::logspace::logaddexp(acc, l);
    }
    acc
}

/// The mixture's log density at every `(xs[k], ys[k])`; the components must have passed [`check`].
pub fn log_density(components: &[Component2d], xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let parts: Vec<_> = components
        .iter()
        .filter_map(|c| {
            let l = cholesky(&c.cov, "").ok()?;
            let det = (l[(0, 0)] * l[(1, 1)]).powi(2);
            let prec = matrix(&c.cov).try_inverse()?;
            let norm = c.weight.ln() - (2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln();
            Some((norm, Vector2::from(c.mean), prec))
        })
        .collect();
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| mixture_log_density(&parts, x, y))
        .collect()
}

/// Checks the components against the grid: positive weights, finite means inside the grid,
/// symmetric positive definite covariances.
pub fn check(components: &[Component2d], grid: &Grid2d) -> Result<(), String> {
    if components.is_empty() {
        return Err("teacher components is empty; expected at least one component".into());
    }
    for (i, c) in components.iter().enumerate() {
        let what = format!("teacher component {}:", i + 1);
        if !(c.weight.is_finite() && c.weight > 0.0) {
            return Err(format!(
                "{what} weight = {}; expected a positive number",
                num(c.weight)
            ));
        }
        if !c.mean.iter().all(|v| v.is_finite()) || !grid.contains(c.mean) {
            return Err(format!(
                "{what} mean = [{}, {}]; expected a point inside the grid [{}, {}] × [{}, {}]",
                num(c.mean[0]),
                num(c.mean[1]),
                num(grid.lo[0]),
                num(grid.hi[0]),
                num(grid.lo[1]),
                num(grid.hi[1])
            ));
        }
        cholesky(&c.cov, &what)?;
    }
    Ok(())
}

/// The mixture's mean and covariance (what FKL's full-covariance Gaussian matches, in the continuum).
pub fn moments(components: &[Component2d]) -> ([f64; 2], [[f64; 2]; 2]) {
    let w: f64 = components.iter().map(|c| c.weight).sum();
    let mut mean = Vector2::zeros();
    for c in components {
        mean += Vector2::from(c.mean) * (c.weight / w);
    }
    let mut cov = Matrix2::zeros();
    for c in components {
        let d = Vector2::from(c.mean) - mean;
        cov += (matrix(&c.cov) + d * d.transpose()) * (c.weight / w);
    }
    ([mean[0], mean[1]], to_array(&cov))
}

pub fn to_array(m: &Matrix2<f64>) -> [[f64; 2]; 2] {
    [[m[(0, 0)], m[(0, 1)]], [m[(1, 0)], m[(1, 1)]]]
}

/// The ellipse `{x : (x − m)ᵀ Σ⁻¹ (x − m) = k²}` as `points` points (closed: the first repeated
/// at the end), from the eigen-decomposition of Σ.
pub fn ellipse(mean: [f64; 2], cov: &[[f64; 2]; 2], k: f64, points: usize) -> Vec<[f64; 2]> {
    let eig = SymmetricEigen::new(matrix(cov));
    let axes: Vec<Vector2<f64>> = (0..2)
        .map(|i| eig.eigenvectors.column(i) * (eig.eigenvalues[i].max(0.0).sqrt() * k))
        .collect();
    let mut ring: Vec<[f64; 2]> = (0..points)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / points as f64;
            let p = axes[0] * t.cos() + axes[1] * t.sin();
            [mean[0] + p[0], mean[1] + p[1]]
        })
        .collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_run_x_fastest() {
        let g = Grid2d {
            lo: [0.0, 10.0],
            hi: [2.0, 11.0],
            points: [3, 2],
        };
        let (xs, ys) = g.positions();
        assert_eq!(xs, vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        assert_eq!(ys, vec![10.0, 10.0, 10.0, 11.0, 11.0, 11.0]);
    }

    #[test]
    fn bad_covariances_are_named() {
        for cov in [
            [[1.0, 0.5], [0.4, 1.0]],
            [[1.0, 1.0], [1.0, 1.0]],
            [[0.0, 0.0], [0.0, 1.0]],
            [[-1.0, 0.0], [0.0, 1.0]],
            [[f64::NAN, 0.0], [0.0, 1.0]],
        ] {
            let e = cholesky(&cov, "student").unwrap_err();
            assert!(
                e.starts_with("student cov = ") && e.contains("not symmetric positive definite"),
                "{e}"
            );
        }
        let l = cholesky(&[[4.0, 1.2], [1.2, 1.0]], "x").unwrap();
        assert!((l * l.transpose() - Matrix2::new(4.0, 1.2, 1.2, 1.0)).norm() < 1e-12);
    }

    #[test]
    fn density_integrates_to_the_weight_on_a_wide_grid() {
        let c = Component2d {
            weight: 0.7,
            mean: [0.5, -0.5],
            cov: [[1.0, 0.9], [0.9, 1.0]],
        };
        let g = Grid2d {
            lo: [-8.0, -8.0],
            hi: [8.0, 8.0],
            points: [161, 161],
        };
        let (xs, ys) = g.positions();
        let mass: f64 = log_density(&[c], &xs, &ys)
            .iter()
            .map(|l| l.exp() * g.step(0) * g.step(1))
            .sum();
        assert!((mass - 0.7).abs() < 1e-6, "{mass}");
    }

    #[test]
    fn ellipse_axes_follow_the_eigenvectors() {
        let e = ellipse([1.0, 2.0], &[[4.0, 0.0], [0.0, 1.0]], 2.0, 4);
        let r: Vec<f64> = e
            .iter()
            .map(|p| ((p[0] - 1.0).powi(2) + (p[1] - 2.0).powi(2)).sqrt())
            .collect();
        // Radii 2·2 = 4 and 2·1 = 2 at quarter turns, in one order or the other.
        let mut r4 = r[..4].to_vec();
        r4.sort_by(f64::total_cmp);
        assert!(
            (r4[0] - 2.0).abs() < 1e-12 && (r4[3] - 4.0).abs() < 1e-12,
            "{r:?}"
        );
        assert_eq!(e[0], e[4]);
    }

    #[test]
    fn mixture_moments_add_the_spread_of_the_means() {
        let parts = [
            Component2d::from_std(1.0, [-2.0, 0.0], [1.0, 1.0], 0.0),
            Component2d::from_std(1.0, [2.0, 0.0], [1.0, 1.0], 0.0),
        ];
        let (m, c) = moments(&parts);
        assert_eq!(m, [0.0, 0.0]);
        assert_eq!(c, [[5.0, 0.0], [0.0, 1.0]]);
    }
}
