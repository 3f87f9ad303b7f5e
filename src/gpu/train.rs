//! The GPU side of the real-model trainer (`real::train` drives it): every tensor stays on the device;
//! one submission per epoch runs the previous epoch's backward (low-rank: `dH = G·Wᵀ`, `dW = Hᵀ·G`
//! by `matmul.wgsl` with split-K partials) and Adam (`adam.wgsl`, which also sums the partials),
//! then the forward (low-rank: `S = H·W`), the loss kernel (`loss.wgsl`, bound to the trainer's
//! buffers) and the metrics kernel (`metrics.wgsl`). Only the per-row values and metrics (7 floats
//! per row) come back each epoch.
//!
//! Fused epoch (`fused.rs`, [`TrainSetup::fuse`]): for a family without practice options on the
//! full teacher, the loss kernel also runs the free student's Adam (in its first pass) and the
//! metrics (in its gradient pass): one kernel per chunk and epoch for a free student, and no
//! metrics kernel for a low-rank one.
//!
//! Chunks: every `[N × V]` tensor (teacher, gradient, student logits, the free student's Adam
//! moments) is stored as chunks of whole rows, one buffer each, within the device's binding limit
//! ([`GpuContext::max_binding_bytes`]; see `chunks.rs`), and every kernel that touches them runs
//! per chunk. The loss, the metrics and the free student's Adam are per row or per element, so
//! their results do not depend on the chunking. The low-rank matmuls take the chunk's rows of `H`
//! by offset and write `dH`'s rows at the chunk's offset; the first chunk writes the split-K
//! partials of `dW`, the later ones add their splits to them (`add_c` of `matmul.wgsl`), and Adam
//! sums the partials: with several chunks `dW` is summed in another order than with one, within
//! the tests' tolerances. With one chunk every result is bit for bit what it was before chunking.
//!
//! Refused with [`GpuError::Unsupported`] (the caller falls back to the CPU): a row over one
//! binding; `H`, `W` or the partials over one binding; more bytes than the device's memory
//! ([`GpuContext::memory_budget`]), or buffers it cannot allocate, with the bytes needed named.

use super::chunks::row_chunks;
use super::device::{GpuContext, GpuInfo};
use super::fused::{EpochParams, EpochTarget};
use super::loss::{LossBinding, LossTarget};
use super::shaping::{ShapeBinding, ShapeTarget, loss_scratch_rows};
use super::topk::{StoredRows, TopKBinding, TopKTarget};
use super::{GpuError, Storage};
use crate::math::Divergence;
use crate::math::practice::{Loss, Practice};
use bytemuck::{Pod, Zeroable};

/// `adam.wgsl` and `metrics.wgsl` after the terms they share with the fused epoch; adam.wgsl defines
/// no `is_ninf`, which only the metric terms call.
const ADAM_SOURCE: &str = concat!(
    "fn is_ninf(x: f32) -> bool { return bitcast<u32>(x) == 0xff800000u; }\n",
    include_str!("epoch_terms.wgsl"),
    include_str!("adam.wgsl")
);
const METRICS_SOURCE: &str = concat!(
    include_str!("epoch_terms.wgsl"),
    include_str!("metrics.wgsl")
);

/// Output tile of `matmul.wgsl` (square).
const TILE: usize = 64;
/// Workgroups a matmul should have at least, to fill a large GPU (split-K makes them).
const MIN_GROUPS: usize = 512;

/// The student's initial parameters.
pub(crate) enum TrainStudent<'a> {
    Free {
        init: &'a [f32],
    },
    LowRank {
        rank: usize,
        h: &'a [f32],
        w: &'a [f32],
    },
}

/// What the trainer uploads once.
pub(crate) struct TrainSetup<'a> {
    pub n: usize,
    pub v: usize,
    pub teacher: &'a [f32],
    pub student: TrainStudent<'a>,
    /// The family and its practice options: a top-k support's (`topk` must then be given), or
    /// those of full rows that `shaping.rs` runs (see [`super::loss_refusal`]).
    pub loss: Loss,
    /// The teacher as its top k per row, which a top-k support reads instead of `teacher` (the
    /// metrics still read `teacher`).
    pub topk: Option<StoredRows<'a>>,
    /// Hinton's hard label per row.
    pub labels: &'a [u32],
    /// Per row: metrics-head threshold bits, cut index, teacher argmax, the teacher's max logit bits
    /// and the log of its rescaled exponential sum (bits): 5 words.
    pub metric_aux: &'a [u32],
    /// Fuse the free student's Adam and the metrics into the family's loss kernel (`fused.rs`)
    /// where the loss and the device allow; false: separate kernels.
    pub fuse: bool,
}

