//! The real-model tab driven as a user would: switch to it, pick a small built-in teacher, Run, watch
//! the metrics stream in, inspect a position; Stop; a bad file in the status bar. Renders with wgpu
//! (lavapipe on CI); training runs on the CPU engine so the test's time does not depend on the adapter.
#![allow(clippy::unwrap_used)] // tests may unwrap

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kdviz::app::KdvizApp;
use kdviz::app::Mode;
use kdviz::figure::real::RealFigure;
use kdviz::real::train::BackendChoice;
use std::time::{Duration, Instant};

fn real_tab() -> Harness<'static, KdvizApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .wgpu()
        .build_eframe(|cc| KdvizApp::new(cc));
    h.run_steps(2);
    h.get_by_label("Real model").click();
    h.run_steps(2);
    assert_eq!(h.state().mode, Mode::Real);
    let s = &mut h.state_mut().real.settings;
    s.positions = 64;
    s.epochs = 15;
    s.backend = BackendChoice::Cpu;
    h
}

/// Runs frames until `done` holds (the worker thread does the work meanwhile).
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

/// A student over its own vocabulary: the tab's checkbox, then Run refuses FKL naming uld in the
/// status bar; with uld alone it trains, the metric plots say why the per-class metrics are
/// absent, and the inspector marks the student "(by rank)".
#[test]
fn uld_trains_with_the_students_own_vocabulary() {
    let mut h = real_tab();
    h.get_by_label("student's own vocabulary").click();
    h.run_steps(2);
    assert_eq!(h.state().real.settings.student_vocab, 1000);
    h.state_mut().real.settings.student_vocab = 300;
    h.get_by_role_and_label(Role::Button, "Run").click();
    h.run_steps(1);
    until(&mut h, "the refusal", |a| {
        a.shown_status().is_some_and(|s| s.error)
    });
    let status = h.state().shown_status().unwrap().text.clone();
    assert!(
        status.contains("the teacher has")
            && status.contains("the student 300")
            && status.contains("only uld accepts different sizes"),
        "{status}"
    );
    h.state_mut().real.settings.slots = vec![kdviz::views::state::Slot {
        div: "uld".parse().unwrap(),
        enabled: true,
    }];
    h.get_by_role_and_label(Role::Button, "Run").click();
    h.run_steps(1);
    until(&mut h, "the uld run", |a| {
        !a.real.is_running() && a.real.runs().first().is_some_and(|r| r.result.is_some())
    });
    let app = h.state();
    let r = &app.real.runs()[0];
    assert_eq!(r.result.as_ref().unwrap().student_logits.len(), 64 * 300);
    assert!(r.stats.iter().all(|s| s.classes.is_none()));
    assert!(r.stats[15].objective < r.stats[0].objective);
    // One sentence per per-class metric plot (five of them).
    assert_eq!(
        h.query_all_by_label_contains("this per-class metric does not exist")
            .count(),
        5
    );
    assert!(h.query_by_label_contains("(by rank)").is_some());
}

