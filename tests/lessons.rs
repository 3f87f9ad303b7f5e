//! Lessons as a lecturer meets them: every step of every lesson opened from the menu and stepped
//! through with the keys and buttons (caption shown, views and setup switched, animations played to
//! their end), leave and resume (also across a restart), presenter mode, the help overlay; and the
//! command line: `kdviz lessons`, `kdviz figure --lesson` with its caption.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;
use common::{fails, kdviz};
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kdviz::app::lesson_bar::{Action, LEAVE, NEXT};
use kdviz::app::{KdvizApp, Mode, help, presenter};
use kdviz::figure::caption::{Caption, render_captioned_png};
use kdviz::toy::lesson::{self, Lesson, Step, Tab};
use kdviz::views::state::{Layout, ToyState, View};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

fn app() -> Harness<'static, KdvizApp> {
    app_with(ToyState::default())
}

fn app_with(state: ToyState) -> Harness<'static, KdvizApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), state));
    settle(&mut h);
    h
}

/// Runs frames until the refit requested by the last change has arrived and been drawn.
fn settle(h: &mut Harness<'static, KdvizApp>) {
    for _ in 0..50 {
        h.run_steps(2);
        assert!(
            h.state_mut().toy.wait_for_fit(Duration::from_secs(60)),
            "the refit did not finish"
        );
        h.run_steps(2);
        if !h.state().toy.is_fitting() {
            return;
        }
    }
    panic!("the app kept refitting");
}

fn has_label(h: &Harness<'static, KdvizApp>, text: &str) -> bool {
    h.query_all_by_label(text).next().is_some()
}

/// Opens the Lessons menu and clicks the entry whose label starts with `entry`.
fn menu(h: &mut Harness<'static, KdvizApp>, entry: &str) {
    for _ in 0..3 {
        if h.query_all_by_label_contains(entry).next().is_some() {
            break;
        }
        h.get_by_role_and_label(Role::Button, "Lessons").click();
        h.run_steps(2);
    }
    h.get_all_by_label_contains(entry)
        .next()
        .unwrap_or_else(|| panic!("no menu entry {entry:?}"))
        .click();
    h.run_steps(2);
}

/// The views a step asks for, as the app names them.
fn step_views(step: &Step) -> Vec<View> {
    let cfg = step.fit_config().unwrap();
    cfg.view
        .views
        .iter()
        .map(|v| View::from_name(v).unwrap())
        .collect()
}

