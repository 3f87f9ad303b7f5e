//! `kdviz gpu info` and `kdviz gpu bench`: which GPU kdviz would use, and how fast the loss kernels
//! run on it against the CPU engine.

use super::json::{num, opt};
use super::output::Output;
use super::progress;
use super::values::{LossSpec, loss_spec, whole};
use crate::gpu::{
    GpuContext, RowsOptions, RunOptions, Storage, check_gpu, cpu_only, loss_bytes_per_elem,
    loss_on_storage, loss_passes, loss_refusal, loss_scratch_rows, topk_bytes_per_row,
};
use crate::math::practice::{Loss, PracticeWorkspace, Support, evaluate};
use crate::math::{FAMILIES, check_classes};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::time::Instant;

/// `kdviz gpu info` and `kdviz gpu bench`.
#[derive(Debug, Subcommand)]
pub enum GpuCommand {
    /// The adapter, backend, features and limits (exit 2 without a GPU)
    #[command(after_help = "\
Examples:
  kdviz gpu info
  kdviz gpu info --json --out gpu.json")]
    Info(InfoArgs),
    /// Loss kernels: ms and GB/s per divergence, and the CPU engine on the same data
    #[command(after_help = "\
Examples:
  kdviz gpu bench --rows 512 --vocab 32000 --div fkl --div jsd:beta=0.5 --div akl:mu=0.5
  kdviz gpu bench --div fkl:tt=2,softcap=30 --div jsd:std=true,precision=bf16
  kdviz gpu bench --rows 4096 --vocab 131072 --dtype f16 --json
  kdviz gpu bench --dtype bf16 --div fkl --div jsd")]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// One line of JSON instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Rows (token positions) of the logits [default: 512, or 64 on a software adapter, whose
    /// device memory is host memory]
    #[arg(long, value_name = "N", value_parser = whole(1, 10_000_000))]
    pub rows: Option<usize>,
    /// Classes (vocabulary size) per row, 2 to 16777216 (one class makes every divergence 0)
    #[arg(long, value_name = "V", default_value_t = 32_768, value_parser = whole(2, 1 << 24))]
    pub vocab: usize,
    /// Storage of the logits on the device
    #[arg(long, value_name = "DTYPE", value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// A divergence to time (repeatable), with practice options of the full or sampled support
    /// (tt, st, t2, softcap, std, precision, tprecision, support=sampled) [default: every
    /// family's default]
    #[arg(long, value_name = "SPEC", value_parser = loss_spec)]
    pub div: Vec<LossSpec>,
    /// Timed runs per divergence after a warm-up; the median is reported
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = whole(1, 1000))]
    pub repeats: usize,
    /// One line of JSON instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    F32,
    F16,
    /// Two per 32-bit word, on every adapter
    Bf16,
}

/// Seconds of CPU-engine time spent per divergence at most; the rest is extrapolated per row.
const CPU_BUDGET_S: f64 = 0.5;

/// `kdviz gpu <info|bench> ...`
pub fn run(cmd: &GpuCommand) -> Result<(), String> {
    match cmd {
        GpuCommand::Info(args) => info(args),
        GpuCommand::Bench(args) => bench(args),
    }
}

fn info(args: &InfoArgs) -> Result<(), String> {
    let ctx = GpuContext::new().map_err(|e| format!("gpu info: {e}"))?;
    let i = ctx.info();
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        let limits: serde_json::Map<String, Value> = i
            .limits()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        out.line(
            &json!({
                "adapter": i.name,
                "backend": i.backend,
                "device_type": i.device_type,
                "driver": i.driver,
                "driver_info": i.driver_info,
                "features": i.features,
                "adapter_features": i.adapter_features,
                "timestamp_query": i.timestamp_query,
                "shader_f16": i.shader_f16,
                "timestamp_period_ns": i.timestamp_period_ns,
                "device_memory": i.device_memory,
                "limits": limits,
                "workgroup_size": crate::gpu::WORKGROUP_SIZE,
            })
            .to_string(),
        )?;
    } else {
        for line in i.to_string().lines() {
            out.line(line)?;
        }
        out.line(&format!(
            "kernels: one workgroup of {} invocations per row; rows split into chunks of at most \
             {} bytes per binding",
            crate::gpu::WORKGROUP_SIZE,
            ctx.max_binding_bytes()
        ))?;
    }
    out.finish()
}

/// Reproducible logits, generated in order a few rows at a time: teacher N(0, 3²), student =
/// teacher + N(0, 1) (a student mid-training).
struct Logits {
    state: u64,
}

