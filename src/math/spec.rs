//! Spec strings: `name:key=value,...`, parsed into a [`Divergence`] and printed back canonically.

use super::divergence::{Divergence, FAMILIES, Family};
use super::params::{Param, ParamKind, Value, Values, When};
use super::practice::is_common_key;
use std::fmt;
use std::str::FromStr;

/// A spec string that could not be parsed; the message names the culprit and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(msg.into()))
}

/// The key=value pairs of one spec, removed as the family's table reads them.
struct Pairs<'a> {
    family: &'static str,
    pairs: Vec<(&'a str, &'a str)>,
    /// Appended to an unknown parameter's list of what is accepted.
    also: &'a str,
}

impl<'a> Pairs<'a> {
    fn given(&self, param: &Param) -> bool {
        self.pairs.iter().any(|(k, _)| param.accepts(k))
    }

    /// The value given under the parameter's key, else under its first alias given.
    fn take(&mut self, param: &Param) -> Option<&'a str> {
        std::iter::once(param.key)
            .chain(param.aliases.iter().copied())
            .find_map(|key| {
                let pos = self.pairs.iter().position(|(k, _)| *k == key)?;
                Some(self.pairs.remove(pos).1)
            })
    }

    fn value(&self, param: &Param, raw: &str) -> Result<Value, SpecError> {
        let (family, key, expected) = (self.family, param.key, param.expected());
        let value = raw.trim();
        match param.kind {
            ParamKind::Real { range, .. } => {
                let x: f64 = value.parse().map_err(|_| {
                    SpecError(format!(
                        "{family}: {key}={raw:?} is not a number; expected {expected}"
                    ))
                })?;
                if !range.contains(x) {
                    return err(format!(
                        "{family}: {key}={raw} is out of range; expected {expected}"
                    ));
                }
                Ok(Value::Real(x))
            }
            ParamKind::Bool { .. } | ParamKind::Switch { .. } => match value {
                "true" | "1" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "no" => Ok(Value::Bool(false)),
                _ => err(format!("{family}: {key}={value:?}; expected {expected}")),
            },
            ParamKind::Choice {
                options,
                option_aliases,
                ..
            } => {
                let alias = || {
                    (option_aliases.iter())
                        .find(|(a, _)| a.eq_ignore_ascii_case(value))
                        .map(|&(_, i)| i)
                };
                match options.iter().position(|o| o.eq_ignore_ascii_case(value)) {
                    Some(i) => Ok(Value::Choice(i)),
                    None => match alias() {
                        Some(i) => Ok(Value::Choice(i)),
                        None => err(format!("{family}: {key}={value:?}; expected {expected}")),
                    },
                }
            }
            ParamKind::Int { min, max, .. } => match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Value::Int(n)),
                Ok(_) => err(format!(
                    "{family}: {key}={value} is out of range; expected {expected}"
                )),
                Err(_) => err(format!("{family}: {key}={raw:?}; expected {expected}")),
            },
            ParamKind::Class { .. } => value
                .parse()
                .map(Value::Class)
                .map_err(|_| SpecError(format!("{family}: {key}={raw:?}; expected {expected}"))),
            ParamKind::Count { min, .. } => match value.parse::<usize>() {
                Ok(n) if n >= min => Ok(Value::Class(n)),
                _ => err(format!("{family}: {key}={raw:?}; expected {expected}")),
            },
        }
    }

    /// Reads every parameter of `params` that applies, in table order.
    fn read(&mut self, params: &'static [Param]) -> Result<Values, SpecError> {
        let family = self.family;
        let mut values = Values::defaults(params);
        // Switches are implied by the main keys given (an alias alone does not switch).
        for (i, switch) in params.iter().enumerate() {
            let ParamKind::Switch { conflict, .. } = switch.kind else {
                continue;
            };
            let given = |when: When, by_alias: bool| {
                params.iter().any(|p| {
                    p.when == when
                        && self
                            .pairs
                            .iter()
                            .any(|(k, _)| *k == p.key || (by_alias && p.aliases.contains(k)))
                })
            };
            let on = given(When::On(switch.key), false);
            if on && given(When::Off(switch.key), true) {
                return err(format!("{family}: {conflict}"));
            }
            *values.at_mut(i) = Value::Bool(on);
        }
        for (i, param) in params.iter().enumerate() {
            if !param.is_spec_key() {
                continue;
            }
            if !values.applies(i) {
                if let When::Is(choice, option) = param.when
                    && self.given(param)
                {
                    let keys: Vec<&str> = params
                        .iter()
                        .filter(|p| p.when == param.when)
                        .map(|p| p.key)
                        .collect();
                    return err(format!(
                        "{family}: {} need {choice}={option}",
                        keys.join("/")
                    ));
                }
                continue; // left over: reported as unknown below
            }
            if let Some(raw) = self.take(param) {
                *values.at_mut(i) = self.value(param, raw)?;
            }
        }
        for (i, param) in params.iter().enumerate() {
            if let ParamKind::Real {
                at_least: Some(floor_key),
                ..
            } = param.kind
                && let Some((x, floor)) = values.floor_of(i)
                && x < floor
            {
                let key = param.key;
                let (x, floor) = (super::range::short(x), super::range::short(floor));
                return err(format!(
                    "{family}: {key}={x} is below {floor_key}={floor}; expected {key} >= {floor_key}"
                ));
            }
        }
        self.finish(&values)?;
        Ok(values)
    }

    /// Any pair not read is an unknown parameter.
    fn finish(&self, values: &Values) -> Result<(), SpecError> {
        let Some((k, _)) = self.pairs.first() else {
            return Ok(());
        };
        // Every key that could be given now: not those a switch that is on rules out.
        let allowed: Vec<&str> = (values.params().iter().enumerate())
            .filter(|&(i, p)| {
                p.is_spec_key() && (values.applies(i) || !matches!(p.when, When::Off(_)))
            })
            .map(|(_, p)| p.key)
            .collect();
        let expected = match (allowed.is_empty(), self.also.is_empty()) {
            (true, true) => "no parameters".to_string(),
            (true, false) => self.also.to_string(),
            (false, true) => format!("one of {}", allowed.join(", ")),
            (false, false) => format!("one of {}, or {}", allowed.join(", "), self.also),
        };
        err(format!(
            "{}: unknown parameter {k:?}; expected {expected}",
            self.family
        ))
    }
}

