//! Colours with one meaning everywhere: the teacher is always [`TEACHER`]; each divergence family has
//! one hue ([`family_color`]), and several instances of a family (`jsd:beta=0.1`, `jsd:beta=0.9`) get
//! a ramp of that hue from dark to light; curves that are not a divergence (factors, assistants,
//! mixtures) use the neutral [`AUX`] greys, never a family's colour. The tests check every preset's
//! colours for distinctness under the three kinds of colour blindness.

use crate::math::{Divergence, FAMILIES};
use egui::Color32;

/// The teacher is always this blue (matplotlib's C0, as in the AKL paper's figures).
pub const TEACHER: Color32 = Color32::from_rgb(0x1f, 0x77, 0xb4);
/// The shaded AKL head region: the teacher's blue, faint.
pub const HEAD_SHADE: Color32 = Color32::from_rgba_premultiplied(8, 30, 45, 40);

/// Neutral colours for curves that are not a divergence's (gradient factors, assistant
/// distributions, mixtures): dark, mid and light grey. Distinguish them further by line style.
pub const AUX: [Color32; 3] = [
    Color32::from_rgb(0x33, 0x33, 0x33),
    Color32::from_rgb(0x80, 0x80, 0x80),
    Color32::from_rgb(0xb0, 0xb0, 0xb0),
];

/// The same roles on a dark background (light, mid and dark grey).
pub const AUX_DARK: [Color32; 3] = [
    Color32::from_rgb(0xe0, 0xe0, 0xe0),
    Color32::from_rgb(0xa0, 0xa0, 0xa0),
    Color32::from_rgb(0x70, 0x70, 0x70),
];

/// Assistant distributions (TAID's p_t, AMiD's r and the α-mixtures): a gold-brown hue no family
/// uses; several mixtures get a [`ramp`] of it.
pub const ASSISTANT: Color32 = Color32::from_rgb(0xa8, 0x7d, 0x00);

/// `count` distinct colours of `base`'s hue, dark to light (see [`run_colors`]).
pub fn ramp(base: Color32, count: usize) -> Vec<Color32> {
    (0..count).map(|i| instance_color(base, i, count)).collect()
}

/// The auxiliary colour `i` (0 strongest) for the current theme.
pub fn aux(i: usize, dark: bool) -> Color32 {
    let set = if dark { &AUX_DARK } else { &AUX };
    set[i.min(set.len() - 1)]
}

/// One colour per family in catalogue order (`math::FAMILIES`): FKL orange and RKL green as in the AKL
/// figures; the others were chosen one by one (a search over OKLab) to stay as far as possible from
/// the teacher, the greys and the families before them, for normal vision and simulated
/// protanopia, deuteranopia and tritanopia. All have mid lightness (OKLab L 0.47 to 0.73), so that
/// lines and titles read on a white and on a dark background. A family added later needs a colour
/// here (the tests say which).
const FAMILY_COLORS: [Color32; 21] = [
    Color32::from_rgb(0xf5, 0x5d, 0x1a), // fkl: orange
    Color32::from_rgb(0x31, 0x6a, 0x23), // rkl: green
    Color32::from_rgb(0xb6, 0x67, 0xff), // akl: lilac
    Color32::from_rgb(0xa0, 0x00, 0x74), // jsd: wine
    Color32::from_rgb(0xc2, 0x1b, 0x0d), // tvd: red
    Color32::from_rgb(0xed, 0x76, 0xb3), // skl: pink
    Color32::from_rgb(0x19, 0xb1, 0x68), // srkl: mint
    Color32::from_rgb(0x6a, 0x29, 0xc5), // ab: violet
    Color32::from_rgb(0x16, 0xb3, 0xeb), // alpha: sky
    Color32::from_rgb(0xcd, 0x33, 0xa7), // taid: magenta
    Color32::from_rgb(0x98, 0x4e, 0x61), // amid: mauve
    Color32::from_rgb(0x80, 0x84, 0xd5), // hinton: periwinkle
    // The families of 2024–2026, by the same search (the earlier spares came too near the teacher
    // or the assistant); uld, wsd, dkd and eakd searched again so that any two families stay 8 apart
    // (EA-KD's tangerine was 5.6 from FKL's orange, a pair no preset showed but a user can pick).
    Color32::from_rgb(0x88, 0x33, 0x99), // todi: plum
    Color32::from_rgb(0xb3, 0x6a, 0x5b), // uld: clay
    Color32::from_rgb(0x9a, 0x3a, 0x10), // bild: rust
    Color32::from_rgb(0xd7, 0x96, 0x29), // wsd: ochre
    Color32::from_rgb(0x99, 0x00, 0xff), // jeffreys: electric violet
    Color32::from_rgb(0x11, 0x99, 0x77), // renyi: jade
    Color32::from_rgb(0x7e, 0x5a, 0xd5), // dkd: iris
    Color32::from_rgb(0x53, 0x94, 0x18), // eakd: olive
    // rkl-est: the same search, weighting colour-blind distances ×3 (12.5 apart for normal vision).
    Color32::from_rgb(0xf0, 0x19, 0xf0), // rkl-est: fuchsia
];

