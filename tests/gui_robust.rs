//! The app under hostile input (issue 10): every slider of the side panel at both ends of its
//! range, bad config and teacher files through the Load buttons, exports at their smallest and
//! largest settings. Each must end in a drawn fit or a status message: no panic, no NaN on screen,
//! the last good state kept. (Export sizes over the pixel budget: tests/gui_export.rs.)
#![allow(clippy::unwrap_used)] // tests may unwrap

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use kdviz::app::{KdvizApp, Mode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn app() -> Harness<'static, KdvizApp> {
    app_of_height(1000.0)
}

/// A window this tall: a tall one shows the whole side panel, whose widgets out of view are not in
/// the accessibility tree.
fn app_of_height(height: f32) -> Harness<'static, KdvizApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, height))
        .wgpu()
        .build_eframe(|cc| KdvizApp::new(cc));
    settle(&mut h);
    h
}

/// Runs frames until the refit requested by the last change has arrived and been drawn.
fn settle(h: &mut Harness<'static, KdvizApp>) {
    for _ in 0..50 {
        h.run_steps(2);
        assert!(
            h.state_mut().toy.wait_for_fit(Duration::from_secs(120)),
            "the refit did not finish"
        );
        h.run_steps(2);
        if !h.state().toy.is_fitting() {
            return;
        }
    }
    panic!("the app kept refitting");
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kdviz-robust-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What the app shows is sound: a fit whose every number is a number, and no "NaN" anywhere in the
/// window's text (labels, values, the status bar unless it quotes a NaN the input holds).
fn assert_sound(h: &Harness<'static, KdvizApp>, context: &str) {
    assert_sound_quoting(h, context, false);
}

fn assert_sound_quoting(h: &Harness<'static, KdvizApp>, context: &str, input_has_nan: bool) {
    let status = h
        .state()
        .toy
        .status()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    let result = h.state().toy.result().expect("a fit is shown");
    for run in &result.runs {
        for r in &run.history {
            for v in [
                r.objective,
                r.kl_pq,
                r.kl_qp,
                r.tvd,
                r.head_gap,
                r.tail_gap,
                r.far_tail,
            ] {
                assert!(
                    !v.is_nan(),
                    "{context}: {} has NaN at epoch {}",
                    run.divergence,
                    r.epoch
                );
            }
        }
    }
    let nan = h
        .query_all_by(|n| {
            let text = format!(
                "{} {}",
                n.label().unwrap_or_default(),
                n.value().unwrap_or_default()
            );
            let quoted = input_has_nan && text.contains(&status);
            !quoted
                && text
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w.eq_ignore_ascii_case("nan"))
        })
        .map(|n| {
            let a = n.accesskit_node();
            format!("{:?} {:?} {:?}", a.role(), a.label(), a.value())
        })
        .collect::<Vec<_>>();
    assert!(nan.is_empty(), "{context}: NaN shown in {nan:?}");
    if let Some(s) = h.state().toy.status() {
        assert!(!s.text.trim().is_empty(), "{context}: an empty status");
    }
}

/// Every enabled slider: (label, lowest, highest, current value).
fn sliders(h: &Harness<'static, KdvizApp>) -> Vec<(String, f64, f64, f64)> {
    h.query_all_by_role(Role::Slider)
        .filter(|n| !n.accesskit_node().is_disabled())
        .filter_map(|n| {
            let a = n.accesskit_node();
            Some((
                a.label()?,
                a.min_numeric_value()?,
                a.max_numeric_value()?,
                a.numeric_value()?,
            ))
        })
        .collect()
}

fn set_slider(h: &mut Harness<'static, KdvizApp>, label: &str, value: f64) -> bool {
    let Some(node) = h
        .query_all_by_role_and_label(Role::Slider, label)
        .find(|n| !n.accesskit_node().is_disabled())
    else {
        return false;
    };
    node.set_value_accesskit(value);
    true
}

/// Each slider at its lowest and highest value, then back where it was, one slider at a time.
fn every_slider_at_both_ends(h: &mut Harness<'static, KdvizApp>, setup: &str) -> usize {
    let mut tried = 0;
    for (label, lo, hi, was) in sliders(h) {
        for v in [lo, hi] {
            if !set_slider(h, &label, v) {
                continue; // an earlier slider's end removed it (a shape or kind switched)
            }
            tried += 1;
            settle(h);
            assert_sound(h, &format!("{setup}: {label} = {v}"));
        }
        if set_slider(h, &label, was) {
            settle(h);
        }
    }
    tried
}

