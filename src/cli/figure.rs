//! `kdviz figure`: the app's views and paper-style layouts as PNG, SVG, GIF, APNG or CSV, headless.

use super::fit::ConfigSource;
use super::progress;
use super::values::{
    EpochList, LossSpec, Sweep, apply_sweep, epoch_list, loss_spec, number_in, sweep, whole,
};
use crate::figure::caption::{Caption, render_captioned_png, render_captioned_svg, views_grid_ui};
use crate::figure::format::format_of;
use crate::figure::raster::{check_pixels, save_png};
use crate::figure::{
    FigureSpec, Layout, Outcome, default_size, render_svg, view_csv, write_animation,
};
use crate::gpu::GpuContext;
use crate::math::Divergence;
use crate::real::corpus;
use crate::real::train::{EpochStats, StudentKind, TrainConfig, train};
use crate::toy::SnapshotPlan;
use crate::toy::lesson::{self, RealStep, Tab};
use crate::views::palette;
use crate::views::real::{RunState, plots};
use crate::views::state::{Theme, ToyState, View};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub const EXAMPLES: &str = "\
Examples:
  kdviz figure --preset akl-fig3-longtail --out fig3.png --scale 3    # epochs 1/5/10/300, 2x2
  kdviz figure --preset akl-fig3-longtail --out fig3.svg              # the same as vector SVG
  kdviz figure --preset minillm-gmm --view distributions --epochs 4000 --out minillm.png
  kdviz figure --preset zipf-1000 --layout rows --epochs 1,10,300 --out rows.png
  kdviz figure --preset akl-fig3-longtail --view distributions --frames 0:199 --out fig3.gif
  kdviz figure --preset minillm-gmm --view distributions --frames 0:400:10 --fps 10 \\
      --out minillm.apng
  kdviz figure --preset akl-weights --view headtail --theme dark --out weights.png
  kdviz figure --preset akl-fig3-longtail --out fig3.csv              # the numbers behind it
  kdviz figure --lesson mode-seeking --step 3 --out step3.png        # a lesson step, captioned
  kdviz figure --preset zipf-1000 --div fkl:support=topk,k=4 --sweep k=1,4,16,64,full \\
      --view headtail --out topk-sweep.png                          # the cost of k
  kdviz figure --preset akl-fig3-longtail --div fkl:support=topk-tail,k=8 --view sees \\
      --epochs 50 --out sees.png                                    # what the student sees";

/// `kdviz figure`: a view or a paper-style layout, drawn offscreen by the app's code.
#[derive(Debug, Args)]
pub struct FigureArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// A lesson (kdviz lessons lists them) instead of a preset: draws its --step with the caption
    #[arg(long, value_name = "NAME", group = "ConfigSource", requires = "step",
          conflicts_with_all = ["div", "sweep", "view", "layout", "epochs", "title", "frames"])]
    pub lesson: Option<String>,
    /// The lesson's step to draw, from 1 (kdviz lessons NAME lists them)
    #[arg(long, value_name = "N", requires = "lesson", value_parser = whole(1, 10_000))]
    pub step: Option<usize>,
    /// The file to write; its extension chooses the format: .png, .svg, .gif, .apng or .csv
    #[arg(long, value_name = "FILE")]
    pub out: String,
    /// Replaces the config's divergences (repeatable): fkl, rkl, akl:mu=0.5, with any practice
    /// option: fkl:support=topk-tail,k=16,tt=2 (see kdviz divergences)
    #[arg(long, value_name = "SPEC", value_parser = loss_spec)]
    pub div: Vec<LossSpec>,
    /// One run per value of a key of every divergence: k=1,4,16,64,full (full: the whole teacher),
    /// tt=1,2,4, mu=0.3,0.5,0.7, precision=f64,bf16, ...
    #[arg(long, value_name = "KEY=V1,V2,...", value_parser = sweep)]
    pub sweep: Option<Sweep>,
    /// The view to draw [default: the config's first view]
    #[arg(long, value_name = "VIEW", value_parser = view_parser())]
    pub view: Option<View>,
    /// view: one panel; epochs: one panel per epoch; rows: divergences as rows x epochs as columns
    /// [default: epochs for the distributions view at several epochs, else view]
    #[arg(long, value_name = "LAYOUT")]
    pub layout: Option<LayoutArg>,
    /// The epochs to draw, e.g. 1,5,10,300 [default: the config's snapshots or epoch]
    #[arg(long, value_name = "LIST", value_parser = epoch_list)]
    pub epochs: Option<EpochList>,
    /// PNG pixels per point, 1 to 8
    #[arg(long, value_name = "S", default_value_t = 2.0, value_parser = number_in(1.0, 8.0))]
    pub scale: f32,
    /// Colours of the figure
    #[arg(long, value_name = "THEME", value_enum, default_value_t = ThemeArg::Light)]
    pub theme: ThemeArg,
    /// Width in points, 200 to 8000 [default: by layout]
    #[arg(long, value_name = "W", value_parser = whole(200, 8000))]
    pub width: Option<usize>,
    /// Height in points, 150 to 8000 [default: by layout]
    #[arg(long, value_name = "H", value_parser = whole(150, 8000))]
    pub height: Option<usize>,
    /// A title above the figure
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// No background
    #[arg(long, overrides_with = "transparent")]
    pub transparent: bool,
    /// GIF/APNG: one frame per epoch of FROM:TO[:STEP], at most 2000 frames [default: 0:199]
    #[arg(long, value_name = "FROM:TO[:STEP]")]
    pub frames: Option<String>,
    /// GIF/APNG frames per second, 1 to 60 [default: 6]
    #[arg(long, value_name = "N", value_parser = whole(1, 60))]
    pub fps: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    View,
    Epochs,
    Rows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ThemeArg {
    Light,
    Dark,
}