#[test]
fn run_trains_every_divergence_and_the_inspector_shows_a_position() {
    let mut h = real_tab();
    h.get_by_role_and_label(Role::Button, "Run").click();
    h.run_steps(1);
    until(&mut h, "the runs", |a| {
        !a.real.is_running()
            && !a.real.runs().is_empty()
            && a.real.runs().iter().all(|r| r.result.is_some())
    });
    let app = h.state();
    let data = app.real.data().expect("the teacher was loaded");
    assert_eq!(data.n, 64);
    let names: Vec<String> = app.real.runs().iter().map(|r| r.div.to_string()).collect();
    assert_eq!(names, ["fkl", "rkl", "akl:mu=0.5"]);
    for r in app.real.runs() {
        // Epoch 0 plus 15 epochs arrived one by one, in order.
        let epochs: Vec<usize> = r.stats.iter().map(|s| s.epoch).collect();
        assert_eq!(epochs, (0..=15).collect::<Vec<_>>(), "{}", r.div);
        let first = r.stats[0].objective;
        let last = r.stats[15].objective;
        assert!(last < first, "{}: {first} -> {last}", r.div);
        let res = r.result.as_ref().unwrap();
        assert_eq!(res.student_logits.len(), data.n * data.v);
    }
    assert!(
        app.shown_status()
            .is_some_and(|s| !s.error && s.text.contains("trained 3"))
    );
    // The inspector names the position's context and the top tokens of the teacher.
    assert!(h.query_by_label_contains("→").is_some());
    assert!(h.query_all_by_label("teacher").count() >= 1);
    // Step to the next position with its button.
    h.get_by_label(">").click();
    h.run_steps(2);
    assert_eq!(h.state().real.inspector.row, 1);

    // The tab's Export menu offers both figures; they write what the tab shows.
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_steps(2);
    assert!(h.query_by_label("Export metrics").is_some());
    assert!(h.query_by_label("Export position 1").is_some());
    let dir = std::env::temp_dir();
    let svg = dir.join(format!("kdviz-gui-real-{}.svg", std::process::id()));
    let csv = dir.join(format!("kdviz-gui-real-{}.csv", std::process::id()));
    let light = kdviz::views::state::Theme::Light;
    let app = h.state_mut();
    app.real
        .export(svg.to_str().unwrap(), RealFigure::Metrics, light);
    assert!(
        app.shown_status().is_some_and(|s| !s.error),
        "{:?}",
        app.shown_status()
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("KL(q||p)") && text.contains("<path"));
    app.real
        .export(csv.to_str().unwrap(), RealFigure::Position(1), light);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(rows, 1 + app.real.data().unwrap().v);
    app.real
        .export("/nonexistent-dir/x.png", RealFigure::Metrics, light);
    assert!(
        app.shown_status()
            .is_some_and(|s| s.error && s.text.contains("/nonexistent-dir/x.png"))
    );
    let _ = (std::fs::remove_file(svg), std::fs::remove_file(csv));
}

#[test]
fn stop_ends_a_run_early() {
    let mut h = real_tab();
    h.state_mut().real.settings.epochs = 5000;
    h.get_by_role_and_label(Role::Button, "Run").click();
    until(&mut h, "the first epochs", |a| {
        a.real.runs().first().is_some_and(|r| r.stats.len() > 2)
    });
    h.get_by_role_and_label(Role::Button, "Stop").click();
    until(&mut h, "the stop", |a| !a.real.is_running());
    let r = &h.state().real.runs()[0];
    assert!(r.result.is_none());
    assert!(r.stats.len() < 5000);
    assert_eq!(
        h.state().shown_status().map(|s| s.text.as_str()),
        Some("stopped")
    );
}

#[test]
fn a_bad_teacher_file_is_reported_and_nothing_is_lost() {
    let mut h = real_tab();
    h.get_by_role_and_label(Role::Button, "Run").click();
    until(&mut h, "the first run", |a| {
        !a.real.is_running()
            && !a.real.runs().is_empty()
            && a.real.runs().iter().all(|r| r.result.is_some())
    });
    let path = std::env::temp_dir().join(format!("kdviz-bad-{}.safetensors", std::process::id()));
    std::fs::write(&path, b"not a safetensors file").unwrap();
    let s = &mut h.state_mut().real.settings;
    s.builtin = false;
    s.teacher_path = path.display().to_string();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Run").click();
    h.run_steps(1); // the click starts the run in this frame
    assert!(h.state().real.is_running());
    until(&mut h, "the error", |a| !a.real.is_running());
    let status = h.state().shown_status().cloned().expect("a status");
    assert!(status.error, "{status:?}");
    assert!(status.text.contains("kdviz-bad-"), "{status:?}");
    // The built-in teacher is still what the inspector shows.
    assert_eq!(h.state().real.data().map(|d| d.n), Some(64));
    let _ = std::fs::remove_file(path);
}

