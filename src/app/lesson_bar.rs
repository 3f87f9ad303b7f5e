//! Lessons in the app: the Lessons menu, the lesson bar above the views (title, step n / N, the
//! caption, previous / next, leave), the keys that move between steps, and the playing of each step's
//! setup through the toy tab's own config path (`ToyState::apply_config` / `apply_hints`).

use crate::app::Mode;
use crate::app::presenter::Presenter;
use crate::app::real_tab::RealTab;
use crate::app::toy_tab::ToyTab;
use crate::figure::caption::{Caption, caption_ui};
use crate::math::practice::Loss;
use crate::toy::lesson::{self, Lesson, RealStep, Step, Tab};
use crate::views::state::{Slot, ToyState};
use egui::{Key, RichText};
use serde::{Deserialize, Serialize};

/// The step buttons' labels (egui's built-in fonts have « and », not the arrows ◀ ▶).
pub const PREVIOUS: &str = "« Previous";
pub const NEXT: &str = "Next »";
/// The button that leaves the lesson (tests click it).
pub const LEAVE: &str = "Leave lesson";

/// Caption text size in the lesson bar, in points (the presenter's zoom scales it further).
pub const CAPTION_SIZE: f32 = 19.0;
/// A preset's description above the views.
pub const PRESET_CAPTION_SIZE: f32 = 15.0;

/// Where the learner is: kept between sessions, so a lesson can be left and resumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub lesson: String,
    /// From 0.
    pub step: usize,
    /// False once the lesson is left; "Resume" opens it again at `step`.
    pub open: bool,
}

/// What the menu, the bar or the keys ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A lesson at a step (from 0).
    Open(String, usize),
    Resume,
    Next,
    Previous,
    Leave,
}

/// What a step does once its fit has arrived: show its epoch (the timeline's slider clamps the
/// epoch to the fit on show until then), or play its epochs from the first to the last.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anim {
    from: usize,
    to: usize,
    /// How long the animation takes; None: no animation, only the epoch `from` to show.
    seconds: Option<f32>,
    /// The timeline's paces to give back when the animation ends.
    old_speed: f32,
    old_play_seconds: f32,
    started: bool,
}

/// The lessons and where the learner is in them.
pub struct LessonPlayer {
    lessons: Vec<Lesson>,
    /// A built-in lesson that failed its checks (a build error the tests catch).
    load_error: Option<String>,
    pub progress: Option<Progress>,
    anim: Option<Anim>,
    /// Why the last step could not be shown.
    error: Option<String>,
}

