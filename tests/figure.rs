//! Figures: every preset renders to SVG and PNG from the command line; the files are what they claim.
#![allow(clippy::unwrap_used)] // tests may unwrap

use std::path::PathBuf;
mod common;

/// Exit code and stderr (figures write files; stdout is empty).
fn kdviz(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = common::kdviz(args);
    (code, stderr)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdviz-fig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn rgb(c: egui::Color32) -> String {
    format!("rgb({},{},{})", c.r(), c.g(), c.b())
}

#[test]
fn every_preset_renders_a_valid_svg() {
    for (name, _) in kdviz::toy::preset::PRESETS {
        let out = tmp(&format!("{name}.svg"));
        let (code, err) = kdviz(&["figure", "--preset", name, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        let svg = std::fs::read_to_string(&out).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let texts = doc.descendants().filter(|n| n.has_tag_name("text")).count();
        assert!(texts > 5, "{name}: {texts} text elements");
    }
}

#[test]
fn svg_has_one_curve_per_student() {
    let out = tmp("minillm.svg");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "minillm-gmm",
        "--view",
        "distributions",
        "--epochs",
        "4000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Curves are long paths (a label's leader line, in its curve's colour, is one segment).
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let strokes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path"))
        .filter(|n| {
            n.attribute("d")
                .is_some_and(|d| d.matches('L').count() > 10)
        })
        .filter_map(|n| n.attribute("stroke").or(n.attribute("fill")))
        .collect();
    let fkl = rgb(kdviz::views::palette::family_color(
        &kdviz::math::Divergence::Fkl,
    ));
    let rkl = rgb(kdviz::views::palette::family_color(
        &kdviz::math::Divergence::Rkl,
    ));
    let teacher = rgb(kdviz::views::palette::TEACHER);
    // Curves are long paths; legend swatches are circles, so each colour's path is its curve.
    assert_eq!(
        strokes.iter().filter(|s| **s == fkl).count(),
        1,
        "{strokes:?}"
    );
    assert_eq!(strokes.iter().filter(|s| **s == rkl).count(), 1);
    assert_eq!(strokes.iter().filter(|s| **s == teacher).count(), 1);
}

#[test]
fn png_has_the_requested_size_and_is_not_blank() {
    for (preset, extra) in [
        ("akl-fig3-longtail", vec![]),
        ("minillm-gmm", vec!["--view", "loss"]),
    ] {
        let out = tmp(&format!("{preset}.png"));
        let mut args = vec![
            "figure",
            "--preset",
            preset,
            "--out",
            out.to_str().unwrap(),
            "--width",
            "640",
            "--height",
            "400",
            "--scale",
            "2",
        ];
        args.extend(extra);
        let (code, err) = kdviz(&args);
        assert_eq!(code, 0, "{preset}: {err}");
        let img = image::open(&out).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (1280, 800), "{preset}");
        let mut colors: Vec<[u8; 4]> = img.pixels().map(|p| p.0).collect();
        colors.sort_unstable();
        colors.dedup();
        assert!(colors.len() > 50, "{preset}: only {} colours", colors.len());
        // A white background, not transparent, unless asked.
        assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255, 255]);
    }
}

#[test]
fn csv_holds_the_figure_data() {
    let out = tmp("fig3.csv");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "akl-fig3-longtail",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&out).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("class,x,teacher,\"fkl @1\""), "{header}");
    assert_eq!(header.split(',').count(), 3 + 3 * 4);
    assert_eq!(csv.lines().nth(1).unwrap().split(',').count(), 15);
}

