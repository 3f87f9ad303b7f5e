//! Play / pause / step / reset, speed, and the epoch scrubber. In log time (the default) Play moves
//! at a constant pace in log(1 + epoch) and the scrubber is scaled the same way, so that the first
//! epochs, where head and tail part ways, take seconds and most of the track; the config's snapshot
//! epochs are marked on the track.

use crate::views::state::ToyState;
use egui::{Align2, FontId, Pos2, Rect, Sense, Stroke, Ui, Vec2};

/// Advances the epoch while playing; `dt` is the frame time in seconds and `carry` the fraction of
/// an epoch played but not shown yet. Returns true while animating.
pub fn advance(state: &mut ToyState, carry: &mut f32, dt: f32, last_epoch: usize) -> bool {
    if !state.playing {
        *carry = 0.0;
        return false;
    }
    let at = state.epoch as f64 + *carry as f64;
    let next = if state.log_time {
        let rate = (last_epoch as f64).ln_1p() / state.play_seconds.max(0.1) as f64;
        ((at.ln_1p() + rate * dt as f64).exp() - 1.0).max(at)
    } else {
        at + (dt * state.speed) as f64
    };
    let next = next.min(last_epoch as f64);
    // Rounding error must not hold an epoch back (20 × 0.05 s at 20 epochs/s is epoch 20).
    let whole = (next + 1e-6).floor();
    state.epoch = whole as usize;
    *carry = (next - whole).max(0.0) as f32;
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

pub fn timeline_ui(ui: &mut Ui, state: &mut ToyState, last_epoch: usize) {
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
        ui.checkbox(&mut state.log_time, "log time").on_hover_text(
            "Play at a constant pace in log(1 + epoch) and scale the track the same way: the \
             early epochs, where most changes, get most of the time",
        );
        if state.log_time {
            ui.add(
                egui::Slider::new(&mut state.play_seconds, 2.0..=120.0)
                    .logarithmic(true)
                    .max_decimals(0)
                    .text("s per run"),
            );
        } else {
            ui.add(
                egui::Slider::new(&mut state.speed, 1.0..=500.0)
                    .logarithmic(true)
                    .text("epochs/s"),
            );
        }
        ui.separator();
        let marks = state.config.snapshots.clone();
        let width = (ui.available_width() - 140.0).max(120.0);
        scrubber_ui(ui, state, last_epoch, &marks, width);
        ui.add(
            egui::DragValue::new(&mut state.epoch)
                .range(0..=last_epoch)
                .speed(0.25),
        )
        .on_hover_text("the epoch shown (type a number, or drag)");
        ui.label(format!("/ {last_epoch}"));
    });
}

/// Where `epoch` sits along the track, 0 to 1.
pub fn track_position(epoch: f64, last_epoch: usize, log: bool) -> f64 {
    let last = last_epoch.max(1) as f64;
    let e = epoch.clamp(0.0, last);
    if log {
        e.ln_1p() / last.ln_1p()
    } else {
        e / last
    }
}

/// The epoch at position `t` (0 to 1) along the track.
pub fn epoch_at(t: f64, last_epoch: usize, log: bool) -> usize {
    let last = last_epoch.max(1) as f64;
    let t = t.clamp(0.0, 1.0);
    let e = if log {
        (t * last.ln_1p()).exp() - 1.0
    } else {
        t * last
    };
    (e.round() as usize).min(last_epoch)
}

/// Round epochs to label the track with: 1-2-5 steps in log time, even steps in linear time.
fn ticks(last_epoch: usize, log: bool) -> Vec<usize> {
    if log {
        let mut out = vec![0];
        let mut decade = 1;
        while decade <= last_epoch {
            out.extend(
                [decade, 2 * decade, 5 * decade]
                    .into_iter()
                    .filter(|&e| e <= last_epoch),
            );
            decade *= 10;
        }
        out
    } else {
        // A 1-2-5 step giving at most about eight intervals.
        let rough = (last_epoch as f64 / 8.0).max(1.0);
        let decade = 10f64.powf(rough.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * decade)
            .find(|&s| s >= rough)
            .unwrap_or(rough) as usize;
        (0..=last_epoch).step_by(step).collect()
    }
}

