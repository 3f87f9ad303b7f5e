//! Loss landscape of a Gaussian student: every divergence's value over (μ, log σ) on a grid of cells,
//! its local and global minima, the iso-lines of its colour scale, and the optimiser's path.
//!
//! A map costs `N²` divergence evaluations over the whole teacher grid: [`evaluate_grid`] splits the
//! rows among threads and can be cancelled (the view computes maps in the background).

use super::step_125;
use crate::io::csv::Quoted;
use crate::math::{Divergence, LogDist, Workspace, check_classes, value_and_grad};
use crate::toy::{EpochRecord, FitResult, Student};
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Cells per axis of a map.
pub const CELLS: usize = 64;
/// At most this many divergences get a map.
pub const MAX_PANELS: usize = 12;
/// Number of iso-lines per map.
pub const ISO_LEVELS: usize = 9;

/// The (μ, log σ) window a map covers; samples sit at the cell centres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub mu: [f64; 2],
    pub ls: [f64; 2],
    pub n: usize,
}

impl Window {
    pub fn dmu(&self) -> f64 {
        (self.mu[1] - self.mu[0]) / self.n as f64
    }

    pub fn dls(&self) -> f64 {
        (self.ls[1] - self.ls[0]) / self.n as f64
    }

    pub fn mu_at(&self, i: usize) -> f64 {
        self.mu[0] + (i as f64 + 0.5) * self.dmu()
    }

    pub fn ls_at(&self, j: usize) -> f64 {
        self.ls[0] + (j as f64 + 0.5) * self.dls()
    }

    /// The cell holding a point, if it is inside the window.
    pub fn cell_of(&self, mu: f64, ls: f64) -> Option<(usize, usize)> {
        let i = ((mu - self.mu[0]) / self.dmu()).floor();
        let j = ((ls - self.ls[0]) / self.dls()).floor();
        let n = self.n as f64;
        (i >= 0.0 && j >= 0.0 && i < n && j < n).then_some((i as usize, j as usize))
    }

    /// The centre `[μ, log σ]` of cell `idx` (row `idx / n`, column `idx % n`).
    pub fn point(&self, idx: usize) -> [f64; 2] {
        [self.mu_at(idx % self.n), self.ls_at(idx / self.n)]
    }

    /// The window of a fit: the teacher's mass and the paths of its first [`MAX_PANELS`] runs,
    /// rounded outward so that small changes of the path (a new learning rate) keep the same window.
    pub fn for_result(result: &FitResult) -> Window {
        let xs = &result.teacher.xs;
        let p = &result.teacher.dist.p;
        let (x0, x1) = (xs[0], xs[xs.len() - 1]);
        let span = (x1 - x0).abs().max(1e-9);
        let (a, b) = mass_range(xs, p, 1e-3);
        let width = (b - a).max(0.05 * span);
        let mut mu = [a - 0.15 * width, b + 0.15 * width];
        let mut ls = [(width / 50.0).ln(), (width / 1.5).ln()];
        let mut path_mu = [f64::INFINITY, f64::NEG_INFINITY];
        let mut path_ls = [f64::INFINITY, f64::NEG_INFINITY];
        for run in result.runs.iter().take(MAX_PANELS) {
            for [m, l] in path(&run.history) {
                path_mu = [path_mu[0].min(m), path_mu[1].max(m)];
                path_ls = [path_ls[0].min(l), path_ls[1].max(l)];
            }
        }
        if path_mu[0] <= path_mu[1] {
            let pad = 0.05 * (mu[1] - mu[0]);
            mu = [mu[0].min(path_mu[0] - pad), mu[1].max(path_mu[1] + pad)];
            let pad = 0.05 * (ls[1] - ls[0]);
            ls = [ls[0].min(path_ls[0] - pad), ls[1].max(path_ls[1] + pad)];
        }
        // Keep the mean on the grid, and σ between a bin and the grid's span.
        let bin = if xs.len() > 1 {
            span / (xs.len() - 1) as f64
        } else {
            1.0
        };
        mu = [mu[0].max(x0.min(x1)), mu[1].min(x0.max(x1))];
        ls = [ls[0].max(bin.ln()), ls[1].min(span.ln())];
        let step = step_125(width / 20.0, 0.0);
        mu = [(mu[0] / step).floor() * step, (mu[1] / step).ceil() * step];
        ls = [(ls[0] / 0.1).floor() * 0.1, (ls[1] / 0.1).ceil() * 0.1];
        if mu[1] - mu[0] < 1e-9 {
            mu = [mu[0] - 0.5, mu[0] + 0.5];
        }
        if ls[1] - ls[0] < 1e-9 {
            ls = [ls[0] - 0.5, ls[0] + 0.5];
        }
        Window { mu, ls, n: CELLS }
    }
}

