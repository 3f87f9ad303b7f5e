//! The whole app under egui_kittest: views inside the shell, sliders that refit, layouts.

use crate::app::KdvizApp;
use crate::views::state::{Layout, ToyState, View};
use egui_kittest::kittest::Queryable as _;
use std::time::Duration;

/// The whole app with the head/tail view open: moving the head mass μ refits, and the new fit's
/// head split follows. `KDVIZ_SAVE_VIEWS` saves the app in tabs and in the 2×2 grid.
#[test]
fn the_head_mass_slider_refits_the_app() {
    let settle = |h: &mut egui_kittest::Harness<'_, KdvizApp>| {
        for _ in 0..50 {
            h.run_steps(2);
            assert!(h.state_mut().toy.wait_for_fit(Duration::from_secs(30)));
            h.run_steps(2);
            if !h.state().toy.is_fitting() {
                return;
            }
        }
        panic!("the app kept refitting");
    };
    let state = ToyState {
        active: View::HeadTail,
        epoch: 120,
        ..ToyState::default()
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .with_theme(egui::Theme::Light)
        .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), state));
    settle(&mut h);
    let heads = |h: &egui_kittest::Harness<'_, KdvizApp>| {
        let r = &h.state().toy.result().unwrap().regions;
        r.head.iter().filter(|&&x| x).count()
    };
    let before = heads(&h);
    render_app(&mut h, "app-headtail");
    h.get_by_role_and_label(
        egui::accesskit::Role::Slider,
        crate::views::headtail::METRICS_MU,
    )
    .set_value_accesskit(0.9);
    settle(&mut h);
    assert!((h.state().toy.state.config.metrics.mu - 0.9).abs() < 1e-9);
    assert!(
        heads(&h) > before,
        "the head grows with mu: {before} → {}",
        heads(&h)
    );
    if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
        h.state_mut().toy.state.active = View::Loss;
        h.run_steps(6);
        render_app(&mut h, "app-loss");
        h.state_mut().toy.state.layout = Layout::Grid;
        h.run_steps(6);
        render_app(&mut h, "app-grid");
    }
}

fn render_app(h: &mut egui_kittest::Harness<'_, KdvizApp>, name: &str) {
    h.run_steps(4);
    if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
        let image = h.render().expect("render");
        image.save(format!("/tmp/kdviz-{name}.png")).unwrap();
    }
}

/// The app in its grid layout with the gradient and assistant views next to the distributions and
/// head/tail views: both draw, and the gradient view's "Δq" switch is a real control.
/// `KDVIZ_SAVE_VIEWS` saves the app.
#[test]
fn the_app_shows_the_gradient_and_assistant_views() {
    let state = ToyState {
        layout: Layout::Grid,
        grid_views: vec![
            View::Distributions,
            View::Gradient,
            View::HeadTail,
            View::Assistant,
        ],
        epoch: 10,
        ..ToyState::default()
    };
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .with_theme(egui::Theme::Light)
        .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), state));
    for _ in 0..50 {
        h.run_steps(2);
        assert!(h.state_mut().toy.wait_for_fit(Duration::from_secs(30)));
        h.run_steps(2);
        if !h.state().toy.is_fitting() {
            break;
        }
    }
    assert!(h.state().toy.result().is_some());
    h.run_steps(4);
    let image = h.render().expect("render");
    crate::views::gradient::tests::assert_drawn(&image);
    if std::env::var_os("KDVIZ_SAVE_VIEWS").is_some() {
        image.save("/tmp/kdviz-app-gradient-grid.png").unwrap();
    }
    h.get_by_label("Δq").click();
    h.run_steps(3);
    assert!(crate::views::gradient::shows_flow_only(
        &h.state().toy.state
    ));
}

fn disabled(node: egui_kittest::Node<'_>) -> bool {
    use egui_kittest::kittest::NodeT as _;
    node.accesskit_node().is_disabled()
}

