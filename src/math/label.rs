//! Readable names of divergences ("FKL", "AKL (μ = 0.5)", "αβ (1, 0) = FKL") for everything a person
//! reads: the side panel, titles, legends, tables, figures and the CLI's text output. The spec string
//! (`Display`, `akl:mu=0.5`) stays the machine form: tooltips, CSV and JSON carry it.

use super::divergence::{AklConvention, AmidDiv, AmidOrder, BildLead, Divergence};

impl Divergence {
    /// The family's readable name without parameters ("FKL", "Skew KL", "αβ").
    pub fn family_label(&self) -> &'static str {
        match self {
            Divergence::Fkl => "FKL",
            Divergence::Rkl => "RKL",
            Divergence::Akl { .. } => "AKL",
            Divergence::Jsd { .. } => "JSD",
            Divergence::Tvd => "TVD",
            Divergence::Skl { .. } => "Skew KL",
            Divergence::Srkl { .. } => "Skew RKL",
            Divergence::Ab { .. } => "αβ",
            Divergence::Alpha { .. } => "α-div",
            Divergence::Taid { .. } => "TAID",
            Divergence::Amid { .. } => "AMiD",
            Divergence::Hinton { .. } => "Hinton",
            Divergence::Todi { .. } => "ToDi",
            Divergence::Uld => "ULD",
            Divergence::Bild { .. } => "BiLD",
            Divergence::Wsd { .. } => "WSD",
            Divergence::Jeffreys => "Jeffreys",
            Divergence::Renyi { .. } => "Rényi",
            Divergence::Dkd { .. } => "DKD",
            Divergence::Eakd { .. } => "EA-KD",
            Divergence::RklEst { .. } => "RKL est.",
        }
    }

    /// The readable name with the parameters that make this instance what it is; where it equals a
    /// plainer divergence the equality is said (`αβ (1, 0) = FKL`).
    pub fn label(&self) -> String {
        let name = self.family_label();
        let body = match *self {
            Divergence::Fkl
            | Divergence::Rkl
            | Divergence::Tvd
            | Divergence::Uld
            | Divergence::Jeffreys => return name.to_string(),
            Divergence::Akl { mu, convention } => {
                let dskd = match convention {
                    AklConvention::Akl => "",
                    AklConvention::Dskd => ", DSKD",
                };
                format!("{name} (μ = {}{dskd})", num(mu))
            }
            Divergence::Todi { beta } => format!("{name} (β = {})", num(beta)),
            Divergence::Bild {
                k,
                temperature,
                lead,
            } => {
                let k = k.unwrap_or(crate::math::bild::DEFAULT_K);
                let lead = match lead {
                    BildLead::Both => "",
                    BildLead::Teacher => ", teacher-led",
                    BildLead::Student => ", student-led",
                };
                format!("{name} (top-{k}, T = {}{lead})", num(temperature))
            }
            Divergence::Wsd { lambda } => format!("{name} (λ = {})", num(lambda)),
            Divergence::Renyi { alpha } => format!("{name} (α = {})", num(alpha)),
            Divergence::Dkd {
                alpha,
                beta,
                temperature,
                ..
            } => format!(
                "{name} (α = {}, β = {}, T = {})",
                num(alpha),
                num(beta),
                num(temperature)
            ),
            Divergence::Eakd { temperature, .. } => {
                format!("{name} (T = {})", num(temperature))
            }
            Divergence::RklEst {
                kind,
                mode,
                n,
                x,
                clamp,
                ..
            } => {
                let draws = match x {
                    Some(x) => format!("x = {x}"),
                    None => format!("n = {n}"),
                };
                let clamp = if clamp { "" } else { ", unclamped" };
                format!("{name} ({}, {}, {draws}{clamp})", kind.name(), mode.name())
            }
            Divergence::Jsd { beta, norm } => {
                let norm = if norm { ", ÷β(1−β)" } else { "" };
                format!("{name} (β = {}{norm})", num(beta))
            }
            Divergence::Skl { alpha } => format!("{name} (α = {})", num(alpha)),
            Divergence::Srkl { alpha, detach } => {
                let detach = if detach { ", detached" } else { "" };
                format!("{name} (α = {}{detach})", num(alpha))
            }
            Divergence::Ab { alpha, beta } => match self.equals() {
                Some(_) => format!("{name} ({}, {})", num(alpha), num(beta)),
                None => format!("{name} (α = {}, β = {})", num(alpha), num(beta)),
            },
            Divergence::Alpha { alpha } => format!("{name} (α = {})", num(alpha)),
            Divergence::Taid { t, schedule } => match schedule {
                None => format!("{name} (t = {})", num(t)),
                Some(s) => {
                    let linear = if s.adaptive { "" } else { ", linear" };
                    format!("{name} (t: {} → {}{linear})", num(s.t_start), num(s.t_end))
                }
            },
            Divergence::Amid {
                alpha,
                lambda,
                div,
                order,
            } => {
                let measure = match div {
                    AmidDiv::Fkl => String::new(),
                    AmidDiv::Ab { alpha, beta } => format!(", αβ({}, {})", num(alpha), num(beta)),
                };
                let order = match order {
                    AmidOrder::Pr => "",
                    AmidOrder::Qr => ", D(q, r)",
                    AmidOrder::Rp => ", D(r, p)",
                    AmidOrder::Rq => ", D(r, q)",
                };
                format!(
                    "{name} (α = {}, λ = {}{measure}{order})",
                    num(alpha),
                    num(lambda)
                )
            }
            Divergence::Hinton { temperature, a, .. } => {
                format!("{name} (T = {}, a = {})", num(temperature), num(a))
            }
        };
        match self.equals() {
            Some(plain) => format!("{body} = {plain}"),
            None => body,
        }
    }

    /// The plainer divergence this instance computes exactly, by the families' definitions
    /// (checked numerically in the tests): the corners of the interpolating families.
    pub fn equals(&self) -> Option<&'static str> {
        match *self {
            Divergence::Jsd { beta: 0.0, .. }
            | Divergence::Skl { alpha: 0.0 }
            | Divergence::Ab {
                alpha: 1.0,
                beta: 0.0,
            }
            | Divergence::Alpha { alpha: 1.0 }
            | Divergence::Taid {
                t: 1.0,
                schedule: None,
            }
            | Divergence::Wsd { lambda: 0.0 }
            | Divergence::Renyi { alpha: 1.0 } => Some("FKL"),
            Divergence::Jsd { beta: 1.0, .. }
            | Divergence::Srkl { alpha: 0.0, .. }
            | Divergence::Ab {
                alpha: 0.0,
                beta: 1.0,
            }
            | Divergence::Alpha { alpha: 0.0 }
            | Divergence::Wsd { lambda: 1.0 } => Some("RKL"),
            _ => None,
        }
    }
}

