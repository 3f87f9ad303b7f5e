//! `kdviz real`: train a student on real-model-sized logits (the built-in n-gram teacher or a file)
//! under each loss (a divergence with its practice options), on the GPU when there is one, and
//! print the per-epoch metrics.

use super::figure::ThemeArg;
use super::json::num;
use super::output::Output;
use super::progress;
use super::values::{LossSpec, loss_spec, number_in, positive, seed, unit_interval, whole};
use crate::figure::real::{self as export, RealFigure, RealFigureStyle};
use crate::gpu::{GpuContext, cpu_only};
use crate::math::check_classes;
use crate::math::practice::Loss;
use crate::real::train::{
    BackendChoice, CpuArith, EpochStats, GpuEpoch, StudentKind, TrainConfig, TrainResult,
    check_teacher, check_vocabularies, cpu_copy_bandwidth, gpu_refusal, practice_refusal, train,
};
use crate::real::{RealData, corpus, files};
use crate::views::real::RunState;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub const EXAMPLES: &str = "\
Examples:
  kdviz real --builtin --div fkl --div rkl --div akl --student lowrank:d=16 --epochs 200
  kdviz real --builtin --positions 256 --div ab:alpha=0.2,beta=0.7 --student free --lr 0.1 --csv
  kdviz real --input qwen.safetensors --tokens tokens.json --div fkl --div akl --backend gpu \\
      --json --out run.json
  kdviz real --builtin --div fkl --div rkl --student lowrank:d=8 --epochs 60 --figure metrics.svg
  kdviz real --builtin --div fkl --div rkl --student lowrank:d=8 --epochs 60 \\
      --figure pos5.png --position 5 --scale 3
  kdviz real --builtin --topk 16 --div fkl:support=topk-tail,k=16 --div fkl:support=topk,k=16 \\
      --div fkl:support=topk-renorm,k=4
  kdviz real --input qwen-top64.safetensors --div fkl:support=topk-tail,k=64,st=2,t2=true";

/// The most epochs one run may ask for (a typo like 1e9 should fail fast, not run for days).
const MAX_EPOCHS: usize = 100_000;

