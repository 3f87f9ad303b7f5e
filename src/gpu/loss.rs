//! Upload of `[N × V]` logits, dispatch of `loss.wgsl`, read-back.
//!
//! Kernel structure: one workgroup of [`WORKGROUP_SIZE`] invocations per row; each invocation strides
//! over the row (`k = lid, lid + 256, …`), so neighbouring invocations read neighbouring addresses.
//! Pass 1 computes the online log-sum-exps (one read of both rows); the family's passes follow
//! (see `plan.rs`). Partial sums meet in workgroup-memory tree reductions; all arithmetic is f32.
//!
//! Limits: rows are split into chunks (`chunks.rs`) so that no binding exceeds
//! [`GpuContext::max_binding_bytes`] nor 1 GiB (each chunk has its own buffers and bind group, so no
//! offset alignment constraint applies), and
//! the rows of a chunk are laid out on a 2-D grid of workgroups when they exceed
//! `max_compute_workgroups_per_dimension`. All chunks go in one compute pass; the timestamp pair
//! brackets that pass.

use super::chunks::{RowChunk, row_chunks};
use super::convert::validate;
use super::device::GpuContext;
use super::fused::{EpochTarget, FusedLayouts, WGSL_FUSED, WGSL_SEPARATE};
use super::plan::{
    Aux, FLAG_ROW_LABELS, Kind, Params, WORKGROUP_SIZE, check_gpu, cpu_only, plan, wgsl_prelude,
};
use super::shaping::{ShapeBinding, ShapeKernels, ShapeTarget, loss_refusal};
use super::topk::{ChunkGrad, RunReads, StoredRows, TopKBinding, TopKTarget, run_bound};
use super::{GpuError, RowsResult, Storage};
use crate::math::akl::{descending_order, dskd_threshold, head_threshold};
use crate::math::practice::{Loss, Practice};
use crate::math::precision::Format;
use crate::math::{AklConvention, Divergence, LogDist};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Per buffer: None until its map callback has run.
type MapStatus = Vec<Option<Result<(), wgpu::BufferAsyncError>>>;

const MAX_CHUNK_BYTES: u64 = 1 << 30;

const SOURCE: &str = include_str!("loss.wgsl");

/// `loss.wgsl` for one storage type: the element type (an `enable` must come first) and its
/// accessors (`storage.rs`), the epoch hooks (`fused.rs`: the trainer's fused epoch, or no-ops),
/// then the constants generated from `plan.rs`, then the shader.
fn shader_source(storage: Storage, fused: bool) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{SOURCE}",
        storage.wgsl_elem(),
        storage.wgsl_access(),
        if fused { WGSL_FUSED } else { WGSL_SEPARATE },
        wgsl_prelude()
    )
}

/// Layouts, shader modules and pipelines, compiled on first use per (family, storage).
pub(crate) struct Kernels {
    pub(crate) bgl: wgpu::BindGroupLayout,
    layout: wgpu::PipelineLayout,
    /// Per storage and whether the trainer's epoch is fused into the kernel (`fused.rs`).
    modules: Mutex<HashMap<(Storage, bool), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<(Kind, Storage, bool), wgpu::ComputePipeline>>,
    /// The fused kernel's layouts, made on first use ([`GpuContext::fused_layouts`]).
    pub(crate) fused_layouts: OnceLock<FusedLayouts>,
    /// Pipelines that have run once: the first timed run of a pipeline dispatches twice and times
    /// only the second (first-use costs are not kernel time).
    warmed: Mutex<HashSet<(Kind, Storage)>>,
    /// The practice steps around the family kernels (`shaping.rs`).
    pub(crate) shaping: ShapeKernels,
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

impl Kernels {
    pub(crate) fn new(device: &wgpu::Device) -> Result<Kernels, GpuError> {
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
        entries.extend([1, 2, 3].map(|b| storage_entry(b, true)));
        entries.extend([4, 5].map(|b| storage_entry(b, false)));
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("kdviz loss"),
            entries: &entries,
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("kdviz loss"),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        Ok(Kernels {
            bgl,
            layout,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            fused_layouts: OnceLock::new(),
            warmed: Mutex::new(HashSet::new()),
            shaping: ShapeKernels::new(device),
        })
    }
}

/// Appends the teacher's and the student's logits of `rows` rows from `row0` (generated logits).
pub type RowFiller<'f> = dyn FnMut(usize, usize, &mut Vec<f32>, &mut Vec<f32>) + 'f;

impl GpuContext {
    pub(crate) fn pipeline(
        &self,
        kind: Kind,
        storage: Storage,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        self.loss_pipeline(kind, storage, None)
    }

    /// The family's kernel with the trainer's epoch fused into it (`fused.rs`), f32 storage.
    pub(crate) fn fused_pipeline(&self, kind: Kind) -> Result<wgpu::ComputePipeline, GpuError> {
        let layouts = self.fused_layouts()?;
        self.loss_pipeline(kind, Storage::F32, Some(&layouts.layout))
    }

    /// `fused_layout`: the fused kernel's pipeline layout, or `None` for the plain kernel.
    fn loss_pipeline(
        &self,
        kind: Kind,
        storage: Storage,
        fused_layout: Option<&wgpu::PipelineLayout>,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        let k = &self.kernels;
        let fused = fused_layout.is_some();
        let mut pipes = k.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipes.get(&(kind, storage, fused)) {
            return Ok(p.clone());
        }
        let mut modules = k.modules.lock().unwrap_or_else(|e| e.into_inner());
        let module = match modules.get(&(storage, fused)) {
            Some(m) => m.clone(),
            None => {
                let src = shader_source(storage, fused);
                let m = self.scoped("compiling loss.wgsl", || {
                    self.device
                        .create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some("kdviz loss.wgsl"),
                            source: wgpu::ShaderSource::Wgsl(src.into()),
                        })
                })?;
                modules.insert((storage, fused), m.clone());
                m
            }
        };
        let constants = [("KIND", f64::from(kind.id()))];
        let pipe = self.scoped("creating the loss pipeline", || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some("kdviz loss"),
                    layout: Some(fused_layout.unwrap_or(&k.layout)),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        // every workgroup variable is written before it is read
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        pipes.insert((kind, storage, fused), pipe.clone());
        Ok(pipe)
    }

