//! Every view, drawn with egui and egui_plot only (no app shell), so that the app and the offscreen
//! figures draw the same code; the numbers they draw come from [`crate::toy::analysis`]. Each takes
//! the fit result read-only through [`ViewCtx`] and may change settings in the state (the head mass
//! μ, a dragged αβ point, a drawn teacher).

pub mod abplane;
pub mod assistant;
pub mod beta_sweep;
pub mod common;
mod curves;
pub mod distributions;
pub mod gradient;
pub mod headtail;
pub mod landscape;
pub mod loss;
pub mod palette;
pub mod real;
mod small_multiples;
pub mod state;
mod ticks;

use crate::math::Divergence;
use crate::toy::{EpochRecord, FitResult, analysis};
use crate::views::state::{ToyState, View};
use egui::Color32;

/// What every view reads: the last good fit, its colours and the scrubber's epoch.
pub struct ViewCtx<'a> {
    pub result: &'a FitResult,
    pub colors: &'a [Color32],
    /// The scrubber's epoch, clamped to what the result holds.
    pub epoch: usize,
    /// True while a figure (not the app) is drawn: views leave out their checkboxes and sliders,
    /// and views that compute in the background wait for their numbers instead of a spinner.
    pub figure: bool,
}

impl<'a> ViewCtx<'a> {
    pub fn new(result: &'a FitResult, colors: &'a [Color32], epoch: usize) -> Self {
        ViewCtx {
            result,
            colors,
            epoch: analysis::clamp_epoch(result, epoch),
            figure: false,
        }
    }

    /// The same context for a figure (see [`ViewCtx::figure`]).
    pub fn for_figure(mut self) -> Self {
        self.figure = true;
        self
    }

    pub fn divergence(&self, run: usize) -> &Divergence {
        &self.result.runs[run].divergence
    }

    /// The student distribution of `run` at `epoch` (the nearest kept snapshot at or before it).
    pub fn q_at(&self, run: usize, epoch: usize) -> &'a [f64] {
        analysis::q_at(&self.result.runs[run], epoch)
    }

    pub fn q(&self, run: usize) -> &'a [f64] {
        self.q_at(run, self.epoch)
    }

    pub fn history(&self, run: usize) -> &'a [EpochRecord] {
        &self.result.runs[run].history
    }

    pub fn record(&self, run: usize) -> &'a EpochRecord {
        let h = self.history(run);
        &h[self.epoch.min(h.len() - 1)]
    }

    pub fn runs(&self) -> usize {
        self.result.runs.len()
    }

    pub fn p(&self) -> &'a [f64] {
        &self.result.teacher.dist.p
    }

    pub fn xs(&self) -> &'a [f64] {
        &self.result.teacher.xs
    }

    /// True for a mixture teacher (a continuous x axis) rather than class indices.
    pub fn continuous(&self) -> bool {
        self.result.teacher.components.is_some()
    }
}

/// Draws one view.
pub fn view_ui(ui: &mut egui::Ui, view: View, cx: &ViewCtx, state: &mut ToyState) {
    match view {
        View::Distributions => distributions::distributions_ui(ui, cx, state),
        View::HeadTail => headtail::headtail_ui(ui, cx, state),
        View::Loss => loss::loss_ui(ui, cx, state),
        View::Gradient => gradient::gradient_ui(ui, cx, state),
        View::Landscape => landscape::landscape_ui(ui, cx, state),
        View::AbPlane => abplane::abplane_ui(ui, cx, state),
        View::Assistant => assistant::assistant_ui(ui, cx, state),
    }
}

#[cfg(test)]
mod tests {
    use crate::math::{Divergence, FAMILIES};

    /// Every readable name can be drawn with the app's proportional font (egui panics on a missing
    /// glyph): each family's default and the variants that print extra symbols.
    #[test]
    fn every_divergence_name_has_its_glyphs() {
        let ctx = egui::Context::default();
        let mut frame = ctx.run_ui(Default::default(), |_| {});
        frame.textures_delta.clear();
        let mut names: Vec<String> = FAMILIES.iter().map(|f| f.default().label()).collect();
        for spec in [
            "jsd:beta=0.1,norm=true",
            "srkl:alpha=0.1,detach=true",
            "ab:alpha=-0.5,beta=1",
            "ab:alpha=1,beta=0",
            "taid:t_start=0.2,t_end=1,adaptive=false",
            "amid:alpha=-1,lambda=0.3,div=ab,order=rq",
        ] {
            names.push(spec.parse::<Divergence>().unwrap().label());
        }
        let font = egui::FontId::proportional(14.0);
        ctx.fonts_mut(|f| {
            for name in &names {
                for c in name.chars() {
                    assert!(f.has_glyph(&font, c), "{name}: no glyph for {c:?}");
                }
            }
        });
    }
}
