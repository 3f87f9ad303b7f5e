//! The help overlay (F1 or ?): every keyboard shortcut in one small window that any key, Esc or a
//! click closes.

use egui::{Key, Modifiers, RichText};

/// (keys, what they do), in the order shown.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("F1 or ?", "this list (any key or a click closes it)"),
    (
        "F5",
        "presenter mode on/off: views full window, text large enough to project",
    ),
    ("Esc", "leave presenter mode"),
    ("Space", "play / pause the epochs"),
    (
        "Right / Left arrow",
        "next / previous epoch; during a lesson: next / previous step",
    ),
    ("PageDown / PageUp", "next / previous lesson step"),
    (
        "Shift+Right / Shift+Left",
        "next / previous epoch (also during a lesson)",
    ),
    ("Home / End", "first / last epoch"),
    ("Ctrl+Z", "undo the last change of the settings (toy tab)"),
    ("Ctrl+Shift+Z or Ctrl+Y", "redo"),
    (
        "Ctrl+= / Ctrl+- / Ctrl+0",
        "zoom in / out / back to 100 % (presenter mode keeps its own zoom)",
    ),
];

/// The shortcut window's title (tests look for it).
pub const TITLE: &str = "Keyboard shortcuts";

/// True when the keys of this frame ask for the help overlay (F1, or ? typed).
pub fn requested(ctx: &egui::Context) -> bool {
    ctx.input_mut(|i| {
        let f1 = i.consume_key(Modifiers::NONE, Key::F1);
        let question = i.consume_key(Modifiers::NONE, Key::Questionmark);
        let typed = i
            .events
            .iter()
            .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
        f1 || question || typed
    })
}

/// While the overlay is open, at the start of a frame (before any other key is read): any key press
/// or click closes it, and the key does nothing else (the arrow that closes it does not also move
/// the lesson or the epoch on).
pub fn dismissed(ctx: &egui::Context) -> bool {
    ctx.input_mut(|i| {
        let key = i
            .events
            .iter()
            .any(|e| matches!(e, egui::Event::Key { pressed: true, .. }));
        if key {
            i.events
                .retain(|e| !matches!(e, egui::Event::Key { .. } | egui::Event::Text(_)));
        }
        key || i.pointer.any_click()
    })
}

/// Shows the overlay while `open` ([`dismissed`] closes it).
pub fn help_ui(ctx: &egui::Context, open: bool) {
    if !open {
        return;
    }
    egui::Window::new(TITLE)
        .collapsible(false)
        .auto_sized()
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts")
                .num_columns(2)
                .spacing([24.0, 6.0])
                .striped(true)
                .show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.label(RichText::new(*keys).strong().monospace());
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.weak("Any key or a click closes this window.");
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure::caption::missing_glyphs;

    #[test]
    fn every_shortcut_can_be_drawn() {
        let text: String = SHORTCUTS.iter().map(|(k, w)| format!("{k}{w}")).collect();
        assert_eq!(missing_glyphs(&text), Vec::<char>::new());
    }
}
