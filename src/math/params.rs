//! The per-family parameter table: each parameter's key and aliases, default, valid range, slider
//! range and doc. The spec parser and printer ([`spec`](super::spec)), `kdviz divergences` and the
//! GUI's sliders all read it, so a range is written once.
//!
//! A family's table lives in its [`Family`](super::Family) entry; [`Values`] holds one value per
//! parameter of a table and is what the family's `build` turns into a [`Divergence`](super::Divergence).

use std::fmt;

/// An interval of allowed values, each end open or closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
    pub open_lo: bool,
    pub open_hi: bool,
}

impl Interval {
    pub const fn closed(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            hi,
            open_lo: false,
            open_hi: false,
        }
    }

    pub const fn half_open(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            hi,
            open_lo: false,
            open_hi: true,
        }
    }

    pub const fn open_closed(lo: f64, hi: f64) -> Self {
        Interval {
            lo,
            hi,
            open_lo: true,
            open_hi: false,
        }
    }

    /// Finite and inside (NaN and infinities never are).
    pub fn contains(&self, v: f64) -> bool {
        let above = if self.open_lo {
            v > self.lo
        } else {
            v >= self.lo
        };
        let below = if self.open_hi {
            v < self.hi
        } else {
            v <= self.hi
        };
        v.is_finite() && above && below
    }
}

impl fmt::Display for Interval {
    /// `[0, 1)`: brackets say which ends are included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = if self.open_lo { '(' } else { '[' };
        let r = if self.open_hi { ')' } else { ']' };
        write!(f, "{l}{}, {}{r}", self.lo, self.hi)
    }
}

/// `[0, 1]`.
pub const UNIT: Interval = Interval::closed(0.0, 1.0);
/// `[0, 1)`: mixture weights whose complement must stay positive.
pub const UNIT_OPEN_HI: Interval = Interval::half_open(0.0, 1.0);
/// Real exponents (α, β of the αβ family, AMiD's α) are limited so that powers stay in f64 range.
pub const EXPONENT: Interval = Interval::closed(-10.0, 10.0);

/// What kind of value a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A real number in `range`. `ui_range` is the GUI slider's extent (inside `range`; `None`: the
    /// parameter is set in spec strings only). `at_least` names a parameter this one may not be below.
    Real {
        default: f64,
        range: Interval,
        ui_range: Option<(f64, f64)>,
        log_scale: bool,
        at_least: Option<&'static str>,
    },
    /// `true`/`false` (also `1`/`0`, `yes`/`no`); printed only when not the default. The GUI shows
    /// a checkbox labelled `ui_label`.
    Bool {
        default: bool,
        ui_label: &'static str,
    },
    /// One of `options` (spec names; `default` indexes them, matched case-insensitively), printed
    /// always, or only off its default when `quiet` (an option added after specs were written). The
    /// GUI shows a row of buttons labelled `ui_labels`.
    Choice {
        default: usize,
        options: &'static [&'static str],
        ui_labels: &'static [&'static str],
        quiet: bool,
        /// Other names the parser accepts for an option (`kl` for rkl-est's `k1`), by index.
        option_aliases: &'static [(&'static str, usize)],
    },
    /// A class index `>= 0` (checked against the number of classes by `math::check_classes`).
    Class { default: usize },
    /// A count `>= min` (checked against the number of classes by `math::check_classes`); its value
    /// is a `Value::Class`.
    Count { default: usize, min: usize },
    /// An integer in `[min, max]` that is not about classes (rkl-est's `n`, its u64 `seed`).
    Int { default: u64, min: u64, max: u64 },
    /// Not a spec key: on exactly when a spec gives a parameter that applies only when it is on
    /// (by its main key), off by default. Giving one that applies only when it is off as well is the
    /// `conflict` error. The GUI shows a checkbox labelled `ui_label`.
    Switch {
        ui_label: &'static str,
        conflict: &'static str,
    },
}