    /// Values and gradients of `div` for `n` rows of `v` teacher and student logits (row-major f32;
    /// teacher zeros as `-inf`). Uploads, runs once, reads back.
    pub fn divergence_rows(
        &self,
        div: &Divergence,
        teacher_logits: &[f32],
        student_logits: &[f32],
        n: usize,
        v: usize,
    ) -> Result<RowsResult, GpuError> {
        self.upload(
            teacher_logits,
            student_logits,
            n,
            v,
            &RowsOptions::default(),
        )?
        .run(div, &RunOptions::default())
    }

    /// Copies the logits to the device once, for several divergences or repeated timing.
    pub fn upload(
        &self,
        teacher_logits: &[f32],
        student_logits: &[f32],
        n: usize,
        v: usize,
        opts: &RowsOptions,
    ) -> Result<GpuRows<'_>, GpuError> {
        let storage = opts.storage;
        if storage == Storage::F16 && !self.has_f16() {
            return Err(GpuError::Unsupported(
                "f16 storage needs the SHADER_F16 feature, which this adapter lacks; use f32"
                    .into(),
            ));
        }
        validate(teacher_logits, student_logits, n, v, storage)?;
        self.upload_rows(n, v, opts, Logits::Given(teacher_logits, student_logits))
    }

    /// [`GpuContext::upload`] of `n × v` logits that `fill(row0, rows, teacher, student)` appends a few
    /// rows at a time, straight into the device buffers: the host holds at most `piece_elems` logits
    /// of each (and one row). Each piece is checked as `upload` checks its input.
    pub fn upload_generated(
        &self,
        n: usize,
        v: usize,
        opts: &RowsOptions,
        piece_elems: usize,
        fill: &mut RowFiller<'_>,
    ) -> Result<GpuRows<'_>, GpuError> {
        if opts.storage == Storage::F16 && !self.has_f16() {
            return Err(GpuError::Unsupported(
                "f16 storage needs the SHADER_F16 feature, which this adapter lacks; use f32"
                    .into(),
            ));
        }
        self.upload_rows(n, v, opts, Logits::Generated { piece_elems, fill })
    }

    /// Lays the rows out in chunks and fills each chunk's teacher and student buffers.
    fn upload_rows(
        &self,
        n: usize,
        v: usize,
        opts: &RowsOptions,
        mut logits: Logits<'_>,
    ) -> Result<GpuRows<'_>, GpuError> {
        let storage = opts.storage;
        if n == 0 || v == 0 {
            return Err(GpuError::Input(format!(
                "rows={n}, vocab={v}; expected at least one row and one class"
            )));
        }
        let info = &self.info;
        // 1 GiB at most per buffer: the read-back copy of the gradient is host-visible memory.
        let max_bind = self.max_binding_bytes().min(MAX_CHUNK_BYTES);
        let layout = row_chunks(
            n,
            storage.row_stride(v),
            storage.bytes(),
            max_bind,
            opts.max_rows_per_chunk.unwrap_or(usize::MAX),
        )
        .map_err(GpuError::Unsupported)?;
        let max_wg = info
            .max_compute_workgroups_per_dimension
            .min(opts.max_workgroups_x.unwrap_or(u32::MAX))
            .max(1);
        let mut chunks = Vec::new();
        let mut teacher_zero = None;
        for RowChunk { row0, rows } in layout {
            let (chunk, student) =
                self.scoped("allocating buffers", || self.chunk(row0, rows, v, storage))?;
            match &mut logits {
                Logits::Given(t, s) => {
                    let range = row0 * v..(row0 + rows) * v;
                    teacher_zero = teacher_zero.or_else(|| first_zero(&t[range.clone()], row0, v));
                    write_rows(self, &chunk.teacher, 0, &t[range.clone()], v, storage);
                    write_rows(self, &student, 0, &s[range], v, storage);
                }
                Logits::Generated { piece_elems, fill } => {
                    // Whole rows per piece, an even number so that f16 pieces are whole words.
                    let piece_rows = (*piece_elems / v).max(1);
                    let piece_rows = if piece_rows > 1 { piece_rows & !1 } else { 1 };
                    let (mut t, mut s) = (Vec::new(), Vec::new());
                    let mut done = 0;
                    while done < rows {
                        let k = piece_rows.min(rows - done);
                        t.clear();
                        s.clear();
                        fill(row0 + done, k, &mut t, &mut s);
                        validate(&t, &s, k, v, storage)?;
                        teacher_zero = teacher_zero.or_else(|| first_zero(&t, row0 + done, v));
                        write_rows(self, &chunk.teacher, done, &t, v, storage);
                        write_rows(self, &student, done, &s, v, storage);
                        done += k;
                        // Hand the staged copy to the device before the next piece: the staging
                        // memory of every piece would otherwise pile up until the first submit.
                        self.queue.submit(std::iter::empty());
                        self.device
                            .poll(wgpu::PollType::wait_indefinitely())
                            .map_err(|e| GpuError::Backend(format!("uploading the logits: {e}")))?;
                    }
                }
            }
            chunks.push(chunk);
        }
        let timer = info.timestamp_query.then(|| self.timer());
        Ok(GpuRows {
            ctx: self,
            n,
            v,
            storage,
            chunks,
            akl: Mutex::new(None),
            shaped: Mutex::new(None),
            topk: Mutex::new(None),
            teacher_zero,
            timer,
            max_wg,
        })
    }

    pub(crate) fn buffer(
        &self,
        label: &str,
        size: usize,
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.next_multiple_of(4) as u64,
            usage,
            mapped_at_creation: false,
        })
    }

    /// The buffers of a chunk of `rows` rows of `v` classes, and its student buffer (to be written).
    fn chunk(&self, row0: usize, rows: usize, v: usize, storage: Storage) -> (Chunk, wgpu::Buffer) {
        use wgpu::BufferUsages as U;
        let elems = rows * storage.row_bytes(v);
        // COPY_SRC: the AKL thresholds read the teacher back instead of keeping a host copy.
        let t = self.buffer(
            "kdviz teacher",
            elems,
            U::STORAGE | U::COPY_DST | U::COPY_SRC,
        );
        let s = self.buffer("kdviz student", elems, U::STORAGE | U::COPY_DST);
        let grad = self.buffer("kdviz grad", elems, U::STORAGE | U::COPY_SRC);
        let values = self.buffer("kdviz values", rows * 4, U::STORAGE | U::COPY_SRC);
        let aux = self.buffer("kdviz aux", rows * 8, U::STORAGE | U::COPY_DST);
        let params = self.buffer(
            "kdviz params",
            size_of::<Params>(),
            U::UNIFORM | U::COPY_DST,
        );
        let values_read = self.buffer("kdviz values read", rows * 4, U::MAP_READ | U::COPY_DST);
        let grad_read = self.buffer("kdviz grad read", elems, U::MAP_READ | U::COPY_DST);
        let bind = self.bind_buffers(
            "kdviz loss",
            &self.kernels.bgl,
            &[&params, &t, &s, &aux, &values, &grad],
        );
        let chunk = Chunk {
            row0,
            rows,
            teacher: t,
            student: s.clone(),
            params,
            aux,
            values,
            grad,
            values_read,
            grad_read,
            bind,
        };
        (chunk, s)
    }

    pub(crate) fn timer(&self) -> Timer {
        use wgpu::BufferUsages as U;
        Timer {
            set: self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("kdviz loss timer"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: self.buffer("kdviz timer", 16, U::QUERY_RESOLVE | U::COPY_SRC),
            read: self.buffer("kdviz timer read", 16, U::MAP_READ | U::COPY_DST),
        }
    }

    /// Maps every buffer, waits once, hands each mapped view to `f` in order.
    pub(crate) fn read_back(
        &self,
        bufs: &[&wgpu::Buffer],
        mut f: impl FnMut(usize, &[u8]),
    ) -> Result<(), GpuError> {
        let status: Arc<Mutex<MapStatus>> = Arc::new(Mutex::new(vec![None; bufs.len()]));
        for (i, b) in bufs.iter().enumerate() {
            let st = Arc::clone(&status);
            b.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                if let Ok(mut s) = st.lock() {
                    s[i] = Some(r);
                }
            });
        }
        // Another thread's poll may be the one that fires our callbacks (it collects them under a
        // lock and runs them after): wait until all of them have run, not just for the GPU.
        let deadline = Instant::now() + Duration::from_secs(600);
        let status = loop {
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Backend(format!("waiting for the GPU: {e}")))?;
            let st = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if st.iter().all(Option::is_some) || Instant::now() > deadline {
                break st;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        // Unmap everything, even after a failure, so the next run can map again.
        let mut first_err = None;
        for (i, (b, st)) in bufs.iter().zip(status).enumerate() {
            let err = match st {
                Some(Ok(())) => {
                    let err = match b.slice(..).get_mapped_range() {
                        Ok(view) => {
                            f(i, &view);
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    };
                    b.unmap();
                    err
                }
                Some(Err(e)) => Some(e.to_string()),
                None => Some("the map never completed".to_string()),
            };
            if first_err.is_none() {
                first_err = err;
            }
        }
        if let Some(e) = first_err {
            return Err(GpuError::Backend(format!("reading results: {e}")));
        }
        Ok(())
    }
}

