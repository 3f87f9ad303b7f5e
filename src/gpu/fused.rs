//! The trainer's epoch in fewer sweeps over `[N × V]`: the family's loss kernel (`loss.wgsl`)
//! with the free student's Adam step folded into its first pass and the training metrics folded
//! into its gradient pass, instead of three kernels (Adam, loss, `metrics.wgsl`).
//!
//! `loss.wgsl` calls five hooks; this module supplies them in two versions, prepended to the
//! shader by `loss.rs`:
//! - **separate** (every other use of the loss kernel): `ld_s_step` reads the student, the others
//!   do nothing, and `student` is read-only;
//! - **fused** (the trainer, when the device binds [`FUSED_STORAGE_BUFFERS`] storage buffers per
//!   stage): pass 1's `ld_s_step` applies Adam to each logit it reads (the previous epoch's
//!   gradient, the moments; the Adam step of `adam.wgsl`, element by element) and writes it back;
//!   `epoch_start` makes those writes visible to the workgroup (ULD, BiLD and the top-1 check read
//!   other invocations' classes); `put_grad` hands each class's final gradient to `metric_push`,
//!   which accumulates the metrics of `metrics.wgsl` in registers (the teacher and student values
//!   it reads were just read by the same invocation); `metric_finish` reduces them and writes the
//!   row's 6 floats.
//!
//! Bytes per element and epoch for the free student under fkl: Adam 28, loss 20, metrics 12–16
//! separately (60–64), 44 fused (pass 1 also reads the gradient and moments and writes logits and
//! moments). The low-rank student keeps its Adam on `H` and `W` and folds only the metrics.
//! The results equal the separate kernels' up to the order of the metrics' row sums.

use super::GpuError;
use super::device::GpuContext;
use bytemuck::{Pod, Zeroable};

/// Storage buffers the fused kernel binds in one shader stage: the loss kernel's five, Adam's two
/// moments, the metrics' per-row words and output.
pub(crate) const FUSED_STORAGE_BUFFERS: u32 = 9;

/// The hooks when nothing is fused.
pub(crate) const WGSL_SEPARATE: &str = "
@group(0) @binding(2) var<storage, read> student: array<Elem>;
fn ld_s_step(i: u32) -> f32 { return ld_s(i); }
fn epoch_start(row: u32) {}
fn metric_push(r: Row, k: u32, g: f32) {}
fn metric_finish(r: Row) {}
";

/// The hooks of the fused epoch (f32 storage), after the Adam step and metric terms it shares with
/// the separate kernels.
pub(crate) const WGSL_FUSED: &str = concat!(
    include_str!("epoch_terms.wgsl"),
    "
@group(0) @binding(2) var<storage, read_write> student: array<Elem>;
struct Epoch {
    adam: u32, want_ce: u32, inf_bits: u32, pad0: u32,
    gscale: f32, b1: f32, b2: f32, step_size: f32,
    bc2_sqrt: f32, eps: f32, pad1: f32, pad2: f32,
}
@group(1) @binding(0) var<uniform> E: Epoch;
@group(1) @binding(1) var<storage, read_write> m1: array<f32>;
@group(1) @binding(2) var<storage, read_write> m2: array<f32>;
// Per row: metrics-head threshold bits, cut index, teacher argmax, teacher max bits, log-sum bits.
@group(1) @binding(3) var<storage, read> maux: array<u32>;
// Per row: kl_pq, kl_qp, head gap, tail gap, top-1 agreement, cross-entropy (as metrics.wgsl).
@group(1) @binding(4) var<storage, read_write> mout: array<f32>;

// Adam on logit i along the previous epoch's gradient (adam.wgsl's arithmetic, one split).
fn ld_s_step(i: u32) -> f32 {
    if (E.adam == 0u) {
        return ld_s(i);
    }
    var g = 0.0;
    g += f32(grad[i]);
    g *= E.gscale;
    let s = adam_step(f32(student[i]), g, m1[i], m2[i], E.b1, E.b2, E.step_size, E.bc2_sqrt, E.eps);
    m1[i] = s.y;
    m2[i] = s.z;
    student[i] = Elem(s.x);
    return s.x;
}

// The row's metric constants from maux (the student's max and log-sum come with each class).
var<private> m_row: MetricRow;
var<private> m_targ: u32;
// kl_pq, kl_qp, head gap, tail gap; cross-entropy and the classes tied at the student's max.
var<private> m_acc: vec4<f32>;
var<private> m_ce_ties: vec2<f32>;

fn epoch_start(row: u32) {
    storageBarrier();
    let o = 5u * row;
    m_targ = maux[o + 2u];
    m_row = MetricRow(0.0, 0.0, bitcast<f32>(maux[o + 3u]), bitcast<f32>(maux[o + 4u]),
        bitcast<f32>(maux[o]), maux[o + 1u], bitcast<f32>(E.inf_bits));
    m_acc = vec4<f32>(0.0);
    m_ce_ties = vec2<f32>(0.0);
}

fn metric_push(r: Row, k: u32, g: f32) {
    let z = ld_s(r.base + k);
    if (z == r.mz) {
        m_ce_ties.y += 1.0;
    }
    var m = m_row;
    m.mz = r.mz;
    m.llz = r.llz;
    let t = metric_term(m_acc, m, k, ld_t(r.base + k), z);
    m_acc = t.acc;
    if (E.want_ce != 0u) {
        m_ce_ties.x -= (t.q - g) * t.lq;
    }
}

fn metric_finish(r: Row) {
    let s = reduce_sum(r.lid, m_acc, vec4<f32>(m_ce_ties, 0.0, 0.0));
    if (r.lid == 0u) {
        let o = 6u * r.row;
        mout[o] = s.a.x;
        mout[o + 1u] = s.a.y;
        mout[o + 2u] = s.a.z;
        mout[o + 3u] = s.a.w;
        mout[o + 4u] = select(0.0, 1.0 / max(s.b.y, 1.0), ld_s(r.base + m_targ) == r.mz);
        mout[o + 5u] = s.b.x;
    }
}
"
);