/// The positions between which the teacher holds all but `tail` of its mass (half on each side).
pub fn mass_range(xs: &[f64], p: &[f64], tail: f64) -> (f64, f64) {
    let total: f64 = p.iter().sum();
    let (mut lo, mut hi) = (xs[0], xs[xs.len() - 1]);
    let mut acc = 0.0;
    for (&x, &pk) in xs.iter().zip(p) {
        acc += pk;
        if acc >= 0.5 * tail * total {
            lo = x;
            break;
        }
    }
    acc = 0.0;
    for (&x, &pk) in xs.iter().zip(p).rev() {
        acc += pk;
        if acc >= 0.5 * tail * total {
            hi = x;
            break;
        }
    }
    if lo > hi { (hi, lo) } else { (lo, hi) }
}

/// A record's `[μ, log σ]`, when it has a finite μ and a positive finite σ.
pub fn path_point(r: &EpochRecord) -> Option<[f64; 2]> {
    match (r.mu, r.sigma) {
        (Some(m), Some(s)) if m.is_finite() && s.is_finite() && s > 0.0 => Some([m, s.ln()]),
        _ => None,
    }
}

/// The run's `[μ, log σ]` over the epochs (records without a Gaussian student left out).
pub fn path(history: &[EpochRecord]) -> Vec<[f64; 2]> {
    history.iter().filter_map(path_point).collect()
}

/// The divergence the map shows for a run: TAID with a schedule uses its fixed starting t.
pub fn landscape_div(d: &Divergence) -> Divergence {
    match *d {
        Divergence::Taid {
            schedule: Some(s), ..
        } => Divergence::Taid {
            t: s.t_start,
            schedule: None,
        },
        other => other,
    }
}

/// Threads for a map: all but one of the machine's, at most 8.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .clamp(1, 8)
}

