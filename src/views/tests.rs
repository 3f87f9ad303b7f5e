//! The views as a person meets them, through [`view_ui`]: readable names, the epoch stamp, legends
//! that no inset hides, shared and fixed axes, densities, and drawing a teacher.

use super::distributions::{self, INSET_NAME};
use super::state::{ToyState, View};
use super::{ViewCtx, palette, view_ui};
use crate::toy::{FitResult, SnapshotPlan};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

/// A preset's fit with q kept at every epoch, as the app runs it.
fn fit(preset: &str) -> FitResult {
    let mut spec = crate::toy::preset::load(preset).unwrap().to_spec().unwrap();
    spec.snapshots = SnapshotPlan {
        every: true,
        at: vec![],
    };
    spec.run().unwrap()
}

/// The state the app has after opening `preset`.
fn state_for(preset: &str) -> ToyState {
    let mut state = ToyState::default();
    state.apply_config(crate::toy::preset::load(preset).unwrap());
    state.apply_hints();
    state
}

/// A harness drawing `view` through [`view_ui`] as the app does (or as a figure does, `figure`).
fn harness<'a>(
    result: &'a FitResult,
    state: ToyState,
    view: View,
    size: egui::Vec2,
    figure: bool,
) -> Harness<'a, ToyState> {
    let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
    let colors = palette::run_colors(&divs);
    let theme = match state.theme {
        super::state::Theme::Light => egui::Theme::Light,
        super::state::Theme::Dark => egui::Theme::Dark,
    };
    let mut builder = Harness::builder()
        .with_size(size)
        .with_theme(theme)
        .with_context_setup(super::common::install_fonts);
    if std::env::var_os("KDVIZ_ALLOW_TOFU").is_some() {
        // The gallery looks at every preset, TAID's "t: 0.4 → 1" included (no "→" in egui's font).
        builder = builder.allow_missing_glyphs();
    }
    let mut h = builder.build_ui_state(
        move |ui, state: &mut ToyState| {
            let mut cx = ViewCtx::new(result, &colors, state.epoch);
            if figure {
                cx = cx.for_figure();
            }
            egui::Frame::central_panel(ui.style()).show(ui, |ui| {
                ui.set_min_size(ui.available_size());
                view_ui(ui, view, &cx, state);
            });
        },
        state,
    );
    // egui_plot sizes its axes and legends from the previous frames.
    h.run_steps(4);
    h
}

/// Every view of the classroom presets in light and dark, overlaid and as small multiples, saved to
/// `/tmp/kdviz-gallery/` to look at (`cargo test --lib views::tests::gallery -- --ignored`).
#[test]
#[ignore]
fn gallery() {
    let dir = std::path::Path::new("/tmp/kdviz-gallery");
    std::fs::create_dir_all(dir).unwrap();
    let presets: Vec<String> = std::env::var("KDVIZ_GALLERY_PRESETS")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| {
            [
                "akl-fig3-longtail",
                "minillm-gmm",
                "akl-fig2-bimodal",
                "gjsd-beta-sweep",
                "longtail-all-divergences",
            ]
            .map(str::to_string)
            .to_vec()
        });
    let views: Vec<View> = std::env::var("KDVIZ_GALLERY_VIEWS")
        .map(|s| s.split(',').filter_map(View::from_name).collect())
        .unwrap_or_else(|_| vec![View::Distributions, View::HeadTail, View::Loss]);
    for preset in &presets {
        let result = fit(preset);
        for &view in &views {
            for theme in [super::state::Theme::Light, super::state::Theme::Dark] {
                for overlay in [false, true] {
                    if view != View::Distributions && overlay {
                        continue;
                    }
                    let mut state = state_for(preset);
                    state.theme = theme;
                    state.dist.overlay = overlay;
                    state.plots.log_epochs = view != View::Distributions;
                    let mut h = harness(&result, state, view, egui::vec2(1440.0, 820.0), false);
                    let name = format!(
                        "{preset}-{}-{}{}",
                        view.name(),
                        if theme == super::state::Theme::Dark {
                            "dark"
                        } else {
                            "light"
                        },
                        if overlay { "-overlay" } else { "" }
                    );
                    h.render()
                        .unwrap()
                        .save(dir.join(format!("{name}.png")))
                        .unwrap();
                }
            }
        }
    }
}

