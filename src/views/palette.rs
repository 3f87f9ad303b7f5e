//! Colours: one fixed colour per divergence family, used in every view and every exported figure.

use crate::math::{Divergence, FAMILIES};
use egui::Color32;

/// The teacher is always this blue (matplotlib's C0, as in the AKL paper's figures).
pub const TEACHER: Color32 = Color32::from_rgb(0x1f, 0x77, 0xb4);
/// The shaded AKL head region: the teacher's blue, faint.
pub const HEAD_SHADE: Color32 = Color32::from_rgba_premultiplied(8, 30, 45, 40);

/// One colour per family in catalogue order (`math::FAMILIES`): FKL orange and RKL green as in the AKL
/// figures, then distinct hues. The last eight serve families added later, so that a new family needs
/// no code here.
const FAMILY_COLORS: [Color32; 20] = [
    Color32::from_rgb(0xff, 0x7f, 0x0e), // fkl
    Color32::from_rgb(0x2c, 0xa0, 0x2c), // rkl
    Color32::from_rgb(0xd6, 0x27, 0x28), // akl
    Color32::from_rgb(0x94, 0x67, 0xbd), // jsd
    Color32::from_rgb(0x8c, 0x56, 0x4b), // tvd
    Color32::from_rgb(0xe3, 0x77, 0xc2), // skl
    Color32::from_rgb(0x7f, 0x7f, 0x7f), // srkl
    Color32::from_rgb(0xbc, 0xbd, 0x22), // ab
    Color32::from_rgb(0x17, 0xbe, 0xcf), // alpha
    Color32::from_rgb(0x00, 0x5f, 0x73), // taid
    Color32::from_rgb(0xee, 0x9b, 0x00), // amid
    Color32::from_rgb(0x6a, 0x3d, 0x9a), // hinton
    Color32::from_rgb(0x39, 0x3b, 0x79),
    Color32::from_rgb(0x63, 0x79, 0x39),
    Color32::from_rgb(0x8c, 0x6d, 0x31),
    Color32::from_rgb(0x84, 0x3c, 0x39),
    Color32::from_rgb(0x7b, 0x41, 0x73),
    Color32::from_rgb(0x0b, 0x6e, 0x4f),
    Color32::from_rgb(0xc5, 0x1b, 0x7d),
    Color32::from_rgb(0x5e, 0x3c, 0x99),
];

/// Base colour of a family (see [`FAMILY_COLORS`]).
pub fn family_color(div: &Divergence) -> Color32 {
    let index = FAMILIES
        .iter()
        .position(|f| f.name == div.name())
        .unwrap_or(0);
    FAMILY_COLORS[index % FAMILY_COLORS.len()]
}

/// Colours for a list of divergences: the family colour, darkened for a second instance of the same
/// family and lightened for a third, so that `jsd:beta=0.1` and `jsd:beta=0.9` stay apart.
pub fn run_colors(divs: &[Divergence]) -> Vec<Color32> {
    let mut out = Vec::with_capacity(divs.len());
    for (i, d) in divs.iter().enumerate() {
        let nth = divs[..i].iter().filter(|e| e.name() == d.name()).count();
        out.push(shade(family_color(d), nth));
    }
    out
}

fn shade(c: Color32, nth: usize) -> Color32 {
    if nth == 0 {
        return c;
    }
    // Alternate darker / lighter steps.
    let step = nth.div_ceil(2) as f32 * 0.28;
    let (r, g, b) = (c.r() as f32, c.g() as f32, c.b() as f32);
    let mix = |v: f32, to: f32| (v + (to - v) * step.min(0.8)).round() as u8;
    if nth % 2 == 1 {
        Color32::from_rgb(mix(r, 0.0), mix(g, 0.0), mix(b, 0.0))
    } else {
        Color32::from_rgb(mix(r, 255.0), mix(g, 255.0), mix(b, 255.0))
    }
}

/// Colours for the side panel's list: enabled slots get exactly the colours their runs get in the views
/// (computed over the enabled divergences), disabled ones their family colour.
pub fn slot_colors(slots: &[crate::views::state::Slot]) -> Vec<Color32> {
    let enabled: Vec<Divergence> = slots.iter().filter(|s| s.enabled).map(|s| s.div).collect();
    let mut run = run_colors(&enabled).into_iter();
    slots
        .iter()
        .map(|s| {
            if s.enabled {
                run.next().unwrap_or(family_color(&s.div))
            } else {
                family_color(&s.div)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_ne!(*c, TEACHER);
        }
        assert_eq!(
            family_color(&Divergence::Fkl),
            Color32::from_rgb(0xff, 0x7f, 0x0e)
        );
        assert_eq!(
            family_color(&Divergence::Rkl),
            Color32::from_rgb(0x2c, 0xa0, 0x2c)
        );
    }
}
