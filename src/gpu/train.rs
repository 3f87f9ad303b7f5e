//! The GPU side of the real-model trainer (`real::train` drives it): every tensor stays on the device;
//! one submission per epoch runs the previous epoch's backward (low-rank: `dH = G·Wᵀ`, `dW = Hᵀ·G`
//! by `matmul.wgsl` with split-K partials) and Adam (`adam.wgsl`, which also sums the partials),
//! then the forward (low-rank: `S = H·W`), the loss kernel (`loss.wgsl`, bound to the trainer's
//! buffers) and the metrics kernel (`metrics.wgsl`). Only the per-row values and metrics (7 floats
//! per row) come back each epoch.
//!
//! Every `[N × V]` tensor is one binding: runs whose `N·V·4` bytes exceed the device's binding
//! limit are refused with [`GpuError::Unsupported`] (the caller falls back to the CPU).

use super::GpuError;
use super::device::{GpuContext, GpuInfo};
use super::loss::LossBinding;
use crate::math::Divergence;
use bytemuck::{Pod, Zeroable};

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
    pub div: Divergence,
    /// Hinton's hard label per row.
    pub labels: &'a [u32],
    /// Per row: metrics-head threshold bits, cut index, teacher argmax, the teacher's max logit bits
    /// and the log of its rescaled exponential sum (bits): 5 words.
    pub metric_aux: &'a [u32],
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
    pad: [u32; 4],
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

#[allow(clippy::large_enum_variant)] // one per trainer
enum Student {
    Free {
        z: wgpu::Buffer,
        adam: Adam,
    },
    LowRank {
        s: wgpu::Buffer,
        fwd: Matmul,
        dh: Matmul,
        dw: Matmul,
        adam_h: Adam,
        adam_w: Adam,
    },
}

/// Tensors resident on the device for one training run.
pub(crate) struct Trainer<'c> {
    ctx: &'c GpuContext,
    n: usize,
    v: usize,
    pipes: Pipes,
    student: Student,
    loss: LossBinding,
    metrics_params: wgpu::Buffer,
    metrics_bind: wgpu::BindGroup,
    metrics_out: wgpu::Buffer,
    values_read: wgpu::Buffer,
    metrics_read: wgpu::Buffer,
    /// Bound in the kernels' bind groups; kept for the trainer's lifetime.
    _teacher: wgpu::Buffer,
    _grad: wgpu::Buffer,
    /// Adam constants of a step not yet submitted (runs at the start of the next forward).
    pending: Option<AdamConsts>,
    max_wg: u32,
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
            adam: compile(ctx, "kdviz adam", include_str!("adam.wgsl")),
            metrics: compile(ctx, "kdviz metrics", include_str!("metrics.wgsl")),
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

