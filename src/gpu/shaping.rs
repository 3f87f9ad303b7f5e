//! The practice options of full teacher rows on the device (practice.md §0.2 steps 1–4 and 7, §12.5):
//! `shaping.wgsl`'s `shape` writes a side's logits after storage rounding, soft-capping,
//! standardisation and its temperature into a scratch row that the family kernel reads in place of
//! the uploaded one; `chain` takes the family's gradient w.r.t. the shaped student back to the
//! stored logits and applies T². The teacher is shaped once per setting (it is fixed); the student
//! is shaped before and chained after every family dispatch.
//!
//! EA-KD with `std` weighs its row by the logits before standardisation (§7): `shape` keeps both
//! entropies at wt, `chain` swaps the family's weight for that one (the weight is detached).
//!
//! `support=sampled` draws on the CPU (u64/f64, §12.5): the teacher row after steps 1–4 in f64, the
//! sampler of `math::practice`, and the kernel gets the logits `ln(c/N)` (−∞ where c = 0).
//!
//! [`ShapeBinding`] works over any caller's chunks of rows (the bench's [`super::GpuRows`], later
//! the trainer's tensors): it owns only its scratch rows, uniforms and per-row statistics.

use super::device::GpuContext;
use super::loss::write_rows;
use super::{GpuError, Storage, WORKGROUP_SIZE, cpu_only};
use crate::math::Divergence;
use crate::math::practice::{Loss, Practice, Support, sampled_counts, seen_teacher};
use crate::math::precision::{Compute, Format};
use bytemuck::{Pod, Zeroable};

const SOURCE: &str = include_str!("shaping.wgsl");

/// `ShapeParams::fmt`: the device's storage as is (f32 or f16 storage under `precision=f32`).
const FMT_KEEP: u32 = 0;
const FMT_BF16: u32 = 1;
const FMT_F16: u32 = 2;
const FLAG_STD: u32 = 1;
const FLAG_CAP: u32 = 2;
/// EA-KD with std: the entropies at wt before and after standardisation (`shape`), the weight
/// swapped in `chain`.
const FLAG_ENT: u32 = 4;

/// The uniform block of `shaping.wgsl` (`ShapeParams`), 48 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
struct ShapeParams {
    n_rows: u32,
    v: u32,
    flags: u32,
    fmt: u32,
    cap: f32,
    temp: f32,
    scale: f32,
    inf_bits: u32,
    wt: f32,
    hub: f32,
    pad: [u32; 2],
}

/// Why `loss` does not run on the GPU, if it does not: top-k supports (not yet), `compute≠exact`
/// (a CPU emulation, §12.5), `precision=f64`, and the families no kernel runs.
pub fn loss_refusal(loss: &Loss) -> Result<(), GpuError> {
    cpu_only(&loss.family)?;
    let pr = &loss.practice;
    let fam = loss.family.name();
    let no = |m: String| Err(GpuError::Unsupported(m));
    if let Some(k) = pr.support.k() {
        return no(format!(
            "{fam}: support={},k={k} is not yet on the GPU; use the CPU engine",
            pr.support.name()
        ));
    }
    if pr.compute != Compute::Exact {
        return no(format!(
            "{fam}: compute={} emulates arithmetic in the stored formats on the CPU only \
             (practice.md §12.5); use compute=exact or the CPU engine",
            pr.compute.name()
        ));
    }
    for (key, f) in [("precision", pr.precision), ("tprecision", pr.tprecision)] {
        if f == Some(Format::F64) {
            return no(format!(
                "{fam}: {key}=f64: the GPU computes in f32; use f32/bf16/f16 or the CPU engine"
            ));
        }
    }
    Ok(())
}

/// Steps 1–4 of one side, as the kernel takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Side {
    fmt: u32,
    cap: Option<f64>,
    std: bool,
    temp: f64,
}

impl Side {
    fn new(pr: &Practice, fmt: Format, temp: f64) -> Option<Side> {
        let fmt = match fmt {
            Format::Bf16 => FMT_BF16,
            Format::F16 => FMT_F16,
            // f32 is what the device stores; f64 is refused by `loss_refusal`.
            Format::F32 | Format::F64 => FMT_KEEP,
        };
        let side = Side {
            fmt,
            cap: pr.softcap,
            std: pr.std,
            temp,
        };
        (side.fmt != FMT_KEEP || side.cap.is_some() || side.std || side.temp != 1.0).then_some(side)
    }

