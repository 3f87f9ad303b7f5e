//! `kdviz figure`: the app's views and paper-style layouts as PNG, SVG, GIF, APNG or CSV, headless.

use super::fit::ConfigSource;
use super::progress;
use super::values::{DivSpec, EpochList, div_spec, epoch_list, number_in, whole};
use crate::figure::{
    FigureSpec, Layout, Outcome, default_size, render_png, render_svg, view_csv, write_animation,
};
use crate::toy::SnapshotPlan;
use crate::views::state::{Theme, ToyState, View};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use std::path::Path;

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
  kdviz figure --preset akl-fig3-longtail --out fig3.csv              # the numbers behind it";

/// `kdviz figure`: a view or a paper-style layout, drawn offscreen by the app's code.
#[derive(Debug, Args)]
pub struct FigureArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// The file to write; its extension chooses the format: .png, .svg, .gif, .apng or .csv
    #[arg(long, value_name = "FILE")]
    pub out: String,
    /// Replaces the config's divergences (repeatable): fkl, rkl, akl:mu=0.5, ...
    #[arg(long, value_name = "SPEC", value_parser = div_spec)]
    pub div: Vec<DivSpec>,
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
    /// GIF/APNG frames per second, 1 to 60
    #[arg(long, value_name = "N", default_value_t = 6, value_parser = whole(1, 60))]
    pub fps: usize,
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
    let ext = Path::new(out)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !["png", "svg", "gif", "apng", "csv"].contains(&ext.as_str()) {
        return Err(format!(
            "--out {out}: cannot write .{ext} files; expected .png, .svg, .gif, .apng or .csv"
        ));
    }
    let mut cfg = args.source.load()?;
    if !args.div.is_empty() {
        cfg.divergences = args.div.iter().map(|d| d.raw.clone()).collect();
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

    let mut fit = cfg.to_spec()?;
    fit.snapshots = SnapshotPlan {
        every: true,
        at: Vec::new(),
    };
    let result = fit.run()?;
    let mut state = ToyState::default();
    state.apply_config(cfg.clone());
    if let Some(problem) = state.apply_hints().first() {
        return Err(format!("{}: {problem}", cfg.name));
    }
    // Figures overlay the students unless the config says otherwise.
    if cfg.view.overlay.is_none() {
        state.dist.overlay = true;
    }
    state.epoch = *epochs.last().unwrap_or(&0);

    let path = Path::new(out);
    match ext.as_str() {
        "csv" => write(path, view_csv(&result, view, &epochs)?.as_bytes()),
        "svg" => write(path, render_svg(&result, &state, &spec).as_bytes()),
        "png" => {
            let img = render_png(&result, &state, &spec)?;
            img.save(path)
                .map_err(|e| format!("{out}: cannot write: {e}"))
        }
        _ => {
            let frames = frame_epochs(args.frames.as_deref(), cfg.epochs)?;
            let fps = args.fps as u32;
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
