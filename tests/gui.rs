//! The app driven as a user would: presets, divergence switches, sliders by role and label, the epoch
//! scrubber and keyboard, bad input in the status bar. Renders with wgpu (lavapipe on CI).
#![allow(clippy::unwrap_used)] // tests may unwrap

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kdviz::app::KdvizApp;
use std::time::Duration;

fn app() -> Harness<'static, KdvizApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
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
            h.state_mut().toy.wait_for_fit(Duration::from_secs(20)),
            "the refit did not finish"
        );
        h.run_steps(2);
        if !h.state().toy.is_fitting() {
            return;
        }
    }
    panic!("the app kept refitting");
}

fn run_names(h: &Harness<'static, KdvizApp>) -> Vec<String> {
    h.state()
        .toy
        .result()
        .expect("a fit result")
        .runs
        .iter()
        .map(|r| r.divergence.to_string())
        .collect()
}

#[test]
fn opens_on_the_long_tail_preset_with_three_divergences() {
    let h = app();
    assert_eq!(h.state().toy.state.config.name, "akl-fig3-longtail");
    assert_eq!(run_names(&h), ["fkl", "rkl", "akl:mu=0.5"]);
    let r = h.state().toy.result().unwrap();
    assert_eq!(r.runs[0].history.len(), 801);
    // Every epoch's q is kept for the scrubber.
    assert_eq!(r.runs[0].snapshots.len(), 801);
    assert_eq!(h.state().toy.state.epoch, 10);
    assert!(h.state().toy.status().is_none_or(|s| !s.error));
}

#[test]
fn every_preset_loads_from_the_menu() {
    let mut h = app();
    for (name, _) in kdviz::toy::preset::PRESETS {
        // Open the menu (a click toggles it, so retry until the entries are there).
        for _ in 0..3 {
            if h.query_all_by_label(name).count()
                > usize::from(h.state().toy.state.config.name == *name)
            {
                break;
            }
            h.get_by_role_and_label(Role::ComboBox, "preset").click();
            h.run_steps(2);
        }
        // The open menu lists every preset; the entry is the last node with that name.
        let entries = h.get_all_by_label(name).collect::<Vec<_>>();
        entries.last().expect("preset entry").click_accesskit();
        settle(&mut h);
        let cfg = kdviz::toy::preset::load(name).unwrap();
        assert_eq!(h.state().toy.state.config.name, *name);
        let expected: Vec<String> = cfg
            .divergences
            .iter()
            .map(|s| {
                s.parse::<kdviz::math::practice::Loss>()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(run_names(&h), expected, "{name}");
        if let Some(first) = cfg.view.views.first() {
            assert_eq!(h.state().toy.state.active.name(), first, "{name}");
        }
        let records = &h.state().toy.result().unwrap().runs[0].history;
        assert!(
            records
                .iter()
                .all(|r| r.objective.is_finite() && r.tvd.is_finite()),
            "{name}"
        );
    }
}

#[test]
fn divergences_switch_on_and_off() {
    let mut h = app();
    // The side panel's switch (under the readable name) comes first; plot legends may hold one too.
    let switch = |h: &Harness<'static, KdvizApp>| {
        h.get_all_by_role_and_label(Role::CheckBox, "RKL")
            .next()
            .expect("rkl switch")
            .click()
    };
    switch(&h);
    settle(&mut h);
    assert!(!h.state().toy.state.slots[1].enabled);
    assert_eq!(run_names(&h), ["fkl", "akl:mu=0.5"]);
    switch(&h);
    settle(&mut h);
    assert_eq!(run_names(&h), ["fkl", "rkl", "akl:mu=0.5"]);
}

#[test]
fn sliders_refit_and_keep_the_epoch() {
    let mut h = app();
    h.get_by_role_and_label(Role::Slider, "epoch")
        .set_value_accesskit(42.0);
    h.run_steps(2);
    assert_eq!(h.state().toy.state.epoch, 42);
    h.get_by_role_and_label(Role::Slider, "AKL μ (loss)")
        .set_value_accesskit(0.3);
    settle(&mut h);
    assert_eq!(run_names(&h)[2], "akl:mu=0.3");
    assert_eq!(
        h.state().toy.state.epoch,
        42,
        "a refit keeps the scrubber's epoch"
    );
    h.get_by_role_and_label(Role::Slider, "learning rate")
        .set_value_accesskit(0.05);
    settle(&mut h);
    assert_eq!(h.state().toy.result().unwrap().runs.len(), 3);
    assert!((h.state().toy.state.config.optimizer.lr() - 0.05).abs() < 1e-12);
    h.get_by_role_and_label(Role::Slider, "classes")
        .set_value_accesskit(200.0);
    settle(&mut h);
    assert_eq!(h.state().toy.result().unwrap().teacher.dist.len(), 200);
    // The paper's 80 initial logits no longer fit: the student falls back to a seeded start, said so.
    assert!(
        h.state()
            .toy
            .status()
            .is_some_and(|s| !s.error && s.text.contains("200 classes"))
    );
}

#[test]
fn keyboard_and_timeline_scrub_epochs() {
    let mut h = app();
    h.key_press(egui::Key::Home);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, 0);
    h.key_press(egui::Key::ArrowRight);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, 2);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, 1);
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    assert!(h.state().toy.state.playing);
    h.run_steps(10);
    assert!(h.state().toy.state.epoch > 1, "playing advances the epoch");
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    assert!(!h.state().toy.state.playing);
    h.key_press(egui::Key::End);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, 800);
}