/// The fused kernel's per-epoch constants (group 1, binding 0).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub(crate) struct EpochParams {
    /// 1: apply Adam in pass 1 (the free student after its first epoch).
    pub adam: u32,
    /// 1: accumulate the cross-entropy of TAID's schedule.
    pub want_ce: u32,
    pub inf_bits: u32,
    pub pad0: u32,
    pub gscale: f32,
    pub b1: f32,
    pub b2: f32,
    pub step_size: f32,
    pub bc2_sqrt: f32,
    pub eps: f32,
    pub pad: [f32; 2],
}

/// What the fused kernel binds besides the loss's own buffers, for one chunk of rows.
pub(crate) struct EpochTarget<'a> {
    /// [`EpochParams`].
    pub params: &'a wgpu::Buffer,
    /// Adam's moments of the chunk's logits (any small buffer when Adam is not fused).
    pub m1: &'a wgpu::Buffer,
    pub m2: &'a wgpu::Buffer,
    /// 5 words per row (see `WGSL_FUSED`).
    pub metric_aux: &'a wgpu::Buffer,
    /// 6 floats per row.
    pub metrics_out: &'a wgpu::Buffer,
}

/// The fused kernel's two bind group layouts and its pipeline layout.
pub(crate) struct FusedLayouts {
    pub group0: wgpu::BindGroupLayout,
    pub group1: wgpu::BindGroupLayout,
    pub layout: wgpu::PipelineLayout,
}

fn entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl GpuContext {
    /// Whether this device binds the fused kernel's storage buffers.
    pub(crate) fn can_fuse(&self) -> bool {
        self.info.max_storage_buffers_per_shader_stage >= FUSED_STORAGE_BUFFERS
    }

    /// The fused layouts, made on first use; refused on a device that cannot bind them.
    pub(crate) fn fused_layouts(&self) -> Result<&FusedLayouts, GpuError> {
        if !self.can_fuse() {
            return Err(GpuError::Unsupported(format!(
                "the fused epoch binds {FUSED_STORAGE_BUFFERS} storage buffers per stage; this \
                 device binds {}",
                self.info.max_storage_buffers_per_shader_stage
            )));
        }
        use wgpu::BufferBindingType as T;
        let (read, write) = (
            T::Storage { read_only: true },
            T::Storage { read_only: false },
        );
        Ok(self.kernels.fused_layouts.get_or_init(|| {
            let d = &self.device;
            let group0 = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("kdviz fused loss"),
                entries: &[
                    entry(0, T::Uniform),
                    entry(1, read),
                    entry(2, write),
                    entry(3, read),
                    entry(4, write),
                    entry(5, write),
                ],
            });
            let group1 = d.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("kdviz fused epoch"),
                entries: &[
                    entry(0, T::Uniform),
                    entry(1, write),
                    entry(2, write),
                    entry(3, read),
                    entry(4, write),
                ],
            });
            let layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("kdviz fused loss"),
                bind_group_layouts: &[Some(&group0), Some(&group1)],
                immediate_size: 0,
            });
            FusedLayouts {
                group0,
                group1,
                layout,
            }
        }))
    }
}
