//! [`Loss`]: a family with its own parameters plus the common options, parsed from one spec string
//! (`fkl:tt=2,st=2,t2=true,support=topk-tail,k=64,precision=bf16`) and printed back canonically.
//!
//! The common keys' table ([`COMMON_KEYS`]) is read by the parser, `Display` and the catalogue; the
//! refusal rules of practice.md §0.2 live in [`refuse`].

use super::options::{DEFAULT_EPS, DEFAULT_N, Practice, Renorm, Support};
use crate::math::Divergence;
use crate::math::params::Interval;
use crate::math::precision::{Compute, Format};
use crate::math::range::short;
use crate::math::spec::{SpecError, build_family, split};
use std::fmt;
use std::str::FromStr;

/// A divergence as trained in practice: the family and the common options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    pub family: Divergence,
    pub practice: Practice,
}

impl From<Divergence> for Loss {
    fn from(family: Divergence) -> Loss {
        Loss {
            family,
            practice: Practice::default(),
        }
    }
}

/// What values a common key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyKind {
    Real(Interval),
    Bool,
    /// Keywords, matched case-insensitively.
    Choice(&'static [&'static str]),
    /// A decimal integer in `lo..=hi`; `hi: None` is V, checked at evaluation (`k`).
    Int {
        lo: u64,
        hi: Option<u64>,
    },
}

/// One row of the common keys' table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommonKey {
    pub key: &'static str,
    pub kind: KeyKind,
    /// The default as the catalogue shows it ("off" where absent means the step is skipped).
    pub default: &'static str,
    /// When the key applies, for the catalogue ("" = always).
    pub needs: &'static str,
    pub doc: &'static str,
}

