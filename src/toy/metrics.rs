//! Per-epoch measurements of how far the student is from the teacher, on the head and on the tail.

use crate::io::csv::{Opt, Quoted};
use crate::math::akl;
use crate::math::kl::kl_term;
use crate::math::range::short;
use crate::math::simd::{Simd, V, map_sum, multiversion};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where the head ends and the far tail begins; the TOML `[metrics]` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSpec {
    /// AKL head: top-1 ∪ {cumulative teacher mass ≤ μ} (independent of any AKL divergence's own μ).
    pub mu: f64,
    /// Far tail = teacher classes ranked at or after this rank (descending probability), e.g. 37 for the
    /// AKL figure-3 teacher. When absent, the lowest-probability classes holding at most
    /// `far_tail_mass` of the teacher's mass.
    pub far_tail_rank: Option<usize>,
    pub far_tail_mass: f64,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec {
            mu: 0.5,
            far_tail_rank: None,
            far_tail_mass: 0.005,
        }
    }
}

impl MetricsSpec {
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.mu) {
            return Err(format!(
                "metrics mu={}; expected a number in [0, 1)",
                short(self.mu)
            ));
        }
        if !(0.0..=1.0).contains(&self.far_tail_mass) {
            return Err(format!(
                "metrics far_tail_mass={}; expected a number in [0, 1]",
                short(self.far_tail_mass)
            ));
        }
        Ok(())
    }
}

/// Class masks derived from the teacher once per fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    pub head: Vec<bool>,
    pub far_tail: Vec<bool>,
    /// Teacher classes in descending order of probability (ties by index).
    pub order: Vec<usize>,
    /// `head` and `far_tail` as weights (1 in, 0 out), for the vectorised [`measure`].
    weights: [Vec<f64>; 2],
}

impl Regions {
    pub fn new(p: &[f64], spec: &MetricsSpec) -> Self {
        let order = akl::descending_order(p);
        let mut head = Vec::new();
        akl::head_mask_from_order(p, &order, spec.mu, &mut head);
        let mut far_tail = vec![false; p.len()];
        match spec.far_tail_rank {
            Some(rank) => {
                for &k in order.iter().skip(rank) {
                    far_tail[k] = true;
                }
            }
            None => {
                let mut mass = 0.0;
                for &k in order.iter().rev() {
                    mass += p[k];
                    if mass > spec.far_tail_mass || head[k] {
                        break;
                    }
                    far_tail[k] = true;
                }
            }
        }
        let weight = |m: &[bool]| m.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
        Regions {
            weights: [weight(&head), weight(&far_tail)],
            head,
            far_tail,
            order,
        }
    }

    /// The rank at which the far tail starts (number of classes before it).
    pub fn far_tail_start(&self) -> usize {
        self.far_tail.len() - self.far_tail.iter().filter(|&&f| f).count()
    }
}

/// Everything recorded at one epoch (epoch 0 = the initial student).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// The divergence being minimised (true divergence value, not a cross-entropy).
    pub objective: f64,
    pub kl_pq: f64,
    pub kl_qp: f64,
    pub tvd: f64,
    /// `Σ_head |p − q|` and `Σ_tail |p − q|` with the AKL mask of [`MetricsSpec::mu`].
    pub head_gap: f64,
    pub tail_gap: f64,
    /// `Σ_far tail |p − q|`.
    pub far_tail: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// A 2-D Gaussian student's mean and covariance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cov: Option<[[f64; 2]; 2]>,
    /// TAID's interpolation parameter at this epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
}

/// Which columns a history CSV has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryColumns {
    /// The metrics: `divergence,epoch,objective,kl_pq,kl_qp,tvd,head_gap,tail_gap,far_tail` (the
    /// figure CSV's second table).
    Metrics,
    /// The metrics and the student's parameters: `…,mu,sigma,t,mean1,mean2,cov11,cov12,cov22`
    /// (empty where absent), as
    /// `kdviz fit --csv` prints.
    WithParameters,
}

