//! Toy teachers: explicit discrete distributions, long-tail generators, and Gaussian mixtures on a grid.

use crate::math::LogDist;
use crate::math::range::{self, short};
use crate::math::rng::Rng;
use serde::{Deserialize, Serialize};

use super::plane::{self, Component2d, Grid2d};

/// Points `lo, lo + h, ..., hi` (inclusive), `points` of them: the class positions of a mixture teacher.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub lo: f64,
    pub hi: f64,
    pub points: usize,
}

impl Grid {
    pub fn xs(&self) -> Vec<f64> {
        if self.points == 1 {
            return vec![self.lo];
        }
        let h = (self.hi - self.lo) / (self.points - 1) as f64;
        (0..self.points).map(|i| self.lo + h * i as f64).collect()
    }

    pub fn step(&self) -> f64 {
        if self.points > 1 {
            (self.hi - self.lo) / (self.points - 1) as f64
        } else {
            1.0
        }
    }
}

/// One Gaussian component of a mixture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub weight: f64,
    pub mean: f64,
    pub std: f64,
}

/// The profile of a long-tail teacher over classes k = 0, 1, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TailShape {
    /// `p_k ∝ exp(−k²/(2 w²))`, w = `width` in classes (the AKL paper's figure 3 is 16/1.25 = 12.8).
    HalfNormal,
    /// `p_k ∝ (k+1)^(−s)`, s = `exponent` (Zipf / power law).
    Zipf,
}

fn default_width() -> f64 {
    12.8
}

fn default_exponent() -> f64 {
    1.0
}

/// What a teacher is made from; the TOML `[teacher]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TeacherSpec {
    /// Explicit probabilities (any non-negative weights; normalised; zeros allowed).
    Probs { probs: Vec<f64> },
    /// Explicit logits (`-inf` allowed for a zero-probability class).
    Logits { logits: Vec<f64> },
    /// A long-tailed discrete distribution.
    LongTail {
        classes: usize,
        shape: TailShape,
        #[serde(default = "default_width")]
        width: f64,
        #[serde(default = "default_exponent")]
        exponent: f64,
        /// Permute the classes with this seed (the head is then scattered over the class axis).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shuffle_seed: Option<u64>,
        /// Multiply each class by `1 + noise·U[0,1)` before normalising (the AKL notebook uses 0.01).
        #[serde(default)]
        noise: f64,
        #[serde(default)]
        noise_seed: u64,
    },
    /// A Gaussian mixture evaluated at the grid points (weights need not sum to one).
    Mixture {
        components: Vec<Component>,
        grid: Grid,
    },
    /// A Gaussian mixture in the plane evaluated at the points of a 2-D grid (the classes).
    Mixture2d {
        components: Vec<Component2d>,
        grid: Grid2d,
    },
}

/// A ready teacher: the distribution and the position of each class on the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Teacher {
    pub dist: LogDist,
    pub xs: Vec<f64>,
    /// The mixture it came from, if any (for closed forms and continuous plots).
    pub components: Option<Vec<Component>>,
    /// The 2-D mixture and its grid, for a `mixture2d` teacher (then `xs` is the class index).
    pub plane: Option<Plane>,
    /// A `logits` teacher's logits as given: what the practice options round, cap and
    /// standardise (see [`Teacher::logits`]).
    pub given_logits: Option<Vec<f64>>,
}

impl Teacher {
    /// The teacher's logits as the practice pipeline reads them: a `logits` teacher's own (bf16
    /// rounds 31.11, not its log-probability −0.8), else the log-probabilities.
    pub fn logits(&self) -> &[f64] {
        self.given_logits.as_deref().unwrap_or(&self.dist.logp)
    }
}

/// A 2-D teacher's mixture, grid, and the position of every class.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    pub components: Vec<Component2d>,
    pub grid: Grid2d,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
}

/// Upper limit on the number of classes a toy teacher may have (the toy runs on the CPU, live).
pub const MAX_CLASSES: usize = 100_000;

