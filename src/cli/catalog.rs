//! `kdviz presets` and `kdviz divergences`: what is built in.

use super::args::Args;
use crate::math::FAMILIES;
use crate::toy::preset::{PRESETS, load};

pub fn presets(args: &Args) -> Result<(), String> {
    args.no_positional("presets")?;
    let width = PRESETS.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, _) in PRESETS {
        let cfg = load(name)?;
        println!("{name:<width$}  {}", cfg.description);
    }
    Ok(())
}

pub fn divergences(args: &Args) -> Result<(), String> {
    args.no_positional("divergences")?;
    for f in FAMILIES {
        println!("{:<8} {}", f.name, f.summary);
        println!("         default: {}", f.default);
        println!("         {}", f.formula);
    }
    Ok(())
}
