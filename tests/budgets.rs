//! Bounded size, memory and time: every request either fits its budget and runs, or is refused up
//! front with exit 2 and a line naming the size and the limit (issue 10, failures 1, 4 and 5).
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;
use common::{fails, kdviz};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdviz-budgets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Width and height from a PNG's IHDR.
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[1..4], b"PNG", "{}", path.display());
    let be = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}

// ------------------------------------------------------------------- failure 1: image sizes

/// Sides over the 8192 px of wgpu's default texture limit render (tile by tile) instead of panicking:
/// `--width 4097` at scale 2 and the rows layout of 14 epochs.
#[test]
fn figures_wider_than_a_texture_render() {
    let out = tmp("wide.png");
    let o = out.to_str().unwrap();
    let (code, _, err) = kdviz(&[
        "figure",
        "--preset",
        "akl-fig3-longtail",
        "--out",
        o,
        "--width",
        "4097",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(png_size(&out), (8194, 1520));

    let rows = tmp("rows.png");
    let epochs = (0..14).map(|e| e.to_string()).collect::<Vec<_>>().join(",");
    let (code, _, err) = kdviz(&[
        "figure",
        "--preset",
        "akl-fig3-longtail",
        "--layout",
        "rows",
        "--epochs",
        &epochs,
        "--out",
        rows.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(png_size(&rows), (2 * (300 * 14 + 40), 2 * (220 * 3 + 60)));
}

/// Images over the pixel budget are refused before anything is fitted or trained, naming the size,
/// the limit and the scale that fits: PNG, GIF and APNG of `figure`, a lesson step and `real --figure`.
#[test]
fn images_over_the_pixel_budget_exit_2_naming_the_largest() {
    let png = tmp("big.png");
    let p = png.to_str().unwrap();
    fails(
        &[
            "figure",
            "--preset",
            "akl-fig3-longtail",
            "--out",
            p,
            "--scale",
            "8",
        ],
        "the image would be 8800 × 6080 pixels (53.5 million: 1100 × 760 points at scale 8); the \
         largest is 24 million pixels: lower the scale to 5.35 or less",
    );
    assert!(!png.exists());
    for ext in ["gif", "apng"] {
        let anim = tmp(&format!("big.{ext}"));
        fails(
            &[
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--view",
                "distributions",
                "--frames",
                "0:2",
                "--width",
                "8000",
                "--height",
                "8000",
                "--out",
                anim.to_str().unwrap(),
            ],
            "the image would be 16000 × 16000 pixels",
        );
        assert!(!anim.exists());
    }
    fails(
        &[
            "figure",
            "--lesson",
            "mode-seeking",
            "--step",
            "1",
            "--scale",
            "8",
            "--out",
            p,
        ],
        "the largest is 24 million pixels",
    );
    let m = tmp("m.png");
    fails(
        &[
            "real",
            "--builtin",
            "--div",
            "fkl",
            "--epochs",
            "1",
            "--figure",
            m.to_str().unwrap(),
            "--scale",
            "8",
        ],
        "--figure",
    );
    let (_, _, err) = kdviz(&[
        "real",
        "--builtin",
        "--div",
        "fkl",
        "--epochs",
        "1",
        "--figure",
        m.to_str().unwrap(),
        "--scale",
        "8",
    ]);
    assert!(err.contains("8800 × 5120 pixels"), "{err}");
    assert!(!m.exists());
}