/// Every text the last frame painted (labels, tick labels, plot annotations, legends).
fn painted_text(h: &Harness<'_, ToyState>) -> Vec<String> {
    fn walk(shape: &egui::Shape, out: &mut Vec<String>) {
        match shape {
            egui::Shape::Text(t) => out.push(t.galley.text().to_string()),
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for clipped in &h.output().shapes {
        walk(&clipped.shape, &mut out);
    }
    out
}

/// The y range a plot showed in the last frame.
fn y_bounds(h: &Harness<'_, ToyState>, plot: egui::Id) -> [f64; 2] {
    let memory = egui_plot::PlotMemory::load(&h.ctx, plot).expect("the plot was drawn");
    let transform = memory.transform();
    let b = transform.bounds();
    [b.min()[1], b.max()[1]]
}

/// Legend entries are check boxes named like the curves; none may sit under a tail inset, in any
/// layout, size or sorting of the classes.
#[test]
fn no_legend_entry_lies_under_a_tail_inset() {
    let result = fit("akl-fig3-longtail");
    let curves = ["teacher", "FKL", "RKL", "AKL (μ = 0.5)"];
    for (overlay, sorted, size) in [
        (true, false, egui::vec2(1440.0, 820.0)),
        (true, true, egui::vec2(960.0, 600.0)),
        (true, false, egui::vec2(700.0, 460.0)),
        (false, false, egui::vec2(1440.0, 820.0)),
    ] {
        let mut state = state_for("akl-fig3-longtail");
        state.dist.overlay = overlay;
        state.dist.sorted = sorted;
        let h = harness(&result, state, View::Distributions, size, true);
        let insets: Vec<egui::Rect> = h.get_all_by_label(INSET_NAME).map(|n| n.rect()).collect();
        let case = format!("overlay {overlay}, sorted {sorted}, {size:?}");
        assert!(!insets.is_empty(), "{case}: no inset drawn");
        let entries: Vec<egui::Rect> = h
            .query_all_by_role(Role::CheckBox)
            .filter(|n| {
                n.accesskit_node()
                    .label()
                    .is_some_and(|l| curves.contains(&l.as_str()))
            })
            .map(|n| n.rect())
            .collect();
        if overlay {
            assert_eq!(
                entries.len(),
                4,
                "{case}: the legend lists the teacher and three runs"
            );
        }
        for inset in &insets {
            for entry in &entries {
                assert!(
                    !inset.intersects(*entry),
                    "{case}: legend entry {entry:?} under the inset {inset:?}"
                );
            }
        }
    }
}

/// What a person reads names the divergences as people write them, never by their spec strings.
#[test]
fn names_are_readable_in_every_view() {
    for preset in ["akl-fig3-longtail", "gjsd-beta-sweep"] {
        let result = fit(preset);
        let specs: Vec<String> = result
            .runs
            .iter()
            .map(|r| r.divergence.to_string())
            .filter(|s| s.contains(':'))
            .collect();
        let labels: Vec<String> = result.runs.iter().map(|r| r.divergence.label()).collect();
        for view in [View::Distributions, View::HeadTail, View::Loss] {
            for overlay in [false, true] {
                let mut state = state_for(preset);
                state.dist.overlay = overlay;
                let h = harness(&result, state, view, egui::vec2(1440.0, 820.0), false);
                let mut text = painted_text(&h);
                text.extend(
                    h.query_all_by(|_| true)
                        .filter_map(|n| n.accesskit_node().label().or_else(|| n.value())),
                );
                for spec in &specs {
                    assert!(
                        !text.iter().any(|t| t.contains(spec.as_str())),
                        "{preset} {}: {spec:?} is shown",
                        view.name()
                    );
                }
                for label in &labels {
                    assert!(
                        text.iter().any(|t| t.contains(label.as_str())),
                        "{preset} {}: {label:?} is not shown",
                        view.name()
                    );
                }
            }
        }
    }
}

/// Every view, in the app and as a figure, says which epoch it shows.
#[test]
fn every_view_carries_the_epoch_stamp() {
    let result = fit("minillm-gmm");
    for view in View::ALL {
        for figure in [false, true] {
            let mut state = state_for("minillm-gmm");
            state.epoch = 50;
            let h = harness(&result, state, view, egui::vec2(1100.0, 700.0), figure);
            assert!(
                painted_text(&h).iter().any(|t| t == "epoch 50 / 4000"),
                "{} (figure: {figure}) has no epoch stamp",
                view.name()
            );
        }
    }
}

/// Small multiples share one y range (their insets too) unless told otherwise.
#[test]
fn small_multiples_share_their_y_range() {
    let result = fit("akl-fig3-longtail");
    let panels = ["dist-0", "dist-1", "dist-2"];
    let ranges = |shared: bool| {
        let mut state = state_for("akl-fig3-longtail");
        state.dist.overlay = false;
        state.dist.shared_y = shared;
        let h = harness(
            &result,
            state,
            View::Distributions,
            egui::vec2(1440.0, 820.0),
            true,
        );
        let main: Vec<[f64; 2]> = panels
            .iter()
            .map(|id| y_bounds(&h, distributions::panel_plot_id(id)))
            .collect();
        let insets: Vec<[f64; 2]> = panels
            .iter()
            .map(|id| y_bounds(&h, distributions::inset_plot_id(id)))
            .collect();
        (main, insets)
    };
    let (main, insets) = ranges(true);
    for r in main.iter().chain(&insets) {
        assert!(r[1] > r[0]);
    }
    assert!(main.iter().all(|r| r == &main[0]), "{main:?}");
    assert!(insets.iter().all(|r| r == &insets[0]), "{insets:?}");
    // Each on its own: at epoch 10 the students' far tails differ, so the insets do.
    let (_, insets) = ranges(false);
    assert!(insets.iter().any(|r| r != &insets[0]), "{insets:?}");
}

/// While the app plays, the axes hold every epoch of the fit: nothing "breathes" from frame to frame.
#[test]
fn axes_stay_fixed_while_playing() {
    let result = fit("akl-fig3-longtail");
    let plot = distributions::panel_plot_id("dist-overlay");
    let bounds_at = |epoch: usize, playing: bool| {
        let mut state = state_for("akl-fig3-longtail");
        state.dist.overlay = true;
        state.epoch = epoch;
        state.playing = playing;
        let h = harness(
            &result,
            state,
            View::Distributions,
            egui::vec2(1100.0, 700.0),
            false,
        );
        y_bounds(&h, plot)
    };
    assert_eq!(bounds_at(1, true), bounds_at(300, true));
    assert_ne!(bounds_at(1, false), bounds_at(300, false));
}

/// On a continuous grid the view draws densities: p / Δx, which integrate to 1, on an axis that says so.
#[test]
fn continuous_grids_are_drawn_as_densities() {
    let result = fit("minillm-gmm");
    let divs: Vec<_> = result.runs.iter().map(|r| r.divergence).collect();
    let colors = palette::run_colors(&divs);
    let cx = ViewCtx::new(&result, &colors, 4000);
    let factors = distributions::density_factors(&cx);
    let xs = cx.xs();
    let density: Vec<f64> = cx.p().iter().zip(&factors).map(|(p, f)| p * f).collect();
    let integral: f64 = (1..xs.len())
        .map(|k| 0.5 * (density[k] + density[k - 1]) * (xs[k] - xs[k - 1]))
        .sum();
    assert!((integral - 1.0).abs() < 1e-3, "∫ density dx = {integral}");
    // The heavier mode, 0.7 N(−2.5, 0.8²), peaks near 0.7 / (0.8 √(2π)) ≈ 0.349.
    let peak = density.iter().copied().fold(0.0, f64::max);
    assert!((peak - 0.349).abs() < 0.01, "peak density {peak}");
    let h = harness(
        &result,
        state_for("minillm-gmm"),
        View::Distributions,
        egui::vec2(1100.0, 700.0),
        true,
    );
    let text = painted_text(&h);
    assert!(text.iter().any(|t| t == "density"));
    assert!(!text.iter().any(|t| t.contains("probability")));
    // The Gaussian students print μ and σ, and FKL and RKL say how they fit the two modes.
    assert!(
        text.iter()
            .any(|t| t.contains("covers both modes (mean-seeking)"))
    );
    assert!(
        text.iter()
            .any(|t| t.contains("locks onto one mode (mode-seeking)"))
    );
    assert!(
        text.iter().any(|t| t.contains("μ = −2.495, σ = 0.808")),
        "{text:?}"
    );
}

/// A drawn teacher: a click sets the clicked class to the clicked probability (the others rescaled),
/// a drag fills every class it crosses, and neither pans the plot.
#[test]
fn drawing_sets_the_clicked_probability_and_drags_fill_classes() {
    let toml = "epochs = 5\ndivergences = [\"fkl\"]\n[teacher]\nkind = \"probs\"\n\
                probs = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n\
                [student]\nkind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n";
    let config = crate::toy::FitConfig::from_toml(toml, "drawn").unwrap();
    let mut spec = config.to_spec().unwrap();
    spec.snapshots = SnapshotPlan {
        every: true,
        at: vec![],
    };
    let result = spec.run().unwrap();
    let mut state = ToyState::default();
    state.apply_config(config);
    state.epoch = 5;
    let mut h = harness(
        &result,
        state,
        View::Distributions,
        egui::vec2(1100.0, 700.0),
        false,
    );
    let plot = distributions::panel_plot_id("dist-overlay");
    let screen = |h: &Harness<'_, ToyState>, x: f64, y: f64| {
        let memory = egui_plot::PlotMemory::load(&h.ctx, plot).unwrap();
        memory
            .transform()
            .position_from_point(&egui_plot::PlotPoint::new(x, y))
    };
    let before = y_bounds(&h, plot);
    let probs = |h: &Harness<'_, ToyState>| match &h.state().config.teacher {
        crate::toy::TeacherSpec::Probs { probs } => probs.clone(),
        other => panic!("the teacher is no longer drawn: {other:?}"),
    };

    // A click at class 5, p = 0.02.
    let at = screen(&h, 5.0, 0.02);
    h.hover_at(at);
    h.run();
    h.drag_at(at);
    h.run();
    h.drop_at(at);
    h.run();
    let p = probs(&h);
    assert!((p[5] - 0.02).abs() < 5e-4, "class 5 has p = {}", p[5]);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(
        (p[0] - 0.98 / 19.0).abs() < 1e-6,
        "the others share the rest"
    );

    // A drag from class 8 at 0.03 to class 12 at 0.01 fills classes 8 to 12.
    let (from, to) = (screen(&h, 8.0, 0.03), screen(&h, 12.0, 0.01));
    h.hover_at(from);
    h.run();
    h.drag_at(from);
    h.run();
    for i in 1..=8 {
        h.hover_at(from + (to - from) * (i as f32 / 8.0));
        h.run();
    }
    h.drop_at(to);
    h.run();
    let p = probs(&h);
    for (k, want) in [(8, 0.03), (10, 0.02), (12, 0.01)] {
        assert!(
            (p[k] - want).abs() < 1.5e-3,
            "class {k}: p = {} (want {want})",
            p[k]
        );
    }
    assert!(p[9] < p[8] && p[11] < p[10] && p[11] > p[12], "{p:?}");
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(y_bounds(&h, plot), before, "the drag did not pan the plot");
}

