//! Everything the toy tab persists between sessions and saves as a config: plain data, no egui handles.

use crate::math::practice::Loss;
use crate::toy::config::ViewHints;
use crate::toy::{FitConfig, FitSpec, preset};
use serde::{Deserialize, Serialize};

/// One divergence in the list: its parameters, and whether it takes part in the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// The family and its practice options.
    #[serde(with = "spec_string")]
    pub div: Loss,
    pub enabled: bool,
}

/// Divergences persist as their spec strings (`akl:mu=0.5`), the same text a config file holds.
mod spec_string {
    use crate::math::practice::Loss;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Loss, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Loss, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The central area's views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum View {
    Distributions,
    HeadTail,
    Loss,
    Gradient,
    Landscape,
    AbPlane,
    Assistant,
    Contours,
    Sees,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Distributions,
        View::HeadTail,
        View::Loss,
        View::Gradient,
        View::Landscape,
        View::AbPlane,
        View::Assistant,
        View::Contours,
        View::Sees,
    ];

    /// The name used in configs (`[view] views = [...]`) and by `kdviz figure --view`.
    pub fn name(self) -> &'static str {
        match self {
            View::Distributions => "distributions",
            View::HeadTail => "headtail",
            View::Loss => "loss",
            View::Gradient => "gradient",
            View::Landscape => "landscape",
            View::AbPlane => "abplane",
            View::Assistant => "assistant",
            View::Contours => "contours",
            View::Sees => "sees",
        }
    }

    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the view draws something for this teacher: a 2-D teacher (`plane`) has the contour,
    /// loss, head/tail and "what the student sees" (classes by teacher rank) views; the per-class views (distributions, gradient, αβ plane, assistant)
    /// and the (μ, log σ) landscape are 1-D only, as is the contour view's opposite.
    pub fn fits(self, plane: bool) -> bool {
        match self {
            View::Loss | View::HeadTail | View::Sees => true,
            View::Contours => plane,
            View::Distributions
            | View::Gradient
            | View::Landscape
            | View::AbPlane
            | View::Assistant => !plane,
        }
    }

    /// Whether the view draws the student's q (a kept snapshot) rather than only its per-epoch
    /// records: the epoch stamp names the kept epoch it draws only for these.
    pub fn reads_q(self) -> bool {
        !matches!(self, View::Loss | View::Contours)
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Distributions => "Distributions",
            View::HeadTail => "Head / tail",
            View::Loss => "Loss curves",
            View::Gradient => "Gradient / mass flow",
            View::Landscape => "Loss landscape",
            View::AbPlane => "αβ plane",
            View::Assistant => "Assistant distributions",
            View::Contours => "Contours (2-D)",
            View::Sees => "What the student sees",
        }
    }
}

pub use crate::toy::config::Layout;

/// Options of the distributions view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistOptions {
    /// All students on one plot instead of one panel per divergence.
    pub overlay: bool,
    pub log_y: bool,
    /// Classes ordered by teacher probability (discrete teachers).
    pub sorted: bool,
    pub shade_head: bool,
    pub tail_inset: bool,
    /// Small multiples and their tail insets share one y range, so that panels compare at a glance.
    pub shared_y: bool,
}

impl Default for DistOptions {
    fn default() -> Self {
        DistOptions {
            overlay: false,
            log_y: false,
            sorted: false,
            shade_head: true,
            tail_inset: true,
            shared_y: true,
        }
    }
}

/// Which per-class quantities the gradient view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GradientShown {
    /// The force and the mass flow Δq.
    Both,
    Force,
    Flow,
}

/// Options of the gradient / mass-flow view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradientOptions {
    pub shown: GradientShown,
    /// The teacher, faint, behind the bars.
    pub teacher: bool,
    /// ABKD's confidence and hardness factors for αβ runs.
    pub factors: bool,
}

impl Default for GradientOptions {
    fn default() -> Self {
        GradientOptions {
            shown: GradientShown::Both,
            teacher: true,
            factors: true,
        }
    }
}

/// Options of the assistant view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssistantOptions {
    /// Show the α-mixture explorer even though TAID/AMiD runs exist.
    pub explorer: bool,
    /// AMiD's λ in the explorer.
    pub lambda: f64,
    /// The explorer's free α.
    pub alpha: f64,
    /// The explorer as one panel per α (AMiD's figure) instead of overlaid.
    pub panels: bool,
}