impl From<ThemeArg> for Theme {
    fn from(t: ThemeArg) -> Theme {
        match t {
            ThemeArg::Light => Theme::Light,
            ThemeArg::Dark => Theme::Dark,
        }
    }
}

/// The view names of [`View::ALL`], listed in `--help` and checked by clap.
fn view_parser() -> impl TypedValueParser<Value = View> {
    PossibleValuesParser::new(View::ALL.map(View::name))
        .try_map(|name| View::from_name(&name).ok_or_else(|| format!("{name:?} is not a view")))
}

pub fn run(args: &FigureArgs) -> Result<(), String> {
    let out = args.out.as_str();
    let ext = format_of(
        &format!("--out {out:?}"),
        out,
        &["png", "svg", "gif", "apng", "csv"],
    )?;
    let animated = matches!(ext.as_str(), "gif" | "apng");
    // Animation flags on a still image are a mistake to say, not to ignore.
    if !animated {
        let given: Vec<&str> = [
            ("--frames", args.frames.is_some()),
            ("--fps", args.fps.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, set)| set.then_some(flag))
        .collect();
        if !given.is_empty() {
            let (verb, them) = if given.len() > 1 {
                ("apply", "them")
            } else {
                ("applies", "it")
            };
            return Err(format!(
                "{} only {verb} to animations; --out {out:?} is a still .{ext} image (write .gif or \
                 .apng, or leave {them} out)",
                given.join(" and ")
            ));
        }
    }
    if let (Some(name), Some(step)) = (&args.lesson, args.step) {
        return lesson_figure(args, name, step, &ext);
    }
    let mut cfg = args.source.load()?;
    // The view options are checked before the fit runs: a typo costs no wait.
    let mut state = ToyState::default();
    state.apply_config(cfg.clone());
    if let Some(problem) = state.apply_hints().first() {
        return Err(args.source.locate(problem));
    }
    if !args.div.is_empty() {
        cfg.divergences = args.div.iter().map(|d| d.raw.clone()).collect();
    }
    if let Some(s) = &args.sweep {
        cfg.divergences = apply_sweep(&cfg.divergences, s)?;
    }
    let view = match args.view {
        Some(v) => v,
        None => cfg
            .view
            .views
            .first()
            .and_then(|v| View::from_name(v))
            .unwrap_or(View::Distributions),
    };
    // By default the distributions view shows the preset's snapshot epochs as panels; other views one
    // epoch: the preset's own, else its last snapshot, else the end of the fit.
    let epochs = match &args.epochs {
        Some(EpochList(list)) => list.clone(),
        None if view == View::Distributions && !cfg.snapshots.is_empty() => cfg.snapshots.clone(),
        None => vec![
            cfg.view
                .epoch
                .or(cfg.snapshots.last().copied())
                .unwrap_or(cfg.epochs),
        ],
    };
    if let Some(&e) = epochs.iter().find(|&&e| e > cfg.epochs) {
        return Err(format!(
            "--epochs: epoch {e} is after the last epoch {}; expected 0 to {}",
            cfg.epochs, cfg.epochs
        ));
    }
    let layout = match args.layout {
        None if view == View::Distributions && epochs.len() > 1 => Layout::EpochGrid,
        None | Some(LayoutArg::View) => Layout::View,
        Some(LayoutArg::Epochs) => Layout::EpochGrid,
        Some(LayoutArg::Rows) => Layout::RowsByEpochs,
    };
    let d = default_size(layout, epochs.len(), cfg.divergences.len());
    let width = args.width.unwrap_or(d.x as usize);
    let height = args.height.unwrap_or(d.y as usize);
    let spec = FigureSpec {
        view,
        layout,
        epochs: epochs.clone(),
        title: args.title.clone(),
        size: egui::vec2(width as f32, height as f32),
        scale: args.scale,
        theme: args.theme.into(),
        transparent: args.transparent,
    };
    // An image too big to hold is refused before the fit, not after.
    if ext != "svg" && ext != "csv" {
        check_pixels(spec.size, spec.scale).map_err(|e| format!("--out {out}: {e}"))?;
    }

    let frames = match ext.as_str() {
        "gif" | "apng" => frame_epochs(args.frames.as_deref(), cfg.epochs)?,
        _ => Vec::new(),
    };
    // q at every epoch as the app keeps it (thinned for a big fit), the figure's epochs and frames
    // always.
    let mut fit = cfg.to_spec()?;
    fit.snapshots = SnapshotPlan {
        every: true,
        at: epochs.iter().chain(&frames).copied().collect(),
    };
    let result = progress::fit(&fit).map_err(|e| {
        if frames.is_empty() || !e.contains("of q kept at") {
            e
        } else {
            format!(
                "{e} (an animation keeps q at each of its {} frames)",
                frames.len()
            )
        }
    })?;
    // `--div` may have replaced the divergences the hints were checked with.
    state.apply_config(cfg.clone());
    state.apply_hints();
    // Figures overlay the students unless the config says otherwise.
    if cfg.view.overlay.is_none() {
        state.dist.overlay = true;
    }
    state.epoch = *epochs.last().unwrap_or(&0);

    let path = Path::new(out);
    match ext.as_str() {
        "csv" => write(path, view_csv(&result, view, &epochs)?.as_bytes()),
        "svg" => write(path, render_svg(&result, &state, &spec).as_bytes()),
        "png" => crate::figure::write_png(&result, &state, &spec, path),
        _ => {
            let fps = args.fps.unwrap_or(6) as u32;
            let never = std::sync::atomic::AtomicBool::new(false);
            let bar = progress::bar(frames.len(), "frames");
            // Without a terminal (a log, the tests) the bar is hidden: a line every 10 frames instead.
            let report = &mut |i: usize, n: usize| {
                if !bar.is_hidden() {
                    bar.set_position(i as u64);
                } else if i.is_multiple_of(10) || i == n {
                    eprintln!("kdviz: frame {i}/{n}");
                }
            };
            let outcome =
                write_animation(path, fps, &result, &state, &spec, &frames, &never, report);
            bar.finish_and_clear();
            match outcome? {
                Outcome::Done(_) => Ok(()),
                Outcome::Cancelled(_) => Err(format!("{out}: the animation was cancelled")),
            }
        }
    }
}

