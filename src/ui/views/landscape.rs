//! Placeholder until the view is written.

use super::ViewCtx;
use crate::ui::state::ToyState;

pub fn landscape_ui(ui: &mut egui::Ui, _cx: &ViewCtx, _state: &mut ToyState) {
    ui.label("this view is not built yet");
}
