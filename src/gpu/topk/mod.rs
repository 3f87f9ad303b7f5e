//! A teacher stored as its top k per row (practice.md §10.6) on the GPU, for `support=topk`,
//! `topk-renorm` and `topk-tail`: the teacher side is `[N × k]` ids and log-probabilities (and an
//! optional `[N]` tail log-probability), never `[N × V]`; the student is the full row of V logits.
//!
//! Two paths (`topk.wgsl`, appended to `loss.wgsl`):
//! * **per class** (`topk`, `renorm=teacher`, and fkl's `topk-tail` with verl's eps rule): one
//!   kernel, `Σ_K f(p, q)` with the full-V student softmax and the gradient `w_j 1[j∈K] − q_j Σ_K w`
//!   (`math::practice::support::per_class` in f32);
//! * **cells** (`renorm=both`, and `topk-tail` of every other distribution family): a gather kernel
//!   writes the student's cells (z'_K, and lse of z' over the complement for the tail), the
//!   family's own `loss.wgsl` kernel runs on k (+1) cells — the families are shift-invariant and
//!   normalise their inputs, which is §10.2/§10.3 — and a scatter kernel maps its gradient back to
//!   the row (`G'_j` on K, `G'_tail·q_j/q̄` off K).
//!
//! Per run the host prepares, in O(N·k): each row's first k ids ascending with their stored
//! position (the kernels find j ∈ K by binary search) and the teacher's cells, computed in f64 and
//! stored in f32 (renorm=teacher's `lp − ln P_K`, the tail's `ln p̄`). `st`, `t2` and `precision`
//! (the student's storage rounding) are applied on the GPU; what needs the teacher's full row or
//! f64 is refused with the reason. The byte model is [`SparseBytes`].
//!
//! Modules: `plan` (what a loss runs and its byte model), `stored` (the teacher's checks and what
//! the kernels read of it), `kernels` (the pipelines and their binding to chunks of rows).

mod kernels;
mod plan;
mod stored;

pub(crate) use kernels::TopKKernels;
#[allow(unused_imports)] // the GPU trainer's entry (not wired yet)
pub(crate) use kernels::{TopKBinding, TopKTarget};
pub use plan::{SparseBytes, topk_bytes_per_row};
pub(crate) use stored::StoredRows;

use super::chunks::row_chunks;
use super::device::GpuContext;
use super::loss::Timer;
use super::{GpuError, RowsOptions, RowsResult, RunOptions, Storage};
use crate::math::practice::Loss;
use plan::run_plan;
use stored::{check_student, check_teacher};

/// 1 GiB at most per buffer (as loss.rs: read-back copies are host-visible memory).
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// The student's logits resident on the device against a stored top-k teacher (see
/// [`GpuContext::upload_topk`]).
pub struct GpuTopK<'c> {
    ctx: &'c GpuContext,
    n: usize,
    v: usize,
    k: usize,
    ids: Vec<u32>,
    lp: Vec<f32>,
    tail: Option<Vec<f32>>,
    chunks: Vec<OwnChunk>,
    values_read: wgpu::Buffer,
    max_wg: u32,
    timer: Option<Timer>,
}

struct OwnChunk {
    row0: usize,
    rows: usize,
    student: wgpu::Buffer,
    grad: wgpu::Buffer,
    grad_read: wgpu::Buffer,
}

impl std::fmt::Debug for GpuTopK<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTopK")
            .field("rows", &self.n)
            .field("vocab", &self.v)
            .field("k", &self.k)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl GpuContext {
    /// Uploads `n` rows of `v` student logits (row-major f32) against a teacher stored as its top
    /// `k` per row: `ids` and `lp` `[n × k]` (decreasing log-probability, distinct classes below
    /// `v`, log-probabilities ≤ 0 or -inf), `tail` the log of each row's mass outside them
    /// (`None`: 1 − Σ p_K). The teacher stays on the host (`[n × k]`); each run uploads what its
    /// loss reads of it. `opts.storage` must be f32 (`precision=` rounds the student instead).
    #[allow(clippy::too_many_arguments)]
    pub fn upload_topk(
        &self,
        ids: &[u32],
        lp: &[f32],
        tail: Option<&[f32]>,
        student: &[f32],
        n: usize,
        v: usize,
        k: usize,
        opts: &RowsOptions,
    ) -> Result<GpuTopK<'_>, GpuError> {
        use wgpu::BufferUsages as U;
        if opts.storage != Storage::F32 {
            return Err(GpuError::Unsupported(format!(
                "{} storage with a stored top-k teacher: the student's logits are f32 on the GPU \
                 (precision=f16 or bf16 rounds them)",
                opts.storage.name()
            )));
        }
        check_teacher(&StoredRows { ids, lp, tail, k }, n, v)?;
        check_student(student, n, v)?;
        // The widest row of a chunk: the student's V logits or the keys' 2k words.
        let layout = row_chunks(
            n,
            v.max(2 * k),
            4,
            self.max_binding_bytes().min(MAX_CHUNK_BYTES),
            opts.max_rows_per_chunk.unwrap_or(usize::MAX),
        )
        .map_err(GpuError::Unsupported)?;
        let max_wg = self
            .info
            .max_compute_workgroups_per_dimension
            .min(opts.max_workgroups_x.unwrap_or(u32::MAX))
            .max(1);
        let (chunks, values_read, timer) = self.scoped("allocating buffers", || {
            let chunks: Vec<OwnChunk> = layout
                .iter()
                .map(|c| {
                    let bytes = c.rows * v * 4;
                    let s = self.buffer("kdviz topk student", bytes, U::STORAGE | U::COPY_DST);
                    self.queue.write_buffer(
                        &s,
                        0,
                        bytemuck::cast_slice(&student[c.row0 * v..(c.row0 + c.rows) * v]),
                    );
                    OwnChunk {
                        row0: c.row0,
                        rows: c.rows,
                        student: s,
                        grad: self.buffer("kdviz topk grad", bytes, U::STORAGE | U::COPY_SRC),
                        grad_read: self.buffer(
                            "kdviz topk grad read",
                            bytes,
                            U::MAP_READ | U::COPY_DST,
                        ),
                    }
                })
                .collect();
            let values_read =
                self.buffer("kdviz topk values read", n * 4, U::MAP_READ | U::COPY_DST);
            let timer = self.info.timestamp_query.then(|| self.timer());
            (chunks, values_read, timer)
        })?;
        Ok(GpuTopK {
            ctx: self,
            n,
            v,
            k,
            ids: ids.to_vec(),
            lp: lp.to_vec(),
            tail: tail.map(<[f32]>::to_vec),
            chunks,
            values_read,
            max_wg,
            timer,
        })
    }
}