    /// The student side needs `chain` (rounding alone passes the gradient straight through).
    fn chains(&self) -> bool {
        self.cap.is_some() || self.std || self.temp != 1.0
    }

    fn params(
        &self,
        rows: usize,
        v: usize,
        scale: f64,
        entropy: Option<(f64, Option<f64>)>,
    ) -> ShapeParams {
        let mut flags = 0;
        if entropy.is_some() {
            flags |= FLAG_ENT;
        }
        if self.std {
            flags |= FLAG_STD;
        }
        if self.cap.is_some() {
            flags |= FLAG_CAP;
        }
        ShapeParams {
            n_rows: rows as u32,
            v: v as u32,
            flags,
            fmt: self.fmt,
            cap: self.cap.unwrap_or(1.0) as f32,
            temp: self.temp as f32,
            scale: scale as f32,
            inf_bits: f32::INFINITY.to_bits(),
            wt: entropy.map_or(1.0, |e| e.0) as f32,
            hub: entropy.map_or(1.0, |e| e.1.unwrap_or((v as f64).ln())) as f32,
            pad: [0; 2],
        }
    }
}

/// What runs around the family kernel for one [`Practice`] (full or sampled support).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShapePlan {
    /// Steps 1–4 of the teacher on the device; `None` with `sampled` or when nothing changes it.
    teacher: Option<Side>,
    /// `(n, seed)`: the teacher's logits come from the CPU sampler.
    sampled: Option<(usize, u64)>,
    student: Option<Side>,
    /// Step 7's factor (st² with t2, else 1).
    scale: f64,
    /// EA-KD with std: `(wt, hub)` of its row weight, which reads the logits before
    /// standardisation (§7) where the family kernel reads them after.
    entropy: Option<(f64, Option<f64>)>,
}

impl ShapePlan {
    pub(crate) fn new(loss: &Loss) -> ShapePlan {
        let pr = &loss.practice;
        let entropy = match loss.family {
            Divergence::Eakd {
                entropy_temperature,
                hub,
                ..
            } if pr.std => Some((entropy_temperature, hub)),
            _ => None,
        };
        let sampled = match pr.support {
            Support::Sampled { n, seed } => Some((n, seed)),
            _ => None,
        };
        let teacher = Side::new(pr, pr.teacher_format(), pr.teacher_temperature());
        let st = pr.student_temperature();
        ShapePlan {
            teacher: if sampled.is_some() { None } else { teacher },
            sampled,
            student: Side::new(pr, pr.student_format(), st),
            scale: if pr.t2 { st * st } else { 1.0 },
            entropy,
        }
    }

    /// The teacher's rows come from the CPU sampler ([`ShapeBinding::sample_teacher`]).
    pub(crate) fn sampled(&self) -> bool {
        self.sampled.is_some()
    }

    /// The family reads a scratch teacher row.
    fn teacher_scratch(&self) -> bool {
        self.teacher.is_some() || self.sampled.is_some()
    }

    fn chains(&self) -> bool {
        self.student.is_some_and(|s| s.chains()) || self.scale != 1.0
    }

    /// Sweeps over a row per run besides the family's: the student's shaping (a Welford sweep
    /// first with std, two per entropy for EA-KD's weight) and the chain rule (a reduction sweep
    /// first with std).
    pub(crate) fn sweeps(&self) -> u32 {
        let std = self.student.is_some_and(|s| s.std);
        let shape = u32::from(self.student.is_some()) * if std { 2 } else { 1 }
            + if self.entropy.is_some() { 4 } else { 0 };
        let chain = u32::from(self.chains()) * if std { 2 } else { 1 };
        shape + chain
    }