impl Default for LessonPlayer {
    fn default() -> Self {
        let (lessons, load_error) = match lesson::all() {
            Ok(l) => (l, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        LessonPlayer {
            lessons,
            load_error,
            progress: None,
            anim: None,
            error: None,
        }
    }
}

impl LessonPlayer {
    pub fn lessons(&self) -> &[Lesson] {
        &self.lessons
    }

    /// The open lesson and the index of its step.
    pub fn current(&self) -> Option<(&Lesson, usize)> {
        let p = self.progress.as_ref().filter(|p| p.open)?;
        let l = self.lessons.iter().find(|l| l.name == p.lesson)?;
        Some((l, p.step.min(l.steps.len().saturating_sub(1))))
    }

    pub fn is_open(&self) -> bool {
        self.current().is_some()
    }

    /// The step on show, if a lesson is open.
    pub fn step(&self) -> Option<&Step> {
        let (l, i) = self.current()?;
        l.steps.get(i)
    }

    /// True while a step's animation is waiting for its fit or playing.
    pub fn animating(&self) -> bool {
        self.anim.is_some_and(|a| a.seconds.is_some())
    }

    /// The left lesson that "Resume" would reopen, with its step index.
    fn resumable(&self) -> Option<(&Lesson, usize)> {
        let p = self.progress.as_ref().filter(|p| !p.open)?;
        let l = self.lessons.iter().find(|l| l.name == p.lesson)?;
        Some((l, p.step.min(l.steps.len().saturating_sub(1))))
    }

    /// PageDown / PageUp, and the Right / Left arrows without modifiers, while a lesson is open. The arrows are taken
    /// out of the input so the timeline does not also step the epoch (Shift+arrows still do).
    pub fn keys(&self, ctx: &egui::Context) -> Option<Action> {
        if !self.is_open() || ctx.egui_wants_keyboard_input() {
            return None;
        }
        ctx.input_mut(|i| {
            let mut action = None;
            i.events.retain(|e| match e {
                egui::Event::Key {
                    key,
                    pressed,
                    modifiers,
                    ..
                } if modifiers.is_none() => {
                    let a = match key {
                        Key::PageDown | Key::ArrowRight => Action::Next,
                        Key::PageUp | Key::ArrowLeft => Action::Previous,
                        _ => return true,
                    };
                    if *pressed {
                        action = Some(a);
                    }
                    false
                }
                _ => true,
            });
            action
        })
    }

    /// Carries out an action: moves through the lessons and shows the step reached.
    pub fn act(
        &mut self,
        action: Action,
        toy: &mut ToyTab,
        real: &mut RealTab,
        mode: &mut Mode,
        ctx: &egui::Context,
    ) {
        let moved = match action {
            Action::Open(name, step) => {
                if let Some(l) = self.lessons.iter().find(|l| l.name == name) {
                    self.progress = Some(Progress {
                        lesson: name,
                        step: step.min(l.steps.len().saturating_sub(1)),
                        open: true,
                    });
                    true
                } else {
                    self.error = Some(format!("unknown lesson {name:?}"));
                    false
                }
            }
            Action::Resume => match self.progress.as_mut() {
                Some(p) if !p.open => {
                    p.open = true;
                    true
                }
                _ => false,
            },
            Action::Next | Action::Previous => {
                let len = self.current().map_or(0, |(l, _)| l.steps.len());
                match self.progress.as_mut().filter(|p| p.open) {
                    Some(p) if action == Action::Next && p.step + 1 < len => {
                        p.step += 1;
                        true
                    }
                    Some(p) if action == Action::Previous && p.step > 0 => {
                        p.step -= 1;
                        true
                    }
                    _ => false,
                }
            }
            Action::Leave => {
                if let Some(p) = self.progress.as_mut() {
                    p.open = false;
                }
                self.stop_anim(toy);
                self.error = None;
                false
            }
        };
        if moved {
            self.show_step(toy, real, mode, ctx);
        }
    }

    /// Sets up the step on show: its config and views in the toy tab (or the real-model tab's
    /// students), and its animation.
    fn show_step(
        &mut self,
        toy: &mut ToyTab,
        real: &mut RealTab,
        mode: &mut Mode,
        ctx: &egui::Context,
    ) {
        self.stop_anim(toy);
        self.error = None;
        let Some(step) = self.step().cloned() else {
            return;
        };
        match (&step.real, step.tab) {
            (Some(r), Tab::Real) => {
                *mode = Mode::Real;
                if let Err(e) = set_up_real(r, real, ctx) {
                    self.error = Some(e);
                }
            }
            _ => match step.fit_config() {
                Ok(cfg) => {
                    *mode = Mode::Toy;
                    let state = &mut toy.state;
                    let mut errors = state.apply_config(cfg);
                    errors.extend(state.apply_hints());
                    self.error = errors.first().cloned();
                    let (from, to) = match step.animate {
                        Some([from, to]) => (from, to),
                        None => (state.epoch, state.epoch),
                    };
                    state.epoch = from;
                    state.playing = false;
                    self.anim = Some(Anim {
                        from,
                        to,
                        seconds: step.play_seconds(),
                        old_speed: state.speed,
                        old_play_seconds: state.play_seconds,
                        started: false,
                    });
                }
                Err(e) => self.error = Some(e),
            },
        }
    }

    fn stop_anim(&mut self, toy: &mut ToyTab) {
        if let Some(a) = self.anim.take() {
            toy.state.speed = a.old_speed;
            toy.state.play_seconds = a.old_play_seconds;
            if a.started {
                toy.state.playing = false;
            }
        }
    }

    /// After the timeline has moved: once the step's fit is in, shows its epoch or starts its
    /// animation; stops the animation at its last epoch. A pause by the user ends it where it is.
    pub fn drive(&mut self, toy: &mut ToyTab) {
        let Some(a) = self.anim.as_mut() else {
            return;
        };
        if !a.started {
            toy.refit_if_changed();
            if !toy.is_fitting() && toy.result().is_some() {
                toy.state.epoch = a.from;
                match a.seconds {
                    Some(seconds) => {
                        let last = toy.last_epoch();
                        set_pace(&mut toy.state, a.from, a.to, last, seconds);
                        toy.state.playing = true;
                        a.started = true;
                    }
                    None => self.anim = None,
                }
            }
            return;
        }
        let done = toy.state.epoch >= a.to;
        if done || !toy.state.playing {
            if done {
                toy.state.epoch = a.to;
            }
            self.stop_anim(toy);
        }
    }

    /// The Lessons menu's entries: every lesson (its summary as the tooltip), resume, leave.
    pub fn menu_ui(&self, ui: &mut egui::Ui) -> Option<Action> {
        let mut action = None;
        if let Some(e) = &self.load_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        for l in &self.lessons {
            let text = format!("{}  ({} steps)", l.title, l.steps.len());
            if ui.button(text).on_hover_text(&l.summary).clicked() {
                action = Some(Action::Open(l.name.clone(), 0));
            }
        }
        if let Some((l, i)) = self.resumable() {
            ui.separator();
            let text = format!("Resume “{}” at step {} / {}", l.title, i + 1, l.steps.len());
            if ui.button(text).clicked() {
                action = Some(Action::Resume);
            }
        }
        if self.is_open() && ui.button(LEAVE).clicked() {
            action = Some(Action::Leave);
        }
        if action.is_some() {
            ui.close();
        }
        action
    }

    /// The lesson bar: previous / next, where we are, the step's caption in large text, leave (and,
    /// while presenting, the way out of presenter mode).
    pub fn bar_ui(&self, ui: &mut egui::Ui, presenter: &mut Presenter) -> Option<Action> {
        let (l, i) = self.current()?;
        let step = &l.steps[i];
        let n = l.steps.len();
        let mut action = None;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let big = |t: &str| RichText::new(t).size(16.0);
            let prev = ui.add_enabled(i > 0, egui::Button::new(big(PREVIOUS)));
            if prev.on_hover_text("PageUp or Left arrow").clicked() {
                action = Some(Action::Previous);
            }
            let next = ui.add_enabled(i + 1 < n, egui::Button::new(big(NEXT)));
            if next.on_hover_text("PageDown or Right arrow").clicked() {
                action = Some(Action::Next);
            }
            ui.label(big(&format!("step {} / {n}", i + 1)).strong());
            ui.separator();
            ui.label(RichText::new(&l.title).size(14.0).weak());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if presenter.on && ui.button("Exit presenter (Esc)").clicked() {
                    presenter.leave(ui.ctx());
                }
                if ui
                    .button(LEAVE)
                    .on_hover_text("the Lessons menu resumes it at this step")
                    .clicked()
                {
                    action = Some(Action::Leave);
                }
            });
        });
        if action.is_some() {
            // A focused button would take the next Space (play) as a click of its own.
            ui.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
        let caption = Caption {
            context: None,
            title: Some(step.title.clone()),
            text: step.caption.clone(),
            look_at: step.highlight.clone(),
        };
        caption_ui(ui, &caption, CAPTION_SIZE);
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.add_space(2.0);
        action
    }
}

