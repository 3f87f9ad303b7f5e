//! `kdviz fit`: run a preset or a TOML config and print the per-epoch history.

use super::json::{num, nums, opt};
use super::output::{FmtSink, Output};
use super::progress;
use super::values::{EpochList, LossSpec, Sweep, apply_sweep, epoch_list, loss_spec, sweep, whole};
use crate::toy::fit::MAX_EPOCHS;
use crate::toy::{EpochRecord, FitConfig, FitResult, HistoryColumns, preset};
use clap::Args;
use serde_json::{Value, json};

pub const EXAMPLES: &str = "\
Examples:
  kdviz fit --preset akl-fig3-longtail                  # a table at the snapshot epochs
  kdviz fit --preset akl-fig3-longtail --json           # the full history
  kdviz fit --preset minillm-gmm --div fkl --div rkl --epochs 1000 --csv --out minillm.csv
  kdviz fit --preset zipf-1000 --div fkl:support=topk-tail,k=4 --sweep k=1,4,16,full
  kdviz fit --config my-fit.toml --snapshots 1,5,10,300 --json --out run.json";

/// `--preset NAME` or `--config FILE.toml`: one of the two (fit and figure).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ConfigSource {
    /// A built-in preset (kdviz presets lists them)
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// A TOML config file (the format of assets/presets/ and of the app's "save config")
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<String>,
}

impl ConfigSource {
    /// The config named by `--preset` or `--config`.
    pub fn load(&self) -> Result<FitConfig, String> {
        match (&self.preset, &self.config) {
            (Some(name), _) => preset::load(name),
            (None, Some(path)) => FitConfig::from_file(std::path::Path::new(path)),
            // clap's required group makes this unreachable; say what is missing all the same.
            (None, None) => Err(
                "--preset NAME or --config FILE.toml is missing (kdviz presets lists the names)"
                    .into(),
            ),
        }
    }

    /// A problem of the config's `[view]` table (reported by the views) prefixed with where it
    /// is: the file and line of `--config`, or the preset's name.
    pub fn locate(&self, problem: &str) -> String {
        match (&self.preset, &self.config) {
            (Some(name), _) => format!("preset {name}: {problem}"),
            (None, Some(path)) => {
                let line = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| FitConfig::view_line(&text, problem));
                match line {
                    Some(line) => format!("{path} line {line}: {problem}"),
                    None => format!("{path}: {problem}"),
                }
            }
            (None, None) => problem.to_string(),
        }
    }
}

/// `kdviz fit`: every divergence of a preset or config from the same initial student.
#[derive(Debug, Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// Replaces the config's divergences (repeatable): fkl, rkl, akl:mu=0.5, with any practice
    /// option: fkl:support=topk-tail,k=16,tt=2 (see kdviz divergences)
    #[arg(long, value_name = "SPEC", value_parser = loss_spec)]
    pub div: Vec<LossSpec>,
    /// One run per value of a key of every divergence: k=1,4,16,64,full (full: the whole teacher),
    /// tt=1,2,4, mu=0.3,0.5,0.7, precision=f64,bf16, ...
    #[arg(long, value_name = "KEY=V1,V2,...", value_parser = sweep)]
    pub sweep: Option<Sweep>,
    /// Replaces the config's number of epochs [default: the config's]
    #[arg(long, value_name = "N", value_parser = whole(0, MAX_EPOCHS))]
    pub epochs: Option<usize>,
    /// The epochs at which the student distribution q is kept, e.g. 1,5,10,300 [default: the config's]
    #[arg(long, value_name = "LIST", value_parser = epoch_list)]
    pub snapshots: Option<EpochList>,
    /// The full history as one line of JSON
    #[arg(long, overrides_with = "json", conflicts_with = "csv")]
    pub json: bool,
    /// One CSV row per divergence and epoch
    #[arg(long, overrides_with = "csv")]
    pub csv: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

pub fn run(args: &FitArgs) -> Result<(), String> {
    let mut cfg = args.source.load()?;
    if !args.div.is_empty() {
        cfg.divergences = args.div.iter().map(|d| d.raw.clone()).collect();
    }
    if let Some(s) = &args.sweep {
        cfg.divergences = apply_sweep(&cfg.divergences, s)?;
    }
    if let Some(e) = args.epochs {
        cfg.epochs = e;
        // Snapshots of the preset beyond a shortened run are dropped rather than rejected.
        cfg.snapshots.retain(|&s| s <= e);
    }
    if let Some(EpochList(list)) = &args.snapshots {
        cfg.snapshots = list.clone();
    }
    let result = progress::fit(&cfg.to_spec()?)?;
    let mut out = Output::open(args.out.as_deref())?;
    // JSON and CSV are written record by record: the history alone may be tens of MB.
    if args.json {
        write_json(&cfg, &result, &mut out)?;
    } else if args.csv {
        let runs = result
            .runs
            .iter()
            .map(|r| (&r.divergence, r.history.as_slice()));
        let mut sink = FmtSink {
            out: &mut out,
            error: None,
        };
        if EpochRecord::write_csv(runs, HistoryColumns::WithParameters, &mut sink).is_err() {
            return Err(sink
                .error
                .unwrap_or_else(|| "cannot format the CSV".to_string()));
        }
    } else {
        for line in summary(&cfg, &result) {
            out.line(&line)?;
        }
    }
    out.finish()
}

