//! The divergence catalogue: one enum variant per family, with its parameters.
//!
//! Every variant is evaluated by [`value_and_grad`](super::value_and_grad) from the teacher's and the
//! student's log-probabilities; the spec-string form lives in [`spec`](super::spec).

/// The adaptive schedule of TAID's interpolation parameter t (SakanaAI/TAID `update_t`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaidSchedule {
    pub t_start: f64,
    pub t_end: f64,
    /// The "t learning rate" (`alpha` in the TAID code).
    pub rate: f64,
    /// Momentum of the relative loss improvement (`beta` in the TAID code).
    pub momentum: f64,
    /// When false only the linear floor moves t.
    pub adaptive: bool,
}

impl Default for TaidSchedule {
    fn default() -> Self {
        TaidSchedule {
            t_start: 0.4,
            t_end: 1.0,
            rate: 5e-4,
            momentum: 0.99,
            adaptive: true,
        }
    }
}

/// Which divergence AMiD measures between the teacher/student and the assistant r.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AmidDiv {
    Fkl,
    /// `D_AB^(alpha, beta)`; the AMiD code hard-codes (0.2, 0.7).
    Ab {
        alpha: f64,
        beta: f64,
    },
}

/// The argument order of AMiD's divergence: `pr` is D(p, r), `qr` D(q, r), `rp` D(r, p), `rq` D(r, q).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmidOrder {
    Pr,
    Qr,
    Rp,
    Rq,
}

impl AmidOrder {
    pub const ALL: [AmidOrder; 4] = [AmidOrder::Pr, AmidOrder::Qr, AmidOrder::Rp, AmidOrder::Rq];