/// `kdviz real`: a student trained on real-model-sized logits under each divergence.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("teacher").required(true).args(["builtin", "input"]))]
pub struct RealArgs {
    /// The built-in teacher: an n-gram model of a public-domain text
    #[arg(long, overrides_with = "builtin")]
    pub builtin: bool,
    #[arg(long, value_name = "N", value_parser = whole(1, 1 << 20), help = format!(
        "Positions (rows) of the built-in teacher [default: {}]",
        corpus::DEFAULT_POSITIONS
    ))]
    pub positions: Option<usize>,
    /// Teacher logits: a .safetensors or .npy file, [N, V] or [B, T, V]
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    /// Initial student logits, the teacher's shape (with --input)
    #[arg(long, value_name = "FILE")]
    pub student_input: Option<String>,
    /// A student over its own vocabulary of N classes, starting uniform (uld only: it matches
    /// sorted probabilities, so teacher and student tokenizers may differ)
    #[arg(long, value_name = "N", conflicts_with = "student_input", value_parser = whole(2, 1 << 20))]
    pub student_vocab: Option<usize>,
    /// The V tokens' strings, a JSON list or one per line (with --input)
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<String>,
    /// A loss to train under (repeatable): fkl, rkl, akl:mu=0.5, with any practice option:
    /// fkl:support=topk-tail,k=16,st=2,t2=true (see kdviz divergences)
    #[arg(long, value_name = "SPEC", required = true, value_parser = loss_spec)]
    pub div: Vec<LossSpec>,
    /// Keep only the teacher's top K classes per position (and the mass of the rest), as a cached
    /// top-k teacher: the students train under support=topk|topk-renorm|topk-tail with k <= K,
    /// the metrics stay against the full teacher
    #[arg(long, value_name = "K", value_parser = whole(1, u32::MAX as usize))]
    pub topk: Option<usize>,
    /// The student: free (the logits themselves) or lowrank:d=N
    #[arg(long, value_name = "STUDENT", default_value_t = TrainConfig::default().student, value_parser = student_kind)]
    pub student: StudentKind,
    /// Adam epochs
    #[arg(long, value_name = "N", default_value_t = TrainConfig::default().epochs, value_parser = whole(0, MAX_EPOCHS))]
    pub epochs: usize,
    /// Adam learning rate
    #[arg(long, value_name = "X", default_value_t = TrainConfig::default().lr, value_parser = positive)]
    pub lr: f64,
    /// The metrics' head: top-1 plus the classes holding teacher mass <= M
    #[arg(long, value_name = "M", default_value_t = TrainConfig::default().mu, value_parser = unit_interval)]
    pub mu: f64,
    /// Seeds the low-rank initialisation
    #[arg(long, value_name = "S", default_value_t = TrainConfig::default().seed, value_parser = seed)]
    pub seed: u64,
    /// auto: the GPU unless there is none or it is a software rasteriser; gpu: fail without one
    #[arg(long, value_name = "BACKEND", default_value_t = TrainConfig::default().backend, value_parser = backend_parser(), ignore_case = true)]
    pub backend: BackendChoice,
    /// The CPU engine's arithmetic: f32 (f32 lanes, f64 row sums, for fkl, rkl, tvd, jsd and akl
    /// with --mu's μ; the other families stay f64) or f64 (every family, the reference)
    #[arg(long, value_name = "ARITHMETIC", default_value_t = TrainConfig::default().cpu_arith, value_parser = cpu_arith_parser(), ignore_case = true)]
    pub cpu_arith: CpuArith,
    /// The GPU trainer's kernels: fused (the free student's Adam and the metrics inside the loss
    /// kernel, for a family without practice options) or separate (three kernels, to compare)
    #[arg(long, value_name = "KERNELS", default_value_t = TrainConfig::default().gpu_epoch, value_parser = gpu_epoch_parser(), ignore_case = true)]
    pub gpu_epoch: GpuEpoch,
    /// The text table shows every K-th epoch [default: about ten epochs]
    #[arg(long, value_name = "K", value_parser = whole(1, MAX_EPOCHS))]
    pub every: Option<usize>,
    /// Every epoch as one line of JSON
    #[arg(long, overrides_with = "json", conflicts_with = "csv")]
    pub json: bool,
    /// One CSV row per divergence and epoch
    #[arg(long, overrides_with = "csv")]
    pub csv: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Also write the tab's figure of the finished runs: .png, .svg or .csv
    #[arg(long, value_name = "FILE")]
    pub figure: Option<String>,
    /// The figure shows the inspector at position R instead of the metric plots
    #[arg(long, value_name = "R", requires = "figure", value_parser = whole(0, 1 << 20))]
    pub position: Option<usize>,
    /// PNG pixels per point, 0.5 to 8
    #[arg(long, value_name = "S", requires = "figure", default_value_t = RealFigureStyle::default().scale, value_parser = number_in(0.5, 8.0))]
    pub scale: f32,
    /// Colours of the figure
    #[arg(long, value_name = "THEME", requires = "figure", value_enum, default_value_t = ThemeArg::Light)]
    pub theme: ThemeArg,
}

fn student_kind(raw: &str) -> Result<StudentKind, String> {
    raw.parse().map_err(|e| format!("{raw:?}: {e}"))
}

/// auto, gpu or cpu, listed in `--help`; [`BackendChoice`]'s own parser reads them.
fn backend_parser() -> impl TypedValueParser<Value = BackendChoice> {
    PossibleValuesParser::new(["auto", "gpu", "cpu"]).try_map(|s| s.parse::<BackendChoice>())
}

/// fused or separate, listed in `--help`.
fn gpu_epoch_parser() -> impl TypedValueParser<Value = GpuEpoch> {
    PossibleValuesParser::new(["fused", "separate"]).try_map(|s| s.parse::<GpuEpoch>())
}

/// f32 or f64, listed in `--help`.
fn cpu_arith_parser() -> impl TypedValueParser<Value = CpuArith> {
    PossibleValuesParser::new(["f32", "f64"]).try_map(|s| s.parse::<CpuArith>())
}

