//! The 2-D Gaussian student N(m, Σ) on a 2-D teacher's grid: Σ = L·Lᵀ with L lower-triangular,
//! parameters `[m₁, m₂, log L₁₁, L₂₁, log L₂₂]` (the log-diagonal keeps Σ positive definite).
//!
//! The logits are `z_j = −½ (x_j − m)ᵀ Σ⁻¹ (x_j − m)`; the normalisation `−½ log det 2πΣ` is the same
//! for every class and cancels in the softmax. With `g` the gradient w.r.t. the logits,
//! `d_j = x_j − m`, `P = Σ⁻¹`, `G = Σ g_j d_j` and `S = Σ g_j d_j d_jᵀ`:
//! `∂/∂m = P G` and `∂/∂L = P S L⁻ᵀ` (lower triangle; times `L_aa` for the log-diagonal).
//! A diagonal (factorised) student keeps `L₂₁ = 0`: its gradient there is 0.

use super::plane::{cholesky, matrix, to_array};
use nalgebra::{Matrix2, Vector2};

/// The number of parameters.
pub const PARAMS: usize = 5;

/// Initial parameters from a mean and a covariance (checked: symmetric positive definite, and
/// diagonal for a diagonal student).
pub fn init(mean: [f64; 2], cov: &[[f64; 2]; 2], diagonal: bool) -> Result<Vec<f64>, String> {
    if !mean.iter().all(|v| v.is_finite()) {
        return Err(format!(
            "student mean = [{}, {}]; expected two finite numbers",
            mean[0], mean[1]
        ));
    }
    let l = cholesky(cov, "student")?;
    if diagonal && (cov[0][1] != 0.0 || cov[1][0] != 0.0) {
        return Err(format!(
            "student cov off-diagonal = {} with covariance = \"diagonal\"; expected 0 (or covariance = \"full\")",
            crate::math::label::num(cov[0][1])
        ));
    }
    Ok(vec![
        mean[0],
        mean[1],
        l[(0, 0)].ln(),
        l[(1, 0)],
        l[(1, 1)].ln(),
    ])
}

/// L from the parameters.
pub fn factor(params: &[f64]) -> Matrix2<f64> {
    Matrix2::new(params[2].exp(), 0.0, params[3], params[4].exp())
}

/// (m, Σ) from the parameters.
pub fn mean_cov(params: &[f64]) -> ([f64; 2], [[f64; 2]; 2]) {
    let l = factor(params);
    ([params[0], params[1]], to_array(&(l * l.transpose())))
}

/// The logits at the points `(xs[j], ys[j])`.
pub fn logits(xs: &[f64], ys: &[f64], params: &[f64], z: &mut [f64]) {
    let (m1, m2) = (params[0], params[1]);
    let (ia, b, ic) = ((-params[2]).exp(), params[3], (-params[4]).exp());
    for ((z, &x), &y) in z.iter_mut().zip(xs).zip(ys) {
        // u = L⁻¹ d by forward substitution.
        let u1 = (x - m1) * ia;
        let u2 = ((y - m2) - b * u1) * ic;
        *z = -0.5 * (u1 * u1 + u2 * u2);
    }
}