impl TeacherSpec {
    pub fn build(&self) -> Result<Teacher, String> {
        match self {
            TeacherSpec::Probs { probs } => {
                let dist = LogDist::from_probs(probs).map_err(|e| format!("teacher probs: {e}"))?;
                Ok(Teacher {
                    xs: index_axis(dist.len()),
                    dist,
                    components: None,
                    plane: None,
                    given_logits: None,
                })
            }
            TeacherSpec::Logits { logits } => {
                let dist = LogDist::from_logits(logits, true)
                    .map_err(|e| format!("teacher logits: {e}"))?;
                if let Some((i, v)) = range::first_bad_logit(logits.iter().copied(), true) {
                    return Err(format!(
                        "teacher logits: entry {i} is {}; expected {}",
                        range::short(v),
                        range::logit_range(true)
                    ));
                }
                Ok(Teacher {
                    xs: index_axis(dist.len()),
                    dist,
                    components: None,
                    plane: None,
                    given_logits: Some(logits.clone()),
                })
            }
            TeacherSpec::LongTail {
                classes,
                shape,
                width,
                exponent,
                shuffle_seed,
                noise,
                noise_seed,
            } => {
                let (width, exponent) = (*width, *exponent);
                let n = *classes;
                if !(2..=MAX_CLASSES).contains(&n) {
                    return Err(format!("teacher classes={n}; expected 2 to {MAX_CLASSES}"));
                }
                if !(noise.is_finite() && (0.0..=10.0).contains(noise)) {
                    return Err(format!(
                        "teacher noise={}; expected a fraction in [0, 10]",
                        short(*noise)
                    ));
                }
                let mut logw: Vec<f64> = match *shape {
                    TailShape::HalfNormal => {
                        if !(width.is_finite() && width > 0.0) {
                            return Err(format!(
                                "teacher width={}; expected a positive number of classes",
                                short(width)
                            ));
                        }
                        (0..n).map(|k| -0.5 * (k as f64 / width).powi(2)).collect()
                    }
                    TailShape::Zipf => {
                        if !(exponent.is_finite() && (0.0..=20.0).contains(&exponent)) {
                            return Err(format!(
                                "teacher exponent={}; expected a number in [0, 20]",
                                short(exponent)
                            ));
                        }
                        (0..n).map(|k| -exponent * ((k + 1) as f64).ln()).collect()
                    }
                };
                if *noise > 0.0 {
                    let mut rng = Rng::new(*noise_seed);
                    for w in &mut logw {
                        *w += (noise * rng.uniform()).ln_1p();
                    }
                }
                if let Some(seed) = shuffle_seed {
                    Rng::new(*seed).shuffle(&mut logw);
                }
                let dist =
                    LogDist::from_logits(&logw, false).map_err(|e| format!("teacher: {e}"))?;
                Ok(Teacher {
                    xs: index_axis(n),
                    dist,
                    components: None,
                    plane: None,
                    given_logits: None,
                })
            }
            TeacherSpec::Mixture { components, grid } => {
                check_mixture(components, grid)?;
                let xs = grid.xs();
                let logits: Vec<f64> = xs
                    .iter()
                    .map(|&x| mixture_log_density(components, x))
                    .collect();
                let dist = LogDist::from_logits(&logits, true)
                    .map_err(|e| format!("teacher mixture: {e}"))?;
                Ok(Teacher {
                    xs,
                    dist,
                    components: Some(components.clone()),
                    plane: None,
                    given_logits: None,
                })
            }
            TeacherSpec::Mixture2d { components, grid } => {
                grid.check(MAX_CLASSES)?;
                plane::check(components, grid)?;
                let (xs, ys) = grid.positions();
                let logits = plane::log_density(components, &xs, &ys);
                let dist = LogDist::from_logits(&logits, true)
                    .map_err(|e| format!("teacher mixture2d: {e}"))?;
                Ok(Teacher {
                    xs: index_axis(dist.len()),
                    dist,
                    components: None,
                    plane: Some(Plane {
                        components: components.clone(),
                        grid: *grid,
                        xs,
                        ys,
                    }),
                    given_logits: None,
                })
            }
        }
    }
}