/// Writes whole rows of `v` values at row `row_at` of `buf` (`row_at` even for f16 of an odd
/// vocabulary: copies are whole 4-byte words).
pub(super) fn write_rows(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    row_at: usize,
    data: &[f32],
    v: usize,
    storage: Storage,
) {
    let offset = (row_at * storage.row_bytes(v)) as u64;
    ctx.queue
        .write_buffer(buf, offset, &storage.encode_rows(data, v));
}

/// The loss the kernels run on rows in `storage`. On bf16 rows `precision=bf16` (for both rows) is
/// what the upload did, so the family's own kernel runs; every other option needs f32 or f16 rows
/// (where `precision=bf16` rounds as this storage does).
pub fn loss_on_storage(loss: &Loss, storage: Storage) -> Result<Loss, GpuError> {
    let pr = &loss.practice;
    if storage != Storage::Bf16 || pr.is_default() {
        return Ok(*loss);
    }
    let rest = Practice {
        precision: None,
        tprecision: None,
        ..*pr
    };
    if rest.is_default()
        && pr.student_format() == Format::Bf16
        && pr.teacher_format() == Format::Bf16
    {
        return Ok(Loss::from(loss.family));
    }
    Err(GpuError::Unsupported(format!(
        "{}: bf16 storage runs a family's own kernel (and precision=bf16, which the storage \
         applies); other practice options need f32 or f16 storage",
        loss.label()
    )))
}

/// `[row, class]` of the first −∞ of `rows` rows of `v` teacher logits from row `row0`.
fn first_zero(t: &[f32], row0: usize, v: usize) -> Option<(usize, usize)> {
    let i = t.iter().position(|&x| x == f32::NEG_INFINITY)?;
    Some((row0 + i / v, i % v))
}

/// Where [`GpuContext::upload_rows`] takes the logits from.
enum Logits<'a> {
    /// All of them, row-major.
    Given(&'a [f32], &'a [f32]),
    /// `fill(row0, rows, teacher, student)` appends rows, at most `piece_elems` logits at a time.
    Generated {
        piece_elems: usize,
        fill: &'a mut RowFiller<'a>,
    },
}

/// How the rows are stored and split; the defaults suit every use but tests of the chunking.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowsOptions {
    pub storage: Storage,
    /// Caps the rows per chunk below what the binding limit allows.
    pub max_rows_per_chunk: Option<usize>,
    /// Caps the workgroups per grid dimension below the device limit (forces the 2-D grid).
    pub max_workgroups_x: Option<u32>,
}

/// Per-run choices.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Hinton's hard label per row (overrides the spec's shared `label`).
    pub labels: Option<&'a [u32]>,
    /// False skips copying the gradient back (timing runs); the kernel still writes it.
    pub read_grad: bool,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            labels: None,
            read_grad: true,
        }
    }
}