/// Base colour of a family (see [`FAMILY_COLORS`]).
pub fn family_color(div: &Divergence) -> Color32 {
    let index = FAMILIES
        .iter()
        .position(|f| f.name == div.name())
        .unwrap_or(0);
    FAMILY_COLORS[index % FAMILY_COLORS.len()]
}

/// Colours for a list of divergences: the family colour for a family's only instance; several
/// instances of one family get a ramp of its hue, dark to light in list order. A ramp turns its hue
/// (see [`instance_color`]); where that brings it near a colour already on show (the teacher,
/// another family's colour or ramp: a JSD ramp's dark end turns into αβ's violet), it turns the
/// way that keeps it farthest from them.
pub fn run_colors<D: AsRef<Divergence>>(divs: &[D]) -> Vec<Color32> {
    let divs: Vec<&Divergence> = divs.iter().map(AsRef::as_ref).collect();
    let mut colors = vec![Color32::TRANSPARENT; divs.len()];
    let mut done: Vec<&str> = Vec::new();
    for (i, d) in divs.iter().enumerate() {
        if done.contains(&d.name()) {
            continue;
        }
        done.push(d.name());
        let members: Vec<usize> = (i..divs.len())
            .filter(|&k| divs[k].name() == d.name())
            .collect();
        let base = family_color(d);
        let count = members.len();
        // What is already on show: the teacher, the other families' colours, the ramps placed before.
        let mut shown = vec![TEACHER];
        for (k, e) in divs.iter().enumerate() {
            if e.name() != d.name() {
                shown.push(if colors[k] == Color32::TRANSPARENT {
                    family_color(e)
                } else {
                    colors[k]
                });
            }
        }
        let ramp_of = |turn: Turn| -> Vec<Color32> {
            (0..count)
                .map(|n| turned_color(base, n, count, turn))
                .collect()
        };
        let mut ramp = ramp_of(default_turn(base));
        if count > 1 && clearance(&ramp, &shown) < RAMP_CLEARANCE {
            for turn in [Turn::Both, Turn::Up, Turn::Down] {
                let other = ramp_of(turn);
                if clearance(&other, &shown) > clearance(&ramp, &shown) {
                    ramp = other;
                }
            }
        }
        for (k, c) in members.into_iter().zip(ramp) {
            colors[k] = c;
        }
    }
    colors
}

/// How far (OKLab × 100, about 2 just noticeable) a ramp keeps from the colours on show before
/// it turns another way.
const RAMP_CLEARANCE: f32 = 10.0;

/// The smallest OKLab distance (× 100) between a colour of `ramp` and one of `shown`.
fn clearance(ramp: &[Color32], shown: &[Color32]) -> f32 {
    let mut min = f32::INFINITY;
    for a in ramp {
        let a = oklab(*a);
        for b in shown {
            let b = oklab(*b);
            let d = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
            min = min.min(100.0 * d.sqrt());
        }
    }
    min
}