/// Adam's constants for one step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamConsts {
    pub b1: f32,
    pub b2: f32,
    pub eps: f32,
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub gscale: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    kps: u32,
    a_rs: u32,
    a_cs: u32,
    b_rs: u32,
    b_cs: u32,
    a_off: u32,
    b_off: u32,
    c_off: u32,
    c_zs: u32,
    add_c: u32,
    pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamParams {
    count: u32,
    splits: u32,
    stride: u32,
    pad0: u32,
    gscale: f32,
    b1: f32,
    b2: f32,
    step_size: f32,
    bc2_sqrt: f32,
    eps: f32,
    pad: [f32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MetricsParams {
    n_rows: u32,
    v: u32,
    want_ce: u32,
    inf_bits: u32,
}

/// `(splits, k per split)` for a matmul with an `m × n` output and inner size `k`: enough
/// workgroups to fill the device, at least 256 of k per split.
fn split_k(m: usize, n: usize, k: usize) -> (usize, usize) {
    let tiles = m.div_ceil(TILE) * n.div_ceil(TILE);
    let splits = MIN_GROUPS
        .div_ceil(tiles.max(1))
        .clamp(1, k.div_ceil(256).max(1));
    let kps = k.div_ceil(splits).next_multiple_of(16).max(16);
    (k.div_ceil(kps).max(1), kps)
}

/// Split-K factors of the two backward matmuls of a rank-`d` student: `(dH, dW)`.
pub(crate) fn train_splits(n: usize, v: usize, d: usize) -> (usize, usize) {
    (split_k(n, d, v).0, split_k(d, v, n).0)
}

/// A matmul bound to its buffers.
struct Matmul {
    bind: wgpu::BindGroup,
    groups: [u32; 3],
    /// Kept alive for the bind group.
    _params: wgpu::Buffer,
}

/// Adam bound to a parameter tensor.
struct Adam {
    bind: wgpu::BindGroup,
    /// The moments, kept with their bind group.
    _moments: [wgpu::Buffer; 2],
    params: wgpu::Buffer,
    count: usize,
    splits: usize,
    groups: [u32; 2],
}

struct Pipes {
    matmul: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    metrics: wgpu::ComputePipeline,
}

/// The low-rank student's kernels on one chunk of rows: `S_c = H_c·W`, `dH_c = G_c·Wᵀ` and this
/// chunk's split-K partials of `dW = Hᵀ·G`.
struct ChunkMatmuls {
    fwd: Matmul,
    dh: Matmul,
    dw: Matmul,
}

/// One chunk of rows of the `[N × V]` tensors and the kernels bound to it.
struct Chunk {
    row0: usize,
    rows: usize,
    /// The student's logits: the free student's parameters, or the low-rank student's `S = H·W`.
    logits: wgpu::Buffer,
    /// The free student's Adam on this chunk's logits.
    adam: Option<Adam>,
    /// The low-rank student's matmuls on this chunk.
    mm: Option<ChunkMatmuls>,
    metrics_params: wgpu::Buffer,
    metrics_bind: wgpu::BindGroup,
    metrics_out: wgpu::Buffer,
    teacher: wgpu::Buffer,
    grad: wgpu::Buffer,
    /// Bound in the metrics' bind groups; kept for the trainer's lifetime.
    metrics_aux: wgpu::Buffer,
}

/// The low-rank student's Adam on `H` and `W` (whose gradients sum every chunk's partials).
struct LowRankAdam {
    adam_h: Adam,
    adam_w: Adam,
    /// `H`, `W` and the partials of `dH`, `dW`, bound in the chunks' matmuls.
    _buffers: [wgpu::Buffer; 4],
}

/// What computes an epoch's values and gradient: the family's kernel on the full teacher, the
/// practice steps of full rows around it (`shaping.rs`), or the top-k kernels on the stored
/// teacher (`gpu/topk`).
enum LossStage {
    Family(LossBinding),
    Shaped(ShapedLoss),
    TopK(TopKBinding),
}

/// The practice steps bound to the trainer's chunks, and the family bound to their scratch rows
/// (the shaped teacher and student) and to the per-row values that the chain rule scales.
struct ShapedLoss {
    shape: ShapeBinding,
    family: LossBinding,
    practice: Practice,
}

impl LossStage {
    /// New parameters of the bound family (TAID's t); a top-k loss is fixed for the run.
    fn set_div(&self, ctx: &GpuContext, div: &Divergence) {
        match self {
            LossStage::Family(b) => b.set_div(ctx, div),
            LossStage::Shaped(b) => b.family.set_div(ctx, div),
            LossStage::TopK(_) => {}
        }
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass, i: usize) {
        match self {
            LossStage::Family(b) => b.dispatch(pass, i),
            LossStage::Shaped(b) => {
                b.shape.dispatch_student(pass, i);
                b.family.dispatch(pass, i);
                b.shape.dispatch_chain(pass, i);
            }
            LossStage::TopK(b) => b.dispatch(pass, i),
        }
    }

    fn copy_values(&self, enc: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        match self {
            LossStage::Family(b) => b.copy_values(enc, dst),
            LossStage::Shaped(b) => b.family.copy_values(enc, dst),
            LossStage::TopK(b) => b.copy_values(enc, dst),
        }
    }
}

/// Binds `s.loss`'s practice steps to the trainer's chunks and the family to their scratch rows;
/// the teacher is shaped here, once (a sampled one every epoch: [`Trainer::sample_teacher`]).
fn bind_shaped(ctx: &GpuContext, s: &TrainSetup, chunks: &[Chunk]) -> Result<ShapedLoss, GpuError> {
    use wgpu::BufferUsages as U;
    let (n, v) = (s.n, s.v);
    if let Some(i) = s.teacher.iter().position(|x| !x.is_finite()) {
        return Err(GpuError::Unsupported(format!(
            "{}: teacher logit [{}, {}] is not finite; the GPU's practice options need finite              logits",
            s.loss,
            i / v.max(1),
            i % v.max(1)
        )));
    }
    let values: Vec<wgpu::Buffer> = ctx.scoped("allocating the trainer's buffers", || {
        chunks
            .iter()
            .map(|c| ctx.buffer("kdviz train values", c.rows * 4, U::STORAGE | U::COPY_SRC))
            .collect()
    })?;
    let targets: Vec<ShapeTarget> = chunks
        .iter()
        .zip(&values)
        .map(|(c, values)| ShapeTarget {
            rows: c.rows,
            teacher: &c.teacher,
            student: &c.logits,
            grad: &c.grad,
            values,
        })
        .collect();
    let shape = ctx.bind_shaping(&s.loss, Storage::F32, &targets, v)?;
    shape.shape_teacher(ctx)?;
    let targets: Vec<LossTarget> = chunks
        .iter()
        .enumerate()
        .zip(&values)
        .map(|((i, c), values)| LossTarget {
            row0: c.row0,
            rows: c.rows,
            teacher: shape.teacher(i).unwrap_or(&c.teacher),
            student: shape.student(i).unwrap_or(&c.logits),
            grad: &c.grad,
            values: Some(values),
        })
        .collect();
    let family = ctx.bind_loss(&s.loss.family, s.teacher, s.labels, &targets, n, v)?;
    // AKL's head and ULD's order read the teacher the kernel reads: the shaped one.
    if family.reads_teacher() && !shape.plan().sampled() && shape.teacher(0).is_some() {
        let shaped = read_chunks(ctx, chunks, n, v, |i, _| shape.teacher(i))?;
        family.set_teacher(ctx, &shaped, n, v);
    }
    Ok(ShapedLoss {
        shape,
        family,
        practice: s.loss.practice,
    })
}

/// `[N × V]` f32 rows from one buffer per chunk (`pick`: chunk index and chunk to its buffer),
/// read back a chunk at a time (the host maps at most one chunk).
fn read_chunks<'b>(
    ctx: &GpuContext,
    chunks: &'b [Chunk],
    n: usize,
    v: usize,
    pick: impl Fn(usize, &'b Chunk) -> Option<&'b wgpu::Buffer>,
) -> Result<Vec<f32>, GpuError> {
    use wgpu::BufferUsages as U;
    let mut out = vec![0f32; n * v];
    for (i, c) in chunks.iter().enumerate() {
        let Some(src) = pick(i, c) else { continue };
        let e = c.rows * v;
        let read = ctx.scoped("reading rows back", || {
            let read = ctx.buffer("kdviz rows read", e * 4, U::MAP_READ | U::COPY_DST);
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            enc.copy_buffer_to_buffer(src, 0, &read, 0, Some(e as u64 * 4));
            ctx.queue.submit([enc.finish()]);
            read
        })?;
        ctx.read_back(&[&read], |_, bytes| {
            decode(bytes, &mut out[c.row0 * v..(c.row0 + c.rows) * v]);
        })?;
    }
    Ok(out)
}

/// Tensors resident on the device for one training run.
pub(crate) struct Trainer<'c> {
    ctx: &'c GpuContext,
    n: usize,
    v: usize,
    pipes: Pipes,
    chunks: Vec<Chunk>,
    lowrank: Option<LowRankAdam>,
    loss: LossStage,
    values_read: wgpu::Buffer,
    metrics_read: wgpu::Buffer,
    /// Adam constants of a step not yet submitted (runs at the start of the next forward).
    pending: Option<AdamConsts>,
    max_wg: u32,
    /// Whether the metrics kernel runs (it reads the full teacher).
    metrics: bool,
    /// The fused epoch's parameters when the loss kernel runs Adam and the metrics
    /// (`fused.rs`); its two stand-in moments for a low-rank student.
    fused: Option<(wgpu::Buffer, [wgpu::Buffer; 2])>,
}

fn compile(ctx: &GpuContext, label: &str, src: &str) -> wgpu::ComputePipeline {
    let module = ctx
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        });
    ctx.device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &[],
                // every workgroup variable is written before it is read
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        })
}