/// When a parameter applies; one that does not is neither read nor printed, and has no widget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Always,
    /// The named switch (or boolean) is on.
    On(&'static str),
    /// The named switch (or boolean) is off.
    Off(&'static str),
    /// The named choice has the given option.
    Is(&'static str, &'static str),
}

/// One row of a family's parameter table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    /// The spec key, as printed.
    pub key: &'static str,
    /// Other keys the parser accepts for it.
    pub aliases: &'static [&'static str],
    pub kind: ParamKind,
    pub when: When,
    /// One line for tooltips and `kdviz divergences`.
    pub doc: &'static str,
}

impl Param {
    const fn new(key: &'static str, kind: ParamKind, doc: &'static str) -> Param {
        Param {
            key,
            aliases: &[],
            kind,
            when: When::Always,
            doc,
        }
    }

    /// A real parameter without a slider; add one with [`Param::slider`].
    pub const fn real(
        key: &'static str,
        default: f64,
        range: Interval,
        doc: &'static str,
    ) -> Param {
        let kind = ParamKind::Real {
            default,
            range,
            ui_range: None,
            log_scale: false,
            at_least: None,
        };
        Param::new(key, kind, doc)
    }

    pub const fn boolean(
        key: &'static str,
        default: bool,
        ui_label: &'static str,
        doc: &'static str,
    ) -> Param {
        Param::new(key, ParamKind::Bool { default, ui_label }, doc)
    }