/// The app shows step `i` of `l`: its caption, its place, and its setup.
fn assert_step(h: &mut Harness<'static, KdvizApp>, l: &Lesson, i: usize) {
    let step = &l.steps[i];
    let at = format!("{} step {}", l.name, i + 1);
    h.run_steps(2);
    if step.tab == Tab::Toy {
        settle(h);
    }
    assert_eq!(
        h.state()
            .lessons
            .current()
            .map(|(l, i)| (l.name.clone(), i)),
        Some((l.name.clone(), i)),
        "{at}"
    );
    assert!(has_label(h, &step.caption), "{at}: caption not shown");
    assert!(has_label(h, &step.title), "{at}: title not shown");
    assert!(
        has_label(h, &format!("step {} / {}", i + 1, l.steps.len())),
        "{at}"
    );
    match step.tab {
        Tab::Real => {
            let real = step.real.as_ref().unwrap();
            let app = h.state();
            assert_eq!(app.mode, Mode::Real, "{at}");
            assert!(
                app.real.settings.builtin && app.real.settings.low_rank,
                "{at}"
            );
            assert_eq!(Some(app.real.settings.rank), real.rank, "{at}");
            let divs: Vec<String> = app
                .real
                .settings
                .slots
                .iter()
                .map(|s| s.div.to_string())
                .collect();
            assert_eq!(divs, real.divergences, "{at}");
            assert!(app.real.is_running(), "{at}: the step trains at once");
            // The run is checked elsewhere (tests/real_train.rs); a test need not wait for it.
            h.state_mut().real.stop();
            h.run_steps(2);
        }
        Tab::Toy => {
            let cfg = step.fit_config().unwrap();
            let views = step_views(step);
            let toy = &h.state().toy;
            assert_eq!(h.state().mode, Mode::Toy, "{at}");
            let c = &toy.state.config;
            assert_eq!(
                (&c.teacher, &c.student, c.epochs),
                (&cfg.teacher, &cfg.student, cfg.epochs),
                "{at}"
            );
            let names: Vec<String> = toy
                .result()
                .unwrap()
                .runs
                .iter()
                .map(|r| r.divergence.to_string())
                .collect();
            let expected: Vec<String> = cfg
                .divergences
                .iter()
                .map(|s| {
                    s.parse::<kdviz::math::practice::Loss>()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(names, expected, "{at}: the fit on show is the step's");
            assert_eq!(toy.state.active, views[0], "{at}");
            if views.len() > 1 {
                assert_eq!(toy.state.layout, Layout::Grid, "{at}");
                assert_eq!(toy.state.grid_views, views, "{at}");
            } else {
                assert_eq!(toy.state.layout, Layout::Tabs, "{at}");
            }
            if let Some([from, to]) = step.animate {
                assert!(h.state().lessons.animating(), "{at}");
                let start = h.state().toy.state.epoch;
                assert!(start <= to && start >= from, "{at}: {start}");
                // The harness steps 0.25 s a frame: the default 8 s take 32 frames.
                for _ in 0..200 {
                    h.run_steps(1);
                    if !h.state().lessons.animating() {
                        break;
                    }
                }
                assert!(
                    !h.state().lessons.animating(),
                    "{at}: the animation never ended"
                );
                assert!(!h.state().toy.state.playing, "{at}");
            }
            assert_eq!(
                h.state().toy.state.epoch,
                step.final_epoch(&cfg),
                "{at}: the step's epoch"
            );
        }
    }
}

#[test]
fn every_lesson_steps_through_end_to_end_with_keys_and_buttons() {
    let mut h = app();
    for (k, l) in lesson::all().unwrap().iter().enumerate() {
        menu(&mut h, &l.title);
        // Lesson A moves on with PageDown, lesson B with the Right arrow; every third step with
        // the Next button.
        let key = if k == 0 {
            Key::PageDown
        } else {
            Key::ArrowRight
        };
        for i in 0..l.steps.len() {
            assert_step(&mut h, l, i);
            if i + 1 == l.steps.len() {
                break;
            }
            if i % 3 == 2 {
                h.get_by_label(NEXT).click();
            } else {
                h.key_press(key);
            }
            h.run_steps(1);
        }
        // Past the end nothing happens; back one step with PageUp or the Left arrow.
        let last = l.steps.len() - 1;
        h.key_press(key);
        h.run_steps(2);
        assert_eq!(h.state().lessons.current().unwrap().1, last);
        h.key_press(if k == 0 { Key::PageUp } else { Key::ArrowLeft });
        h.run_steps(1);
        assert_step(&mut h, l, last - 1);
        h.get_by_label(LEAVE).click();
        h.run_steps(2);
        assert!(!h.state().lessons.is_open());
    }
}

/// A plain eframe storage in memory.
#[derive(Default)]
struct MemStorage(HashMap<String, String>);

impl eframe::Storage for MemStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn a_left_lesson_resumes_at_its_step_also_after_a_restart() {
    let l = lesson::load("alpha-beta").unwrap();
    let mut h = app();
    menu(&mut h, &l.title);
    h.key_press(Key::PageDown);
    h.key_press(Key::PageDown);
    h.run_steps(1);
    assert_step(&mut h, &l, 2);
    h.get_by_label(LEAVE).click();
    h.run_steps(2);
    assert!(!h.state().lessons.is_open());
    assert!(
        !has_label(&h, &l.steps[2].caption),
        "the lesson bar is gone"
    );
    // Without a lesson the preset's description is the caption above the views.
    let description = h.state().toy.state.config.description.clone();
    assert!(has_label(&h, &description), "{description}");
    // The arrows step epochs again.
    let epoch = h.state().toy.state.epoch;
    h.key_press(Key::ArrowRight);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, epoch + 1);
    menu(
        &mut h,
        "Resume “α and β: hardness and confidence” at step 3 / 6",
    );
    assert_step(&mut h, &l, 2);

    // Saved and restarted: the lesson is open at the same step, the toy state is the step's.
    let mut storage = MemStorage::default();
    eframe::App::save(h.state_mut(), &mut storage);
    let state: ToyState = eframe::get_value(&storage, eframe::APP_KEY).unwrap();
    let mut again = app_with(state);
    again.state_mut().restore(&storage);
    again.run_steps(2);
    assert_eq!(again.state().lessons.progress, h.state().lessons.progress);
    assert_step(&mut again, &l, 2);
}

#[test]
fn the_arrows_move_between_steps_and_shift_arrows_between_epochs() {
    let l = lesson::load("alpha-beta").unwrap();
    let mut h = app();
    let ctx = h.ctx.clone();
    h.state_mut()
        .lesson_action(Action::Open(l.name.clone(), 0), &ctx);
    assert_step(&mut h, &l, 0);
    let epoch = h.state().toy.state.epoch;
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowRight);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, epoch + 1);
    assert_eq!(h.state().lessons.current().unwrap().1, 0);
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowLeft);
    h.run_steps(1);
    assert_eq!(h.state().toy.state.epoch, epoch);
    h.key_press(Key::ArrowRight);
    h.run_steps(1);
    assert_step(&mut h, &l, 1);
    h.key_press(Key::ArrowLeft);
    h.run_steps(1);
    assert_step(&mut h, &l, 0);
}