impl Pipes {
    fn new(ctx: &GpuContext) -> Result<Pipes, GpuError> {
        ctx.scoped("compiling the trainer kernels", || Pipes {
            matmul: compile(ctx, "kdviz matmul", include_str!("matmul.wgsl")),
            adam: compile(ctx, "kdviz adam", ADAM_SOURCE),
            metrics: compile(ctx, "kdviz metrics", METRICS_SOURCE),
        })
    }
}

fn bind(
    ctx: &GpuContext,
    pipe: &wgpu::ComputePipeline,
    label: &str,
    bufs: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    ctx.bind_buffers(label, &pipe.get_bind_group_layout(0), bufs)
}

/// A 2-D grid of `groups` workgroups within the per-dimension limit.
fn grid(groups: usize, max_wg: u32) -> [u32; 2] {
    let x = (groups as u32).min(max_wg).max(1);
    [x, (groups as u32).div_ceil(x).max(1)]
}

/// Which operand is transposed: `A` is `[m × k]` stored row-major, or `[k × m]` when `ta`.
#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
}

/// Where a matmul reads and writes in its buffers (elements) and how it splits k.
#[derive(Clone, Copy)]
struct Placement {
    a_off: usize,
    b_off: usize,
    c_off: usize,
    /// Elements between split-K partials in `C`.
    c_zs: usize,
    /// k per split: the same for every chunk, so that a row's partials cover the same k.
    kps: usize,
    /// Adds to `C` instead of writing it (the chunks after the first of `dW`).
    add_c: bool,
}

impl Placement {
    /// Whole buffers, split as [`split_k`] says.
    fn whole(sh: Shape) -> Placement {
        Placement {
            a_off: 0,
            b_off: 0,
            c_off: 0,
            c_zs: sh.m * sh.n,
            kps: split_k(sh.m, sh.n, sh.k).1,
            add_c: false,
        }
    }
}