impl EpochRecord {
    /// Every run's history, one row per epoch: `runs` are (divergence, history) pairs.
    pub fn write_csv<'a, D: fmt::Display + 'a>(
        runs: impl IntoIterator<Item = (&'a D, &'a [EpochRecord])>,
        columns: HistoryColumns,
        out: &mut impl fmt::Write,
    ) -> fmt::Result {
        out.write_str("divergence,epoch,objective,kl_pq,kl_qp,tvd,head_gap,tail_gap,far_tail")?;
        let params = columns == HistoryColumns::WithParameters;
        out.write_str(if params {
            ",mu,sigma,t,mean1,mean2,cov11,cov12,cov22\n"
        } else {
            "\n"
        })?;
        for (div, history) in runs {
            let name = Quoted(&div.to_string()).to_string();
            for r in history {
                write!(
                    out,
                    "{name},{},{},{},{},{},{},{},{}",
                    r.epoch,
                    r.objective,
                    r.kl_pq,
                    r.kl_qp,
                    r.tvd,
                    r.head_gap,
                    r.tail_gap,
                    r.far_tail
                )?;
                if params {
                    write!(out, ",{},{},{}", Opt(r.mu), Opt(r.sigma), Opt(r.t))?;
                    let m = r.mean;
                    let c = r.cov;
                    write!(
                        out,
                        ",{},{},{},{},{}",
                        Opt(m.map(|m| m[0])),
                        Opt(m.map(|m| m[1])),
                        Opt(c.map(|c| c[0][0])),
                        Opt(c.map(|c| c[0][1])),
                        Opt(c.map(|c| c[1][1]))
                    )?;
                }
                out.write_char('\n')?;
            }
        }
        Ok(())
    }
}

/// KL(p‖q), KL(q‖p), TVD and the gaps, in one pass over the classes.
pub fn measure(lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], regions: &Regions) -> [f64; 6] {
    let [head, far] = &regions.weights;
    finish(measure_sums(lp, p, lq, q, head, far))
}

multiversion! {
    fn measure_sums[s](lp: &[f64], p: &[f64], lq: &[f64], q: &[f64], head: &[f64], far: &[f64]) -> [f64; 6] {
        map_sum(s, [lp, p, lq, q, head, far], [], #[inline(always)] |[lp, p, lq, q, h, f]| {
            ([], terms(lp, p, lq, q, h, f))
        })
    }
}

/// Per-class terms of [`measure`]'s sums, given the head and far-tail weights `h`, `f` (1 in, 0 out).
#[inline(always)]
pub(crate) fn terms<S: Simd>(lp: V<S>, p: V<S>, lq: V<S>, q: V<S>, h: V<S>, f: V<S>) -> [V<S>; 6] {
    let e = (p - q).abs();
    [
        kl_term(lp, p, lq),
        kl_term(lq, q, lp),
        e,
        h * e,
        (1.0 - h) * e,
        f * e,
    ]
}

/// [`measure`]'s result from the sums of [`terms`] (TVD is half the L1 distance).
pub(crate) fn finish(sums: [f64; 6]) -> [f64; 6] {
    let [kl_pq, kl_qp, l1, head, tail, far] = sums;
    [kl_pq, kl_qp, 0.5 * l1, head, tail, far]
}

impl Regions {
    /// The head and far-tail masks as weights (1 in, 0 out).
    pub(crate) fn weights(&self) -> [&[f64]; 2] {
        [&self.weights[0], &self.weights[1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::csv::parse_csv;
    use crate::toy::analysis::fit_preset;

    #[test]
    fn history_csv_reads_back() {
        let result = fit_preset("taid-schedule", 20);
        let runs = || {
            result
                .runs
                .iter()
                .map(|r| (&r.divergence, r.history.as_slice()))
        };
        let mut metrics = String::new();
        EpochRecord::write_csv(runs(), HistoryColumns::Metrics, &mut metrics).unwrap();
        let mut full = String::new();
        EpochRecord::write_csv(runs(), HistoryColumns::WithParameters, &mut full).unwrap();
        let (metrics, full) = (parse_csv(&metrics), parse_csv(&full));
        assert_eq!(
            metrics[0].join(","),
            "divergence,epoch,objective,kl_pq,kl_qp,tvd,head_gap,tail_gap,far_tail"
        );
        assert_eq!(
            full[0].join(","),
            format!(
                "{},mu,sigma,t,mean1,mean2,cov11,cov12,cov22",
                metrics[0].join(",")
            )
        );
        assert_eq!(metrics.len(), 1 + result.runs.len() * 21);
        for (m, f) in metrics.iter().zip(&full) {
            assert_eq!(m[..], f[..9]);
            assert_eq!(f.len(), 17);
        }
        // The TAID run with a schedule: its spec holds commas, its t is recorded.
        let run = 1;
        let row = &full[1 + run * 21 + 7];
        assert_eq!(row[0], result.runs[run].divergence.to_string());
        let r = &result.runs[run].history[7];
        assert_eq!(row[2].parse::<f64>().unwrap(), r.objective);
        assert_eq!(row[11].parse::<f64>().ok(), r.t);
        assert_eq!(row[9], "", "a logits student has no μ");
    }
}
