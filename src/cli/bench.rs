//! `kdviz bench`: how long a refit takes, the number that decides whether sliders feel live.
//!
//! Two scenarios, each timed as the GUI will run them (every epoch's q kept): a free-logit student on a
//! 1000-class Zipf teacher, and a Gaussian student on a 2001-point grid under a two-mode mixture; and
//! a long fit, the `minillm-gmm` preset as the app runs it. Refits run on the threads a fit uses
//! ([`crate::toy::parallel`]) and on one.

use super::json::num;
use super::output::Output;
use super::values::whole;
use crate::math::practice::Loss;
use crate::math::{FAMILIES, simd};
use crate::toy::{
    FitSpec, Init, MetricsSpec, OptimizerSpec, SnapshotPlan, StudentSpec, TailShape, TeacherSpec,
    parallel, preset,
};
use clap::Args;
use serde_json::{Value, json};
use std::time::Instant;

pub const EXAMPLES: &str = "\
Examples:
  kdviz bench                       # ns per step for every divergence, and the refit
  kdviz bench --json --repeats 21
  kdviz bench --epochs 100 --classes 32000 --out bench.txt
  kdviz bench --threads 1           # refits on one thread";

/// `kdviz bench`: how long a refit takes, per divergence and for the app's six-divergence refit.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Timings per figure; the median and the minimum are reported
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = whole(1, 1000))]
    pub repeats: usize,
    /// Adam epochs per fit
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = whole(1, 100_000))]
    pub epochs: usize,
    /// Classes of the Zipf teacher of the logits scenario
    #[arg(long, value_name = "V", default_value_t = 1000, value_parser = whole(2, 100_000))]
    pub classes: usize,
    /// Threads of the refits (default: as a fit chooses, one per core up to one per divergence)
    #[arg(long, value_name = "N", value_parser = whole(1, 64))]
    pub threads: Option<usize>,
    /// One line of JSON instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

/// The six divergences of the "refit" figure (the zipf-1000 preset's set).
pub const REFIT_SET: [&str; 6] = [
    "fkl",
    "rkl",
    "akl:mu=0.5",
    "jsd:beta=0.5",
    "ab:alpha=0.2,beta=0.7",
    "srkl:alpha=0.1",
];

/// The long fit: a preset fitted as the app fits it (q kept at every epoch it can).
pub const LONG_FIT: &str = "minillm-gmm";

struct Scenario {
    name: &'static str,
    spec: FitSpec,
}

fn scenarios(classes: usize, grid_points: usize, epochs: usize) -> Vec<Scenario> {
    let logits = FitSpec {
        teacher: TeacherSpec::LongTail {
            classes,
            shape: TailShape::Zipf,
            width: 1.0,
            exponent: 1.1,
            shuffle_seed: None,
            noise: 0.05,
            noise_seed: 7,
        },
        student: StudentSpec::Logits {
            init: Init::Uniform,
            seed: 1,
            logits: Vec::new(),
        },
        optimizer: OptimizerSpec::adam(0.1),
        epochs,
        divergences: Vec::new(),
        snapshots: SnapshotPlan {
            every: true,
            at: Vec::new(),
        },
        metrics: MetricsSpec::default(),
        loss_scale: 1.0,
    };
    let gaussian = FitSpec {
        teacher: TeacherSpec::two_modes(grid_points),
        student: StudentSpec::Gaussian {
            mu: 0.0,
            sigma: 1.0,
        },
        optimizer: OptimizerSpec::adam(0.05),
        ..logits.clone()
    };
    vec![
        Scenario {
            name: "logits",
            spec: logits,
        },
        Scenario {
            name: "gaussian",
            spec: gaussian,
        },
    ]
}

/// Median and minimum of `repeats` timings of `f`, in nanoseconds.
fn time<F: FnMut() -> Result<(), String>>(repeats: usize, mut f: F) -> Result<(f64, f64), String> {
    f()?; // warm caches and the allocator
    let mut ts = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t0 = Instant::now();
        f()?;
        ts.push(t0.elapsed().as_nanos() as f64);
    }
    ts.sort_by(f64::total_cmp);
    Ok((ts[ts.len() / 2], ts[0]))
}

/// A refit timed on `threads` threads and on one.
struct Refit {
    threads: usize,
    /// (median, min) in ns.
    parallel: (f64, f64),
    serial: (f64, f64),
}

