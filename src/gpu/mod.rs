//! GPU kernels (wgpu compute): every divergence of [`crate::math`] over `[N × V]` rows of teacher
//! and student logits, the value per row and the gradient w.r.t. the student logits.
//!
//! The f64 engine in [`crate::math`] stays the reference; these kernels compute the same quantities
//! in f32 (f16 or bf16 storage optional) for sizes the CPU cannot handle interactively (real-model logits).
//!
//! ```no_run
//! use kdviz::gpu::GpuContext;
//! let ctx = GpuContext::new()?;
//! let div = "ab:alpha=0.2,beta=0.7".parse().unwrap();
//! let (n, v) = (2, 3);
//! let teacher = [1.0, 0.0, -1.0, 0.5, 0.5, f32::NEG_INFINITY];
//! let student = [0.0, 0.2, 0.1, 1.0, -1.0, 0.0];
//! let out = ctx.divergence_rows(&div, &teacher, &student, n, v)?;
//! assert_eq!(out.values.len(), n);
//! assert_eq!(out.grad.len(), n * v);
//! # Ok::<(), kdviz::gpu::GpuError>(())
//! ```

mod bandwidth;
mod chunks;
mod convert;
mod device;
mod error;
mod fused;
mod loss;
mod plan;
mod shaping;
mod storage;
mod topk;
mod train;

pub use bandwidth::CopyBandwidth;
pub use convert::{f16_to_f32, f32_to_f16};
pub use device::{GpuContext, GpuInfo};
pub use error::GpuError;
pub use loss::{GpuRows, RowsOptions, RunOptions, loss_on_storage};
pub use plan::{BILD_MAX_K, ULD_MAX_V, WORKGROUP_SIZE, check_gpu, cpu_only, passes};
pub use shaping::{loss_bytes_per_elem, loss_passes, loss_refusal, loss_scratch_rows};
pub use storage::Storage;
pub use topk::{GpuTopK, SparseBytes, topk_bytes_per_row};

pub(crate) use topk::StoredRows;
pub(crate) use train::{AdamConsts, TrainSetup, TrainStudent, Trainer, train_splits};

/// Values per row, gradient `[N × V]` row-major, and the kernel time.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsResult {
    /// One value per row; `+inf` where the divergence is infinite (never NaN for valid inputs).
    pub values: Vec<f32>,
    /// d value / d student logits; all zeros on rows whose value is infinite. Empty when the
    /// caller asked not to read it back.
    pub grad: Vec<f32>,
    /// Kernel time from GPU timestamps around all dispatches of the run, when the adapter has them.
    /// The first run of a family on a context dispatches twice and times the second (warm-up).
    pub gpu_ms: Option<f64>,
    /// Sweeps over each row's logits (the byte model's pass count): the family's, and with
    /// practice options the student's shaping and the chain rule's ([`loss_passes`]).
    pub passes: u32,
    /// Dispatch groups the rows were split into (binding-size limit).
    pub chunks: usize,
}