/// The gradient w.r.t. the parameters from `g`, the gradient w.r.t. the logits.
pub fn param_grad(
    xs: &[f64],
    ys: &[f64],
    params: &[f64],
    diagonal: bool,
    g: &[f64],
    out: &mut [f64],
) {
    let (m1, m2) = (params[0], params[1]);
    let mut sums = [0.0; 5];
    for ((&g, &x), &y) in g.iter().zip(xs).zip(ys) {
        let (d1, d2) = (x - m1, y - m2);
        sums[0] += g * d1;
        sums[1] += g * d2;
        sums[2] += g * d1 * d1;
        sums[3] += g * d1 * d2;
        sums[4] += g * d2 * d2;
    }
    let l = factor(params);
    let (a, b, c) = (l[(0, 0)], l[(1, 0)], l[(1, 1)]);
    let linv = Matrix2::new(1.0 / a, 0.0, -b / (a * c), 1.0 / c);
    let p = linv.transpose() * linv;
    let gm = p * Vector2::new(sums[0], sums[1]);
    let s = matrix(&[[sums[2], sums[3]], [sums[3], sums[4]]]);
    let gl = p * s * linv.transpose();
    out[0] = gm[0];
    out[1] = gm[1];
    out[2] = gl[(0, 0)] * l[(0, 0)];
    out[3] = if diagonal { 0.0 } else { gl[(1, 0)] };
    out[4] = gl[(1, 1)] * l[(1, 1)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{Divergence, LogDist, Workspace, value_and_grad};
    use crate::toy::plane::{Component2d, Grid2d, log_density};

    /// A lopsided two-component teacher on a small grid.
    fn teacher() -> (Vec<f64>, Vec<f64>, LogDist) {
        let g = Grid2d {
            lo: [-4.0, -3.0],
            hi: [4.0, 5.0],
            points: [21, 23],
        };
        let (xs, ys) = g.positions();
        let parts = [
            Component2d::from_std(0.6, [-1.0, 0.5], [1.0, 0.7], 0.6),
            Component2d::from_std(0.4, [1.5, 2.0], [0.8, 1.2], -0.3),
        ];
        let p = LogDist::from_logits(&log_density(&parts, &xs, &ys), true).unwrap();
        (xs, ys, p)
    }

    fn loss(div: &Divergence, xs: &[f64], ys: &[f64], p: &LogDist, params: &[f64]) -> f64 {
        let mut z = vec![0.0; xs.len()];
        logits(xs, ys, params, &mut z);
        let mut q = LogDist::zeros(xs.len());
        q.set_logits(&z);
        let mut g = vec![0.0; xs.len()];
        value_and_grad(div, p, &q, &mut g, &mut Workspace::default())
    }

    /// The chain rule to (m, L) agrees with central differences of the divergence itself, for
    /// several smooth families (AKL's weights and TVD's |p − q| are not differentiated through), to a relative 1e-5 (steps of 1e-5 in f64: truncation ~1e-10, rounding ~1e-11).
    #[test]
    fn gradient_matches_finite_differences() {
        let (xs, ys, p) = teacher();
        let params = [0.3, 0.8, 0.2, 0.4, -0.1];
        for spec in [
            "fkl",
            "rkl",
            "jsd:beta=0.3",
            "skl:alpha=0.2",
            "ab:alpha=0.5,beta=0.5",
        ] {
            let div: Divergence = spec.parse().unwrap();
            let n = xs.len();
            let mut z = vec![0.0; n];
            logits(&xs, &ys, &params, &mut z);
            let mut q = LogDist::zeros(n);
            q.set_logits(&z);
            let mut g = vec![0.0; n];
            value_and_grad(&div, &p, &q, &mut g, &mut Workspace::default());
            let mut got = [0.0; PARAMS];
            param_grad(&xs, &ys, &params, false, &g, &mut got);
            let h = 1e-5;
            for i in 0..PARAMS {
                let (mut up, mut down) = (params, params);
                up[i] += h;
                down[i] -= h;
                let want =
                    (loss(&div, &xs, &ys, &p, &up) - loss(&div, &xs, &ys, &p, &down)) / (2.0 * h);
                let tol = 1e-5 * want.abs().max(1e-3);
                assert!(
                    (got[i] - want).abs() < tol,
                    "{spec} param {i}: chain rule {} vs differences {want}",
                    got[i]
                );
            }
            // The diagonal student: the same gradient without its off-diagonal component.
            let mut diag = [0.0; PARAMS];
            param_grad(&xs, &ys, &params, true, &g, &mut diag);
            assert_eq!(diag[3], 0.0);
            assert_eq!(
                [diag[0], diag[1], diag[2], diag[4]],
                [got[0], got[1], got[2], got[4]]
            );
        }
    }

    #[test]
    fn parameters_round_trip_the_covariance() {
        let cov = [[2.0, 0.6], [0.6, 0.5]];
        let params = init([1.0, -2.0], &cov, false).unwrap();
        let (m, c) = mean_cov(&params);
        assert_eq!(m, [1.0, -2.0]);
        for (a, b) in c.iter().flatten().zip(cov.iter().flatten()) {
            assert!((a - b).abs() < 1e-14, "{c:?}");
        }
        let e = init([0.0, 0.0], &cov, true).unwrap_err();
        assert!(
            e.contains("covariance = \"diagonal\"") && e.contains("expected 0"),
            "{e}"
        );
        let e = init([0.0, 0.0], &[[0.0, 0.0], [0.0, 1.0]], false).unwrap_err();
        assert!(e.starts_with("student cov = [[0, 0], [0, 1]]"), "{e}");
    }
}

/// The textbook's closed forms, on the presets that show them.
#[cfg(test)]
mod closed_forms {
    use crate::toy::analysis::fit_preset;
    use crate::toy::{FitResult, preset};

    fn last(r: &FitResult, div: &str) -> ([f64; 2], [[f64; 2]; 2]) {
        let run = r
            .runs
            .iter()
            .find(|run| run.divergence.to_string() == div)
            .unwrap();
        let rec = run.history.last().unwrap();
        (rec.mean.unwrap(), rec.cov.unwrap())
    }

    /// Bishop's figure 10.2 (ρ = 0.9, unit variances). The grid (step 0.1 on [−6, 6]²) samples
    /// Gaussians of σ ≥ 0.43: the sampled moments differ from the continuous ones by ~e^(−2π²σ²/h²)
    /// and the truncation at ±6σ by ~1e-8, so what remains is the optimiser's: 2e-3 after 1500 Adam
    /// epochs.
    #[test]
    fn bishop_factorised_reaches_the_closed_forms() {
        let epochs = preset::load("bishop-factorised").unwrap().epochs;
        let r = fit_preset("bishop-factorised", epochs);
        let (m, c) = last(&r, "rkl");
        println!("rkl {m:?} {c:?}");
        let (mf, cf) = last(&r, "fkl");
        println!("fkl {mf:?} {cf:?}");
        let tol = 2e-3;
        for (got, want) in [
            (c[0][0], 0.19),
            (c[1][1], 0.19),
            (cf[0][0], 1.0),
            (cf[1][1], 1.0),
            (m[0], 0.0),
            (m[1], 0.0),
            (mf[0], 0.0),
            (mf[1], 0.0),
        ] {
            assert!((got - want).abs() < tol, "{got} vs {want}");
        }
        // A factorised student never correlates.
        assert_eq!([c[0][1], cf[0][1]], [0.0, 0.0]);
    }

    /// Bishop's figure 10.3: FKL moment-matches the mixture (mean 0, covariance Σ̄ = the
    /// components' average plus the spread of the means); RKL ends on the mode nearer its start,
    /// within one standard deviation of its mean, from either side.
    #[test]
    fn bishop_two_modes_covers_and_seeks() {
        for (name, mode) in [
            ("bishop-two-modes", [-2.0, -2.0]),
            ("bishop-two-modes-other-start", [2.0, 2.0]),
        ] {
            let epochs = preset::load(name).unwrap().epochs;
            let r = fit_preset(name, epochs);
            let (m, c) = last(&r, "rkl");
            println!("{name} rkl {m:?} {c:?}");
            let d = ((m[0] - mode[0]).powi(2) + (m[1] - mode[1]).powi(2)).sqrt();
            assert!(
                d < 0.6f64.sqrt(),
                "{name}: RKL ends at {m:?}, {d} from {mode:?}"
            );
            let (mf, cf) = last(&r, "fkl");
            println!("{name} fkl {mf:?} {cf:?}");
            let plane = r.teacher.plane.as_ref().unwrap();
            let (want_m, want_c) = crate::toy::plane::moments(&plane.components);
            for a in 0..2 {
                assert!((mf[a] - want_m[a]).abs() < 1e-2, "{mf:?} vs {want_m:?}");
                for b in 0..2 {
                    assert!(
                        (cf[a][b] - want_c[a][b]).abs() < 2e-2,
                        "{cf:?} vs {want_c:?}"
                    );
                }
            }
        }
    }
}