/// A spec split at its family: the family's entry, the pairs for its own table (its keys, and
/// unknown keys for its table to report), and the common practice keys it does not own
/// (practice.md §0.2: a family's own key of the same name wins), each in spec order.
pub(crate) struct Parts<'a> {
    pub family: &'static Family,
    pub own: Vec<(&'a str, &'a str)>,
    pub practice: Vec<(&'a str, &'a str)>,
}

/// Splits `name:key=value,...`: the family by name (case-insensitive), items at `,`, each at its
/// first `=`, whitespace trimmed; a key given twice is an error.
pub(crate) fn split(spec: &str) -> Result<Parts<'_>, SpecError> {
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
    let mut parts = Parts {
        family,
        own: Vec::new(),
        practice: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for item in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return err(format!("{}: {item:?} is not key=value", family.name));
        };
        let k = k.trim();
        if seen.contains(&k) {
            return err(format!("{}: parameter {k:?} is given twice", family.name));
        }
        seen.push(k);
        let owned = family.params.iter().any(|p| p.accepts(k));
        if !owned && is_common_key(k) {
            parts.practice.push((k, v.trim()));
        } else {
            parts.own.push((k, v.trim()));
        }
    }
    Ok(parts)
}

/// The family's divergence from its own pairs; `also` is appended to the list of keys an unknown
/// parameter message offers (the practice options where they are accepted).
pub(crate) fn build_family(parts: &Parts<'_>, also: &str) -> Result<Divergence, SpecError> {
    let mut pairs = Pairs {
        family: parts.family.name,
        pairs: parts.own.clone(),
        also,
    };
    let values = pairs.read(parts.family.params)?;
    super::divergence::check_values(parts.family, &values).map_err(SpecError)?;
    Ok((parts.family.build)(&values))
}

