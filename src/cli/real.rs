//! `kdviz real`: train a student on real-model-sized logits (the built-in n-gram teacher or a file)
//! under each divergence, on the GPU when there is one, and print the per-epoch metrics.

use super::args::{Args, Schema};
use super::json::num;
use super::output::Output;
use crate::figure::real::{self as export, RealFigure, RealFigureStyle};
use crate::gpu::GpuContext;
use crate::math::{Divergence, check_classes};
use crate::real::train::{BackendChoice, EpochStats, StudentKind, TrainConfig, TrainResult, train};
use crate::real::{RealData, corpus, files};
use crate::views::real::RunState;
use crate::views::state::Theme;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub const SCHEMA: Schema = Schema {
    valued: &[
        "input",
        "student-input",
        "tokens",
        "div",
        "student",
        "epochs",
        "lr",
        "backend",
        "positions",
        "seed",
        "mu",
        "every",
        "out",
        "figure",
        "position",
        "scale",
        "theme",
    ],
    switches: &["builtin", "json", "csv"],
};

pub const HELP: &str = "\
  kdviz real (--builtin [--positions N] | --input FILE [--student-input FILE] [--tokens FILE])
             --div SPEC... [--student free|lowrank:d=64] [--epochs N] [--lr X] [--mu M] [--seed S]
             [--backend auto|gpu|cpu] [--every K] [--json | --csv] [--out FILE]
             [--figure FILE.{png,svg,csv} [--position R] [--scale S] [--theme light|dark]]";

/// The most epochs one run may ask for (a typo like 1e9 should fail fast, not run for days).
const MAX_EPOCHS: usize = 100_000;