/// `FROM:TO[:STEP]` (inclusive); by default the first 200 epochs, as the AKL paper's animation.
fn frame_epochs(raw: Option<&str>, last: usize) -> Result<Vec<usize>, String> {
    let Some(raw) = raw else {
        return Ok((0..=last.min(199)).collect());
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let num = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("--frames {raw:?}; expected FROM:TO or FROM:TO:STEP"))
    };
    let (from, to, step) = match parts.as_slice() {
        [a, b] => (num(a)?, num(b)?, 1),
        [a, b, c] => (num(a)?, num(b)?, num(c)?),
        _ => {
            return Err(format!(
                "--frames {raw:?}; expected FROM:TO or FROM:TO:STEP"
            ));
        }
    };
    if from > to || to > last || step == 0 {
        return Err(format!(
            "--frames {raw}: expected FROM <= TO <= {last} and STEP >= 1"
        ));
    }
    let frames: Vec<usize> = (from..=to).step_by(step).collect();
    if frames.len() > 2000 {
        return Err(format!(
            "--frames {raw} gives {} frames; expected at most 2000",
            frames.len()
        ));
    }
    Ok(frames)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The default size in points of a lesson step's figure: room for the caption above the views.
pub const LESSON_FIGURE_SIZE: egui::Vec2 = egui::vec2(1400.0, 800.0);

