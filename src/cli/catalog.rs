//! `kdviz presets` and `kdviz divergences`: what is built in.

use super::output::Output;
use crate::math::FAMILIES;
use crate::toy::preset::{PRESETS, load};

pub fn presets() -> Result<(), String> {
    let width = PRESETS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = Output::open(None)?;
    for (name, _) in PRESETS {
        let cfg = load(name)?;
        out.line(&format!("{name:<width$}  {}", cfg.description))?;
    }
    out.finish()
}

pub fn divergences() -> Result<(), String> {
    let mut out = Output::open(None)?;
    for f in FAMILIES {
        out.line(&format!("{:<8} {}", f.name, f.summary))?;
        out.line(&format!("         default: {}", f.default()))?;
        out.line(&format!("         {}", f.formula))?;
        for p in f.params {
            out.line(&format!("           {}", p.describe(f.params)))?;
        }
    }
    out.finish()
}
