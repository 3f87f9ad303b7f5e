//! The TOML description of a whole fit, shared by presets, `kdviz fit --config` and the GUI's save/load.

use super::fit::{FitSpec, SnapshotPlan};
use super::metrics::MetricsSpec;
use super::optim::OptimizerSpec;
use super::student::StudentSpec;
use super::teacher::TeacherSpec;
use crate::math::practice::Loss;
use serde::{Deserialize, Serialize};

/// One fit as written in a `.toml` file. The schema is documented in README.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Full-batch optimiser steps; epoch 0 is the initial student.
    pub epochs: usize,
    /// Divergence spec strings, e.g. `"akl:mu=0.5"`.
    pub divergences: Vec<String>,
    /// Epochs at which the student distribution q is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<usize>,
    /// Multiplies the gradient the optimiser sees (1/V reproduces PyTorch's `batchmean` on one row).
    #[serde(default = "one")]
    pub loss_scale: f64,
    pub teacher: TeacherSpec,
    pub student: StudentSpec,
    pub optimizer: OptimizerSpec,
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// How the app and figures show this fit (ignored by `kdviz fit`).
    #[serde(default, skip_serializing_if = "ViewHints::is_empty")]
    pub view: ViewHints,
}

/// Display hints of a config: which views to open and how; plain data, read by the GUI and figures.
/// A preset sets what its story needs; every option it leaves out opens at its default, so
/// nothing leaks from the setup before. The app's "Save config" writes every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewHints {
    /// View names: distributions, headtail, loss, gradient, landscape, abplane, assistant, contours. One view
    /// opens as tabs, several side by side (unless `layout` says otherwise); the first is active.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
    /// "tabs" (one view at a time) or "grid" (the views side by side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// The epoch to show first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlay: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_y: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail_inset: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shade_head: Option<bool>,
    /// Small multiples share one y range (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_y: Option<bool>,
    /// The head/tail and loss views' epoch axes on a log scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_epochs: Option<bool>,
    /// Plots pan on drag and zoom on scroll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoom_pan: Option<bool>,
    /// The contour view's marginal densities along x₁ (above) and x₂ (at the side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marginals: Option<bool>,
    /// Options of the gradient view (`shown`, `teacher`, `factors`), checked by the views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient: Option<toml::Table>,
    /// Options of the assistant view (`explorer`, `lambda`, `alpha`, `panels`), checked by the views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant: Option<toml::Table>,
}

/// How the views are arranged (see [`ViewHints::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// One view at a time, chosen by tabs.
    #[serde(alias = "Tabs")]
    Tabs,
    /// The chosen views side by side in a grid.
    #[serde(alias = "Grid")]
    Grid,
}

impl ViewHints {
    pub fn is_empty(&self) -> bool {
        *self == ViewHints::default()
    }
}

fn one() -> f64 {
    1.0
}

impl FitConfig {
    /// Parses TOML text and checks every value (what [`FitSpec::prepare`] checks); `source` names
    /// the file in error messages, which give the line of the value at fault.
    pub fn from_toml(text: &str, source: &str) -> Result<Self, String> {
        let at = |line: Option<usize>, msg: &str| match line {
            Some(line) => format!("{source} line {line}: {msg}"),
            None => format!("{source}: {msg}"),
        };
        let config: FitConfig = toml::from_str(text).map_err(|e| {
            at(
                e.span().map(|s| line_of(text, s.start)),
                &readable(e.message().trim_end()),
            )
        })?;
        let doc = toml::de::DeTable::parse(text).ok();
        let doc = doc.as_ref().map(|d| d.get_ref());
        for (i, spec) in config.divergences.iter().enumerate() {
            if let Err(e) = spec.parse::<Loss>() {
                let element = doc
                    .and_then(|d| d.get("divergences"))
                    .and_then(|v| v.get_ref().as_array())
                    .and_then(|a| a.get(i))
                    .map(|v| line_of(text, v.span().start));
                return Err(at(element, &e.to_string()));
            }
        }
        if let Err(e) = config.to_spec().and_then(|spec| spec.prepare().map(drop)) {
            return Err(at(doc.and_then(|d| value_line(text, d, &e)), &e));
        }
        Ok(config)
    }

