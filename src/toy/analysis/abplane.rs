//! The αβ plane of the alpha-beta divergence (ABKD): α on the teacher, β on the student. FKL sits at
//! (1, 0), RKL at (0, 1), the α-divergences on the line α + β = 1. The ABKD reading of a point is the
//! per-class force `w_k = q_k^β · (q_k^α − p_k^α)/α`, split into its confidence factor `q^β` and its
//! hardness factor `(q^α − p^α)/α` (→ log(q/p) at α = 0).

use crate::io::csv::Quoted;
use crate::math::Divergence;
use crate::math::divergence::AB_PARAMS;
use crate::toy::FitResult;
use std::fmt::{self, Write};

/// The plane's extent on both axes: the side panel's slider range of `ab`'s α (the table gives β
/// and the α-divergence's α the same one).
const EXTENT: (f64, f64) = match AB_PARAMS[0].ui_range() {
    Some(range) => range,
    None => panic!("the ab family's alpha has a slider"), // fails the build, never a run
};
pub const LO: f64 = EXTENT.0;
pub const HI: f64 = EXTENT.1;

/// The reference points: name and (α, β).
pub const REFERENCES: [(&str, [f64; 2]); 3] = [
    ("FKL", [1.0, 0.0]),
    ("RKL", [0.0, 1.0]),
    ("Hellinger", [0.5, 0.5]),
];

/// ABKD's recommended settings from the released scripts (spec §7.2).
pub const RECOMMENDED: [(&str, [f64; 2]); 3] = [
    ("GPT-2", [0.2, 0.7]),
    ("OpenLLaMA", [0.1, 0.8]),
    ("CIFAR-100", [0.8, 0.3]),
];

/// The probe's starting point when no divergence is on the plane (ABKD's GPT-2 setting).
pub const PROBE: [f64; 2] = [0.2, 0.7];

/// The (α, β) of a divergence on the plane, if it has one: ABKD's `ab` and the α-divergence
/// `(a, 1−a)`.
pub fn ab_of(div: &Divergence) -> Option<[f64; 2]> {
    match *div {
        Divergence::Ab { alpha, beta } => Some([alpha, beta]),
        Divergence::Alpha { alpha } => Some([alpha, 1.0 - alpha]),
        _ => None,
    }
}

/// `(α, β)` when the divergence is a point of the αβ family: [`ab_of`]'s, and also FKL `(1, 0)` and
/// RKL `(0, 1)` (the gradient view splits their force too).
pub fn ab_exponents(div: &Divergence) -> Option<(f64, f64)> {
    match *div {
        Divergence::Fkl => Some((1.0, 0.0)),
        Divergence::Rkl => Some((0.0, 1.0)),
        ref d => ab_of(d).map(|[a, b]| (a, b)),
    }
}

/// One class's factors from log p and log q: confidence `q^β` and hardness `(q^α − p^α)/α`
/// (`log(q/p)` at α = 0).
pub fn ab_factor(alpha: f64, beta: f64, lp: f64, lq: f64) -> (f64, f64) {
    let confidence = (beta * lq).exp();
    let d = lq - lp;
    let x = alpha * d;
    let hardness = if x == 0.0 {
        // (q^α − p^α)/α → log(q/p) = d, also the α = 0 limit.
        d
    } else {
        // p^α · (e^{α d} − 1)/α, without cancellation for small α d.
        (alpha * lp).exp() * x.exp_m1() / alpha
    };
    (confidence, hardness)
}

/// [`ab_factor`] per class: (confidence, hardness).
pub fn ab_factors(alpha: f64, beta: f64, lp: &[f64], lq: &[f64]) -> (Vec<f64>, Vec<f64>) {
    lp.iter()
        .zip(lq)
        .map(|(&lp, &lq)| ab_factor(alpha, beta, lp, lq))
        .unzip()
}

/// Clamped to the plane and rounded to 0.01 (a dragged point).
pub fn clamp_ab(p: [f64; 2]) -> [f64; 2] {
    p.map(|v| {
        let v = if v.is_finite() { v } else { 0.0 };
        (v.clamp(LO, HI) * 100.0).round() / 100.0
    })
}

