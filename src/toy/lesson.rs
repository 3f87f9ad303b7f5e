//! Lessons: guided sequences of fits, written as data in `assets/lessons/*.toml` and compiled into
//! the binary like the presets. A step names a preset (or holds a config), may override its
//! divergences, student and length, says which views to open at which epoch (or which epochs to
//! play), and carries the caption a lecturer would otherwise have to speak. Parsed and checked here,
//! with no egui: the app plays them, `kdviz lessons` lists them, `kdviz figure --lesson` draws them.

use super::config::{FitConfig, ViewHints};
use super::preset;
use super::student::StudentSpec;
use crate::math::practice::Loss;
use serde::Deserialize;

/// (name, TOML text) of every lesson, in listing order.
pub const LESSONS: &[(&str, &str)] = &[
    (
        "mode-seeking",
        include_str!("../../assets/lessons/mode-seeking.toml"),
    ),
    (
        "alpha-beta",
        include_str!("../../assets/lessons/alpha-beta.toml"),
    ),
    ("bishop", include_str!("../../assets/lessons/bishop.toml")),
    (
        "practice",
        include_str!("../../assets/lessons/practice.toml"),
    ),
];

/// The view names a step may open; the same strings as `views::state::View::name` (a test in
/// `tests/lessons.rs` keeps the two lists equal; `toy` cannot see the views).
pub const VIEW_NAMES: [&str; 9] = [
    "distributions",
    "headtail",
    "loss",
    "gradient",
    "landscape",
    "abplane",
    "assistant",
    "contours",
    "sees",
];

/// The largest rank of a low-rank student everywhere: the real-model tab's slider, lessons and
/// `kdviz real --student lowrank:d=N` (`real::train::MAX_RANK`).
pub const MAX_REAL_RANK: usize = 512;

/// A caption holds one to three sentences, and at most this many characters (it must fit above the
/// views at a projector's font size).
pub const MAX_CAPTION_CHARS: usize = 460;

/// Seconds an animated step takes to play its range unless it says otherwise.
pub const DEFAULT_SECONDS: f32 = 8.0;

/// One lesson as written in its file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub name: String,
    pub title: String,
    /// One line: what the lesson shows (the Lessons menu's tooltip).
    pub summary: String,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// Which tab a step shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tab {
    #[default]
    Toy,
    Real,
}

/// One step of a lesson.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// One to three sentences, each claim as strong as its source.
    pub caption: String,
    /// A built-in preset (`kdviz presets`), or ...
    #[serde(default)]
    pub preset: Option<String>,
    /// ... a whole config written inline (`[step.config]`, the config file format).
    #[serde(default)]
    pub config: Option<FitConfig>,
    /// Replaces the config's divergences.
    #[serde(default)]
    pub divergences: Option<Vec<String>>,
    /// Replaces the config's student (another start, say).
    #[serde(default)]
    pub student: Option<StudentSpec>,
    /// Replaces the config's number of epochs.
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Replaces the config's `[view]` table as a whole: views, epoch and display options.
    #[serde(default)]
    pub view: Option<ViewHints>,
    /// Plays these epochs, first to last, when the step opens.
    #[serde(default)]
    pub animate: Option<[usize; 2]>,
    /// How long the animation takes (default [`DEFAULT_SECONDS`]).
    #[serde(default)]
    pub seconds: Option<f32>,
    /// What to look at, shown under the caption.
    #[serde(default)]
    pub highlight: Option<String>,
    #[serde(default)]
    pub tab: Tab,
    /// The real-model tab's setup (with `tab = "real"`).
    #[serde(default)]
    pub real: Option<RealStep>,
}

/// The real-model tab's setup for a step: the built-in teacher, these students.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealStep {
    pub divergences: Vec<String>,
    /// A low-rank student of this rank; absent: free logits.
    #[serde(default)]
    pub rank: Option<usize>,
    #[serde(default = "default_real_epochs")]
    pub epochs: usize,
    /// Starts training when the step opens.
    #[serde(default = "yes")]
    pub run: bool,
}

fn default_real_epochs() -> usize {
    100
}

fn yes() -> bool {
    true
}

impl Lesson {
    /// Parses and checks a lesson's TOML text; `source` names it in error messages.
    pub fn from_toml(text: &str, source: &str) -> Result<Lesson, String> {
        let lesson: Lesson = toml::from_str(text).map_err(|e| {
            let msg = super::config::readable(e.message().trim_end()).replace('\n', " ");
            match e.span() {
                Some(s) => format!("{source} line {}: {msg}", line_of(text, s.start)),
                None => format!("{source}: {msg}"),
            }
        })?;
        lesson.check(source)?;
        Ok(lesson)
    }