/// A mixture teacher's folded grid section, opened (when the teacher is a mixture).
fn open_grid(h: &mut Harness<'static, KdvizApp>) {
    let closed = h.query_all_by_label("grid points").next().is_none();
    let header = h
        .query_all_by_role_and_label(Role::DisclosureTriangle, "grid")
        .next();
    if closed && let Some(grid) = header {
        grid.click();
    }
    h.run_steps(2);
}

#[test]
fn every_side_panel_slider_at_both_ends() {
    let mut h = app_of_height(3000.0);
    // The optimiser's folded sections.
    for section in ["betas", "metrics"] {
        h.get_by_label(section).click();
        h.run_steps(2);
    }
    let mut seen = std::collections::BTreeSet::new();
    for preset in [
        "akl-fig3-longtail",
        "minillm-gmm",
        "longtail-all-divergences",
        "taid-schedule",
        "amid-alpha-mixtures",
        "bishop-two-modes",
    ] {
        h.state_mut().toy.load_preset(preset);
        settle(&mut h);
        open_grid(&mut h);
        seen.extend(sliders(&h).into_iter().map(|s| s.0));
        let tried = every_slider_at_both_ends(&mut h, preset);
        assert!(tried >= 8, "{preset}: only {tried} slider ends tried");
    }
    // The grid's ends are typed, not slid: any number, refused in the status bar when unusable.
    h.state_mut().toy.load_preset("minillm-gmm");
    settle(&mut h);
    open_grid(&mut h);
    for (end, value, refused) in [
        ("lo", 1e300, true),
        ("hi", -1e300, true),
        ("lo", f64::MAX, true),
        ("lo", -1e300, true),
        ("hi", 1e-300, false),
    ] {
        let good = h.state().toy.result().unwrap().teacher.xs.len();
        h.get_by_role_and_label(Role::SpinButton, end)
            .set_value_accesskit(value);
        settle(&mut h);
        let context = format!("grid {end} = {value}");
        assert_sound(&h, &context);
        let status = h.state().toy.status().filter(|s| s.error).cloned();
        assert_eq!(status.is_some(), refused, "{context}: {status:?}");
        if let Some(s) = status {
            assert!(
                s.text.contains("teacher") || s.text.contains("student"),
                "{context}: {s:?}"
            );
            assert_eq!(
                h.state().toy.result().unwrap().teacher.xs.len(),
                good,
                "{context}"
            );
        }
        h.state_mut().toy.load_preset("minillm-gmm");
        settle(&mut h);
        open_grid(&mut h);
    }
    // SGD's momentum and a drawn teacher's class count.
    h.state_mut().toy.load_preset("akl-fig2-bimodal");
    settle(&mut h);
    h.get_by_label("SGD").click();
    settle(&mut h);
    h.get_by_label("Custom").click();
    settle(&mut h);
    seen.extend(sliders(&h).into_iter().map(|s| s.0));
    every_slider_at_both_ends(&mut h, "SGD, custom teacher");
    // The teacher, student, divergence and optimiser sections were all covered.
    for label in [
        "classes",
        "width",
        "noise %",
        "grid points",
        "drawn classes",
        "initial mu",
        "initial sigma",
        "AKL μ (loss)",
        "JSD β",
        "αβ α",
        "AMiD λ",
        "Hinton T",
        "learning rate",
        "beta1",
        "beta2",
        "loss scale",
        "head mass μ (metrics)",
        "epochs",
        "momentum",
        "epoch",
    ] {
        assert!(seen.contains(label), "no slider {label:?} in {seen:?}");
    }
}

/// Types `to` into the text field that now holds `now`, or, while it is empty, shows `hint` (egui
/// exposes a field's hint only then, so a field with text is found by its text).
fn set_field(h: &mut Harness<'static, KdvizApp>, now: &str, hint: &str, to: &str) {
    h.get_by(|n| {
        n.role() == Role::TextInput
            && n.value().as_deref() == Some(now)
            && (!now.is_empty() || n.placeholder() == Some(hint))
    })
    .set_text_value_accesskit(to);
    h.run_steps(1);
}

/// The config path field and the Load config button, as a user would use them.
fn load_config(h: &mut Harness<'static, KdvizApp>, field: &mut String, path: &Path) {
    let to = path.to_str().unwrap().to_string();
    set_field(h, field, "config.toml", &to);
    *field = to;
    h.get_by_role_and_label(Role::Button, "Load config").click();
    h.run_steps(2);
}