impl Default for AssistantOptions {
    fn default() -> Self {
        AssistantOptions {
            explorer: false,
            lambda: crate::toy::analysis::assistant::DEFAULT_LAMBDA,
            alpha: crate::toy::analysis::assistant::DEFAULT_FREE_ALPHA,
            panels: false,
        }
    }
}

/// Options of the contour view.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContourOptions {
    /// Each panel's marginal densities of teacher and student along x₁ (above the plot) and x₂
    /// (at its right).
    pub marginals: bool,
}

/// Options every view's plots share.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlotOptions {
    /// The head/tail and loss views' epoch axes on a log scale (the story of a long fit is often in
    /// its first few percent of epochs).
    pub log_epochs: bool,
    /// Plots pan on drag and zoom on scroll; off, a drag never moves a plot.
    pub zoom_pan: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    Light,
    Dark,
}

/// Options of "What the student sees".
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeesOptions {
    /// The run shown; `None`: the first run with practice options (or `rkl-est`), else the first.
    pub run: Option<usize>,
}

/// The persisted state of the toy tab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToyState {
    /// Teacher, student, optimiser, epochs, metrics (its `divergences` field is derived from `slots`).
    pub config: FitConfig,
    pub slots: Vec<Slot>,
    pub layout: Layout,
    pub active: View,
    pub grid_views: Vec<View>,
    pub dist: DistOptions,
    pub gradient: GradientOptions,
    pub assistant: AssistantOptions,
    pub contours: ContourOptions,
    pub sees: SeesOptions,
    pub plots: PlotOptions,
    /// The scrubber's epoch.
    pub epoch: usize,
    pub playing: bool,
    /// Epochs per second while playing in linear time.
    pub speed: f32,
    /// Play and scrub in log(1 + epoch): early epochs, where most happens, get most of the time
    /// and of the scrubber.
    pub log_time: bool,
    /// Seconds a whole run takes to play in log time.
    pub play_seconds: f32,
    pub theme: Theme,
}

/// The preset the app opens on: the long-tail teacher with FKL, RKL and AKL side by side.
pub const DEFAULT_PRESET: &str = "akl-fig3-longtail";

impl Default for ToyState {
    fn default() -> Self {
        let config = preset::load(DEFAULT_PRESET).unwrap_or_else(|_| fallback_config());
        let mut state = ToyState {
            config: config.clone(),
            slots: Vec::new(),
            layout: Layout::Tabs,
            active: View::Distributions,
            grid_views: vec![
                View::Distributions,
                View::HeadTail,
                View::Loss,
                View::Gradient,
            ],
            dist: DistOptions::default(),
            gradient: GradientOptions::default(),
            assistant: AssistantOptions::default(),
            contours: ContourOptions::default(),
            sees: SeesOptions::default(),
            plots: PlotOptions::default(),
            epoch: 10,
            playing: false,
            speed: 20.0,
            log_time: true,
            play_seconds: 12.0,
            theme: Theme::Light,
        };
        state.apply_config(config);
        state
    }
}

/// A view's options from its `[view.<name>]` table, or the defaults (and a problem) when the table
/// does not read.
fn table_or_default<T: Default + serde::de::DeserializeOwned>(
    table: Option<&toml::Table>,
    name: &str,
    problems: &mut Vec<String>,
) -> T {
    let Some(table) = table else {
        return T::default();
    };
    match toml::Value::Table(table.clone()).try_into() {
        Ok(v) => v,
        Err(e) => {
            let message = crate::toy::config::readable(e.message().trim_end());
            problems.push(format!("[view.{name}]: {message}"));
            T::default()
        }
    }
}

/// Used only if the built-in preset failed to parse (a build error caught by the tests).
fn fallback_config() -> FitConfig {
    FitConfig::from_toml(
        "epochs = 300\ndivergences = [\"fkl\", \"rkl\"]\n[teacher]\nkind = \"longtail\"\nclasses = 80\n\
         shape = \"halfnormal\"\n[student]\nkind = \"logits\"\n[optimizer]\nkind = \"adam\"\nlr = 0.2\n",
        "fallback",
    )
    .expect("the fallback config is valid")
}

impl ToyState {
    /// Replaces the fit settings with a config (a preset or a loaded file); divergences that do not
    /// parse are reported and skipped.
    pub fn apply_config(&mut self, config: FitConfig) -> Vec<String> {
        let mut errors = Vec::new();
        self.slots = config
            .divergences
            .iter()
            .filter_map(|s| match s.parse::<Loss>() {
                Ok(div) => Some(Slot { div, enabled: true }),
                Err(e) => {
                    errors.push(e.to_string());
                    None
                }
            })
            .collect();
        self.epoch = self.epoch.min(config.epochs);
        self.config = config;
        errors
    }