impl GpuContext {
    fn check_size(&self, what: &str, elems: usize) -> Result<(), GpuError> {
        let limit = self.max_binding_bytes();
        let bytes = elems as u64 * 4;
        if bytes > limit || elems > u32::MAX as usize {
            return Err(GpuError::Unsupported(format!(
                "{what} takes {bytes} bytes; this device binds at most {limit} bytes per buffer \
                 (use fewer positions or a smaller vocabulary)"
            )));
        }
        Ok(())
    }

    fn storage(&self, label: &str, data: Option<&[f32]>, elems: usize) -> wgpu::Buffer {
        use wgpu::BufferUsages as U;
        let b = self.buffer(
            label,
            elems.max(1) * 4,
            U::STORAGE | U::COPY_DST | U::COPY_SRC,
        );
        if let Some(d) = data {
            self.queue.write_buffer(&b, 0, bytemuck::cast_slice(d));
        }
        b
    }

    fn bind_matmul(
        &self,
        pipe: &wgpu::ComputePipeline,
        sh: Shape,
        at: Placement,
        [a, b, c]: [&wgpu::Buffer; 3],
    ) -> Result<Matmul, GpuError> {
        use wgpu::BufferUsages as U;
        let splits = sh.k.div_ceil(at.kps).max(1);
        let (a_rs, a_cs) = if sh.ta { (1, sh.m) } else { (sh.k, 1) };
        let (b_rs, b_cs) = if sh.tb { (1, sh.k) } else { (sh.n, 1) };
        let p = MatmulParams {
            m: sh.m as u32,
            n: sh.n as u32,
            k: sh.k as u32,
            kps: at.kps as u32,
            a_rs: a_rs as u32,
            a_cs: a_cs as u32,
            b_rs: b_rs as u32,
            b_cs: b_cs as u32,
            a_off: at.a_off as u32,
            b_off: at.b_off as u32,
            c_off: at.c_off as u32,
            c_zs: at.c_zs as u32,
            add_c: u32::from(at.add_c),
            pad: [0; 3],
        };
        let groups = [sh.n.div_ceil(TILE), sh.m.div_ceil(TILE), splits];
        let max_wg = self.info.max_compute_workgroups_per_dimension as usize;
        if groups.iter().any(|&g| g > max_wg) {
            return Err(GpuError::Unsupported(format!(
                "a {} × {} matmul needs {groups:?} workgroups; this device allows {max_wg} per \
                 dimension",
                sh.m, sh.n
            )));
        }
        let params = self.buffer(
            "kdviz matmul params",
            size_of::<MatmulParams>(),
            U::UNIFORM | U::COPY_DST,
        );
        self.queue.write_buffer(&params, 0, bytemuck::bytes_of(&p));
        Ok(Matmul {
            bind: bind(self, pipe, "kdviz matmul", &[&params, a, b, c]),
            groups: groups.map(|g| g as u32),
            _params: params,
        })
    }

    fn bind_adam(
        &self,
        pipe: &wgpu::ComputePipeline,
        count: usize,
        splits: usize,
        grad: &wgpu::Buffer,
        param: &wgpu::Buffer,
    ) -> Adam {
        use wgpu::BufferUsages as U;
        let m = self.storage("kdviz adam m", None, count);
        let v = self.storage("kdviz adam v", None, count);
        let params = self.buffer(
            "kdviz adam params",
            size_of::<AdamParams>(),
            U::UNIFORM | U::COPY_DST,
        );
        Adam {
            bind: bind(self, pipe, "kdviz adam", &[&params, grad, param, &m, &v]),
            _moments: [m, v],
            params,
            count,
            splits,
            groups: grid(
                count.div_ceil(256),
                self.info.max_compute_workgroups_per_dimension,
            ),
        }
    }

    /// `C = op(A)·op(B)` on the device, with `op(A)` `[m × k]` (stored `[k × m]` when `ta`) and
    /// `op(B)` `[k × n]` (stored `[n × k]` when `tb`), row-major f32; the kernel of the low-rank
    /// trainer, split-K partials added on the CPU. For checking the kernel and for benchmarks.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
    ) -> Result<Vec<f32>, GpuError> {
        use wgpu::BufferUsages as U;
        if a.len() != m * k || b.len() != k * n || m == 0 || n == 0 || k == 0 {
            return Err(GpuError::Input(format!(
                "matmul of [{m} × {k}] by [{k} × {n}] given {} and {} values; expected {} and {} \
                 (all sizes at least 1)",
                a.len(),
                b.len(),
                m * k,
                k * n
            )));
        }
        let (splits, _) = split_k(m, n, k);
        for (what, e) in [("A", m * k), ("B", k * n), ("C", splits * m * n)] {
            self.check_size(what, e)?;
        }
        let pipe = self.scoped("compiling matmul.wgsl", || {
            compile(self, "kdviz matmul", include_str!("matmul.wgsl"))
        })?;
        let sh = Shape { m, n, k, ta, tb };
        let (ab, bb) = (
            self.storage("a", Some(a), a.len()),
            self.storage("b", Some(b), b.len()),
        );
        let cb = self.storage("c", None, splits * m * n);
        let mm = self.bind_matmul(&pipe, sh, Placement::whole(sh), [&ab, &bb, &cb])?;
        let read = self.buffer(
            "kdviz matmul read",
            splits * m * n * 4,
            U::MAP_READ | U::COPY_DST,
        );
        self.scoped("running the matmul", || {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                pass.set_pipeline(&pipe);
                pass.set_bind_group(0, &mm.bind, &[]);
                let [x, y, z] = mm.groups;
                pass.dispatch_workgroups(x, y, z);
            }
            enc.copy_buffer_to_buffer(&cb, 0, &read, 0, None);
            self.queue.submit([enc.finish()]);
        })?;
        let mut parts = vec![0f32; splits * m * n];
        self.read_back(&[&read], |_, bytes| {
            decode(bytes, &mut parts);
        })?;
        let mut c = parts[..m * n].to_vec();
        for p in parts[m * n..].chunks_exact(m * n) {
            c.iter_mut().zip(p).for_each(|(c, p)| *c += p);
        }
        Ok(c)
    }
}