/// With zoom/pan off (the default) a drag leaves a plot where it was; on, it pans.
#[test]
fn plots_pan_only_when_zoom_pan_is_on() {
    let result = fit("akl-fig3-longtail");
    let plot = distributions::panel_plot_id("dist-overlay");
    for zoom_pan in [false, true] {
        let mut state = state_for("akl-fig3-longtail");
        state.dist.overlay = true;
        state.plots.zoom_pan = zoom_pan;
        let mut h = harness(
            &result,
            state,
            View::Distributions,
            egui::vec2(1100.0, 700.0),
            false,
        );
        let before = y_bounds(&h, plot);
        let memory = egui_plot::PlotMemory::load(&h.ctx, plot).unwrap();
        let start = memory.transform().frame().center();
        h.hover_at(start);
        h.run();
        h.drag_at(start);
        h.run();
        for i in 1..=5 {
            h.hover_at(start + egui::vec2(0.0, 20.0 * i as f32));
            h.run();
        }
        h.drop_at(start + egui::vec2(0.0, 100.0));
        h.run();
        let after = y_bounds(&h, plot);
        assert_eq!(
            after != before,
            zoom_pan,
            "zoom/pan {zoom_pan}: {before:?} → {after:?}"
        );
    }
}

/// Every character of the readable names has a glyph (TAID's "→" comes from the fallback font).
#[test]
fn the_fonts_draw_every_name() {
    let ctx = egui::Context::default();
    super::common::install_fonts(&ctx);
    let mut out = ctx.run_ui(Default::default(), |_| {});
    out.textures_delta.clear();
    let names: Vec<String> = crate::math::FAMILIES
        .iter()
        .map(|f| f.default().label())
        .chain([
            "TAID (t: 0.4 → 1)".to_string(),
            "epoch 10 / 800 · μ = −1".to_string(),
        ])
        .collect();
    for name in names {
        for c in name.chars() {
            let drawn = ctx.fonts_mut(|f| f.has_glyph(&egui::FontId::proportional(15.0), c));
            assert!(drawn, "{c:?} of {name:?} has no glyph");
        }
    }
}

