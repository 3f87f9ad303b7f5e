//! 1-2-5 grid spacers and tick labels shared by the views. egui_plot's own spacer steps by powers of
//! ten only, which leaves a small plot with a single labelled tick.
//!
//! The three spacers place their marks differently (so they draw different figures); each view family
//! keeps its own:
//! * [`nice_grid`] / [`log_grid`] with [`nice_label`] / [`log_label`]: epoch curves (head/tail, loss).
//! * [`grid_125`] with [`tick`], on [`x_axis`] / [`y_axis`]: the small per-class panels (gradient,
//!   assistant).
//! * [`uniform_grid_125`] with [`tick_125`]: the landscape and αβ-plane maps.

use egui_plot::{AxisHints, GridInput, GridMark};
use std::ops::RangeInclusive;

/// The 1-2-5 step the grids share with the landscape's window.
pub(super) use crate::toy::analysis::step_125;

// ---------------------------------------------------------------------------------------------------
// Epoch curves (head/tail, loss).

/// egui_plot's default minimum grid spacing in points: `GridInput::base_step_size` is this many points
/// in data units.
const GRID_MIN_PX: f64 = 8.0;

/// The smallest of 1, 2, 5 × 10^k that is at least `x`, for the epoch grids. It compares `x / 10^k`
/// with 1, 2 and 5, so a value a rounding error above a nice step can get that step where
/// [`step_125`] (which compares `x` with the steps) gives the next: kept apart so that the grids stay
/// as they are.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    let m = x / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Grid marks of a linear axis at 1-2-5 steps: the labelled steps at least `label_px` points apart
/// (egui_plot's own spacer only steps by 10×, which leaves a narrow plot with a single label), and
/// unlabelled fifths or quarters between them.
pub(super) fn nice_grid(label_px: f64) -> impl Fn(GridInput) -> Vec<GridMark> {
    move |input: GridInput| {
        let (lo, hi) = input.bounds;
        if !(lo.is_finite() && hi.is_finite()) || hi <= lo || input.base_step_size <= 0.0 {
            return Vec::new();
        }
        let unit_px = GRID_MIN_PX / input.base_step_size;
        let major = nice_step(label_px / unit_px);
        let lead = (major / 10f64.powf(major.log10().floor())).round();
        let minor = major / if lead == 2.0 { 4.0 } else { 5.0 };
        let (first, last) = ((lo / minor).ceil() as i64, (hi / minor).floor() as i64);
        if last - first > 5_000 {
            return Vec::new();
        }
        (first..=last)
            .map(|i| {
                let value = i as f64 * minor;
                let r = value / major;
                let on_major = (r - r.round()).abs() < 1e-6;
                GridMark {
                    value,
                    step_size: if on_major { major } else { minor },
                }
            })
            .collect()
    }
}

/// Tick labels of a [`nice_grid`] axis: as many decimals as the step needs (`0.5`, not `0`); steps
/// below 1e-4 in scientific notation (`2.5e-13`, not `0.00000000000025`).
pub(super) fn nice_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    if mark.step_size > 0.0 && mark.step_size < 1e-4 {
        if mark.value.abs() < 0.5 * mark.step_size {
            return "0".into();
        }
        let digits = (mark.value.abs().log10().floor() - mark.step_size.log10().floor()).max(0.0);
        return format!("{:.*e}", digits as usize, mark.value);
    }
    let decimals = (-mark.step_size.log10().floor()).max(0.0) as usize;
    let text = format!("{:.*}", decimals, mark.value);
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// Grid marks of a log10 axis: decades (every 2nd, 5th, 10th… when they are close, so labels never
/// crowd), and 2×, 5× and the other integer multiples inside a decade when there is room, so that an
/// axis spanning less than a decade still gets labelled ticks.
pub(super) fn log_grid(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || input.base_step_size <= 0.0 {
        return Vec::new();
    }
    let decade_px = GRID_MIN_PX / input.base_step_size;
    // Labelled decades: every `every`-th, at least 25 points apart (the y axis label spacing).
    let every = nice_step((25.0 / decade_px).max(1.0)).round() as i64;
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    if last - first > 5_000 {
        return Vec::new();
    }
    let mut marks = Vec::new();
    for k in first..=last {
        marks.push(GridMark {
            value: k as f64,
            step_size: if k % every == 0 { every as f64 } else { 0.5 },
        });
        if decade_px >= 40.0 {
            // Labelled inside a decade: 3 from 50 points per decade on, 2 and 5 instead from 120.
            let fine = decade_px >= 120.0;
            for m in 2..=9 {
                let step_size = match m {
                    2 | 5 if fine => 0.3,
                    3 if !fine => 0.5,
                    _ => 0.1,
                };
                marks.push(GridMark {
                    value: k as f64 + (m as f64).log10(),
                    step_size,
                });
            }
        }
    }
    // The axis paints every mark it gets, even outside the plot: keep the visible ones.
    marks.retain(|m| (lo..=hi).contains(&m.value));
    marks
}

