//! The Export menu's animation dialog and paper layouts, driven as a user would: the render runs on a
//! worker thread while the window keeps drawing, reports progress, can be cancelled, and bad input ends
//! in the status bar.
#![allow(clippy::unwrap_used)] // tests may unwrap

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use kdviz::app::KdvizApp;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn app() -> Harness<'static, KdvizApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .wgpu()
        .build_eframe(|cc| KdvizApp::new(cc));
    h.run_steps(2);
    assert!(h.state_mut().toy.wait_for_fit(Duration::from_secs(30)));
    h.run_steps(2);
    h
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdviz-gui-anim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Opens the Export menu (a click toggles it, so retry until its entries are there).
fn open_export_menu(h: &mut Harness<'static, KdvizApp>, entry: &str) {
    for _ in 0..3 {
        if h.query_by_label(entry).is_some() {
            return;
        }
        h.get_by_role_and_label(Role::Button, "Export").click();
        h.run_steps(2);
    }
    assert!(
        h.query_by_label(entry).is_some(),
        "no {entry:?} in the menu"
    );
}

fn open_dialog(h: &mut Harness<'static, KdvizApp>) {
    open_export_menu(h, "Animation… (GIF / APNG)");
    h.get_by_label("Animation… (GIF / APNG)").click();
    h.run_steps(2);
    assert!(h.state().toy.figure_export().is_open());
}

fn set_number(h: &mut Harness<'static, KdvizApp>, label: &str, value: f64) {
    h.get_by_role_and_label(Role::SpinButton, label)
        .set_value_accesskit(value);
    h.run_steps(1);
}

fn set_text(h: &mut Harness<'static, KdvizApp>, label: &str, text: &str) {
    h.get_by_label(label).set_text_value_accesskit(text);
    h.run_steps(1);
}

/// Dialog settings for a small, quick animation of `last + 1` frames.
fn small_animation(h: &mut Harness<'static, KdvizApp>, path: &Path, last: usize) {
    set_number(h, "first epoch", 0.0);
    set_number(h, "last epoch", last as f64);
    set_number(h, "every", 1.0);
    set_number(h, "frame width", 240.0);
    set_number(h, "frame height", 160.0);
    set_number(h, "frame scale", 1.0);
    set_number(h, "frame rate", 5.0);
    set_text(h, "file", path.to_str().unwrap());
}

/// Runs frames until the export finished (bounded); returns every progress bar label seen meanwhile.
fn wait_for_export(h: &mut Harness<'static, KdvizApp>, timeout: Duration) -> Vec<String> {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while h.state().toy.figure_export().is_running() {
        assert!(t0.elapsed() < timeout, "the export did not finish");
        if let Some(bar) = h.query_by_role(Role::ProgressIndicator) {
            let label = bar.accesskit_node().label().unwrap_or_default();
            if seen.last() != Some(&label) {
                seen.push(label);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    h.run_steps(1);
    seen
}

fn frame_count(path: &Path) -> (u32, (u32, u32)) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let reader = png::Decoder::new(file).read_info().unwrap();
    let actl = reader.info().animation_control().expect("an animated PNG");
    (actl.num_frames, reader.info().size())
}

#[test]
fn dialog_renders_an_apng_with_progress() {
    let mut h = app();
    open_dialog(&mut h);
    let out = tmp("dialog.apng");
    small_animation(&mut h, &out, 5);
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    assert!(h.state().toy.figure_export().is_running());
    assert_eq!(h.state().toy.figure_export().progress().unwrap().1, 6);
    let seen = wait_for_export(&mut h, Duration::from_secs(120));
    assert!(
        seen.iter()
            .all(|l| l.starts_with("frame ") && l.ends_with("/6")),
        "{seen:?}"
    );
    assert!(!seen.is_empty(), "a progress bar while rendering");
    let status = h.state().toy.status().cloned().unwrap();
    assert!(!status.error, "{status:?}");
    assert!(status.text.contains("6 frames"), "{status:?}");
    assert_eq!(frame_count(&out), (6, (240, 160)));
    // The window kept drawing: the dialog is still open and the UI responsive.
    assert!(h.state().toy.figure_export().is_open());
}

#[test]
fn cancel_stops_the_render() {
    let mut h = app();
    open_dialog(&mut h);
    let out = tmp("cancelled.gif");
    small_animation(&mut h, &out, 400);
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    // Wait for a few frames, then cancel.
    let t0 = Instant::now();
    while h
        .state()
        .toy
        .figure_export()
        .progress()
        .is_some_and(|p| p.0 < 2)
    {
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
    let (done, total) = h.state().toy.figure_export().progress().unwrap();
    assert_eq!(total, 401);
    assert!(done >= 2 && done < total, "{done}/{total}");
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    wait_for_export(&mut h, Duration::from_secs(60));
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        !status.error && status.text.contains("cancelled after"),
        "{status:?}"
    );
    assert!(!out.exists(), "no partial file");
}

#[test]
fn bad_input_goes_to_the_status_bar() {
    let mut h = app();
    open_dialog(&mut h);
    small_animation(&mut h, Path::new("/nonexistent-kdviz-dir/a.gif"), 3);
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    wait_for_export(&mut h, Duration::from_secs(60));
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("cannot write"),
        "{status:?}"
    );

    set_text(&mut h, "file", tmp("a.mp4").to_str().unwrap());
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("expected .gif or .apng"),
        "{status:?}"
    );
    assert!(!h.state().toy.figure_export().is_running());

    // first > last
    set_text(&mut h, "file", tmp("range.gif").to_str().unwrap());
    set_number(&mut h, "first epoch", 9.0);
    set_number(&mut h, "last epoch", 3.0);
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("not a range"),
        "{status:?}"
    );
    assert!(!tmp("range.gif").exists());
}