struct Chunk {
    row0: usize,
    rows: usize,
    teacher: wgpu::Buffer,
    /// For the bind groups of aux data wider than the chunk's own (ULD's sorted teacher).
    student: wgpu::Buffer,
    params: wgpu::Buffer,
    aux: wgpu::Buffer,
    values: wgpu::Buffer,
    grad: wgpu::Buffer,
    values_read: wgpu::Buffer,
    grad_read: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

/// The practice steps of one setting bound to a [`GpuRows`]: the family's bind groups on the
/// shaped rows, the shaped teacher's aux words.
struct Shaped {
    binding: ShapeBinding,
    bind: Vec<wgpu::BindGroup>,
    aux: Mutex<Option<(String, Arc<Vec<u32>>)>>,
    /// The first timed run of a setting warms its pipelines up too.
    warmed: AtomicBool,
}

/// Two GPU timestamps around a compute pass, resolved and read back.
pub(crate) struct Timer {
    pub(crate) set: wgpu::QuerySet,
    pub(crate) resolve: wgpu::Buffer,
    pub(crate) read: wgpu::Buffer,
}

/// Logits resident on the device (see [`GpuContext::upload`]).
pub struct GpuRows<'c> {
    ctx: &'c GpuContext,
    n: usize,
    v: usize,
    storage: Storage,
    chunks: Vec<Chunk>,
    /// Teacher-side aux words for all rows (AKL thresholds, ULD's sorted teacher), for the last setting.
    akl: Mutex<Option<(String, Arc<Vec<u32>>)>>,
    /// The practice steps of the last setting with options (the shaped teacher is kept).
    shaped: Mutex<Option<(String, Arc<Shaped>)>>,
    /// The top-k kernels of the last top-k loss, bound to these rows with the derived teacher.
    topk: Mutex<Option<(String, Arc<TopKBinding>)>>,
    /// The first −∞ teacher logit `[row, class]`: practice options need finite logits.
    teacher_zero: Option<(usize, usize)>,
    timer: Option<Timer>,
    max_wg: u32,
}

