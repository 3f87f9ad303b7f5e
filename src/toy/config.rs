//! The TOML description of a whole fit, shared by presets, `kdviz fit --config` and the GUI's save/load.

use super::fit::{FitSpec, SnapshotPlan};
use super::metrics::MetricsSpec;
use super::optim::OptimizerSpec;
use super::student::StudentSpec;
use super::teacher::TeacherSpec;
use crate::math::Divergence;
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
    /// Parses TOML text; `source` names the file in error messages.
    pub fn from_toml(text: &str, source: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let msg = e.message().trim_end();
            match e.span().map(|s| line_of(text, s.start)) {
                Some(line) => format!("{source} line {line}: {msg}"),
                None => format!("{source}: {msg}"),
            }
        })
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
            .map(|s| s.parse::<Divergence>().map_err(|e| e.to_string()))
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

    #[test]
    fn errors_name_the_line_and_field() {
        let bad = MINIMAL.replace("exponent = 1.2", "exponnent = 1.2");
        let e = FitConfig::from_toml(&bad, "t.toml").unwrap_err();
        assert!(e.starts_with("t.toml line "), "{e}");
        assert!(e.contains("exponnent"), "{e}");
        let bad = MINIMAL.replace("\"rkl\"", "\"rkll\"");
        let e = FitConfig::from_toml(&bad, "t.toml")
            .unwrap()
            .to_spec()
            .unwrap_err();
        assert!(e.contains("unknown divergence \"rkll\""), "{e}");
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
        let e = FitConfig::from_toml(&bad, "t.toml")
            .unwrap()
            .to_spec()
            .unwrap()
            .run()
            .unwrap_err();
        assert!(
            e.starts_with("student cov = [[0, 0], [0, 1]] is not symmetric positive definite"),
            "{e}"
        );
    }
}