    /// Every field that the parser cannot check: presets exist, configs build, view names, epochs
    /// inside the fit, captions of one to three sentences.
    fn check(&self, source: &str) -> Result<(), String> {
        for (field, value) in [
            ("name", &self.name),
            ("title", &self.title),
            ("summary", &self.summary),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{source}: {field} is empty; expected text"));
            }
        }
        if self.steps.is_empty() {
            return Err(format!(
                "{source}: no steps; expected at least one [[step]]"
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            step.check()
                .map_err(|e| format!("{source} step {} ({:?}): {e}", i + 1, step.title))?;
        }
        Ok(())
    }

    /// The step numbered `n` (from 1, as people count).
    pub fn step(&self, n: usize) -> Result<&Step, String> {
        n.checked_sub(1)
            .and_then(|i| self.steps.get(i))
            .ok_or_else(|| {
                format!(
                    "lesson {} has no step {n}; expected 1 to {}",
                    self.name,
                    self.steps.len()
                )
            })
    }
}

impl Step {
    fn check(&self) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("title is empty; expected text".into());
        }
        check_caption(&self.caption)?;
        if self
            .highlight
            .as_deref()
            .is_some_and(|h| h.trim().is_empty())
        {
            return Err("highlight is empty; expected text or no highlight".into());
        }
        match self.tab {
            Tab::Real => self.check_real(),
            Tab::Toy => {
                if self.real.is_some() {
                    return Err("[step.real] needs tab = \"real\"".into());
                }
                let cfg = self.fit_config()?;
                cfg.to_spec()?.prepare()?;
                for v in &cfg.view.views {
                    if !VIEW_NAMES.contains(&v.as_str()) {
                        return Err(format!(
                            "unknown view {v:?}; expected one of {}",
                            VIEW_NAMES.join(", ")
                        ));
                    }
                }
                let last = cfg.epochs;
                if let Some(e) = cfg.view.epoch.filter(|&e| e > last) {
                    return Err(format!(
                        "epoch {e} is after the last epoch {last}; expected 0 to {last}"
                    ));
                }
                if let Some([from, to]) = self.animate
                    && !(from < to && to <= last)
                {
                    return Err(format!(
                        "animate = [{from}, {to}]; expected [FROM, TO] with FROM < TO <= {last}"
                    ));
                }
                if let Some(s) = self.seconds
                    && !(s.is_finite() && (0.5..=120.0).contains(&s))
                {
                    return Err(format!("seconds = {s}; expected 0.5 to 120"));
                }
                Ok(())
            }
        }
    }

    fn check_real(&self) -> Result<(), String> {
        let Some(real) = &self.real else {
            return Err("tab = \"real\" needs a [step.real] table".into());
        };
        if self.preset.is_some() || self.config.is_some() || self.animate.is_some() {
            return Err(
                "a real-model step takes [step.real] only; expected no preset, config or animate"
                    .into(),
            );
        }
        if real.divergences.is_empty() {
            return Err("[step.real] divergences is empty; expected at least one".into());
        }
        for d in &real.divergences {
            d.parse::<Loss>().map_err(|e| e.to_string())?;
        }
        if let Some(r) = real.rank.filter(|r| !(1..=MAX_REAL_RANK).contains(r)) {
            return Err(format!(
                "[step.real] rank = {r}; expected 1 to {MAX_REAL_RANK}"
            ));
        }
        if !(1..=100_000).contains(&real.epochs) {
            return Err(format!(
                "[step.real] epochs = {}; expected 1 to 100000",
                real.epochs
            ));
        }
        Ok(())
    }

    /// The toy config this step shows: the preset or inline config with the step's overrides.
    /// An error for real-model steps, which have none.
    pub fn fit_config(&self) -> Result<FitConfig, String> {
        let mut cfg = match (&self.preset, &self.config) {
            (Some(name), None) => preset::load(name)?,
            (None, Some(c)) => c.clone(),
            (Some(_), Some(_)) => {
                return Err("both preset and [step.config]; expected one of them".into());
            }
            (None, None) => {
                return Err("no preset and no [step.config]; expected one of them".into());
            }
        };
        if let Some(d) = &self.divergences {
            cfg.divergences = d.clone();
        }
        if let Some(s) = &self.student {
            cfg.student = s.clone();
        }
        if let Some(e) = self.epochs {
            cfg.epochs = e;
            cfg.snapshots.retain(|&s| s <= e);
        }
        if let Some(v) = &self.view {
            cfg.view = v.clone();
        }
        Ok(cfg)
    }

    /// The epoch the step ends on: the end of its animation, else its view's epoch, else the end
    /// of the fit (what a figure of the step draws).
    pub fn final_epoch(&self, cfg: &FitConfig) -> usize {
        match self.animate {
            Some([_, to]) => to,
            None => cfg.view.epoch.unwrap_or(cfg.epochs),
        }
    }

    /// How long the step's animation takes to play, if it has one.
    pub fn play_seconds(&self) -> Option<f32> {
        self.animate
            .map(|_| self.seconds.unwrap_or(DEFAULT_SECONDS))
    }

    /// A short description of the setup, for listings: `minillm-gmm: fkl · distributions · epochs 0→200`.
    pub fn setup(&self) -> String {
        if let Some(real) = &self.real {
            let student = match real.rank {
                Some(r) => format!("rank-{r} student"),
                None => "free student".into(),
            };
            return format!(
                "real-model tab: built-in teacher, {student}, {} · {} epochs",
                labels(&real.divergences),
                real.epochs
            );
        }
        let Ok(cfg) = self.fit_config() else {
            return String::new();
        };
        let source = self
            .preset
            .clone()
            .unwrap_or_else(|| "inline config".into());
        let when = match self.animate {
            Some([a, b]) => format!("epochs {a}→{b}"),
            None => format!("epoch {}", self.final_epoch(&cfg)),
        };
        format!(
            "{source}: {} · {} · {when}",
            labels(&cfg.divergences),
            cfg.view.views.join(", ")
        )
    }
}