impl std::fmt::Debug for GpuRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuRows")
            .field("rows", &self.n)
            .field("vocab", &self.v)
            .field("storage", &self.storage)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl GpuRows<'_> {
    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn vocab(&self) -> usize {
        self.v
    }

    pub fn storage(&self) -> Storage {
        self.storage
    }

    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The teacher logits as the device holds them (f16-rounded under f16 storage).
    fn teacher_back(&self) -> Result<Vec<f32>, GpuError> {
        self.rows_back(|i| Some(&self.chunks[i].teacher))
    }

    /// All rows of the per-chunk buffers `pick(i)` (the chunk's teacher where it gives `None`).
    fn rows_back<'b>(
        &'b self,
        pick: impl Fn(usize) -> Option<&'b wgpu::Buffer>,
    ) -> Result<Vec<f32>, GpuError> {
        use wgpu::BufferUsages as U;
        let ctx = self.ctx;
        let v = self.v;
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kdviz teacher read-back"),
            });
        let stages = ctx.scoped("reading the teacher back", || {
            let stages: Vec<wgpu::Buffer> = self
                .chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let b = ctx.buffer(
                        "kdviz teacher read",
                        c.rows * self.storage.row_bytes(v),
                        U::MAP_READ | U::COPY_DST,
                    );
                    let src = pick(i).unwrap_or(&c.teacher);
                    enc.copy_buffer_to_buffer(src, 0, &b, 0, None);
                    b
                })
                .collect();
            ctx.queue.submit([enc.finish()]);
            stages
        })?;
        let mut out = vec![0f32; self.n * v];
        let refs: Vec<&wgpu::Buffer> = stages.iter().collect();
        ctx.read_back(&refs, |i, bytes| {
            let c = &self.chunks[i];
            let out = &mut out[c.row0 * v..(c.row0 + c.rows) * v];
            self.storage.decode_rows(bytes, v, out);
        })?;
        Ok(out)
    }

    /// The per-row words a teacher-side aux needs (AKL thresholds, ULD's sorted teacher), computed
    /// once per setting (the teacher is fixed).
    fn teacher_aux(&self, aux: Aux) -> Result<Arc<Vec<u32>>, GpuError> {
        let key = format!("{aux:?}");
        let mut cache = self.akl.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, words)) = cache.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(words));
        }
        let teacher = self.teacher_back()?;
        let words = Arc::new(teacher_aux_words(aux, &teacher, self.n, self.v));
        *cache = Some((key, Arc::clone(&words)));
        Ok(words)
    }

    /// Runs `div` over every row.
    pub fn run(&self, div: &Divergence, opts: &RunOptions) -> Result<RowsResult, GpuError> {
        self.run_on(div, opts, None)
    }

    /// Runs `loss` over every row: the family alone without practice options ([`GpuRows::run`]);
    /// with options of `support=full` or `sampled`, the practice steps of `shaping.rs` around it.
    /// `stream0` is the sampler stream of row 0 (`support=sampled`: row r draws on
    /// `stream0 + r`, practice.md §10.5). Top-k supports, `compute≠exact` and `precision=f64`
    /// are refused ([`GpuError::Unsupported`]).
    pub fn run_loss(
        &self,
        loss: &Loss,
        stream0: u64,
        opts: &RunOptions,
    ) -> Result<RowsResult, GpuError> {
        if loss.practice.is_default() {
            return self.run(&loss.family, opts);
        }
        let loss = &loss_on_storage(loss, self.storage)?;
        if loss.practice.is_default() {
            return self.run(&loss.family, opts);
        }
        if let Some(k) = loss.practice.support.k() {
            return self.run_topk(loss, k, opts);
        }
        loss_refusal(loss)?;
        if let Some((r, k)) = self.teacher_zero {
            return Err(GpuError::Input(format!(
                "{}: teacher logit [{r}, {k}] is -inf; practice options need finite logits",
                loss.family.name()
            )));
        }
        check_gpu(&loss.family, self.v).map_err(GpuError::Input)?;
        let shaped = self.shaped(loss, stream0)?;
        self.run_on(&loss.family, opts, Some(&shaped))
    }

    /// A top-k support: the teacher's top `k` per row derived on the host from the uploaded
    /// teacher (as `kdviz real --topk`: the log-softmax in f64, ties to the lower id, the tail as
    /// the log-sum-exp of the rest), then the sparse kernels (`gpu/topk`) on these rows' student
    /// and gradient. The binding is kept for the next run of the same loss.
    fn run_topk(&self, loss: &Loss, k: usize, opts: &RunOptions) -> Result<RowsResult, GpuError> {
        use wgpu::BufferUsages as U;
        let ctx = self.ctx;
        let (n, v) = (self.n, self.v);
        if self.storage != Storage::F32 {
            return Err(GpuError::Unsupported(format!(
                "support={}: the top-k kernels read f32 student logits; use f32 storage",
                loss.practice.support.name()
            )));
        }
        if let Some((r, c)) = self.teacher_zero {
            return Err(GpuError::Input(format!(
                "{}: teacher logit [{r}, {c}] is -inf; practice options need finite logits",
                loss.family.name()
            )));
        }
        if k > v {
            return Err(GpuError::Input(format!(
                "{}: k={k} is out of range; expected 1..{v}",
                loss.family.name()
            )));
        }
        let binding = {
            let key = format!("{loss:?}");
            let mut cache = self.topk.lock().unwrap_or_else(|e| e.into_inner());
            match cache.as_ref() {
                Some((kk, b)) if *kk == key => Arc::clone(b),
                _ => {
                    *cache = None;
                    let (ids, lp, tail) = top_k_of(&self.teacher_back()?, n, v, k);
                    let stored = StoredRows {
                        ids: &ids,
                        lp: &lp,
                        tail: Some(&tail),
                        k,
                    };
                    let targets: Vec<TopKTarget> = self
                        .chunks
                        .iter()
                        .map(|c| TopKTarget {
                            row0: c.row0,
                            rows: c.rows,
                            student: &c.student,
                            grad: &c.grad,
                        })
                        .collect();
                    let b = Arc::new(ctx.bind_topk(loss, &stored, &targets, n, v)?);
                    *cache = Some((key, Arc::clone(&b)));
                    b
                }
            }
        };
        let values_read = ctx.scoped("allocating the values' read-back", || {
            ctx.buffer("kdviz topk values read", n * 4, U::MAP_READ | U::COPY_DST)
        })?;
        let grads: Vec<ChunkGrad> = self
            .chunks
            .iter()
            .map(|c| ChunkGrad {
                row0: c.row0,
                rows: c.rows,
                grad: &c.grad,
                read: &c.grad_read,
            })
            .collect();
        let reads = RunReads {
            values: &values_read,
            grads: &grads,
            timer: self.timer.as_ref(),
        };
        run_bound(ctx, &binding, &reads, (n, v), opts.read_grad)
    }

    /// The practice steps of `loss` bound to these rows, the teacher shaped (or sampled): kept
    /// for the next run of the same setting.
    fn shaped(&self, loss: &Loss, stream0: u64) -> Result<Arc<Shaped>, GpuError> {
        let pr = &loss.practice;
        // The family matters to EA-KD's weight, the stream to the sampled teacher only.
        let key = match pr.support {
            crate::math::practice::Support::Sampled { .. } => format!("{loss:?} {stream0}"),
            _ => format!("{loss:?}"),
        };
        let mut cache = self.shaped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, s)) = cache.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(s));
        }
        *cache = None; // free the last setting's rows first
        let ctx = self.ctx;
        let targets: Vec<ShapeTarget<'_>> = self
            .chunks
            .iter()
            .map(|c| ShapeTarget {
                rows: c.rows,
                teacher: &c.teacher,
                student: &c.student,
                grad: &c.grad,
                values: &c.values,
            })
            .collect();
        let binding = ctx.bind_shaping(loss, self.storage, &targets, self.v)?;
        binding.shape_teacher(ctx)?;
        if binding.plan().sampled() {
            let raw = self.teacher_back()?;
            binding.sample_teacher(ctx, pr, &raw, stream0)?;
        }
        let bind = ctx.scoped("binding the loss kernel to the shaped rows", || {
            self.chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let t = binding.teacher(i).unwrap_or(&c.teacher);
                    let s = binding.student(i).unwrap_or(&c.student);
                    ctx.bind_buffers(
                        "kdviz loss (shaped)",
                        &ctx.kernels.bgl,
                        &[&c.params, t, s, &c.aux, &c.values, &c.grad],
                    )
                })
                .collect()
        })?;
        let shaped = Arc::new(Shaped {
            binding,
            bind,
            aux: Mutex::new(None),
            warmed: AtomicBool::new(false),
        });
        *cache = Some((key, Arc::clone(&shaped)));
        Ok(shaped)
    }

    /// [`GpuRows::teacher_aux`] of the shaped teacher (its own cache).
    fn shaped_aux(&self, shaped: &Shaped, aux: Aux) -> Result<Arc<Vec<u32>>, GpuError> {
        if shaped.binding.teacher(0).is_none() {
            return self.teacher_aux(aux);
        }
        let key = format!("{aux:?}");
        let mut cache = shaped.aux.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, words)) = cache.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(words));
        }
        let teacher = self.rows_back(|i| shaped.binding.teacher(i))?;
        let words = Arc::new(teacher_aux_words(aux, &teacher, self.n, self.v));
        *cache = Some((key, Arc::clone(&words)));
        Ok(words)
    }

    /// [`GpuRows::run`], on the shaped rows when `shaped` is given.
    fn run_on(
        &self,
        div: &Divergence,
        opts: &RunOptions,
        shaped: Option<&Shaped>,
    ) -> Result<RowsResult, GpuError> {
        let ctx = self.ctx;
        let (n, v) = (self.n, self.v);
        cpu_only(div)?;
        check_gpu(div, v).map_err(GpuError::Input)?;
        let plan = plan(div);
        let mut aux_words: Option<Arc<Vec<u32>>> = None;
        let mut base = plan.params;
        base.v = v as u32;
        match plan.aux {
            Aux::None => {}
            Aux::AklHead { .. } | Aux::SortedTeacher => {
                aux_words = Some(match shaped {
                    Some(sh) => self.shaped_aux(sh, plan.aux)?,
                    None => self.teacher_aux(plan.aux)?,
                })
            }
            Aux::Label(label) => match opts.labels {
                Some(labels) => {
                    if labels.len() != n {
                        return Err(GpuError::Input(format!(
                            "{} labels for {n} rows; expected one per row",
                            labels.len()
                        )));
                    }
                    if let Some((r, &l)) =
                        labels.iter().enumerate().find(|(_, l)| **l as usize >= v)
                    {
                        return Err(GpuError::Input(format!(
                            "{}: label {l} of row {r} is not a class; expected an index below {v}",
                            div.name()
                        )));
                    }
                    base.flags |= FLAG_ROW_LABELS;
                    aux_words = Some(Arc::new(labels.iter().flat_map(|&l| [l, 0]).collect()));
                }
                None => {
                    if label >= v {
                        return Err(GpuError::Input(format!(
                            "{}: label={label} is not a class; expected an index below {v}",
                            div.name()
                        )));
                    }
                    base.label = label as u32;
                }
            },
        }
        let pipe = ctx.pipeline(plan.kind, self.storage)?;
        let first_of_family = ctx
            .kernels
            .warmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((plan.kind, self.storage));
        let first_of_setting = shaped.is_some_and(|s| !s.warmed.swap(true, Ordering::Relaxed));
        let warm_up = self.timer.is_some() && (first_of_family || first_of_setting);
        ctx.scoped("running the loss kernel", || {
            self.encode(
                &pipe,
                base,
                aux_words.as_deref(),
                opts.read_grad,
                warm_up,
                shaped,
            )
        })?;

        let mut bufs: Vec<&wgpu::Buffer> = Vec::new();
        for c in &self.chunks {
            bufs.push(&c.values_read);
            if opts.read_grad {
                bufs.push(&c.grad_read);
            }
        }
        if let Some(t) = &self.timer {
            bufs.push(&t.read);
        }
        let mut values = vec![0f32; n];
        let mut grad = if opts.read_grad {
            vec![0f32; n * v]
        } else {
            Vec::new()
        };
        let mut ticks: Option<(u64, u64)> = None;
        let per_chunk = if opts.read_grad { 2 } else { 1 };
        let storage = self.storage;
        ctx.read_back(&bufs, |i, bytes| {
            let ci = i / per_chunk;
            let Some(c) = self.chunks.get(ci) else {
                let t = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
                ticks = Some((t(0), t(8)));
                return;
            };
            if i % per_chunk == 0 {
                Storage::F32.decode_rows(bytes, c.rows, &mut values[c.row0..c.row0 + c.rows]);
            } else {
                storage.decode_rows(bytes, v, &mut grad[c.row0 * v..(c.row0 + c.rows) * v]);
            }
        })?;
        let period = f64::from(ctx.info.timestamp_period_ns);
        let gpu_ms = ticks
            .filter(|(t0, t1)| t1 > t0)
            .map(|(t0, t1)| (t1 - t0) as f64 * period / 1e6);
        Ok(RowsResult {
            values,
            grad,
            gpu_ms,
            passes: plan.kind.passes() + shaped.map_or(0, |s| s.binding.plan().sweeps()),
            chunks: self.chunks.len(),
        })
    }

    fn encode(
        &self,
        pipe: &wgpu::ComputePipeline,
        base: Params,
        aux: Option<&Vec<u32>>,
        read_grad: bool,
        warm_up: bool,
        shaped: Option<&Shaped>,
    ) {
        let ctx = self.ctx;
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kdviz loss"),
            });
        // Aux words per row: 2 fit the chunk's own aux buffer; wider aux (ULD's sorted teacher, V
        // words per row) gets a buffer and a bind group for this run.
        let per_row = aux.map_or(2, |a| a.len() / self.n.max(1));
        let mut wide: Vec<Option<wgpu::BindGroup>> = Vec::new();
        for c in &self.chunks {
            let params = Params {
                n_rows: c.rows as u32,
                ..base
            };
            ctx.queue
                .write_buffer(&c.params, 0, bytemuck::bytes_of(&params));
            let Some(aux) = aux else {
                wide.push(None);
                continue;
            };
            let words = &aux[per_row * c.row0..per_row * (c.row0 + c.rows)];
            if per_row <= 2 {
                ctx.queue
                    .write_buffer(&c.aux, 0, bytemuck::cast_slice(words));
                wide.push(None);
            } else {
                let buf = ctx.buffer(
                    "kdviz wide aux",
                    words.len() * 4,
                    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                );
                ctx.queue.write_buffer(&buf, 0, bytemuck::cast_slice(words));
                let i = wide.len();
                let sh = shaped.map(|s| &s.binding);
                let t = sh.and_then(|s| s.teacher(i)).unwrap_or(&c.teacher);
                let s = sh.and_then(|s| s.student(i)).unwrap_or(&c.student);
                wide.push(Some(ctx.bind_buffers(
                    "kdviz loss (wide aux)",
                    &ctx.kernels.bgl,
                    &[&c.params, t, s, &buf, &c.values, &c.grad],
                )));
            }
        }
        // Per chunk: the student's practice steps, the family, the chain rule back.
        let dispatch_all = |pass: &mut wgpu::ComputePass| {
            for (i, (c, w)) in self.chunks.iter().zip(&wide).enumerate() {
                let rows = c.rows as u32;
                let x = rows.min(self.max_wg);
                let y = rows.div_ceil(x);
                let own = match shaped {
                    Some(s) => {
                        s.binding.dispatch_student(pass, i);
                        &s.bind[i]
                    }
                    None => &c.bind,
                };
                pass.set_pipeline(pipe);
                pass.set_bind_group(0, w.as_ref().unwrap_or(own), &[]);
                pass.dispatch_workgroups(x, y, 1);
                if let Some(s) = shaped {
                    s.binding.dispatch_chain(pass, i);
                }
            }
        };
        if warm_up {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kdviz loss warm-up"),
                timestamp_writes: None,
            });
            dispatch_all(&mut pass);
        }
        {
            let timestamp_writes = self
                .timer
                .as_ref()
                .map(|t| wgpu::ComputePassTimestampWrites {
                    query_set: &t.set,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kdviz loss"),
                timestamp_writes,
            });
            dispatch_all(&mut pass);
        }
        for c in &self.chunks {
            enc.copy_buffer_to_buffer(&c.values, 0, &c.values_read, 0, None);
            if read_grad {
                enc.copy_buffer_to_buffer(&c.grad, 0, &c.grad_read, 0, None);
            }
        }
        if let Some(t) = &self.timer {
            enc.resolve_query_set(&t.set, 0..2, &t.resolve, 0);
            enc.copy_buffer_to_buffer(&t.resolve, 0, &t.read, 0, None);
        }
        ctx.queue.submit([enc.finish()]);
    }
}