    /// Device bytes per logit of one run: the family's passes over both rows and its gradient
    /// write, then the student's shaping (reads of z, a write of z') and the chain rule (reads
    /// of the gradient and, with softcap or std, of z; a write of the gradient).
    pub(crate) fn bytes_per_elem(&self, family_passes: u32, elem: usize) -> usize {
        let mut b = (family_passes as usize * 2 + 1) * elem;
        if let Some(s) = self.student {
            b += if s.std { 3 } else { 2 } * elem;
        }
        if self.entropy.is_some() {
            b += 4 * elem;
        }
        if self.chains() {
            let s = self.student;
            let reads_z = s.is_some_and(|s| s.cap.is_some() || s.std);
            let sweeps = if s.is_some_and(|s| s.std) { 2 } else { 1 };
            b += sweeps * (1 + usize::from(reads_z)) * elem + elem;
        }
        b
    }
}

/// Device bytes per logit of one run of `loss` with its practice options (see
/// [`ShapePlan::bytes_per_elem`]); the teacher's shaping runs once per setting and is not counted.
pub fn loss_bytes_per_elem(loss: &Loss, storage: Storage) -> usize {
    ShapePlan::new(loss).bytes_per_elem(super::passes(&loss.family), storage.bytes())
}

/// Scratch rows per row of logits that the practice steps of `loss` hold on the device (the
/// shaped teacher, the shaped student).
pub fn loss_scratch_rows(loss: &Loss) -> usize {
    let plan = ShapePlan::new(loss);
    usize::from(plan.teacher_scratch()) + usize::from(plan.student.is_some())
}

/// Sweeps over the logits of one run of `loss` (the family's and the practice steps').
pub fn loss_passes(loss: &Loss) -> u32 {
    super::passes(&loss.family) + ShapePlan::new(loss).sweeps()
}

/// `shaping.wgsl` for one storage type: the element type, the constants, the shader.
fn shader_source(storage: Storage) -> String {
    let decl = storage.wgsl_elem();
    let consts = [
        ("FMT_KEEP", FMT_KEEP),
        ("FMT_BF16", FMT_BF16),
        ("FMT_F16", FMT_F16),
        ("FLAG_STD", FLAG_STD),
        ("FLAG_CAP", FLAG_CAP),
        ("FLAG_ENT", FLAG_ENT),
    ]
    .iter()
    .map(|(k, v)| format!("const {k}: u32 = {v}u;\n"))
    .collect::<String>();
    format!("{decl}\n{consts}{SOURCE}")
}

/// The layout and the two pipelines per storage, compiled on first use.
pub(crate) struct ShapeKernels {
    bgl: wgpu::BindGroupLayout,
    layout: wgpu::PipelineLayout,
    pipes: std::sync::Mutex<std::collections::HashMap<Storage, ShapePipes>>,
}