/// A parameter as people write it: at most three decimals, no trailing zeros, a true minus sign.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs();
    let text = if magnitude != 0.0 && !(1e-3..1e4).contains(&magnitude) {
        format!("{magnitude:.0e}")
    } else {
        let fixed = format!("{magnitude:.3}");
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    if x < 0.0 && text != "0" {
        format!("−{text}")
    } else {
        text
    }
}

/// `text` with every long decimal number (more than 20 characters, as serde writes 1e300:
/// `1000…000.0`) written the way [`super::range::short`] writes it, for messages that come from libraries.
pub fn shorten_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let len = from
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(from.len());
        let (number, after) = from.split_at(len);
        match number.parse::<f64>() {
            Ok(x) if number.len() > 20 => out.push_str(&super::range::short(x)),
            _ => out.push_str(number),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl crate::math::practice::Loss {
    /// The family's label, then its practice options the way a legend says them
    /// ("FKL · top-16 + tail, T = 2, bf16"); the family's own label when no option is set.
    pub fn label(&self) -> String {
        let family = self.family.label();
        let options = self.practice.label();
        if options.is_empty() {
            family
        } else {
            format!("{family} · {options}")
        }
    }
}

impl crate::math::practice::Practice {
    /// The options as a legend says them ("top-16 + tail, T = 2, bf16"), empty when none is set.
    pub fn label(&self) -> String {
        use crate::math::practice::{Renorm, Support};
        use crate::math::precision::Compute;
        let mut parts = Vec::new();
        match self.support {
            Support::Full => {}
            Support::TopK { k, clamp, lpmin } => {
                let clamp = if clamp { ", clamped ≥ 0" } else { "" };
                let lpmin = lpmin.map_or(String::new(), |x| format!(", log p ≥ {}", num(x)));
                parts.push(format!("top-{k} truncated{clamp}{lpmin}"));
            }
            Support::TopKRenorm { k, renorm } => parts.push(match renorm {
                Renorm::Both => format!("top-{k} renormalised"),
                Renorm::Teacher => format!("top-{k}, teacher renormalised only"),
            }),
            Support::TopKTail { k, .. } => parts.push(format!("top-{k} + tail")),
            Support::Sampled { n, seed } => {
                parts.push(format!("{n} teacher samples (seed {seed})"))
            }
        }
        let (tt, st) = (self.teacher_temperature(), self.student_temperature());
        if tt == st && tt != 1.0 {
            parts.push(format!("T = {}", num(tt)));
        } else if tt != st {
            parts.push(format!("T teacher = {}, student = {}", num(tt), num(st)));
        }
        if self.t2 {
            parts.push("× T²".into());
        }
        if let Some(c) = self.softcap {
            parts.push(format!("soft-cap {}", num(c)));
        }
        if self.std {
            parts.push("standardised".into());
        }
        let (sf, tf) = (self.student_format(), self.teacher_format());
        let stored = match (self.precision, self.tprecision) {
            (None, None) => None,
            _ if sf == tf => Some(sf.name().to_string()),
            _ => Some(format!("student {}, teacher {}", sf.name(), tf.name())),
        };
        match (stored, self.compute) {
            (Some(s), Compute::Exact) => parts.push(s),
            (Some(s), c) => parts.push(format!("{s}, {} arithmetic", c.name())),
            (None, Compute::Exact) => {}
            (None, c) => parts.push(format!("{} arithmetic", c.name())),
        }
        parts.join(", ")
    }
}

impl AsRef<Divergence> for Divergence {
    fn as_ref(&self) -> &Divergence {
        self
    }
}

impl AsRef<Divergence> for crate::math::practice::Loss {
    fn as_ref(&self) -> &Divergence {
        &self.family
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loss's legend: the family's label, then its options in words; the family alone without.
    #[test]
    fn a_loss_label_says_its_options() {
        let label = |s: &str| s.parse::<crate::math::practice::Loss>().unwrap().label();
        assert_eq!(label("fkl"), "FKL");
        assert_eq!(
            label("fkl:support=topk,k=4,clamp=true"),
            "FKL · top-4 truncated, clamped ≥ 0"
        );
        assert_eq!(
            label("akl:mu=0.5,support=topk-tail,k=64,tt=2,st=2,t2=true,precision=bf16"),
            "AKL (μ = 0.5) · top-64 + tail, T = 2, × T², bf16"
        );
        assert_eq!(
            label("jsd:precision=bf16,compute=naive"),
            "JSD (β = 0.5) · bf16, naive arithmetic"
        );
        assert_eq!(
            label("fkl:support=sampled,n=16,tprecision=f16"),
            "FKL · 16 teacher samples (seed 0), student f64, teacher f16"
        );
    }
    use crate::math::{FAMILIES, LogDist, Workspace, value_and_grad};

    fn label(spec: &str) -> String {
        spec.parse::<Divergence>().unwrap().label()
    }

    #[test]
    fn long_numbers_in_library_messages_are_shortened() {
        let serde = format!(
            "invalid type: floating point `{}.0`, expected usize",
            "1".to_string() + &"0".repeat(300)
        );
        assert_eq!(
            shorten_numbers(&serde),
            "invalid type: floating point `1e300`, expected usize"
        );
        assert_eq!(shorten_numbers("line 12: -3.5 at 7"), "line 12: -3.5 at 7");
    }

    #[test]
    fn names_read_as_people_write_them() {
        assert_eq!(label("fkl"), "FKL");
        assert_eq!(label("rkl"), "RKL");
        assert_eq!(label("akl:mu=0.5"), "AKL (μ = 0.5)");
        assert_eq!(label("jsd:beta=0.5"), "JSD (β = 0.5)");
        assert_eq!(label("ab:alpha=0.2,beta=0.7"), "αβ (α = 0.2, β = 0.7)");
        assert_eq!(label("ab:alpha=-0.5,beta=1.5"), "αβ (α = −0.5, β = 1.5)");
        assert_eq!(
            label("taid:t_start=0.4,t_end=1,rate=0.0005,momentum=0.99"),
            "TAID (t: 0.4 → 1)"
        );
        assert_eq!(label("taid:t=0.4"), "TAID (t = 0.4)");
        assert_eq!(label("skl:alpha=0.1"), "Skew KL (α = 0.1)");
        assert_eq!(
            label("srkl:alpha=0.1,detach=true"),
            "Skew RKL (α = 0.1, detached)"
        );
        assert_eq!(label("amid:alpha=-1,lambda=0.5"), "AMiD (α = −1, λ = 0.5)");
        assert_eq!(label("hinton:T=2,a=0.5,label=0"), "Hinton (T = 2, a = 0.5)");
        assert_eq!(label("akl:mu=0.333333"), "AKL (μ = 0.333)");
    }

    #[test]
    fn corners_say_which_plain_divergence_they_are() {
        assert_eq!(label("ab:alpha=1,beta=0"), "αβ (1, 0) = FKL");
        assert_eq!(label("ab:alpha=0,beta=1"), "αβ (0, 1) = RKL");
        assert_eq!(label("jsd:beta=0"), "JSD (β = 0) = FKL");
        assert_eq!(label("jsd:beta=1"), "JSD (β = 1) = RKL");
        assert_eq!(label("alpha:alpha=1"), "α-div (α = 1) = FKL");
        assert_eq!(label("skl:alpha=0"), "Skew KL (α = 0) = FKL");
        assert_eq!(label("srkl:alpha=0"), "Skew RKL (α = 0) = RKL");
        assert_eq!(label("taid:t=1"), "TAID (t = 1) = FKL");
        assert_eq!(label("ab:alpha=0.5,beta=0.5"), "αβ (α = 0.5, β = 0.5)");
    }

    /// Every claimed equality holds for the value and the gradient on an uneven pair.
    #[test]
    fn every_claimed_equality_holds_numerically() {
        let p = LogDist::from_probs(&[0.5, 0.2, 0.15, 0.1, 0.05]).unwrap();
        let q = LogDist::from_logits(&[0.3, -1.0, 0.8, 0.1, -0.4], false).unwrap();
        let eval = |d: &Divergence| {
            let mut g = vec![0.0; 5];
            let v = value_and_grad(d, &p, &q, &mut g, &mut Workspace::default());
            (v, g)
        };
        let mut checked = 0;
        for spec in [
            "ab:alpha=1,beta=0",
            "ab:alpha=0,beta=1",
            "jsd:beta=0",
            "jsd:beta=1",
            "alpha:alpha=1",
            "alpha:alpha=0",
            "skl:alpha=0",
            "srkl:alpha=0",
            "srkl:alpha=0,detach=true",
            "taid:t=1",
        ] {
            let d: Divergence = spec.parse().unwrap();
            let plain = match d.equals().unwrap() {
                "FKL" => Divergence::Fkl,
                _ => Divergence::Rkl,
            };
            let ((v, g), (w, h)) = (eval(&d), eval(&plain));
            assert!((v - w).abs() < 1e-9, "{spec}: {v} vs {w}");
            for (a, b) in g.iter().zip(&h) {
                assert!((a - b).abs() < 1e-9, "{spec}: gradient {a} vs {b}");
            }
            checked += 1;
        }
        assert_eq!(checked, 10);
        // Interior points are not called equal.
        for f in FAMILIES {
            let d = f.default();
            if !matches!(d, Divergence::Fkl | Divergence::Rkl) {
                assert_eq!(d.equals(), None, "{}", f.name);
            }
        }
    }

    #[test]
    fn numbers_are_short_and_signed_with_a_minus() {
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-1.0), "−1");
        assert_eq!(num(0.0005), "5e-4");
        assert_eq!(num(0.30000000000000004), "0.3");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(12.8), "12.8");
    }
}
