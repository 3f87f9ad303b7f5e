//! `kdviz presets` and `kdviz divergences`: what is built in.

use super::output::Output;
use crate::math::FAMILIES;
use crate::math::practice::COMMON_KEYS;
use crate::math::practice::loss::{DISTRIBUTION, FULL_ONLY, OWN_TEMPERATURE, PER_CLASS, SAMPLED};
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
    for line in practice_lines() {
        out.line(&line)?;
    }
    out.finish()
}

/// The practice options (practice.md §0.2): every common key, then which families take which
/// support.
fn practice_lines() -> Vec<String> {
    let mut lines = vec![
        String::new(),
        "practice options (any family: name:key=value,...; a family's own key of the same name \
         wins):"
            .to_string(),
    ];
    lines.extend(COMMON_KEYS.iter().map(|k| format!("  {}", k.describe())));
    lines.push("supports by family:".into());
    for (support, families) in [
        ("full", "all".to_string()),
        (
            "topk, topk-renorm with renorm=teacher",
            PER_CLASS.join(", "),
        ),
        ("topk-renorm, topk-tail", DISTRIBUTION.join(", ")),
        (
            "sampled",
            format!("{} (jsd with beta < 1)", SAMPLED.join(", ")),
        ),
    ] {
        lines.push(format!("  {support}: {families}"));
    }
    lines.push(format!("  support must be full: {}", FULL_ONLY.join(", ")));
    lines.push(format!(
        "  tt, st, t2 refused (own temperature T): {}",
        OWN_TEMPERATURE.join(", ")
    ));
    lines
}