impl GpuContext {
    fn check_size(&self, what: &str, elems: usize) -> Result<(), GpuError> {
        let limit = self
            .info
            .max_storage_buffer_binding_size
            .min(self.info.max_buffer_size);
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
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        c: &wgpu::Buffer,
    ) -> Result<Matmul, GpuError> {
        use wgpu::BufferUsages as U;
        let (splits, kps) = split_k(sh.m, sh.n, sh.k);
        let (a_rs, a_cs) = if sh.ta { (1, sh.m) } else { (sh.k, 1) };
        let (b_rs, b_cs) = if sh.tb { (1, sh.k) } else { (sh.n, 1) };
        let p = MatmulParams {
            m: sh.m as u32,
            n: sh.n as u32,
            k: sh.k as u32,
            kps: kps as u32,
            a_rs: a_rs as u32,
            a_cs: a_cs as u32,
            b_rs: b_rs as u32,
            b_cs: b_cs as u32,
            pad: [0; 4],
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
        let mm = self.bind_matmul(&pipe, sh, &ab, &bb, &cb)?;
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

impl<'c> Trainer<'c> {
    pub(crate) fn new(ctx: &'c GpuContext, s: &TrainSetup) -> Result<Trainer<'c>, GpuError> {
        use wgpu::BufferUsages as U;
        let (n, v) = (s.n, s.v);
        let e = n.saturating_mul(v);
        ctx.check_size(&format!("one [{n} × {v}] f32 tensor"), e)?;
        if let TrainStudent::LowRank { rank, .. } = s.student {
            let (sh, sw) = train_splits(n, v, rank);
            ctx.check_size("the dH partials", sh * n * rank)?;
            ctx.check_size("the dW partials", sw * rank * v)?;
        }
        let pipes = Pipes::new(ctx)?;
        let max_wg = ctx.info.max_compute_workgroups_per_dimension.max(1);
        let built = ctx.scoped("allocating the trainer's buffers", || {
            let teacher = ctx.storage("kdviz train teacher", Some(s.teacher), e);
            let g = ctx.storage("kdviz train grad", None, e);
            let student = match s.student {
                TrainStudent::Free { init } => {
                    let z = ctx.storage("kdviz train logits", Some(init), e);
                    let adam = ctx.bind_adam(&pipes.adam, e, 1, &g, &z);
                    Ok(Student::Free { z, adam })
                }
                TrainStudent::LowRank { rank: d, h, w } => {
                    let hb = ctx.storage("kdviz train H", Some(h), n * d);
                    let wb = ctx.storage("kdviz train W", Some(w), d * v);
                    let sb = ctx.storage("kdviz train S", None, e);
                    let (sh, sw) = train_splits(n, v, d);
                    let gh = ctx.storage("kdviz train dH", None, sh * n * d);
                    let gw = ctx.storage("kdviz train dW", None, sw * d * v);
                    let mm = |sh: Shape, a, b, c| ctx.bind_matmul(&pipes.matmul, sh, a, b, c);
                    let fwd = mm(
                        Shape {
                            m: n,
                            n: v,
                            k: d,
                            ta: false,
                            tb: false,
                        },
                        &hb,
                        &wb,
                        &sb,
                    );
                    let dh = mm(
                        Shape {
                            m: n,
                            n: d,
                            k: v,
                            ta: false,
                            tb: true,
                        },
                        &g,
                        &wb,
                        &gh,
                    );
                    let dw = mm(
                        Shape {
                            m: d,
                            n: v,
                            k: n,
                            ta: true,
                            tb: false,
                        },
                        &hb,
                        &g,
                        &gw,
                    );
                    let adam_h = ctx.bind_adam(&pipes.adam, n * d, sh, &gh, &hb);
                    let adam_w = ctx.bind_adam(&pipes.adam, d * v, sw, &gw, &wb);
                    match (fwd, dh, dw) {
                        (Ok(fwd), Ok(dh), Ok(dw)) => Ok(Student::LowRank {
                            s: sb,
                            fwd,
                            dh,
                            dw,
                            adam_h,
                            adam_w,
                        }),
                        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                    }
                }
            };
            (teacher, g, student)
        })?;
        let (teacher, g, student) = built;
        let student = student?;
        let logits = match &student {
            Student::Free { z, .. } => z,
            Student::LowRank { s, .. } => s,
        };
        let loss = ctx.bind_loss(&s.div, s.teacher, s.labels, &teacher, logits, &g, n, v)?;
        let (metrics_params, metrics_bind, metrics_out, values_read, metrics_read) =
            ctx.scoped("binding the metrics kernel", || {
                let params = ctx.buffer(
                    "kdviz metrics params",
                    size_of::<MetricsParams>(),
                    U::UNIFORM | U::COPY_DST,
                );
                let aux = ctx.buffer(
                    "kdviz metrics aux",
                    s.metric_aux.len() * 4,
                    U::STORAGE | U::COPY_DST,
                );
                ctx.queue
                    .write_buffer(&aux, 0, bytemuck::cast_slice(s.metric_aux));
                let out = ctx.buffer("kdviz metrics", 6 * n * 4, U::STORAGE | U::COPY_SRC);
                let bind = bind(
                    ctx,
                    &pipes.metrics,
                    "kdviz metrics",
                    &[&params, &teacher, logits, &aux, &g, &out],
                );
                let values_read = ctx.buffer("kdviz values read", n * 4, U::MAP_READ | U::COPY_DST);
                let metrics_read =
                    ctx.buffer("kdviz metrics read", 6 * n * 4, U::MAP_READ | U::COPY_DST);
                (params, bind, out, values_read, metrics_read)
            })?;
        Ok(Trainer {
            ctx,
            n,
            v,
            pipes,
            student,
            loss,
            metrics_params,
            metrics_bind,
            metrics_out,
            values_read,
            metrics_read,
            _teacher: teacher,
            _grad: g,
            pending: None,
            max_wg,
        })
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
                match &self.student {
                    Student::Free { adam, .. } => self.write_adam(adam, a),
                    Student::LowRank { adam_h, adam_w, .. } => {
                        self.write_adam(adam_h, a);
                        self.write_adam(adam_w, a);
                    }
                }
            }
            self.loss.set_div(ctx, div);
            let mp = MetricsParams {
                n_rows: n as u32,
                v: self.v as u32,
                want_ce: u32::from(want_ce),
                inf_bits: f32::INFINITY.to_bits(),
            };
            ctx.queue
                .write_buffer(&self.metrics_params, 0, bytemuck::bytes_of(&mp));
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
                match &self.student {
                    Student::Free { adam: a, .. } => {
                        if pending.is_some() {
                            adam(&mut pass, a);
                        }
                    }
                    Student::LowRank {
                        fwd,
                        dh,
                        dw,
                        adam_h,
                        adam_w,
                        ..
                    } => {
                        if pending.is_some() {
                            mm(&mut pass, dh);
                            mm(&mut pass, dw);
                            adam(&mut pass, adam_h);
                            adam(&mut pass, adam_w);
                        }
                        mm(&mut pass, fwd);
                    }
                }
                self.loss.dispatch(&mut pass);
                pass.set_pipeline(&self.pipes.metrics);
                pass.set_bind_group(0, &self.metrics_bind, &[]);
                let [x, y] = grid(n, self.max_wg);
                pass.dispatch_workgroups(x, y, 1);
            }
            enc.copy_buffer_to_buffer(&self.loss.values, 0, &self.values_read, 0, None);
            enc.copy_buffer_to_buffer(&self.metrics_out, 0, &self.metrics_read, 0, None);
            ctx.queue.submit([enc.finish()]);
        })?;
        let mut values = vec![0f32; n];
        let mut metrics = vec![0f32; 6 * n];
        ctx.read_back(&[&self.values_read, &self.metrics_read], |i, bytes| {
            decode(bytes, if i == 0 { &mut values } else { &mut metrics });
        })?;
        Ok((values, metrics))
    }

    /// The student logits of the last forward `[N × V]`.
    pub(crate) fn student_logits(&self) -> Result<Vec<f32>, GpuError> {
        use wgpu::BufferUsages as U;
        let ctx = self.ctx;
        let e = self.n * self.v;
        let src = match &self.student {
            Student::Free { z, .. } => z,
            Student::LowRank { s, .. } => s,
        };
        let read = ctx.scoped("reading the student back", || {
            let read = ctx.buffer("kdviz student read", e * 4, U::MAP_READ | U::COPY_DST);
            let mut enc = ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            enc.copy_buffer_to_buffer(src, 0, &read, 0, Some(e as u64 * 4));
            ctx.queue.submit([enc.finish()]);
            read
        })?;
        let mut out = vec![0f32; e];
        ctx.read_back(&[&read], |_, bytes| {
            decode(bytes, &mut out);
        })?;
        Ok(out)
    }
}

/// Little-endian f32s from a mapped range (no alignment assumed).
fn decode(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}