/// Image snapshots of the tab's two figures (the metric plots and the inspector at one position),
/// drawn by the tab's own code after a short CPU run on the built-in teacher.
#[test]
fn the_real_tab_figures_match_their_snapshots() {
    use kdviz::figure::real::{RealFigureStyle, write};
    use kdviz::real::train::{StudentKind, TrainConfig, train};
    use kdviz::views::real::RunState;
    let data = kdviz::real::corpus::builtin_with(64).unwrap();
    let cfg = TrainConfig {
        student: StudentKind::LowRank { rank: 8 },
        epochs: 20,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let runs: Vec<RunState> = ["fkl", "rkl", "akl:mu=0.5"]
        .iter()
        .map(|s| {
            let div: kdviz::math::practice::Loss = s.parse().unwrap();
            RunState::finished(train(None, &data, &div, &cfg, &cancel, &mut |_| {}).unwrap())
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("kdviz-real-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let style = RealFigureStyle {
        scale: 1.0,
        ..RealFigureStyle::default()
    };
    let mut results = egui_kittest::SnapshotResults::new();
    for (name, what) in [
        ("real_metrics", RealFigure::Metrics),
        ("real_position", RealFigure::Position(3)),
    ] {
        let path = dir.join(format!("{name}.png"));
        write(&path, what, &data, &runs, &style).unwrap();
        let image = image::open(&path).unwrap().to_rgba8();
        results.add(egui_kittest::try_image_snapshot(&image, name));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The "teacher top-k" box: Run refuses the full-support divergences up front, naming the support
/// and what a top-k teacher accepts; a top-k file loads and the inspector says there is no full row
/// instead of drawing one.
#[test]
fn a_top_k_teacher_in_the_tab() {
    let mut h = real_tab();
    h.get_by_label("teacher top-k").click();
    h.run_steps(2);
    assert_eq!(h.state().real.settings.teacher_topk, 64);
    h.get_by_role_and_label(Role::Button, "Run").click();
    h.run_steps(1);
    until(&mut h, "the refusal", |a| {
        a.shown_status().is_some_and(|s| s.error)
    });
    let status = h.state().shown_status().unwrap().text.clone();
    assert!(
        status.contains("support=full needs the teacher's full row")
            && status.contains("support=topk, topk-renorm or topk-tail and k ≤ 64"),
        "{status}"
    );

    // A top-k file: 2 positions, k = 2 of V = 5 (from the metadata).
    let mut header = serde_json::Map::new();
    let ids: Vec<u8> = [0i64, 1, 2, 3]
        .iter()
        .flat_map(|j| j.to_le_bytes())
        .collect();
    let lp: Vec<u8> = [-0.5f64, -1.5, -0.2, -2.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    header.insert(
        "teacher_topk_ids".into(),
        serde_json::json!({"dtype": "I64", "shape": [2, 2], "data_offsets": [0, 32]}),
    );
    header.insert(
        "teacher_topk_logprobs".into(),
        serde_json::json!({"dtype": "F64", "shape": [2, 2], "data_offsets": [32, 64]}),
    );
    header.insert("__metadata__".into(), serde_json::json!({"vocab": "5"}));
    let header = serde_json::Value::Object(header).to_string();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&ids);
    bytes.extend_from_slice(&lp);
    let path = std::env::temp_dir().join(format!("kdviz-topk-{}.safetensors", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let s = &mut h.state_mut().real.settings;
    s.builtin = false;
    s.teacher_topk = 0;
    s.teacher_path = path.display().to_string();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "Load teacher")
        .click();
    until(&mut h, "the top-k file", |a| {
        a.real.data().is_some_and(|d| d.n == 2)
    });
    let d = h.state().real.data().unwrap();
    assert!(!d.has_full_teacher() && d.topk.as_ref().is_some_and(|t| t.k == 2));
    h.run_steps(2);
    h.get_by_label_contains("there is no full row to inspect");
    let _ = std::fs::remove_file(path);
}