impl CommonKey {
    /// What the parser accepts, for messages and the catalogue.
    pub fn expected(&self) -> String {
        match self.kind {
            KeyKind::Real(range) => format!("a number in {range}"),
            KeyKind::Bool => "true or false".into(),
            KeyKind::Choice(options) => match options {
                [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
                _ => options.join(""),
            },
            KeyKind::Int { lo, hi: None } => format!("an integer in {lo}..V"),
            KeyKind::Int {
                lo,
                hi: Some(u64::MAX),
            } => format!("an integer in [{lo}, 2^64)"),
            KeyKind::Int { lo, hi: Some(hi) } => format!("an integer in [{lo}, {hi}]"),
        }
    }

    /// One line for `kdviz divergences`.
    pub fn describe(&self) -> String {
        let needs = if self.needs.is_empty() {
            String::new()
        } else {
            format!(", with {}", self.needs)
        };
        format!(
            "{}: {}, default {}{needs} — {}",
            self.key,
            self.expected(),
            self.default,
            self.doc
        )
    }
}

const SUPPORTS: &[&str] = &["full", "topk", "topk-renorm", "topk-tail", "sampled"];
const RENORMS: &[&str] = &["both", "teacher"];
const FORMATS: &[&str] = &["f64", "f32", "bf16", "f16"];
const COMPUTES: &[&str] = &["exact", "naive", "logspace"];
const TEMPERATURE: Interval = Interval::closed(0.01, 100.0);

/// The common keys in the order of practice.md §0.2 (and of the canonical string).
pub const COMMON_KEYS: &[CommonKey] = &[
    CommonKey {
        key: "tt",
        kind: KeyKind::Real(TEMPERATURE),
        default: "1",
        needs: "",
        doc: "teacher temperature: u/tt (§9.1)",
    },
    CommonKey {
        key: "st",
        kind: KeyKind::Real(TEMPERATURE),
        default: "1",
        needs: "",
        doc: "student temperature: z/st, also in the gradient's chain rule (§9.1)",
    },
    CommonKey {
        key: "t2",
        kind: KeyKind::Bool,
        default: "false",
        needs: "",
        doc: "multiply value and gradient by st² (Hinton's T², §9.2)",
    },
    CommonKey {
        key: "std",
        kind: KeyKind::Bool,
        default: "false",
        needs: "",
        doc: "logit standardisation (x − mean)/(std + 1e-7) of both rows, before the temperatures (§9.4)",
    },
    CommonKey {
        key: "softcap",
        kind: KeyKind::Real(Interval::open_closed(0.0, 1e6)),
        default: "off",
        needs: "",
        doc: "Gemma-style soft-capping c·tanh(x/c) of both rows' logits (§9.3)",
    },
    CommonKey {
        key: "support",
        kind: KeyKind::Choice(SUPPORTS),
        default: "full",
        needs: "",
        doc: "what the student is trained against: all of p, the teacher's top-k, top-k plus a tail \
              bucket, or n draws from p (§10)",
    },
    CommonKey {
        key: "k",
        kind: KeyKind::Int { lo: 1, hi: None },
        default: "none (required)",
        needs: "a top-k support",
        doc: "the number of teacher classes kept, by largest teacher log-probability (§10)",
    },
    CommonKey {
        key: "renorm",
        kind: KeyKind::Choice(RENORMS),
        default: "both",
        needs: "support=topk-renorm",
        doc: "renormalise both sides over the top-k, or the teacher only (maxtext before #4056, §10.2)",
    },
    CommonKey {
        key: "clamp",
        kind: KeyKind::Bool,
        default: "false",
        needs: "fkl, support=topk",
        doc: "verl's clamp_min(0) of the truncated forward KL (§10.1)",
    },
    CommonKey {
        key: "lpmin",
        kind: KeyKind::Real(Interval::closed(-1e4, 0.0)),
        default: "off",
        needs: "fkl, support=topk",
        doc: "verl's log_prob_min_clamp of both sides' log-probabilities (§10.1)",
    },
    CommonKey {
        key: "eps",
        kind: KeyKind::Real(Interval {
            lo: 0.0,
            hi: 1.0,
            open_lo: true,
            open_hi: true,
        }),
        default: "1e-7",
        needs: "support=topk-tail",
        doc: "fkl's tail bucket is used only when the student's tail mass exceeds eps (verl, §10.3)",
    },
    CommonKey {
        key: "n",
        kind: KeyKind::Int {
            lo: 1,
            hi: Some(1_000_000),
        },
        default: "64",
        needs: "support=sampled",
        doc: "teacher draws of the sampled support (§10.4)",
    },
    CommonKey {
        key: "seed",
        kind: KeyKind::Int {
            lo: 0,
            hi: Some(u64::MAX),
        },
        default: "0",
        needs: "support=sampled",
        doc: "the sampler's seed; row r of epoch e draws from seed + e·rows + r (§10.5)",
    },
    CommonKey {
        key: "precision",
        kind: KeyKind::Choice(FORMATS),
        default: "f64",
        needs: "",
        doc: "storage format of the student's logits (and the teacher's, unless tprecision), rounded once (§12)",
    },
    CommonKey {
        key: "tprecision",
        kind: KeyKind::Choice(FORMATS),
        default: "= precision",
        needs: "",
        doc: "storage format of the teacher's logits (§12)",
    },
    CommonKey {
        key: "compute",
        kind: KeyKind::Choice(COMPUTES),
        default: "exact",
        needs: "fkl, rkl, jsd or tvd",
        doc: "exact: f64 after storage rounding; naive/logspace: emulate arithmetic in the stored \
              formats (§12.3; only with tt, st, precision, tprecision)",
    },
];

/// True for the keys of [`COMMON_KEYS`].
pub fn is_common_key(key: &str) -> bool {
    COMMON_KEYS.iter().any(|c| c.key == key)
}

/// The list of common keys for messages: `tt, st, …, compute`.
fn common_list() -> String {
    let keys: Vec<&str> = COMMON_KEYS.iter().map(|c| c.key).collect();
    format!("a practice option ({})", keys.join(", "))
}

/// Families with their own temperature `T` (§0.2: tt, st, t2 refused).
pub const OWN_TEMPERATURE: &[&str] = &["hinton", "dkd", "bild", "eakd"];
/// Families with logit structure or their own sampling: support must be full (§10).
pub const FULL_ONLY: &[&str] = &["taid", "amid", "hinton", "dkd", "bild", "eakd", "rkl-est"];
/// Per-class ("separable") families: `support=topk` and `renorm=teacher` (§10's table).
pub const PER_CLASS: &[&str] = &[
    "fkl", "rkl", "jsd", "tvd", "skl", "srkl", "ab", "alpha", "todi", "wsd", "jeffreys",
];
/// Distribution families: `topk-renorm` (both) and `topk-tail` (§10's table).
pub const DISTRIBUTION: &[&str] = &[
    "fkl", "rkl", "jsd", "tvd", "skl", "srkl", "ab", "alpha", "todi", "wsd", "jeffreys", "akl",
    "renyi", "uld",
];
/// Families that stay finite where a sample leaves teacher cells empty (jsd only with β < 1).
pub const SAMPLED: &[&str] = &["fkl", "skl", "jsd", "tvd", "uld"];
/// Families that `compute=naive|logspace` emulates (§12.3).
pub const EMULATED: &[&str] = &["fkl", "rkl", "jsd", "tvd"];

/// One parsed value of a common key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Given {
    Real(f64),
    Bool(bool),
    Choice(usize),
    Int(u64),
}