/// The app on `state`, 1440×900, light theme.
fn app_on(state: ToyState) -> egui_kittest::Harness<'static, KdvizApp> {
    egui_kittest::Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .with_theme(egui::Theme::Light)
        .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), state))
}

/// Steps until the last requested refit is on show.
fn settle(h: &mut egui_kittest::Harness<'_, KdvizApp>) {
    for _ in 0..50 {
        h.run_steps(2);
        assert!(h.state_mut().toy.wait_for_fit(Duration::from_secs(30)));
        h.run_steps(2);
        if !h.state().toy.is_fitting() {
            return;
        }
    }
    panic!("the app kept refitting");
}

/// Undo and redo of settings: ↶/↷ and Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y; a slider dragged over many
/// frames is one step; Ctrl+Z in a text field is the text field's.
#[test]
fn undo_and_redo_settings() {
    use egui::accesskit::Role;
    use egui::{Key, Modifiers};
    let mut h = app_on(ToyState::default());
    settle(&mut h);
    let lr = |h: &egui_kittest::Harness<'_, KdvizApp>| h.state().toy.state.config.optimizer.lr();
    let before = lr(&h);
    let history = |h: &egui_kittest::Harness<'_, KdvizApp>| {
        h.state().toy.result().unwrap().runs[0].history.clone()
    };
    let fitted = history(&h);
    assert!(disabled(h.get_by_label("↶")), "nothing to undo yet");
    h.get_by_role_and_label(Role::Slider, "learning rate")
        .set_value_accesskit(0.05);
    settle(&mut h);
    assert_eq!(lr(&h), 0.05);
    assert_ne!(history(&h), fitted);
    assert_eq!(h.state().toy.undo_steps(), 1);

    h.get_by_label("↶").click();
    h.run_steps(2);
    assert_eq!(lr(&h), before, "undo restores the value");
    settle(&mut h);
    assert_eq!(history(&h), fitted, "and the fit of that value is on show");
    h.get_by_label("↷").click();
    h.run_steps(2);
    assert_eq!(lr(&h), 0.05, "redo re-applies it");

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(lr(&h), before, "Ctrl+Z");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert_eq!(lr(&h), 0.05, "Ctrl+Shift+Z");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert_eq!(lr(&h), 0.05, "Ctrl+Y");
    settle(&mut h);

    // A real drag of the AKL μ slider over several frames: one step, undone at once.
    let mu = |h: &egui_kittest::Harness<'_, KdvizApp>| h.state().toy.state.slots[2].div;
    let mu_before = mu(&h);
    let steps = h.state().toy.undo_steps();
    let rail = h.get_by_role_and_label(Role::Slider, "AKL μ (loss)").rect();
    let (y, x0) = (rail.center().y, rail.min.x + 0.45 * rail.width());
    h.drag_at(egui::pos2(x0, y));
    h.run_steps(2);
    for k in 1..=5 {
        h.hover_at(egui::pos2(x0 - 6.0 * k as f32, y));
        h.run_steps(2);
    }
    assert_ne!(mu(&h), mu_before, "the drag moves μ");
    assert_eq!(
        h.state().toy.undo_steps(),
        steps,
        "no step while the pointer is down"
    );
    h.drop_at(egui::pos2(x0 - 30.0, y));
    h.run_steps(2);
    assert_eq!(
        h.state().toy.undo_steps(),
        steps + 1,
        "the drag is one step"
    );
    settle(&mut h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(mu(&h), mu_before, "one undo takes the whole drag back");
    settle(&mut h);

    // Typing: Ctrl+Z belongs to the text field.
    let now = h.state().toy.state.clone();
    h.get_all_by_role(Role::TextInput)
        .next()
        .expect("a text field")
        .focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().toy.state, now, "no undo while typing");
    h.key_press(Key::Escape);
    h.run_steps(1);

    // The real-model tab's Ctrl+Z is not the toy's.
    h.state_mut().mode = crate::app::Mode::Real;
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(
        h.state().toy.state,
        now,
        "no toy undo on the real-model tab"
    );
    h.state_mut().mode = crate::app::Mode::Toy;
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_ne!(
        h.state().toy.state,
        now,
        "back on the toy tab, Ctrl+Z undoes"
    );
}

