//! From a [`Divergence`] to a kernel: which family branch of `loss.wgsl`, its uniform parameters
//! and how many sweeps over the logits it makes.
//!
//! Pass counts (one "pass" = one read of both rows; the last pass also writes the gradient):
//! FKL, RKL, TAID, Hinton 2; AKL, JSD, TVD, SKL, SRKL, AB/α 3; AMiD 4. RKL fits in 2 because
//! `KL(q‖p) = Σ e^(z−m)(z−u) / Σ e^(z−m) − lse_z + lse_u` accumulates online in pass 1. AB uses the
//! cancellation-free per-class form, which needs both log-sum-exps before any sum, hence 3 (the
//! separable `Σ p^a q^b` trick would give 2 but cancels as p → q and breaks on the limit lines).
//! AMiD needs the log-sum-exp of the mixture r before its divergence sums, and those sums before the
//! gradient, hence 4.

use crate::math::{AmidDiv, AmidOrder, Divergence};
use bytemuck::{Pod, Zeroable};

/// Invocations per workgroup; one workgroup per row.
pub const WORKGROUP_SIZE: u32 = 256;

pub(crate) const FLAG_ROW_LABELS: u32 = 1;
pub(crate) const FLAG_DETACH: u32 = 2;

/// The uniform block of `loss.wgsl` (`Params`), 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub(crate) struct Params {
    pub n_rows: u32,
    pub v: u32,
    pub label: u32,
    pub flags: u32,
    pub inf_bits: u32,
    pub order: u32,
    pub mode: u32,
    pub pad: u32,
    pub a: [f32; 8],
}

/// The `KIND` override of `loss.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Fkl = 0,
    Rkl = 1,
    Akl = 2,
    Jsd = 3,
    Tvd = 4,
    Skl = 5,
    Srkl = 6,
    Ab = 7,
    Taid = 8,
    Amid = 9,
    Hinton = 10,
}

impl Kind {
    pub fn passes(self) -> u32 {
        match self {
            Kind::Fkl | Kind::Rkl | Kind::Taid | Kind::Hinton => 2,
            Kind::Amid => 4,
            _ => 3,
        }
    }
}

/// What a dispatch needs besides the logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Aux {
    None,
    /// Per-row teacher threshold of the AKL head, computed on the CPU (see `akl.rs`).
    AklHead {
        mu: f64,
    },
    /// Hinton's hard label: the spec's shared label unless per-row labels are given.
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub kind: Kind,
    pub params: Params,
    pub aux: Aux,
}

/// Sweeps over the logits that `div` makes on the GPU (the byte model's pass count).
pub fn passes(div: &Divergence) -> u32 {
    plan(div).kind.passes()
}

fn mixture_logs(w: f64) -> (f32, f32) {
    (w.ln() as f32, (-w).ln_1p() as f32)
}

pub(crate) fn plan(div: &Divergence) -> Plan {
    let mut params = Params {
        inf_bits: f32::INFINITY.to_bits(),
        ..Params::default()
    };
    let mut aux = Aux::None;
    // The endpoints the CPU engine special-cases (exact comparisons, as there) go to FKL/RKL.
    let kind = match *div {
        Divergence::Fkl => Kind::Fkl,
        Divergence::Rkl => Kind::Rkl,
        Divergence::Akl { mu } => {
            aux = Aux::AklHead { mu };
            Kind::Akl
        }
        Divergence::Jsd { beta: 0.0, .. } => Kind::Fkl,
        Divergence::Jsd { beta: 1.0, .. } => Kind::Rkl,
        Divergence::Jsd { beta, norm } => {
            let (lb, l1b) = mixture_logs(beta);
            let scale = if norm {
                1.0 / (beta * (1.0 - beta))
            } else {
                1.0
            };
            params.a[..4].copy_from_slice(&[beta as f32, lb, l1b, scale as f32]);
            Kind::Jsd
        }
        Divergence::Tvd => Kind::Tvd,
        Divergence::Skl { alpha: 0.0 } => Kind::Fkl,
        Divergence::Skl { alpha } => {
            let (la, l1a) = mixture_logs(alpha);
            params.a[..3].copy_from_slice(&[alpha as f32, la, l1a]);
            Kind::Skl
        }
        Divergence::Srkl { alpha: 0.0, .. } => Kind::Rkl,
        Divergence::Srkl { alpha, detach } => {
            let (la, l1a) = mixture_logs(alpha);
            params.a[..3].copy_from_slice(&[alpha as f32, la, l1a]);
            if detach {
                params.flags |= FLAG_DETACH;
            }
            Kind::Srkl
        }
        Divergence::Ab { alpha, beta } => {
            params.a[..2].copy_from_slice(&[alpha as f32, beta as f32]);
            Kind::Ab
        }
        Divergence::Alpha { alpha } => {
            params.a[..2].copy_from_slice(&[alpha as f32, (1.0 - alpha) as f32]);
            Kind::Ab
        }
        Divergence::Taid { t, .. } => {
            params.a[0] = t as f32;
            Kind::Taid
        }
        Divergence::Amid {
            alpha,
            lambda,
            div,
            order,
        } => {
            let s = 0.5 * (1.0 - alpha);
            let l1l = if lambda < 1.0 { (-lambda).ln_1p() } else { 0.0 };
            params.a[1] = lambda as f32;
            params.a[2] = s as f32;
            params.a[3] = l1l as f32;
            if let AmidDiv::Ab { alpha, beta } = div {
                params.mode = 1;
                params.a[4] = alpha as f32;
                params.a[5] = beta as f32;
            }
            params.order = match order {
                AmidOrder::Pr => 0,
                AmidOrder::Qr => 1,
                AmidOrder::Rp => 2,
                AmidOrder::Rq => 3,
            };
            Kind::Amid
        }
        Divergence::Hinton {
            temperature,
            a,
            label,
        } => {
            params.a[..2].copy_from_slice(&[temperature as f32, a as f32]);
            aux = Aux::Label(label);
            Kind::Hinton
        }
    };
    Plan { kind, params, aux }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_pass_counts() {
        let k = |s: &str| plan(&s.parse().unwrap()).kind;
        assert_eq!(k("jsd:beta=0"), Kind::Fkl);
        assert_eq!(k("jsd:beta=1"), Kind::Rkl);
        assert_eq!(k("skl:alpha=0"), Kind::Fkl);
        assert_eq!(k("srkl:alpha=0,detach=true"), Kind::Rkl);
        assert_eq!(k("alpha:alpha=0.3"), Kind::Ab);
        assert_eq!(passes(&"fkl".parse().unwrap()), 2);
        assert_eq!(passes(&"tvd".parse().unwrap()), 3);
        assert_eq!(passes(&"amid".parse().unwrap()), 4);
        assert_eq!(std::mem::size_of::<Params>(), 64);
    }
}
