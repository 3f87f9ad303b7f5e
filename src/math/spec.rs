//! Spec strings: `name:key=value,...`, parsed into a [`Divergence`] and printed back canonically.

use super::divergence::{AmidDiv, AmidOrder, Divergence, FAMILIES, TaidSchedule};
use std::fmt;
use std::str::FromStr;

/// A spec string that could not be parsed; the message names the culprit and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(msg.into()))
}

/// The key=value pairs of one spec, consumed as the family reads them.
struct Params<'a> {
    family: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    fn take(&mut self, key: &str) -> Option<&'a str> {
        let pos = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(pos).1)
    }

    fn take_any(&mut self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.take(k))
    }

    /// A real parameter inside `[lo, hi]` (bounds open where `open_lo`/`open_hi`).
    fn number(&mut self, keys: &[&str], default: f64, range: Range) -> Result<f64, SpecError> {
        let Some(raw) = self.take_any(keys) else {
            return Ok(default);
        };
        let key = keys[0];
        let value: f64 = raw.trim().parse().map_err(|_| {
            SpecError(format!(
                "{}: {key}={raw:?} is not a number; expected {}",
                self.family, range
            ))
        })?;
        if !range.contains(value) {
            return err(format!(
                "{}: {key}={raw} is out of range; expected {}",
                self.family, range
            ));
        }
        Ok(value)
    }

    fn boolean(&mut self, key: &str, default: bool) -> Result<bool, SpecError> {
        match self.take(key).map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => err(format!(
                "{}: {key}={other:?}; expected true or false",
                self.family
            )),
        }
    }

    fn finish(&self, allowed: &[&str]) -> Result<(), SpecError> {
        if let Some((k, _)) = self.pairs.first() {
            let expected = if allowed.is_empty() {
                "no parameters".to_string()
            } else {
                format!("one of {}", allowed.join(", "))
            };
            return err(format!(
                "{}: unknown parameter {k:?}; expected {expected}",
                self.family
            ));
        }
        Ok(())
    }
}

/// A closed or half-open interval of allowed parameter values.
#[derive(Clone, Copy)]
struct Range {
    lo: f64,
    hi: f64,
    open_lo: bool,
    open_hi: bool,
}

impl Range {
    const fn closed(lo: f64, hi: f64) -> Self {
        Range {
            lo,
            hi,
            open_lo: false,
            open_hi: false,
        }
    }
    const fn half_open(lo: f64, hi: f64) -> Self {
        Range {
            lo,
            hi,
            open_lo: false,
            open_hi: true,
        }
    }
    const fn open_closed(lo: f64, hi: f64) -> Self {
        Range {
            lo,
            hi,
            open_lo: true,
            open_hi: false,
        }
    }
    fn contains(&self, v: f64) -> bool {
        v.is_finite()
            && (if self.open_lo {
                v > self.lo
            } else {
                v >= self.lo
            })
            && (if self.open_hi {
                v < self.hi
            } else {
                v <= self.hi
            })
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = if self.open_lo { '(' } else { '[' };
        let r = if self.open_hi { ')' } else { ']' };
        write!(f, "a number in {l}{}, {}{r}", self.lo, self.hi)
    }
}

/// Real exponents (α, β of the αβ family, AMiD's α) are limited so that powers stay in f64 range.
const EXPONENT: Range = Range::closed(-10.0, 10.0);
const UNIT: Range = Range::closed(0.0, 1.0);

