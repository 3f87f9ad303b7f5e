//! What a [`Loss`] runs against a stored top-k teacher: the path, the cells, the kernel
//! parameters, the refusals, and the byte model.

use super::kernels::{
    TOPK_CLAMP, TOPK_FMT_BF16, TOPK_FMT_F16, TOPK_FMT_F32, TOPK_LPMIN, TOPK_TAIL_FKL, TopkParams,
};
use crate::gpu::GpuError;
use crate::gpu::plan::{Aux, Plan, check_gpu, cpu_only, plan};
use crate::math::Divergence;
use crate::math::practice::{Loss, Renorm, Support, stored_refusal};
use crate::math::precision::{Compute, Format};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    /// `topk_per_class` alone.
    PerClass,
    /// Gather, the family's loss.wgsl kernel on the cells, scatter.
    Cells,
}

/// How a [`Loss`] runs against a stored teacher of `v` classes.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunPlan {
    pub(super) path: Path,
    /// Teacher cells in K (the loss's k) and cells per row (k, or k + 1 with the tail cell).
    pub(super) k: usize,
    pub(super) kc: usize,
    /// The teacher's cells are `lp − ln P_K` (renorm=teacher).
    pub(super) renorm_teacher: bool,
    pub(super) family: Plan,
    pub(super) params: TopkParams,
}

/// The families whose per-class form `f(p, q)`, `w = q ∂f/∂q` the kernel has (§10's table).
fn separable(div: &Divergence) -> bool {
    use Divergence::*;
    matches!(
        div,
        Fkl | Rkl
            | Jsd { .. }
            | Tvd
            | Skl { .. }
            | Srkl { .. }
            | Ab { .. }
            | Alpha { .. }
            | Todi { .. }
            | Wsd { .. }
            | Jeffreys
    )
}

/// The plan of `loss` against a teacher stored as its top `stored_k` of `v` classes, or why it
/// cannot run on the GPU (every message names the key).
pub(super) fn run_plan(loss: &Loss, stored_k: usize, v: usize) -> Result<RunPlan, GpuError> {
    let fam = loss.family.name();
    let pr = &loss.practice;
    cpu_only(&loss.family)?;
    if pr.compute != Compute::Exact {
        return Err(GpuError::Unsupported(format!(
            "{fam}: compute={} runs on the CPU engine (it emulates arithmetic in the stored \
             formats); the GPU computes in f32 with compute=exact",
            pr.compute.name()
        )));
    }
    // support full/sampled, k over the stored k, tt, softcap, std, tprecision (§10.6).
    if let Some(why) = stored_refusal(loss, stored_k) {
        return Err(GpuError::Input(why));
    }
    let fmt = match pr.precision {
        Some(Format::F64) => {
            return Err(GpuError::Unsupported(format!(
                "{fam}: precision=f64 runs on the CPU engine; the GPU computes in f32 (precision=f32, \
                 bf16 or f16 round the student's logits on the GPU)"
            )));
        }
        None | Some(Format::F32) => TOPK_FMT_F32,
        Some(Format::Bf16) => TOPK_FMT_BF16,
        Some(Format::F16) => TOPK_FMT_F16,
    };
    let family = plan(&loss.family);
    let k = pr.support.k().unwrap_or(1);
    let per_class = |flags: u32, x: f64| {
        if separable(&loss.family) {
            Ok((Path::PerClass, k, flags, x))
        } else {
            Err(GpuError::Input(format!(
                "{fam}: support={} needs a per-class divergence (fkl, rkl, jsd, tvd, skl, srkl, ab, \
                 alpha, todi, wsd, jeffreys)",
                pr.support.name()
            )))
        }
    };
    let cells = |kc: usize| {
        if matches!(family.aux, Aux::Label(_)) {
            return Err(GpuError::Input(format!(
                "{fam}: support={} takes distribution families only",
                pr.support.name()
            )));
        }
        check_gpu(&loss.family, kc).map_err(GpuError::Input)?;
        Ok((Path::Cells, kc, 0, 0.0))
    };
    let tail_kc = if k < v { k + 1 } else { k };
    let (path, kc, flags, x) = match pr.support {
        Support::TopK { clamp, lpmin, .. } => {
            let mut flags = 0;
            if clamp {
                flags |= TOPK_CLAMP;
            }
            if lpmin.is_some() {
                flags |= TOPK_LPMIN;
            }
            per_class(flags, lpmin.unwrap_or(0.0))?
        }
        Support::TopKRenorm {
            renorm: Renorm::Teacher,
            ..
        } => per_class(0, 0.0)?,
        Support::TopKRenorm { .. } => cells(k)?,
        // verl's tail_kl (§10.3): its own value and gradient, ln p̄ always in the last cell.
        Support::TopKTail { eps, .. } if loss.family == Divergence::Fkl => {
            (Path::PerClass, k + 1, TOPK_TAIL_FKL, eps.ln())
        }
        Support::TopKTail { .. } => cells(tail_kc)?,
        // Refused by stored_refusal above.
        Support::Full | Support::Sampled { .. } => {
            return Err(GpuError::Input(format!(
                "{fam}: support={} is not a top-k support",
                pr.support.name()
            )));
        }
    };
    let st = pr.student_temperature();
    let scale_v = if pr.t2 { st * st } else { 1.0 };
    Ok(RunPlan {
        path,
        k,
        kc,
        renorm_teacher: matches!(
            pr.support,
            Support::TopKRenorm {
                renorm: Renorm::Teacher,
                ..
            }
        ),
        family,
        params: TopkParams {
            n_rows: 0,
            v: v as u32,
            k: k as u32,
            kc: kc as u32,
            flags,
            fmt,
            inf_bits: f32::INFINITY.to_bits(),
            pad: 0,
            st: st as f32,
            scale_v: scale_v as f32,
            scale_g: (scale_v / st) as f32,
            x: x as f32,
        },
    })
}