/// The side panel names divergences readably (the spec in the tooltip), keeps its width whatever the
/// names, tells the two μ apart, and greys out parameters that do nothing.
#[test]
fn the_side_panel_is_readable_and_honest() {
    use crate::math::Divergence;
    use crate::views::state::Slot;
    use egui::accesskit::Role;
    let mut h = app_on(ToyState::default());
    settle(&mut h);
    for name in ["FKL", "RKL", "AKL (μ = 0.5)"] {
        h.get_by_role_and_label(Role::CheckBox, name);
    }
    h.get_by_role_and_label(Role::Slider, "AKL μ (loss)");
    let right = |h: &egui_kittest::Harness<'_, KdvizApp>| {
        h.get_all_by_label("x")
            .map(|n| n.rect().max.x)
            .fold(0.0_f32, f32::max)
    };
    // Two short names first, so that the panel's scroll bar is there in both measurements.
    for spec in ["fkl", "rkl"] {
        h.state_mut().toy.state.slots.push(Slot {
            div: spec.parse().unwrap(),
            enabled: true,
        });
    }
    h.run_steps(4);
    let width = right(&h);
    let long: Divergence = "amid:alpha=-3.5,lambda=0.25,div=ab,ab_alpha=0.35,ab_beta=0.85,order=rq"
        .parse()
        .unwrap();
    let taid: Divergence =
        "taid:t_start=0.123,t_end=0.987,rate=0.00025,momentum=0.975,adaptive=false"
            .parse()
            .unwrap();
    let n = h.state().toy.state.slots.len();
    for (i, div) in [long, taid].into_iter().enumerate() {
        h.state_mut().toy.state.slots[n - 2 + i].div = div.into();
    }
    h.run_steps(4);
    assert!(long.label().len() > 40, "{}", long.label());
    assert_eq!(right(&h), width, "a long name does not widen the panel");
    // The TAID schedule without the adaptive step: its rate and momentum do nothing.
    assert!(disabled(
        h.get_by_role_and_label(Role::Slider, "TAID t rate")
    ));
    assert!(disabled(
        h.get_by_role_and_label(Role::Slider, "TAID momentum")
    ));
    assert!(!disabled(
        h.get_by_role_and_label(Role::Slider, "TAID t start")
    ));
    // Each slot's collapsed Practice line pushes the last slot below the panel's fold: scroll to it.
    h.get_by_role_and_label(
        Role::CheckBox,
        "adaptive step (off: t follows the linear floor)",
    )
    .scroll_to_me();
    // Until the scroll's animation has ended: the click goes where the box is then.
    h.run_steps(40);
    h.get_by_role_and_label(
        Role::CheckBox,
        "adaptive step (off: t follows the linear floor)",
    )
    .click();
    h.run_steps(2);
    assert!(!disabled(
        h.get_by_role_and_label(Role::Slider, "TAID t rate")
    ));
    // The metrics' μ is a different slider with a different name (the added runs gone, so that
    // the metrics section is in view).
    h.state_mut().toy.state.slots.truncate(n - 2);
    h.run_steps(2);
    let metrics_mu = super::panels::optimizer::METRICS_MU;
    assert!(
        h.query_by_role_and_label(Role::Slider, metrics_mu)
            .is_none()
    );
    h.get_by_label("metrics").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Slider, metrics_mu);
}

/// A preset longer than the fit on show opens on its own epoch: the scrubber follows the settings,
/// not the previous preset's fit, while the new fit arrives.
#[test]
fn a_longer_preset_opens_on_its_epoch() {
    let mut h = app_on(ToyState::default());
    settle(&mut h);
    assert_eq!(h.state().toy.last_epoch(), 800);
    h.state_mut().toy.load_preset("minillm-gmm");
    h.run_steps(3);
    settle(&mut h);
    assert_eq!(h.state().toy.state.epoch, 4000);
    assert_eq!(h.state().toy.last_epoch(), 4000);
}

