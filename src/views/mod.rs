//! Every view, drawn with egui and egui_plot only (no app shell), so that the app and the offscreen
//! figures draw the same code; the numbers they draw come from [`crate::toy::analysis`]. Each takes
//! the fit result read-only through [`ViewCtx`] and may change settings in the state (the head mass
//! μ, a dragged αβ point, a drawn teacher).

pub mod abplane;
pub mod assistant;
pub mod beta_sweep;
pub mod common;
pub mod contours;
mod curves;
pub mod distributions;
pub mod gradient;
pub mod headtail;
pub mod landscape;
pub mod loss;
pub mod palette;
mod placement;
pub mod real;
pub mod sees;
mod small_multiples;
pub mod state;
mod ticks;

#[cfg(test)]
mod tests;

use crate::math::Divergence;
use crate::toy::{EpochRecord, FitResult, analysis};
use crate::views::state::{ToyState, View};
use egui::Color32;

/// What every view reads: the last good fit, its colours and the scrubber's epoch.
#[derive(Clone, Copy)]
pub struct ViewCtx<'a> {
    pub result: &'a FitResult,
    pub colors: &'a [Color32],
    /// The scrubber's epoch, clamped to what the result holds.
    pub epoch: usize,
    /// True while a figure (not the app) is drawn: views leave out their checkboxes and sliders,
    /// and views that compute in the background wait for their numbers instead of a spinner.
    pub figure: bool,
    /// The epochs (first, last) over which axes stay fixed, so that an animation does not "breathe":
    /// an animation's frames, or the whole fit while the app plays. None: axes fit the current epoch.
    pub fixed: Option<(usize, usize)>,
    /// Epoch axes (head/tail, loss) on a log scale: `x = log10(epoch + 1)`, epoch 0 at the origin.
    pub log_epochs: bool,
}

impl<'a> ViewCtx<'a> {
    pub fn new(result: &'a FitResult, colors: &'a [Color32], epoch: usize) -> Self {
        ViewCtx {
            result,
            colors,
            epoch: analysis::clamp_epoch(result, epoch),
            figure: false,
            fixed: None,
            log_epochs: false,
        }
    }

    /// The same context with axes fixed over the epochs `first..=last` (see [`ViewCtx::fixed`]).
    pub fn with_fixed_axes(mut self, first: usize, last: usize) -> Self {
        let (a, b) = (first.min(last), first.max(last));
        self.fixed = Some((
            analysis::clamp_epoch(self.result, a),
            analysis::clamp_epoch(self.result, b),
        ));
        self
    }

    /// The epochs the axes must hold: [`ViewCtx::fixed`], or the current epoch alone.
    pub fn axis_epochs(&self) -> (usize, usize) {
        self.fixed.unwrap_or((self.epoch, self.epoch))
    }

    /// The fit's last epoch (every run has its records up to it).
    pub fn last_epoch(&self) -> usize {
        analysis::clamp_epoch(self.result, usize::MAX)
    }

    /// The same context for a figure (see [`ViewCtx::figure`]).
    pub fn for_figure(mut self) -> Self {
        self.figure = true;
        self
    }

    /// The family of `run` (its practice options aside: [`ViewCtx::loss`]).
    pub fn divergence(&self, run: usize) -> &Divergence {
        &self.result.runs[run].divergence.family
    }

    /// The loss of `run`: its family and practice options.
    pub fn loss(&self, run: usize) -> &crate::math::practice::Loss {
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

/// Draws one view under its header (the epoch stamp; in the app the zoom/pan switch), in readable text
/// sizes; while the app plays, its axes stay fixed over the whole fit.
pub fn view_ui(ui: &mut egui::Ui, view: View, cx: &ViewCtx, state: &mut ToyState) {
    common::readable_text(ui.style_mut());
    let mut cx = *cx;
    cx.log_epochs = state.plots.log_epochs;
    if cx.fixed.is_none() && state.playing && !cx.figure {
        cx = cx.with_fixed_axes(0, cx.last_epoch());
    }
    let interaction = header_ui(ui, &cx, view, state);
    let plane = cx.result.teacher.plane.is_some();
    if !view.fits(plane) {
        ui.add_space(8.0);
        ui.label(if plane {
            "This view draws a one-dimensional teacher's classes; this fit's teacher is 2-D. Its \
             views are Contours (2-D), Loss curves and Head / tail."
        } else {
            "The contour view draws a teacher in the plane (teacher kind = \"mixture2d\"); this \
             fit's teacher is one-dimensional."
        });
        return;
    }
    let cx = &cx;
    common::with_interaction(interaction, || match view {
        View::Distributions => distributions::distributions_ui(ui, cx, state),
        View::HeadTail => headtail::headtail_ui(ui, cx, state),
        View::Loss => loss::loss_ui(ui, cx, state),
        View::Gradient => gradient::gradient_ui(ui, cx, state),
        View::Landscape => landscape::landscape_ui(ui, cx, state),
        View::AbPlane => abplane::abplane_ui(ui, cx, state),
        View::Assistant => assistant::assistant_ui(ui, cx, state),
        View::Contours => contours::contours_ui(ui, cx, state),
        View::Sees => sees::sees_ui(ui, cx, state),
    })
}

/// The text of the epoch stamp every view carries: `epoch 10 / 800`; when `view` draws q, the fit kept
/// q only at some epochs (a big fit's thinned store) and not at this one, also the epoch whose q is
/// drawn: `epoch 537 / 200000 · q of epoch 512, the nearest kept`.
pub fn epoch_stamp(cx: &ViewCtx, view: View) -> String {
    let stamp = format!("epoch {} / {}", cx.epoch, cx.last_epoch());
    let shown = cx
        .result
        .runs
        .first()
        .filter(|_| view.reads_q())
        .and_then(|r| analysis::kept_epoch(r, cx.epoch));
    match shown {
        Some(e) if e != cx.epoch => {
            format!("{stamp} · q of epoch {e}, the nearest kept")
        }
        _ => stamp,
    }
}

/// The row above every view: in the app the zoom/pan switch (and "reset view" while it is on) at the
/// left; the epoch stamp at the right, in the app, in figures and in every animation frame. Returns
/// how the view's plots react to the pointer.
fn header_ui(
    ui: &mut egui::Ui,
    cx: &ViewCtx,
    view: View,
    state: &mut ToyState,
) -> common::Interaction {
    let mut interaction = common::Interaction::default();
    ui.horizontal(|ui| {
        if !cx.figure {
            let plots = &mut state.plots;
            let toggled = ui
                .checkbox(&mut plots.zoom_pan, "zoom/pan")
                .on_hover_text(
                    "On: drag pans a plot, Ctrl+wheel or a pinch zooms, right-drag zooms to a box, \
                     double-click resets. Off: plots stay put (a click still picks the epoch).",
                )
                .changed();
            let reset = plots.zoom_pan
                && ui
                    .button("reset view")
                    .on_hover_text("back to the axes that fit the data")
                    .clicked();
            interaction = common::Interaction {
                zoom_pan: plots.zoom_pan,
                // Turning zoom/pan off also puts every plot back to its own axes.
                reset: reset || (toggled && !plots.zoom_pan),
            };
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(egui::RichText::new(epoch_stamp(cx, view)).strong())
                .on_hover_text(
                    "the epoch shown / the last epoch of the fit (a fit too big to keep the \
                     student at every epoch keeps it at evenly and log-spaced epochs: the views \
                     then draw the nearest kept one)",
                );
        });
    });
    interaction
}
