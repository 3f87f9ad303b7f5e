//! Frame time of the app and refit latency after a slider move, measured headless through egui_kittest.
//!
//! `cargo bench --bench frame_time` prints, for a few presets and layouts, the time spent building one
//! frame (the app's `ui()`; rasterising is the GPU's job and is not included) and the time from a slider
//! move until the refit has arrived (the fit runs off the UI thread, so frames keep coming meanwhile).
#![allow(clippy::unwrap_used)] // tests may unwrap

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kdviz::app::KdvizApp;
use kdviz::views::state::{Layout, View};
use std::time::{Duration, Instant};

fn settle(h: &mut Harness<'static, KdvizApp>) {
    for _ in 0..100 {
        h.run_steps(1);
        h.state_mut().toy.wait_for_fit(Duration::from_secs(60));
        h.run_steps(1);
        if !h.state().toy.is_fitting() {
            return;
        }
    }
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Median and 95th percentile of the app's own per-frame time over `frames` frames.
fn frame_times(h: &mut Harness<'static, KdvizApp>, frames: usize) -> (f64, f64) {
    let mut t = Vec::with_capacity(frames);
    for i in 0..frames {
        h.state_mut().toy.state.epoch = i % 300; // scrub, as a playing animation would
        h.step();
        t.push(h.state().last_frame_ms());
    }
    (percentile(&mut t, 0.5), percentile(&mut t, 0.95))
}

fn main() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_eframe(|cc| KdvizApp::new(cc));
    settle(&mut h);
    println!("frame time = the app's ui() per frame (median / p95, ms), 1600x1000 logical points");
    for preset in [
        "akl-fig3-longtail",
        "zipf-1000",
        "minillm-gmm",
        "longtail-all-divergences",
    ] {
        h.state_mut().toy.load_preset(preset);
        settle(&mut h);
        for view in View::ALL {
            h.state_mut().toy.state.layout = Layout::Tabs;
            h.state_mut().toy.state.active = view;
            h.run_steps(3);
            let (med, p95) = frame_times(&mut h, 60);
            println!(
                "  {preset:<26} {:<26} {med:>7.2} / {p95:>7.2}",
                view.title()
            );
        }
        h.state_mut().toy.state.layout = Layout::Grid;
        h.state_mut().toy.state.grid_views = vec![
            View::Distributions,
            View::HeadTail,
            View::Loss,
            View::Gradient,
        ];
        h.run_steps(3);
        let (med, p95) = frame_times(&mut h, 60);
        println!(
            "  {preset:<26} {:<26} {med:>7.2} / {p95:>7.2}",
            "grid of 4 views"
        );
    }
    println!("refit latency after a slider move (ms; the UI keeps drawing meanwhile)");
    for (preset, slider, value) in [
        ("akl-fig3-longtail", "AKL μ (loss)", 0.3),
        ("zipf-1000", "AKL μ (loss)", 0.3),
        ("minillm-gmm", "learning rate", 0.02),
    ] {
        h.state_mut().toy.load_preset(preset);
        settle(&mut h);
        let mut lat = Vec::new();
        for i in 0..7 {
            let v = value + 0.01 * i as f64;
            let t0 = Instant::now();
            h.get_by_role_and_label(Role::Slider, slider)
                .set_value_accesskit(v);
            h.step();
            h.state_mut().toy.wait_for_fit(Duration::from_secs(60));
            lat.push(t0.elapsed().as_secs_f64() * 1e3);
            h.step();
        }
        let runs = h.state().toy.result().map_or(0, |r| r.runs.len());
        println!(
            "  {preset:<26} {runs} divergences, {slider:<14} {:>8.1} (median of 7)",
            percentile(&mut lat, 0.5)
        );
    }
}