/// A series of more classes than pixels is drawn as each half-pixel's lowest and highest point: the
/// same picture from a bounded number of circles; a preset's 2401 points are drawn as they are.
#[test]
fn dense_series_draw_their_envelope() {
    let pts: Vec<[f64; 2]> = (0..100_000)
        .map(|i| [i as f64, ((i * 7919) % 1000) as f64])
        .collect();
    let drawn = super::common::envelope(pts.clone(), 500.0);
    assert!(drawn.len() <= 2000 && drawn.len() > 1900, "{}", drawn.len());
    assert!(drawn.windows(2).all(|w| w[0][0] < w[1][0]));
    let max = |v: &[[f64; 2]]| v.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
    let min = |v: &[[f64; 2]]| v.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
    assert_eq!((min(&drawn), max(&drawn)), (min(&pts), max(&pts)));
    // Each bucket of 50 classes keeps its own extremes.
    let bucket = &pts[50..100];
    assert!(
        drawn.contains(
            &bucket
                .iter()
                .copied()
                .max_by(|a, b| a[1].total_cmp(&b[1]))
                .unwrap()
        )
    );
    let grid: Vec<[f64; 2]> = (0..2401).map(|i| [i as f64, 1.0]).collect();
    assert_eq!(super::common::envelope(grid.clone(), 100.0), grid);
}