/// `--lesson NAME --step N`: the step's views at its epoch (the end of its animation), its title
/// and caption above them; a real-model step trains on the built-in teacher and draws the tab's
/// metric plots.
fn lesson_figure(args: &FigureArgs, name: &str, n: usize, ext: &str) -> Result<(), String> {
    let out = args.out.as_str();
    if !matches!(ext, "png" | "svg") {
        return Err(format!(
            "--out {out}: a lesson step is drawn as .png or .svg; expected one of those"
        ));
    }
    let lesson = lesson::load(name)?;
    let step = lesson.step(n)?;
    let caption = Caption {
        context: Some(format!(
            "{} · step {n} of {}",
            lesson.title,
            lesson.steps.len()
        )),
        title: Some(step.title.clone()),
        text: step.caption.clone(),
        look_at: step.highlight.clone(),
    };
    let spec = FigureSpec {
        size: egui::vec2(
            args.width.map_or(LESSON_FIGURE_SIZE.x, |w| w as f32),
            args.height.map_or(LESSON_FIGURE_SIZE.y, |h| h as f32),
        ),
        scale: args.scale,
        theme: args.theme.into(),
        transparent: args.transparent,
        ..FigureSpec::default()
    };
    if ext == "png" {
        check_pixels(spec.size, spec.scale).map_err(|e| format!("--out {out}: {e}"))?;
    }
    let path = Path::new(out);
    match (&step.real, step.tab) {
        (Some(real), Tab::Real) => {
            let runs = train_real(real)?;
            let colors = palette::run_colors(&runs.iter().map(|r| r.div).collect::<Vec<_>>());
            let body = |ui: &mut egui::Ui| plots::metrics_ui(ui, &runs, &colors);
            write_captioned(path, ext, &spec, &caption, body)
        }
        _ => {
            let cfg = step.fit_config()?;
            let mut fit = cfg.to_spec()?;
            fit.snapshots = SnapshotPlan {
                every: true,
                at: vec![step.final_epoch(&cfg).min(cfg.epochs)],
            };
            let result = progress::fit(&fit)?;
            let mut state = ToyState::default();
            let mut problems = state.apply_config(cfg.clone());
            problems.extend(state.apply_hints());
            if let Some(p) = problems.first() {
                return Err(format!("lesson {name} step {n}: {p}"));
            }
            state.epoch = step.final_epoch(&cfg);
            let mut views: Vec<View> = cfg
                .view
                .views
                .iter()
                .filter_map(|v| View::from_name(v))
                .collect();
            if views.is_empty() {
                views.push(View::Distributions);
            }
            let body = |ui: &mut egui::Ui| views_grid_ui(ui, &result, &mut state, &views);
            write_captioned(path, ext, &spec, &caption, body)
        }
    }
}

fn write_captioned(
    path: &Path,
    ext: &str,
    spec: &FigureSpec,
    caption: &Caption,
    body: impl FnMut(&mut egui::Ui),
) -> Result<(), String> {
    if ext == "svg" {
        return write(path, render_captioned_svg(spec, caption, body).as_bytes());
    }
    save_png(&render_captioned_png(spec, caption, body)?, path)
}

/// Trains a real-model step's students on the built-in teacher (the GPU when there is one).
fn train_real(real: &RealStep) -> Result<Vec<RunState>, String> {
    let data = corpus::builtin();
    let cfg = TrainConfig {
        student: match real.rank {
            Some(rank) => StudentKind::LowRank { rank },
            None => StudentKind::Free,
        },
        epochs: real.epochs,
        ..TrainConfig::default()
    };
    let gpu = GpuContext::new().ok();
    let cancel = AtomicBool::new(false);
    let mut runs = Vec::new();
    for spec in &real.divergences {
        let div: Divergence = spec.parse().map_err(|e| format!("{e}"))?;
        let bar = progress::bar(cfg.epochs, div.to_string());
        let mut report = |s: &EpochStats| bar.set_position(s.epoch as u64);
        let r = train(gpu.as_ref(), &data, &div, &cfg, &cancel, &mut report);
        bar.finish_and_clear();
        runs.push(RunState::finished(r.map_err(|e| format!("{div}: {e}"))?));
    }
    Ok(runs)
}