/// The readable names of divergence specs (`FKL, αβ (0.2, 0.7)`), the spec itself if it does not parse.
fn labels(specs: &[String]) -> String {
    let names: Vec<String> = specs
        .iter()
        .map(|s| s.parse::<Loss>().map_or_else(|_| s.clone(), |d| d.label()))
        .collect();
    names.join(", ")
}

/// One to three sentences, ending in a full stop (or ? or !), no longer than [`MAX_CAPTION_CHARS`].
fn check_caption(caption: &str) -> Result<(), String> {
    let text = caption.trim();
    if text.is_empty() {
        return Err("caption is empty; expected one to three sentences".into());
    }
    let chars = text.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(format!(
            "caption has {chars} characters; expected at most {MAX_CAPTION_CHARS}"
        ));
    }
    if !text.ends_with(['.', '?', '!']) {
        return Err("caption does not end with a full stop; expected whole sentences".into());
    }
    let n = sentences(text);
    if !(1..=3).contains(&n) {
        return Err(format!("caption has {n} sentences; expected one to three"));
    }
    Ok(())
}

/// Sentence ends: `.`, `?` or `!` followed by a space or the end (decimals like 0.181 do not count).
pub fn sentences(text: &str) -> usize {
    let chars: Vec<char> = text.trim().chars().collect();
    (0..chars.len())
        .filter(|&i| {
            matches!(chars[i], '.' | '?' | '!')
                && chars.get(i + 1).is_none_or(|c| c.is_whitespace())
        })
        .count()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The lesson called `name`.
pub fn load(name: &str) -> Result<Lesson, String> {
    let Some((_, text)) = LESSONS.iter().find(|(n, _)| *n == name) else {
        return Err(format!(
            "unknown lesson {name:?}; expected one of {}",
            names().join(", ")
        ));
    };
    Lesson::from_toml(text, &format!("lesson {name}"))
}

/// The names of the built-in lessons, in listing order.
pub fn names() -> Vec<&'static str> {
    LESSONS.iter().map(|(n, _)| *n).collect()
}