impl Refit {
    fn time(spec: &FitSpec, repeats: usize, threads: Option<usize>) -> Result<Refit, String> {
        let n = spec.divergences.len();
        let threads = match threads {
            Some(t) => t.clamp(1, n.max(1)),
            None => {
                let prep = spec.prepare()?;
                parallel::threads_for(n, prep.work(n), parallel::PARALLEL_WORK)
            }
        };
        let parallel = time(repeats, || spec.run_on(Some(threads)).map(|_| ()))?;
        let serial = if threads == 1 {
            parallel
        } else {
            time(repeats, || spec.run_on(Some(1)).map(|_| ()))?
        };
        Ok(Refit {
            threads,
            parallel,
            serial,
        })
    }

    fn json(&self) -> Value {
        let ms = |ns: f64| num(ns / 1e6);
        json!({
            "threads": self.threads,
            "median_ms": ms(self.parallel.0), "min_ms": ms(self.parallel.1),
            "one_thread_median_ms": ms(self.serial.0), "one_thread_min_ms": ms(self.serial.1),
        })
    }

    fn text(&self) -> String {
        let ms = |ns: f64| ns / 1e6;
        format!(
            "{:.2} ms (min {:.2} ms) on {} thread{}; {:.2} ms (min {:.2} ms) on one",
            ms(self.parallel.0),
            ms(self.parallel.1),
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            ms(self.serial.0),
            ms(self.serial.1)
        )
    }
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    let (repeats, epochs, classes) = (args.repeats, args.epochs, args.classes);
    let mut report = Vec::new();
    for sc in scenarios(classes, 2001, epochs) {
        let size = match &sc.spec.teacher {
            TeacherSpec::Mixture { grid, .. } => grid.points,
            _ => classes,
        };
        let prep = sc.spec.prepare()?;
        let mut per_div = Vec::new();
        for f in FAMILIES {
            let div = f.default();
            let (median, min) = time(repeats, || prep.run(&div.into()).map(|_| ()))?;
            per_div.push((div, median / epochs as f64, min / epochs as f64));
        }
        let refit: Vec<Loss> = REFIT_SET
            .iter()
            .map(|s| s.parse().map_err(|e| format!("built-in spec {s}: {e}")))
            .collect::<Result<_, String>>()?;
        let spec = FitSpec {
            divergences: refit,
            ..sc.spec.clone()
        };
        let refit = Refit::time(&spec, repeats, args.threads)?;
        report.push((sc.name, size, per_div, refit));
    }
    let mut long = preset::load(LONG_FIT)?.to_spec()?;
    long.snapshots.every = true; // as the app asks
    let long_refit = Refit::time(&long, repeats, args.threads)?;
    let long_classes = long.prepare()?.teacher.dist.len();
    let long_divs: Vec<String> = long.divergences.iter().map(|d| d.to_string()).collect();
    let simd_name = simd::level().name();
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        let scen: Vec<Value> = report
            .iter()
            .map(|(name, size, per_div, refit)| {
                let mut r = refit.json();
                r["divergences"] = json!(REFIT_SET);
                json!({
                    "scenario": name,
                    "classes": size,
                    "epochs": epochs,
                    "ns_per_step": per_div.iter().map(|(d, med, mn)| json!({
                        "divergence": d.to_string(), "median": num(*med), "min": num(*mn)
                    })).collect::<Vec<_>>(),
                    "refit": r,
                })
            })
            .collect();
        let mut lf = long_refit.json();
        lf["preset"] = json!(LONG_FIT);
        lf["divergences"] = json!(long_divs);
        lf["epochs"] = json!(long.epochs);
        lf["classes"] = json!(long_classes);
        out.line(
            &json!({
                "repeats": repeats, "simd": simd_name, "cores": parallel::cores(),
                "scenarios": scen, "long_fit": lf,
            })
            .to_string(),
        )?;
    } else {
        for (name, size, per_div, refit) in &report {
            out.line(&format!(
                "{name} student, {size} classes, {epochs} Adam epochs (median of {repeats}, {simd_name})"
            ))?;
            for (d, med, mn) in per_div {
                out.line(&format!(
                    "  {:<48} {:>9.0} ns/step  (min {:>7.0})",
                    d.to_string(),
                    med,
                    mn
                ))?;
            }
            out.line(&format!(
                "  refit of {} divergences: {}",
                REFIT_SET.len(),
                refit.text()
            ))?;
        }
        out.line(&format!(
            "long fit, preset {LONG_FIT} ({}; {} epochs, {long_classes} classes): {}",
            long_divs.join(", "),
            long.epochs,
            long_refit.text()
        ))?;
    }
    out.finish()
}