fn parse_value(family: &str, key: &CommonKey, raw: &str) -> Result<Given, SpecError> {
    let (name, expected) = (key.key, key.expected());
    let bad = |why: &str| {
        SpecError(format!(
            "{family}: {name}={raw:?}{why}; expected {expected}"
        ))
    };
    match key.kind {
        KeyKind::Real(range) => {
            let x: f64 = raw.parse().map_err(|_| bad(" is not a number"))?;
            if !range.contains(x) {
                return Err(SpecError(format!(
                    "{family}: {name}={raw} is out of range; expected {expected}"
                )));
            }
            Ok(Given::Real(x))
        }
        KeyKind::Bool => match raw {
            "true" | "1" | "yes" => Ok(Given::Bool(true)),
            "false" | "0" | "no" => Ok(Given::Bool(false)),
            _ => Err(bad("")),
        },
        KeyKind::Choice(options) => options
            .iter()
            .position(|o| o.eq_ignore_ascii_case(raw))
            .map(Given::Choice)
            .ok_or_else(|| bad("")),
        KeyKind::Int { lo, hi } => {
            let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
            if !digits {
                return Err(bad(" is not a decimal integer"));
            }
            match raw.parse::<u64>() {
                Ok(n) if n >= lo && hi.is_none_or(|hi| n <= hi) => Ok(Given::Int(n)),
                _ => Err(SpecError(format!(
                    "{family}: {name}={raw} is out of range; expected {expected}"
                ))),
            }
        }
    }
}

/// The common pairs of one spec, parsed, by key.
struct Common {
    family: &'static str,
    given: Vec<(&'static CommonKey, Given)>,
}

impl Common {
    fn get(&self, key: &str) -> Option<Given> {
        self.given
            .iter()
            .find(|(c, _)| c.key == key)
            .map(|&(_, g)| g)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn real(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Given::Real(x)) => Some(x),
            _ => None,
        }
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Given::Bool(true)))
    }

    fn int(&self, key: &str) -> Option<u64> {
        match self.get(key) {
            Some(Given::Int(n)) => Some(n),
            _ => None,
        }
    }

    /// The option name of a choice key, if given.
    fn choice(&self, key: &str) -> Option<&'static str> {
        let (c, g) = self.given.iter().find(|(c, _)| c.key == key)?;
        match (c.kind, g) {
            (KeyKind::Choice(options), Given::Choice(i)) => options.get(*i).copied(),
            _ => None,
        }
    }

    fn format(&self, key: &str) -> Option<Format> {
        self.choice(key).and_then(Format::parse)
    }

    fn refuse<T>(&self, msg: String) -> Result<T, SpecError> {
        Err(SpecError(format!("{}: {msg}", self.family)))
    }
}