#[test]
fn format_buttons_rewrite_the_extension() {
    let mut h = app();
    open_dialog(&mut h);
    set_text(&mut h, "file", "figs/run.gif");
    h.get_by_role_and_label(Role::RadioButton, "APNG").click();
    h.run_steps(2);
    assert_eq!(
        h.get_by_label("file").value().as_deref(),
        Some("figs/run.apng")
    );
}

#[test]
fn layouts_export_from_the_menu() {
    let mut h = app();
    // The epochs field starts from the preset's snapshot epochs.
    open_export_menu(&mut h, "layout epochs");
    assert_eq!(
        h.get_by_label("layout epochs").value().as_deref(),
        Some("1,5,10,300")
    );
    let png = tmp("grid.png");
    set_text(&mut h, "layout file", png.to_str().unwrap());
    set_number(&mut h, "layout scale", 1.0);
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    wait_for_export(&mut h, Duration::from_secs(120));
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        !status.error && status.text.contains("exported"),
        "{status:?}"
    );
    let img = image::open(&png).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (1100, 760),
        "the epochs grid's size"
    );

    // Divergences × epochs as SVG: one row per divergence (3) × 2 epochs = 6 panel titles.
    open_export_menu(&mut h, "layout epochs");
    h.get_by_role_and_label(Role::RadioButton, "divergences × epochs")
        .click();
    h.run_steps(1);
    set_text(&mut h, "layout epochs", "5, 300");
    let svg = tmp("rows.svg");
    set_text(&mut h, "layout file", svg.to_str().unwrap());
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    wait_for_export(&mut h, Duration::from_secs(120));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert_eq!(
        text.matches(">epoch 300 / 800<").count(),
        3,
        "one epoch-300 panel per row"
    );
    assert_eq!(
        text.matches("epoch 5 / 800<").count(),
        3,
        "one epoch-5 panel per row"
    );

    // An epoch after the fit's end.
    open_export_menu(&mut h, "layout epochs");
    set_text(&mut h, "layout epochs", "1,5000");
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("0 to 800"),
        "{status:?}"
    );
}

/// Export sizes beyond a texture's 8192 px render tile by tile; sizes beyond the pixel budget are
/// refused in the status bar before any work starts (issue 10, failure 1: a panic on the export
/// thread before).
#[test]
fn export_sizes_render_or_are_refused_with_the_largest() {
    let mut h = app();
    open_export_menu(&mut h, "layout epochs");
    h.get_by_role_and_label(Role::RadioButton, "divergences × epochs")
        .click();
    h.run_steps(1);
    set_text(&mut h, "layout epochs", "0,1,2,3,4,5,6,7,8,9,10,11");
    let png = tmp("wide-rows.png");
    set_text(&mut h, "layout file", png.to_str().unwrap());
    set_number(&mut h, "layout scale", 4.0);
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error
            && status.text.contains("14560 × 2880 pixels (41.9 million")
            && status.text.contains("the largest is 24 million pixels"),
        "{status:?}"
    );
    assert!(!h.state().toy.figure_export().is_running());
    assert!(!png.exists());

    // 9100 px wide: over the 8192 px a texture may have, within the budget.
    h.run_steps(4); // the closed menu fades out
    open_export_menu(&mut h, "layout epochs");
    set_number(&mut h, "layout scale", 2.5);
    h.get_by_role_and_label(Role::Button, "Export layout")
        .click();
    h.run_steps(1);
    wait_for_export(&mut h, Duration::from_secs(300));
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        !status.error && status.text.contains("exported"),
        "{status:?}"
    );
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (9100, 1800));

    open_dialog(&mut h);
    small_animation(&mut h, &tmp("huge.gif"), 3);
    set_number(&mut h, "frame width", 4000.0);
    set_number(&mut h, "frame height", 4000.0);
    set_number(&mut h, "frame scale", 4.0);
    assert!(
        h.query_by_label_contains("over the 24 million pixels a frame may have")
            .is_some()
    );
    h.get_by_role_and_label(Role::Button, "Start").click();
    h.run_steps(1);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("16000 × 16000 pixels"),
        "{status:?}"
    );
    assert!(!h.state().toy.figure_export().is_running());
    assert!(!tmp("huge.gif").exists());
}
