//! Play / pause / step / reset, speed, and the epoch scrubber.

use crate::views::state::ToyState;

/// Advances the epoch while playing; `dt` is the frame time in seconds. Returns true while animating.
pub fn advance(state: &mut ToyState, carry: &mut f32, dt: f32, last_epoch: usize) -> bool {
    if !state.playing {
        *carry = 0.0;
        return false;
    }
    *carry += dt * state.speed;
    let steps = carry.floor();
    *carry -= steps;
    state.epoch = (state.epoch + steps as usize).min(last_epoch);
    if state.epoch >= last_epoch {
        state.playing = false;
    }
    true
}

/// Keyboard: space play/pause, arrows step, Home back to epoch 0, End to the last epoch.
pub fn keys(ctx: &egui::Context, state: &mut ToyState, last_epoch: usize) {
    if ctx.egui_wants_keyboard_input() {
        return; // typing in a text field
    }
    ctx.input(|i| {
        if i.key_pressed(egui::Key::Space) {
            toggle_play(state, last_epoch);
        }
        if i.key_pressed(egui::Key::ArrowRight) {
            state.playing = false;
            state.epoch = (state.epoch + 1).min(last_epoch);
        }
        if i.key_pressed(egui::Key::ArrowLeft) {
            state.playing = false;
            state.epoch = state.epoch.saturating_sub(1);
        }
        if i.key_pressed(egui::Key::Home) {
            state.playing = false;
            state.epoch = 0;
        }
        if i.key_pressed(egui::Key::End) {
            state.playing = false;
            state.epoch = last_epoch;
        }
    });
}

fn toggle_play(state: &mut ToyState, last_epoch: usize) {
    if !state.playing && state.epoch >= last_epoch {
        state.epoch = 0; // play again from the start
    }
    state.playing = !state.playing;
}

pub fn timeline_ui(ui: &mut egui::Ui, state: &mut ToyState, last_epoch: usize) {
    ui.horizontal(|ui| {
        if ui
            .button("|<")
            .on_hover_text("reset to epoch 0 (Home)")
            .clicked()
        {
            state.playing = false;
            state.epoch = 0;
        }
        if ui
            .button("<")
            .on_hover_text("step back (left arrow)")
            .clicked()
        {
            state.playing = false;
            state.epoch = state.epoch.saturating_sub(1);
        }
        let label = if state.playing { "pause" } else { "play" };
        if ui.button(label).on_hover_text("space").clicked() {
            toggle_play(state, last_epoch);
        }
        if ui
            .button(">")
            .on_hover_text("step forward (right arrow)")
            .clicked()
        {
            state.playing = false;
            state.epoch = (state.epoch + 1).min(last_epoch);
        }
        ui.add(
            egui::Slider::new(&mut state.speed, 1.0..=500.0)
                .logarithmic(true)
                .text("epochs/s"),
        );
        ui.separator();
        ui.spacing_mut().slider_width = (ui.available_width() - 120.0).max(100.0);
        ui.add(egui::Slider::new(&mut state.epoch, 0..=last_epoch.max(1)).text("epoch"));
    });
}