impl TeacherSpec {
    /// The AKL paper's bimodal teacher (figure 2): p ∝ 0.3 N(25, 10²) + 0.5 N(75, 10²) on x = 0, 2, ..., 98.
    pub fn akl_bimodal() -> Self {
        Self::mixture_on(
            &[(0.3, 25.0, 10.0), (0.5, 75.0, 10.0)],
            Grid {
                lo: 0.0,
                hi: 98.0,
                points: 50,
            },
        )
    }

    /// The AKL paper's unimodal teacher (figure 2): p ∝ 0.8 N(50, 15²) on x = 0, 2, ..., 98.
    pub fn akl_unimodal() -> Self {
        Self::mixture_on(
            &[(0.8, 50.0, 15.0)],
            Grid {
                lo: 0.0,
                hi: 98.0,
                points: 50,
            },
        )
    }

    /// The MiniLLM-style two-mode teacher 0.7 N(−2.5, 0.8²) + 0.3 N(2.5, 0.8²) on [−12, 12].
    pub fn two_modes(points: usize) -> Self {
        Self::mixture_on(
            &[(0.7, -2.5, 0.8), (0.3, 2.5, 0.8)],
            Grid {
                lo: -12.0,
                hi: 12.0,
                points,
            },
        )
    }

    fn mixture_on(parts: &[(f64, f64, f64)], grid: Grid) -> Self {
        let components = parts
            .iter()
            .map(|&(weight, mean, std)| Component { weight, mean, std })
            .collect();
        TeacherSpec::Mixture { components, grid }
    }
}

fn index_axis(n: usize) -> Vec<f64> {
    (0..n).map(|k| k as f64).collect()
}

fn check_mixture(components: &[Component], grid: &Grid) -> Result<(), String> {
    if components.is_empty() {
        return Err("teacher mixture has no components; expected at least one".into());
    }
    for (i, c) in components.iter().enumerate() {
        if !(c.weight.is_finite() && c.weight > 0.0) {
            return Err(format!(
                "teacher component {}: weight={}; expected a positive number",
                i + 1,
                short(c.weight)
            ));
        }
        if !c.mean.is_finite() {
            return Err(format!(
                "teacher component {}: mean={}; expected a finite number",
                i + 1,
                short(c.mean)
            ));
        }
        if !(c.std.is_finite() && c.std > 0.0) {
            return Err(format!(
                "teacher component {}: std={}; expected a positive number",
                i + 1,
                short(c.std)
            ));
        }
    }
    if !(2..=MAX_CLASSES).contains(&grid.points) {
        return Err(format!(
            "teacher grid points={}; expected 2 to {MAX_CLASSES}",
            grid.points
        ));
    }
    if !(grid.lo.is_finite() && grid.hi.is_finite() && grid.hi > grid.lo) {
        return Err(format!(
            "teacher grid [{}, {}]; expected finite lo < hi",
            short(grid.lo),
            short(grid.hi)
        ));
    }
    Ok(())
}

/// `log Σ_c w_c N(x; m_c, s_c²)` by log-sum-exp (weights taken as given, not normalised).
pub fn mixture_log_density(components: &[Component], x: f64) -> f64 {
    let mut acc = f64::NEG_INFINITY;
    for c in components {
        let z = (x - c.mean) / c.std;
        let l = c.weight.ln() - 0.5 * z * z - c.std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        acc = crate::math::logspace::logaddexp(acc, l);
    }
    acc
}