/// Dragging a teacher component by its mean on the contour plot moves that component and refits:
/// the new fit's teacher has the mean where the drag ended, and FKL's student follows the mixture's
/// moments there.
#[test]
fn dragging_a_teacher_component_refits() {
    use crate::toy::{TeacherSpec, plane};
    use crate::views::contours;
    let mut state = ToyState::default();
    state.apply_config(crate::toy::preset::load("bishop-two-modes").unwrap());
    state.apply_hints();
    assert_eq!(state.active, View::Contours);
    let mut h = app_on(state);
    settle(&mut h);
    let screen = |h: &egui_kittest::Harness<'_, KdvizApp>, x: f64, y: f64| {
        let memory = egui_plot::PlotMemory::load(&h.ctx, contours::plot_id(0)).unwrap();
        memory
            .transform()
            .position_from_point(&egui_plot::PlotPoint::new(x, y))
    };
    let (from, to) = (screen(&h, -2.0, -2.0), screen(&h, -1.0, -4.0));
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for i in 1..=6 {
        h.hover_at(from + (to - from) * (i as f32 / 6.0));
        h.step();
    }
    h.drop_at(to);
    h.step();
    settle(&mut h);
    let mean = match &h.state().toy.state.config.teacher {
        TeacherSpec::Mixture2d { components, .. } => components[0].mean,
        other => panic!("the teacher is no longer 2-D: {other:?}"),
    };
    // The drop point to within a screen pixel (about 0.05 on this plot).
    assert!(
        (mean[0] + 1.0).abs() < 0.06 && (mean[1] + 4.0).abs() < 0.06,
        "component 1 at {mean:?}"
    );
    let result = h.state().toy.result().unwrap();
    let fitted = result.teacher.plane.as_ref().unwrap();
    assert_eq!(
        fitted.components[0].mean, mean,
        "the fit on show has the moved teacher"
    );
    let (m, _) = plane::moments(&fitted.components);
    let fkl = result.runs[0].history.last().unwrap().mean.unwrap();
    assert!(
        (fkl[0] - m[0]).abs() < 0.05 && (fkl[1] - m[1]).abs() < 0.05,
        "FKL's mean {fkl:?}, the mixture's {m:?}"
    );
    assert!(m[1] < -0.8, "the mixture's mean moved down: {m:?}");
}

/// The Practice section under a divergence: choosing top-k gives the slot a top-k loss and
/// refits; a support the family refuses is greyed out (RKL has no sampled support).
#[test]
fn the_practice_section_sets_a_support_and_greys_out_what_a_family_refuses() {
    use egui::accesskit::Role;
    let mut h = app_on(ToyState::default());
    settle(&mut h);
    assert_eq!(h.state().toy.state.slots[0].div.to_string(), "fkl");
    h.get_all_by_label("Practice: full teacher, no rounding")
        .next()
        .unwrap()
        .click();
    h.run_steps(4);
    h.get_by_role_and_label(Role::Button, "top-k").click();
    h.run_steps(2);
    settle(&mut h);
    let k = 16.min(h.state().toy.result().unwrap().teacher.dist.len());
    assert_eq!(
        h.state().toy.state.slots[0].div.to_string(),
        format!("fkl:support=topk,k={k}")
    );
    let run = &h.state().toy.result().unwrap().runs[0];
    assert_eq!(
        run.divergence.to_string(),
        format!("fkl:support=topk,k={k}")
    );
    // RKL's section (now the first with no option): its sampled support is refused.
    h.get_all_by_label("Practice: full teacher, no rounding")
        .next()
        .unwrap()
        .click();
    h.run_steps(4);
    let sampled: Vec<_> = h.get_all_by_label("sampled").collect();
    assert_eq!(sampled.len(), 2);
    assert!(!disabled(sampled[0]), "fkl takes a sampled teacher");
    assert!(disabled(sampled[1]), "rkl does not");
}