#[test]
fn presenter_mode_hides_the_panels_and_esc_leaves() {
    let mut h = app();
    let description = h.state().toy.state.config.description.clone();
    let normal = |h: &Harness<'static, KdvizApp>| {
        has_label(h, "Teacher") && has_label(h, "Export") && has_label(h, "ready")
    };
    assert!(normal(&h));
    assert!(has_label(&h, &description), "the preset's caption");
    h.key_press(Key::F5);
    h.run_steps(3);
    assert!(h.state().presenter.on);
    assert_eq!(h.ctx.zoom_factor(), presenter::DEFAULT_ZOOM);
    assert!(!has_label(&h, "Teacher"), "the settings panel is hidden");
    assert!(!has_label(&h, "Export"), "the top bar is hidden");
    assert!(!has_label(&h, "ready"), "the status bar is hidden");
    assert!(has_label(&h, &description), "the caption stays");
    assert!(has_label(&h, "Exit presenter (Esc)"));
    h.key_press(Key::Escape);
    h.run_steps(3);
    assert!(!h.state().presenter.on);
    assert_eq!(h.ctx.zoom_factor(), 1.0);
    assert!(normal(&h));
    // The menu entry, then the bar's button.
    menu(&mut h, "Presenter mode (F5)");
    h.run_steps(2);
    assert!(h.state().presenter.on && !has_label(&h, "Teacher"));
    h.get_by_label("Exit presenter (Esc)").click();
    h.run_steps(3);
    assert!(!h.state().presenter.on && normal(&h));
    // A lesson in presenter mode: the lesson bar with the caption, and the way out.
    let l = lesson::load("mode-seeking").unwrap();
    h.key_press(Key::F5);
    let ctx = h.ctx.clone();
    h.state_mut()
        .lesson_action(Action::Open(l.name.clone(), 2), &ctx);
    h.run_steps(2);
    assert_step(&mut h, &l, 2);
    assert!(!has_label(&h, "Teacher") && has_label(&h, "Exit presenter (Esc)"));
    h.key_press(Key::F5);
    h.run_steps(3);
    assert!(!h.state().presenter.on && has_label(&h, "Teacher"));
}