/// Every lesson, parsed and checked; the first error stops.
pub fn all() -> Result<Vec<Lesson>, String> {
    LESSONS.iter().map(|(n, _)| load(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: &str = r#"
name = "t"
title = "T"
summary = "S"

[[step]]
title = "one"
caption = "FKL covers both modes. RKL picks one."
preset = "minillm-gmm"
divergences = ["fkl"]
animate = [0, 200]

[step.view]
views = ["distributions"]
overlay = true
"#;

    #[test]
    fn every_shipped_lesson_loads_and_checks() {
        let lessons = all().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lessons.len(), LESSONS.len());
        for (l, (name, _)) in lessons.iter().zip(LESSONS) {
            assert_eq!(l.name, *name, "a lesson's name is its listing name");
            for s in &l.steps {
                let n = sentences(&s.caption);
                assert!((1..=3).contains(&n), "{}: {n} sentences", s.title);
            }
        }
        let a = load("mode-seeking").unwrap();
        assert!(a.steps.len() >= 8, "{}", a.steps.len());
        assert!(a.steps.iter().any(|s| s.tab == Tab::Real));
        let b = load("alpha-beta").unwrap();
        assert!(b.steps.len() >= 5, "{}", b.steps.len());
    }

    #[test]
    fn a_step_overrides_its_preset() {
        let l = Lesson::from_toml(STEP, "t").unwrap();
        let s = l.step(1).unwrap();
        let cfg = s.fit_config().unwrap();
        assert_eq!(cfg.name, "minillm-gmm");
        assert_eq!(cfg.divergences, ["fkl"]);
        assert_eq!(cfg.view.views, ["distributions"]);
        assert_eq!(cfg.view.overlay, Some(true));
        // The step's [view] replaces the preset's: its epoch 4000 is gone.
        assert_eq!(cfg.view.epoch, None);
        assert_eq!(s.final_epoch(&cfg), 200);
        assert_eq!(s.play_seconds(), Some(DEFAULT_SECONDS));
        assert_eq!(s.setup(), "minillm-gmm: FKL · distributions · epochs 0→200");
        assert_eq!(
            l.step(2).unwrap_err(),
            "lesson t has no step 2; expected 1 to 1"
        );
        assert!(l.step(0).is_err());
    }

    #[test]
    fn errors_name_the_lesson_and_step() {
        let cases = [
            (
                STEP.replace("minillm-gmm", "minilm"),
                "t step 1 (\"one\"): unknown preset \"minilm\"; expected one of",
            ),
            (
                STEP.replace("\"distributions\"]", "\"pie\"]"),
                "t step 1 (\"one\"): unknown view \"pie\"; expected one of distributions,",
            ),
            (
                STEP.replace("[0, 200]", "[0, 4001]"),
                "t step 1 (\"one\"): animate = [0, 4001]; expected [FROM, TO] with FROM < TO <= 4000",
            ),
            (
                STEP.replace("overlay = true", "overlay = true\nepoch = 5000"),
                "t step 1 (\"one\"): epoch 5000 is after the last epoch 4000; expected 0 to 4000",
            ),
            (
                STEP.replace("[\"fkl\"]", "[\"fkll\"]"),
                "t step 1 (\"one\"): unknown divergence \"fkll\"",
            ),
            (
                STEP.replace("RKL picks one.", "RKL picks one. A third. A fourth."),
                "t step 1 (\"one\"): caption has 4 sentences; expected one to three",
            ),
            (
                STEP.replace("RKL picks one.", "RKL picks one"),
                "caption does not end with a full stop",
            ),
            (
                STEP.replace("preset = \"minillm-gmm\"\n", ""),
                "no preset and no [step.config]; expected one of them",
            ),
            (
                STEP.replace("animate", "animat"),
                "t line 11: unknown field `animat`",
            ),
            (
                STEP.replace("preset = \"minillm-gmm\"\n", "tab = \"real\"\n"),
                "tab = \"real\" needs a [step.real] table",
            ),
        ];
        for (text, needle) in cases {
            let e = Lesson::from_toml(&text, "t").unwrap_err();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
        let e = load("mode-seekin").unwrap_err();
        assert_eq!(
            e,
            "unknown lesson \"mode-seekin\"; expected one of mode-seeking, alpha-beta, bishop, practice"
        );
    }

    #[test]
    fn real_steps_are_checked() {
        let real = |table: &str| {
            format!(
                "name = \"t\"\ntitle = \"T\"\nsummary = \"S\"\n[[step]]\ntitle = \"r\"\n\
                 caption = \"Real.\"\ntab = \"real\"\n[step.real]\n{table}\n"
            )
        };
        let ok = Lesson::from_toml(&real("divergences = [\"fkl\", \"rkl\"]\nrank = 8"), "t");
        let ok = ok.unwrap();
        let r = ok.steps[0].real.as_ref().unwrap();
        assert_eq!((r.rank, r.epochs, r.run), (Some(8), 100, true));
        assert!(ok.steps[0].fit_config().is_err());
        let e = Lesson::from_toml(&real("divergences = [\"fkl\"]\nrank = 0"), "t").unwrap_err();
        assert!(e.contains("rank = 0; expected 1 to 512"), "{e}");
        let e = Lesson::from_toml(&real("divergences = []"), "t").unwrap_err();
        assert!(e.contains("divergences is empty"), "{e}");
        // Practice options train on the real tab too; a refused one names the key.
        let topk = real("divergences = [\"fkl:support=topk-tail,k=16\"]");
        assert!(Lesson::from_toml(&topk, "t").is_ok());
        let bad = real("divergences = [\"akl:support=topk,k=16\"]");
        let e = Lesson::from_toml(&bad, "t").unwrap_err();
        assert!(
            e.contains("support=topk needs a per-class divergence"),
            "{e}"
        );
    }

    #[test]
    fn sentences_skip_decimals() {
        assert_eq!(sentences("At epoch 5 the error is 0.181 vs 0.281."), 1);
        assert_eq!(sentences("One. Two? Three!"), 3);
        assert_eq!(sentences("KL is 1.5e-10 and 8.1e-9. Both converge."), 2);
    }
}
