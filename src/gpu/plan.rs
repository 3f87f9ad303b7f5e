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

use super::GpuError;
use crate::math::{AklConvention, AmidDiv, AmidOrder, BildLead, Divergence};
use bytemuck::{Pod, Zeroable};

/// Invocations per workgroup; one workgroup per row.
pub const WORKGROUP_SIZE: u32 = 256;

pub(crate) const FLAG_ROW_LABELS: u32 = 1;
pub(crate) const FLAG_DETACH: u32 = 2;
/// AKL's DSKD convention: the aux threshold bounds the tail (ties above `kcut` are head).
pub(crate) const FLAG_DSKD: u32 = 4;
/// BiLD's leading sides.
pub(crate) const FLAG_LEAD_TEACHER: u32 = 8;
pub(crate) const FLAG_LEAD_STUDENT: u32 = 16;
/// EA-KD's H_ub is ln V (not given).
pub(crate) const FLAG_HUB_LN_V: u32 = 32;
/// The most pairs' classes the BiLD kernel holds per side (its workgroup array).
pub const BILD_MAX_K: usize = 64;

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

/// Declares [`Kind`] (ids 0, 1, … in order) and [`Kind::ALL`] from one list.
macro_rules! kernel_kinds {
    ($($kind:ident),+ $(,)?) => {
        /// The `KIND` override of `loss.wgsl`: which family branch runs. The shader knows each id
        /// by name only (`K_FKL`, …), from [`wgsl_prelude`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Kind {
            $($kind),+
        }

        impl Kind {
            pub const ALL: &[Kind] = &[$(Kind::$kind),+];
        }
    };
}

kernel_kinds!(
    Fkl, Rkl, Akl, Jsd, Tvd, Skl, Srkl, Ab, Taid, Amid, Hinton, Todi, Uld, Bild, Wsd, Renyi, Dkd,
    Eakd
);

/// `Params::mode` of AMiD: the divergence measured against the mixture.
const AMID_MODE_FKL: u32 = 0;
const AMID_MODE_AB: u32 = 1;

impl Kind {
    /// The id the `KIND` override takes.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// The WGSL constant naming this id: `K_FKL`.
    fn wgsl_name(self) -> String {
        format!("K_{self:?}").to_ascii_uppercase()
    }

    pub fn passes(self) -> u32 {
        match self {
            Kind::Fkl | Kind::Rkl | Kind::Taid | Kind::Hinton => 2,
            Kind::Amid | Kind::Dkd | Kind::Eakd => 4,
            // ULD: 2 sweeps plus the rank count, V reads of the student row per class.
            // BiLD: k argmax sweeps per leading side, then one gradient sweep.
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
        convention: AklConvention,
    },
    /// Per-row teacher classes by descending probability, sorted on the CPU (ULD).
    SortedTeacher,
    /// Hinton's hard label: the spec's shared label unless per-row labels are given.
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub kind: Kind,
    pub params: Params,
    pub aux: Aux,
}

/// The widest row the ULD kernel ranks: its rank count is O(V²) per row (V/256 classes per
/// invocation, each compared with all V). On lavapipe, rows from about 4000 classes came back wrong
/// (more than ~40 000 inner iterations per invocation); 2048 keeps to what was verified.
pub const ULD_MAX_V: usize = 2048;

/// What the GPU kernels cannot run that the f64 engine can: BiLD beyond [`BILD_MAX_K`] pairs'
/// classes (its workgroup arrays), ULD beyond [`ULD_MAX_V`] classes. `v` is the number of classes.
pub fn check_gpu(div: &Divergence, v: usize) -> Result<(), String> {
    if let Divergence::Uld = div
        && v > ULD_MAX_V
    {
        return Err(format!(
            "uld: V={v} is more than the GPU kernel ranks; expected V <= {ULD_MAX_V} on the GPU (the \
             CPU engine takes any V)"
        ));
    }
    if let Divergence::Bild { k, .. } = *div {
        let k = k.unwrap_or(crate::math::bild::DEFAULT_K).min(v);
        if k > BILD_MAX_K {
            return Err(format!(
                "bild: k={k} is more than the GPU kernel holds; expected k <= {BILD_MAX_K} on the GPU \
                 (the CPU engine takes any k)"
            ));
        }
    }
    Ok(())
}

/// The families no kernel runs: the caller falls back to the CPU engine (the real tab's auto
/// backend) or reports it (`--backend gpu`, `gpu bench`).
pub fn cpu_only(div: &Divergence) -> Result<(), GpuError> {
    match div {
        // WGSL has neither u64 nor f64 for the sampler (practice.md §12.5).
        Divergence::RklEst { .. } => Err(GpuError::Unsupported(
            "rkl-est runs on the CPU engine: its sampler needs f64".into(),
        )),
        _ => Ok(()),
    }
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
        Divergence::Akl { mu, convention } => {
            aux = Aux::AklHead { mu, convention };
            if convention == AklConvention::Dskd {
                params.flags |= FLAG_DSKD;
            }
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
            // a4: the normalised form, computed without dividing by β (see `run_jsd_norm`).
            params.a[..6].copy_from_slice(&[
                beta as f32,
                lb,
                l1b,
                scale as f32,
                if norm { 1.0 } else { 0.0 },
                (1.0 - beta) as f32,
            ]);
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
                params.mode = AMID_MODE_AB;
                params.a[4] = alpha as f32;
                params.a[5] = beta as f32;
            }
            params.order = amid_order_id(order);
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
        Divergence::Todi { beta } => {
            params.a[0] = beta as f32;
            Kind::Todi
        }
        Divergence::Uld => {
            aux = Aux::SortedTeacher;
            Kind::Uld
        }
        Divergence::Bild {
            k,
            temperature,
            lead,
        } => {
            // k is clamped to V in the kernel; beyond BILD_MAX_K it is refused by `check_gpu`.
            params.label = k.unwrap_or(crate::math::bild::DEFAULT_K) as u32;
            params.a[0] = temperature as f32;
            params.flags |= match lead {
                BildLead::Both => FLAG_LEAD_TEACHER | FLAG_LEAD_STUDENT,
                BildLead::Teacher => FLAG_LEAD_TEACHER,
                BildLead::Student => FLAG_LEAD_STUDENT,
            };
            Kind::Bild
        }
        Divergence::Wsd { lambda: 0.0 } | Divergence::Renyi { alpha: 1.0 } => Kind::Fkl,
        Divergence::Wsd { lambda: 1.0 } => Kind::Rkl,
        Divergence::Wsd { lambda } => {
            params.a[..2].copy_from_slice(&[(1.0 - lambda) as f32, lambda as f32]);
            Kind::Wsd
        }
        Divergence::Jeffreys => {
            params.a[..2].copy_from_slice(&[1.0, 1.0]);
            Kind::Wsd
        }
        Divergence::Renyi { alpha } => {
            params.a[0] = alpha as f32;
            Kind::Renyi
        }
        Divergence::Dkd {
            alpha,
            beta,
            temperature,
            label,
        } => {
            params.a[..3].copy_from_slice(&[temperature as f32, alpha as f32, beta as f32]);
            aux = Aux::Label(label);
            Kind::Dkd
        }
        Divergence::Eakd {
            temperature,
            entropy_temperature,
            hub,
        } => {
            params.a[..3].copy_from_slice(&[
                temperature as f32,
                entropy_temperature as f32,
                hub.unwrap_or(1.0) as f32,
            ]);
            if hub.is_none() {
                params.flags |= FLAG_HUB_LN_V;
            }
            Kind::Eakd
        }
        // Refused by `cpu_only` before a kernel runs; RKL's passes stand in for the byte model.
        Divergence::RklEst { .. } => Kind::Rkl,
    };
    Plan { kind, params, aux }
}