/// Sets the timeline's pace so that playing from `from` to `to` takes `seconds`: in log time (the
/// timeline's default) the seconds a whole run of `last` epochs would take, else epochs per second;
/// each within its slider's range.
pub fn set_pace(state: &mut ToyState, from: usize, to: usize, last: usize, seconds: f32) {
    let seconds = f64::from(seconds.max(0.1));
    if state.log_time {
        let span = ((to as f64).ln_1p() - (from as f64).ln_1p()).max(1e-9);
        let whole = seconds * (last.max(1) as f64).ln_1p() / span;
        state.play_seconds = whole.clamp(2.0, 120.0) as f32;
    } else {
        state.speed = ((to.saturating_sub(from)) as f64 / seconds).clamp(1.0, 500.0) as f32;
    }
}

/// The real-model tab's setup of a step: the built-in teacher and the step's students; trains them
/// unless the same setup has runs already (going back and forth does not retrain).
fn set_up_real(step: &RealStep, real: &mut RealTab, ctx: &egui::Context) -> Result<(), String> {
    let slots = step
        .divergences
        .iter()
        .map(|s| {
            s.parse::<Loss>()
                .map(|div| Slot { div, enabled: true })
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let before = real.settings.clone();
    let s = &mut real.settings;
    s.builtin = true;
    s.slots = slots;
    s.low_rank = step.rank.is_some();
    if let Some(r) = step.rank {
        s.rank = r;
    }
    s.epochs = step.epochs;
    let changed = real.settings != before;
    if step.run && (changed || (real.runs().is_empty() && !real.is_running())) {
        real.run(ctx);
    }
    Ok(())
}

/// The preset's description as a caption above the views.
pub fn preset_caption_ui(ui: &mut egui::Ui, description: &str) {
    ui.add_space(2.0);
    let caption = Caption {
        text: description.to_string(),
        ..Caption::default()
    };
    caption_ui(ui, &caption, PRESET_CAPTION_SIZE);
    ui.add_space(2.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::caption::missing_glyphs;

    #[test]
    fn the_pace_plays_the_range_in_its_seconds() {
        for log_time in [true, false] {
            let mut state = ToyState {
                log_time,
                ..ToyState::default()
            };
            set_pace(&mut state, 0, 200, 4000, 8.0);
            state.epoch = 0;
            state.playing = true;
            let mut carry = 0.0;
            let mut t = 0.0_f32;
            while state.epoch < 200 && t < 60.0 {
                crate::app::timeline::advance(&mut state, &mut carry, 0.05, 4000);
                t += 0.05;
            }
            assert!((t - 8.0).abs() < 0.2, "log time {log_time}: {t} s");
        }
    }

    #[test]
    fn the_bar_labels_can_be_drawn() {
        let text = format!("{PREVIOUS}{NEXT}{LEAVE}Resume “x” at step 1 / 2 Exit presenter (Esc)");
        assert_eq!(missing_glyphs(&text), Vec::<char>::new());
    }
}