fn record_json(r: &EpochRecord) -> Value {
    let mut v = json!({
        "epoch": r.epoch,
        "objective": num(r.objective),
        "kl_pq": num(r.kl_pq),
        "kl_qp": num(r.kl_qp),
        "tvd": num(r.tvd),
        "head_gap": num(r.head_gap),
        "tail_gap": num(r.tail_gap),
        "far_tail": num(r.far_tail),
    });
    for (key, x) in [("mu", r.mu), ("sigma", r.sigma), ("t", r.t)] {
        if x.is_some() {
            v[key] = opt(x);
        }
    }
    if let Some(m) = r.mean {
        v["mean"] = json!([num(m[0]), num(m[1])]);
    }
    if let Some(c) = r.cov {
        v["cov"] = json!([[num(c[0][0]), num(c[0][1])], [num(c[1][0]), num(c[1][1])]]);
    }
    v
}

/// The fit as one line of JSON: `{"name", "epochs", "teacher": {"x", "p"} (a 2-D teacher: {"x", "y",
/// "p"}), "head_classes", "far_tail_from_rank", "runs": [{"divergence", "history": [records],
/// "snapshots": [{"epoch", "q"}]}]}`, written record by record.
pub fn write_json(cfg: &FitConfig, result: &FitResult, out: &mut Output) -> Result<(), String> {
    let p = nums(&result.teacher.dist.p);
    // A 2-D teacher's classes are points (x, y) of its grid.
    let teacher = match &result.teacher.plane {
        Some(plane) => json!({ "x": nums(&plane.xs), "y": nums(&plane.ys), "p": p }),
        None => json!({ "x": nums(&result.teacher.xs), "p": p }),
    };
    let head: Vec<usize> = (0..result.regions.head.len())
        .filter(|&k| result.regions.head[k])
        .collect();
    let start = json!({
        "name": cfg.name,
        "epochs": cfg.epochs,
        "teacher": teacher,
        "head_classes": head,
        "far_tail_from_rank": result.regions.far_tail_start(),
    })
    .to_string();
    // The object without its closing brace, then the runs.
    out.write(&start[..start.len() - 1])?;
    out.write(",\"runs\":[")?;
    for (i, run) in result.runs.iter().enumerate() {
        let div = Value::String(run.divergence.to_string());
        out.write(&format!("{}{{\"divergence\":{div},\"history\":[", sep(i)))?;
        for (j, r) in run.history.iter().enumerate() {
            out.write(sep(j))?;
            out.write(&record_json(r).to_string())?;
        }
        out.write("],\"snapshots\":[")?;
        for (j, s) in run.snapshots.iter().enumerate() {
            out.write(sep(j))?;
            out.write(&json!({"epoch": s.epoch, "q": nums(&s.q)}).to_string())?;
        }
        out.write("]}")?;
    }
    out.line("]}")
}

fn sep(i: usize) -> &'static str {
    if i == 0 { "" } else { "," }
}

/// A short table per divergence at the snapshot epochs and the last epoch.
fn summary(cfg: &FitConfig, result: &FitResult) -> Vec<String> {
    let mut lines = Vec::new();
    let title = if cfg.name.is_empty() {
        "fit".to_string()
    } else {
        cfg.name.clone()
    };
    lines.push(format!(
        "{title}: {} classes, {} epochs; head = top classes holding mass <= {} (gaps are L1), far tail from rank {}",
        result.teacher.dist.len(),
        cfg.epochs,
        cfg.metrics.mu,
        result.regions.far_tail_start()
    ));
    let mut epochs: Vec<usize> = cfg.snapshots.clone();
    epochs.extend([0, cfg.epochs]);
    epochs.sort_unstable();
    epochs.dedup();
    for run in &result.runs {
        lines.push(String::new());
        // The readable name, and the spec that reproduces the run.
        lines.push(format!("{}   [{}]", run.divergence.label(), run.divergence));
        let gauss = run.history.first().is_some_and(|r| r.mu.is_some());
        let plane = run.history.first().is_some_and(|r| r.mean.is_some());
        let taid = run.history.first().is_some_and(|r| r.t.is_some());
        let mut header = format!(
            "{:>7} {:>11} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9}",
            "epoch", "objective", "KL(p||q)", "KL(q||p)", "TVD", "head", "tail", "far-tail"
        );
        if gauss {
            header += &format!(" {:>9} {:>9}", "mu", "sigma");
        }
        if plane {
            header += &format!(
                " {:>8} {:>8} {:>8} {:>8} {:>8}",
                "mean1", "mean2", "cov11", "cov12", "cov22"
            );
        }
        if taid {
            header += &format!(" {:>7}", "t");
        }
        lines.push(header);
        for &e in &epochs {
            let Some(r) = run.history.get(e) else {
                continue;
            };
            let mut row = format!(
                "{:>7} {:>11.4e} {:>11.4e} {:>11.4e} {:>9.5} {:>9.5} {:>9.5} {:>9.5}",
                r.epoch, r.objective, r.kl_pq, r.kl_qp, r.tvd, r.head_gap, r.tail_gap, r.far_tail
            );
            if let (Some(m), Some(s)) = (r.mu, r.sigma) {
                row += &format!(" {m:>9.4} {s:>9.4}");
            }
            if let (Some(m), Some(c)) = (r.mean, r.cov) {
                row += &format!(
                    " {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
                    m[0], m[1], c[0][0], c[0][1], c[1][1]
                );
            }
            if let Some(t) = r.t {
                row += &format!(" {t:>7.4}");
            }
            lines.push(row);
        }
    }
    lines
}