/// Bytes the trainer allocates on the device (the per-row values and metrics buffers included);
/// `(sh, sw)`: the low-rank student's split-K partials of `dH` and `dW`.
fn device_bytes(s: &TrainSetup, (sh, sw): (usize, usize)) -> u64 {
    let (n, v) = (s.n as u64, s.v as u64);
    let e = n * v;
    // Per row: loss aux (2 words, ULD v), values, metrics aux (5), out (6), both read-backs (7).
    let aux = if matches!(s.loss.family, Divergence::Uld) {
        v
    } else {
        2
    };
    let per_row = 4 * (aux + 1 + 5 + 6 + 7) * n;
    let student = match s.student {
        // Parameters and the two Adam moments.
        TrainStudent::Free { .. } => 3 * 4 * e,
        TrainStudent::LowRank { rank, .. } => {
            let d = rank as u64;
            let (sh, sw) = (sh as u64, sw as u64);
            // S, then H and W with their two moments, and the partials of dH and dW.
            4 * e + 4 * (3 * d * (n + v) + sh * d * n + sw * d * v)
        }
    };
    // The practice steps' scratch rows (the shaped teacher, the shaped student) and their
    // per-row statistics (32 bytes); a top-k teacher has none.
    let scratch = if s.topk.is_none() {
        loss_scratch_rows(&s.loss) as u64
    } else {
        0
    };
    // Teacher and gradient.
    let teacher = if s.has_full_teacher() { 4 * e } else { 0 };
    teacher + 4 * e + student + per_row + scratch * (4 * e + 32 * n)
}

impl TrainSetup<'_> {
    /// False for a teacher known only as its top k: the loss reads the stored top k and the
    /// per-class metrics (which need the full rows) are not computed.
    fn has_full_teacher(&self) -> bool {
        self.topk.is_none() || !self.teacher.is_empty()
    }

    fn rank_or(&self, d: usize) -> usize {
        match self.student {
            TrainStudent::LowRank { rank, .. } => rank,
            TrainStudent::Free { .. } => d,
        }
    }
}