impl Logits {
    fn new() -> Logits {
        Logits {
            state: 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn uniform(&mut self) -> f32 {
        let s = &mut self.state;
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        ((s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    /// Appends the next `count` logits of the teacher and of the student.
    fn fill(&mut self, count: usize, t: &mut Vec<f32>, s: &mut Vec<f32>) {
        t.reserve(count);
        s.reserve(count);
        for _ in 0..count {
            let (a, b) = (self.uniform(), self.uniform());
            let r = (-2.0 * a.ln()).sqrt();
            let (sin, cos) = (std::f32::consts::TAU * b).sin_cos();
            let u = 3.0 * r * cos;
            t.push(u);
            s.push(u + r * sin);
        }
    }
}

/// Logits generated and uploaded per piece (per buffer, f32).
const PIECE_ELEMS: usize = 1 << 20;
/// The CPU engine's reference runs on the first rows: at most this many logits of each (and one row).
const CPU_ELEMS: usize = 1 << 21;
/// Host memory the bench may hold: the pieces being uploaded, the CPU reference rows, the values read
/// back (BENCHMARKS.md, "Memory").
pub const MAX_HOST_BYTES: u64 = 64 << 20;
/// Device memory a bench may allocate on a GPU.
pub const MAX_DEVICE_BYTES: u64 = 16 << 30;
/// ... and on a software adapter (llvmpipe, WARP), whose device memory is host memory.
pub const MAX_SOFTWARE_DEVICE_BYTES: u64 = 128 << 20;

/// The bench's memory, known before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BenchBytes {
    host: u64,
    device: u64,
}

/// What the practice options of the benched losses add per logit, the largest over the losses
/// (one setting's rows are held at a time): device scratch rows (the shaped teacher and student,
/// the read-back copy of the teacher that the sampler reads) and host copies (the sampled
/// teacher read back and its logits ln(c/N)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PracticeBytes {
    device_rows: u64,
    host_f32_rows: u64,
}

impl PracticeBytes {
    fn of(losses: &[Loss]) -> PracticeBytes {
        losses.iter().fold(PracticeBytes::default(), |m, l| {
            let sampled = u64::from(matches!(l.practice.support, Support::Sampled { .. }));
            // A top-k support reads the teacher back once to derive its top k.
            let topk = u64::from(l.practice.support.k().is_some());
            PracticeBytes {
                device_rows: m.device_rows.max(loss_scratch_rows(l) as u64 + sampled),
                host_f32_rows: m.host_f32_rows.max(2 * sampled + topk),
            }
        })
    }
}

impl BenchBytes {
    /// `n × v` logits in `storage`; `bind`: the device's largest binding (caps the copy test).
    fn new(
        n: usize,
        v: usize,
        storage: Storage,
        bind: Option<u64>,
        practice: PracticeBytes,
    ) -> BenchBytes {
        let (n, v, e) = (n as u64, v as u64, storage.bytes() as u64);
        let nv = n.saturating_mul(v);
        let cpu_rows = n.min((CPU_ELEMS as u64 / v).max(1));
        // Pieces of both inputs (and their f16 copies), the CPU rows of both inputs and an f64 row
        // of each, the values read back (the mapped buffer and the vector).
        let host = (2 * PIECE_ELEMS as u64).max(2 * v) * (4 + e)
            + 2 * cpu_rows * v * 4
            + 4 * v * 8
            + n * 8
            + practice.host_f32_rows * nv * 4;
        let device = bind.map_or(0, |bind| {
            // Teacher, student, gradient and its read-back copy per logit; values, aux and the
            // values' read-back per row; the copy test's source and destination.
            let copy = (2 * nv * e).min(bind) / 16 * 16;
            nv.saturating_mul((4 + practice.device_rows) * e) + n * 16 + 2 * copy
        });
        BenchBytes { host, device }
    }
}

struct CpuTiming {
    ms_all_rows: f64,
    rows_timed: usize,
    values: Vec<f64>,
}

/// Refuses a bench whose host or device memory (see [`BenchBytes`]) is over its budget, naming both.
fn check_bytes(
    n: usize,
    v: usize,
    storage: Storage,
    ctx: Option<&GpuContext>,
    practice: PracticeBytes,
) -> Result<(), String> {
    use crate::toy::budget::mib;
    let bind = ctx.map(|c| {
        let i = c.info();
        i.max_storage_buffer_binding_size.min(i.max_buffer_size)
    });
    let need = BenchBytes::new(n, v, storage, bind, practice);
    let software = ctx.is_some_and(|c| c.info().device_type == "Cpu");
    let device_budget = if software {
        MAX_SOFTWARE_DEVICE_BYTES
    } else {
        MAX_DEVICE_BYTES
    };
    if need.host <= MAX_HOST_BYTES && need.device <= device_budget {
        return Ok(());
    }
    let adapter = ctx.map_or(String::new(), |c| {
        if software {
            format!(
                " on the software adapter {}, whose device memory is host memory,",
                c.info().name
            )
        } else {
            format!(" on {}", c.info().name)
        }
    });
    Err(format!(
        "--rows {n} × --vocab {v} ({}) needs {} of device memory and {} of host memory; the budget \
         is {} of device memory{adapter} and {} of host memory: lower --rows or --vocab",
        storage.name(),
        mib(need.device),
        mib(need.host),
        mib(device_budget),
        mib(MAX_HOST_BYTES)
    ))
}

/// The f64 engine on the first rows, single thread, softmax and practice steps included (the GPU
/// starts from logits too; row r on sampler stream r, as the GPU run); stops after
/// [`CPU_BUDGET_S`] (or at the rows given) and scales to all `n` rows.
fn cpu_time(loss: &Loss, t: &[f32], s: &[f32], n: usize, v: usize) -> CpuTiming {
    let mut ws = PracticeWorkspace::default();
    let mut grad = vec![0.0; v];
    let mut values = Vec::new();
    let t0 = Instant::now();
    for r in 0..(t.len() / v).min(n) {
        let row = |x: &[f32]| -> Vec<f64> {
            x[r * v..(r + 1) * v]
                .iter()
                .map(|&y| f64::from(y))
                .collect()
        };
        let Ok(out) = evaluate(loss, &row(t), &row(s), r as u64, &mut grad, &mut ws) else {
            break;
        };
        values.push(out.value);
        if t0.elapsed().as_secs_f64() > CPU_BUDGET_S {
            break;
        }
    }
    let rows_timed = values.len().max(1);
    CpuTiming {
        ms_all_rows: t0.elapsed().as_secs_f64() * 1e3 * n as f64 / rows_timed as f64,
        rows_timed,
        values,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct GpuTiming {
    ms: f64,
    gbps: f64,
    max_rel_err: f64,
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let (v, repeats) = (args.vocab, args.repeats);
    let storage = match args.dtype {
        Dtype::F32 => Storage::F32,
        Dtype::F16 => Storage::F16,
        Dtype::Bf16 => Storage::Bf16,
    };
    // Families of the default list that the GPU kernels cannot take at this size (uld's ranks over
    // a wide row), with the reason: skipped and reported, not an error; a --div asked for is one.
    let mut skipped: Vec<(String, String)> = Vec::new();
    let specs: Vec<(String, Loss)> = if args.div.is_empty() {
        // Every family a kernel runs (rkl-est's sampler stays on the CPU).
        FAMILIES
            .iter()
            .filter(|f| cpu_only(&f.default()).is_ok())
            .filter(|f| match check_gpu(&f.default(), v) {
                Ok(()) => true,
                Err(why) => {
                    skipped.push((f.default().to_string(), why));
                    false
                }
            })
            .map(|f| (f.default().to_string(), Loss::from(f.default())))
            .collect()
    } else {
        args.div.iter().map(|d| (d.raw.clone(), d.loss)).collect()
    };
    let mut divs = Vec::new();
    for (s, d) in specs {
        check_classes(&d.family, v).map_err(|e| format!("--div {s:?}: {e}"))?;
        if d.practice.support.k().is_none() {
            check_gpu(&d.family, v).map_err(|e| format!("--div {s:?}: {e}"))?;
        }
        let refusal = if d.practice.support.k().is_some() {
            topk_bytes_per_row(&d, v).map(|_| ())
        } else {
            loss_refusal(&d)
        }
        .and_then(|()| loss_on_storage(&d, storage).map(|_| ()));
        refusal.map_err(|e| match e {
            // The reason alone: the bench says which option, not that the GPU cannot run it.
            crate::gpu::GpuError::Unsupported(why) => format!("--div {s:?}: {why}"),
            e => format!("--div {s:?}: {e}"),
        })?;
        divs.push(d);
    }
    let (ctx, fallback) = match GpuContext::new() {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(format!("{e}; timing the CPU engine only"))),
    };
    let software = ctx.as_ref().is_some_and(|c| c.info().device_type == "Cpu");
    let n = args.rows.unwrap_or(if software { 64 } else { 512 });
    if n.checked_mul(v).is_none_or(|e| e > 1 << 31) {
        return Err(format!(
            "--rows {n} × --vocab {v} is over 2^31 logits; expected a smaller problem"
        ));
    }
    check_bytes(n, v, storage, ctx.as_ref(), PracticeBytes::of(&divs))?;
    // The CPU reference runs on the first rows and sees what the device sees: logits rounded to
    // --dtype's format.
    let cpu_rows = n.min((CPU_ELEMS / v).max(1));
    let (t_cpu, s_cpu) = {
        let (mut t, mut s) = (Vec::new(), Vec::new());
        Logits::new().fill(cpu_rows * v, &mut t, &mut s);
        let round = |x: Vec<f32>| x.into_iter().map(|y| storage.round(y)).collect::<Vec<_>>();
        (round(t), round(s))
    };
    let bar = progress::bar(divs.len() * (repeats + 2), "gpu bench");
    let rows = match &ctx {
        Some(c) => {
            bar.set_message(format!("generating and uploading {n} × {v} logits"));
            let mut stream = Logits::new();
            let opts = RowsOptions {
                storage,
                ..RowsOptions::default()
            };
            let fill = &mut |_row0: usize, rows: usize, t: &mut Vec<f32>, s: &mut Vec<f32>| {
                stream.fill(rows * v, t, s)
            };
            Some(
                c.upload_generated(n, v, &opts, PIECE_ELEMS, fill)
                    .map_err(|e| format!("gpu bench: {e}"))?,
            )
        }
        None => None,
    };
    let timestamps = ctx.as_ref().is_some_and(|c| c.info().timestamp_query);
    // The floor's denominator: a read+write copy of the size of the inputs.
    let copy = match &ctx {
        Some(c) => Some(
            c.copy_bandwidth((2 * n * v * storage.bytes()) as u64, repeats)
                .map_err(|e| format!("gpu bench: {e}"))?,
        ),
        None => None,
    };
    let copy_gbps = copy.map(|c| c.gbps);
    let mut results = Vec::new();
    for (i, div) in divs.iter().enumerate() {
        // Without a terminal (a log, a pipe) the bar is hidden: a line per divergence instead.
        if bar.is_hidden() {
            eprintln!("kdviz: gpu bench: {div} ({}/{})", i + 1, divs.len());
        }
        // What the kernels run: on bf16 rows precision=bf16 is the family alone.
        let runs = loss_on_storage(div, storage).map_err(|e| format!("gpu bench: {e}"))?;
        let mut p = loss_passes(&runs);
        let bytes_per_elem = match topk_bytes_per_row(&runs, v) {
            // The stored [N × k] teacher, not [N × V]: bytes per row over V.
            Ok(sparse) if runs.practice.support.k().is_some() => sparse.total() as f64 / v as f64,
            _ => loss_bytes_per_elem(&runs, storage) as f64,
        };
        bar.set_message(format!("{div}: CPU engine"));
        let cpu = cpu_time(div, &t_cpu, &s_cpu, n, v);
        bar.inc(1);
        bar.set_message(format!("{div}: GPU"));
        let quiet = RunOptions {
            read_grad: false,
            ..RunOptions::default()
        };
        let gpu = match &rows {
            None => None,
            Some(rows) => {
                // warm-up (pipeline compile, caches), with the values checked against the CPU rows
                let first = rows
                    .run_loss(div, 0, &quiet)
                    .map_err(|e| format!("gpu bench: {e}"))?;
                p = first.passes;
                bar.inc(1);
                let max_rel_err = cpu
                    .values
                    .iter()
                    .zip(&first.values)
                    .filter(|(c, _)| c.is_finite())
                    .map(|(c, g)| (f64::from(*g) - c).abs() / c.abs().max(1e-12))
                    .fold(0.0, f64::max);
                let mut ms = Vec::with_capacity(repeats);
                for _ in 0..repeats {
                    let w0 = Instant::now();
                    let out = rows
                        .run_loss(div, 0, &quiet)
                        .map_err(|e| format!("gpu bench: {e}"))?;
                    let wall = w0.elapsed().as_secs_f64() * 1e3;
                    ms.push(out.gpu_ms.unwrap_or(wall));
                    bar.inc(1);
                }
                let ms = median(ms);
                Some(GpuTiming {
                    ms,
                    gbps: bytes_per_elem * (n * v) as f64 / (ms * 1e-3) / 1e9,
                    max_rel_err,
                })
            }
        };
        results.push((div, p, bytes_per_elem, gpu, cpu));
        bar.set_position(((i + 1) * (repeats + 2)) as u64);
    }
    bar.finish_and_clear();

    let device = ctx.as_ref().map(|c| {
        let i = c.info();
        format!("{} ({}, {})", i.name, i.backend, i.device_type)
    });
    let timing = match (&ctx, timestamps) {
        (None, _) => "none",
        (Some(_), true) => "gpu-timestamps",
        (Some(_), false) => "wall-clock",
    };
    let model = format!(
        "bytes = passes × 2 inputs × {e} B + {e} B gradient write per element ({} storage); \
         practice options add the student's shaping (z read, z' written) and the chain rule \
         (gradient and, with softcap or std, z read; gradient written) per sweep; the teacher is \
         shaped once per setting, not counted",
        storage.name(),
        e = storage.bytes()
    );
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        let res: Vec<Value> = results
            .iter()
            .map(|(d, p, b, g, c)| {
                json!({
                    "divergence": d.to_string(),
                    "passes": p,
                    "bytes_per_elem": b,
                    "gpu_ms": opt(g.as_ref().map(|g| g.ms)),
                    "gpu_gbps": opt(g.as_ref().map(|g| g.gbps)),
                    "fraction_of_copy_bandwidth": opt(g.as_ref().zip(copy_gbps).map(|(g, c)| g.gbps / c)),
                    "max_rel_value_err_vs_cpu": opt(g.as_ref().map(|g| g.max_rel_err)),
                    "cpu_ms": num(c.ms_all_rows),
                    "cpu_rows_timed": c.rows_timed,
                })
            })
            .collect();
        out.line(
            &json!({
                "device": device,
                "fallback": fallback,
                "rows": n,
                "vocab": v,
                "dtype": storage.name(),
                "repeats": repeats,
                "timing": timing,
                "byte_model": model,
                "copy_gbps": opt(copy_gbps),
                "copy_bytes": copy.map(|c| c.bytes),
                "cpu": "f64 engine, single thread, softmax and practice steps included; timed on the first rows and scaled to all",
                "results": res,
                "skipped": skipped.iter().map(|(d, why)| json!({"divergence": d, "why": why})).collect::<Vec<_>>(),
            })
            .to_string(),
        )?;
        return out.finish();
    }
    match (&device, &fallback) {
        (Some(d), _) => out.line(&format!("GPU: {d}"))?,
        (None, Some(f)) => out.line(&format!("GPU: {f}"))?,
        (None, None) => {}
    }
    out.line(&format!(
        "{n} rows × {v} classes, {} storage; GPU time: {}",
        storage.name(),
        match timing {
            "gpu-timestamps" => format!("timestamps around the dispatch, median of {repeats} after a warm-up"),
            "wall-clock" => format!(
                "wall clock incl. submit and value read-back (no timestamp queries), median of {repeats}"
            ),
            _ => "n/a".into(),
        }
    ))?;
    out.line(&format!("byte model: {model}"))?;
    if let Some(c) = copy {
        out.line(&format!(
            "copy bandwidth: {:.1} GB/s (read+write {:.1} MB by a compute kernel, {}); % copy = \
             GB/s ÷ this",
            c.gbps,
            c.bytes as f64 / 1e6,
            if c.timestamps {
                "timestamps"
            } else {
                "wall clock"
            }
        ))?;
    }
    out.line(
        "CPU: the f64 engine, one thread, softmax and practice steps included; timed on the first \
         rows and scaled to all",
    )?;
    out.line(&format!(
        "{:<52} {:>6} {:>6} {:>10} {:>8} {:>7} {:>12} {:>9} {:>9}",
        "divergence",
        "passes",
        "B/elem",
        "GPU ms",
        "GB/s",
        "% copy",
        "CPU ms",
        "CPU rows",
        "max rel Δ"
    ))?;
    for (d, p, b, g, c) in &results {
        let (gms, gbps, err) = match g {
            Some(g) => (
                format!("{:.3}", g.ms),
                format!("{:.1}", g.gbps),
                format!("{:.1e}", g.max_rel_err),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let pct = match (g, copy_gbps) {
            (Some(g), Some(c)) => format!("{:.0}%", 100.0 * g.gbps / c),
            _ => "-".into(),
        };
        out.line(&format!(
            "{:<52} {:>6} {:>6} {:>10} {:>8} {:>7} {:>12.1} {:>9} {:>9}",
            d.to_string(),
            p,
            // Whole for the full rows; a top-k teacher's bytes per row spread over V are not.
            if b.fract() == 0.0 {
                format!("{b}")
            } else {
                format!("{b:.2}")
            },
            gms,
            gbps,
            pct,
            c.ms_all_rows,
            format!("{}/{n}", c.rows_timed),
            err
        ))?;
    }
    for (d, why) in &skipped {
        out.line(&format!("{d}: not timed ({why})"))?;
    }
    out.finish()
}