    pub const fn choice(
        key: &'static str,
        default: usize,
        options: &'static [&'static str],
        ui_labels: &'static [&'static str],
        doc: &'static str,
    ) -> Param {
        let kind = ParamKind::Choice {
            default,
            options,
            ui_labels,
            quiet: false,
            option_aliases: &[],
        };
        Param::new(key, kind, doc)
    }

    /// A choice printed only when not at its default (see [`ParamKind::Choice`]).
    pub const fn quiet(mut self) -> Param {
        if let ParamKind::Choice { quiet, .. } = &mut self.kind {
            *quiet = true;
        }
        self
    }

    /// Other names for options of a choice, each `(alias, option index)`.
    pub const fn option_aliases(mut self, aliases: &'static [(&'static str, usize)]) -> Param {
        if let ParamKind::Choice { option_aliases, .. } = &mut self.kind {
            *option_aliases = aliases;
        }
        self
    }

    pub const fn int(
        key: &'static str,
        default: u64,
        min: u64,
        max: u64,
        doc: &'static str,
    ) -> Param {
        Param::new(key, ParamKind::Int { default, min, max }, doc)
    }

    pub const fn count(key: &'static str, default: usize, min: usize, doc: &'static str) -> Param {
        Param::new(key, ParamKind::Count { default, min }, doc)
    }

    pub const fn class(key: &'static str, default: usize, doc: &'static str) -> Param {
        Param::new(key, ParamKind::Class { default }, doc)
    }

    pub const fn switch(
        key: &'static str,
        ui_label: &'static str,
        conflict: &'static str,
        doc: &'static str,
    ) -> Param {
        Param::new(key, ParamKind::Switch { ui_label, conflict }, doc)
    }

    /// A linear slider over `[lo, hi]` (real parameters only).
    pub const fn slider(mut self, lo: f64, hi: f64) -> Param {
        if let ParamKind::Real { ui_range, .. } = &mut self.kind {
            *ui_range = Some((lo, hi));
        }
        self
    }

    /// A logarithmic slider over `[lo, hi]` (real parameters only).
    pub const fn log_slider(self, lo: f64, hi: f64) -> Param {
        let mut p = self.slider(lo, hi);
        if let ParamKind::Real { log_scale, .. } = &mut p.kind {
            *log_scale = true;
        }
        p
    }

    /// May not be below parameter `key` (real parameters only).
    pub const fn at_least(mut self, key: &'static str) -> Param {
        if let ParamKind::Real { at_least, .. } = &mut self.kind {
            *at_least = Some(key);
        }
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }

    pub const fn when(mut self, when: When) -> Param {
        self.when = when;
        self
    }

    /// The slider's extent, for a real parameter that has one.
    pub const fn ui_range(&self) -> Option<(f64, f64)> {
        match self.kind {
            ParamKind::Real { ui_range, .. } => ui_range,
            _ => None,
        }
    }

    /// The key or one of its aliases.
    pub fn accepts(&self, key: &str) -> bool {
        self.key == key || self.aliases.contains(&key)
    }

    /// Printed in spec strings (switches are implied by the parameters given).
    pub fn is_spec_key(&self) -> bool {
        !matches!(self.kind, ParamKind::Switch { .. })
    }

    pub fn default_value(&self) -> Value {
        match self.kind {
            ParamKind::Real { default, .. } => Value::Real(default),
            ParamKind::Bool { default, .. } => Value::Bool(default),
            ParamKind::Choice { default, .. } => Value::Choice(default),
            ParamKind::Class { default } | ParamKind::Count { default, .. } => {
                Value::Class(default)
            }
            ParamKind::Switch { .. } => Value::Bool(false),
            ParamKind::Int { default, .. } => Value::Int(default),
        }
    }

    /// What the parser accepts, for messages and the catalogue: `a number in [0, 1)`.
    pub fn expected(&self) -> String {
        match self.kind {
            ParamKind::Real { range, .. } => format!("a number in {range}"),
            ParamKind::Bool { .. } | ParamKind::Switch { .. } => "true or false".into(),
            ParamKind::Choice {
                options,
                option_aliases,
                ..
            } => {
                let list = match options {
                    [] => String::new(),
                    [one] => (*one).into(),
                    [init @ .., last] => format!("{} or {last}", init.join(", ")),
                };
                if option_aliases.is_empty() {
                    list
                } else {
                    let aliases: Vec<&str> = option_aliases.iter().map(|(a, _)| *a).collect();
                    format!("{list} (or {})", aliases.join(", "))
                }
            }
            ParamKind::Class { .. } => "a class index >= 0".into(),
            ParamKind::Count { min, .. } => format!("an integer >= {min}"),
            ParamKind::Int { min, max, .. } => format!("an integer in [{min}, {max}]"),
        }
    }

    /// One line for the catalogue: key, accepted values, default, slider, aliases, condition, doc.
    /// `table` is the family's table (a switch lists the keys that turn it on).
    pub fn describe(&self, table: &[Param]) -> String {
        let mut line = format!("{}: ", self.key);
        if let ParamKind::Switch { .. } = self.kind {
            let keys: Vec<&str> = (table.iter())
                .filter(|p| p.when == When::On(self.key))
                .map(|p| p.key)
                .collect();
            line += &format!("not a key; on when {} is given", keys.join("/"));
        } else {
            line += &format!(
                "{}, default {}",
                self.expected(),
                self.format(self.default_value())
            );
        }
        if let ParamKind::Real {
            ui_range: Some((lo, hi)),
            log_scale,
            ..
        } = self.kind
        {
            let scale = if log_scale { " (log)" } else { "" };
            line += &format!(", slider {lo}..{hi}{scale}");
        }
        if !self.aliases.is_empty() {
            line += &format!(", also {}", self.aliases.join(", "));
        }
        match self.when {
            When::Always => {}
            When::On(key) => line += &format!(", with {key}"),
            When::Off(key) => line += &format!(", without {key}"),
            When::Is(key, option) => line += &format!(", with {key}={option}"),
        }
        format!("{line} — {}", self.doc)
    }

    /// `value` as spec strings print it.
    pub fn format(&self, value: Value) -> String {
        match (self.kind, value) {
            (ParamKind::Choice { options, .. }, Value::Choice(i)) => {
                options.get(i).copied().unwrap_or("?").to_string()
            }
            (_, v) => v.to_string(),
        }
    }
}

/// One parameter's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Real(f64),
    Bool(bool),
    /// An index into the choice's options.
    Choice(usize),
    Class(usize),
    Int(u64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Exact and short: `1e-300`, not 300 zeros (the spec string must read back the same).
            Value::Real(x) => f.write_str(&super::range::short(*x)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Choice(i) | Value::Class(i) => write!(f, "{i}"),
            Value::Int(i) => write!(f, "{i}"),
        }
    }
}