/// D at every cell centre, row `j` (log σ) after row: `values[j * n + i]`; `None` when cancelled.
/// Rows are split among `threads` threads; `done` counts the evaluations (progress).
pub fn evaluate_grid(
    div: &Divergence,
    teacher: &LogDist,
    xs: &[f64],
    w: &Window,
    threads: usize,
    cancel: &AtomicBool,
    done: &AtomicUsize,
) -> Option<Vec<f64>> {
    let n = w.n;
    let mut values = vec![f64::NAN; n * n];
    let rows_per = n.div_ceil(threads.max(1));
    let ok = std::thread::scope(|s| {
        let handles: Vec<_> = values
            .chunks_mut(rows_per * n)
            .enumerate()
            .map(|(c, out)| {
                s.spawn(move || {
                    let student = Student::gaussian(xs.to_vec());
                    let len = xs.len();
                    let mut z = vec![0.0; len];
                    let mut q = LogDist::zeros(len);
                    let mut grad = vec![0.0; len];
                    let mut ws = Workspace::default();
                    for (r, row) in out.chunks_mut(n).enumerate() {
                        if cancel.load(Ordering::Relaxed) {
                            return false;
                        }
                        let ls = w.ls_at(c * rows_per + r);
                        for (i, v) in row.iter_mut().enumerate() {
                            student.logits(&[w.mu_at(i), ls], &mut z);
                            q.set_logits(&z);
                            *v = value_and_grad(div, teacher, &q, &mut grad, &mut ws);
                        }
                        done.fetch_add(n, Ordering::Relaxed);
                    }
                    true
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    ok.then_some(values)
}

/// One divergence's landscape: the values, their minima and the colour scale's iso-lines.
#[derive(Debug, Clone, PartialEq)]
pub struct LandscapeMap {
    /// Row `j` (log σ) after row: `values[j * n + i]`.
    pub values: Vec<f64>,
    /// Index of the smallest finite cell.
    pub global: Option<usize>,
    /// Interior cells strictly below their 8 neighbours.
    pub minima: Vec<usize>,
    pub min: f64,
    pub max: f64,
    /// The colour scale is `log10(D − min + delta)`.
    pub delta: f64,
    /// The colour scale per cell (NaN where D is infinite), from `lo` to `hi`.
    pub field: Vec<f64>,
    pub lo: f64,
    pub hi: f64,
    /// Iso-lines of the colour scale, as polylines, each with its level's position in (0, 1).
    pub iso: Vec<(f64, Vec<[f64; 2]>)>,
    /// Cells where D is infinite (a teacher with zeros under RKL, for example).
    pub infinite: usize,
}

impl LandscapeMap {
    /// Minima, colour field and iso-lines of a finished grid of values.
    pub fn new(values: Vec<f64>, w: &Window) -> Self {
        let n = w.n;
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let infinite = values.len() - finite.len();
        let global = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, _)| k);
        let min = global.map_or(f64::NAN, |k| values[k]);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let range = max - min;
        // δ: the 2nd percentile of D − min, so that the single lowest cell does not stretch the scale.
        let delta = {
            let mut gaps: Vec<f64> = finite.iter().map(|v| v - min).collect();
            gaps.sort_by(f64::total_cmp);
            let q = gaps.get(gaps.len() / 50).copied().unwrap_or(0.0);
            q.max(1e-12 * range.max(0.0)).max(1e-300)
        };
        let field: Vec<f64> = values
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    (v - min + delta).log10()
                } else {
                    f64::NAN
                }
            })
            .collect();
        let (lo, hi) = ((delta).log10(), (range.max(0.0) + delta).log10());
        let tol = 1e-10 * range.max(1e-300);
        let mut minima = Vec::new();
        for j in 1..n.saturating_sub(1) {
            for i in 1..n - 1 {
                let v = values[j * n + i];
                if !v.is_finite() {
                    continue;
                }
                let lowest = (-1i64..=1).all(|dj| {
                    (-1i64..=1).all(|di| {
                        if di == 0 && dj == 0 {
                            return true;
                        }
                        let nb = values[(j as i64 + dj) as usize * n + (i as i64 + di) as usize];
                        !nb.is_finite() || v < nb - tol
                    })
                });
                if lowest {
                    minima.push(j * n + i);
                }
            }
        }
        let mut iso = Vec::new();
        if hi - lo > 1e-9 {
            for l in 1..=ISO_LEVELS {
                let t = l as f64 / (ISO_LEVELS + 1) as f64;
                iso.extend(
                    iso_lines(&field, w, lo + (hi - lo) * t)
                        .into_iter()
                        .map(|c| (t, c)),
                );
            }
        }
        LandscapeMap {
            values,
            global,
            minima,
            min,
            max,
            delta,
            field,
            lo,
            hi,
            iso,
            infinite,
        }
    }

    /// Cell `k`'s position on the colour scale, in [0, 1]; `None` where D is infinite.
    pub fn shade(&self, k: usize) -> Option<f64> {
        let f = self.field[k];
        f.is_finite().then(|| {
            if self.hi > self.lo {
                (f - self.lo) / (self.hi - self.lo)
            } else {
                0.0
            }
        })
    }

    /// The position and value of the minimum near cell `k`, refined by a parabola through the cell
    /// and its two neighbours along each axis (the cell centre on the border or on a flat spot).
    pub fn refined(&self, w: &Window, k: usize) -> ([f64; 2], f64) {
        let n = w.n;
        let (i, j) = (k % n, k / n);
        let f0 = self.values[k];
        let mut at = w.point(k);
        let mut value = f0;
        let mut fit = |fm: f64, fp: f64, step: f64, coord: &mut f64| {
            let curv = fm - 2.0 * f0 + fp;
            if fm.is_finite() && fp.is_finite() && curv > 0.0 {
                let d = 0.5 * (fm - fp) / curv;
                if d.abs() <= 0.5 {
                    *coord += d * step;
                    value -= 0.125 * (fm - fp) * (fm - fp) / curv;
                }
            }
        };
        if i > 0 && i + 1 < n {
            fit(self.values[k - 1], self.values[k + 1], w.dmu(), &mut at[0]);
        }
        if j > 0 && j + 1 < n {
            fit(self.values[k - n], self.values[k + n], w.dls(), &mut at[1]);
        }
        (at, value.min(f0))
    }
}

/// Marching squares over the cell centres, segments joined into polylines.
pub fn iso_lines(field: &[f64], w: &Window, level: f64) -> Vec<Vec<[f64; 2]>> {
    let n = w.n;
    // Edge keys: horizontal edge from (i, j) to (i+1, j) is 2·(j·n + i); vertical (i, j)–(i, j+1) is +1.
    let h_edge = |i: usize, j: usize| 2 * (j * n + i);
    let v_edge = |i: usize, j: usize| 2 * (j * n + i) + 1;
    let at = |i: usize, j: usize| field[j * n + i];
    let cross = |i0: usize, j0: usize, i1: usize, j1: usize| -> [f64; 2] {
        let (a, b) = (at(i0, j0), at(i1, j1));
        let t = if (b - a).abs() > 0.0 {
            ((level - a) / (b - a)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let (x0, y0) = (w.mu_at(i0), w.ls_at(j0));
        let (x1, y1) = (w.mu_at(i1), w.ls_at(j1));
        [x0 + t * (x1 - x0), y0 + t * (y1 - y0)]
    };
    let mut segs: Vec<(usize, usize)> = Vec::new();
    let mut point_of: std::collections::HashMap<usize, [f64; 2]> = Default::default();
    for j in 0..n - 1 {
        for i in 0..n - 1 {
            let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            if !(a.is_finite() && b.is_finite() && c.is_finite() && d.is_finite()) {
                continue;
            }
            let case = (a > level) as u8
                | ((b > level) as u8) << 1
                | ((c > level) as u8) << 2
                | ((d > level) as u8) << 3;
            let bottom = h_edge(i, j);
            let top = h_edge(i, j + 1);
            let left = v_edge(i, j);
            let right = v_edge(i + 1, j);
            let mut add = |e0: usize, e1: usize| {
                for e in [e0, e1] {
                    point_of.entry(e).or_insert_with(|| {
                        if e == bottom {
                            cross(i, j, i + 1, j)
                        } else if e == top {
                            cross(i, j + 1, i + 1, j + 1)
                        } else if e == left {
                            cross(i, j, i, j + 1)
                        } else {
                            cross(i + 1, j, i + 1, j + 1)
                        }
                    });
                }
                segs.push((e0, e1));
            };
            let centre_high = 0.25 * (a + b + c + d) > level;
            match case {
                0 | 15 => {}
                1 | 14 => add(left, bottom),
                2 | 13 => add(bottom, right),
                3 | 12 => add(left, right),
                4 | 11 => add(right, top),
                6 | 9 => add(bottom, top),
                7 | 8 => add(left, top),
                5 => {
                    // a and c high.
                    if centre_high {
                        add(left, top);
                        add(bottom, right);
                    } else {
                        add(left, bottom);
                        add(right, top);
                    }
                }
                10 => {
                    // b and d high.
                    if centre_high {
                        add(left, bottom);
                        add(right, top);
                    } else {
                        add(left, top);
                        add(bottom, right);
                    }
                }
                _ => {}
            }
        }
    }
    // Join segments sharing an edge point.
    let mut by_edge: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (s, &(e0, e1)) in segs.iter().enumerate() {
        by_edge.entry(e0).or_default().push(s);
        by_edge.entry(e1).or_default().push(s);
    }
    let mut used = vec![false; segs.len()];
    let mut lines = Vec::new();
    // Open chains first (start at an edge with one segment), then closed loops.
    let mut starts: Vec<usize> = (0..segs.len())
        .filter(|&s| {
            let (e0, e1) = segs[s];
            by_edge[&e0].len() == 1 || by_edge[&e1].len() == 1
        })
        .collect();
    starts.extend(0..segs.len());
    for s0 in starts {
        if used[s0] {
            continue;
        }
        let (e0, e1) = segs[s0];
        let (mut edge, first) = if by_edge[&e1].len() == 1 {
            (e0, e1)
        } else {
            (e1, e0)
        };
        used[s0] = true;
        let mut line = vec![point_of[&first], point_of[&edge]];
        while let Some(&next) = by_edge[&edge].iter().find(|&&s| !used[s]) {
            used[next] = true;
            let (a, b) = segs[next];
            edge = if a == edge { b } else { a };
            line.push(point_of[&edge]);
        }
        if line.len() >= 2 {
            lines.push(line);
        }
    }
    lines
}

/// One divergence's panel: its map (or why it has none) and the run's path.
#[derive(Debug, Clone, PartialEq)]
pub struct LandscapePanel {
    /// The run's spec (the map is of [`landscape_div`] of it).
    pub name: String,
    pub map: Result<LandscapeMap, String>,
    /// `(epoch, [μ, log σ], D)` of every record with a Gaussian student.
    pub path: Vec<(usize, [f64; 2], f64)>,
}

/// Every landscape the view draws for one fit, computed at once (the figure and its CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct LandscapeGrid {
    pub window: Window,
    pub panels: Vec<LandscapePanel>,
    /// The epochs marked as "now" on the paths (clamped to the fit).
    pub epochs: Vec<usize>,
}

impl LandscapeGrid {
    /// The maps of the first [`MAX_PANELS`] runs of a fit with a Gaussian student, on `threads`
    /// threads; an error for a fit without one.
    pub fn new(result: &FitResult, epochs: &[usize], threads: usize) -> Result<Self, String> {
        let gaussian = result
            .runs
            .first()
            .and_then(|r| r.history.first())
            .is_some_and(|r| r.mu.is_some());
        if !gaussian {
            return Err(
                "the landscape needs a Gaussian student (student kind = \"gaussian\"); this fit's \
                 student has free logits"
                    .into(),
            );
        }
        let window = Window::for_result(result);
        let teacher = &result.teacher.dist;
        let never = AtomicBool::new(false);
        let panels = result
            .runs
            .iter()
            .take(MAX_PANELS)
            .map(|run| {
                let div = landscape_div(&run.divergence.family);
                let map = check_classes(&div, teacher.len()).and_then(|()| {
                    let values = evaluate_grid(
                        &div,
                        teacher,
                        &result.teacher.xs,
                        &window,
                        threads,
                        &never,
                        &AtomicUsize::new(0),
                    )
                    .ok_or("cancelled")?;
                    Ok(LandscapeMap::new(values, &window))
                });
                LandscapePanel {
                    name: run.divergence.to_string(),
                    map,
                    path: run
                        .history
                        .iter()
                        .filter_map(|r| path_point(r).map(|at| (r.epoch, at, r.objective)))
                        .collect(),
                }
            })
            .collect();
        Ok(LandscapeGrid {
            window,
            panels,
            epochs: epochs
                .iter()
                .map(|&e| super::clamp_epoch(result, e))
                .collect(),
        })
    }

    /// `divergence,kind,epoch,mu,log_sigma,value`: kind `grid` for every cell centre (value D, the
    /// epoch empty), `global_min` and `local_min` at the refined minima (value the refined D),
    /// `path` per epoch and `now` at the figure's epochs (value the recorded objective).
    pub fn write_csv(&self, out: &mut impl Write) -> fmt::Result {
        writeln!(out, "divergence,kind,epoch,mu,log_sigma,value")?;
        let w = &self.window;
        for panel in &self.panels {
            let name = Quoted(&panel.name);
            if let Ok(map) = &panel.map {
                for (k, v) in map.values.iter().enumerate() {
                    let [mu, ls] = w.point(k);
                    writeln!(out, "{name},grid,,{mu},{ls},{v}")?;
                }
                let minima = map.global.iter().map(|&k| ("global_min", k)).chain(
                    map.minima
                        .iter()
                        .filter(|&&k| Some(k) != map.global)
                        .map(|&k| ("local_min", k)),
                );
                for (kind, k) in minima {
                    let ([mu, ls], v) = map.refined(w, k);
                    writeln!(out, "{name},{kind},,{mu},{ls},{v}")?;
                }
            }
            for &(e, [mu, ls], v) in &panel.path {
                writeln!(out, "{name},path,{e},{mu},{ls},{v}")?;
            }
            for &now in &self.epochs {
                if let Some(&(e, [mu, ls], v)) = panel.path.iter().find(|p| p.0 == now) {
                    writeln!(out, "{name},now,{e},{mu},{ls},{v}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::io::csv::parse_csv;
    use crate::toy::analysis::fit_preset;

    /// The window and the grid values of one run, computed synchronously (the view's tests too).
    pub(crate) fn grid_of(result: &FitResult, run: usize) -> (Window, Vec<f64>) {
        let w = Window::for_result(result);
        let values = evaluate_grid(
            &landscape_div(&result.runs[run].divergence.family),
            &result.teacher.dist,
            &result.teacher.xs,
            &w,
            2,
            &AtomicBool::new(false),
            &AtomicUsize::new(0),
        )
        .unwrap();
        (w, values)
    }

    /// The window and the map of one run.
    fn map_of(result: &FitResult, run: usize) -> (Window, LandscapeMap) {
        let (w, values) = grid_of(result, run);
        (w, LandscapeMap::new(values, &w))
    }

    /// True when `(mu, sigma)` lies within `cells` cells of the map point `k`.
    pub(crate) fn near(w: &Window, k: usize, mu: f64, sigma: f64, cells: f64) -> bool {
        let [m, ls] = w.point(k);
        (m - mu).abs() <= cells * w.dmu() && (ls - sigma.ln()).abs() <= cells * w.dls()
    }

    #[test]
    fn fkl_and_rkl_global_minima_match_the_spec() {
        let result = fit_preset("minillm-gmm", 400);
        let (w, fkl) = map_of(&result, 0);
        let g = fkl.global.unwrap();
        assert!(
            near(&w, g, -1.0, 2.427, 1.5),
            "FKL minimum at {:?}, window {w:?}",
            w.point(g)
        );
        assert!(fkl.minima.contains(&g), "an interior minimum");
        // Refined between the cells, the minimum is the closed-form optimum.
        let ([mu, ls], _) = fkl.refined(&w, g);
        assert!((mu + 1.0).abs() < 0.03, "{mu}");
        assert!((ls.exp() - 2.427).abs() < 0.03, "{}", ls.exp());
        // The grid's FKL minimum equals the closed-form optimum's value to within a cell's curvature.
        assert!(fkl.min > 0.0 && fkl.min.is_finite());
        let (w, rkl) = map_of(&result, 1);
        let g = rkl.global.unwrap();
        assert!(
            near(&w, g, -2.495, 0.808, 1.5),
            "RKL minimum at {:?}",
            w.point(g)
        );
        // RKL is mode seeking: the lighter right mode is a second local minimum.
        assert!(
            rkl.minima.iter().any(|&k| near(&w, k, 2.5, 0.8, 2.0)),
            "minima {:?}",
            rkl.minima.iter().map(|&k| w.point(k)).collect::<Vec<_>>()
        );
        assert_eq!(rkl.infinite, 0);
        assert!((0..w.n * w.n).all(|k| rkl.shade(k).is_some()));
    }

    #[test]
    fn rkl_has_the_broad_local_minimum_between_close_modes() {
        let result = fit_preset("gmm-rkl-local-minimum", 300);
        let (w, rkl) = map_of(&result, 1);
        let pts: Vec<[f64; 2]> = rkl.minima.iter().map(|&k| w.point(k)).collect();
        assert!(near(&w, rkl.global.unwrap(), -1.998, 0.604, 1.5), "{pts:?}");
        assert!(
            rkl.minima.iter().any(|&k| near(&w, k, -0.313, 1.762, 2.0)),
            "{pts:?}"
        );
        // FKL has a single minimum, the moment match (-0.4, 2.049).
        let (w, fkl) = map_of(&result, 0);
        assert_eq!(fkl.minima.len(), 1);
        assert!(near(&w, fkl.global.unwrap(), -0.4, 2.049, 1.5));
    }

    #[test]
    fn window_covers_the_teacher_and_every_path() {
        let result = fit_preset("minillm-gmm", 400);
        let w = Window::for_result(&result);
        assert!(w.mu[0] <= -4.5 && w.mu[1] >= 4.0, "{w:?}");
        for run in &result.runs {
            for r in &run.history {
                let (m, s) = (r.mu.unwrap(), r.sigma.unwrap());
                assert!(w.cell_of(m, s.ln()).is_some(), "{m} {s} outside {w:?}");
            }
        }
        assert!(w.ls[0] < 0.808f64.ln() && w.ls[1] > 2.427f64.ln());
    }

    #[test]
    fn iso_lines_of_a_bowl_are_closed_rings() {
        let w = Window {
            mu: [-1.0, 1.0],
            ls: [-1.0, 1.0],
            n: 32,
        };
        let field: Vec<f64> = (0..w.n * w.n)
            .map(|k| {
                let [x, y] = w.point(k);
                x * x + y * y
            })
            .collect();
        let lines = iso_lines(&field, &w, 0.25);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l.first(), l.last(), "closed");
        for p in l {
            assert!((p[0].hypot(p[1]) - 0.5).abs() < 0.01, "{p:?}");
        }
    }

    #[test]
    fn csv_minimum_is_the_maps_global_minimum() {
        let result = fit_preset("minillm-gmm", 200);
        let grid = LandscapeGrid::new(&result, &[150], 2).unwrap();
        let mut csv = String::new();
        grid.write_csv(&mut csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(
            rows[0].join(","),
            "divergence,kind,epoch,mu,log_sigma,value"
        );
        assert!(rows.iter().all(|r| r.len() == 6));
        let num = |s: &str| s.parse::<f64>().unwrap();
        for panel in &grid.panels {
            let map = panel.map.as_ref().unwrap();
            let grid_rows: Vec<&Vec<String>> = rows
                .iter()
                .filter(|r| r[0] == panel.name && r[1] == "grid")
                .collect();
            assert_eq!(grid_rows.len(), CELLS * CELLS);
            let min = grid_rows
                .iter()
                .map(|r| num(&r[5]))
                .fold(f64::INFINITY, f64::min);
            assert_eq!(min, map.min, "{}", panel.name);
            // The global minimum's row is the refined one the view reports.
            let global: Vec<&Vec<String>> = rows
                .iter()
                .filter(|r| r[0] == panel.name && r[1] == "global_min")
                .collect();
            assert_eq!(global.len(), 1);
            let ([mu, ls], v) = map.refined(&grid.window, map.global.unwrap());
            assert_eq!(
                [num(&global[0][3]), num(&global[0][4]), num(&global[0][5])],
                [mu, ls, v]
            );
            assert!(v <= map.min);
            let path = rows
                .iter()
                .filter(|r| r[0] == panel.name && r[1] == "path")
                .count();
            assert_eq!(path, 201);
            let now: Vec<&Vec<String>> = rows
                .iter()
                .filter(|r| r[0] == panel.name && r[1] == "now")
                .collect();
            assert_eq!(now.len(), 1);
            assert_eq!(now[0][2], "150");
        }
        // A fit without a Gaussian student has no landscape.
        let logits = fit_preset("akl-fig3-longtail", 2);
        assert!(
            LandscapeGrid::new(&logits, &[1], 2)
                .unwrap_err()
                .contains("Gaussian")
        );
    }
}