#[test]
fn bad_config_files_keep_the_last_good_state() {
    let mut h = app();
    let d = dir("cfg");
    let preset = include_str!("../assets/presets/minillm-gmm.toml");
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let sigma_line = 1 + preset.lines().position(|l| l == "sigma = 1.0").unwrap();
    let mut field = "kdviz-config.toml".to_string();
    for (path, says) in [
        (d.join("missing.toml"), "cannot read".to_string()),
        (d.clone(), "cannot read".to_string()),
        (write("binary.toml", &[0xff, 0xfe, 0, 1, 2]), "cannot read".to_string()),
        (write("syntax.toml", b"epochs = [\n"), "syntax.toml line".to_string()),
        (
            write("sigma.toml", preset.replace("sigma = 1.0", "sigma = 1e-300").as_bytes()),
            format!("sigma.toml line {sigma_line}: student sigma=1e-300 is out of range"),
        ),
        (
            write("huge.toml", preset.replace("epochs = 4000", "epochs = 1e300").as_bytes()),
            "floating point `1e300`, expected a whole number".to_string(),
        ),
        (
            write("probs.toml", b"epochs = 3\ndivergences = [\"fkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [0.5, -1]\n[student]\nkind = \"logits\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n"),
            "probs.toml line 5: teacher probs: entry 1 is -1".to_string(),
        ),
    ] {
        let before = h.state().toy.state.clone();
        load_config(&mut h, &mut field, &path);
        settle(&mut h);
        let status = h.state().toy.status().cloned().unwrap();
        assert!(status.error && status.text.contains(&says), "{}: {status:?}", path.display());
        assert_eq!(h.state().toy.state, before, "{}: the settings changed", path.display());
        assert_sound(&h, &path.display().to_string());
    }
    // A view the app does not have: the rest of the config loads, the status says which line.
    let views = write(
        "views.toml",
        preset.replace("\"headtail\"]", "\"nope\"]").as_bytes(),
    );
    load_config(&mut h, &mut field, &views);
    settle(&mut h);
    let status = h.state().toy.status().cloned().unwrap();
    let line = 1 + preset
        .lines()
        .position(|l| l.contains("\"headtail\"]"))
        .unwrap();
    assert!(
        status.error
            && status.text.contains(&format!(
                "views.toml line {line}: [view] views: unknown view \"nope\""
            )),
        "{status:?}"
    );
    assert_eq!(h.state().toy.state.config.name, "minillm-gmm");
    assert_sound(&h, "views.toml");
    std::fs::remove_dir_all(&d).ok();
}

/// The teacher section's path field and its "Load probs" / "logits" buttons.
fn load_teacher(h: &mut Harness<'static, KdvizApp>, field: &mut String, path: &Path, button: &str) {
    let to = path.to_str().unwrap().to_string();
    set_field(h, field, "teacher .csv / .npy", &to);
    *field = to;
    h.get_by_role_and_label(Role::Button, button).click();
    h.run_steps(2);
}

#[test]
fn bad_teacher_files_keep_the_last_good_teacher() {
    let mut h = app();
    let mut field = String::new();
    let d = dir("teacher");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    for (path, button, says) in [
        (d.join("missing.csv"), "Load probs", "missing.csv"),
        (
            PathBuf::from("/dev/null"),
            "Load probs",
            "is not a regular file",
        ),
        (
            write("huge.csv", "1, 2\n1e999\n"),
            "logits",
            "is beyond the range of a 64-bit float",
        ),
        (write("one.csv", "0.5\n"), "Load probs", "at least 2"),
        (write("zeros.csv", "0,0,0\n"), "Load probs", "sum to 0"),
        (
            write("negative.csv", "0.5,-0.5\n"),
            "Load probs",
            "entry 1 is -0.5",
        ),
        (
            write("notanumber.csv", "1,nan,2\n"),
            "logits",
            "entry 1 is NaN",
        ),
        (write("text.csv", "a,b\n"), "logits", "header line"),
    ] {
        let before = h.state().toy.state.config.teacher.clone();
        load_teacher(&mut h, &mut field, &path, button);
        settle(&mut h);
        let status = h.state().toy.status().cloned().unwrap();
        assert!(
            status.error && status.text.contains(says),
            "{}: {status:?}",
            path.display()
        );
        assert_eq!(
            h.state().toy.state.config.teacher,
            before,
            "{}",
            path.display()
        );
        assert_sound_quoting(&h, &path.display().to_string(), says.contains("NaN"));
    }
    // A good file still loads after all that.
    let good = write("good.csv", "0.5, 0.3, 0.2\n");
    load_teacher(&mut h, &mut field, &good, "Load probs");
    settle(&mut h);
    assert_eq!(h.state().toy.result().unwrap().teacher.dist.len(), 3);
    assert_sound(&h, "good.csv");
    std::fs::remove_dir_all(&d).ok();
}