    /// Opens the views the config asks for and sets every display option: what its `[view]` table
    /// says, and the default for what it leaves out, so that nothing leaks from the setup before.
    /// The app, the lessons and `kdviz figure` all come here. Returns the options that could not be
    /// read (unknown keys or values in the gradient / assistant tables), which keep their defaults.
    pub fn apply_hints(&mut self) -> Vec<String> {
        let hints = &self.config.view;
        let mut problems = Vec::new();
        let mut views = Vec::new();
        for name in &hints.views {
            match View::from_name(name) {
                Some(v) => views.push(v),
                None => problems.push(format!(
                    "[view] views: unknown view {name:?}; expected one of {}",
                    View::ALL.map(View::name).join(", ")
                )),
            }
        }
        if let Some(&first) = views.first() {
            self.active = first;
            if views.len() > 1 {
                self.grid_views = views.clone();
            }
        }
        self.layout = hints.layout.unwrap_or(if views.len() > 1 {
            Layout::Grid
        } else {
            Layout::Tabs
        });
        let base = DistOptions::default();
        self.dist = DistOptions {
            overlay: hints.overlay.unwrap_or(base.overlay),
            log_y: hints.log_y.unwrap_or(base.log_y),
            sorted: hints.sorted.unwrap_or(base.sorted),
            shade_head: hints.shade_head.unwrap_or(base.shade_head),
            tail_inset: hints.tail_inset.unwrap_or(base.tail_inset),
            shared_y: hints.shared_y.unwrap_or(base.shared_y),
        };
        let plots = PlotOptions::default();
        self.plots = PlotOptions {
            log_epochs: hints.log_epochs.unwrap_or(plots.log_epochs),
            zoom_pan: hints.zoom_pan.unwrap_or(plots.zoom_pan),
        };
        self.contours = ContourOptions {
            marginals: hints
                .marginals
                .unwrap_or(ContourOptions::default().marginals),
        };
        // The run "What the student sees" shows: back to its rule (the first run with options).
        self.sees = SeesOptions::default();
        self.gradient = table_or_default(hints.gradient.as_ref(), "gradient", &mut problems);
        self.assistant = table_or_default(hints.assistant.as_ref(), "assistant", &mut problems);
        if let Some(e) = hints.epoch.filter(|&e| e > self.config.epochs) {
            problems.push(format!(
                "[view] epoch: {e} is after the last epoch {last}; expected 0 to {last}",
                last = self.config.epochs
            ));
        }
        self.epoch = hints.epoch.unwrap_or(self.epoch).min(self.config.epochs);
        self.playing = false;
        problems
    }