impl GpuTopK<'_> {
    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn vocab(&self) -> usize {
        self.v
    }

    /// The teacher's stored k per row.
    pub fn k(&self) -> usize {
        self.k
    }

    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The byte model of one run of `loss` (see [`SparseBytes`]), or why it would be refused.
    pub fn bytes_per_row(&self, loss: &Loss) -> Result<SparseBytes, GpuError> {
        Ok(run_plan(loss, self.k, self.v)?.bytes(self.v))
    }

    /// Runs `loss` (a top-k support with k up to the stored k) over every row: the value per row
    /// and the gradient w.r.t. the raw student logits. `opts.labels` is not used (no family with
    /// labels takes a top-k support).
    pub fn run(&self, loss: &Loss, opts: &RunOptions) -> Result<RowsResult, GpuError> {
        let ctx = self.ctx;
        let (n, v) = (self.n, self.v);
        let stored = StoredRows {
            ids: &self.ids,
            lp: &self.lp,
            tail: self.tail.as_deref(),
            k: self.k,
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
        let binding = ctx.bind_topk_grid(loss, &stored, &targets, n, v, self.max_wg)?;
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
            values: &self.values_read,
            grads: &grads,
            timer: self.timer.as_ref(),
        };
        run_bound(ctx, &binding, &reads, (n, v), opts.read_grad)
    }
}

/// One chunk's gradient buffer and its host-readable copy.
pub(crate) struct ChunkGrad<'a> {
    pub row0: usize,
    pub rows: usize,
    pub grad: &'a wgpu::Buffer,
    pub read: &'a wgpu::Buffer,
}

/// Where a run's results are read back from: the values of all rows (one f32 each, in order),
/// each chunk's gradient, the timestamps.
pub(crate) struct RunReads<'a> {
    pub values: &'a wgpu::Buffer,
    pub grads: &'a [ChunkGrad<'a>],
    pub timer: Option<&'a Timer>,
}

/// Runs `binding` over its chunks in one compute pass (timed when there is a timer), then reads
/// back the values and, with `read_grad`, the gradient `[N × V]` (`nv`): shared by
/// [`GpuTopK::run`] and the top-k supports of [`super::GpuRows::run_loss`].
pub(crate) fn run_bound(
    ctx: &GpuContext,
    binding: &TopKBinding,
    reads: &RunReads<'_>,
    (n, v): (usize, usize),
    read_grad: bool,
) -> Result<RowsResult, GpuError> {
    ctx.scoped("running the top-k kernels", || {
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kdviz topk"),
            });
        {
            let timestamp_writes = reads.timer.map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.set,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kdviz topk"),
                timestamp_writes,
            });
            for i in 0..binding.chunks() {
                binding.dispatch(&mut pass, i);
            }
        }
        binding.copy_values(&mut enc, reads.values);
        if read_grad {
            for c in reads.grads {
                enc.copy_buffer_to_buffer(c.grad, 0, c.read, 0, None);
            }
        }
        if let Some(t) = reads.timer {
            enc.resolve_query_set(&t.set, 0..2, &t.resolve, 0);
            enc.copy_buffer_to_buffer(&t.resolve, 0, &t.read, 0, None);
        }
        ctx.queue.submit([enc.finish()]);
    })?;
    let mut bufs: Vec<&wgpu::Buffer> = vec![reads.values];
    if read_grad {
        bufs.extend(reads.grads.iter().map(|c| c.read));
    }
    if let Some(t) = reads.timer {
        bufs.push(&t.read);
    }
    let mut values = vec![0f32; n];
    let mut grad = if read_grad {
        vec![0f32; n * v]
    } else {
        Vec::new()
    };
    let mut ticks: Option<(u64, u64)> = None;
    let n_grad = if read_grad { reads.grads.len() } else { 0 };
    ctx.read_back(&bufs, |i, bytes| {
        let out: &mut [f32] = if i == 0 {
            &mut values
        } else if let Some(c) = reads.grads.get(i - 1).filter(|_| i <= n_grad) {
            &mut grad[c.row0 * v..(c.row0 + c.rows) * v]
        } else {
            let t = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
            ticks = Some((t(0), t(8)));
            return;
        };
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
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
        passes: binding.passes(),
        chunks: binding.chunks(),
    })
}
