//! Built-in presets: TOML files in `assets/presets/`, compiled into the binary so they work anywhere.

use super::config::FitConfig;

/// (name, TOML text) of every preset, in listing order.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "akl-fig3-longtail",
        include_str!("../../assets/presets/akl-fig3-longtail.toml"),
    ),
    (
        "akl-fig2-bimodal",
        include_str!("../../assets/presets/akl-fig2-bimodal.toml"),
    ),
    (
        "akl-fig2-unimodal",
        include_str!("../../assets/presets/akl-fig2-unimodal.toml"),
    ),
    (
        "akl-weights",
        include_str!("../../assets/presets/akl-weights.toml"),
    ),
    (
        "minillm-gmm",
        include_str!("../../assets/presets/minillm-gmm.toml"),
    ),
    (
        "gmm-rkl-local-minimum",
        include_str!("../../assets/presets/gmm-rkl-local-minimum.toml"),
    ),
    (
        "zipf-1000",
        include_str!("../../assets/presets/zipf-1000.toml"),
    ),
    (
        "longtail-all-divergences",
        include_str!("../../assets/presets/longtail-all-divergences.toml"),
    ),
    (
        "gjsd-beta-sweep",
        include_str!("../../assets/presets/gjsd-beta-sweep.toml"),
    ),
    (
        "taid-schedule",
        include_str!("../../assets/presets/taid-schedule.toml"),
    ),
    (
        "amid-alpha-mixtures",
        include_str!("../../assets/presets/amid-alpha-mixtures.toml"),
    ),
    (
        "ab-plane",
        include_str!("../../assets/presets/ab-plane.toml"),
    ),
    (
        "bishop-factorised",
        include_str!("../../assets/presets/bishop-factorised.toml"),
    ),
    (
        "bishop-two-modes",
        include_str!("../../assets/presets/bishop-two-modes.toml"),
    ),
    (
        "bishop-two-modes-other-start",
        include_str!("../../assets/presets/bishop-two-modes-other-start.toml"),
    ),
    (
        "three-modes-2d",
        include_str!("../../assets/presets/three-modes-2d.toml"),
    ),
    (
        "todi-longtail",
        include_str!("../../assets/presets/todi-longtail.toml"),
    ),
    (
        "uld-sorted",
        include_str!("../../assets/presets/uld-sorted.toml"),
    ),
    (
        "bild-top8",
        include_str!("../../assets/presets/bild-top8.toml"),
    ),
    (
        "renyi-taid",
        include_str!("../../assets/presets/renyi-taid.toml"),
    ),
    (
        "dkd-split",
        include_str!("../../assets/presets/dkd-split.toml"),
    ),
    (
        "eakd-easy-row",
        include_str!("../../assets/presets/eakd-easy-row.toml"),
    ),
    (
        "eakd-hard-row",
        include_str!("../../assets/presets/eakd-hard-row.toml"),
    ),
    (
        "topk-truncated-negative",
        include_str!("../../assets/presets/topk-truncated-negative.toml"),
    ),
    (
        "topk-renorm-mismatch",
        include_str!("../../assets/presets/topk-renorm-mismatch.toml"),
    ),
    (
        "bf16-logits-jsd",
        include_str!("../../assets/presets/bf16-logits-jsd.toml"),
    ),
    (
        "bf16-arithmetic-jsd",
        include_str!("../../assets/presets/bf16-arithmetic-jsd.toml"),
    ),
    (
        "bf16-teacher-negative-jsd",
        include_str!("../../assets/presets/bf16-teacher-negative-jsd.toml"),
    ),
    (
        "softcap-on-off",
        include_str!("../../assets/presets/softcap-on-off.toml"),
    ),
];

/// The preset called `name`.
pub fn load(name: &str) -> Result<FitConfig, String> {
    let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown preset {name:?}; expected one of {}",
            names.join(", ")
        ));
    };
    FitConfig::from_toml(text, &format!("preset {name}"))
}

/// Every preset, parsed.
pub fn all() -> Vec<FitConfig> {
    PRESETS.iter().filter_map(|(n, _)| load(n).ok()).collect()
}