pub fn run(args: &RealArgs) -> Result<(), String> {
    // `auto` trains a CPU-only family on the CPU; `gpu` says so before loading anything.
    if args.backend == BackendChoice::Gpu {
        for s in &args.div {
            cpu_only(&s.loss.family).map_err(|e| format!("--div {:?}: {e}", s.raw))?;
            // A top-k support is checked against the teacher once it is loaded; the GPU runs
            // the other practice options unless `loss_refusal` says why not.
            if s.loss.practice.support.k().is_none()
                && let Some(why) = practice_refusal(&s.loss)
            {
                return Err(format!(
                    "--div {:?}: {why}; use --backend cpu or auto",
                    s.raw
                ));
            }
        }
    }
    let data = load(args)?;
    let divs = divergences(&args.div, &data)?;
    if args.backend == BackendChoice::Gpu
        && let Some(why) = divs.iter().find_map(|d| gpu_refusal(&data, d))
    {
        return Err(format!("--backend gpu: {why}; use --backend cpu or auto"));
    }
    let cfg = TrainConfig {
        student: args.student,
        epochs: args.epochs,
        lr: args.lr,
        mu: args.mu,
        seed: args.seed,
        backend: args.backend,
        cpu_arith: args.cpu_arith,
        gpu_epoch: args.gpu_epoch,
        ..TrainConfig::default()
    };
    let figure = figure_request(args, data.n, cfg.mu)?;
    if args.position.is_some() && !data.has_full_teacher() {
        return Err(
            "--position needs the full teacher; this one is stored as its top k per position"
                .into(),
        );
    }

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
        let bar = progress::bar(cfg.epochs, div.to_string());
        let mut report = |s: &EpochStats| {
            bar.set_position(s.epoch as u64);
            if s.epoch > 0 && s.seconds > 0.0 {
                let rows_per_s = (data.n * s.epoch) as f64 / s.seconds;
                bar.set_message(format!("epochs, {rows_per_s:.0} rows/s"));
            }
        };
        let r = train(gpu.as_ref(), &data, div, &cfg, &cancel, &mut report);
        bar.finish();
        runs.push(r.map_err(|e| format!("{div}: {e}"))?);
    }

    if let Some((path, what, style)) = &figure {
        let states: Vec<RunState> = runs.iter().cloned().map(RunState::finished).collect();
        export::write(Path::new(path), *what, &data, &states, style)?;
    }
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        // The memory floor of the CPU runs, measured now, after training (96 MiB buffers: beyond
        // the last-level cache, within the memory budget).
        let copy = runs
            .iter()
            .any(|r| r.backend.starts_with("CPU"))
            .then(|| cpu_copy_bandwidth(48 << 20, 5));
        out.line(&to_json(&data, &cfg, &runs, no_gpu.as_deref(), copy).to_string())?;
    } else if args.csv {
        let csv = EpochStats::csv(runs.iter().map(|r| (&r.div, r.stats.as_slice())));
        out.line(csv.trim_end())?;
    } else {
        for line in summary(&data, &cfg, &runs, args.every) {
            out.line(&line)?;
        }
    }
    out.finish()
}

/// `--figure FILE` with its options: the metric plots, or `--position R`'s inspector.
fn figure_request(
    args: &RealArgs,
    n: usize,
    mu: f64,
) -> Result<Option<(String, RealFigure, RealFigureStyle)>, String> {
    let Some(path) = &args.figure else {
        return Ok(None);
    };
    let what = match args.position {
        Some(r) if r >= n => {
            return Err(format!(
                "--position {r} is out of range; expected 0 to {}",
                n.saturating_sub(1)
            ));
        }
        Some(r) => RealFigure::Position(r),
        None => RealFigure::Metrics,
    };
    let style = RealFigureStyle {
        scale: args.scale,
        theme: args.theme.into(),
        mu,
        ..RealFigureStyle::default()
    };
    // Fail before training, not after: the extension must be one the figure can write.
    let ext = crate::figure::format::format_of(
        &format!("--figure {path:?}"),
        path,
        &["png", "svg", "csv"],
    )?;
    if ext == "png" {
        crate::figure::raster::check_pixels(style.size, style.scale)
            .map_err(|e| format!("--figure {path:?}: {e}"))?;
    }
    Ok(Some((path.clone(), what, style)))
}

/// The teacher named by `--builtin` or `--input`.
fn load(args: &RealArgs) -> Result<RealData, String> {
    let data = match &args.input {
        None => {
            for (flag, given) in [
                ("student-input", args.student_input.is_some()),
                ("tokens", args.tokens.is_some()),
            ] {
                if given {
                    return Err(format!(
                        "--{flag} goes with --input; the built-in teacher has its own tokens"
                    ));
                }
            }
            match args.positions {
                Some(n) => corpus::builtin_with(n).map_err(|e| e.to_string())?,
                None => corpus::builtin(),
            }
        }
        Some(path) => {
            if args.positions.is_some() {
                return Err("--positions goes with --builtin; a file has its own rows".into());
            }
            files::load(
                Path::new(path),
                args.student_input.as_deref().map(Path::new),
                args.tokens.as_deref().map(Path::new),
            )
            .map_err(|e| e.to_string())?
        }
    };
    let data = match args.student_vocab {
        Some(sv) => data.with_student_vocab(sv).map_err(|e| e.to_string())?,
        None => data,
    };
    let data = match args.topk {
        Some(k) => data.with_topk(k).map_err(|e| e.to_string())?,
        None => data,
    };
    data.check().map_err(|e| e.to_string())?;
    Ok(data)
}