#[test]
fn extreme_sliders_never_show_nan() {
    let mut h = app();
    h.state_mut().toy.load_preset("longtail-all-divergences");
    settle(&mut h);
    for (label, value) in [
        ("Skew KL α", 0.99),
        ("JSD β", 0.0),
        ("JSD β", 1.0),
        ("Hinton T", 0.05),
        // α before λ: at λ = 1 the mixture is the teacher whatever α, so α's slider is greyed out.
        ("AMiD α", -5.0),
        ("AMiD λ", 1.0),
        ("AKL μ (loss)", 0.0),
        ("αβ α", -1.0),
    ] {
        h.get_by_role_and_label(Role::Slider, label)
            .set_value_accesskit(value);
        settle(&mut h);
        let r = h.state().toy.result().unwrap();
        for run in &r.runs {
            for rec in &run.history {
                for v in [
                    rec.objective,
                    rec.kl_pq,
                    rec.tvd,
                    rec.head_gap,
                    rec.tail_gap,
                    rec.far_tail,
                ] {
                    assert!(!v.is_nan(), "{label}={value}: {} has NaN", run.divergence);
                }
            }
            assert!(
                run.snapshots
                    .iter()
                    .all(|s| s.q.iter().all(|x| x.is_finite()))
            );
        }
    }
}