    /// The line a `[view]` option's problem (reported by the views) is about: `[view] views: ...`
    /// or `[view.gradient]: ...`; `None` when the text does not hold it.
    pub fn view_line(text: &str, problem: &str) -> Option<usize> {
        let doc = toml::de::DeTable::parse(text).ok()?;
        let view = doc.get_ref().get("view")?;
        let key = problem
            .strip_prefix("[view.")
            .and_then(|r| r.split(']').next())
            .or_else(|| problem.strip_prefix("[view] ")?.split(':').next())?;
        let value = match view.get_ref().as_table()?.get(key.trim()) {
            Some(v) => v,
            None => view,
        };
        Some(line_of(text, value.span().start))
    }

    /// Reads and parses a `.toml` file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# could not serialise the config: {e}\n"))
    }

    /// Parses the divergence specs and produces a [`FitSpec`].
    pub fn to_spec(&self) -> Result<FitSpec, String> {
        if self.divergences.is_empty() {
            return Err("divergences is empty; expected at least one divergence spec".into());
        }
        let divergences = self
            .divergences
            .iter()
            .map(|s| s.parse::<Loss>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FitSpec {
            teacher: self.teacher.clone(),
            student: self.student.clone(),
            optimizer: self.optimizer,
            epochs: self.epochs,
            divergences,
            snapshots: SnapshotPlan {
                every: false,
                at: self.snapshots.clone(),
            },
            metrics: self.metrics,
            loss_scale: self.loss_scale,
        })
    }
}

