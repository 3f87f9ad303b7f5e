//! The divergence catalogue: one enum variant per family, and one [`Family`] entry per family with
//! its parameter table (see [`params`](super::params)).
//!
//! Every variant is evaluated by [`value_and_grad`](super::value_and_grad) from the teacher's and the
//! student's log-probabilities; the spec-string form lives in [`spec`](super::spec), the GUI's
//! sliders in `app::panels::divergences`; both read the table.

use super::params::{EXPONENT, Interval, Param, UNIT, UNIT_OPEN_HI, Value, Values, When};
pub use super::rkl_est::{EstKind, EstMode};

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

/// Which codebase's head/tail split AKL uses (practice.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AklConvention {
    /// `AKL.py`: descending cumulative mass ≤ μ plus the top-1; the crossing class is tail.
    #[default]
    Akl,
    /// DSKD/ToDi: ascending cumulative mass ≤ μ is the tail; the crossing class is head, no top-1 rule.
    Dskd,
}

/// Which side's top-k logits BiLD compares (practice.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BildLead {
    /// t-LD + s-LD, what BiLD's trainer optimises.
    Both,
    Teacher,
    Student,
}

impl BildLead {
    pub const ALL: [BildLead; 3] = [BildLead::Both, BildLead::Teacher, BildLead::Student];

    pub fn name(self) -> &'static str {
        match self {
            BildLead::Both => "both",
            BildLead::Teacher => "teacher",
            BildLead::Student => "student",
        }
    }
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
    /// Adaptive KL: `w_head·FKL + w_tail·RKL`, weights detached; the head as in `AKL.py` or in the
    /// DSKD/ToDi code.
    Akl { mu: f64, convention: AklConvention },
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
    /// ToDi: per-class sigmoid-weighted FKL and RKL terms, weights σ(β(log p − log q)) detached.
    Todi { beta: f64 },
    /// Universal Logit Distillation: L1 between the sorted probability vectors (any two sizes).
    Uld,
    /// BiLD: KL between softmaxes of pairwise differences of the top-k logits at temperature T.
    /// `k: None` is min(8, V).
    Bild {
        k: Option<usize>,
        temperature: f64,
        lead: BildLead,
    },
    /// Weighted symmetric KL: (1−λ)·FKL + λ·RKL.
    Wsd { lambda: f64 },
    /// Jeffreys divergence: FKL + RKL.
    Jeffreys,
    /// Rényi divergence of order α.
    Renyi { alpha: f64 },
    /// Decoupled KD: T²(α·TCKD + β·NCKD) around the target class `label`.
    Dkd {
        alpha: f64,
        beta: f64,
        temperature: f64,
        label: usize,
    },
    /// EA-KD: detached entropy row weight × T²·KL(p^T‖q^T). `hub: None` is ln V.
    Eakd {
        temperature: f64,
        entropy_temperature: f64,
        hub: Option<f64>,
    },
    /// Sampled-token estimators of RKL (verl's k1/k2/k3/abs, practice.md §11): the mean of k over
    /// `n` tokens drawn from the student by the sampler of stream `seed`, or over the token `x`;
    /// backpropagated (`Loss`) or as a detached reward (`Pg`); `clamp`: verl's clamps.
    RklEst {
        kind: EstKind,
        mode: EstMode,
        n: usize,
        seed: u64,
        x: Option<usize>,
        clamp: bool,
    },
}

/// One entry of the catalogue: the spec name, what it means, and its parameter table.
pub struct Family {
    pub name: &'static str,
    pub summary: &'static str,
    pub formula: &'static str,
    /// The parameters in spec order (the canonical string prints them in this order).
    pub params: &'static [Param],
    /// The divergence for a full set of parameter values (see [`Divergence::values`]).
    pub build: fn(&Values) -> Divergence,
}

impl Family {
    /// The divergence with every parameter at its default (`name` alone as a spec).
    pub fn default(&self) -> Divergence {
        (self.build)(&Values::defaults(self.params))
    }
}