/// The contour view follows the scrubber: each panel states the student's mean and covariance at
/// the epoch shown (the ellipses are drawn from the same record).
#[test]
fn contours_follow_the_scrubber() {
    let result = fit("bishop-two-modes");
    let texts = |epoch: usize| {
        let mut state = state_for("bishop-two-modes");
        state.epoch = epoch;
        let h = harness(
            &result,
            state,
            View::Contours,
            egui::vec2(1100.0, 600.0),
            true,
        );
        painted_text(&h)
    };
    let start = texts(0);
    assert!(
        start
            .iter()
            .any(|t| t == "m = (−1, −0.5)  Σ = [[1, 0], [·, 1]]"),
        "{start:?}"
    );
    let m = result.runs[1].history[40].mean.unwrap();
    let want = format!(
        "m = ({}",
        crate::math::label::num((m[0] * 1000.0).round() / 1000.0)
    );
    let later = texts(40);
    assert!(
        later.iter().any(|t| t.starts_with(&want)),
        "{want}: {later:?}"
    );
    assert!(
        later
            .iter()
            .any(|t| t == "FKL optimum: moment matching (dotted)"),
        "{later:?}"
    );
}

/// The contour view's marginals: with the option on (bishop-factorised opens with it) each panel
/// has a plot above along x₁ and one at its right along x₂, with their axis labels; off, neither.
#[test]
fn contours_draw_marginals_with_their_labels() {
    let result = fit("bishop-factorised");
    let labels = super::contours::MARGINAL_LABELS;
    for marginals in [true, false] {
        let mut state = state_for("bishop-factorised");
        assert!(state.contours.marginals, "the preset asks for marginals");
        state.contours.marginals = marginals;
        let h = harness(
            &result,
            state,
            View::Contours,
            egui::vec2(1100.0, 600.0),
            false,
        );
        let texts = painted_text(&h);
        for label in labels {
            let n = texts.iter().filter(|t| *t == label).count();
            assert_eq!(n, if marginals { 2 } else { 0 }, "{label}: {texts:?}");
        }
        // The marginal above spans the contour plot's x range and its frame's width, the one at
        // the side its y range and its frame's height.
        let memory = |id| egui_plot::PlotMemory::load(&h.ctx, id);
        for run in 0..2 {
            let main = memory(super::contours::plot_id(run)).unwrap();
            let (top, side) = (
                memory(super::contours::marginal_plot_id(run, 0)),
                memory(super::contours::marginal_plot_id(run, 1)),
            );
            assert_eq!((top.is_some(), side.is_some()), (marginals, marginals));
            let (Some(top), Some(side)) = (top, side) else {
                continue;
            };
            let (m, t, s) = (main.transform(), top.transform(), side.transform());
            let close = |a: f32, b: f32| (a - b).abs() < 1.0;
            assert!(
                close(m.frame().left(), t.frame().left())
                    && close(m.frame().right(), t.frame().right()),
                "x₁ frames: {:?} {:?}",
                m.frame(),
                t.frame()
            );
            assert!(
                close(m.frame().top(), s.frame().top())
                    && close(m.frame().bottom(), s.frame().bottom()),
                "x₂ frames: {:?} {:?}",
                m.frame(),
                s.frame()
            );
            assert_eq!(m.bounds().range_x(), t.bounds().range_x());
            assert_eq!(m.bounds().range_y(), s.bounds().range_y());
            assert_eq!(t.bounds().min()[1], 0.0, "densities from 0");
        }
    }
}