impl RunPlan {
    /// Sweeps over the student's row of V logits (reads; the gradient is written once).
    pub(super) fn passes(&self) -> u32 {
        match self.path {
            Path::PerClass => 2,
            // gather's and scatter's sweeps over the complement
            Path::Cells if self.kc > self.k => 2,
            Path::Cells => 0,
        }
    }

    pub(super) fn bytes(&self, v: usize) -> SparseBytes {
        let (v, k, kc) = (v as u64, self.k as u64, self.kc as u64);
        let teacher = 8 * k + 4 * kc;
        let scratch = match self.path {
            Path::PerClass => 0,
            // z' cells written, the family's sweeps over both cell rows, G' written and read
            Path::Cells => 4 * kc + 8 * kc * u64::from(self.family.kind.passes()) + 8 * kc,
        };
        SparseBytes {
            student: 4 * v * u64::from(self.passes()) + 4 * k,
            grad: 4 * v,
            teacher,
            scratch,
        }
    }
}

/// What one run moves per row on the device (f32 throughout), for `gpu bench`'s GB/s; per-row
/// values (4 bytes) and the binary searches' re-reads of the keys (cached) are left out.
///
/// * per class (`topk`, `renorm=teacher`, fkl's `topk-tail`): the student's row twice (8V) and its
///   k cells of K (4k), the gradient (4V), the keys and cells (8k + 4kc);
/// * `renorm=both`: the student's k cells (4k), the gradient (4V), keys and cells, the scratch;
/// * `topk-tail` of the other families: as `renorm=both` plus two sweeps of the student (8V).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparseBytes {
    /// Student logits read.
    pub student: u64,
    /// Gradient written (4V).
    pub grad: u64,
    /// Teacher side: the keys (id and stored position, 8k) and the cells (4 kc: lp_K, ln p̄).
    pub teacher: u64,
    /// The cell path's `[N × kc]` scratch: student cells, the family's passes, its gradient.
    pub scratch: u64,
}

impl SparseBytes {
    pub fn total(&self) -> u64 {
        self.student + self.grad + self.teacher + self.scratch
    }
}

/// The byte model of `loss` (a top-k support, its k as stored) on rows of `v` classes, or why the
/// GPU would refuse it.
pub fn topk_bytes_per_row(loss: &Loss, v: usize) -> Result<SparseBytes, GpuError> {
    let k = loss.practice.support.k().unwrap_or(1);
    Ok(run_plan(loss, k, v)?.bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(s: &str) -> Loss {
        s.parse().unwrap()
    }

    #[test]
    fn the_paths_and_the_byte_model() {
        let p = run_plan(&loss("fkl:support=topk,k=5"), 8, 100).unwrap();
        assert_eq!((p.path, p.k, p.kc), (Path::PerClass, 5, 5));
        assert_eq!(
            p.bytes(100).total(),
            8 * 100 + 4 * 5 + 4 * 100 + 8 * 5 + 4 * 5
        );
        let p = run_plan(&loss("jsd:support=topk-renorm,k=5"), 8, 100).unwrap();
        assert_eq!((p.path, p.kc, p.passes()), (Path::Cells, 5, 0));
        let p = run_plan(&loss("rkl:support=topk-tail,k=5"), 8, 100).unwrap();
        assert_eq!((p.path, p.kc, p.passes()), (Path::Cells, 6, 2));
        // k = V drops the tail cell; fkl's tail keeps ln p̄ for its own formula.
        assert_eq!(
            run_plan(&loss("rkl:support=topk-tail,k=5"), 5, 5)
                .unwrap()
                .kc,
            5
        );
        let p = run_plan(&loss("fkl:support=topk-tail,k=5"), 5, 5).unwrap();
        assert_eq!(
            (p.path, p.kc, p.params.flags),
            (Path::PerClass, 6, TOPK_TAIL_FKL)
        );
        let p = run_plan(&loss("fkl:support=topk,k=2,st=2,t2=true"), 8, 100).unwrap();
        assert_eq!((p.params.scale_v, p.params.scale_g), (4.0, 2.0));
    }
}