/// Tick labels of a [`log_grid`] axis: `1e-3`, `2e-3`, `3e-3`, `5e-3` (other sub-decade ticks
/// unlabelled; which of these show is up to the marks' step sizes).
pub(super) fn log_label(mark: GridMark, _range: &std::ops::RangeInclusive<f64>) -> String {
    let v = mark.value;
    let d = v.floor();
    let m = 10f64.powf(v - d);
    let m_round = m.round();
    if (m - m_round).abs() > 1e-6 || ![1.0, 2.0, 3.0, 5.0].contains(&m_round) {
        return String::new();
    }
    let e = d as i64;
    match e {
        0 => format!("{m_round}"),
        _ => format!("{m_round}e{e}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Small per-class panels (gradient, assistant).

/// An x axis for narrow plots: labels from 30 points apart, none faded.
pub(super) fn x_axis(label: &str) -> AxisHints<'static> {
    AxisHints::new_x()
        .label(label.to_string())
        .label_spacing(30.0..=31.0)
        .formatter(tick)
}

/// A y axis for short plots: labels wherever they fit (22 points apart), none faded, and a fixed
/// minimum width so that stacked plots line up.
pub(super) fn y_axis(
    label: &str,
    formatter: fn(GridMark, &RangeInclusive<f64>) -> String,
) -> AxisHints<'static> {
    AxisHints::new_y()
        .label(label.to_string())
        .label_spacing(22.0..=23.0)
        .formatter(formatter)
        .min_thickness(44.0)
}

/// Grid marks at 1, 2 and 5 times powers of ten, each carrying the coarsest step it lies on.
/// egui_plot's default spacer has powers of ten only, which leaves a small plot with a single labelled
/// tick. `min_step` floors the step (1 on a class axis).
pub(super) fn grid_125(min_step: f64) -> impl Fn(GridInput) -> Vec<GridMark> {
    move |input: GridInput| {
        let s0 = step_125(input.base_step_size.max(min_step), 1e-9);
        let mut steps = vec![s0];
        for _ in 0..6 {
            let s = next_125(steps[steps.len() - 1]);
            steps.push(s);
        }
        let (lo, hi) = input.bounds;
        if !(lo.is_finite() && hi.is_finite()) || (hi - lo) / s0 > 10_000.0 {
            return Vec::new();
        }
        let (first, last) = ((lo / s0).ceil() as i64, (hi / s0).floor() as i64);
        (first..=last)
            .map(|i| {
                let value = i as f64 * s0;
                let step_size = steps
                    .iter()
                    .rev()
                    .copied()
                    .find(|&s| (value / s - (value / s).round()).abs() < 1e-6)
                    .unwrap_or(s0);
                GridMark { value, step_size }
            })
            .collect()
    }
}

/// The next coarser step that is a multiple of `s` (1 → 2 → 10, 5 → 10), so that the labelled marks
/// of two levels never crowd each other (4 next to 5).
fn next_125(s: f64) -> f64 {
    let e = 10f64.powf(s.log10().floor());
    if (s / e).round() == 2.0 {
        5.0 * s
    } else {
        2.0 * s
    }
}

/// Tick labels readable from 1e-6 to 1e3: plain decimals in between, `2e-5` style outside.
pub(super) fn tick(mark: GridMark, range: &RangeInclusive<f64>) -> String {
    let v = mark.value;
    let step = mark.step_size.abs().max(f64::MIN_POSITIVE);
    if v.abs() < step * 1e-6 {
        return "0".into();
    }
    let mag = range.start().abs().max(range.end().abs());
    if (1e-2..1e4).contains(&mag) {
        let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
        format!("{v:.decimals$}")
    } else {
        let digits = (v.abs().log10().floor() - step.log10().floor()).clamp(0.0, 3.0) as usize;
        format!("{v:.digits$e}")
    }
}

// ---------------------------------------------------------------------------------------------------
// Maps (landscape, αβ plane).

/// Grid lines at 1, 2 or 5 times a power of ten, finer than egui_plot's default powers of ten.
/// The middle level, the one that gets tick labels, is the finest 1-2-5 step at least `label_px`
/// points apart (70 suits `base_plot`'s x axis, 45 its y axis); the finer level stays under 25 points
/// (below every axis's label spacing, so it is never labelled) and divides it; the coarse level is
/// ten times it.
pub(super) fn uniform_grid_125(
    label_px: f64,
) -> Box<dyn Fn(egui_plot::GridInput) -> Vec<egui_plot::GridMark>> {
    egui_plot::uniform_grid_spacer(move |input| {
        // egui_plot passes the value of its minimum grid spacing (8 points) as the base step.
        let per_point = input.base_step_size / 8.0;
        if !(per_point.is_finite() && per_point > 0.0) {
            return [1.0, 10.0, 100.0];
        }
        let label = step_125(label_px * per_point, 0.0);
        let mantissa = label / 10f64.powf(label.log10().floor());
        let mut fine = if (1.5..3.5).contains(&mantissa) {
            label / 2.0
        } else {
            label / 5.0
        };
        if fine / per_point >= 25.0 {
            fine = label / 10.0;
        }
        [fine, label, 10.0 * label]
    })
}

/// Tick labels for [`uniform_grid_125`]: as many decimals as the mark's step needs, never "-0".
pub(super) fn tick_125(
    mark: egui_plot::GridMark,
    _range: &std::ops::RangeInclusive<f64>,
) -> String {
    let decimals = (-mark.step_size.log10().floor()).clamp(0.0, 12.0) as usize;
    let s = format!("{:.*}", decimals, mark.value);
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_label_one_two_five() {
        let label = |v: f64| {
            log_label(
                GridMark {
                    value: v,
                    step_size: 1.0,
                },
                &(0.0..=1.0),
            )
        };
        assert_eq!(label(-3.0), "1e-3");
        assert_eq!(label(0.0), "1");
        assert_eq!(label(-1.0 + 2f64.log10()), "2e-1");
        assert_eq!(label(5f64.log10()), "5");
        assert_eq!(label(-2.0 + 3f64.log10()), "3e-2");
        assert_eq!(label(-2.0 + 4f64.log10()), "");
        // Less than a decade on 200 points: 1, 2 and 5 ticks are labelled.
        let marks = log_grid(GridInput {
            bounds: (-1.3, -0.2),
            base_step_size: 8.0 / 200.0,
        });
        assert!(marks.iter().filter(|m| !label(m.value).is_empty()).count() >= 3);
        // Twelve decades on 120 points: every 5th decade carries the label step.
        let marks = log_grid(GridInput {
            bounds: (-12.0, 0.0),
            base_step_size: 8.0 / 10.0,
        });
        let labelled: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size >= 1.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(labelled, vec![-10.0, -5.0, 0.0]);
    }

    #[test]
    fn linear_ticks_step_one_two_five() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(130.0), 200.0);
        // 800 epochs on 270 points, labels ≥ 60 points apart: every 200 epochs.
        let marks = nice_grid(60.0)(GridInput {
            bounds: (0.0, 800.0),
            base_step_size: 8.0 * 800.0 / 270.0,
        });
        let majors: Vec<f64> = marks
            .iter()
            .filter(|m| m.step_size == 200.0)
            .map(|m| m.value)
            .collect();
        assert_eq!(majors, vec![0.0, 200.0, 400.0, 600.0, 800.0]);
        let mark = |value, step_size| GridMark { value, step_size };
        assert_eq!(nice_label(mark(0.5, 0.5), &(0.0..=1.0)), "0.5");
        assert_eq!(nice_label(mark(400.0, 200.0), &(0.0..=1.0)), "400");
        assert_eq!(nice_label(mark(-0.0, 0.2), &(0.0..=1.0)), "0.0");
        assert_eq!(nice_label(mark(1e-12, 5e-13), &(0.0..=1.0)), "1.0e-12");
        assert_eq!(nice_label(mark(2.5e-13, 5e-14), &(0.0..=1.0)), "2.5e-13");
        assert_eq!(nice_label(mark(-3e-17, 5e-13), &(0.0..=1.0)), "0");
    }

    #[test]
    fn grid_marks_are_nested_one_two_five_steps() {
        let marks = grid_125(0.0)(GridInput {
            bounds: (-12.3, 12.3),
            base_step_size: 0.4,
        });
        let at = |v: f64| marks.iter().find(|m| (m.value - v).abs() < 1e-9).unwrap();
        assert_eq!(at(0.5).step_size, 0.5);
        assert_eq!(at(1.0).step_size, 1.0);
        assert_eq!(at(4.0).step_size, 2.0);
        assert_eq!(at(10.0).step_size, 10.0);
        // A class axis never gets steps below one class.
        let marks = grid_125(1.0)(GridInput {
            bounds: (0.0, 5.0),
            base_step_size: 0.1,
        });
        assert!(marks.iter().all(|m| m.value.fract() == 0.0));
        assert_eq!(tick(*at(-10.0), &(-12.3..=12.3)), "-10");
        assert_eq!(
            tick(
                GridMark {
                    value: 2e-5,
                    step_size: 1e-5
                },
                &(-3e-5..=3e-5)
            ),
            "2e-5"
        );
    }

    #[test]
    fn steps_are_one_two_five() {
        assert_eq!(step_125(0.3, 0.0), 0.5);
        assert_eq!(step_125(2.0, 0.0), 2.0);
        assert_eq!(step_125(2.0 * (1.0 + 1e-12), 1e-9), 2.0);
        assert_eq!(step_125(2.0 * (1.0 + 1e-12), 0.0), 5.0);
        assert_eq!(step_125(7.0, 0.0), 10.0);
        assert_eq!(step_125(0.0, 0.0), 1.0);
    }
}