/// Runs frames until `done` holds (the real tab's worker does the work meanwhile).
fn until(h: &mut Harness<'static, KdvizApp>, what: &str, done: impl Fn(&KdvizApp) -> bool) {
    let t0 = Instant::now();
    while !done(h.state()) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

#[test]
fn bad_real_model_files_are_a_status_message() {
    let mut h = app();
    h.get_by_label("Real model").click();
    h.run_steps(2);
    assert_eq!(h.state().mode, Mode::Real);
    until(&mut h, "the built-in teacher", |a| a.real.data().is_some());
    let good_n = h.state().real.data().unwrap().n;
    let mut real_field = String::new();
    let d = dir("real");
    let mut empty_header = 2u64.to_le_bytes().to_vec();
    empty_header.extend(b"{}");
    for (name, bytes, says) in [
        ("empty.safetensors", empty_header, "lists no tensors"),
        (
            "garbage.safetensors",
            b"not a safetensors file".to_vec(),
            "garbage.safetensors",
        ),
        ("short.npy", b"\x93NUMPY\x01\x00".to_vec(), "short.npy"),
    ] {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        h.get_by_label("file").click();
        h.run_steps(1);
        let to = path.to_str().unwrap().to_string();
        set_field(&mut h, &real_field, "teacher.safetensors / .npy", &to);
        real_field = to;
        h.get_by_role_and_label(Role::Button, "Load teacher")
            .click();
        until(&mut h, name, |a| a.real.status().is_some_and(|s| s.error));
        let status = h.state().real.status().cloned().unwrap();
        assert!(status.text.contains(says), "{name}: {status:?}");
        assert!(!status.text.contains("NaN"), "{status:?}");
        let data = h
            .state()
            .real
            .data()
            .expect("the last good teacher is kept");
        assert_eq!(data.n, good_n, "{name}");
        // The next file starts from a clean status.
        h.get_by_label("built-in").click();
        h.run_steps(1);
        h.get_by_role_and_label(Role::Button, "Load teacher")
            .click();
        let t0 = Instant::now();
        while h.state().real.status().is_some_and(|s| s.error) {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the built-in teacher again: {:?} builtin {}",
                h.state().real.status(),
                h.state().real.settings.builtin
            );
            h.run_steps(1);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    std::fs::remove_dir_all(&d).ok();
}

/// The Export menu open (a click toggles it, so retry until its entry is there).
fn open_export_menu(h: &mut Harness<'static, KdvizApp>) {
    for _ in 0..3 {
        if h.query_by_label("Export view").is_some() {
            return;
        }
        h.get_by_role_and_label(Role::Button, "Export").click();
        h.run_steps(2);
    }
    assert!(h.query_by_label("Export view").is_some(), "no Export menu");
}

/// "Export view" with this path and PNG scale, as a user would; returns the status line.
fn export_view(
    h: &mut Harness<'static, KdvizApp>,
    field: &mut String,
    path: &Path,
    scale: f64,
) -> kdviz::app::Status {
    h.run_steps(4); // a menu closed by the last export fades out
    open_export_menu(h);
    let to = path.to_str().unwrap().to_string();
    set_field(h, field, "figure.png / .svg / .csv", &to);
    *field = to;
    h.get_by_role_and_label(Role::Slider, "PNG scale")
        .set_value_accesskit(scale);
    h.run_steps(1);
    h.get_by_role_and_label(Role::Button, "Export view").click();
    h.run_steps(2);
    h.state().toy.status().cloned().unwrap()
}

/// The export path field's text when the app opens.
const EXPORT_PATH: &str = "kdviz-figure.png";

#[test]
fn exports_at_their_smallest_and_largest_scale() {
    let mut h = app();
    let mut field = EXPORT_PATH.to_string();
    let d = dir("export");
    for scale in [1.0, 4.0] {
        for ext in ["png", "svg", "csv"] {
            let path = d.join(format!("view-{scale}.{ext}"));
            let status = export_view(&mut h, &mut field, &path, scale);
            assert!(
                !status.error && status.text.starts_with("exported"),
                "{status:?}"
            );
            assert!(
                std::fs::metadata(&path).unwrap().len() > 0,
                "{}",
                path.display()
            );
            if ext == "png" {
                let img = image::open(&path).unwrap();
                let s = scale as u32;
                assert_eq!((img.width(), img.height()), (960 * s, 600 * s));
            }
        }
    }
    // A path without an extension or with an unknown one: said, nothing written.
    for (bad, says) in [
        (
            "view",
            "has no extension; expected a name ending in .png, .svg or .csv",
        ),
        ("view.", "has no extension"),
        (
            "view.jpeg",
            "cannot write .jpeg files; expected .png, .svg or .csv",
        ),
    ] {
        let path = d.join(bad);
        let status = export_view(&mut h, &mut field, &path, 2.0);
        assert!(
            status.error && status.text.contains(says),
            "{bad}: {status:?}"
        );
        assert!(!path.exists() || path.is_dir());
    }
    assert_sound(&h, "exports");
    std::fs::remove_dir_all(&d).ok();
}

fn set_number(h: &mut Harness<'static, KdvizApp>, label: &str, value: f64) {
    h.get_by_role_and_label(Role::SpinButton, label)
        .set_value_accesskit(value);
    h.run_steps(1);
}

fn set_labelled_text(h: &mut Harness<'static, KdvizApp>, label: &str, text: &str) {
    h.get_by_label(label).set_text_value_accesskit(text);
    h.run_steps(1);
}

/// Runs frames until the figure export finished; returns its status line.
fn wait_for_figure(h: &mut Harness<'static, KdvizApp>) -> kdviz::app::Status {
    let t0 = Instant::now();
    while h.state().toy.figure_export().is_running() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the export did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(1);
    h.state().toy.status().cloned().unwrap()
}

/// The smallest animation (one 200 × 150 frame at scale 1) and the smallest layout (one epoch at
/// scale 1), through the Export menu and dialog; the largest sizes are in tests/gui_export.rs.
#[test]
fn animations_and_layouts_at_their_smallest() {
    let mut h = app();
    let d = dir("small");
    for entry in ["Animation… (GIF / APNG)"] {
        for _ in 0..3 {
            if h.query_by_label(entry).is_some() {
                break;
            }
            h.get_by_role_and_label(Role::Button, "Export").click();
            h.run_steps(2);
        }
        h.get_by_label(entry).click();
        h.run_steps(2);
    }
    let gif = d.join("one.gif");
    set_number(&mut h, "first epoch", 0.0);
    set_number(&mut h, "last epoch", 0.0);
    set_number(&mut h, "frame width", 0.0); // clamped to its lowest, 200
    set_number(&mut h, "frame height", 0.0); // 150
    set_number(&mut h, "frame scale", 0.0); // 1
    set_number(&mut h, "frame rate", 0.0); // 1
    set_labelled_text(&mut h, "file", gif.to_str().unwrap());
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    let status = wait_for_figure(&mut h);
    assert!(
        !status.error && status.text.contains("exported"),
        "{status:?}"
    );
    let img = image::open(&gif).unwrap();
    assert_eq!((img.width(), img.height()), (200, 150));
    assert_sound(&h, "one-frame gif");

    h.run_steps(4);
    for _ in 0..3 {
        if h.query_by_label("layout epochs").is_some() {
            break;
        }
        h.get_by_role_and_label(Role::Button, "Export").click();
        h.run_steps(2);
    }
    let png = d.join("layout.png");
    set_labelled_text(&mut h, "layout epochs", "0");
    set_labelled_text(&mut h, "layout file", png.to_str().unwrap());
    h.get_by_role_and_label(Role::Slider, "layout scale")
        .set_value_accesskit(1.0);
    h.run_steps(1);
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    let status = wait_for_figure(&mut h);
    assert!(
        !status.error && status.text.contains("exported"),
        "{status:?}"
    );
    assert!(image::open(&png).unwrap().width() > 0);
    // Epochs the fit does not have, or none: said, nothing written.
    for (epochs, says) in [("9999", "9999"), ("", "epoch"), ("x", "\"x\"")] {
        h.run_steps(4);
        for _ in 0..3 {
            if h.query_by_label("layout epochs").is_some() {
                break;
            }
            h.get_by_role_and_label(Role::Button, "Export").click();
            h.run_steps(2);
        }
        let bad = d.join("bad.png");
        set_labelled_text(&mut h, "layout epochs", epochs);
        set_labelled_text(&mut h, "layout file", bad.to_str().unwrap());
        h.get_by_role_and_label(Role::Button, "Export layout")
            .click();
        h.run_steps(1);
        let status = wait_for_figure(&mut h);
        assert!(
            status.error && status.text.contains(says),
            "{epochs:?}: {status:?}"
        );
        assert!(!bad.exists());
    }
    std::fs::remove_dir_all(&d).ok();
}