/// The α of the α-divergence nearest to `(a, b)` (the foot on α + β = 1), on the plane, to 0.01.
pub fn nearest_alpha([a, b]: [f64; 2]) -> f64 {
    ((0.5 * (a - b + 1.0)).clamp(LO, HI) * 100.0).round() / 100.0
}

/// The ABKD reading of one (α, β) with one student, over the classes that hold mass. Each series is
/// divided by its largest finite magnitude, as drawn; non-finite entries are NaN and never drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct AbReading {
    /// The classes kept (all, or those holding mass on a continuous grid) and their x.
    pub classes: Vec<usize>,
    pub xs: Vec<f64>,
    /// `q^β`, `(q^α − p^α)/α`, their product w.
    pub confidence: Vec<f64>,
    pub hardness: Vec<f64>,
    pub force: Vec<f64>,
    /// Teacher and student, each divided by its maximum (context for the force).
    pub p: Vec<f64>,
    pub q: Vec<f64>,
}

impl AbReading {
    /// The reading at `[a, b]` of `p` against `q`; on a continuous grid (`continuous`) only the
    /// positions where p or q exceeds 1e-4 of its peak.
    pub fn new(xs: &[f64], p: &[f64], q: &[f64], [a, b]: [f64; 2], continuous: bool) -> Self {
        let pmax = p.iter().copied().fold(0.0, f64::max);
        let qmax = q.iter().copied().fold(0.0, f64::max);
        let keep: Vec<usize> = (0..p.len().min(q.len()))
            .filter(|&k| !continuous || p[k] >= 1e-4 * pmax || q[k] >= 1e-4 * qmax)
            .collect();
        // Below 1e-9 the hardness is the log-ratio (the α = 0 limit), not a cancelling quotient.
        let alpha = if a.abs() < 1e-9 { 0.0 } else { a };
        let finite = |v: f64| if v.is_finite() { v } else { f64::NAN };
        let (conf, hard): (Vec<f64>, Vec<f64>) = keep
            .iter()
            .map(|&k| {
                let (c, h) = ab_factor(alpha, b, p[k].ln(), q[k].ln());
                (finite(c), finite(h))
            })
            .unzip();
        let force: Vec<f64> = conf.iter().zip(&hard).map(|(c, h)| finite(c * h)).collect();
        let scaled = |v: Vec<f64>| {
            let m = v
                .iter()
                .filter(|x| x.is_finite())
                .fold(0.0, |m: f64, x| m.max(x.abs()));
            if m > 0.0 {
                v.into_iter().map(|x| x / m).collect()
            } else {
                v
            }
        };
        let pick = |v: &[f64], m: f64| -> Vec<f64> {
            keep.iter()
                .map(|&k| if m > 0.0 { v[k] / m } else { 0.0 })
                .collect()
        };
        AbReading {
            xs: keep.iter().map(|&k| xs[k]).collect(),
            confidence: scaled(conf),
            hardness: scaled(hard),
            force: scaled(force),
            p: pick(p, pmax),
            q: pick(q, qmax),
            classes: keep,
        }
    }
}

