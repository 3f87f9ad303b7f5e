//! The whole app under egui_kittest: views inside the shell, sliders that refit, layouts.

use crate::app::KdvizApp;
use crate::views::state::{Layout, ToyState, View};
use egui_kittest::kittest::Queryable as _;
use std::time::Duration;

/// The whole app with the head/tail view open: moving "head mass mu" refits, and the new fit's
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
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "head mass mu")
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