impl<'c> Trainer<'c> {
    pub(crate) fn new(ctx: &'c GpuContext, s: &TrainSetup) -> Result<Trainer<'c>, GpuError> {
        use wgpu::BufferUsages as U;
        let (n, v) = (s.n, s.v);
        let layout = row_chunks(n, v, 4, ctx.max_binding_bytes(), usize::MAX)
            .map_err(GpuError::Unsupported)?;
        let d = s.rank_or(0);
        // Low-rank: k per split of dH (k = V) and dW (k = N), fixed for every chunk.
        let (sh, kps_h) = split_k(n, d.max(1), v);
        // Every chunk adds its split z of dW to partial z; the first chunk (the largest) writes all
        // the partials the others add to.
        let kps_w = split_k(d.max(1), v, n).1;
        let sw = layout.first().map_or(1, |c| c.rows.div_ceil(kps_w));
        if d > 0 {
            ctx.check_size("H", n * d)?;
            ctx.check_size("W", d * v)?;
            ctx.check_size("the dH partials", sh * n * d)?;
            ctx.check_size("the dW partials", sw * d * v)?;
        }
        let need = device_bytes(s, (sh, sw));
        if let Some((have, what)) = ctx.memory_budget()
            && need > have
        {
            return Err(GpuError::Unsupported(format!(
                "training {n} × {v} logits needs {need} bytes of device memory; this device has \
                 {have} bytes {what} (use fewer positions, a smaller vocabulary or a low-rank \
                 student)"
            )));
        }
        let pipes = Pipes::new(ctx)?;
        let max_wg = ctx.info.max_compute_workgroups_per_dimension.max(1);
        let too_big = |e: GpuError| match e {
            GpuError::Backend(e) => GpuError::Unsupported(format!(
                "training {n} × {v} logits needs {need} bytes of device memory, in {} chunks of \
                 at most {} bytes; the device could not allocate them ({e})",
                layout.len(),
                ctx.max_binding_bytes()
            )),
            e => e,
        };
        // H, W and the partials of their gradients: one buffer each (refused above when too big).
        let lowrank_bufs = match s.student {
            TrainStudent::LowRank { h, w, .. } => Some(
                ctx.scoped("allocating the trainer's buffers", || {
                    [
                        ctx.storage("kdviz train H", Some(h), n * d),
                        ctx.storage("kdviz train W", Some(w), d * v),
                        ctx.storage("kdviz train dH", None, sh * n * d),
                        ctx.storage("kdviz train dW", None, sw * d * v),
                    ]
                })
                .map_err(too_big)?,
            ),
            TrainStudent::Free { .. } => None,
        };
        let mut chunks = Vec::with_capacity(layout.len());
        let mut targets = Vec::with_capacity(layout.len());
        for c in &layout {
            let (row0, rows) = (c.row0, c.rows);
            let e = rows * v;
            let range = row0 * v..(row0 + rows) * v;
            let built = ctx.scoped("allocating the trainer's buffers", || {
                // A teacher known only as its top k has no rows here (nor metrics to compute).
                let t_elems = if s.has_full_teacher() { e } else { 1 };
                let teacher =
                    ctx.storage("kdviz train teacher", s.teacher.get(range.clone()), t_elems);
                let g = ctx.storage("kdviz train grad", None, e);
                let (logits, adam, mm) = match (&s.student, &lowrank_bufs) {
                    (TrainStudent::Free { init }, _) => {
                        let z = ctx.storage("kdviz train logits", init.get(range.clone()), e);
                        let adam = ctx.bind_adam(&pipes.adam, e, 1, &g, &z);
                        (z, Some(adam), Ok(None))
                    }
                    (TrainStudent::LowRank { .. }, Some([hb, wb, gh, gw])) => {
                        let sb = ctx.storage("kdviz train S", None, e);
                        let mm = |sh, at, bufs| ctx.bind_matmul(&pipes.matmul, sh, at, bufs);
                        let h_rows = row0 * d;
                        // S_c = H_c·W: k = d in one split.
                        let fwd = mm(
                            Shape {
                                m: rows,
                                n: v,
                                k: d,
                                ta: false,
                                tb: false,
                            },
                            Placement {
                                a_off: h_rows,
                                b_off: 0,
                                c_off: 0,
                                c_zs: 0,
                                kps: d,
                                add_c: false,
                            },
                            [hb, wb, &sb],
                        );
                        // dH_c = G_c·Wᵀ into the chunk's rows of every partial.
                        let dh = mm(
                            Shape {
                                m: rows,
                                n: d,
                                k: v,
                                ta: false,
                                tb: true,
                            },
                            Placement {
                                a_off: 0,
                                b_off: 0,
                                c_off: h_rows,
                                c_zs: n * d,
                                kps: kps_h,
                                add_c: false,
                            },
                            [&g, wb, gh],
                        );
                        // dW += H_cᵀ·G_c: the first chunk writes the partials, the others add to
                        // them (in order: a compute pass runs its dispatches one after another).
                        let dw = mm(
                            Shape {
                                m: d,
                                n: v,
                                k: rows,
                                ta: true,
                                tb: false,
                            },
                            Placement {
                                a_off: h_rows,
                                b_off: 0,
                                c_off: 0,
                                c_zs: d * v,
                                kps: kps_w,
                                add_c: row0 > 0,
                            },
                            [hb, &g, gw],
                        );
                        let mm = match (fwd, dh, dw) {
                            (Ok(fwd), Ok(dh), Ok(dw)) => Ok(Some(ChunkMatmuls { fwd, dh, dw })),
                            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                        };
                        (sb, None, mm)
                    }
                    // Not reached: the low-rank buffers exist whenever the student is low-rank.
                    (TrainStudent::LowRank { .. }, None) => (g.clone(), None, Ok(None)),
                };
                let metrics_params = ctx.buffer(
                    "kdviz metrics params",
                    size_of::<MetricsParams>(),
                    U::UNIFORM | U::COPY_DST,
                );
                let words = s
                    .metric_aux
                    .get(5 * row0..5 * (row0 + rows))
                    .unwrap_or_default();
                let metrics_aux = ctx.buffer(
                    "kdviz metrics aux",
                    words.len().max(1) * 4,
                    U::STORAGE | U::COPY_DST,
                );
                ctx.queue
                    .write_buffer(&metrics_aux, 0, bytemuck::cast_slice(words));
                let metrics_out =
                    ctx.buffer("kdviz metrics", 6 * rows * 4, U::STORAGE | U::COPY_SRC);
                let metrics_bind = bind(
                    ctx,
                    &pipes.metrics,
                    "kdviz metrics",
                    &[
                        &metrics_params,
                        &teacher,
                        &logits,
                        &metrics_aux,
                        &g,
                        &metrics_out,
                    ],
                );
                mm.map(|mm| Chunk {
                    row0,
                    rows,
                    logits,
                    adam,
                    mm,
                    metrics_params,
                    metrics_bind,
                    metrics_out,
                    teacher,
                    grad: g,
                    metrics_aux,
                })
            });
            chunks.push(built.map_err(too_big)??);
            // Hand the staged uploads to the device before the next chunk: the staging copies of
            // every chunk would otherwise pile up in host memory until the first submission.
            ctx.queue.submit(std::iter::empty());
            ctx.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Backend(format!("uploading the logits: {e}")))?;
        }
        let mut loss = match &s.topk {
            None if !s.loss.practice.is_default() => {
                LossStage::Shaped(bind_shaped(ctx, s, &chunks)?)
            }
            Some(top) => {
                let targets: Vec<TopKTarget> = chunks
                    .iter()
                    .map(|c| TopKTarget {
                        row0: c.row0,
                        rows: c.rows,
                        student: &c.logits,
                        grad: &c.grad,
                    })
                    .collect();
                LossStage::TopK(ctx.bind_topk(&s.loss, top, &targets, n, v)?)
            }
            None => {
                for c in &chunks {
                    targets.push(LossTarget {
                        row0: c.row0,
                        rows: c.rows,
                        teacher: &c.teacher,
                        student: &c.logits,
                        grad: &c.grad,
                        values: None,
                    });
                }
                LossStage::Family(ctx.bind_loss(
                    &s.loss.family,
                    s.teacher,
                    s.labels,
                    &targets,
                    n,
                    v,
                )?)
            }
        };
        let fused = match &mut loss {
            LossStage::Family(b) if s.fuse && s.has_full_teacher() && ctx.can_fuse() => {
                let (params, spare) = ctx.scoped("allocating the trainer's buffers", || {
                    (
                        ctx.buffer(
                            "kdviz fused epoch params",
                            size_of::<EpochParams>(),
                            U::UNIFORM | U::COPY_DST,
                        ),
                        [
                            ctx.storage("kdviz fused spare m", None, 1),
                            ctx.storage("kdviz fused spare v", None, 1),
                        ],
                    )
                })?;
                let epoch: Vec<EpochTarget> = chunks
                    .iter()
                    .map(|c| {
                        let [m1, m2] = c.adam.as_ref().map_or(&spare, |a| &a._moments);
                        EpochTarget {
                            params: &params,
                            m1,
                            m2,
                            metric_aux: &c.metrics_aux,
                            metrics_out: &c.metrics_out,
                        }
                    })
                    .collect();
                b.fuse(ctx, &targets, &epoch)?;
                Some((params, spare))
            }
            _ => None,
        };
        drop(targets);
        let lowrank = match lowrank_bufs {
            Some(bufs) => {
                let [hb, wb, gh, gw] = &bufs;
                let adam_h = ctx.bind_adam(&pipes.adam, n * d, sh, gh, hb);
                let adam_w = ctx.bind_adam(&pipes.adam, d * v, sw, gw, wb);
                Some(LowRankAdam {
                    adam_h,
                    adam_w,
                    _buffers: bufs,
                })
            }
            None => None,
        };
        let (values_read, metrics_read) = ctx
            .scoped("allocating the trainer's buffers", || {
                (
                    ctx.buffer("kdviz values read", n * 4, U::MAP_READ | U::COPY_DST),
                    ctx.buffer("kdviz metrics read", 6 * n * 4, U::MAP_READ | U::COPY_DST),
                )
            })
            .map_err(too_big)?;
        Ok(Trainer {
            ctx,
            n,
            v,
            pipes,
            chunks,
            lowrank,
            loss,
            values_read,
            metrics_read,
            pending: None,
            max_wg,
            metrics: s.has_full_teacher(),
            fused,
        })
    }

