//! Undo and redo of settings: a bounded history of whole states.
//!
//! The toy tab hands [`History::observe`] its settings after every frame. A change becomes one step
//! once the pointer is released, so a slider drag or a drawing stroke, however many frames it spans,
//! is undone in one go. The history keeps whole states rather than edits: every setting, present
//! and future, is covered without an edit type per control.

use crate::views::state::{Theme, ToyState};
use std::collections::VecDeque;

/// How many steps back the toy tab can go.
pub const LIMIT: usize = 100;

/// Past and undone states around the current one.
#[derive(Debug, Clone)]
pub struct History<T> {
    /// The state the last step left (what a new change is compared with).
    current: T,
    /// Older states, the most recent last; at most `limit`.
    undo: VecDeque<T>,
    /// Undone states, the most recently undone last.
    redo: Vec<T>,
    limit: usize,
}

impl<T: Clone + PartialEq> History<T> {
    pub fn new(initial: T, limit: usize) -> Self {
        History {
            current: initial,
            undo: VecDeque::new(),
            redo: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// Notes the state after a frame. A change becomes a step when `settled` (no pointer held); a
    /// new step clears what was undone. Returns true when a step was added.
    pub fn observe(&mut self, state: &T, settled: bool) -> bool {
        if !settled || *state == self.current {
            return false;
        }
        let before = std::mem::replace(&mut self.current, state.clone());
        self.undo.push_back(before);
        if self.undo.len() > self.limit {
            self.undo.pop_front();
        }
        self.redo.clear();
        true
    }

    /// The state before the last step, given the state now (a change not settled yet counts as a
    /// step of its own first); `None` when there is nothing to undo.
    pub fn undo(&mut self, state: &T) -> Option<T> {
        self.observe(state, true);
        let before = self.undo.pop_back()?;
        self.redo
            .push(std::mem::replace(&mut self.current, before.clone()));
        Some(before)
    }

    /// The state the last undo left, given the state now; `None` when there is nothing to redo or a
    /// change since the undo made a new step.
    pub fn redo(&mut self, state: &T) -> Option<T> {
        self.observe(state, true);
        let after = self.redo.pop()?;
        self.undo
            .push_back(std::mem::replace(&mut self.current, after.clone()));
        Some(after)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Steps that can be undone.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }
}

/// What undo restores of the toy tab: every setting (teacher, student, divergences, optimiser,
/// epochs, metrics) and view option. The scrubber's epoch, playback and the theme are left out:
/// moving through time is not a change of settings.
pub fn settings(state: &ToyState) -> ToyState {
    let mut s = state.clone();
    s.epoch = 0;
    s.playing = false;
    s.theme = Theme::Light;
    s
}

/// Puts `settings` in place, keeping the epoch, playback and theme of `state`.
pub fn restore(state: &mut ToyState, settings: ToyState) {
    let (epoch, playing, theme) = (state.epoch, state.playing, state.theme);
    *state = settings;
    state.epoch = epoch;
    state.playing = playing;
    state.theme = theme;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History<i32> {
        History::new(0, 3)
    }

    #[test]
    fn a_settled_change_is_one_step() {
        let mut h = history();
        assert!(!h.observe(&0, true), "no change, no step");
        assert!(!h.observe(&1, false), "pointer held: not yet");
        assert!(!h.observe(&2, false));
        assert!(h.observe(&3, true), "released: one step for the whole drag");
        assert_eq!(h.undo_len(), 1);
        assert_eq!(h.undo(&3), Some(0));
        assert!(!h.can_undo());
    }

    #[test]
    fn undo_then_redo_walks_back_and_forth() {
        let mut h = history();
        h.observe(&1, true);
        h.observe(&2, true);
        assert_eq!(h.undo(&2), Some(1));
        assert_eq!(h.undo(&1), Some(0));
        assert_eq!(h.undo(&0), None);
        assert_eq!(h.redo(&0), Some(1));
        assert_eq!(h.redo(&1), Some(2));
        assert_eq!(h.redo(&2), None);
        assert_eq!(h.undo(&2), Some(1));
    }

    #[test]
    fn a_new_change_clears_redo() {
        let mut h = history();
        h.observe(&1, true);
        assert_eq!(h.undo(&1), Some(0));
        assert!(h.can_redo());
        assert!(h.observe(&5, true));
        assert!(!h.can_redo());
        assert_eq!(h.redo(&5), None);
        assert_eq!(h.undo(&5), Some(0));
    }

    /// Undo in the middle of a drag first makes the drag a step, then undoes it.
    #[test]
    fn an_unsettled_change_is_undone_as_a_step() {
        let mut h = history();
        h.observe(&1, true);
        h.observe(&7, false);
        assert_eq!(h.undo(&7), Some(1));
        assert_eq!(h.redo(&1), Some(7));
        // A redo while a newer change is pending: the change wins, nothing to redo.
        assert_eq!(h.undo(&7), Some(1));
        assert_eq!(h.redo(&9), None);
        assert_eq!(h.undo(&9), Some(1));
    }

    #[test]
    fn the_history_is_bounded() {
        let mut h = history();
        for v in 1..=10 {
            h.observe(&v, true);
        }
        assert_eq!(h.undo_len(), 3);
        assert_eq!(h.undo(&10), Some(9));
        assert_eq!(h.undo(&9), Some(8));
        assert_eq!(h.undo(&8), Some(7));
        assert_eq!(h.undo(&7), None, "older steps were dropped");
    }

    #[test]
    fn settings_leave_out_time_and_theme() {
        let mut a = ToyState::default();
        let mut b = a.clone();
        b.epoch = a.epoch + 5;
        b.playing = !a.playing;
        b.theme = Theme::Dark;
        assert_eq!(settings(&a), settings(&b));
        b.config.epochs += 1;
        assert_ne!(settings(&a), settings(&b));
        let mut kept = b.clone();
        restore(&mut kept, settings(&a));
        assert_eq!(kept.config, a.config);
        assert_eq!(
            (kept.epoch, kept.playing, kept.theme),
            (b.epoch, b.playing, b.theme)
        );
        a.dist.log_y = !a.dist.log_y;
        assert_ne!(
            settings(&a),
            settings(&ToyState::default()),
            "view options count"
        );
    }
}