/// A TOML/serde message in the words of the README: short numbers, and the kind of number
/// expected instead of the Rust type (`expected usize` → `expected a whole number >= 0`).
pub fn readable(message: &str) -> String {
    let mut m = crate::math::label::shorten_numbers(message);
    for (rust, words) in [
        ("usize", "a whole number >= 0"),
        ("u64", "a whole number >= 0"),
        ("u32", "a whole number >= 0"),
        ("f64", "a number"),
    ] {
        m = m.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    m
}

type Doc<'i> = toml::de::DeTable<'i>;
type Value<'i> = toml::Spanned<toml::de::DeValue<'i>>;

/// The line of the value a check's message is about. Messages start with the table they concern
/// (`teacher classes=1; ...`, `optimizer betas[1]=1; ...`, `teacher component 2: std=0; ...`) or
/// name a top-level key (`epochs=...`, `snapshot epoch 3000 is after ...`); the first key of that
/// table named in the message is the one at fault, and an element of an array is named by its
/// index (`component 2` counts from 1, `entry 3` and `betas[1]` from 0) or its value.
fn value_line(text: &str, doc: &Doc<'_>, message: &str) -> Option<usize> {
    let words: Vec<&str> = message
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let (table, rest) = match words.split_first() {
        Some((first, rest)) if doc.get(*first).is_some_and(|v| v.get_ref().is_table()) => {
            (doc.get(*first)?, rest)
        }
        _ => return find_in_table(doc, &words).map(|v| line_of(text, v.span().start)),
    };
    let inner = table.get_ref().as_table()?;
    let found = find_in_table(inner, rest).unwrap_or(table);
    Some(line_of(text, found.span().start))
}

/// The value of the first key of `table` that `words` name (`snapshot` names `snapshots`), looked
/// into further when it is a table or an array.
fn find_in_table<'a, 'i>(table: &'a Doc<'i>, words: &[&str]) -> Option<&'a Value<'i>> {
    words.iter().enumerate().find_map(|(i, word)| {
        let value = table
            .get(*word)
            .or_else(|| table.get(format!("{word}s").as_str()))?;
        let rest = &words[i + 1..];
        Some(match value.get_ref() {
            toml::de::DeValue::Table(t) => find_in_table(t, rest).unwrap_or(value),
            toml::de::DeValue::Array(a) => element(a, word, rest).unwrap_or(value),
            _ => value,
        })
    })
}

/// The element of an array that the words after its key name.
fn element<'a, 'i>(array: &'a [Value<'i>], key: &str, rest: &[&str]) -> Option<&'a Value<'i>> {
    let number = |w: &&str| w.parse::<usize>().ok();
    let index = match rest.first() {
        // `component 2` counts from 1; `betas[1]` from 0.
        Some(w) if key == "component" => number(w).and_then(|n| n.checked_sub(1)),
        Some(w) => number(w),
        None => None,
    }
    .or_else(|| {
        let at = rest.iter().position(|w| matches!(*w, "entry" | "item"))?;
        rest.get(at + 1).and_then(number)
    });
    let chosen = match index {
        Some(i) => array.get(i),
        None => array.iter().find(|v| {
            let text = match v.get_ref() {
                toml::de::DeValue::String(s) => Some(s.as_ref()),
                toml::de::DeValue::Integer(n) => Some(n.as_str()),
                toml::de::DeValue::Float(x) => Some(x.as_str()),
                _ => None,
            };
            text.is_some_and(|t| rest.contains(&t))
        }),
    }?;
    Some(match chosen.get_ref() {
        toml::de::DeValue::Table(t) => {
            find_in_table(t, rest.get(1..).unwrap_or(&[])).unwrap_or(chosen)
        }
        _ => chosen,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
epochs = 10
divergences = ["fkl", "rkl"]
[teacher]
kind = "longtail"
classes = 20
shape = "zipf"
exponent = 1.2
[student]
kind = "logits"
init = "zeros"
[optimizer]
kind = "adam"
lr = 0.1
"#;

    #[test]
    fn parses_and_round_trips() {
        let c = FitConfig::from_toml(MINIMAL, "t.toml").unwrap();
        let again = FitConfig::from_toml(&c.to_toml(), "again").unwrap();
        assert_eq!(c, again);
        let r = c.to_spec().unwrap().run().unwrap();
        assert_eq!(r.runs.len(), 2);
        assert_eq!(r.runs[0].history.len(), 11);
    }

    /// Out-of-range values name the file and the line of the value, as malformed TOML does.
    #[test]
    fn value_errors_name_the_file_and_line() {
        const FULL: &str = r#"
epochs = 10
divergences = [
  "fkl",
  "ab:alpha=0.2,beta=0.7",
]
snapshots = [1, 10]

[teacher]
kind = "mixture"
components = [
  { weight = 0.7, mean = -2.5, std = 0.8 },
  { weight = 0.3, mean = 2.5, std = 0.8 },
]
grid = { lo = -12.0, hi = 12.0, points = 2401 }

[student]
kind = "gaussian"
mu = 0.0
sigma = 1.0

[optimizer]
kind = "adam"
lr = 0.05
betas = [0.9, 0.999]

[metrics]
mu = 0.5
"#;
        assert!(FitConfig::from_toml(FULL, "f.toml").is_ok());
        for (from, to, line, says) in [
            (
                "sigma = 1.0",
                "sigma = 1e-300",
                20,
                "student sigma=1e-300 is out of range",
            ),
            (
                "mu = 0.0",
                "mu = 1e300",
                19,
                "student mu=1e300 is out of range",
            ),
            ("lr = 0.05", "lr = -1", 24, "optimizer lr=-1;"),
            (
                "betas = [0.9, 0.999]",
                "betas = [0.9, 1.5]",
                25,
                "optimizer betas[1]=1.5;",
            ),
            ("mu = 0.5", "mu = 2", 28, "metrics mu=2;"),
            ("epochs = 10", "epochs = 100000000", 2, "epochs=100000000;"),
            (
                "snapshots = [1, 10]",
                "snapshots = [1, 300]",
                7,
                "snapshot epoch 300 is after",
            ),
            (
                "mean = 2.5, std = 0.8",
                "mean = 2.5, std = 0",
                13,
                "teacher component 2: std=0;",
            ),
            ("points = 2401", "points = 1", 15, "teacher grid points=1;"),
            (
                "\"ab:alpha=0.2,beta=0.7\"",
                "\"ab:alpha=100,beta=0\"",
                5,
                "alpha=100 is out of range",
            ),
        ] {
            let bad = FULL.replace(from, to);
            assert_ne!(bad, FULL, "{from}");
            let e = FitConfig::from_toml(&bad, "f.toml").unwrap_err();
            assert!(e.starts_with(&format!("f.toml line {line}: ")), "{to}: {e}");
            assert!(e.contains(says), "{to}: {e}");
        }
        let e = FitConfig::from_toml(&FULL.replace("epochs = 10", "epochs = 1e300"), "f.toml")
            .unwrap_err();
        assert_eq!(
            e,
            "f.toml line 2: invalid type: floating point `1e300`, expected a whole number >= 0"
        );
        // A probability in a list is found by its index.
        let probs = "epochs = 1\ndivergences = [\"fkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [\n  0.5,\n  -0.5,\n]\n\
                     [student]\nkind = \"logits\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n";
        let e = FitConfig::from_toml(probs, "p.toml").unwrap_err();
        assert!(
            e.starts_with("p.toml line 7: teacher probs: entry 1 is -0.5"),
            "{e}"
        );
        let e = FitConfig::from_toml(
            &MINIMAL.replace("exponent = 1.2", "exponent = 99"),
            "t.toml",
        )
        .unwrap_err();
        assert!(e.starts_with("t.toml line 8: teacher exponent=99;"), "{e}");
        // A message about the whole table points at its header.
        let doc = toml::de::DeTable::parse(MINIMAL).unwrap();
        assert_eq!(
            value_line(MINIMAL, doc.get_ref(), "teacher: every logit is -inf"),
            Some(4)
        );
        assert_eq!(value_line(MINIMAL, doc.get_ref(), "nothing we know"), None);
    }

    #[test]
    fn view_problems_point_at_their_key() {
        let text = format!(
            "{MINIMAL}[view]\nepoch = 3\nviews = [\"nope\"]\ngradient = {{ shown = \"x\" }}\n"
        );
        assert_eq!(
            FitConfig::view_line(
                &text,
                "[view] views: unknown view \"nope\"; expected one of"
            ),
            Some(17)
        );
        assert_eq!(
            FitConfig::view_line(&text, "[view.gradient]: unknown variant `x`"),
            Some(18)
        );
        assert_eq!(FitConfig::view_line(MINIMAL, "[view] views: unknown"), None);
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad = MINIMAL.replace("exponent = 1.2", "exponnent = 1.2");
        let e = FitConfig::from_toml(&bad, "t.toml").unwrap_err();
        assert!(e.starts_with("t.toml line "), "{e}");
        assert!(e.contains("exponnent"), "{e}");
        let bad = MINIMAL.replace("\"rkl\"", "\"rkll\"");
        let e = FitConfig::from_toml(&bad, "t.toml").unwrap_err();
        assert!(
            e.starts_with("t.toml line 3: unknown divergence \"rkll\""),
            "{e}"
        );
        let bad = MINIMAL.replace("kind = \"adam\"", "kind = \"lbfgs\"");
        assert!(
            FitConfig::from_toml(&bad, "t.toml")
                .unwrap_err()
                .contains("lbfgs")
        );
    }

    /// The issue's schema, verbatim; a 1-D student on it is refused with the kind to use.
    #[test]
    fn plane_schema_parses() {
        let text = r#"
epochs = 3
divergences = ["rkl"]
[teacher]
kind = "mixture2d"
components = [ { weight = 1.0, mean = [0.0, 0.0], cov = [[1.0, 0.9], [0.9, 1.0]] } ]
grid = { lo = [-6.0, -6.0], hi = [6.0, 6.0], points = [121, 121] }

[student]
kind = "gaussian2d"
mean = [0.5, -0.5]
cov = [[1.0, 0.0], [0.0, 1.0]]
covariance = "diagonal"      # or "full"
[optimizer]
kind = "adam"
lr = 0.1
"#;
        let c = FitConfig::from_toml(text, "t.toml").unwrap();
        assert_eq!(FitConfig::from_toml(&c.to_toml(), "again").unwrap(), c);
        let r = c.to_spec().unwrap().run().unwrap();
        assert_eq!(r.teacher.dist.len(), 121 * 121);
        assert_eq!(r.runs[0].history[0].mean, Some([0.5, -0.5]));
        let mut one_d = c.clone();
        one_d.student = StudentSpec::Gaussian {
            mu: 0.0,
            sigma: 1.0,
        };
        let e = one_d.to_spec().unwrap().run().unwrap_err();
        assert!(e.contains("expected kind = \"gaussian2d\""), "{e}");
        let bad = text.replace(
            "cov = [[1.0, 0.0], [0.0, 1.0]]",
            "cov = [[0.0, 0.0], [0.0, 1.0]]",
        );
        // Refused when the file is read, at the line of the value.
        let e = FitConfig::from_toml(&bad, "t.toml").unwrap_err();
        assert!(
            e.starts_with(
                "t.toml line 12: student cov = [[0, 0], [0, 1]] is not symmetric positive definite"
            ),
            "{e}"
        );
    }
}