    /// Whether the loss kernel runs the free student's Adam and the metrics (`fused.rs`).
    pub(crate) fn fused(&self) -> bool {
        self.fused.is_some()
    }

    pub(crate) fn info(&self) -> &GpuInfo {
        &self.ctx.info
    }

    /// Queues one Adam step along the gradient of the last forward; it runs with the next forward.
    pub(crate) fn step(&mut self, a: &AdamConsts) {
        self.pending = Some(*a);
    }

    fn write_adam(&self, adam: &Adam, a: &AdamConsts) {
        let p = AdamParams {
            count: adam.count as u32,
            splits: adam.splits as u32,
            stride: adam.count as u32,
            pad0: 0,
            gscale: a.gscale,
            b1: a.b1,
            b2: a.b2,
            step_size: a.step_size,
            bc2_sqrt: a.bc2_sqrt,
            eps: a.eps,
            pad: [0.0; 2],
        };
        self.ctx
            .queue
            .write_buffer(&adam.params, 0, bytemuck::bytes_of(&p));
    }

    /// Runs the pending step, then values, gradient and metrics of the current student under `div`
    /// (the bound divergence, or the same family with new parameters: TAID's t). Returns the values
    /// (one per row) and the metrics (6 per row, see `metrics.wgsl`).
    pub(crate) fn forward(
        &mut self,
        div: &Divergence,
        want_ce: bool,
    ) -> Result<(Vec<f32>, Vec<f32>), GpuError> {
        let ctx = self.ctx;
        let n = self.n;
        let pending = self.pending.take();
        ctx.scoped("running a training epoch", || {
            if let Some(a) = &pending {
                for adam in self.chunks.iter().filter_map(|c| c.adam.as_ref()) {
                    self.write_adam(adam, a);
                }
                if let Some(lr) = &self.lowrank {
                    self.write_adam(&lr.adam_h, a);
                    self.write_adam(&lr.adam_w, a);
                }
            }
            self.loss.set_div(ctx, div);
            if let Some((params, _)) = &self.fused {
                // Adam runs in the loss kernel for the free student only; the low-rank student's
                // runs on H and W below.
                let a = pending.filter(|_| self.lowrank.is_none());
                let p = EpochParams {
                    adam: u32::from(a.is_some()),
                    want_ce: u32::from(want_ce),
                    inf_bits: f32::INFINITY.to_bits(),
                    gscale: a.map_or(0.0, |a| a.gscale),
                    b1: a.map_or(0.0, |a| a.b1),
                    b2: a.map_or(0.0, |a| a.b2),
                    step_size: a.map_or(0.0, |a| a.step_size),
                    bc2_sqrt: a.map_or(1.0, |a| a.bc2_sqrt),
                    eps: a.map_or(0.0, |a| a.eps),
                    ..EpochParams::default()
                };
                ctx.queue.write_buffer(params, 0, bytemuck::bytes_of(&p));
            }
            for c in &self.chunks {
                let mp = MetricsParams {
                    n_rows: c.rows as u32,
                    v: self.v as u32,
                    want_ce: u32::from(want_ce),
                    inf_bits: f32::INFINITY.to_bits(),
                };
                ctx.queue
                    .write_buffer(&c.metrics_params, 0, bytemuck::bytes_of(&mp));
            }
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("kdviz train epoch"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kdviz train epoch"),
                    timestamp_writes: None,
                });
                let mm = |pass: &mut wgpu::ComputePass, m: &Matmul| {
                    pass.set_pipeline(&self.pipes.matmul);
                    pass.set_bind_group(0, &m.bind, &[]);
                    let [x, y, z] = m.groups;
                    pass.dispatch_workgroups(x, y, z);
                };
                let adam = |pass: &mut wgpu::ComputePass, a: &Adam| {
                    pass.set_pipeline(&self.pipes.adam);
                    pass.set_bind_group(0, &a.bind, &[]);
                    pass.dispatch_workgroups(a.groups[0], a.groups[1], 1);
                };
                // Low-rank: every chunk's backward before Adam on H and W, Adam before any forward.
                if let (Some(lr), Some(_)) = (&self.lowrank, &pending) {
                    for c in self.chunks.iter().filter_map(|c| c.mm.as_ref()) {
                        mm(&mut pass, &c.dh);
                        mm(&mut pass, &c.dw);
                    }
                    adam(&mut pass, &lr.adam_h);
                    adam(&mut pass, &lr.adam_w);
                }
                let fused = self.fused.is_some();
                for (i, c) in self.chunks.iter().enumerate() {
                    if let (Some(a), Some(_), false) = (&c.adam, &pending, fused) {
                        adam(&mut pass, a);
                    }
                    if let Some(m) = &c.mm {
                        mm(&mut pass, &m.fwd);
                    }
                    self.loss.dispatch(&mut pass, i);
                    if self.metrics && !fused {
                        pass.set_pipeline(&self.pipes.metrics);
                        pass.set_bind_group(0, &c.metrics_bind, &[]);
                        let [x, y] = grid(c.rows, self.max_wg);
                        pass.dispatch_workgroups(x, y, 1);
                    }
                }
            }
            self.loss.copy_values(&mut enc, &self.values_read);
            for c in &self.chunks {
                enc.copy_buffer_to_buffer(
                    &c.metrics_out,
                    0,
                    &self.metrics_read,
                    (6 * 4 * c.row0) as u64,
                    None,
                );
            }
            ctx.queue.submit([enc.finish()]);
        })?;
        let mut values = vec![0f32; n];
        let mut metrics = vec![0f32; 6 * n];
        ctx.read_back(&[&self.values_read, &self.metrics_read], |i, bytes| {
            decode(bytes, if i == 0 { &mut values } else { &mut metrics });
        })?;
        Ok((values, metrics))
    }

    /// The student logits of the last forward `[N × V]`, read back a chunk at a time (the host
    /// maps at most one chunk).
    pub(crate) fn student_logits(&self) -> Result<Vec<f32>, GpuError> {
        read_chunks(self.ctx, &self.chunks, self.n, self.v, |_, c| {
            Some(&c.logits)
        })
    }

    /// `support=sampled`: draws this epoch's teacher counts on the host from `raw` (the teacher's
    /// logits), row r on sampler stream `stream0 + r` (the caller passes `epoch·N`, practice.md
    /// §10.5), and uploads them before the next forward; nothing for another loss.
    pub(crate) fn sample_teacher(&self, raw: &[f32], stream0: u64) -> Result<(), GpuError> {
        let LossStage::Shaped(sh) = &self.loss else {
            return Ok(());
        };
        if !sh.shape.plan().sampled() {
            return Ok(());
        }
        let logits = sh
            .shape
            .sample_teacher(self.ctx, &sh.practice, raw, stream0)?;
        sh.family.set_teacher(self.ctx, &logits, self.n, self.v);
        Ok(())
    }
}

