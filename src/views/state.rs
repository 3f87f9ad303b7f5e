//! Everything the toy tab persists between sessions and saves as a config: plain data, no egui handles.

use crate::math::Divergence;
use crate::toy::{FitConfig, FitSpec, SnapshotPlan, preset};
use serde::{Deserialize, Serialize};

/// One divergence in the list: its parameters, and whether it takes part in the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    #[serde(with = "spec_string")]
    pub div: Divergence,
    pub enabled: bool,
}

/// Divergences persist as their spec strings (`akl:mu=0.5`), the same text a config file holds.
mod spec_string {
    use crate::math::Divergence;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Divergence, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Divergence, D::Error> {
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
}

impl View {
    pub const ALL: [View; 7] = [
        View::Distributions,
        View::HeadTail,
        View::Loss,
        View::Gradient,
        View::Landscape,
        View::AbPlane,
        View::Assistant,
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
        }
    }

    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
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
        }
    }
}

/// How the central area arranges the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// One view at a time, chosen by tabs.
    Tabs,
    /// The chosen views side by side in a grid.
    Grid,
}

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
    pub plots: PlotOptions,
    /// The scrubber's epoch.
    pub epoch: usize,
    pub playing: bool,
    /// Epochs per second while playing.
    pub speed: f32,
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
            plots: PlotOptions::default(),
            epoch: 10,
            playing: false,
            speed: 20.0,
            theme: Theme::Light,
        };
        state.apply_config(config);
        state
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
            .filter_map(|s| match s.parse::<Divergence>() {
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

    /// Opens the views the config asks for and sets its display options (its `[view]` table);
    /// options the hints leave out keep their current value, except log y and sorting, which are off
    /// unless asked for. The app and `kdviz figure` both come here.
    pub fn apply_hints(&mut self) {
        let hints = &self.config.view;
        let views: Vec<View> = hints
            .views
            .iter()
            .filter_map(|v| View::from_name(v))
            .collect();
        if let Some(&first) = views.first() {
            self.active = first;
            if views.len() > 1 {
                self.grid_views = views;
                self.layout = Layout::Grid;
            } else {
                self.layout = Layout::Tabs;
            }
        }
        let d = &mut self.dist;
        d.overlay = hints.overlay.unwrap_or(d.overlay);
        d.log_y = hints.log_y.unwrap_or(false);
        d.sorted = hints.sorted.unwrap_or(false);
        d.tail_inset = hints.tail_inset.unwrap_or(d.tail_inset);
        if let Some(e) = hints.epoch {
            self.epoch = e.min(self.config.epochs);
        }
        self.playing = false;
    }

    /// The config as it would be saved: the enabled divergences in list order.
    pub fn to_config(&self) -> FitConfig {
        let mut c = self.config.clone();
        c.divergences = self.enabled().map(|s| s.div.to_string()).collect();
        c
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.enabled)
    }

    /// The fit to run for the current settings, keeping q at every epoch for the scrubber.
    pub fn fit_spec(&self) -> Result<FitSpec, String> {
        let mut spec = self.to_config().to_spec()?;
        spec.snapshots = SnapshotPlan {
            every: true,
            at: Vec::new(),
        };
        Ok(spec)
    }
}