fn amid_order_id(order: AmidOrder) -> u32 {
    order as u32
}

/// The constants `loss.wgsl` shares with this file, as WGSL: kernel ids, flags, AMiD's order and
/// mode. Prepended to the shader, so each number is written once, here.
pub(crate) fn wgsl_prelude() -> String {
    let mut consts: Vec<(String, u32)> =
        Kind::ALL.iter().map(|k| (k.wgsl_name(), k.id())).collect();
    consts.push(("FLAG_ROW_LABELS".into(), FLAG_ROW_LABELS));
    consts.push(("FLAG_DETACH".into(), FLAG_DETACH));
    consts.push(("FLAG_DSKD".into(), FLAG_DSKD));
    consts.push(("FLAG_LEAD_TEACHER".into(), FLAG_LEAD_TEACHER));
    consts.push(("FLAG_LEAD_STUDENT".into(), FLAG_LEAD_STUDENT));
    consts.push(("FLAG_HUB_LN_V".into(), FLAG_HUB_LN_V));
    consts.push(("BILD_MAX_K".into(), BILD_MAX_K as u32));
    for order in AmidOrder::ALL {
        let name = format!("AMID_ORDER_{}", order.name().to_ascii_uppercase());
        consts.push((name, amid_order_id(order)));
    }
    consts.push(("AMID_MODE_FKL".into(), AMID_MODE_FKL));
    consts.push(("AMID_MODE_AB".into(), AMID_MODE_AB));
    let mut src = String::from("// Generated by gpu/plan.rs (wgsl_prelude).\n");
    for (name, id) in consts {
        src += &format!("const {name}: u32 = {id}u;\n");
    }
    src
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

    #[test]
    fn the_prelude_names_every_kernel_and_the_shader_no_number() {
        let prelude = wgsl_prelude();
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(k.id() as usize, i);
            let line = format!("const {}: u32 = {i}u;", k.wgsl_name());
            assert!(prelude.contains(&line), "{line} missing from\n{prelude}");
        }
        assert!(prelude.contains("const K_HINTON: u32 = 10u;"));
        for order in AmidOrder::ALL {
            let name = format!("AMID_ORDER_{}", order.name().to_ascii_uppercase());
            assert!(prelude.contains(&name));
        }
        let shader = include_str!("loss.wgsl");
        // Every kernel branch is selected by name.
        let words: Vec<&str> = shader.split_whitespace().collect();
        for w in words.windows(2) {
            assert!(
                !(w[0] == "case" && w[1].starts_with(|c: char| c.is_ascii_digit())),
                "loss.wgsl has a numbered case: {} {}",
                w[0],
                w[1]
            );
        }
        for k in Kind::ALL {
            assert!(
                shader.contains(&format!("case {}", k.wgsl_name())),
                "loss.wgsl has no case for {k:?}"
            );
        }
        // No constant of the prelude is also written by hand in the shader.
        for line in prelude.lines().skip(1) {
            let name = line.split([' ', ':']).nth(1).unwrap_or_default();
            assert!(
                !shader.contains(&format!("const {name}:")),
                "{name} is defined twice"
            );
        }
    }
}