impl FromStr for Divergence {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let spec = spec.trim();
        let (name, rest) = match spec.split_once(':') {
            Some((n, r)) => (n.trim(), r.trim()),
            None => (spec, ""),
        };
        let name_lc = name.to_ascii_lowercase();
        let Some(family) = FAMILIES.iter().find(|f| f.name == name_lc) else {
            let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
            return err(format!(
                "unknown divergence {name:?}; expected one of {}",
                names.join(", ")
            ));
        };
        let mut pairs = Vec::new();
        for item in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                return err(format!("{}: {item:?} is not key=value", family.name));
            };
            let k = k.trim();
            if pairs.iter().any(|(pk, _)| *pk == k) {
                return err(format!("{}: parameter {k:?} is given twice", family.name));
            }
            pairs.push((k, v.trim()));
        }
        let mut p = Params {
            family: family.name,
            pairs,
        };
        let div = match family.name {
            "fkl" => {
                p.finish(&[])?;
                Divergence::Fkl
            }
            "rkl" => {
                p.finish(&[])?;
                Divergence::Rkl
            }
            "tvd" => {
                p.finish(&[])?;
                Divergence::Tvd
            }
            "akl" => {
                let mu = p.number(&["mu"], 0.5, Range::half_open(0.0, 1.0))?;
                p.finish(&["mu"])?;
                Divergence::Akl { mu }
            }
            "jsd" => {
                let beta = p.number(&["beta"], 0.5, UNIT)?;
                let norm = p.boolean("norm", false)?;
                p.finish(&["beta", "norm"])?;
                Divergence::Jsd { beta, norm }
            }
            "skl" => {
                let alpha = p.number(&["alpha"], 0.1, Range::half_open(0.0, 1.0))?;
                p.finish(&["alpha"])?;
                Divergence::Skl { alpha }
            }
            "srkl" => {
                let alpha = p.number(&["alpha"], 0.1, Range::half_open(0.0, 1.0))?;
                let detach = p.boolean("detach", false)?;
                p.finish(&["alpha", "detach"])?;
                Divergence::Srkl { alpha, detach }
            }
            "ab" => {
                let alpha = p.number(&["alpha"], 0.2, EXPONENT)?;
                let beta = p.number(&["beta"], 0.7, EXPONENT)?;
                p.finish(&["alpha", "beta"])?;
                Divergence::Ab { alpha, beta }
            }
            "alpha" => {
                let alpha = p.number(&["alpha"], 0.5, EXPONENT)?;
                p.finish(&["alpha"])?;
                Divergence::Alpha { alpha }
            }
            "taid" => parse_taid(&mut p)?,
            "amid" => {
                let alpha = p.number(&["alpha"], 0.5, EXPONENT)?;
                let lambda = p.number(&["lambda", "lam"], 0.5, UNIT)?;
                let order = match p.take("order").map(str::trim) {
                    None => AmidOrder::Pr,
                    Some(o) => match AmidOrder::ALL.iter().find(|x| x.name() == o) {
                        Some(x) => *x,
                        None => {
                            return err(format!("amid: order={o:?}; expected pr, qr, rp or rq"));
                        }
                    },
                };
                let div = match p.take("div").map(str::trim) {
                    None | Some("fkl") => AmidDiv::Fkl,
                    Some("ab") => AmidDiv::Ab {
                        alpha: 0.2,
                        beta: 0.7,
                    },
                    Some(o) => return err(format!("amid: div={o:?}; expected fkl or ab")),
                };
                let div = match div {
                    AmidDiv::Ab { .. } => AmidDiv::Ab {
                        alpha: p.number(&["ab_alpha"], 0.2, EXPONENT)?,
                        beta: p.number(&["ab_beta"], 0.7, EXPONENT)?,
                    },
                    AmidDiv::Fkl => {
                        if p.pairs.iter().any(|(k, _)| k.starts_with("ab_")) {
                            return err("amid: ab_alpha/ab_beta need div=ab");
                        }
                        AmidDiv::Fkl
                    }
                };
                p.finish(&["alpha", "lambda", "div", "order", "ab_alpha", "ab_beta"])?;
                Divergence::Amid {
                    alpha,
                    lambda,
                    div,
                    order,
                }
            }
            "hinton" => {
                let temperature =
                    p.number(&["T", "t", "temperature"], 2.0, Range::closed(0.01, 100.0))?;
                let a = p.number(&["a"], 0.5, UNIT)?;
                let label = match p.take("label") {
                    None => 0,
                    Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
                        SpecError(format!(
                            "hinton: label={raw:?}; expected a class index >= 0"
                        ))
                    })?,
                };
                p.finish(&["T", "a", "label"])?;
                Divergence::Hinton {
                    temperature,
                    a,
                    label,
                }
            }
            _ => unreachable!("every family in FAMILIES has a parser"),
        };
        Ok(div)
    }
}

fn parse_taid(p: &mut Params) -> Result<Divergence, SpecError> {
    const SCHEDULE_KEYS: [&str; 5] = ["t_start", "t_end", "rate", "momentum", "adaptive"];
    let scheduled = p.pairs.iter().any(|(k, _)| SCHEDULE_KEYS.contains(k));
    if scheduled {
        if p.pairs.iter().any(|(k, _)| *k == "t") {
            return err(
                "taid: give either t (fixed) or t_start/t_end/rate/momentum (schedule), not both",
            );
        }
        let d = TaidSchedule::default();
        let s = TaidSchedule {
            t_start: p.number(&["t_start"], d.t_start, Range::half_open(0.0, 1.0))?,
            t_end: p.number(&["t_end"], d.t_end, Range::open_closed(0.0, 1.0))?,
            rate: p.number(&["rate", "alpha"], d.rate, UNIT)?,
            momentum: p.number(
                &["momentum", "beta"],
                d.momentum,
                Range::half_open(0.0, 1.0),
            )?,
            adaptive: p.boolean("adaptive", d.adaptive)?,
        };
        if s.t_end < s.t_start {
            return err(format!(
                "taid: t_end={} is below t_start={}; expected t_end >= t_start",
                s.t_end, s.t_start
            ));
        }
        p.finish(&SCHEDULE_KEYS)?;
        Ok(Divergence::Taid {
            t: s.t_start,
            schedule: Some(s),
        })
    } else {
        let t = p.number(&["t"], 0.4, UNIT)?;
        p.finish(&["t", "t_start", "t_end", "rate", "momentum", "adaptive"])?;
        Ok(Divergence::Taid { t, schedule: None })
    }
}