/// Little-endian f32s from a mapped range (no alignment assumed).
fn decode(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_bytes_count_every_buffer() {
        let (n, v) = (4096usize, 131_072usize);
        let teacher: [f32; 0] = [];
        let setup = |student| TrainSetup {
            n,
            v,
            teacher: &teacher,
            student,
            loss: Divergence::Fkl.into(),
            topk: None,
            labels: &[],
            metric_aux: &[],
            fuse: true,
        };
        let e = (n * v) as u64;
        // Free: teacher, gradient, logits and two moments (2 GiB each), 84 bytes per row.
        let free = device_bytes(&setup(TrainStudent::Free { init: &teacher }), (0, 0));
        assert_eq!(free, 20 * e + 84 * n as u64);
        assert_eq!(free >> 30, 10);
        // Practice options of full rows: a shaped teacher and a shaped student, 32 bytes of
        // statistics per row each; options of the teacher alone shape one side.
        let shaped = |spec: &str| TrainSetup {
            loss: spec.parse().unwrap(),
            ..setup(TrainStudent::Free { init: &teacher })
        };
        let stats = 32 * n as u64;
        assert_eq!(
            device_bytes(&shaped("fkl:tt=2,st=2"), (0, 0)),
            free + 2 * (4 * e + stats)
        );
        assert_eq!(
            device_bytes(&shaped("fkl:tt=2"), (0, 0)),
            free + 4 * e + stats
        );
        // Rank 16: teacher, gradient, S; H and W with two moments each; 8 partials of dH, 1 of dW.
        let (sh, sw) = train_splits(n, v, 16);
        assert_eq!((sh, sw), (8, 1));
        let lr = TrainStudent::LowRank {
            rank: 16,
            h: &teacher,
            w: &teacher,
        };
        let d = 16u64;
        let hw = d * (n + v) as u64;
        assert_eq!(
            device_bytes(&setup(lr), (sh, sw)),
            12 * e + 4 * (3 * hw + 8 * d * n as u64 + d * v as u64) + 84 * n as u64
        );
    }
}