/// One value per parameter of a family's table, in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    params: &'static [Param],
    vals: Vec<Value>,
}

impl Values {
    /// Every parameter at its default.
    pub fn defaults(params: &'static [Param]) -> Values {
        let vals = params.iter().map(Param::default_value).collect();
        Values { params, vals }
    }

    pub fn params(&self) -> &'static [Param] {
        self.params
    }

    pub fn index(&self, key: &str) -> Option<usize> {
        self.params.iter().position(|p| p.key == key)
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.index(key).map(|i| self.vals[i])
    }

    pub fn at(&self, i: usize) -> Value {
        self.vals[i]
    }

    pub fn at_mut(&mut self, i: usize) -> &mut Value {
        &mut self.vals[i]
    }

    /// Sets a parameter the table has (a key it lacks is a table bug, caught by the round-trip tests).
    pub fn set(&mut self, key: &str, value: Value) -> &mut Values {
        debug_assert!(self.index(key).is_some(), "no parameter {key}");
        if let Some(i) = self.index(key) {
            self.vals[i] = value;
        }
        self
    }

    pub fn set_real(&mut self, key: &str, x: f64) -> &mut Values {
        self.set(key, Value::Real(x))
    }

    pub fn set_bool(&mut self, key: &str, b: bool) -> &mut Values {
        self.set(key, Value::Bool(b))
    }

    /// Sets a choice by option name.
    pub fn set_choice(&mut self, key: &str, option: &str) -> &mut Values {
        let i = self.index(key).and_then(|i| match self.params[i].kind {
            ParamKind::Choice { options, .. } => options.iter().position(|o| *o == option),
            _ => None,
        });
        debug_assert!(i.is_some(), "no option {key}={option}");
        self.set(key, Value::Choice(i.unwrap_or(0)))
    }

    /// A real parameter (NaN where the table has no such real: a table bug the tests catch).
    pub fn real(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Value::Real(x)) => x,
            _ => f64::NAN,
        }
    }

    /// A boolean or switch (false where the table has none).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }

    /// A choice's option name ("" where the table has no such choice).
    pub fn choice(&self, key: &str) -> &'static str {
        let Some(i) = self.index(key) else {
            return "";
        };
        match (self.params[i].kind, self.vals[i]) {
            (ParamKind::Choice { options, .. }, Value::Choice(c)) => {
                options.get(c).copied().unwrap_or("")
            }
            _ => "",
        }
    }

    /// A class index (0 where the table has none).
    pub fn class(&self, key: &str) -> usize {
        match self.get(key) {
            Some(Value::Class(c)) => c,
            _ => 0,
        }
    }

    /// Whether parameter `i` applies under the current values.
    pub fn int(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(Value::Int(i)) => i,
            _ => 0,
        }
    }

    pub fn applies(&self, i: usize) -> bool {
        match self.params[i].when {
            When::Always => true,
            When::On(key) => self.flag(key),
            When::Off(key) => !self.flag(key),
            When::Is(key, option) => self.choice(key) == option,
        }
    }

    /// Raises every applying `at_least` parameter to its floor; true when one moved.
    pub fn raise_to_floors(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.params.len() {
            if let Some((x, floor)) = self.floor_of(i)
                && x < floor
            {
                self.vals[i] = Value::Real(floor);
                moved = true;
            }
        }
        moved
    }

    /// Parameter `i`'s value and its floor, where it has one that applies.
    pub fn floor_of(&self, i: usize) -> Option<(f64, f64)> {
        let ParamKind::Real {
            at_least: Some(key),
            ..
        } = self.params[i].kind
        else {
            return None;
        };
        let j = self.index(key)?;
        match (self.vals[i], self.vals[j]) {
            (Value::Real(x), Value::Real(floor)) if self.applies(i) && self.applies(j) => {
                Some((x, floor))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_and_bound() {
        let i = Interval::half_open(0.0, 1.0);
        assert_eq!(i.to_string(), "[0, 1)");
        assert!(i.contains(0.0) && !i.contains(1.0) && !i.contains(f64::NAN));
        let i = Interval::open_closed(0.0, 1.0);
        assert_eq!(i.to_string(), "(0, 1]");
        assert!(!i.contains(0.0) && i.contains(1.0));
        assert!(!EXPONENT.contains(f64::INFINITY));
    }

    /// Every table is well formed: defaults inside their ranges, sliders inside the ranges, choices
    /// labelled, conditions naming earlier parameters, and the defaults parse back from the name.
    #[test]
    fn every_table_is_consistent() {
        use crate::math::{Divergence, FAMILIES};
        for f in FAMILIES {
            for (i, p) in f.params.iter().enumerate() {
                let at = format!("{} {}", f.name, p.key);
                match p.kind {
                    ParamKind::Real {
                        default,
                        range,
                        ui_range,
                        log_scale,
                        at_least,
                    } => {
                        assert!(range.contains(default), "{at}: default");
                        if let Some((lo, hi)) = ui_range {
                            assert!(lo < hi && range.contains(lo) && range.contains(hi), "{at}");
                            assert!(!log_scale || lo > 0.0, "{at}: log slider from 0");
                        }
                        if let Some(key) = at_least {
                            assert!(f.params[..i].iter().any(|q| q.key == key), "{at}");
                        }
                    }
                    ParamKind::Choice {
                        default,
                        options,
                        ui_labels,
                        ..
                    } => {
                        assert!(default < options.len(), "{at}");
                        assert_eq!(options.len(), ui_labels.len(), "{at}");
                    }
                    _ => {}
                }
                let depends_on = match p.when {
                    When::Always => None,
                    When::On(k) | When::Off(k) | When::Is(k, _) => Some(k),
                };
                if let Some(k) = depends_on {
                    assert!(f.params[..i].iter().any(|q| q.key == k), "{at}: {k} first");
                }
                let keys = f
                    .params
                    .iter()
                    .flat_map(|q| std::iter::once(q.key).chain(q.aliases.iter().copied()));
                assert_eq!(
                    keys.filter(|k| p.accepts(k)).count(),
                    1 + p.aliases.len(),
                    "{at}: a key twice"
                );
            }
            let d: Divergence = f.name.parse().unwrap();
            assert_eq!(d, f.default(), "{}", f.name);
            assert_eq!(d.family().name, f.name);
            assert_eq!((f.build)(&d.values()), d, "{}", f.name);
        }
    }

    /// `values` and `build` are inverse on non-default values too (a wrong key would read NaN).
    #[test]
    fn values_round_trip_through_build() {
        use crate::math::{Divergence, FAMILIES};
        for s in [
            "akl:mu=0.3",
            "jsd:beta=0.1,norm=true",
            "skl:alpha=0.2",
            "srkl:alpha=0.2,detach=true",
            "ab:alpha=-0.5,beta=1.5",
            "alpha:alpha=0.7",
            "taid:t=0.3",
            "taid:t_start=0.2,t_end=0.9,rate=0.001,momentum=0.9,adaptive=false",
            "amid:alpha=3,lambda=0.3,div=ab,ab_alpha=0.1,ab_beta=0.6,order=rq",
            "amid:alpha=-1,lambda=0.2,div=fkl,order=qr",
            "hinton:T=3,a=0.25,label=4",
        ] {
            let d: Divergence = s.parse().unwrap();
            let f = FAMILIES.iter().find(|f| s.starts_with(f.name)).unwrap();
            let v = d.values();
            assert_eq!((f.build)(&v), d, "{s}");
            for (i, p) in f.params.iter().enumerate() {
                if let Value::Real(x) = v.at(i) {
                    assert!(x.is_finite(), "{s}: {}", p.key);
                }
            }
        }
    }

    #[test]
    fn choices_list_their_options() {
        let p = Param::choice("order", 0, &["pr", "qr", "rp", "rq"], &[], "");
        assert_eq!(p.expected(), "pr, qr, rp or rq");
        assert_eq!(p.format(Value::Choice(2)), "rp");
    }
}