const SCHEDULE: &str = "schedule";
/// BiLD's switch: `k` given (else min(8, V)).
const K_GIVEN: &str = "k_given";
/// EA-KD's switch: `hub` given (else ln V).
const HUB_GIVEN: &str = "hub_given";
/// rkl-est's switch: a fixed token `x` (else n draws).
const X_GIVEN: &str = "x_given";

/// The αβ family's parameters (named: the αβ-plane view spans their slider range).
pub const AB_PARAMS: &[Param] = &[
    Param::real("alpha", 0.2, EXPONENT, "exponent on the teacher").slider(-1.0, 2.0),
    Param::real("beta", 0.7, EXPONENT, "exponent on the student").slider(-1.0, 2.0),
];

/// Every family, in the order the help text and the GUI list them.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "fkl",
        summary: "forward KL, KL(p||q) (mean-seeking)",
        formula: "KL(p||q) = Σ p log(p/q)",
        params: &[],
        build: |_| Divergence::Fkl,
    },
    Family {
        name: "rkl",
        summary: "reverse KL, KL(q||p) (mode-seeking)",
        formula: "KL(q||p) = Σ q log(q/p)",
        params: &[],
        build: |_| Divergence::Rkl,
    },
    Family {
        name: "akl",
        summary: "adaptive KL (head/tail weighted FKL + RKL, reference AKL.py)",
        formula: "w_head·KL(p||q) + w_tail·KL(q||p), w = L1 gaps on head/tail (detached)",
        params: &[Param::real(
            "mu",
            0.5,
            UNIT_OPEN_HI,
            "teacher probability mass of the head (akl) or of the tail (dskd)",
        )
        .slider(0.0, 0.99),
        Param::choice(
            "convention",
            0,
            &["akl", "dskd"],
            &["AKL.py", "DSKD/ToDi"],
            "head/tail split: akl = AKL.py (descending mass ≤ μ plus top-1, crossing class in the \
             tail); dskd = DSKD/ToDi code (ascending mass ≤ μ is the tail, crossing class in the head)",
        )
        .quiet()],
        build: |v| Divergence::Akl {
            mu: v.real("mu"),
            convention: match v.choice("convention") {
                "dskd" => AklConvention::Dskd,
                _ => AklConvention::Akl,
            },
        },
    },
    Family {
        name: "jsd",
        summary: "generalized Jensen-Shannon, TRL convention (beta=0 FKL, beta=1 RKL)",
        formula: "β·KL(p||m) + (1−β)·KL(q||m), m = βp + (1−β)q",
        params: &[
            Param::real("beta", 0.5, UNIT, "teacher weight of the mixture m").slider(0.0, 1.0),
            Param::boolean(
                "norm",
                false,
                "normalised (÷ β(1−β))",
                "a continuous display variant: FKL at β=0, 4·JS at ½, RKL at 1; TRL trains the plain form",
            ),
        ],
        build: |v| Divergence::Jsd {
            beta: v.real("beta"),
            norm: v.flag("norm"),
        },
    },
    Family {
        name: "tvd",
        summary: "total variation distance",
        formula: "½ Σ |p − q|",
        params: &[],
        build: |_| Divergence::Tvd,
    },
    Family {
        name: "skl",
        summary: "DistiLLM skew KL",
        formula: "KL(p || αp + (1−α)q)",
        params: &[Param::real(
            "alpha",
            0.1,
            UNIT_OPEN_HI,
            "teacher share of the skewed student (0: FKL)",
        )
        .slider(0.0, 0.99)],
        build: |v| Divergence::Skl {
            alpha: v.real("alpha"),
        },
    },
    Family {
        name: "srkl",
        summary: "DistiLLM skew reverse KL (detach=true: DistiLLM-2)",
        formula: "KL(q || (1−α)p + αq)",
        params: &[
            Param::real(
                "alpha",
                0.1,
                UNIT_OPEN_HI,
                "student share of the skewed teacher (0: RKL)",
            )
            .slider(0.0, 0.99),
            Param::boolean(
                "detach",
                false,
                "stop-gradient mixture (DistiLLM-2)",
                "no gradient through the mixture, as DistiLLM-2 trains",
            ),
        ],
        build: |v| Divergence::Srkl {
            alpha: v.real("alpha"),
            detach: v.flag("detach"),
        },
    },
    Family {
        name: "ab",
        summary: "alpha-beta divergence (ABKD)",
        formula: "−1/(αβ) Σ [p^α q^β − α/(α+β) p^(α+β) − β/(α+β) q^(α+β)]",
        params: AB_PARAMS,
        build: |v| Divergence::Ab {
            alpha: v.real("alpha"),
            beta: v.real("beta"),
        },
    },
    Family {
        name: "alpha",
        summary: "alpha-divergence, ab with beta = 1 - alpha (alpha=1 FKL, alpha=0 RKL)",
        formula: "1/(α(1−α)) (1 − Σ p^α q^(1−α))",
        params: &[Param::real(
            "alpha",
            0.5,
            EXPONENT,
            "exponent on the teacher (1 − α on the student)",
        )
        .slider(-1.0, 2.0)],
        build: |v| Divergence::Alpha {
            alpha: v.real("alpha"),
        },
    },
    Family {
        name: "taid",
        summary: "TAID interpolated teacher (fixed t, or the adaptive t schedule in a fit)",
        formula: "KL(p_t||q), p_t = softmax(t·log p + (1−t)·stopgrad(log q))",
        params: &[
            Param::switch(
                SCHEDULE,
                "t schedule (t moves during the fit)",
                "give either t (fixed) or t_start/t_end/rate/momentum (schedule), not both",
                "t follows TAID's schedule during a fit instead of staying fixed",
            ),
            Param::real(
                "t",
                0.4,
                UNIT,
                "fixed interpolation weight of the teacher (1: FKL)",
            )
            .slider(0.0, 1.0)
            .when(When::Off(SCHEDULE)),
            Param::real("t_start", 0.4, UNIT_OPEN_HI, "t at the first step")
                .slider(0.0, 0.99)
                .when(When::On(SCHEDULE)),
            Param::real(
                "t_end",
                1.0,
                Interval::open_closed(0.0, 1.0),
                "t at the last step (the linear floor's end)",
            )
            .slider(0.01, 1.0)
            .at_least("t_start")
            .when(When::On(SCHEDULE)),
            Param::real(
                "rate",
                5e-4,
                UNIT,
                "learning rate of t (alpha in the TAID code)",
            )
            .aliases(&["alpha"])
            .log_slider(1e-6, 1.0)
            .when(When::On(SCHEDULE)),
            Param::real(
                "momentum",
                0.99,
                UNIT_OPEN_HI,
                "momentum of the relative loss improvement (beta in the TAID code)",
            )
            .aliases(&["beta"])
            .slider(0.0, 0.999)
            .when(When::On(SCHEDULE)),
            Param::boolean(
                "adaptive",
                true,
                "adaptive step (off: t follows the linear floor)",
                "off: only the linear floor moves t",
            )
            .when(When::On(SCHEDULE)),
        ],
        build: |v| {
            if v.flag(SCHEDULE) {
                let s = TaidSchedule {
                    t_start: v.real("t_start"),
                    t_end: v.real("t_end"),
                    rate: v.real("rate"),
                    momentum: v.real("momentum"),
                    adaptive: v.flag("adaptive"),
                };
                Divergence::Taid {
                    t: s.t_start,
                    schedule: Some(s),
                }
            } else {
                Divergence::Taid {
                    t: v.real("t"),
                    schedule: None,
                }
            }
        },
    },
    Family {
        name: "amid",
        summary: "AMiD alpha-mixture assistant distribution",
        formula: "D(p, r), r ~ (λ p^s + (1−λ) q^s)^(1/s), s = (1−α)/2 (geometric at α = 1)",
        params: &[
            Param::real("alpha", 0.5, EXPONENT, "α of the α-mixture (1: geometric)")
                .slider(-5.0, 5.0),
            Param::real("lambda", 0.5, UNIT, "teacher weight of the mixture r")
                .aliases(&["lam"])
                .slider(0.0, 1.0),
            Param::choice(
                "div",
                0,
                &["fkl", "ab"],
                &["KL", "AB(0.2,0.7)"],
                "the divergence measured against r",
            ),
            Param::real(
                "ab_alpha",
                0.2,
                EXPONENT,
                "α of div=ab (the AMiD code's 0.2)",
            )
            .when(When::Is("div", "ab")),
            Param::real(
                "ab_beta",
                0.7,
                EXPONENT,
                "β of div=ab (the AMiD code's 0.7)",
            )
            .when(When::Is("div", "ab")),
            Param::choice(
                "order",
                0,
                &["pr", "qr", "rp", "rq"],
                &["pr", "qr", "rp", "rq"],
                "argument order: pr is D(p, r), qr D(q, r), rp D(r, p), rq D(r, q)",
            ),
        ],
        build: |v| Divergence::Amid {
            alpha: v.real("alpha"),
            lambda: v.real("lambda"),
            div: match v.choice("div") {
                "ab" => AmidDiv::Ab {
                    alpha: v.real("ab_alpha"),
                    beta: v.real("ab_beta"),
                },
                _ => AmidDiv::Fkl,
            },
            order: AmidOrder::ALL
                .into_iter()
                .find(|o| o.name() == v.choice("order"))
                .unwrap_or(AmidOrder::Pr),
        },
    },
    Family {
        name: "hinton",
        summary: "Hinton KD: hard-label CE + temperature-scaled KL",
        formula: "(1−a)·CE(label, q) + a·T²·KL(p^T||q^T)",
        params: &[
            Param::real(
                "T",
                2.0,
                Interval::closed(0.01, 100.0),
                "temperature of the soft term",
            )
            .aliases(&["t", "temperature"])
            .log_slider(0.05, 20.0),
            Param::real("a", 0.5, UNIT, "weight of the soft (KL) term").slider(0.0, 1.0),
            Param::class("label", 0, "the hard label's class"),
        ],
        build: |v| Divergence::Hinton {
            temperature: v.real("T"),
            a: v.real("a"),
            label: v.class("label"),
        },
    },
    Family {
        name: "todi",
        summary: "ToDi token-wise divergence control (per-class sigmoid mix of FKL and RKL terms)",
        formula: "Σ w⁺ p log(p/q) + w⁻ q log(q/p), w⁺ = σ(β log(p/q)), w⁻ = 1 − w⁺ (detached)",
        params: &[Param::real(
            "beta",
            1.0,
            Interval::open_closed(0.0, 100.0),
            "sharpness of the per-class sigmoid (the ToDi code: 1)",
        )
        .log_slider(0.1, 20.0)],
        build: |v| Divergence::Todi {
            beta: v.real("beta"),
        },
    },
    Family {
        name: "uld",
        summary: "Universal Logit Distillation: L1 between sorted probabilities (vocabularies may differ)",
        formula: "Σ_r |q↓_r − p↓_r|, ↓ = sorted descending, the shorter side padded with zeros",
        params: &[],
        build: |_| Divergence::Uld,
    },
    Family {
        name: "bild",
        summary: "BiLD: KL over pairwise differences of the top-k logits (teacher- and student-led)",
        formula: "KL(softmax(Δu/T) || softmax(Δz/T)), Δ = differences of all pairs of the leader's top-k; both = t-LD + s-LD",
        params: &[
            Param::switch(
                K_GIVEN,
                "own k (else min(8, V))",
                "",
                "k is given; otherwise BiLD's scripts' k = 8, or V when V < 8",
            ),
            Param::count("k", 8, 2, "how many top logits are paired (at most V)")
                .when(When::On(K_GIVEN)),
            Param::real(
                "T",
                3.0,
                Interval::closed(0.01, 100.0),
                "temperature of the logit differences",
            )
            .aliases(&["t", "temperature"])
            .log_slider(0.05, 20.0),
            Param::choice(
                "lead",
                0,
                &["both", "teacher", "student"],
                &["t-LD + s-LD", "teacher-led", "student-led"],
                "whose top-k picks the classes: both (what BiLD trains), teacher (t-LD) or student (s-LD)",
            ),
        ],
        build: |v| Divergence::Bild {
            k: v.flag(K_GIVEN).then(|| v.class("k")),
            temperature: v.real("T"),
            lead: BildLead::ALL
                .into_iter()
                .find(|l| l.name() == v.choice("lead"))
                .unwrap_or(BildLead::Both),
        },
    },
    Family {
        name: "wsd",
        summary: "weighted symmetric KL (DistiLLM symmetric_kl, ABKD wsd): lambda weights RKL",
        formula: "(1−λ)·KL(p||q) + λ·KL(q||p)",
        params: &[Param::real("lambda", 0.5, UNIT, "weight of RKL (0: FKL, 1: RKL)")
            .aliases(&["lam"])
            .slider(0.0, 1.0)],
        build: |v| Divergence::Wsd {
            lambda: v.real("lambda"),
        },
    },
    Family {
        name: "jeffreys",
        summary: "Jeffreys divergence, FKL + RKL",
        formula: "KL(p||q) + KL(q||p)",
        params: &[],
        build: |_| Divergence::Jeffreys,
    },
    Family {
        name: "renyi",
        summary: "Rényi divergence of order alpha (alpha=1 FKL); its gradient is TAID's at t = alpha",
        formula: "1/(α−1) log Σ p^α q^(1−α)",
        params: &[Param::real(
            "alpha",
            0.5,
            Interval::open_closed(0.0, 10.0),
            "order (1: FKL, ½: −2 log Bhattacharyya)",
        )
        .log_slider(0.05, 10.0)],
        build: |v| Divergence::Renyi {
            alpha: v.real("alpha"),
        },
    },
    Family {
        name: "dkd",
        summary: "Decoupled KD: target-class and non-target-class KL, weighted apart",
        formula: "T²(α·TCKD + β·NCKD), TCKD = KL of (target, rest) at T, NCKD = KL of the non-target softmax at T",
        params: &[
            Param::real("alpha", 1.0, Interval::closed(0.0, 100.0), "weight of TCKD")
                .slider(0.0, 10.0),
            Param::real("beta", 8.0, Interval::closed(0.0, 100.0), "weight of NCKD")
                .slider(0.0, 16.0),
            Param::real(
                "T",
                1.0,
                Interval::closed(0.01, 100.0),
                "temperature of both parts",
            )
            .aliases(&["t", "temperature"])
            .log_slider(0.05, 20.0),
            Param::class("label", 0, "the target class"),
        ],
        build: |v| Divergence::Dkd {
            alpha: v.real("alpha"),
            beta: v.real("beta"),
            temperature: v.real("T"),
            label: v.class("label"),
        },
    },
    Family {
        name: "eakd",
        summary: "EA-KD: entropy-based row weight (detached) × T²·KL",
        formula: "w·T²·KL(p^T||q^T), w = (H_t + H_t·H_s/H_ub)/2 at temperature wt (detached)",
        params: &[
            Param::real(
                "T",
                3.0,
                Interval::closed(0.01, 100.0),
                "temperature of the KL",
            )
            .aliases(&["t", "temperature"])
            .log_slider(0.05, 20.0),
            Param::real(
                "wt",
                3.0,
                Interval::closed(0.01, 100.0),
                "temperature of the entropies in the weight (EA-KD's get_w: 3)",
            )
            .log_slider(0.05, 20.0),
            Param::switch(
                HUB_GIVEN,
                "own H_ub (else ln V)",
                "",
                "H_ub is given; otherwise ln V, the paper's log C",
            ),
            Param::real(
                "hub",
                4.605170185988092,
                Interval::open_closed(0.0, 1e6),
                "entropy bound H_ub (100 reproduces EA-KD's KD.py on CIFAR)",
            )
            .log_slider(0.1, 1000.0)
            .when(When::On(HUB_GIVEN)),
        ],
        build: |v| Divergence::Eakd {
            temperature: v.real("T"),
            entropy_temperature: v.real("wt"),
            hub: v.flag(HUB_GIVEN).then(|| v.real("hub")),
        },
    },
    Family {
        name: "rkl-est",
        summary: "sampled-token estimators of reverse KL (verl kl_penalty k1/k2/k3/abs; loss or policy gradient)",
        formula: "mean over x ~ q of k(δ_x), δ = log q_x − log p_x; gradient k'(δ_x)(e_x − q) (loss) or k(δ_x)(e_x − q) (pg)",
        params: &[
            Param::choice(
                "kind",
                2,
                &["k1", "k2", "k3", "abs"],
                &["k1", "k2", "k3", "abs"],
                "per-token estimator: k1 = δ, k2 = δ²/2, k3 = e^−δ − 1 + δ (verl's default), abs = |δ|; \
                 k1 as a loss has zero expected gradient",
            )
            .option_aliases(&[("kl", 0), ("mse", 1), ("low_var_kl", 2)]),
            Param::choice(
                "mode",
                1,
                &["loss", "pg"],
                &["loss", "policy gradient"],
                "loss: backpropagate k; pg: k as a detached reward, REINFORCE (verl's default)",
            ),
            Param::int("n", 1, 1, 1_000_000, "tokens drawn from the student per row"),
            Param::int(
                "seed",
                0,
                0,
                u64::MAX,
                "the sampler's seed (row r of epoch e of a fit draws from seed + e·R + r)",
            ),
            Param::switch(
                X_GIVEN,
                "fixed token x",
                "",
                "x is given: that token instead of n draws (seed is ignored)",
            ),
            Param::class("x", 0, "the fixed token (n must be 1)").when(When::On(X_GIVEN)),
            Param::boolean(
                "clamp",
                true,
                "verl's clamps",
                "k3's log-ratio to ±20, then k to ±10 (loss_max_clamp); a clamped k passes no gradient as a loss",
            ),
        ],
        build: |v| Divergence::RklEst {
            kind: EstKind::ALL
                .into_iter()
                .find(|k| k.name() == v.choice("kind"))
                .unwrap_or(EstKind::K3),
            mode: if v.choice("mode") == "loss" {
                EstMode::Loss
            } else {
                EstMode::Pg
            },
            n: usize::try_from(v.int("n")).unwrap_or(1),
            seed: v.int("seed"),
            x: v.flag(X_GIVEN).then(|| v.class("x")),
            clamp: v.flag("clamp"),
        },
    },
];