impl FromStr for Divergence {
    type Err = SpecError;

    /// A family with its own parameters only; the common keys of practice.md §9–§12 are read by
    /// [`Loss`](super::practice::Loss), and named as such here.
    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let parts = split(spec)?;
        let div = build_family(&parts, "")?;
        if let Some((k, _)) = parts.practice.first() {
            return err(format!(
                "{}: {k} is a practice option (practice.md §9–§12), which this input does not \
                 take yet (kdviz eval, fit, figure, real, gpu bench and both tabs do); expected the family's own \
                 parameters here",
                parts.family.name
            ));
        }
        Ok(div)
    }
}

impl fmt::Display for Divergence {
    /// The canonical spec: every parameter that applies spelled out in table order (booleans only
    /// when not at their default), so a printed run says exactly what ran.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values();
        f.write_str(self.name())?;
        let mut sep = ':';
        for (i, param) in values.params().iter().enumerate() {
            let value = values.at(i);
            let at_default = value == param.default_value();
            let quiet = matches!(
                param.kind,
                ParamKind::Bool { .. } | ParamKind::Choice { quiet: true, .. }
            );
            if !param.is_spec_key() || !values.applies(i) || (quiet && at_default) {
                continue;
            }
            write!(f, "{sep}{}={}", param.key, param.format(value))?;
            sep = ',';
        }
        Ok(())
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
            // Extreme values print short and exact (fuzzing found 300 zeros of 1e-300).
            "jsd:beta=1e-300,norm=true",
            "amid:alpha=4,lambda=1e-300,div=ab,ab_alpha=5e-324,ab_beta=-9.3,order=rq",
            // The families of 2024–2026 (practice.md §0.2's spec names).
            "todi:beta=2",
            "uld",
            "bild:T=3,lead=both",
            "bild:k=4,T=2,lead=student",
            "wsd:lambda=0.9",
            "jeffreys",
            "renyi:alpha=2.5",
            "dkd:alpha=1,beta=8,T=4,label=2",
            "eakd:T=3,wt=3",
            "eakd:T=4,wt=2,hub=100",
            "akl:mu=0.5,convention=dskd",
        ] {
            let d: Divergence = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn aliases_and_messages_follow_the_table() {
        let d: Divergence = "hinton:temperature=3,label=2".parse().unwrap();
        assert_eq!(d.to_string(), "hinton:T=3,a=0.5,label=2");
        let d: Divergence = "taid:t_start=0.2,alpha=0.01,beta=0.5".parse().unwrap();
        assert_eq!(
            d.to_string(),
            "taid:t_start=0.2,t_end=1,rate=0.01,momentum=0.5"
        );
        let d: Divergence = "amid:lam=0.25".parse().unwrap();
        assert_eq!(d.to_string(), "amid:alpha=0.5,lambda=0.25,div=fkl,order=pr");
        let msg = |s: &str| s.parse::<Divergence>().unwrap_err().to_string();
        assert_eq!(
            msg("akl:mu=1"),
            "akl: mu=1 is out of range; expected a number in [0, 1)"
        );
        assert_eq!(
            msg("taid:t=0.3,t_start=0.2"),
            "taid: give either t (fixed) or t_start/t_end/rate/momentum (schedule), not both"
        );
        assert_eq!(
            msg("taid:t_start=0.2,foo=1"),
            "taid: unknown parameter \"foo\"; expected one of t_start, t_end, rate, momentum, adaptive"
        );
        assert_eq!(
            msg("taid:foo=1"),
            "taid: unknown parameter \"foo\"; expected one of t, t_start, t_end, rate, momentum, adaptive"
        );
        assert_eq!(
            msg("amid:ab_beta=0.3"),
            "amid: ab_alpha/ab_beta need div=ab"
        );
        assert_eq!(
            msg("amid:order=xy"),
            "amid: order=\"xy\"; expected pr, qr, rp or rq"
        );
        assert_eq!(
            msg("hinton:label=x"),
            "hinton: label=\"x\"; expected a class index >= 0"
        );
    }

    /// The spec strings: defaults, an unprinted default convention, case-insensitive
    /// keywords, and each new family's refusals naming the key and what is accepted.
    #[test]
    fn new_families_parse_print_and_refuse() {
        let canon = |s: &str| s.parse::<Divergence>().unwrap().to_string();
        assert_eq!(canon("todi"), "todi:beta=1");
        assert_eq!(canon("bild:k=8,T=3,lead=both"), "bild:k=8,T=3,lead=both");
        assert_eq!(canon("bild"), "bild:T=3,lead=both");
        assert_eq!(canon("BiLD:lead=Teacher"), "bild:T=3,lead=teacher");
        assert_eq!(canon("wsd:lam=0.25"), "wsd:lambda=0.25");
        assert_eq!(canon("renyi"), "renyi:alpha=0.5");
        assert_eq!(canon("dkd"), "dkd:alpha=1,beta=8,T=1,label=0");
        assert_eq!(canon("eakd"), "eakd:T=3,wt=3");
        assert_eq!(canon("akl:mu=0.5,convention=akl"), "akl:mu=0.5");
        assert_eq!(canon("akl:convention=DSKD"), "akl:mu=0.5,convention=dskd");
        let msg = |s: &str| s.parse::<Divergence>().unwrap_err().to_string();
        assert_eq!(
            msg("todi:beta=0"),
            "todi: beta=0 is out of range; expected a number in (0, 100]"
        );
        assert_eq!(msg("bild:k=1"), "bild: k=\"1\"; expected an integer >= 2");
        assert_eq!(
            msg("bild:k=2.0"),
            "bild: k=\"2.0\"; expected an integer >= 2"
        );
        assert_eq!(
            msg("bild:tt=1"),
            "bild: tt is a practice option (practice.md §9–§12), which this input does not \
             take yet (kdviz eval, fit, figure, real, gpu bench and both tabs do); expected the family's own \
             parameters here"
        );
        assert_eq!(
            msg("bild:lead=mentor"),
            "bild: lead=\"mentor\"; expected both, teacher or student"
        );
        assert_eq!(
            msg("wsd:lambda=1.5"),
            "wsd: lambda=1.5 is out of range; expected a number in [0, 1]"
        );
        assert_eq!(
            msg("jeffreys:lambda=0.5"),
            "jeffreys: unknown parameter \"lambda\"; expected no parameters"
        );
        assert_eq!(
            msg("renyi:alpha=0"),
            "renyi: alpha=0 is out of range; expected a number in (0, 10]"
        );
        assert_eq!(
            msg("dkd:T=0"),
            "dkd: T=0 is out of range; expected a number in [0.01, 100]"
        );
        assert_eq!(
            msg("dkd:label=-1"),
            "dkd: label=\"-1\"; expected a class index >= 0"
        );
        assert_eq!(
            msg("eakd:hub=0"),
            "eakd: hub=0 is out of range; expected a number in (0, 1000000]"
        );
        assert_eq!(
            msg("akl:convention=taid"),
            "akl: convention=\"taid\"; expected akl or dskd"
        );
        assert_eq!(
            msg("uld:k=3"),
            "uld: k is a practice option (practice.md §9–§12), which this input does not \
             take yet (kdviz eval, fit, figure, real, gpu bench and both tabs do); expected the family's own \
             parameters here"
        );
        assert_eq!(
            msg("uld:kk=3"),
            "uld: unknown parameter \"kk\"; expected no parameters"
        );
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
            ("taid:t_start=0.5,t_end=0.4", "expected t_end >= t_start"),
            ("taid:alpha=0.1", "unknown parameter \"alpha\""),
            ("amid:div=kl", "expected fkl or ab"),
        ] {
            let e = s.parse::<Divergence>().unwrap_err();
            assert!(e.0.contains(needle), "{s}: {e}");
        }
    }
}