/// The parsed `--div`s, each checked against the teacher's V classes, the student's vocabulary
/// and the teacher's form (a top-k teacher serves the top-k supports only) before any is trained.
fn divergences(specs: &[LossSpec], data: &RealData) -> Result<Vec<Loss>, String> {
    specs
        .iter()
        .map(|s| {
            let loss = &s.loss;
            check_classes(&loss.family, data.v)
                .and_then(|()| match loss.practice.support.k() {
                    Some(k) if k > data.v => Err(format!(
                        "{}: k={k} is out of range; expected 1..{}",
                        loss.family.name(),
                        data.v
                    )),
                    _ => Ok(()),
                })
                .and_then(|()| check_vocabularies(data, loss).map_err(|e| e.to_string()))
                .and_then(|()| check_teacher(data, loss).map_err(|e| e.to_string()))
                .map_err(|e| format!("--div {:?}: {e}", s.raw))?;
            Ok(*loss)
        })
        .collect()
}

fn stats_json(s: &EpochStats) -> Value {
    json!({
        "epoch": s.epoch,
        "objective": num(s.objective),
        // null where the student's vocabulary is not the teacher's (uld), or where only the
        // teacher's top k is known (a top-k file): no per-class metrics.
        "kl_pq": s.class(|c| c.kl_pq).map(num),
        "kl_qp": s.class(|c| c.kl_qp).map(num),
        "head_gap": s.class(|c| c.head_gap).map(num),
        "tail_gap": s.class(|c| c.tail_gap).map(num),
        "top1": s.class(|c| c.top1).map(num),
        "seconds": num(s.seconds),
    })
}

fn to_json(
    data: &RealData,
    cfg: &TrainConfig,
    runs: &[TrainResult],
    no_gpu: Option<&str>,
    copy_gb_per_s: Option<f64>,
) -> Value {
    // Per CPU run: ms per epoch (the run's time over its epochs, epoch 0's forward included), the
    // floor (the byte model's epoch at the copy bandwidth) and the ratio of the two.
    let floor = |r: &TrainResult| -> Value {
        let Some(copy) = copy_gb_per_s.filter(|_| r.backend.starts_with("CPU")) else {
            return Value::Null;
        };
        let ms = if r.rows_per_s > 0.0 {
            1e3 * data.n as f64 / r.rows_per_s
        } else {
            f64::NAN
        };
        let floor_ms = r.bytes_per_epoch / copy / 1e6;
        json!({"ms_per_epoch": num(ms), "floor_ms_per_epoch": num(floor_ms), "x_floor": num(ms / floor_ms)})
    };
    json!({
        "source": data.source,
        "positions": data.n,
        "vocab": data.v,
        "student_vocab": data.student_v,
        // The teacher the students see: its top k per position (a top-k file or --topk), else
        // null; "full_teacher": whether the metrics against the full teacher exist.
        "teacher_topk": data.topk.as_ref().map(|t| t.k),
        "full_teacher": data.has_full_teacher(),
        "student": cfg.student.to_string(),
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "mu": cfg.mu,
        "seed": cfg.seed,
        "no_gpu": no_gpu,
        "cpu_copy_gb_per_s": copy_gb_per_s.map(num),
        "runs": runs.iter().map(|r| json!({
            "divergence": r.div.to_string(),
            "backend": r.backend,
            "fallback": r.fallback,
            "rows_per_s": num(r.rows_per_s),
            "gb_per_s": num(r.gb_per_s),
            "bytes_per_epoch": num(r.bytes_per_epoch),
            "cpu_floor": floor(r),
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
    if !data.aligned() {
        lines.push(format!(
            "the student has {} classes, not the teacher's {}: uld matches ranks, and the \
             per-class metrics (—) do not exist",
            data.student_v, data.v
        ));
    }
    match &data.topk {
        Some(t) if data.has_full_teacher() => lines.push(format!(
            "the students see the teacher's top {} per position (--topk); the objective is what \
             they see, KL, gaps and top-1 are against the full teacher",
            t.k
        )),
        Some(t) => lines.push(format!(
            "the teacher is stored as its top {} per position: the metrics against the full \
             teacher (—) do not exist",
            t.k
        )),
        None => {}
    }
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
            let classes = match &s.classes {
                Some(c) => format!(
                    "{:>12.5e} {:>12.5e} {:>10.4} {:>10.4} {:>6.1}%",
                    c.kl_pq,
                    c.kl_qp,
                    c.head_gap,
                    c.tail_gap,
                    100.0 * c.top1
                ),
                // uld across vocabularies, or only the teacher's top k known.
                None => format!("{:>12} {:>12} {:>10} {:>10} {:>7}", "—", "—", "—", "—", "—"),
            };
            lines.push(format!(
                "  {:>6} {:>12.5e} {classes} {:>9.3}",
                s.epoch, s.objective, s.seconds
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