/// The refusals of practice.md §0.2's table, in its order, then the [`Practice`] the keys give.
fn refuse(div: &Divergence, c: &Common) -> Result<Practice, SpecError> {
    let fam = div.name();
    for key in ["tt", "st", "t2"] {
        if c.has(key) && OWN_TEMPERATURE.contains(&fam) {
            return c.refuse(format!(
                "{key} is not accepted; {fam} has its own temperature (use T=…)"
            ));
        }
    }
    let support = c.choice("support").unwrap_or("full");
    let per_class = || PER_CLASS.join(", ");
    if support != "full" {
        if FULL_ONLY.contains(&fam) {
            return c.refuse("support must be full".into());
        }
        let accepted = match support {
            "topk" => PER_CLASS.contains(&fam),
            "sampled" => {
                SAMPLED.contains(&fam)
                    && !matches!(div, Divergence::Jsd { beta, .. } if *beta >= 1.0)
            }
            _ => DISTRIBUTION.contains(&fam),
        };
        if !accepted {
            return c.refuse(match support {
                "topk" => format!(
                    "support=topk needs a per-class divergence ({}); use support=topk-renorm or \
                     topk-tail",
                    per_class()
                ),
                "sampled" => "support=sampled needs a family that stays finite where the sample \
                              leaves teacher classes empty (fkl, skl, jsd with beta < 1, tvd, uld); \
                              use support=full or a top-k support"
                    .into(),
                _ => format!(
                    "support={support} needs a distribution family ({})",
                    DISTRIBUTION.join(", ")
                ),
            });
        }
    }
    let top_k = matches!(support, "topk" | "topk-renorm" | "topk-tail");
    for key in ["k", "renorm", "clamp", "eps", "lpmin"] {
        if c.has(key) && !top_k {
            return c.refuse(format!(
                "{key} needs support=topk, topk-renorm or topk-tail"
            ));
        }
    }
    if top_k && !c.has("k") {
        return c.refuse(format!("support={support} needs k"));
    }
    if c.has("renorm") && support != "topk-renorm" {
        return c.refuse("renorm needs support=topk-renorm".into());
    }
    if c.has("eps") && support != "topk-tail" {
        return c.refuse("eps needs support=topk-tail".into());
    }
    for key in ["clamp", "lpmin"] {
        if c.has(key) && (support != "topk" || fam != "fkl") {
            return c.refuse(format!(
                "{key} needs fkl with support=topk (verl's truncated forward KL); it is not \
                 accepted with {fam}, support={support}"
            ));
        }
    }
    for key in ["n", "seed"] {
        if c.has(key) && support != "sampled" {
            return c.refuse(format!("{key} needs support=sampled"));
        }
    }
    let renorm = match c.choice("renorm") {
        Some("teacher") => Renorm::Teacher,
        _ => Renorm::Both,
    };
    if renorm == Renorm::Teacher && !PER_CLASS.contains(&fam) {
        return c.refuse(format!(
            "renorm=teacher needs a per-class divergence ({}); use renorm=both or \
             support=topk-tail",
            per_class()
        ));
    }
    let compute = c
        .choice("compute")
        .and_then(Compute::parse)
        .unwrap_or_default();
    if compute != Compute::Exact {
        let name = compute.name();
        if !EMULATED.contains(&fam) {
            return c.refuse(format!(
                "compute={name} emulates fkl, rkl, jsd and tvd only; use compute=exact"
            ));
        }
        let allowed = ["tt", "st", "precision", "tprecision", "compute"];
        if let Some((key, _)) = c.given.iter().find(|(k, _)| !allowed.contains(&k.key)) {
            return c.refuse(format!(
                "compute={name} takes only tt, st, precision and tprecision of the practice \
                 options; {} is given",
                key.key
            ));
        }
    }
    let k = c.int("k").unwrap_or(1) as usize;
    let support = match support {
        "topk" => Support::TopK {
            k,
            clamp: c.flag("clamp"),
            lpmin: c.real("lpmin"),
        },
        "topk-renorm" => Support::TopKRenorm { k, renorm },
        "topk-tail" => Support::TopKTail {
            k,
            eps: c.real("eps").unwrap_or(DEFAULT_EPS),
        },
        "sampled" => Support::Sampled {
            n: c.int("n").map_or(DEFAULT_N, |n| n as usize),
            seed: c.int("seed").unwrap_or(0),
        },
        _ => Support::Full,
    };
    Ok(Practice {
        tt: c.real("tt"),
        st: c.real("st"),
        t2: c.flag("t2"),
        softcap: c.real("softcap"),
        std: c.flag("std"),
        support,
        precision: c.format("precision"),
        tprecision: c.format("tprecision"),
        compute,
    })
}