impl fmt::Display for Divergence {
    /// The canonical spec: every parameter spelled out, so a printed run says exactly what ran.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Divergence::Fkl | Divergence::Rkl | Divergence::Tvd => write!(f, "{}", self.name()),
            Divergence::Akl { mu } => write!(f, "akl:mu={mu}"),
            Divergence::Jsd { beta, norm } => {
                write!(f, "jsd:beta={beta}")?;
                if norm {
                    write!(f, ",norm=true")?;
                }
                Ok(())
            }
            Divergence::Skl { alpha } => write!(f, "skl:alpha={alpha}"),
            Divergence::Srkl { alpha, detach } => {
                write!(f, "srkl:alpha={alpha}")?;
                if detach {
                    write!(f, ",detach=true")?;
                }
                Ok(())
            }
            Divergence::Ab { alpha, beta } => write!(f, "ab:alpha={alpha},beta={beta}"),
            Divergence::Alpha { alpha } => write!(f, "alpha:alpha={alpha}"),
            Divergence::Taid { t, schedule: None } => write!(f, "taid:t={t}"),
            Divergence::Taid {
                schedule: Some(s), ..
            } => {
                write!(
                    f,
                    "taid:t_start={},t_end={},rate={},momentum={}",
                    s.t_start, s.t_end, s.rate, s.momentum
                )?;
                if !s.adaptive {
                    write!(f, ",adaptive=false")?;
                }
                Ok(())
            }
            Divergence::Amid {
                alpha,
                lambda,
                div,
                order,
            } => {
                write!(f, "amid:alpha={alpha},lambda={lambda},")?;
                match div {
                    AmidDiv::Fkl => write!(f, "div=fkl,")?,
                    AmidDiv::Ab { alpha, beta } => {
                        write!(f, "div=ab,ab_alpha={alpha},ab_beta={beta},")?
                    }
                }
                write!(f, "order={}", order.name())
            }
            Divergence::Hinton {
                temperature,
                a,
                label,
            } => {
                write!(f, "hinton:T={temperature},a={a},label={label}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_canonical_specs() {
        for s in [
            "fkl",
            "rkl",
            "akl:mu=0.3",
            "jsd:beta=0.1,norm=true",
            "tvd",
            "skl:alpha=0.1",
            "srkl:alpha=0.2,detach=true",
            "ab:alpha=-0.5,beta=1.5",
            "alpha:alpha=0.5",
            "taid:t=0.4",
            "taid:t_start=0.2,t_end=1,rate=0.001,momentum=0.9,adaptive=false",
            "amid:alpha=3,lambda=0.3,div=ab,ab_alpha=0.2,ab_beta=0.7,order=rq",
            "hinton:T=2,a=0.5,label=3",
        ] {
            let d: Divergence = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let d: Divergence = "amid".parse().unwrap();
        assert_eq!(d.to_string(), "amid:alpha=0.5,lambda=0.5,div=fkl,order=pr");
        let d: Divergence = "taid:rate=1e-3".parse().unwrap();
        assert_eq!(
            d.to_string(),
            "taid:t_start=0.4,t_end=1,rate=0.001,momentum=0.99"
        );
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        for (s, needle) in [
            ("kl", "unknown divergence"),
            ("akl:nu=0.5", "unknown parameter \"nu\""),
            ("jsd:beta=1.5", "out of range"),
            ("skl:alpha=1", "out of range"),
            ("ab:alpha=x", "not a number"),
            ("ab:alpha=NaN", "out of range"),
            ("fkl:mu=1", "no parameters"),
            ("akl:mu=0.2,mu=0.3", "twice"),
            ("taid:t=0.3,t_start=0.2", "not both"),
            ("amid:order=xy", "order"),
            ("amid:ab_alpha=0.3", "need div=ab"),
            ("hinton:label=-1", "class index"),
            ("hinton:T=0", "out of range"),
            ("srkl:detach=maybe", "true or false"),
        ] {
            let e = s.parse::<Divergence>().unwrap_err();
            assert!(e.0.contains(needle), "{s}: {e}");
        }
    }
}