/// Checks across a family's parameters that the table cannot say (the parser calls it).
pub(crate) fn check_values(family: &Family, v: &Values) -> Result<(), String> {
    if family.name == "rkl-est" && v.flag(X_GIVEN) && v.int("n") != 1 {
        return Err(format!(
            "rkl-est: x={} fixes one token, but n={}; expected n=1 (or no x)",
            v.class("x"),
            v.int("n")
        ));
    }
    Ok(())
}

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
            Divergence::Todi { .. } => "todi",
            Divergence::Uld => "uld",
            Divergence::Bild { .. } => "bild",
            Divergence::Wsd { .. } => "wsd",
            Divergence::Jeffreys => "jeffreys",
            Divergence::Renyi { .. } => "renyi",
            Divergence::Dkd { .. } => "dkd",
            Divergence::Eakd { .. } => "eakd",
            Divergence::RklEst { .. } => "rkl-est",
        }
    }

    /// Every parameter's value, in the family's table; `(family.build)(&d.values()) == d`.
    pub fn values(&self) -> Values {
        let mut v = Values::defaults(self.family().params);
        match *self {
            Divergence::Fkl
            | Divergence::Rkl
            | Divergence::Tvd
            | Divergence::Uld
            | Divergence::Jeffreys => {}
            Divergence::Akl { mu, convention } => {
                let name = match convention {
                    AklConvention::Akl => "akl",
                    AklConvention::Dskd => "dskd",
                };
                v.set_real("mu", mu).set_choice("convention", name);
            }
            Divergence::Todi { beta } => {
                v.set_real("beta", beta);
            }
            Divergence::Bild {
                k,
                temperature,
                lead,
            } => {
                v.set_bool(K_GIVEN, k.is_some())
                    .set_real("T", temperature)
                    .set_choice("lead", lead.name());
                if let Some(k) = k {
                    v.set("k", Value::Class(k));
                }
            }
            Divergence::Wsd { lambda } => {
                v.set_real("lambda", lambda);
            }
            Divergence::Renyi { alpha } => {
                v.set_real("alpha", alpha);
            }
            Divergence::Dkd {
                alpha,
                beta,
                temperature,
                label,
            } => {
                v.set_real("alpha", alpha)
                    .set_real("beta", beta)
                    .set_real("T", temperature)
                    .set("label", Value::Class(label));
            }
            Divergence::Eakd {
                temperature,
                entropy_temperature,
                hub,
            } => {
                v.set_real("T", temperature)
                    .set_real("wt", entropy_temperature)
                    .set_bool(HUB_GIVEN, hub.is_some());
                if let Some(hub) = hub {
                    v.set_real("hub", hub);
                }
            }
            Divergence::Jsd { beta, norm } => {
                v.set_real("beta", beta).set_bool("norm", norm);
            }
            Divergence::RklEst {
                kind,
                mode,
                n,
                seed,
                x,
                clamp,
            } => {
                v.set_choice("kind", kind.name())
                    .set_choice("mode", mode.name())
                    .set("n", Value::Int(n as u64))
                    .set("seed", Value::Int(seed))
                    .set_bool(X_GIVEN, x.is_some())
                    .set_bool("clamp", clamp);
                if let Some(x) = x {
                    v.set("x", Value::Class(x));
                }
            }
            Divergence::Skl { alpha } | Divergence::Alpha { alpha } => {
                v.set_real("alpha", alpha);
            }
            Divergence::Srkl { alpha, detach } => {
                v.set_real("alpha", alpha).set_bool("detach", detach);
            }
            Divergence::Ab { alpha, beta } => {
                v.set_real("alpha", alpha).set_real("beta", beta);
            }
            Divergence::Taid { t, schedule } => {
                // t stays the fixed t to fall back on when the schedule is switched off.
                v.set_real("t", t).set_bool(SCHEDULE, schedule.is_some());
                if let Some(s) = schedule {
                    v.set_real("t_start", s.t_start)
                        .set_real("t_end", s.t_end)
                        .set_real("rate", s.rate)
                        .set_real("momentum", s.momentum)
                        .set_bool("adaptive", s.adaptive);
                }
            }
            Divergence::Amid {
                alpha,
                lambda,
                div,
                order,
            } => {
                v.set_real("alpha", alpha)
                    .set_real("lambda", lambda)
                    .set_choice("order", order.name());
                if let AmidDiv::Ab { alpha, beta } = div {
                    v.set_choice("div", "ab")
                        .set_real("ab_alpha", alpha)
                        .set_real("ab_beta", beta);
                }
            }
            Divergence::Hinton {
                temperature,
                a,
                label,
            } => {
                v.set_real("T", temperature)
                    .set_real("a", a)
                    .set("label", Value::Class(label));
            }
        }
        v
    }

    /// The catalogue entry of this variant's family.
    pub fn family(&self) -> &'static Family {
        let name = self.name();
        FAMILIES
            .iter()
            .find(|f| f.name == name)
            .unwrap_or(&FAMILIES[0])
    }

    /// False for TVD and ULD, whose gradients are sub-gradients, and for the variants with a
    /// stop-gradient (AKL's weights, TAID's p_t, DistiLLM-2's detached mixture, ToDi's sigmoid
    /// weights, EA-KD's row weight): their "gradient" is the update the reference code applies, not
    /// the derivative of the value.
    pub fn is_true_gradient(&self) -> bool {
        !matches!(
            self,
            Divergence::Tvd
                | Divergence::Uld
                | Divergence::Akl { .. }
                | Divergence::Taid { .. }
                | Divergence::Srkl { detach: true, .. }
                | Divergence::Todi { .. }
                | Divergence::Eakd { .. }
                | Divergence::RklEst { .. }
        )
    }

    /// A caution the reference code gives about this instance, for `eval` and the GUI to show (verl
    /// refuses k1 as a loss; kdviz computes it and says why it does not train).
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            Divergence::RklEst {
                kind: EstKind::K1,
                mode: EstMode::Loss,
                ..
            } => Some(super::rkl_est::K1_LOSS_WARNING),
            _ => None,
        }
    }

    /// Whether the teacher and the student may have different numbers of classes (ULD only:
    /// it matches ranks, never class ids).
    pub fn accepts_vocab_mismatch(&self) -> bool {
        matches!(self, Divergence::Uld)
    }
}
