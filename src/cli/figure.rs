//! `kdviz figure`: the app's views and paper-style layouts as PNG, SVG, GIF, APNG or CSV, headless.

use super::args::{Args, Schema, epoch_list};
use super::fit::load_config;
use crate::figure::{
    FigureSpec, Layout, Outcome, default_size, render_png, render_svg, view_csv, write_animation,
};
use crate::math::Divergence;
use crate::toy::SnapshotPlan;
use crate::views::state::{Theme, ToyState, View};
use std::path::Path;

pub const SCHEMA: Schema = Schema {
    valued: &[
        "preset", "config", "div", "out", "view", "layout", "epochs", "scale", "theme", "width",
        "height", "title", "fps", "frames",
    ],
    switches: &["transparent"],
};

const VIEWS: &str = "distributions, headtail, loss, gradient, landscape, abplane or assistant";

pub fn run(args: &Args) -> Result<(), String> {
    args.no_positional("figure")?;
    let out = args.required(
        "out",
        "a file name ending in .png, .svg, .gif, .apng or .csv",
    )?;
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
    let mut cfg = load_config(args)?;
    let divs = args.all("div");
    if !divs.is_empty() {
        for d in divs {
            d.parse::<Divergence>().map_err(|e| format!("--div: {e}"))?;
        }
        cfg.divergences = divs.to_vec();
    }
    let view = match args.one("view")? {
        Some(v) => View::from_name(v)
            .ok_or_else(|| format!("--view {v:?} is not a view; expected {VIEWS}"))?,
        None => cfg
            .view
            .views
            .first()
            .and_then(|v| View::from_name(v))
            .unwrap_or(View::Distributions),
    };
    // By default the distributions view shows the preset's snapshot epochs as panels; other views one
    // epoch: the preset's own, else its last snapshot, else the end of the fit.
    let epochs = match args.one("epochs")? {
        Some(raw) => epoch_list(raw, "epochs")?,
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
    let layout = match args.one("layout")? {
        None if view == View::Distributions && epochs.len() > 1 => Layout::EpochGrid,
        None => Layout::View,
        Some("view") => Layout::View,
        Some("epochs") => Layout::EpochGrid,
        Some("rows") => Layout::RowsByEpochs,
        Some(other) => return Err(format!("--layout {other:?}; expected view, epochs or rows")),
    };
    let scale = match args.one("scale")? {
        None => 2.0,
        Some(raw) => {
            let s: f32 = raw
                .parse()
                .map_err(|_| format!("--scale {raw:?} is not a number; expected 1 to 8"))?;
            if !(1.0..=8.0).contains(&s) {
                return Err(format!("--scale {raw} is out of range; expected 1 to 8"));
            }
            s
        }
    };
    let theme = match args.one("theme")? {
        None | Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        Some(other) => return Err(format!("--theme {other:?}; expected light or dark")),
    };
    let d = default_size(layout, epochs.len(), cfg.divergences.len());
    let width = args.usize_in("width", 200, 8000)?.unwrap_or(d.x as usize);
    let height = args.usize_in("height", 150, 8000)?.unwrap_or(d.y as usize);
    let spec = FigureSpec {
        view,
        layout,
        epochs: epochs.clone(),
        title: args.one("title")?.map(str::to_string),
        size: egui::vec2(width as f32, height as f32),
        scale,
        theme,
        transparent: args.switch("transparent"),
    };

    let mut fit = cfg.to_spec()?;
    fit.snapshots = SnapshotPlan {
        every: true,
        at: Vec::new(),
    };
    let result = fit.run()?;
    let mut state = ToyState::default();
    state.apply_config(cfg.clone());
    // Figures overlay the students unless the config says otherwise.
    state.dist.overlay = true;
    state.apply_hints();
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
            let frames = frame_epochs(args.one("frames")?, cfg.epochs)?;
            let fps = args.usize_in("fps", 1, 60)?.unwrap_or(6) as u32;
            let never = std::sync::atomic::AtomicBool::new(false);
            let report = &mut |i: usize, n: usize| {
                if i.is_multiple_of(10) || i == n {
                    eprintln!("kdviz: frame {i}/{n}");
                }
            };
            match write_animation(path, fps, &result, &state, &spec, &frames, &never, report)? {
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
