//! Presenter mode: the side panels, top bar and status bar go away, the views (and the caption or
//! lesson step) fill the window, and everything is drawn larger for a projector. The scale is egui's
//! zoom factor, so Ctrl+= / Ctrl+- adjust it as usual; the one chosen while presenting is kept
//! (between sessions too) and the normal zoom comes back on leaving.

use serde::{Deserialize, Serialize};

/// egui's body text is 13 points; at this zoom it is 20.8 px on a 1920×1080 screen at 1 pixel per
/// point, readable from the back of a lecture room.
pub const DEFAULT_ZOOM: f32 = 1.6;
/// The range a presenter's zoom is kept in (egui itself allows 0.2 to 5): never below 20 px body
/// text.
pub const ZOOM_RANGE: std::ops::RangeInclusive<f32> = (20.0 / 13.0)..=3.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Presenter {
    /// True while presenting.
    pub on: bool,
    /// The zoom factor used while presenting.
    pub zoom: f32,
    /// The zoom factor to return to.
    pub normal_zoom: f32,
    /// Set on the frame presenter mode is entered: egui applies a new zoom only at the next frame.
    #[serde(skip)]
    entering: bool,
    /// After a restart in presenter mode: the normal zoom to go back to on the first frame (egui
    /// has restored the presenter's zoom with its memory).
    #[serde(skip)]
    pending_normal: Option<f32>,
}

impl Default for Presenter {
    fn default() -> Self {
        Presenter {
            on: false,
            zoom: DEFAULT_ZOOM,
            normal_zoom: 1.0,
            entering: false,
            pending_normal: None,
        }
    }
}

impl Presenter {
    pub fn toggle(&mut self, ctx: &egui::Context) {
        if self.on {
            self.leave(ctx);
        } else {
            self.enter(ctx);
        }
    }

    pub fn enter(&mut self, ctx: &egui::Context) {
        if self.on {
            return;
        }
        self.normal_zoom = self
            .pending_normal
            .take()
            .unwrap_or_else(|| ctx.zoom_factor());
        ctx.set_zoom_factor(self.zoom);
        self.on = true;
        self.entering = true;
    }

    pub fn leave(&mut self, ctx: &egui::Context) {
        if !self.on {
            return;
        }
        ctx.set_zoom_factor(self.normal_zoom);
        self.on = false;
        self.entering = false;
    }

    /// Called at the start of every frame: a zoom changed while presenting (Ctrl+= / Ctrl+-)
    /// becomes the presenter's zoom.
    pub fn track(&mut self, ctx: &egui::Context) {
        if let Some(z) = self.pending_normal.take() {
            ctx.set_zoom_factor(z);
        }
        if self.on && !self.entering {
            let z = ctx.zoom_factor();
            if z != self.zoom {
                self.zoom = z.clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end());
                if self.zoom != z {
                    ctx.set_zoom_factor(self.zoom);
                }
            }
        }
        self.entering = false;
    }

    /// After a restart the app opens in normal mode, at the zoom presenter mode left (from the
    /// first frame on; `enter` before it keeps presenting).
    pub fn restored(mut self) -> Self {
        if self.on {
            self.pending_normal = Some(self.normal_zoom);
            self.on = false;
        }
        if !(self.zoom.is_finite() && ZOOM_RANGE.contains(&self.zoom)) {
            self.zoom = DEFAULT_ZOOM;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame of an empty UI, so that egui applies a requested zoom.
    fn frame(ctx: &egui::Context) {
        ctx.run_ui(egui::RawInput::default(), |_| {})
            .textures_delta
            .clear();
    }

    #[test]
    fn enter_zooms_and_leave_restores_and_the_zoom_is_kept() {
        let ctx = egui::Context::default();
        frame(&ctx);
        let mut p = Presenter::default();
        p.enter(&ctx);
        p.track(&ctx); // the same frame: the old zoom still shows, and must not be taken
        frame(&ctx);
        p.track(&ctx);
        assert_eq!(ctx.zoom_factor(), DEFAULT_ZOOM);
        assert!(p.on);
        // Ctrl+= while presenting: the new zoom is the presenter's from now on.
        ctx.set_zoom_factor(2.0);
        frame(&ctx);
        p.track(&ctx);
        assert_eq!(p.zoom, 2.0);
        p.leave(&ctx);
        frame(&ctx);
        assert_eq!(ctx.zoom_factor(), 1.0);
        p.toggle(&ctx);
        frame(&ctx);
        assert_eq!(ctx.zoom_factor(), 2.0);
        // Saved while presenting, restored in normal mode at the normal zoom.
        let mut again = p.clone().restored();
        again.track(&ctx);
        frame(&ctx);
        assert!(!again.on);
        assert_eq!(ctx.zoom_factor(), 1.0);
        assert_eq!(again.zoom, 2.0);
        // Ctrl+- stops at 20 px body text.
        let mut small = Presenter::default();
        small.enter(&ctx);
        small.track(&ctx);
        frame(&ctx);
        ctx.set_zoom_factor(1.2);
        frame(&ctx);
        small.track(&ctx);
        frame(&ctx);
        assert_eq!(small.zoom, 20.0 / 13.0);
        assert_eq!(ctx.zoom_factor(), 20.0 / 13.0);
        small.leave(&ctx);
        frame(&ctx);
        // ... unless presenter mode is asked for before the first frame (kdviz app --present):
        // egui has restored the presenter's zoom, which stays, and Esc goes back to the normal one.
        ctx.set_zoom_factor(2.0);
        frame(&ctx);
        let mut again = p.clone().restored();
        again.enter(&ctx);
        again.track(&ctx);
        frame(&ctx);
        assert_eq!(ctx.zoom_factor(), 2.0);
        again.leave(&ctx);
        frame(&ctx);
        assert_eq!(ctx.zoom_factor(), 1.0);
    }

    #[test]
    fn projection_text_is_at_least_20_px() {
        let ctx = egui::Context::default();
        let body = ctx.global_style().text_styles[&egui::TextStyle::Body].size;
        assert!(body * DEFAULT_ZOOM >= 20.0, "{body} × {DEFAULT_ZOOM}");
    }
}