/// The epoch track: a handle to drag, round epochs below, the snapshot epochs marked above (click
/// one to go there). Screen readers see a slider called "epoch".
fn scrubber_ui(ui: &mut Ui, state: &mut ToyState, last_epoch: usize, marks: &[usize], width: f32) {
    let height = 38.0;
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(width, height), Sense::click_and_drag());
    let id = response.id;
    let pad = 10.0;
    let track = Rect::from_min_max(
        Pos2::new(rect.left() + pad, rect.top() + 16.0),
        Pos2::new(rect.right() - pad, rect.top() + 20.0),
    );
    let log = state.log_time;
    let x_of = |e: f64| track.left() + track.width() * track_position(e, last_epoch, log) as f32;
    if let Some(pos) = response.interact_pointer_pos()
        && (response.dragged() || response.clicked() || response.is_pointer_button_down_on())
    {
        let t = ((pos.x - track.left()) / track.width()) as f64;
        // A press near a snapshot mark snaps to it.
        let snapped = marks
            .iter()
            .copied()
            .filter(|&m| m <= last_epoch)
            .find(|&m| (x_of(m as f64) - pos.x).abs() <= 5.0 && pos.y < track.top());
        state.epoch = snapped.unwrap_or_else(|| epoch_at(t, last_epoch, log));
        state.playing = false;
    }
    if let Some(value) = ui.input(|i| {
        i.accesskit_action_requests(id, egui::accesskit::Action::SetValue)
            .filter_map(|r| match r.data {
                Some(egui::accesskit::ActionData::NumericValue(v)) => Some(v),
                _ => None,
            })
            .last()
    }) {
        state.epoch = (value.max(0.0).round() as usize).min(last_epoch);
        state.playing = false;
    }
    response.widget_info(|| egui::WidgetInfo::slider(ui.is_enabled(), state.epoch as f64, "epoch"));
    ui.ctx().accesskit_node_builder(id, |b| {
        b.set_min_numeric_value(0.0);
        b.set_max_numeric_value(last_epoch as f64);
        b.add_action(egui::accesskit::Action::SetValue);
    });

    let visuals = ui.visuals();
    let painter = ui.painter_at(rect);
    let weak = visuals.weak_text_color();
    let accent = visuals.selection.bg_fill;
    painter.rect_filled(track, 2.0, visuals.widgets.inactive.bg_fill);
    let at = x_of(state.epoch as f64);
    painter.rect_filled(
        Rect::from_min_max(track.min, Pos2::new(at, track.max.y)),
        2.0,
        accent,
    );
    let small = FontId::proportional(12.5);
    let mut last_label = f32::NEG_INFINITY;
    for e in ticks(last_epoch, log) {
        let x = x_of(e as f64);
        painter.line_segment(
            [
                Pos2::new(x, track.bottom()),
                Pos2::new(x, track.bottom() + 4.0),
            ],
            Stroke::new(1.0, weak),
        );
        // Labels that would touch the previous one are left out.
        if x - last_label > 26.0 {
            painter.text(
                Pos2::new(x, track.bottom() + 5.0),
                Align2::CENTER_TOP,
                e.to_string(),
                small.clone(),
                weak,
            );
            last_label = x;
        }
    }
    let mark_color = ui.visuals().strong_text_color();
    for &m in marks.iter().filter(|&&m| m <= last_epoch) {
        let x = x_of(m as f64);
        let tip = Pos2::new(x, track.top() - 1.0);
        painter.add(egui::Shape::convex_polygon(
            vec![tip, tip + Vec2::new(-4.0, -6.0), tip + Vec2::new(4.0, -6.0)],
            mark_color,
            Stroke::NONE,
        ));
        // Right of the mark, or left of it where the label would leave the track.
        let text = m.to_string();
        let width = painter
            .layout_no_wrap(text.clone(), small.clone(), mark_color)
            .size()
            .x;
        let (offset, align) = if x + 6.0 + width > rect.right() {
            (Vec2::new(-6.0, -13.0), Align2::RIGHT_TOP)
        } else {
            (Vec2::new(6.0, -13.0), Align2::LEFT_TOP)
        };
        painter.text(tip + offset, align, text, small.clone(), mark_color);
    }
    painter.circle(
        Pos2::new(at, track.center().y),
        7.0,
        visuals.widgets.active.bg_fill,
        Stroke::new(1.5, visuals.widgets.active.fg_stroke.color),
    );
    if response.hovered() && !response.dragged() {
        response.on_hover_text(format!(
            "epoch {} of {last_epoch}: drag or click; the marks above the track are the snapshot epochs{}",
            state.epoch,
            if log { " (log scale)" } else { "" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_time_gives_the_first_epochs_most_of_the_track_and_of_the_play() {
        // fig3: 800 epochs; epochs 0..30 are half the track in log time, 4 % in linear time.
        assert!((track_position(30.0, 800, true) - 31f64.ln() / 801f64.ln()).abs() < 1e-12);
        assert!(track_position(30.0, 800, true) > 0.5);
        assert!((track_position(30.0, 800, false) - 0.0375).abs() < 1e-12);
        for e in [0, 1, 5, 10, 300, 800] {
            assert_eq!(epoch_at(track_position(e as f64, 800, true), 800, true), e);
            assert_eq!(
                epoch_at(track_position(e as f64, 800, false), 800, false),
                e
            );
        }
        // Playing 12 s per run, epochs 0..30 take 12 · ln 31 / ln 801 = 6.2 s (linear at 20
        // epochs/s: 1.5 s).
        let mut state = ToyState {
            epoch: 0,
            playing: true,
            ..Default::default()
        };
        let mut carry = 0.0;
        let mut t = 0.0;
        while state.epoch < 30 {
            advance(&mut state, &mut carry, 0.01, 800);
            t += 0.01;
        }
        assert!((t - 12.0 * 31f64.ln() / 801f64.ln()).abs() < 0.05, "{t}");
        // And the whole run takes the chosen 12 s.
        while state.playing {
            advance(&mut state, &mut carry, 0.01, 800);
            t += 0.01;
        }
        assert!((t - 12.0).abs() < 0.05, "{t}");
        assert_eq!(state.epoch, 800);
    }

    #[test]
    fn linear_time_plays_at_the_chosen_speed() {
        let mut state = ToyState {
            log_time: false,
            speed: 20.0,
            epoch: 0,
            playing: true,
            ..Default::default()
        };
        let mut carry = 0.0;
        for _ in 0..100 {
            advance(&mut state, &mut carry, 0.01, 800);
        }
        assert_eq!(state.epoch, 20);
    }

    #[test]
    fn ticks_are_round_epochs_within_the_run() {
        assert_eq!(ticks(800, true), [0, 1, 2, 5, 10, 20, 50, 100, 200, 500]);
        assert_eq!(
            ticks(800, false),
            [0, 100, 200, 300, 400, 500, 600, 700, 800]
        );
    }
}