    pub fn name(self) -> &'static str {
        match self {
            AmidOrder::Pr => "pr",
            AmidOrder::Qr => "qr",
            AmidOrder::Rp => "rp",
            AmidOrder::Rq => "rq",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Divergence {
    /// KL(p||q).
    Fkl,
    /// KL(q||p).
    Rkl,
    /// Adaptive KL as in the reference `AKL.py`: `w_head·FKL + w_tail·RKL`, weights detached.
    Akl { mu: f64 },
    /// Generalized JSD, TRL convention: m = βp + (1−β)q; β = 0 is FKL, β = 1 is RKL.
    /// `norm` divides the interior by β(1−β) (a continuous display variant, not what TRL trains).
    Jsd { beta: f64, norm: bool },
    /// Total variation distance.
    Tvd,
    /// DistiLLM skew KL: KL(p || αp + (1−α)q).
    Skl { alpha: f64 },
    /// DistiLLM skew reverse KL: KL(q || (1−α)p + αq); `detach` stops the gradient through the mixture
    /// (the DistiLLM-2 variant).
    Srkl { alpha: f64, detach: bool },
    /// αβ-divergence (ABKD), α on the teacher, β on the student.
    Ab { alpha: f64, beta: f64 },
    /// α-divergence = `ab:alpha=a,beta=1-a`.
    Alpha { alpha: f64 },
    /// TAID: KL(p_t||q) with p_t = softmax(t·u + (1−t)·stopgrad(z)); with a schedule, t starts at
    /// `t_start` and the fit loop moves it.
    Taid {
        t: f64,
        schedule: Option<TaidSchedule>,
    },
    /// AMiD: a divergence between p or q and the α-mixture r of p and q (student not detached).
    Amid {
        alpha: f64,
        lambda: f64,
        div: AmidDiv,
        order: AmidOrder,
    },
    /// Hinton: (1−a)·CE(label, q) + a·T²·KL(p^T||q^T).
    Hinton {
        temperature: f64,
        a: f64,
        label: usize,
    },
}

/// One entry of the catalogue: the spec name and what it means.
pub struct Family {
    pub name: &'static str,
    pub summary: &'static str,
    pub formula: &'static str,
    pub default: Divergence,
}

/// Every family, in the order the help text and the GUI list them.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "fkl",
        summary: "forward KL, KL(p||q) (mean-seeking)",
        formula: "KL(p||q) = Σ p log(p/q)",
        default: Divergence::Fkl,
    },
    Family {
        name: "rkl",
        summary: "reverse KL, KL(q||p) (mode-seeking)",
        formula: "KL(q||p) = Σ q log(q/p)",
        default: Divergence::Rkl,
    },
    Family {
        name: "akl",
        summary: "adaptive KL (head/tail weighted FKL + RKL, reference AKL.py)",
        formula: "w_head·KL(p||q) + w_tail·KL(q||p), w = L1 gaps on head/tail (detached)",
        default: Divergence::Akl { mu: 0.5 },
    },
    Family {
        name: "jsd",
        summary: "generalized Jensen-Shannon, TRL convention (beta=0 FKL, beta=1 RKL)",
        formula: "β·KL(p||m) + (1−β)·KL(q||m), m = βp + (1−β)q",
        default: Divergence::Jsd {
            beta: 0.5,
            norm: false,
        },
    },
    Family {
        name: "tvd",
        summary: "total variation distance",
        formula: "½ Σ |p − q|",
        default: Divergence::Tvd,
    },
    Family {
        name: "skl",
        summary: "DistiLLM skew KL",
        formula: "KL(p || αp + (1−α)q)",
        default: Divergence::Skl { alpha: 0.1 },
    },
    Family {
        name: "srkl",
        summary: "DistiLLM skew reverse KL (detach=true: DistiLLM-2)",
        formula: "KL(q || (1−α)p + αq)",
        default: Divergence::Srkl {
            alpha: 0.1,
            detach: false,
        },
    },
    Family {
        name: "ab",
        summary: "alpha-beta divergence (ABKD)",
        formula: "−1/(αβ) Σ [p^α q^β − α/(α+β) p^(α+β) − β/(α+β) q^(α+β)]",
        default: Divergence::Ab {
            alpha: 0.2,
            beta: 0.7,
        },
    },
    Family {
        name: "alpha",
        summary: "alpha-divergence, ab with beta = 1 - alpha (alpha=1 FKL, alpha=0 RKL)",
        formula: "1/(α(1−α)) (1 − Σ p^α q^(1−α))",
        default: Divergence::Alpha { alpha: 0.5 },
    },
    Family {
        name: "taid",
        summary: "TAID interpolated teacher (fixed t, or the adaptive t schedule in a fit)",
        formula: "KL(p_t||q), p_t = softmax(t·log p + (1−t)·stopgrad(log q))",
        default: Divergence::Taid {
            t: 0.4,
            schedule: None,
        },
    },
    Family {
        name: "amid",
        summary: "AMiD alpha-mixture assistant distribution",
        formula: "D(p, r), r ~ (λ p^s + (1−λ) q^s)^(1/s), s = (1−α)/2 (geometric at α = 1)",
        default: Divergence::Amid {
            alpha: 0.5,
            lambda: 0.5,
            div: AmidDiv::Fkl,
            order: AmidOrder::Pr,
        },
    },
    Family {
        name: "hinton",
        summary: "Hinton KD: hard-label CE + temperature-scaled KL",
        formula: "(1−a)·CE(label, q) + a·T²·KL(p^T||q^T)",
        default: Divergence::Hinton {
            temperature: 2.0,
            a: 0.5,
            label: 0,
        },
    },
];

impl Divergence {
    /// The family name used in spec strings.
    pub fn name(&self) -> &'static str {
        match self {
            Divergence::Fkl => "fkl",
            Divergence::Rkl => "rkl",
            Divergence::Akl { .. } => "akl",
            Divergence::Jsd { .. } => "jsd",
            Divergence::Tvd => "tvd",
            Divergence::Skl { .. } => "skl",
            Divergence::Srkl { .. } => "srkl",
            Divergence::Ab { .. } => "ab",
            Divergence::Alpha { .. } => "alpha",
            Divergence::Taid { .. } => "taid",
            Divergence::Amid { .. } => "amid",
            Divergence::Hinton { .. } => "hinton",
        }
    }

    /// The catalogue entry of this variant's family.
    pub fn family(&self) -> &'static Family {
        let name = self.name();
        FAMILIES
            .iter()
            .find(|f| f.name == name)
            .unwrap_or(&FAMILIES[0])
    }

    /// False for TVD, whose gradient is a sub-gradient, and for the variants with a stop-gradient
    /// (AKL's weights, TAID's p_t, DistiLLM-2's detached mixture): their "gradient" is the update the
    /// reference code applies, not the derivative of the value.
    pub fn is_true_gradient(&self) -> bool {
        !matches!(
            self,
            Divergence::Tvd
                | Divergence::Akl { .. }
                | Divergence::Taid { .. }
                | Divergence::Srkl { detach: true, .. }
        )
    }
}