impl FromStr for Loss {
    type Err = SpecError;

    /// The family's own keys first (its own `k`, `n`, `seed`, `clamp` win), then the common keys.
    fn from_str(spec: &str) -> Result<Loss, SpecError> {
        let parts = split(spec)?;
        let family = build_family(&parts, &common_list())?;
        let name = parts.family.name;
        let mut given = Vec::with_capacity(parts.practice.len());
        for &(k, raw) in &parts.practice {
            let Some(key) = COMMON_KEYS.iter().find(|c| c.key == k) else {
                continue; // split() puts only common keys here
            };
            given.push((key, parse_value(name, key, raw)?));
        }
        let practice = refuse(
            &family,
            &Common {
                family: name,
                given,
            },
        )?;
        Ok(Loss { family, practice })
    }
}

impl Practice {
    /// The value `key` prints in the canonical string, `None` when it is not given / at its
    /// default (booleans print only when true).
    fn printed(&self, key: &str) -> Option<String> {
        let real = |x: Option<f64>| x.map(short);
        let on = |b: bool| b.then(|| "true".to_string());
        let s = self.support;
        match key {
            "tt" => real(self.tt),
            "st" => real(self.st),
            "t2" => on(self.t2),
            "std" => on(self.std),
            "softcap" => real(self.softcap),
            "support" => (s != Support::Full).then(|| s.name().to_string()),
            "k" => s.k().map(|k| k.to_string()),
            "renorm" => match s {
                Support::TopKRenorm {
                    renorm: Renorm::Teacher,
                    ..
                } => Some(Renorm::Teacher.name().into()),
                _ => None,
            },
            "clamp" => match s {
                Support::TopK { clamp, .. } => on(clamp),
                _ => None,
            },
            "lpmin" => match s {
                Support::TopK { lpmin, .. } => real(lpmin),
                _ => None,
            },
            "eps" => match s {
                Support::TopKTail { eps, .. } if eps != DEFAULT_EPS => Some(short(eps)),
                _ => None,
            },
            "n" => match s {
                Support::Sampled { n, .. } if n != DEFAULT_N => Some(n.to_string()),
                _ => None,
            },
            "seed" => match s {
                Support::Sampled { seed, .. } if seed != 0 => Some(seed.to_string()),
                _ => None,
            },
            "precision" => self.precision.map(|f| f.name().into()),
            "tprecision" => self.tprecision.map(|f| f.name().into()),
            "compute" => (self.compute != Compute::Exact).then(|| self.compute.name().into()),
            _ => None,
        }
    }
}

impl fmt::Display for Loss {
    /// The family's canonical string, then the given common keys in the order of [`COMMON_KEYS`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = self.family.to_string();
        let mut sep = if family.contains(':') { ',' } else { ':' };
        f.write_str(&family)?;
        for key in COMMON_KEYS {
            if let Some(v) = self.practice.printed(key.key) {
                write!(f, "{sep}{}={v}", key.key)?;
                sep = ',';
            }
        }
        Ok(())
    }
}