/// The top `k` of each of `n` rows of `v` teacher logits: ids (decreasing log-probability, ties to
/// the lower id), their log-probabilities and the tail's `ln p̄` (the log-sum-exp of the rest, not
/// a subtraction), computed in f64 and stored in f32 as the kernels read them.
fn top_k_of(teacher: &[f32], n: usize, v: usize, k: usize) -> (Vec<u32>, Vec<f32>, Vec<f32>) {
    use crate::math::logspace::logsumexp;
    let (mut ids, mut lps, mut tails) = (
        Vec::with_capacity(n * k),
        Vec::with_capacity(n * k),
        Vec::with_capacity(n),
    );
    let (mut lp, mut order, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for row in teacher.chunks_exact(v).take(n) {
        lp.clear();
        lp.extend(row.iter().map(|&x| f64::from(x)));
        let lse = logsumexp(&lp);
        lp.iter_mut().for_each(|x| *x -= lse);
        // The k largest first, the rest after them.
        crate::math::practice::support::top_k_into(&lp, k, &mut order);
        let (top, others) = order.split_at(k);
        ids.extend(top.iter().map(|&j| j as u32));
        lps.extend(top.iter().map(|&j| lp[j] as f32));
        rest.clear();
        rest.extend(others.iter().map(|&j| lp[j]));
        tails.push(if rest.is_empty() {
            f32::NEG_INFINITY
        } else {
            logsumexp(&rest) as f32
        });
    }
    (ids, lps, tails)
}

/// One chunk of rows of the f32 teacher, student and gradient tensors that a caller owns.
pub(crate) struct LossTarget<'a> {
    pub row0: usize,
    pub rows: usize,
    pub teacher: &'a wgpu::Buffer,
    pub student: &'a wgpu::Buffer,
    pub grad: &'a wgpu::Buffer,
    /// The per-row values (one f32 per row) when the caller shares them (the practice steps'
    /// chain rule scales them); `None`: the binding's own.
    pub values: Option<&'a wgpu::Buffer>,
}