pub fn run(args: &Args) -> Result<(), String> {
    args.no_positional("real")?;
    if args.switch("json") && args.switch("csv") {
        return Err("give --json or --csv, not both".into());
    }
    let data = load(args)?;
    let divs = divergences(args, data.v)?;
    let cfg = config(args)?;
    let every = args.usize_in("every", 1, MAX_EPOCHS)?;
    let figure = figure_request(args, data.n, cfg.mu)?;

    // One device for every divergence; `auto` falls back to the CPU inside `train`.
    let (gpu, no_gpu) = match cfg.backend {
        BackendChoice::Cpu => (None, None),
        _ => match GpuContext::new() {
            Ok(c) => (Some(c), None),
            Err(e) if cfg.backend == BackendChoice::Gpu => {
                return Err(format!("--backend gpu: {e}"));
            }
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let cancel = AtomicBool::new(false);
    let mut runs = Vec::with_capacity(divs.len());
    for div in &divs {
        let r = train(gpu.as_ref(), &data, div, &cfg, &cancel, &mut |_| {})
            .map_err(|e| format!("{div}: {e}"))?;
        runs.push(r);
    }

    if let Some((path, what, style)) = &figure {
        let states: Vec<RunState> = runs.iter().cloned().map(RunState::finished).collect();
        export::write(Path::new(path), *what, &data, &states, style)?;
    }
    let mut out = Output::open(args.one("out")?)?;
    if args.switch("json") {
        out.line(&to_json(&data, &cfg, &runs, no_gpu.as_deref()).to_string())?;
    } else if args.switch("csv") {
        let csv = EpochStats::csv(runs.iter().map(|r| (&r.div, r.stats.as_slice())));
        out.line(csv.trim_end())?;
    } else {
        for line in summary(&data, &cfg, &runs, every) {
            out.line(&line)?;
        }
    }
    out.finish()
}

/// `--figure FILE` with its options: the metric plots, or `--position R`'s inspector.
fn figure_request(
    args: &Args,
    n: usize,
    mu: f64,
) -> Result<Option<(String, RealFigure, RealFigureStyle)>, String> {
    let Some(path) = args.one("figure")? else {
        for flag in ["position", "scale", "theme"] {
            if args.one(flag)?.is_some() {
                return Err(format!("--{flag} goes with --figure FILE"));
            }
        }
        return Ok(None);
    };
    let what = match args.usize_in("position", 0, n.saturating_sub(1))? {
        Some(r) => RealFigure::Position(r),
        None => RealFigure::Metrics,
    };
    let mut style = RealFigureStyle::default();
    if let Some(raw) = args.one("scale")? {
        style.scale = match raw.parse::<f32>() {
            Ok(s) if s.is_finite() && (0.5..=8.0).contains(&s) => s,
            _ => return Err(format!("--scale {raw:?}; expected a number from 0.5 to 8")),
        };
    }
    style.theme = match args.one("theme")? {
        None | Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        Some(o) => return Err(format!("--theme {o:?}; expected light or dark")),
    };
    style.mu = mu;
    // Fail before training, not after: the extension must be one the figure can write.
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(ext.as_str(), "png" | "svg" | "csv") {
        return Err(format!(
            "--figure {path}: cannot write .{ext} files; expected .png, .svg or .csv"
        ));
    }
    Ok(Some((path.to_string(), what, style)))
}

/// The teacher named by `--builtin` or `--input`.
fn load(args: &Args) -> Result<RealData, String> {
    let input = args.one("input")?;
    let builtin = args.switch("builtin");
    let data = match (builtin, input) {
        (true, Some(_)) => return Err("give --builtin or --input FILE, not both".into()),
        (false, None) => {
            return Err(
                "--builtin or --input FILE (.safetensors or .npy teacher logits) is missing".into(),
            );
        }
        (true, None) => {
            for flag in ["student-input", "tokens"] {
                if args.one(flag)?.is_some() {
                    return Err(format!(
                        "--{flag} goes with --input; the built-in teacher has its own tokens"
                    ));
                }
            }
            match args.usize_in("positions", 1, 1 << 20)? {
                Some(n) => corpus::builtin_with(n).map_err(|e| e.to_string())?,
                None => corpus::builtin(),
            }
        }
        (false, Some(path)) => {
            if args.one("positions")?.is_some() {
                return Err("--positions goes with --builtin; a file has its own rows".into());
            }
            files::load(
                Path::new(path),
                args.one("student-input")?.map(Path::new),
                args.one("tokens")?.map(Path::new),
            )
            .map_err(|e| e.to_string())?
        }
    };
    data.check().map_err(|e| e.to_string())?;
    Ok(data)
}

fn divergences(args: &Args, v: usize) -> Result<Vec<Divergence>, String> {
    let specs = args.all("div");
    if specs.is_empty() {
        return Err("--div SPEC is missing (for example --div fkl --div rkl --div akl)".into());
    }
    specs
        .iter()
        .map(|s| {
            let d: Divergence = s.parse().map_err(|e| format!("--div {s:?}: {e}"))?;
            check_classes(&d, v).map_err(|e| format!("--div {s:?}: {e}"))?;
            Ok(d)
        })
        .collect()
}

fn config(args: &Args) -> Result<TrainConfig, String> {
    let mut cfg = TrainConfig::default();
    if let Some(s) = args.one("student")? {
        cfg.student = s
            .parse::<StudentKind>()
            .map_err(|e| format!("--student {s:?}: {e}"))?;
    }
    if let Some(e) = args.usize_in("epochs", 0, MAX_EPOCHS)? {
        cfg.epochs = e;
    }
    if let Some(x) = positive(args, "lr")? {
        cfg.lr = x;
    }
    if let Some(raw) = args.one("mu")? {
        let mu: f64 = raw
            .parse()
            .map_err(|_| format!("--mu {raw:?}; expected a number in [0, 1)"))?;
        if !(0.0..1.0).contains(&mu) {
            return Err(format!("--mu {mu}; expected a number in [0, 1)"));
        }
        cfg.mu = mu;
    }
    if let Some(raw) = args.one("seed")? {
        cfg.seed = raw
            .parse()
            .map_err(|_| format!("--seed {raw:?}; expected a non-negative integer"))?;
    }
    if let Some(raw) = args.one("backend")? {
        cfg.backend = raw
            .parse::<BackendChoice>()
            .map_err(|e| format!("--backend {raw:?}: {e}"))?;
    }
    Ok(cfg)
}

/// A finite number > 0 from `--name`.
fn positive(args: &Args, name: &str) -> Result<Option<f64>, String> {
    let Some(raw) = args.one(name)? else {
        return Ok(None);
    };
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(Some(x)),
        _ => Err(format!("--{name} {raw:?}; expected a finite number > 0")),
    }
}

fn stats_json(s: &EpochStats) -> Value {
    json!({
        "epoch": s.epoch,
        "objective": num(s.objective),
        "kl_pq": num(s.kl_pq),
        "kl_qp": num(s.kl_qp),
        "head_gap": num(s.head_gap),
        "tail_gap": num(s.tail_gap),
        "top1": num(s.top1),
        "seconds": num(s.seconds),
    })
}

fn to_json(
    data: &RealData,
    cfg: &TrainConfig,
    runs: &[TrainResult],
    no_gpu: Option<&str>,
) -> Value {
    json!({
        "source": data.source,
        "positions": data.n,
        "vocab": data.v,
        "student": cfg.student.to_string(),
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "mu": cfg.mu,
        "seed": cfg.seed,
        "no_gpu": no_gpu,
        "runs": runs.iter().map(|r| json!({
            "divergence": r.div.to_string(),
            "backend": r.backend,
            "fallback": r.fallback,
            "rows_per_s": num(r.rows_per_s),
            "gb_per_s": num(r.gb_per_s),
            "bytes_per_epoch": num(r.bytes_per_epoch),
            "history": r.stats.iter().map(stats_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Epochs shown in the text table: every `every`-th, or about ten evenly spaced; first and last always.
fn shown(last: usize, every: Option<usize>) -> impl Fn(usize) -> bool {
    let step = every.unwrap_or_else(|| last.div_ceil(10).max(1));
    move |e| e == 0 || e == last || e % step == 0
}

fn summary(
    data: &RealData,
    cfg: &TrainConfig,
    runs: &[TrainResult],
    every: Option<usize>,
) -> Vec<String> {
    let mut lines = vec![
        format!(
            "teacher: {} ({} positions × {} classes)",
            data.source, data.n, data.v
        ),
        format!(
            "student: {}, Adam lr {}, {} epochs; head = top-1 plus teacher mass ≤ {}",
            cfg.student, cfg.lr, cfg.epochs, cfg.mu
        ),
    ];
    for r in runs {
        lines.push(String::new());
        lines.push(format!("{}  [{}]", r.div, r.backend));
        if let Some(f) = &r.fallback {
            lines.push(format!("  GPU not used: {f}"));
        }
        lines.push(format!(
            "  {:>6} {:>12} {:>12} {:>12} {:>10} {:>10} {:>7} {:>9}",
            "epoch",
            "objective",
            "KL(p||q)",
            "KL(q||p)",
            "head gap",
            "tail gap",
            "top-1",
            "seconds"
        ));
        let last = r.stats.last().map_or(0, |s| s.epoch);
        let keep = shown(last, every);
        for s in r.stats.iter().filter(|s| keep(s.epoch)) {
            lines.push(format!(
                "  {:>6} {:>12.5e} {:>12.5e} {:>12.5e} {:>10.4} {:>10.4} {:>6.1}% {:>9.3}",
                s.epoch,
                s.objective,
                s.kl_pq,
                s.kl_qp,
                s.head_gap,
                s.tail_gap,
                100.0 * s.top1,
                s.seconds
            ));
        }
        lines.push(format!(
            "  throughput: {:.0} rows/s, {:.2} GB/s under the byte model ({:.1} MB per epoch)",
            r.rows_per_s,
            r.gb_per_s,
            r.bytes_per_epoch / 1e6
        ));
    }
    lines
}