/// Closed-form moment-matching optimum of FKL for a Gaussian student: (mean, std) of the mixture.
pub fn mixture_moments(components: &[Component]) -> (f64, f64) {
    let w: f64 = components.iter().map(|c| c.weight).sum();
    let mean = components.iter().map(|c| c.weight * c.mean).sum::<f64>() / w;
    let var = components
        .iter()
        .map(|c| c.weight * (c.std * c.std + (c.mean - mean).powi(2)))
        .sum::<f64>()
        / w;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::plane::{Component2d, Grid2d};

    #[test]
    fn half_normal_matches_the_akl_check_values() {
        let t = TeacherSpec::LongTail {
            classes: 80,
            shape: TailShape::HalfNormal,
            width: 12.8,
            exponent: 1.0,
            shuffle_seed: None,
            noise: 0.0,
            noise_seed: 0,
        }
        .build()
        .unwrap();
        // Spec §13.2: p_0 = 0.060451, p_79 = 3.2e-10, H = 3.2908 nats.
        assert!((t.dist.p[0] - 0.060451).abs() < 5e-7);
        assert!((t.dist.p[79] / 3.2e-10 - 1.0).abs() < 0.02);
        let h: f64 = -t
            .dist
            .p
            .iter()
            .zip(&t.dist.logp)
            .map(|(p, l)| p * l)
            .sum::<f64>();
        assert!((h - 3.2908).abs() < 5e-5, "{h}");
    }

    #[test]
    fn akl_bimodal_matches_the_check_values() {
        let t = TeacherSpec::akl_bimodal().build().unwrap();
        // Spec §13.1: max p = 0.04996 at class 37, H(p) = 3.6434, min p = 1.324e-3.
        let (arg, max) = t
            .dist
            .p
            .iter()
            .enumerate()
            .fold((0, 0.0), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        assert_eq!(arg, 37);
        assert!((max - 0.04996).abs() < 5e-6);
        let h: f64 = -t
            .dist
            .p
            .iter()
            .zip(&t.dist.logp)
            .map(|(p, l)| p * l)
            .sum::<f64>();
        assert!((h - 3.6434).abs() < 5e-5, "{h}");
        let min = t.dist.p.iter().copied().fold(1.0, f64::min);
        assert!((min - 1.324e-3).abs() < 5e-7, "{min}");
    }

    #[test]
    fn zipf_shuffle_and_noise_are_seeded() {
        let spec = |seed| TeacherSpec::LongTail {
            classes: 100,
            shape: TailShape::Zipf,
            width: 1.0,
            exponent: 1.1,
            shuffle_seed: Some(seed),
            noise: 0.05,
            noise_seed: 3,
        };
        assert_eq!(spec(7).build().unwrap(), spec(7).build().unwrap());
        assert_ne!(
            spec(7).build().unwrap().dist.p,
            spec(8).build().unwrap().dist.p
        );
    }

    #[test]
    fn bad_teachers_are_named() {
        let e = TeacherSpec::Probs {
            probs: vec![0.5, -0.1],
        }
        .build()
        .unwrap_err();
        assert!(e.contains("entry 1") && e.contains(">= 0"), "{e}");
        let e = TeacherSpec::Mixture {
            components: vec![Component {
                weight: 1.0,
                mean: 0.0,
                std: 0.0,
            }],
            grid: Grid {
                lo: -1.0,
                hi: 1.0,
                points: 10,
            },
        }
        .build()
        .unwrap_err();
        assert!(e.contains("std=0"), "{e}");
    }

    #[test]
    fn bad_plane_teachers_are_named() {
        let spec =
            |mean: [f64; 2], cov: [[f64; 2]; 2], points: [usize; 2]| TeacherSpec::Mixture2d {
                components: vec![Component2d {
                    weight: 1.0,
                    mean,
                    cov,
                }],
                grid: Grid2d {
                    lo: [-6.0, -6.0],
                    hi: [6.0, 6.0],
                    points,
                },
            };
        let eye = [[1.0, 0.0], [0.0, 1.0]];
        let t = spec([0.0, 0.0], eye, [11, 21]).build().unwrap();
        assert_eq!(t.dist.len(), 231);
        assert_eq!(t.plane.as_ref().unwrap().ys[11], -6.0 + 0.6);
        let e = spec([0.0, 0.0], eye, [1, 21]).build().unwrap_err();
        assert!(
            e.contains("points[0] = 1") && e.contains("at least 2"),
            "{e}"
        );
        let e = spec([7.0, 0.0], eye, [11, 11]).build().unwrap_err();
        assert!(
            e.contains("component 1: mean = [7, 0]") && e.contains("inside the grid"),
            "{e}"
        );
        let e = spec([0.0, 0.0], [[1.0, 1.2], [1.2, 1.0]], [11, 11])
            .build()
            .unwrap_err();
        assert!(
            e.contains(
                "component 1: cov = [[1, 1.2], [1.2, 1]] is not symmetric positive definite"
            ),
            "{e}"
        );
    }
}