/// How a ramp turns its hue from the dark end to the light one: by ±50° around the family's hue
/// (`Both`), or by 50° one way from it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Turn {
    Both,
    Up,
    Down,
}

/// The turn a family's ramp takes unless it meets another colour: both ways, except where one end
/// would come near the teacher's hue (αβ's violet would darken into a navy that reads as the
/// teacher's blue): there 50° away from the teacher only.
fn default_turn(base: Color32) -> Turn {
    let [_, a, b] = oklab(base);
    let hue = b.atan2(a);
    let [_, ta, tb] = oklab(TEACHER);
    let teacher_hue = tb.atan2(ta);
    let gap = |h: f32| {
        let d = (h - teacher_hue).rem_euclid(std::f32::consts::TAU);
        d.min(std::f32::consts::TAU - d)
    };
    let half_turn = 0.5 * RAMP.2.to_radians();
    if gap(hue - half_turn).min(gap(hue + half_turn)) < 0.6 {
        if gap(hue + half_turn) > gap(hue - half_turn) {
            Turn::Up
        } else {
            Turn::Down
        }
    } else {
        Turn::Both
    }
}

/// Lightness from, lightness to, total hue turn in degrees of a family's ramp.
const RAMP: (f32, f32, f32) = (0.40, 0.82, 100.0);

/// The `nth` of `count` instances of a family whose base colour is `base`, its ramp turning the
/// family's way ([`default_turn`]).
fn instance_color(base: Color32, nth: usize, count: usize) -> Color32 {
    turned_color(base, nth, count, default_turn(base))
}

/// The `nth` of `count` instances of a family whose base colour is `base`: lightness spread over
/// [0.40, 0.82] in OKLab (readable on white and on a dark panel, never near white or black) and
/// the hue turned by `turn`, so that neighbours differ in two ways.
fn turned_color(base: Color32, nth: usize, count: usize, turn: Turn) -> Color32 {
    if count <= 1 {
        return base;
    }
    let [_, a, b] = oklab(base);
    let chroma = a.hypot(b);
    let hue = b.atan2(a);
    let t = nth as f32 / (count - 1) as f32;
    let l = RAMP.0 + (RAMP.1 - RAMP.0) * t;
    let half_turn = 0.5 * RAMP.2.to_radians();
    let h = match turn {
        Turn::Both => hue + (t - 0.5) * RAMP.2.to_radians(),
        Turn::Up => hue + t * half_turn,
        Turn::Down => hue - t * half_turn,
    };
    // Dark and light ends cannot hold the full chroma inside sRGB: reduce it until it fits.
    let mut c = chroma.max(0.08);
    loop {
        if let Some(rgb) = from_oklab([l, c * h.cos(), c * h.sin()]) {
            return rgb;
        }
        c *= 0.9;
        if c < 0.01 {
            return from_oklab([l, 0.0, 0.0]).unwrap_or(base);
        }
    }
}

/// Lightest OKLab lightness a curve or title keeps on a dark background (the dark ends of the
/// ramps and the darker family hues, RKL's green or αβ's violet, fade into a dark panel).
const DARK_BACKGROUND_MIN_L: f32 = 0.62;

/// `colors` as drawn on the current background: unchanged on a light one; on a dark one, colours
/// darker than [`DARK_BACKGROUND_MIN_L`] are lifted to it, keeping their hue (order and distinctness
/// within a ramp are kept, since the lift only compresses the dark end).
pub fn for_background(colors: Vec<Color32>, dark: bool) -> Vec<Color32> {
    if !dark {
        return colors;
    }
    colors.into_iter().map(lifted).collect()
}