/// The loss kernel bound to a caller's chunks of rows (the trainer's `[N × V]` tensors); the
/// uniform and aux buffers of each chunk are its own, the per-row values too unless the caller
/// gives them.
pub(crate) struct LossBinding {
    base: Params,
    aux: Aux,
    kind: Kind,
    pipe: wgpu::ComputePipeline,
    chunks: Vec<LossChunk>,
    max_wg: u32,
    /// The trainer's fused epoch ([`LossBinding::fuse`]): its pipeline and, per chunk, its two
    /// bind groups; dispatched instead of `pipe`.
    fused: Option<(wgpu::ComputePipeline, Vec<[wgpu::BindGroup; 2]>)>,
}

struct LossChunk {
    row0: usize,
    rows: u32,
    params: wgpu::Buffer,
    /// One f32 per row of the chunk.
    values: wgpu::Buffer,
    bind: wgpu::BindGroup,
    /// Bound in `bind`; rewritten by [`LossBinding::set_teacher`].
    aux: wgpu::Buffer,
}

impl GpuContext {
    /// Binds the loss kernel of `div` to the caller's chunks of rows (together rows `0..n`, in
    /// order). `teacher_host` (the same logits) gives the AKL head thresholds; `labels` (one per
    /// row) Hinton's hard labels.
    pub(crate) fn bind_loss(
        &self,
        div: &Divergence,
        teacher_host: &[f32],
        labels: &[u32],
        targets: &[LossTarget<'_>],
        n: usize,
        v: usize,
    ) -> Result<LossBinding, GpuError> {
        use wgpu::BufferUsages as U;
        cpu_only(div)?;
        check_gpu(div, v).map_err(GpuError::Input)?;
        let plan = plan(div);
        let mut base = plan.params;
        base.v = v as u32;
        base.n_rows = n as u32;
        let (aux_words, per_row): (Vec<u32>, usize) = match plan.aux {
            Aux::None => (Vec::new(), 0),
            Aux::AklHead { .. } => (teacher_aux_words(plan.aux, teacher_host, n, v), 2),
            Aux::SortedTeacher => (teacher_aux_words(plan.aux, teacher_host, n, v), v),
            Aux::Label(_) => {
                base.flags |= FLAG_ROW_LABELS;
                (labels.iter().flat_map(|&l| [l, 0]).collect(), 2)
            }
        };
        let pipe = self.pipeline(plan.kind, Storage::F32)?;
        self.scoped("binding the loss kernel", || {
            let chunks = targets
                .iter()
                .map(|t| {
                    let params = self.buffer(
                        "kdviz train loss params",
                        size_of::<Params>(),
                        U::UNIFORM | U::COPY_DST,
                    );
                    let words = aux_words
                        .get(per_row * t.row0..per_row * (t.row0 + t.rows))
                        .unwrap_or_default();
                    let aux = self.buffer(
                        "kdviz train loss aux",
                        words.len().max(2) * 4,
                        U::STORAGE | U::COPY_DST,
                    );
                    if !words.is_empty() {
                        self.queue
                            .write_buffer(&aux, 0, bytemuck::cast_slice(words));
                    }
                    let values = match t.values {
                        Some(b) => b.clone(),
                        None => {
                            self.buffer("kdviz train values", t.rows * 4, U::STORAGE | U::COPY_SRC)
                        }
                    };
                    let bind = self.bind_buffers(
                        "kdviz train loss",
                        &self.kernels.bgl,
                        &[&params, t.teacher, t.student, &aux, &values, t.grad],
                    );
                    LossChunk {
                        row0: t.row0,
                        rows: t.rows as u32,
                        params,
                        values,
                        bind,
                        aux,
                    }
                })
                .collect();
            LossBinding {
                base,
                aux: plan.aux,
                kind: plan.kind,
                pipe,
                chunks,
                max_wg: self.info.max_compute_workgroups_per_dimension.max(1),
                fused: None,
            }
        })
    }
}

impl LossBinding {
    /// Writes the parameters of `div`, the divergence bound or one of its family (TAID's t moves
    /// between epochs); takes effect at the next submission.
    pub(crate) fn set_div(&self, ctx: &GpuContext, div: &Divergence) {
        let a = plan(div).params.a;
        for c in &self.chunks {
            let params = Params {
                a,
                n_rows: c.rows,
                ..self.base
            };
            ctx.queue
                .write_buffer(&c.params, 0, bytemuck::bytes_of(&params));
        }
    }