#[test]
fn the_help_overlay_opens_with_f1_or_question_mark_and_any_key_or_click_closes_it() {
    let l = lesson::load("alpha-beta").unwrap();
    let mut h = app();
    let ctx = h.ctx.clone();
    h.state_mut()
        .lesson_action(Action::Open(l.name.clone(), 0), &ctx);
    assert_step(&mut h, &l, 0);
    let shown = |h: &Harness<'static, KdvizApp>| {
        has_label(h, help::TITLE) && help::SHORTCUTS.iter().all(|(keys, _)| has_label(h, keys))
    };
    assert!(!has_label(&h, help::TITLE));
    h.key_press(Key::F1);
    h.run_steps(2);
    assert!(h.state().help_open && shown(&h));
    // The key that closes it does nothing else: the lesson stays at step 1, the epoch where it was.
    let epoch = h.state().toy.state.epoch;
    h.key_press(Key::ArrowRight);
    h.run_steps(2);
    assert!(!h.state().help_open && !has_label(&h, help::TITLE));
    assert_eq!(h.state().lessons.current().unwrap().1, 0);
    h.key_press(Key::F1);
    h.run_steps(2);
    assert!(shown(&h));
    h.key_press(Key::Space);
    h.run_steps(2);
    assert!(!h.state().help_open && !h.state().toy.state.playing);
    h.key_press(Key::F1);
    h.run_steps(2);
    assert!(shown(&h));
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowRight);
    h.run_steps(2);
    assert!(!h.state().help_open);
    assert_eq!(h.state().toy.state.epoch, epoch);
    h.key_press_modifiers(Modifiers::SHIFT, Key::Questionmark);
    h.run_steps(2);
    assert!(shown(&h));
    h.get_all_by_label(help::TITLE).next().unwrap().click();
    h.run_steps(2);
    assert!(!h.state().help_open && !has_label(&h, help::TITLE));
    // The top bar's button.
    h.get_by_role_and_label(Role::Button, "?").click();
    h.run_steps(2);
    assert!(shown(&h));
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(!h.state().help_open);
}

#[test]
fn the_preset_menu_shows_each_description_on_hover() {
    let mut h = app();
    let name = "minillm-gmm";
    let description = kdviz::toy::preset::load(name).unwrap().description;
    assert!(!has_label(&h, &description));
    for _ in 0..3 {
        if h.query_all_by_label(name).next().is_some() {
            break;
        }
        h.get_by_role_and_label(Role::ComboBox, "preset").click();
        h.run_steps(2);
    }
    h.get_all_by_label(name).last().unwrap().hover();
    h.run_steps(6);
    assert!(has_label(&h, &description), "{name}: no tooltip");
}

#[test]
fn lesson_view_names_are_the_apps() {
    assert_eq!(lesson::VIEW_NAMES, View::ALL.map(View::name));
}

#[test]
fn every_toy_step_sets_up_the_app_without_a_problem() {
    for l in lesson::all().unwrap() {
        for (i, step) in l
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tab == Tab::Toy)
        {
            let mut state = ToyState::default();
            let mut problems = state.apply_config(step.fit_config().unwrap());
            problems.extend(state.apply_hints());
            assert_eq!(problems, Vec::<String>::new(), "{} step {}", l.name, i + 1);
        }
    }
}

// ---- the command line ----

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdviz-lessons-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn kdviz_lessons_lists_names_titles_and_steps() {
    let (code, out, err) = kdviz(&["lessons"]);
    assert_eq!(code, 0, "{err}");
    let lessons = lesson::all().unwrap();
    assert_eq!(out.lines().count(), lessons.len(), "{out}");
    for (line, l) in out.lines().zip(&lessons) {
        assert!(line.starts_with(&l.name), "{line}");
        assert!(line.contains(&l.title), "{line}");
        assert!(
            line.ends_with(&format!("({} steps)", l.steps.len())),
            "{line}"
        );
    }
    let (code, out, err) = kdviz(&["lessons", "mode-seeking"]);
    assert_eq!(code, 0, "{err}");
    let l = lesson::load("mode-seeking").unwrap();
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for (i, s) in l.steps.iter().enumerate() {
        assert!(out.contains(&format!("{:>2}. {}", i + 1, s.title)), "{out}");
        let caption = s.caption.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&caption), "step {}: caption missing", i + 1);
    }
}