#[derive(Clone)]
struct ShapePipes {
    shape: wgpu::ComputePipeline,
    chain: wgpu::ComputePipeline,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl ShapeKernels {
    pub(crate) fn new(device: &wgpu::Device) -> ShapeKernels {
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        entries.push(storage_entry(1, true));
        entries.extend([2, 3, 4, 5].map(|b| storage_entry(b, false)));
        entries.push(storage_entry(6, true));
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("kdviz shaping"),
            entries: &entries,
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("kdviz shaping"),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        ShapeKernels {
            bgl,
            layout,
            pipes: Default::default(),
        }
    }
}

impl GpuContext {
    fn shape_pipes(&self, storage: Storage) -> Result<ShapePipes, GpuError> {
        let k = &self.kernels.shaping;
        let mut pipes = k.pipes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipes.get(&storage) {
            return Ok(p.clone());
        }
        let src = shader_source(storage);
        let module = self.scoped("compiling shaping.wgsl", || {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some("kdviz shaping.wgsl"),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                })
        })?;
        let pipe = |entry: &str| {
            self.scoped("creating the shaping pipelines", || {
                self.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some("kdviz shaping"),
                        layout: Some(&k.layout),
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants: &[],
                            zero_initialize_workgroup_memory: false,
                        },
                        cache: None,
                    })
            })
        };
        let p = ShapePipes {
            shape: pipe("shape")?,
            chain: pipe("chain")?,
        };
        pipes.insert(storage, p.clone());
        Ok(p)
    }

    /// Binds the practice steps of `loss` (full or sampled support; see [`loss_refusal`]) to
    /// the caller's chunks of `v`-class rows. The teacher's scratch rows are filled by
    /// [`ShapeBinding::shape_teacher`] (or [`ShapeBinding::sample_teacher`] with `support=sampled`).
    pub(crate) fn bind_shaping(
        &self,
        loss: &Loss,
        storage: Storage,
        targets: &[ShapeTarget<'_>],
        v: usize,
    ) -> Result<ShapeBinding, GpuError> {
        use wgpu::BufferUsages as U;
        // shaping.wgsl addresses its rows one element at a time: packed bf16 pairs would be read
        // as integers. Refused here, where every caller passes.
        if storage == Storage::Bf16 {
            return Err(GpuError::Unsupported(format!(
                "{}: the practice steps shape f32 or f16 rows, not bf16 storage",
                loss.label()
            )));
        }
        let plan = ShapePlan::new(loss);
        let pipes = self.shape_pipes(storage)?;
        let bgl = &self.kernels.shaping.bgl;
        // A side's scratch rows (the sampled teacher's without a bind group: the host writes them).
        // `tstats`: the teacher's statistics, which the student's chain reads (EA-KD).
        let side = |t: &ShapeTarget<'_>, teacher: bool, tstats: Option<&wgpu::Buffer>| {
            let (raw, s, scale) = if teacher {
                (t.teacher, plan.teacher, 1.0)
            } else {
                (t.student, plan.student, plan.scale)
            };
            if s.is_none() && !(teacher && plan.teacher_scratch()) {
                return None;
            }
            let elems = t.rows * v * storage.bytes();
            let rows = self.buffer(
                "kdviz shaped rows",
                elems,
                U::STORAGE | U::COPY_DST | U::COPY_SRC,
            );
            let stats = self.buffer("kdviz shaping stats", t.rows * 32, U::STORAGE);
            let none = self.buffer("kdviz shaping (no teacher stats)", 32, U::STORAGE);
            let params = self.buffer(
                "kdviz shaping params",
                size_of::<ShapeParams>(),
                U::UNIFORM | U::COPY_DST,
            );
            let bind = s.map(|s| {
                let p = s.params(t.rows, v, scale, plan.entropy);
                self.queue.write_buffer(&params, 0, bytemuck::bytes_of(&p));
                // Without the teacher's (its own side, or no teacher side): unread, but a
                // binding of its own (one buffer cannot be bound read-write and read-only).
                let tstats = tstats.unwrap_or(&none);
                self.bind_buffers(
                    "kdviz shaping",
                    bgl,
                    &[&params, raw, &rows, &stats, t.grad, t.values, tstats],
                )
            });
            Some(ShapeSide {
                rows,
                bind,
                _keep: [params, stats, none],
            })
        };
        // t2 scales by st², and st ≠ 1 makes a student side: the chain always has its bind group.
        self.scoped("binding the practice steps", || {
            let chunks = targets
                .iter()
                .map(|t| {
                    let teacher = side(t, true, None);
                    let student = side(t, false, teacher.as_ref().map(|s| &s._keep[1]));
                    ShapeChunk {
                        rows: t.rows as u32,
                        teacher,
                        student,
                    }
                })
                .collect();
            ShapeBinding {
                plan,
                storage,
                pipes,
                chunks,
                v,
                max_wg: self.info.max_compute_workgroups_per_dimension.max(1),
            }
        })
    }
}

/// One chunk of rows of the caller's tensors: the uploaded (or computed) logits, the gradient the
/// family writes and the per-row values.
pub(crate) struct ShapeTarget<'a> {
    pub rows: usize,
    pub teacher: &'a wgpu::Buffer,
    pub student: &'a wgpu::Buffer,
    pub grad: &'a wgpu::Buffer,
    pub values: &'a wgpu::Buffer,
}

struct ShapeSide {
    /// The shaped logits, in the storage type.
    rows: wgpu::Buffer,
    /// `shape` (and for the student `chain`) over this chunk; `None` for a sampled teacher.
    bind: Option<wgpu::BindGroup>,
    /// The uniform and the per-row statistics (the student's chain reads the teacher's).
    _keep: [wgpu::Buffer; 3],
}

