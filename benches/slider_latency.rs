//! Slider-to-screen latency of every preset, measured headless through egui_kittest.
//!
//! `cargo bench --bench slider_latency` opens each preset in the app (its own views, 1920×1080
//! points), then moves a setting the way a slider does (the state changes in a frame, the frame's end
//! requests the refit) and runs frames when the app asks for one, as eframe does (at once when the
//! fit worker wakes it, after the delay it asks for otherwise), until the first frame that draws the
//! new fit ("first view": with a long fit, its first epochs) and the frame that draws the whole fit
//! ("whole fit"); times are taken at the end of those frames. The
//! moved settings: the learning rate on every preset, and the first mixture component's mean on
//! mixture teachers (a teacher change also restarts the loss landscape's maps). "App refit" is the
//! worker's time for the whole fit, as the status bar prints it ("refit 12.3 ms"); "worker alone" the
//! same fit run by `FitWorker::run_now` without the app around it; "CLI fit" is the
//! fit `kdviz fit --preset NAME` runs (`FitSpec::run`, q kept at the preset's snapshot epochs only),
//! timed in process. Medians of `KDVIZ_BENCH_REPEATS` moves (default 7); `cargo bench --bench
//! slider_latency -- NAME` measures one preset; `KDVIZ_BENCH_EPOCHS=N` fits every preset for N
//! epochs instead of its own (issue 12's 2-D goal: 3,000). On a 2-D teacher the moved mean is the
//! first component's x.
#![allow(clippy::unwrap_used)] // benches may unwrap

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use kdviz::app::KdvizApp;
use kdviz::app::fit_worker::FitWorker;
use kdviz::toy::{FitResult, OptimizerSpec, TeacherSpec, preset};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When the app asked for its next frame (egui's repaint requests, from any thread).
type Wake = Arc<Mutex<Option<Instant>>>;

fn watch_repaints(h: &App) -> Wake {
    let wake: Wake = Arc::default();
    let w = wake.clone();
    h.ctx.set_request_repaint_callback(move |info| {
        let at = Instant::now() + info.delay;
        if let Ok(mut next) = w.lock() {
            *next = Some(next.map_or(at, |n: Instant| n.min(at)));
        }
    });
    wake
}

/// True (and forgotten) once the requested repaint is due.
fn due(wake: &Wake) -> bool {
    let Ok(mut next) = wake.lock() else {
        return true;
    };
    match *next {
        Some(at) if at <= Instant::now() => {
            *next = None;
            true
        }
        _ => false,
    }
}

type App = Harness<'static, KdvizApp>;

/// A setting moved as a slider would: the `i`-th move of a run of them.
type Move = Box<dyn Fn(&mut App, usize)>;

fn settle(h: &mut App) {
    for _ in 0..200 {
        h.step();
        h.state_mut().toy.wait_for_fit(Duration::from_secs(120));
        h.step();
        if !h.state().toy.is_fitting() {
            h.run_steps(2);
            return;
        }
    }
    panic!("the app kept refitting");
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn shown(h: &App) -> *const FitResult {
    h.state()
        .toy
        .result()
        .map_or(std::ptr::null(), |r| r as *const _)
}

/// Applies `change` to the app's state as a slider would, then steps frames until the new fit is
/// drawn: (first frame with the new fit, frame with the whole fit), in ms from the change.
fn move_and_time(h: &mut App, wake: &Wake, change: &dyn Fn(&mut App)) -> (f64, f64) {
    let before = shown(h);
    change(h);
    let t0 = Instant::now();
    let mut first = None;
    let mut frame = true; // the slider's own frame
    loop {
        if frame {
            h.step();
            let now = t0.elapsed().as_secs_f64() * 1e3;
            if first.is_none() && shown(h) != before {
                first = Some(now);
            }
            if first.is_some() && !h.state().toy.is_fitting() {
                return (first.unwrap_or(now), now);
            }
            assert!(now < 120_000.0, "no fit after two minutes");
        }
        std::thread::sleep(Duration::from_micros(100));
        frame = due(wake);
    }
}

/// The status bar's "refit 12.3 ms".
fn refit_ms(h: &App) -> f64 {
    h.query_all_by(|n| n.value().is_some_and(|v| v.starts_with("refit ")))
        .next()
        .and_then(|n| n.accesskit_node().value())
        .and_then(|l| {
            let ms = l
                .split("refit ")
                .nth(1)?
                .split(" ms")
                .next()?
                .trim()
                .to_string();
            ms.parse().ok()
        })
        .unwrap_or(f64::NAN)
}

fn set_lr(h: &mut App, lr: f64) {
    match &mut h.state_mut().toy.state.config.optimizer {
        OptimizerSpec::Adam { lr: x, .. } | OptimizerSpec::Sgd { lr: x, .. } => *x = lr,
    }
}

fn set_mean(h: &mut App, mean: f64) {
    match &mut h.state_mut().toy.state.config.teacher {
        TeacherSpec::Mixture { components, .. } => components[0].mean = mean,
        TeacherSpec::Mixture2d { components, .. } => components[0].mean[0] = mean,
        _ => {}
    }
}

fn main() {
    let repeats: usize = std::env::var("KDVIZ_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let only: Option<String> = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let epochs: Option<usize> = std::env::var("KDVIZ_BENCH_EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .build_eframe(|cc| KdvizApp::with_state(cc.egui_ctx.clone(), Default::default()));
    let wake = watch_repaints(&h);
    settle(&mut h);
    println!(
        "| preset | divergences × epochs × classes | CLI fit (ms) | worker alone (ms) | setting moved | first view (ms) | whole fit on screen (ms) | app refit (ms) | app refit / CLI |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, _) in preset::PRESETS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut cfg = preset::load(name).unwrap();
        if let Some(e) = epochs {
            cfg.epochs = e;
            cfg.view.epoch = None;
            cfg.snapshots.retain(|&s| s <= e);
        }
        let spec = cfg.to_spec().unwrap();
        spec.run().unwrap(); // warm
        let mut cli: Vec<f64> = (0..repeats)
            .map(|_| {
                let t0 = Instant::now();
                spec.run().unwrap();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let cli = median(&mut cli);
        // The app's refit without the app around it: the worker's fit of the app's spec.
        let app_spec = {
            let mut st = kdviz::views::state::ToyState::default();
            st.apply_config(cfg.clone());
            st.fit_spec().unwrap()
        };
        let mut alone: Vec<f64> = (0..repeats)
            .map(|_| {
                let t0 = Instant::now();
                FitWorker::run_now(&app_spec).unwrap();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let alone = median(&mut alone);
        h.state_mut().toy.load_preset(name);
        if let Some(e) = epochs {
            h.state_mut().toy.state.config.epochs = e;
        }
        settle(&mut h);
        let classes = h.state().toy.result().map_or(0, |r| r.teacher.dist.len());
        let size = format!("{} × {} × {classes}", spec.divergences.len(), spec.epochs);
        let lr0 = spec.optimizer.lr();
        let mut moves: Vec<(&str, Move)> = vec![(
            "learning rate",
            Box::new(move |h: &mut App, i: usize| {
                set_lr(h, lr0 * if i.is_multiple_of(2) { 1.02 } else { 1.0 })
            }),
        )];
        let first_mean = match &spec.teacher {
            TeacherSpec::Mixture { components, .. } => Some(components[0].mean),
            TeacherSpec::Mixture2d { components, .. } => Some(components[0].mean[0]),
            _ => None,
        };
        if let Some(m0) = first_mean {
            moves.push((
                "mixture mean 1",
                Box::new(move |h: &mut App, i: usize| {
                    set_mean(h, m0 + if i.is_multiple_of(2) { 0.1 } else { 0.0 })
                }),
            ));
        }
        for (label, change) in &moves {
            let (mut first, mut whole, mut refit) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..repeats {
                let (f, w) = move_and_time(&mut h, &wake, &|h: &mut App| change(h, i));
                first.push(f);
                whole.push(w);
                h.run_steps(2);
                refit.push(refit_ms(&h));
            }
            let refit = median(&mut refit);
            println!(
                "| {name} | {size} | {cli:.1} | {alone:.1} | {label} | {:.1} | {:.1} | {refit:.1} | {:.2} |",
                median(&mut first),
                median(&mut whole),
                refit / cli
            );
        }
    }
}