/// Polylines through the finite values only (a NaN breaks the line).
pub fn finite_runs(xs: &[f64], ys: &[f64]) -> Vec<Vec<[f64; 2]>> {
    let mut out = Vec::new();
    let mut cur: Vec<[f64; 2]> = Vec::new();
    for (&x, &y) in xs.iter().zip(ys) {
        if x.is_finite() && y.is_finite() {
            cur.push([x, y]);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One reading of the plane: which point, at which epoch, with which run's student.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneReading {
    /// The divergence's spec, or `probe`.
    pub point: String,
    pub ab: [f64; 2],
    pub epoch: usize,
    pub reading: AbReading,
}

/// What the αβ-plane view draws: the fixed points, the runs on the plane and their readings.
#[derive(Debug, Clone, PartialEq)]
pub struct AbPlane {
    /// Every run on the plane: spec and (α, β).
    pub points: Vec<(String, [f64; 2])>,
    pub readings: Vec<PlaneReading>,
}

impl AbPlane {
    /// The plane of `result` with a reading per run on the plane and per epoch (each clamped to the
    /// fit); without a run on the plane, the probe at [`PROBE`] read with the first run's student, as
    /// the view starts.
    pub fn new(result: &FitResult, epochs: &[usize]) -> Self {
        let on_plane: Vec<(usize, String, [f64; 2])> = result
            .runs
            .iter()
            .enumerate()
            .filter_map(|(r, run)| {
                ab_of(&run.divergence.family).map(|ab| (r, run.divergence.to_string(), ab))
            })
            .collect();
        let targets: Vec<(usize, String, [f64; 2])> =
            if on_plane.is_empty() && !result.runs.is_empty() {
                vec![(0, "probe".to_string(), PROBE)]
            } else {
                on_plane.clone()
            };
        let continuous = result.teacher.components.is_some();
        let p = &result.teacher.dist.p;
        let mut readings = Vec::new();
        for &e in epochs {
            let e = super::clamp_epoch(result, e);
            for (run, point, ab) in &targets {
                let q = super::q_at(&result.runs[*run], e);
                if q.len() != p.len() {
                    continue;
                }
                readings.push(PlaneReading {
                    point: point.clone(),
                    ab: *ab,
                    epoch: e,
                    reading: AbReading::new(&result.teacher.xs, p, q, *ab, continuous),
                });
            }
        }
        AbPlane {
            points: on_plane.into_iter().map(|(_, s, ab)| (s, ab)).collect(),
            readings,
        }
    }

    /// One row per point (kind `reference`, `recommended`, `divergence`), then one per class of each
    /// reading (kind `reading`; every series divided by its largest magnitude, as drawn).
    pub fn write_csv(&self, out: &mut impl Write) -> fmt::Result {
        writeln!(
            out,
            "point,kind,alpha,beta,epoch,class,x,teacher,student,confidence,hardness,force"
        )?;
        let fixed = REFERENCES
            .iter()
            .map(|&(n, ab)| (n.to_string(), ab, "reference"))
            .chain(
                RECOMMENDED
                    .iter()
                    .map(|&(n, ab)| (n.to_string(), ab, "recommended")),
            )
            .chain(
                self.points
                    .iter()
                    .map(|(n, ab)| (n.clone(), *ab, "divergence")),
            );
        for (name, [a, b], kind) in fixed {
            writeln!(out, "{},{kind},{a},{b},,,,,,,,", Quoted(&name))?;
        }
        for r in &self.readings {
            let f = &r.reading;
            for i in 0..f.xs.len() {
                writeln!(
                    out,
                    "{},reading,{},{},{},{},{},{},{},{},{},{}",
                    Quoted(&r.point),
                    r.ab[0],
                    r.ab[1],
                    r.epoch,
                    f.classes[i],
                    f.xs[i],
                    f.p[i],
                    f.q[i],
                    f.confidence[i],
                    f.hardness[i],
                    f.force[i]
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv::parse_csv;
    use crate::toy::analysis::fit_with;

    fn scaled(v: Vec<f64>) -> Vec<f64> {
        let m = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        v.into_iter().map(|x| x / m).collect()
    }

    #[test]
    fn factors_give_the_fkl_and_rkl_forces() {
        let p = [0.5, 0.3, 0.15, 0.05];
        let q = [0.25, 0.25, 0.25, 0.25];
        let xs = [0.0, 1.0, 2.0, 3.0];
        // (1, 0): w = q − p, no confidence weighting.
        let f = AbReading::new(&xs, &p, &q, [1.0, 0.0], false);
        let want = scaled((0..4).map(|k| q[k] - p[k]).collect());
        for ((w, c), want) in f.force.iter().zip(&f.confidence).zip(&want) {
            assert!((w - want).abs() < 1e-12);
            assert!((c - 1.0).abs() < 1e-12);
        }
        // (0, 1): w = q log(q/p).
        let f = AbReading::new(&xs, &p, &q, [0.0, 1.0], false);
        let want = scaled((0..4).map(|k| q[k] * (q[k] / p[k]).ln()).collect());
        for (w, want) in f.force.iter().zip(&want) {
            assert!((w - want).abs() < 1e-12);
        }
        // Near α = 0 the hardness factor tends to the log-ratio.
        let f0 = AbReading::new(&xs, &p, &q, [0.0, 0.5], false);
        let f1 = AbReading::new(&xs, &p, &q, [1e-7, 0.5], false);
        for (h0, h1) in f0.hardness.iter().zip(&f1.hardness) {
            assert!((h0 - h1).abs() < 1e-6);
        }
        // Exact zeros never become NaN in a drawn series.
        let f = AbReading::new(&xs, &[0.5, 0.5, 0.0, 0.0], &q, [-0.5, 0.5], false);
        assert!(f.hardness[2].is_nan() && f.force[2].is_nan());
        assert_eq!(finite_runs(&f.xs, &f.force).len(), 1);
    }

    #[test]
    fn ab_factors_multiply_to_the_force_weights() {
        // w = q^β (q^α − p^α)/α; at α = 0 the hardness is log(q/p).
        let lp = [0.5f64.ln(), 0.3f64.ln(), 0.2f64.ln()];
        let lq = [0.2f64.ln(), 0.3f64.ln(), 0.5f64.ln()];
        let (c, h) = ab_factors(0.2, 0.7, &lp, &lq);
        for k in 0..3 {
            let (p, q) = (lp[k].exp(), lq[k].exp());
            assert!((c[k] - q.powf(0.7)).abs() < 1e-12);
            assert!((h[k] - (q.powf(0.2) - p.powf(0.2)) / 0.2).abs() < 1e-12);
        }
        let (_, h0) = ab_factors(0.0, 1.0, &lp, &lq);
        assert!((h0[0] - (0.2f64 / 0.5).ln()).abs() < 1e-12);
        assert!(h0[1].abs() < 1e-15);
    }

    #[test]
    fn an_alpha_divergence_slides_along_its_line() {
        // The nearest point of α + β = 1 to (0.9, 0.5) is α = 0.7.
        assert_eq!(nearest_alpha([0.9, 0.5]), 0.7);
        assert_eq!(clamp_ab([3.0, -0.123]), [2.0, -0.12]);
        assert_eq!(ab_exponents(&Divergence::Fkl), Some((1.0, 0.0)));
        assert_eq!(
            ab_of(&Divergence::Alpha { alpha: 0.25 }),
            Some([0.25, 0.75])
        );
    }

    #[test]
    fn csv_reads_back_the_plotted_force() {
        let result = fit_with("minillm-gmm", &["fkl", "ab:alpha=0.2,beta=0.7"], 40);
        let plane = AbPlane::new(&result, &[20]);
        assert_eq!(
            plane.points,
            vec![("ab:alpha=0.2,beta=0.7".to_string(), [0.2, 0.7])]
        );
        let mut csv = String::new();
        plane.write_csv(&mut csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(
            rows[0].join(","),
            "point,kind,alpha,beta,epoch,class,x,teacher,student,confidence,hardness,force"
        );
        assert!(rows.iter().all(|r| r.len() == 12));
        assert_eq!(rows.iter().filter(|r| r[1] == "reference").count(), 3);
        let reading: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == "reading").collect();
        let want = AbReading::new(
            &result.teacher.xs,
            &result.teacher.dist.p,
            crate::toy::analysis::q_at(&result.runs[1], 20),
            [0.2, 0.7],
            true,
        );
        assert_eq!(reading.len(), want.xs.len());
        for (row, (&k, &w)) in reading.iter().zip(want.classes.iter().zip(&want.force)) {
            assert_eq!(row[0], "ab:alpha=0.2,beta=0.7");
            assert_eq!(row[4], "20");
            assert_eq!(row[5].parse::<usize>().unwrap(), k);
            let got: f64 = row[11].parse().unwrap();
            assert!(got == w || (got.is_nan() && w.is_nan()), "{got} vs {w}");
        }
        // Without a run on the plane, the probe is read with the first run's student.
        let result = fit_with("minillm-gmm", &["fkl"], 5);
        let plane = AbPlane::new(&result, &[5]);
        assert!(plane.points.is_empty());
        assert_eq!(plane.readings[0].point, "probe");
        assert_eq!(plane.readings[0].ab, PROBE);
    }
}