fn lifted(c: Color32) -> Color32 {
    let [l, a, b] = oklab(c);
    if l >= DARK_BACKGROUND_MIN_L {
        return c;
    }
    // Squeeze [0.40, 0.62] into [0.62, 0.70] so that ramp neighbours stay apart.
    let l = DARK_BACKGROUND_MIN_L + (l - 0.40).clamp(0.0, 0.22) * (0.08 / 0.22);
    let mut k = 1.0;
    while k > 0.05 {
        if let Some(rgb) = from_oklab([l, a * k, b * k]) {
            return rgb;
        }
        k *= 0.9;
    }
    c
}

/// Colours for the side panel's list: enabled slots get exactly the colours their runs get in the views
/// (computed over the enabled divergences), disabled ones their family colour.
pub fn slot_colors(slots: &[crate::views::state::Slot]) -> Vec<Color32> {
    let enabled: Vec<Divergence> = slots
        .iter()
        .filter(|s| s.enabled)
        .map(|s| s.div.family)
        .collect();
    let mut run = run_colors(&enabled).into_iter();
    slots
        .iter()
        .map(|s| {
            if s.enabled {
                run.next().unwrap_or(family_color(&s.div.family))
            } else {
                family_color(&s.div.family)
            }
        })
        .collect()
}