#[test]
fn bad_lesson_names_and_steps_exit_2_listing_what_exists() {
    fails(
        &["lessons", "mode-seekin"],
        "unknown lesson \"mode-seekin\"; expected one of mode-seeking, alpha-beta, bishop, practice",
    );
    let out = tmp("bad.png");
    let out = out.to_str().unwrap();
    fails(
        &[
            "figure",
            "--lesson",
            "alpha-beta",
            "--step",
            "7",
            "--out",
            out,
        ],
        "lesson alpha-beta has no step 7; expected 1 to 6",
    );
    fails(
        &[
            "figure",
            "--lesson",
            "alpha-beta",
            "--step",
            "0",
            "--out",
            out,
        ],
        "--step 0 is out of range",
    );
    fails(
        &["figure", "--lesson", "nope", "--step", "1", "--out", out],
        "unknown lesson \"nope\"; expected one of mode-seeking, alpha-beta, bishop, practice",
    );
    fails(
        &["figure", "--lesson", "alpha-beta", "--out", out],
        "--step N is missing",
    );
    fails(
        &[
            "figure",
            "--lesson",
            "alpha-beta",
            "--step",
            "1",
            "--out",
            "x.gif",
        ],
        "a lesson step is drawn as .png or .svg",
    );
    fails(
        &[
            "figure",
            "--lesson",
            "alpha-beta",
            "--step",
            "1",
            "--preset",
            "ab-plane",
            "--out",
            out,
        ],
        "give --lesson or --preset, not both",
    );
    fails(&["figure", "--out", out], "--lesson NAME is missing");
    fails(
        &["app", "--lesson", "nope"],
        "unknown lesson \"nope\"; expected one of mode-seeking, alpha-beta, bishop, practice",
    );
}

/// Every `<text>` of an SVG, joined with spaces and with runs of whitespace made single.
fn svg_text(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    texts
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_lesson_step_svg_holds_its_title_caption_and_views() {
    let l = lesson::load("alpha-beta").unwrap();
    let step = l.step(5).unwrap();
    let out = tmp("b5.svg");
    let (code, _, err) = kdviz(&[
        "figure",
        "--lesson",
        "alpha-beta",
        "--step",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = svg_text(&std::fs::read_to_string(&out).unwrap());
    let caption = step
        .caption
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        format!("{} · step 5 of 6", l.title),
        step.title.clone(),
        caption,
        format!("Look at: {}", step.highlight.as_deref().unwrap()),
        "Head / tail".into(),
        "Distributions".into(),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in the SVG's text");
    }
}

/// Pixels in rows `rows` darker than mid grey (text on the white page).
fn ink(img: &image::RgbaImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = img.get_pixel(x, y);
            p[3] > 0 && (p[0] as u32 + p[1] as u32 + p[2] as u32) < 3 * 128
        })
        .count()
}

#[test]
fn a_lesson_step_png_has_its_caption_band() {
    let out = tmp("a3.png");
    let (code, _, err) = kdviz(&[
        "figure",
        "--lesson",
        "mode-seeking",
        "--step",
        "3",
        "--scale",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let img = image::open(&out).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (1400, 800));
    // The title and two caption lines sit in the top 110 px: text, not an empty band.
    assert!(ink(&img, 30..110) > 2000, "{}", ink(&img, 30..110));

    // The same page drawn with and without a caption: only the captioned one has ink on top.
    let spec = kdviz::figure::FigureSpec {
        size: egui::vec2(600.0, 300.0),
        scale: 1.0,
        ..Default::default()
    };
    let caption = Caption {
        title: Some("A title".into()),
        text: "Two sentences of caption. They wrap when long.".into(),
        ..Caption::default()
    };
    let body = |ui: &mut egui::Ui| {
        ui.add_space(200.0);
        ui.label("body");
    };
    let with = render_captioned_png(&spec, &caption, body).unwrap();
    let empty = Caption::default();
    let without = render_captioned_png(&spec, &empty, body).unwrap();
    assert!(ink(&with, 0..70) > 300, "{}", ink(&with, 0..70));
    assert_eq!(ink(&without, 0..70), 0);
}
