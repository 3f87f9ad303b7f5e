//! TOML configs: never a panic. An accepted config saves and loads back to the same text, and the
//! views apply it (unknown view options are problems, not panics).
#![no_main]

use kdviz::toy::FitConfig;
use kdviz::views::state::ToyState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = FitConfig::from_toml(text, "fuzz.toml") else {
        return;
    };
    let saved = config.to_toml();
    let again = FitConfig::from_toml(&saved, "saved.toml")
        .unwrap_or_else(|e| panic!("a saved config must load: {e}\n{saved}"));
    assert_eq!(again.to_toml(), saved);
    let mut state = ToyState::default();
    state.apply_config(config);
    for problem in state.apply_hints() {
        assert!(!problem.is_empty());
        let _ = FitConfig::view_line(text, &problem);
    }
    // What the app would save from here loads too.
    let app = state.to_config().to_toml();
    if let Err(e) = FitConfig::from_toml(&app, "app.toml") {
        panic!("the app's saved config must load: {e}\n{app}");
    }
});