fn to_linear(c: u8) -> f32 {
    let c = c as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn from_linear(c: f32) -> Option<u8> {
    if !(-1e-4..=1.0001).contains(&c) {
        return None;
    }
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.0031308 {
        12.92 * c
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    Some((s * 255.0).round() as u8)
}

fn linear_rgb(c: Color32) -> [f32; 3] {
    [to_linear(c.r()), to_linear(c.g()), to_linear(c.b())]
}

/// OKLab (Björn Ottosson's perceptual space) from linear sRGB.
fn oklab_of_linear([r, g, b]: [f32; 3]) -> [f32; 3] {
    let l = (0.412_221_46 * r + 0.536_332_55 * g + 0.051_445_995 * b).cbrt();
    let m = (0.211_903_5 * r + 0.680_699_5 * g + 0.107_396_96 * b).cbrt();
    let s = (0.088_302_46 * r + 0.281_718_85 * g + 0.629_978_7 * b).cbrt();
    [
        0.210_454_26 * l + 0.793_617_8 * m - 0.004_072_047 * s,
        1.977_998_5 * l - 2.428_592_2 * m + 0.450_593_7 * s,
        0.025_904_037 * l + 0.782_771_77 * m - 0.808_675_77 * s,
    ]
}

fn oklab(c: Color32) -> [f32; 3] {
    oklab_of_linear(linear_rgb(c))
}

/// The sRGB colour of an OKLab point, or None outside the gamut.
fn from_oklab([l, a, b]: [f32; 3]) -> Option<Color32> {
    let l_ = (l + 0.396_337_78 * a + 0.215_803_76 * b).powi(3);
    let m_ = (l - 0.105_561_346 * a - 0.063_854_17 * b).powi(3);
    let s_ = (l - 0.089_484_18 * a - 1.291_485_5 * b).powi(3);
    let r = 4.076_741_7 * l_ - 3.307_711_6 * m_ + 0.230_969_94 * s_;
    let g = -1.268_438 * l_ + 2.609_757_4 * m_ - 0.341_319_38 * s_;
    let bl = -0.004_196_086_3 * l_ - 0.703_418_6 * m_ + 1.707_614_7 * s_;
    Some(Color32::from_rgb(
        from_linear(r)?,
        from_linear(g)?,
        from_linear(bl)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_backgrounds_lift_dark_colours_and_keep_ramps_ordered() {
        let divs: Vec<Divergence> = [
            "taid:t_start=0.4,t_end=1",
            "taid:t_start=0.2,t_end=1",
            "taid:t=0.4",
            "rkl",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let light = run_colors(&divs);
        assert_eq!(for_background(light.clone(), false), light);
        let dark = for_background(light.clone(), true);
        for (l, d) in light.iter().zip(&dark) {
            let (ll, dl) = (oklab(*l)[0], oklab(*d)[0]);
            assert!(dl >= DARK_BACKGROUND_MIN_L - 0.01, "{d:?}: L {dl}");
            assert!(dl >= ll - 1e-3, "{l:?} -> {d:?} got darker");
        }
        // The TAID ramp stays ordered dark to light.
        let ls: Vec<f32> = dark[..3].iter().map(|c| oklab(*c)[0]).collect();
        assert!(ls[0] < ls[1] && ls[1] < ls[2], "{ls:?}");
    }
    use crate::toy::preset;

    /// Machado, Oliveira & Fernandes (2009), severity 1: protanopia, deuteranopia, tritanopia, on
    /// linear RGB.
    const CVD: [(&str, [[f32; 3]; 3]); 3] = [
        (
            "protanopia",
            [
                [0.152286, 1.052583, -0.204868],
                [0.114503, 0.786281, 0.099216],
                [-0.003882, -0.048116, 1.051998],
            ],
        ),
        (
            "deuteranopia",
            [
                [0.367322, 0.860646, -0.227968],
                [0.280085, 0.672501, 0.047413],
                [-0.011820, 0.042940, 0.968881],
            ],
        ),
        (
            "tritanopia",
            [
                [1.255528, -0.076749, -0.178779],
                [-0.078411, 0.930809, 0.147602],
                [0.004733, 0.691367, 0.303900],
            ],
        ),
    ];

    fn seen(c: Color32, m: Option<&[[f32; 3]; 3]>) -> [f32; 3] {
        let v = linear_rgb(c);
        let v = match m {
            None => v,
            Some(m) => [0, 1, 2]
                .map(|i| (m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2]).clamp(0.0, 1.0)),
        };
        oklab_of_linear(v)
    }

    /// Distance in OKLab × 100 (about 2 is just noticeable).
    fn distance(a: Color32, b: Color32, m: Option<&[[f32; 3]; 3]>) -> f32 {
        let (x, y) = (seen(a, m), seen(b, m));
        100.0 * ((x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2) + (x[2] - y[2]).powi(2)).sqrt()
    }

    /// The smallest distance between two colours of a set, and the pair, for each kind of vision.
    fn closest(colors: &[Color32]) -> Vec<(&'static str, f32)> {
        let visions =
            std::iter::once(("normal", None)).chain(CVD.iter().map(|(n, m)| (*n, Some(m))));
        visions
            .map(|(name, m)| {
                let mut min = f32::INFINITY;
                for i in 0..colors.len() {
                    for j in 0..i {
                        min = min.min(distance(colors[i], colors[j], m));
                    }
                }
                (name, min)
            })
            .collect()
    }

    #[test]
    fn every_family_has_its_own_colour_and_the_papers_colours_stay() {
        assert!(FAMILIES.len() <= FAMILY_COLORS.len());
        let colors: Vec<Color32> = FAMILIES
            .iter()
            .map(|f| family_color(&f.default()))
            .collect();
        for (i, c) in colors.iter().enumerate() {
            assert!(
                !colors[..i].contains(c),
                "{} repeats a colour",
                FAMILIES[i].name
            );
            assert!(distance(*c, TEACHER, None) > 12.0, "{}", FAMILIES[i].name);
            assert!(distance(*c, ASSISTANT, None) > 10.0, "{}", FAMILIES[i].name);
            for a in AUX.iter().chain(&AUX_DARK) {
                assert!(distance(*c, *a, None) > 8.0, "{} is grey", FAMILIES[i].name);
            }
        }
        // The AKL figures' hues: FKL orange, RKL green.
        let hue = |c: Color32| {
            let [_, a, b] = oklab(c);
            b.atan2(a).to_degrees()
        };
        assert!((40.0..80.0).contains(&hue(family_color(&Divergence::Fkl))));
        assert!((120.0..160.0).contains(&hue(family_color(&Divergence::Rkl))));
    }

    /// Any two families a user may put side by side differ for normal vision (8 apart, as in a
    /// preset; the presets' test covers colour-blind vision for the pairs they show).
    #[test]
    fn any_two_families_differ() {
        for (i, f) in FAMILIES.iter().enumerate() {
            for g in &FAMILIES[..i] {
                let d = distance(family_color(&f.default()), family_color(&g.default()), None);
                assert!(d >= 8.0, "{} and {}: {d:.1} apart", f.name, g.name);
            }
        }
    }

    /// Family colours sit at mid lightness: a line or a title reads on white and on a dark panel.
    #[test]
    fn family_colours_read_on_light_and_dark_backgrounds() {
        for f in FAMILIES {
            let [l, ..] = oklab(family_color(&f.default()));
            assert!((0.45..=0.73).contains(&l), "{}: lightness {l}", f.name);
        }
    }

    /// The teacher and every run of every preset stay apart for normal vision and each kind of
    /// colour blindness (simulated).
    #[test]
    fn every_preset_reads_for_colour_blind_viewers() {
        for cfg in preset::all() {
            let divs: Vec<crate::math::practice::Loss> =
                cfg.divergences.iter().map(|s| s.parse().unwrap()).collect();
            let mut colors = run_colors(&divs);
            colors.push(TEACHER);
            for (vision, min) in closest(&colors) {
                // About 2 is just noticeable: twice that for the colour blind, four times otherwise.
                let need = if vision == "normal" { 8.0 } else { 4.0 };
                assert!(
                    min >= need,
                    "{}: two colours are {min:.1} apart for {vision} vision (need {need})",
                    cfg.name
                );
            }
        }
    }

    /// Six instances of one family (the β sweep) form a ramp: distinct, none near white or black.
    #[test]
    fn instances_of_a_family_are_distinct_and_never_near_white() {
        let divs: Vec<Divergence> = [0.0, 0.1, 0.3, 0.5, 0.9, 1.0]
            .map(|beta| Divergence::Jsd { beta, norm: false })
            .to_vec();
        let colors = run_colors(&divs);
        for (i, c) in colors.iter().enumerate() {
            let [l, ..] = oklab(*c);
            assert!((0.4..=0.85).contains(&l), "instance {i}: lightness {l}");
            for d in &colors[..i] {
                assert!(distance(*c, *d, None) >= 6.0, "instances {i} too close");
            }
        }
        assert_eq!(run_colors(&divs[..1]), vec![family_color(&divs[0])]);
    }

    #[test]
    fn oklab_round_trips() {
        for c in FAMILY_COLORS {
            assert_eq!(from_oklab(oklab(c)), Some(c));
        }
    }

    /// A ramp that would turn into a colour on show turns the other way: JSD's ramp, turning both
    /// ways, darkened into αβ's violet (7 apart for normal vision, 0.3 with two αβ runs).
    #[test]
    fn ramps_turn_away_from_colours_on_show() {
        for specs in [
            &[
                "fkl",
                "jsd:beta=0.1",
                "jsd:beta=0.5",
                "jsd:beta=0.9",
                "rkl",
                "ab",
            ][..],
            &[
                "jsd:beta=0.1",
                "jsd:beta=0.9",
                "ab:alpha=0.2,beta=0.7",
                "ab:alpha=1.5,beta=-0.5",
            ],
        ] {
            let divs: Vec<Divergence> = specs.iter().map(|s| s.parse().unwrap()).collect();
            let mut colors = run_colors(&divs);
            colors.push(TEACHER);
            for (vision, min) in closest(&colors) {
                let need = if vision == "normal" { 8.0 } else { 4.0 };
                assert!(min >= need, "{specs:?}: {min:.1} for {vision} vision");
            }
        }
        // A family alone keeps its usual ramp.
        let jsd: Vec<Divergence> = ["jsd:beta=0.1", "jsd:beta=0.9"]
            .map(|s| s.parse().unwrap())
            .to_vec();
        assert_eq!(
            run_colors(&jsd),
            (0..2)
                .map(|n| instance_color(family_color(&jsd[0]), n, 2))
                .collect::<Vec<_>>()
        );
    }
}