struct ShapeChunk {
    rows: u32,
    teacher: Option<ShapeSide>,
    student: Option<ShapeSide>,
}

/// The practice steps bound to a caller's chunks (see [`GpuContext::bind_shaping`]).
pub(crate) struct ShapeBinding {
    plan: ShapePlan,
    storage: Storage,
    pipes: ShapePipes,
    chunks: Vec<ShapeChunk>,
    v: usize,
    max_wg: u32,
}

impl ShapeBinding {
    pub(crate) fn plan(&self) -> &ShapePlan {
        &self.plan
    }

    /// The shaped teacher of chunk `i` for the family kernel, `None`: the caller's own.
    pub(crate) fn teacher(&self, i: usize) -> Option<&wgpu::Buffer> {
        self.chunks.get(i)?.teacher.as_ref().map(|s| &s.rows)
    }

    /// The shaped student of chunk `i` for the family kernel, `None`: the caller's own.
    pub(crate) fn student(&self, i: usize) -> Option<&wgpu::Buffer> {
        self.chunks.get(i)?.student.as_ref().map(|s| &s.rows)
    }

    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass,
        pipe: &wgpu::ComputePipeline,
        rows: u32,
        bind: &wgpu::BindGroup,
    ) {
        let x = rows.min(self.max_wg).max(1);
        pass.set_pipeline(pipe);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(x, rows.div_ceil(x), 1);
    }

    /// Steps 1–4 of the teacher, every chunk, in one submission (once per setting).
    pub(crate) fn shape_teacher(&self, ctx: &GpuContext) -> Result<(), GpuError> {
        if self.plan.teacher.is_none() {
            return Ok(());
        }
        ctx.scoped("shaping the teacher", || {
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kdviz shaping the teacher"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kdviz shaping the teacher"),
                    timestamp_writes: None,
                });
                for c in &self.chunks {
                    if let Some(bind) = c.teacher.as_ref().and_then(|s| s.bind.as_ref()) {
                        self.dispatch(&mut pass, &self.pipes.shape, c.rows, bind);
                    }
                }
            }
            ctx.queue.submit([enc.finish()]);
        })
    }

    /// `support=sampled`: draws the counts of every row on the CPU from `raw` (the uploaded
    /// teacher logits, row-major, rows in chunk order), the row of chunk row r of the whole tensor
    /// on sampler stream `stream0 + r`, and writes the logits `ln(c/N)` to the teacher's rows.
    /// Returns those logits (the host's copy, for aux words that read the teacher); nothing
    /// without `support=sampled`.
    pub(crate) fn sample_teacher(
        &self,
        ctx: &GpuContext,
        practice: &Practice,
        raw: &[f32],
        stream0: u64,
    ) -> Result<Vec<f32>, GpuError> {
        let Some((n, seed)) = self.plan.sampled else {
            return Ok(Vec::new());
        };
        let v = self.v;
        let logits = sampled_logits(practice, raw, v, n, seed, stream0);
        let mut row0 = 0;
        ctx.scoped("writing the sampled teacher", || {
            for c in &self.chunks {
                let rows = c.rows as usize;
                if let Some(t) = &c.teacher {
                    let range = row0 * v..(row0 + rows) * v;
                    write_rows(ctx, &t.rows, 0, &logits[range], v, self.storage);
                }
                row0 += rows;
            }
        })?;
        Ok(logits)
    }

    /// The student's steps 1–4 of chunk `i` (before the family kernel).
    pub(crate) fn dispatch_student(&self, pass: &mut wgpu::ComputePass, i: usize) {
        let Some(c) = self.chunks.get(i) else { return };
        if let Some(bind) = c.student.as_ref().and_then(|s| s.bind.as_ref()) {
            self.dispatch(pass, &self.pipes.shape, c.rows, bind);
        }
    }

    /// The chain rule and T² of chunk `i` (after the family kernel).
    pub(crate) fn dispatch_chain(&self, pass: &mut wgpu::ComputePass, i: usize) {
        if !self.plan.chains() {
            return;
        }
        let Some(c) = self.chunks.get(i) else { return };
        if let Some(bind) = c.student.as_ref().and_then(|s| s.bind.as_ref()) {
            self.dispatch(pass, &self.pipes.chain, c.rows, bind);
        }
    }
}