    /// The config as it would be saved: the enabled divergences in list order, and the whole
    /// visible setup (views, layout, every view option, the epoch) as its `[view]` table.
    pub fn to_config(&self) -> FitConfig {
        let mut c = self.config.clone();
        c.divergences = self.enabled().map(|s| s.div.to_string()).collect();
        let views = match self.layout {
            Layout::Grid => self.grid_views.clone(),
            Layout::Tabs => vec![self.active],
        };
        let d = self.dist;
        c.view = ViewHints {
            views: views.iter().map(|v| v.name().to_string()).collect(),
            layout: Some(self.layout),
            epoch: Some(self.epoch),
            overlay: Some(d.overlay),
            log_y: Some(d.log_y),
            sorted: Some(d.sorted),
            tail_inset: Some(d.tail_inset),
            shade_head: Some(d.shade_head),
            shared_y: Some(d.shared_y),
            log_epochs: Some(self.plots.log_epochs),
            zoom_pan: Some(self.plots.zoom_pan),
            marginals: Some(self.contours.marginals),
            gradient: toml::Table::try_from(self.gradient).ok(),
            assistant: toml::Table::try_from(self.assistant).ok(),
        };
        c
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.enabled)
    }

    /// The fit to run for the current settings, keeping q at every epoch for the scrubber (at as many
    /// as fit in [`crate::toy::budget::STORE_BYTES`] for a big fit), the config's snapshots always.
    pub fn fit_spec(&self) -> Result<FitSpec, String> {
        let mut spec = self.to_config().to_spec()?;
        spec.snapshots.every = true;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_preset(state: &mut ToyState, name: &str) -> Vec<String> {
        let mut problems = state.apply_config(preset::load(name).unwrap());
        problems.extend(state.apply_hints());
        problems
    }

    /// A preset sets every view option: what it asks for, and the default for the rest.
    #[test]
    fn a_preset_leaves_nothing_of_the_one_before() {
        let mut s = ToyState::default();
        assert!(with_preset(&mut s, "zipf-1000").is_empty());
        assert!(s.dist.log_y && s.dist.sorted);
        s.gradient.shown = GradientShown::Flow;
        s.assistant.panels = true;
        s.dist.shade_head = false;
        s.dist.shared_y = false;
        s.plots.zoom_pan = true;
        s.contours.marginals = true;
        assert!(s.plots.log_epochs, "zipf-1000 opens with log epochs");
        assert!(with_preset(&mut s, "gjsd-beta-sweep").is_empty());
        assert_eq!(s.plots, PlotOptions::default());
        assert!(with_preset(&mut s, "akl-fig3-longtail").is_empty());
        assert_eq!(s.dist, DistOptions::default());
        assert_eq!(s.gradient, GradientOptions::default());
        assert_eq!(s.assistant, AssistantOptions::default());
        assert_eq!(s.contours, ContourOptions::default());
        assert!(with_preset(&mut s, "bishop-factorised").is_empty());
        assert!(
            s.contours.marginals,
            "bishop-factorised opens with marginals"
        );
        assert!(with_preset(&mut s, "akl-fig3-longtail").is_empty());
        assert_eq!(
            (s.active, s.layout, s.epoch),
            (View::Distributions, Layout::Tabs, 10)
        );
    }

    /// Save config writes the whole visible setup; loading the file brings it back.
    #[test]
    fn a_saved_config_restores_views_layout_options_and_epoch() {
        let mut s = ToyState::default();
        with_preset(&mut s, "minillm-gmm");
        s.layout = Layout::Grid;
        s.grid_views = vec![View::Loss, View::Gradient];
        s.active = View::Loss;
        s.epoch = 123;
        s.dist.log_y = true;
        s.dist.tail_inset = false;
        s.gradient.factors = false;
        s.assistant.lambda = 0.7;
        s.dist.shared_y = false;
        s.contours.marginals = true;
        s.plots = PlotOptions {
            log_epochs: false,
            zoom_pan: true,
        };
        let text = s.to_config().to_toml();
        let cfg = FitConfig::from_toml(&text, "saved").unwrap();
        let mut t = ToyState::default();
        t.apply_config(cfg);
        assert!(t.apply_hints().is_empty());
        assert_eq!(t.layout, Layout::Grid);
        assert_eq!(t.grid_views, vec![View::Loss, View::Gradient]);
        assert_eq!(t.active, View::Loss);
        assert_eq!(t.epoch, 123);
        assert_eq!(t.dist, s.dist);
        assert_eq!(t.gradient, s.gradient);
        assert_eq!(t.assistant, s.assistant);
        assert_eq!(t.plots, s.plots);
        assert_eq!(t.contours, s.contours);
        // Tabs save the active view only.
        s.layout = Layout::Tabs;
        assert_eq!(s.to_config().view.views, vec!["loss"]);
    }

    #[test]
    fn unreadable_view_options_are_reported_and_keep_their_defaults() {
        let mut cfg = preset::load("akl-fig3-longtail").unwrap();
        cfg.view.views = vec!["distributions".into(), "histogram".into()];
        let mut table = toml::Table::new();
        table.insert("shown".into(), toml::Value::String("sideways".into()));
        cfg.view.gradient = Some(table);
        let mut s = ToyState::default();
        s.apply_config(cfg);
        let problems = s.apply_hints();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with(
            "[view] views: unknown view \"histogram\"; expected one of distributions,"
        ));
        assert!(
            problems[1].starts_with("[view.gradient]: unknown variant `sideways`"),
            "{}",
            problems[1]
        );
        assert_eq!(s.gradient, GradientOptions::default());
        assert_eq!(s.active, View::Distributions);
        // An epoch after the end is said, and the last epoch shown.
        let mut cfg = preset::load("akl-fig3-longtail").unwrap();
        cfg.view.epoch = Some(5000);
        s.apply_config(cfg);
        assert_eq!(
            s.apply_hints(),
            ["[view] epoch: 5000 is after the last epoch 800; expected 0 to 800"]
        );
        assert_eq!(s.epoch, 800);
    }
}