    /// The family's aux words come from the teacher's rows (AKL's head, ULD's order): a caller
    /// that changes the teacher the kernel reads (shaped or sampled) calls [`Self::set_teacher`].
    pub(crate) fn reads_teacher(&self) -> bool {
        matches!(self.aux, Aux::AklHead { .. } | Aux::SortedTeacher)
    }

    /// Rewrites the teacher-side aux words from `teacher_host` (`[n × v]`, the rows the kernel
    /// reads); nothing for a family that does not read them.
    pub(crate) fn set_teacher(&self, ctx: &GpuContext, teacher_host: &[f32], n: usize, v: usize) {
        if !self.reads_teacher() {
            return;
        }
        let words = teacher_aux_words(self.aux, teacher_host, n, v);
        let per_row = words.len() / n.max(1);
        for c in &self.chunks {
            let rows = c.rows as usize;
            if let Some(w) = words.get(per_row * c.row0..per_row * (c.row0 + rows)) {
                ctx.queue.write_buffer(&c.aux, 0, bytemuck::cast_slice(w));
            }
        }
    }

    /// Fuses the trainer's epoch into the kernel (`fused.rs`): from now on each dispatch also
    /// runs Adam in pass 1 and the metrics in the gradient pass, as `epoch[i]`'s parameters say.
    /// `targets` are the buffers this binding was made with, `epoch` what the fused kernel binds
    /// besides, per chunk. Refused (the binding unchanged) on a device that cannot bind them.
    pub(crate) fn fuse(
        &mut self,
        ctx: &GpuContext,
        targets: &[LossTarget<'_>],
        epoch: &[EpochTarget<'_>],
    ) -> Result<(), GpuError> {
        let pipe = ctx.fused_pipeline(self.kind)?;
        let layouts = ctx.fused_layouts()?;
        let groups = ctx.scoped("binding the fused epoch", || {
            self.chunks
                .iter()
                .zip(targets)
                .zip(epoch)
                .map(|((c, t), e)| {
                    [
                        ctx.bind_buffers(
                            "kdviz fused loss",
                            &layouts.group0,
                            &[&c.params, t.teacher, t.student, &c.aux, &c.values, t.grad],
                        ),
                        ctx.bind_buffers(
                            "kdviz fused epoch",
                            &layouts.group1,
                            &[e.params, e.m1, e.m2, e.metric_aux, e.metrics_out],
                        ),
                    ]
                })
                .collect::<Vec<_>>()
        })?;
        if groups.len() != self.chunks.len() {
            return Err(GpuError::Unsupported(format!(
                "the fused epoch got {} chunks of buffers for {} chunks of rows",
                groups.len(),
                self.chunks.len()
            )));
        }
        self.fused = Some((pipe, groups));
        Ok(())
    }

    /// Chunk `i`'s rows, one workgroup per row (2-D grid beyond the per-dimension limit).
    pub(crate) fn dispatch(&self, pass: &mut wgpu::ComputePass, i: usize) {
        let Some(c) = self.chunks.get(i) else { return };
        let x = c.rows.min(self.max_wg).max(1);
        match &self.fused {
            Some((pipe, groups)) => {
                let Some([g0, g1]) = groups.get(i) else {
                    return;
                };
                pass.set_pipeline(pipe);
                pass.set_bind_group(0, g0, &[]);
                pass.set_bind_group(1, g1, &[]);
            }
            None => {
                pass.set_pipeline(&self.pipe);
                pass.set_bind_group(0, &c.bind, &[]);
            }
        }
        pass.dispatch_workgroups(x, c.rows.div_ceil(x), 1);
    }

    /// Copies every chunk's per-row values to `dst` (one f32 per row, rows in order).
    pub(crate) fn copy_values(&self, enc: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        for c in &self.chunks {
            enc.copy_buffer_to_buffer(&c.values, 0, dst, c.row0 as u64 * 4, None);
        }
    }
}

/// The aux words of a teacher-side [`Aux`] for `n` rows of `v` logits, rows split over threads:
/// AKL's `(thr, kcut)` per row (either convention), ULD's teacher classes by descending
/// probability (`v` class ids per row, sorted on the f64 softmax of the row, ties by index).
pub(crate) fn teacher_aux_words(aux: Aux, teacher: &[f32], n: usize, v: usize) -> Vec<u32> {
    let per_row = match aux {
        Aux::SortedTeacher => v,
        _ => 2,
    };
    let mut words = vec![0u32; per_row * n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows_per = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (i, out) in words.chunks_mut(per_row * rows_per).enumerate() {
            s.spawn(move || {
                for (j, w) in out.chunks_exact_mut(per_row).enumerate() {
                    let r = i * rows_per + j;
                    let row = &teacher[r * v..(r + 1) * v];
                    match aux {
                        Aux::AklHead { mu, convention } => {
                            let (thr, kcut) = match convention {
                                AklConvention::Akl => head_threshold(row, mu),
                                AklConvention::Dskd => dskd_threshold(row, mu),
                            };
                            w[0] = thr.to_bits();
                            w[1] = kcut;
                        }
                        Aux::SortedTeacher => {
                            let logits: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
                            if let Ok(d) = LogDist::from_logits(&logits, true) {
                                for (o, k) in w.iter_mut().zip(descending_order(&d.p)) {
                                    *o = k as u32;
                                }
                            }
                        }
                        Aux::None | Aux::Label(_) => {}
                    }
                }
            });
        }
    });
    words
}

// The workgroup size in loss.wgsl is a literal; keep the two in step.
const _: () = assert!(WORKGROUP_SIZE == 256);