/// The sampled teacher's logits `ln(c/N)` (−∞ for c = 0) of every row of `raw`: steps 1–4 in f64
/// ([`seen_teacher`]), then the sampler on stream `stream0 + row`; rows split over threads.
fn sampled_logits(
    practice: &Practice,
    raw: &[f32],
    v: usize,
    n: usize,
    seed: u64,
    stream0: u64,
) -> Vec<f32> {
    let rows = raw.len() / v.max(1);
    let mut out = vec![0f32; rows * v];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let per = rows.div_ceil(threads).max(1);
    let ln_n = (n as f64).ln();
    std::thread::scope(|s| {
        for (i, chunk) in out.chunks_mut(per * v).enumerate() {
            s.spawn(move || {
                let mut counts = Vec::new();
                let mut row = Vec::with_capacity(v);
                for (j, o) in chunk.chunks_exact_mut(v).enumerate() {
                    let r = i * per + j;
                    row.clear();
                    row.extend(raw[r * v..(r + 1) * v].iter().map(|&x| f64::from(x)));
                    let p = seen_teacher(practice, &row);
                    sampled_counts(&p.p, n, seed, stream0.wrapping_add(r as u64), &mut counts);
                    for (o, &c) in o.iter_mut().zip(&counts) {
                        *o = if c > 0 {
                            (f64::from(c).ln() - ln_n) as f32
                        } else {
                            f32::NEG_INFINITY
                        };
                    }
                }
            });
        }
    });
    out
}

// The workgroup size in shaping.wgsl is a literal; keep the two in step.
const _: () = assert!(WORKGROUP_SIZE == 256);

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(spec: &str) -> ShapePlan {
        ShapePlan::new(&spec.parse::<Loss>().unwrap())
    }

    #[test]
    fn sweeps_count_what_runs_around_the_family() {
        // Teacher-only options cost nothing per run.
        assert_eq!(plan("fkl:tt=2").sweeps(), 0);
        assert_eq!(plan("fkl:tprecision=bf16").sweeps(), 0);
        assert_eq!(plan("fkl:support=sampled").sweeps(), 0);
        // Rounding the student: a shaping sweep, no chain.
        assert_eq!(plan("fkl:precision=bf16").sweeps(), 1);
        assert_eq!(plan("fkl:st=2").sweeps(), 2);
        assert_eq!(plan("fkl:std=true").sweeps(), 4);
        // Bytes: fkl's 2 passes × 2 rows + 1 gradient write, then z → z' and g' → g.
        assert_eq!(plan("fkl:st=2").bytes_per_elem(2, 4), (5 + 2 + 2) * 4);
        // softcap reads z again in the chain.
        assert_eq!(plan("fkl:softcap=5").bytes_per_elem(2, 4), (5 + 2 + 3) * 4);
        assert_eq!(plan("fkl:std=true").bytes_per_elem(2, 2), (5 + 3 + 5) * 2);
        assert_eq!(plan("fkl:tt=2").bytes_per_elem(2, 4), 5 * 4);
    }

    #[test]
    fn refusals_name_the_option() {
        let refuse = |s: &str| loss_refusal(&s.parse().unwrap()).unwrap_err().to_string();
        assert!(refuse("fkl:support=topk,k=4").contains("support=topk,k=4 is not yet on the GPU"));
        assert!(refuse("fkl:precision=f64").contains("precision=f64: the GPU computes in f32"));
        assert!(refuse("fkl:tprecision=f64").contains("tprecision=f64"));
        assert!(refuse("fkl:compute=naive,precision=bf16").contains("compute=naive"));
        assert!(loss_refusal(&"eakd:std=true".parse().unwrap()).is_ok());
        // EA-KD's two entropies at wt before the student's shaping writes.
        assert_eq!(plan("eakd:std=true").sweeps(), 2 + 4 + 2);
        assert!(loss_refusal(&"jsd:beta=0.5,support=sampled,n=16".parse().unwrap()).is_ok());
    }
}