#[test]
fn landscape_csv_holds_every_cell_and_the_paths() {
    let out = tmp("landscape.csv");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "minillm-gmm",
        "--view",
        "landscape",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "divergence,kind,epoch,mu,log_sigma,value"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 6), "no field holds a comma");
    // FKL and RKL: a 64 × 64 grid each, both global minima, and one path point per epoch 0..=4000.
    let count = |kind: &str| rows.iter().filter(|r| r[1] == kind).count();
    assert_eq!(count("grid"), 2 * 64 * 64);
    assert_eq!(count("global_min"), 2);
    assert_eq!(count("path"), 2 * 4001);
    assert_eq!(count("now"), 2);
    assert!(
        rows.iter()
            .any(|r| r[0] == "\"rkl\"" && r[1] == "local_min")
    );
    // Other views export their own tables; a logits student has no landscape (exit 2).
    for (view, header) in [
        (
            "gradient",
            "divergence,epoch,class,x,teacher,q,force,delta_q,confidence,hardness,w,tckd_force,nckd_force",
        ),
        (
            "abplane",
            "point,kind,alpha,beta,epoch,class,x,teacher,student,confidence,hardness,force",
        ),
        ("assistant", "alpha,lambda,class,x,teacher,student,mixture"),
    ] {
        let (code, err) = kdviz(&[
            "figure",
            "--preset",
            "minillm-gmm",
            "--view",
            view,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{view}: {err}");
        let csv = std::fs::read_to_string(&out).unwrap();
        assert_eq!(csv.lines().next().unwrap(), header);
    }
    common::fails(
        &[
            "figure",
            "--preset",
            "akl-fig3-longtail",
            "--view",
            "landscape",
            "--out",
            out.to_str().unwrap(),
        ],
        "Gaussian student",
    );
}

#[test]
fn bad_figure_requests_exit_2() {
    let out = tmp("x.png");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--out",
                o,
                "--view",
                "pie",
            ],
            "not a view",
        ),
        (
            vec![
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--out",
                o,
                "--scale",
                "0",
            ],
            "--scale",
        ),
        (
            vec![
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--out",
                "/nonexistent-dir/x.svg",
            ],
            "cannot write",
        ),
        (
            vec!["figure", "--preset", "akl-fig3-longtail", "--out", "x.pdf"],
            "cannot write .pdf",
        ),
        (
            vec![
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--out",
                o,
                "--epochs",
                "900",
            ],
            "after the last epoch",
        ),
        (
            vec![
                "figure",
                "--preset",
                "akl-fig3-longtail",
                "--out",
                o,
                "--theme",
                "sepia",
            ],
            "--theme",
        ),
        (
            vec!["figure", "--preset", "akl-fig3-longtail"],
            "--out is missing",
        ),
    ] {
        let (code, err) = kdviz(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn gif_animates_the_epochs() {
    let out = tmp("anim.gif");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "akl-fig3-longtail",
        "--view",
        "distributions",
        "--out",
        out.to_str().unwrap(),
        "--frames",
        "0:20:5",
        "--width",
        "400",
        "--height",
        "260",
        "--scale",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = std::fs::File::open(&out).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file)).unwrap();
    use image::AnimationDecoder;
    let frames = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0].buffer().dimensions(), (400, 260));
    assert_ne!(
        frames[0].buffer().as_raw(),
        frames[4].buffer().as_raw(),
        "the frames differ"
    );
}

/// A figure reads on its own: readable names, the epochs of its panels, labelled regions; on a
/// continuous grid the CSV holds densities that integrate to 1.
#[test]
fn figures_name_their_divergences_and_epochs() {
    let svg = tmp("fig3-names.svg");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "akl-fig3-longtail",
        "--view",
        "distributions",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    for want in [
        "FKL",
        "RKL",
        "AKL (μ = 0.5)",
        "epoch 10 / 800",
        "far tail (zoomed)",
    ] {
        assert!(texts.contains(&want), "{want:?} missing from {texts:?}");
    }
    assert!(texts.iter().any(|t| t.starts_with("head: top 8 classes")));
    assert!(!text.contains("akl:mu=0.5"), "a spec string in the figure");

    let csv = tmp("minillm.csv");
    let (code, err) = kdviz(&[
        "figure",
        "--preset",
        "minillm-gmm",
        "--view",
        "distributions",
        "--epochs",
        "4000",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "class,x,teacher density,\"fkl @4000 density\",\"rkl @4000 density\""
    );
    let rows: Vec<Vec<f64>> = lines
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    for column in [2, 3, 4] {
        let integral: f64 = rows
            .windows(2)
            .map(|w| 0.5 * (w[0][column] + w[1][column]) * (w[1][1] - w[0][1]))
            .sum();
        assert!(
            (integral - 1.0).abs() < 1e-3,
            "column {column}: ∫ = {integral}"
        );
    }
}