/// DKD's gradient view names its two parts in the key and draws them in a plot of their own; a
/// preset without DKD shows neither.
#[test]
fn gradient_view_labels_dkd_target_and_non_target_parts() {
    use super::gradient::{NCKD_KEY, TCKD_KEY};
    let result = fit("dkd-split");
    let state = state_for("dkd-split");
    assert_eq!(
        state.active,
        View::Gradient,
        "dkd-split opens on the gradient view"
    );
    let h = harness(
        &result,
        state,
        View::Gradient,
        egui::vec2(1400.0, 900.0),
        true,
    );
    let text = painted_text(&h);
    for key in [TCKD_KEY, NCKD_KEY, "(DKD: the two sum to the force)"] {
        assert!(text.iter().any(|t| t == key), "{key:?} not in {text:?}");
    }
    // One "parts" plot per DKD run (two of the three runs), each naming the target class.
    assert_eq!(text.iter().filter(|t| *t == "parts").count(), 2, "{text:?}");
    assert_eq!(text.iter().filter(|t| *t == "target class 0").count(), 2);

    let other = fit("minillm-gmm");
    let h = harness(
        &other,
        state_for("minillm-gmm"),
        View::Gradient,
        egui::vec2(1400.0, 900.0),
        true,
    );
    let text = painted_text(&h);
    assert!(!text.iter().any(|t| t == TCKD_KEY || t == "parts"));
}

/// The EA-KD presets state the row weight in the gradient view, and its number is the spec's
/// `w = (H_t + H_t·H_s/H_ub)/2` of the entropies at wt = 3 (practice.md §7), computed here apart:
/// small on the peaked (easy) teacher, large on the flat (hard) one.
#[test]
fn gradient_view_states_eakd_row_weight_on_easy_and_hard_rows() {
    fn entropy(logits: &[f64], t: f64) -> f64 {
        let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|x| ((x - m) / t).exp()).collect();
        let s: f64 = e.iter().sum();
        -e.iter().map(|x| x / s * (x / s + 1e-10).ln()).sum::<f64>()
    }
    let epoch = 10;
    let mut weights = Vec::new();
    for preset in ["eakd-easy-row", "eakd-hard-row"] {
        let result = fit(preset);
        let state = state_for(preset);
        assert_eq!(
            state.active,
            View::Gradient,
            "{preset} opens on the gradient view"
        );
        // The student at the epoch: the kept q (logits up to a constant).
        let snap = result.runs[1].snapshots.iter().find(|s| s.epoch == epoch);
        let lq: Vec<f64> = snap.unwrap().q.iter().map(|q| q.ln()).collect();
        let lp = &result.teacher.dist.logp;
        let (ht, hs, hub) = (entropy(lp, 3.0), entropy(&lq, 3.0), (lp.len() as f64).ln());
        let w = 0.5 * (ht + ht * hs / hub);
        let mut state = state;
        state.epoch = epoch;
        let h = harness(
            &result,
            state,
            View::Gradient,
            egui::vec2(1400.0, 800.0),
            true,
        );
        let text = painted_text(&h);
        let want = format!("row weight w = {w:.3} (H_t {ht:.3}, H_s {hs:.3})");
        assert!(text.contains(&want), "{preset}: {want:?} not in {text:?}");
        // Only the EA-KD run carries a weight.
        assert_eq!(
            text.iter()
                .filter(|t| t.starts_with("row weight w = "))
                .count(),
            1
        );
        weights.push(w);
    }
    let (easy, hard) = (weights[0], weights[1]);
    assert!(easy < 0.9 && hard > 2.5, "easy w = {easy}, hard w = {hard}");
}