#[test]
fn bad_files_leave_the_last_good_state() {
    let mut h = app();
    let dir = std::env::temp_dir().join(format!("kdviz-gui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let before = h.state().toy.state.clone();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "epochs = \"many\"\n").unwrap();
    h.state_mut().toy.load_config_file(bad.to_str().unwrap());
    h.run_steps(2);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("bad.toml"),
        "{status:?}"
    );
    assert_eq!(h.state().toy.state, before);
    // A config whose divergence is infinite for its teacher: the fit fails, the last result stays.
    let inf = dir.join("inf.toml");
    std::fs::write(
        &inf,
        "epochs = 5\ndivergences = [\"rkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [0.5, 0.5, 0]\n[student]\n\
         kind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n",
    )
    .unwrap();
    h.state_mut().toy.load_config_file(inf.to_str().unwrap());
    settle(&mut h);
    let status = h.state().toy.status().cloned().unwrap();
    assert!(
        status.error && status.text.contains("zero probability"),
        "{status:?}"
    );
    assert_eq!(
        h.state().toy.result().unwrap().runs.len(),
        3,
        "the last good fit is still shown"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn saved_config_loads_back() {
    let mut h = app();
    let dir = std::env::temp_dir().join(format!("kdviz-gui-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("saved.toml");
    let cfg = h.state().toy.state.to_config();
    std::fs::write(&path, cfg.to_toml()).unwrap();
    h.state_mut().toy.load_preset("minillm-gmm");
    settle(&mut h);
    h.state_mut().toy.load_config_file(path.to_str().unwrap());
    settle(&mut h);
    assert_eq!(h.state().toy.state.to_config(), cfg);
    assert_eq!(run_names(&h), ["fkl", "rkl", "akl:mu=0.5"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// Image snapshots of key views on the default preset (tests/snapshots/*.png; regenerate with
/// UPDATE_SNAPSHOTS=1 after an intended change).
#[test]
fn key_views_match_their_snapshots() {
    let cfg = kdviz::toy::preset::load("akl-fig3-longtail").unwrap();
    let mut spec = cfg.to_spec().unwrap();
    spec.snapshots = kdviz::toy::SnapshotPlan {
        every: true,
        at: vec![],
    };
    let result = spec.run().unwrap();
    let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
    let colors = kdviz::views::palette::run_colors(&divs);
    let mut results = egui_kittest::SnapshotResults::new();
    for view in [
        kdviz::views::state::View::Distributions,
        kdviz::views::state::View::HeadTail,
    ] {
        let mut state = kdviz::views::state::ToyState::default();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 600.0))
            .with_context_setup(kdviz::views::common::install_fonts)
            .wgpu()
            .build_ui(|ui| {
                let cx = kdviz::views::ViewCtx::new(&result, &colors, 10);
                kdviz::views::view_ui(ui, view, &cx, &mut state);
            });
        h.run_steps(4);
        results.add(h.try_snapshot(format!("view_{}", view.name())));
    }
}

/// Image snapshots of every other view, each on the preset that shows it best, drawn as a figure
/// draws it (no controls; the landscape waits for its maps instead of showing a spinner).
#[test]
fn every_view_matches_its_snapshot() {
    use kdviz::views::state::{ToyState, View};
    let cases = [
        (View::Loss, "akl-fig3-longtail", 120, ""),
        (View::Gradient, "akl-fig3-longtail", 10, ""),
        (View::Landscape, "minillm-gmm", 50, ""),
        (View::AbPlane, "ab-plane", 20, ""),
        (View::Assistant, "taid-schedule", 20, ""),
        (View::Contours, "bishop-two-modes", 40, ""),
        // bishop-factorised opens with the marginals along both axes.
        (View::Contours, "bishop-factorised", 60, "_marginals"),
    ];
    let mut results = egui_kittest::SnapshotResults::new();
    for (view, preset, epoch, suffix) in cases {
        let cfg = kdviz::toy::preset::load(preset).unwrap();
        let mut spec = cfg.to_spec().unwrap();
        spec.snapshots = kdviz::toy::SnapshotPlan {
            every: true,
            at: vec![],
        };
        let result = spec.run().unwrap();
        let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = kdviz::views::palette::run_colors(&divs);
        let mut state = ToyState::default();
        state.apply_config(cfg);
        state.apply_hints();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1000.0, 600.0))
            .with_context_setup(kdviz::views::common::install_fonts)
            .wgpu()
            .build_ui(|ui| {
                let cx = kdviz::views::ViewCtx::new(&result, &colors, epoch).for_figure();
                kdviz::views::view_ui(ui, view, &cx, &mut state);
            });
        h.run_steps(4);
        results.add(h.try_snapshot(format!("view_{}{suffix}", view.name())));
    }
}

/// "What the student sees" on two small fits of the long-tail teacher: a top-8 teacher with a tail
/// bucket (next to plain FKL: the view opens on the run with options) and a bf16 JSD.
#[test]
fn sees_view_matches_its_snapshots() {
    use kdviz::views::state::{ToyState, View};
    let cases = [
        (vec!["fkl", "fkl:support=topk-tail,k=8"], "topk_tail"),
        (vec!["jsd:precision=bf16"], "jsd_bf16"),
    ];
    let mut results = egui_kittest::SnapshotResults::new();
    for (divs, suffix) in cases {
        let mut cfg = kdviz::toy::preset::load("akl-fig3-longtail").unwrap();
        cfg.divergences = divs.iter().map(|d| d.to_string()).collect();
        cfg.epochs = 60;
        let mut spec = cfg.to_spec().unwrap();
        spec.snapshots = kdviz::toy::SnapshotPlan {
            every: true,
            at: vec![],
        };
        let result = spec.run().unwrap();
        let losses: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
        let colors = kdviz::views::palette::run_colors(&losses);
        let mut state = ToyState::default();
        state.apply_config(cfg);
        let mut h = Harness::builder()
            .with_size(egui::vec2(1100.0, 720.0))
            .with_context_setup(kdviz::views::common::install_fonts)
            .wgpu()
            .build_ui(|ui| {
                let cx = kdviz::views::ViewCtx::new(&result, &colors, 40).for_figure();
                kdviz::views::view_ui(ui, View::Sees, &cx, &mut state);
            });
        h.run_steps(4);
        results.add(h.try_snapshot(format!("view_sees_{suffix}")));
    }
}

#[test]
fn export_writes_the_current_view() {
    let h = app();
    let dir = std::env::temp_dir().join(format!("kdviz-gui-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("view.svg");
    h.state().toy.export_view(svg.to_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("<circle"));
    let png = dir.join("view.png");
    h.state().toy.export_view(png.to_str().unwrap()).unwrap();
    assert_eq!(
        image::open(&png).unwrap().to_rgba8().dimensions(),
        (1920, 1200),
        "960x600 points at scale 2"
    );
    let csv = dir.join("view.csv");
    h.state().toy.export_view(csv.to_str().unwrap()).unwrap();
    assert!(
        std::fs::read_to_string(&csv)
            .unwrap()
            .starts_with("class,x,teacher,\"fkl @10\"")
    );
    let err = h
        .state()
        .toy
        .export_view(dir.join("view.pdf").to_str().unwrap())
        .unwrap_err();
    assert!(err.contains("cannot write .pdf"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
