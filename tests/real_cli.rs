//! `kdviz real` as a user meets it: the built-in teacher trains under several divergences, output
//! formats, the GPU and the CPU agree, and bad input exits 2 with one line naming the problem.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;
use common::{fails, json, kdviz};

#[path = "real/topk.rs"]
mod topk;

fn series(run: &serde_json::Value, key: &str) -> Vec<f64> {
    run["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h[key].as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn builtin_teacher_trains_under_each_divergence_on_the_cpu() {
    let v = json(&[
        "real",
        "--builtin",
        "--positions",
        "64",
        "--div",
        "fkl",
        "--div",
        "rkl",
        "--div",
        "akl:mu=0.5",
        "--student",
        "free",
        "--epochs",
        "20",
        "--lr",
        "0.2",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert_eq!(v["positions"], 64);
    assert!(v["vocab"].as_u64().unwrap_or(0) >= 5000, "{}", v["vocab"]);
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    for run in runs {
        assert!(
            run["backend"].as_str().unwrap_or("").starts_with("CPU"),
            "{}",
            run["backend"]
        );
        let obj = series(run, "objective");
        assert_eq!(obj.len(), 21, "epochs 0..=20");
        assert!(obj.iter().all(|x| x.is_finite()));
        // Adam on free logits makes clear progress in 20 epochs from the uniform start.
        assert!(obj[20] < 0.5 * obj[0], "{}: {obj:?}", run["divergence"]);
        let top1 = series(run, "top1");
        assert!(top1.iter().all(|t| (0.0..=1.0).contains(t)));
        // The uniform start ties every class: agreement is 1/V, not 0 or 1.
        let vocab = v["vocab"].as_f64().unwrap_or(0.0);
        assert!((top1[0] - 1.0 / vocab).abs() < 1e-9, "{}", top1[0]);
    }
    // FKL's own objective is KL(p||q).
    let fkl = &runs[0];
    let (obj, kl) = (series(fkl, "objective"), series(fkl, "kl_pq"));
    for (a, b) in obj.iter().zip(&kl) {
        assert!((a - b).abs() <= 1e-6 * a.abs().max(1e-9), "{a} vs {b}");
    }
}

#[test]
fn low_rank_student_cannot_reach_the_teacher() {
    let v = json(&[
        "real",
        "--builtin",
        "--positions",
        "64",
        "--div",
        "fkl",
        "--student",
        "lowrank:d=2",
        "--epochs",
        "60",
        "--lr",
        "0.05",
        "--backend",
        "cpu",
        "--json",
    ]);
    let kl = series(&v["runs"][0], "kl_pq");
    assert!(kl[60] < kl[0], "{kl:?}");
    assert!(
        kl[60] > 0.1,
        "rank 2 should stay far from 64 distinct rows: {}",
        kl[60]
    );
}

#[test]
fn csv_and_text_outputs() {
    let (code, out, err) = kdviz(&[
        "real",
        "--builtin",
        "--positions",
        "16",
        "--div",
        "tvd",
        "--epochs",
        "3",
        "--backend",
        "cpu",
        "--csv",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "divergence,epoch,objective,kl_pq,kl_qp,head_gap,tail_gap,top1,seconds"
    );
    assert_eq!(lines.len(), 1 + 4);
    assert!(lines[4].starts_with("\"tvd\",3,"), "{}", lines[4]);

    let (code, out, err) = kdviz(&[
        "real",
        "--builtin",
        "--positions",
        "16",
        "--div",
        "fkl",
        "--epochs",
        "3",
        "--backend",
        "cpu",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("16 positions"), "{out}");
    assert!(out.contains("head gap"), "{out}");
    assert!(out.contains("rows/s"), "{out}");
}

#[test]
fn gpu_and_cpu_agree_when_there_is_a_gpu() {
    let (code, _, err) = kdviz(&["gpu", "info"]);
    if code != 0 {
        if std::env::var("KDVIZ_REQUIRE_GPU").as_deref() == Ok("1") {
            panic!("KDVIZ_REQUIRE_GPU=1 but kdviz gpu info failed: {err}");
        }
        eprintln!("SKIP: no GPU adapter [{}]", err.trim());
        return;
    }
    let args = |backend| {
        json(&[
            "real",
            "--builtin",
            "--positions",
            "32",
            "--div",
            "rkl",
            "--div",
            "akl",
            "--student",
            "lowrank:d=8",
            "--epochs",
            "10",
            "--backend",
            backend,
            "--json",
        ])
    };
    let (g, c) = (args("gpu"), args("cpu"));
    for r in 0..2 {
        assert!(
            g["runs"][r]["backend"]
                .as_str()
                .unwrap_or("")
                .starts_with("GPU")
        );
        for key in ["objective", "kl_pq", "kl_qp", "head_gap", "tail_gap"] {
            let (a, b) = (series(&g["runs"][r], key), series(&c["runs"][r], key));
            for (e, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (x - y).abs() <= 2e-3 * y.abs() + 1e-5,
                    "run {r} {key} epoch {e}: gpu {x} cpu {y}"
                );
            }
        }
    }
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let base = ["real", "--builtin", "--positions", "8", "--backend", "cpu"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    fails(&["real", "--builtin"], "--div SPEC is missing");
    fails(&["real", "--div", "fkl"], "--builtin or --input FILE");
    fails(&with(&["--div", "nope"]), "--div \"nope\"");
    fails(&with(&["--div", "fkl", "--lr", "-1"]), "--lr \"-1\"");
    fails(&with(&["--div", "fkl", "--lr", "nan"]), "--lr \"nan\"");
    fails(
        &with(&["--div", "fkl", "--student", "lowrank:d=0"]),
        "--student",
    );
    fails(&with(&["--div", "fkl", "--student", "big"]), "--student");
    fails(&with(&["--div", "fkl", "--backend", "tpu"]), "--backend");
    fails(
        &with(&["--div", "fkl", "--gpu-epoch", "one"]),
        "--gpu-epoch",
    );
    fails(&with(&["--div", "fkl", "--mu", "1.5"]), "--mu");
    fails(&with(&["--div", "fkl", "--json", "--csv"]), "not both");
    fails(
        &["real", "--builtin", "--input", "x.npy", "--div", "fkl"],
        "not both",
    );
    fails(
        &[
            "real",
            "--input",
            "/nonexistent/teacher.safetensors",
            "--div",
            "fkl",
        ],
        "/nonexistent/teacher.safetensors",
    );
}

/// A minimal `.safetensors` file: one F32 tensor per (name, shape, values).
fn safetensors(path: &std::path::Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::Value::Object(header).to_string();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).expect("write the test file");
}

#[test]
fn a_logits_file_with_tokens_trains_and_a_mismatch_is_refused() {
    let dir = std::env::temp_dir().join(format!("kdviz-real-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (b, t, v) = (2usize, 3usize, 5usize);
    let teacher: Vec<f32> = (0..b * t * v)
        .map(|i| ((i * 7) % 11) as f32 * 0.3)
        .collect();
    let file = dir.join("logits.safetensors");
    safetensors(&file, &[("teacher_logits", vec![b, t, v], teacher)]);
    let tokens = dir.join("tokens.json");
    std::fs::write(&tokens, r#"["a", "b", "c", "d", "e"]"#).unwrap();
    let (f, tk) = (file.to_str().unwrap(), tokens.to_str().unwrap());
    let v_json = json(&[
        "real",
        "--input",
        f,
        "--tokens",
        tk,
        "--div",
        "fkl",
        "--epochs",
        "30",
        "--lr",
        "0.3",
        "--backend",
        "cpu",
        "--json",
    ]);
    assert_eq!(
        v_json["positions"], 6,
        "[B, T, V] flattens to B·T positions"
    );
    assert_eq!(v_json["vocab"], 5);
    let kl = series(&v_json["runs"][0], "kl_pq");
    assert!(kl[30] < 0.05 * kl[0], "{kl:?}");

    let short = dir.join("short.json");
    std::fs::write(&short, r#"["a", "b", "c", "d", "e", "f", "g"]"#).unwrap();
    fails(
        &[
            "real",
            "--input",
            f,
            "--tokens",
            short.to_str().unwrap(),
            "--div",
            "fkl",
        ],
        "short.json",
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn uld_trains_across_vocabularies_and_other_families_are_refused_up_front() {
    let dir = std::env::temp_dir().join(format!("kdviz-real-uld-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A teacher over 9 classes, a student over 5 (another tokenizer): uld matches sorted
    // probabilities, so it trains; per-class metrics do not exist.
    let (n, tv, sv) = (4usize, 9usize, 5usize);
    let teacher: Vec<f32> = (0..n * tv).map(|i| -0.4 * (i % tv) as f32).collect();
    let student: Vec<f32> = (0..n * sv).map(|i| 0.1 * ((i * 3) % 4) as f32).collect();
    let (t, s) = (dir.join("t.safetensors"), dir.join("s.safetensors"));
    safetensors(&t, &[("teacher_logits", vec![n, tv], teacher)]);
    safetensors(&s, &[("student_logits", vec![n, sv], student)]);
    let (t, s) = (t.to_str().unwrap(), s.to_str().unwrap());
    let base = [
        "real",
        "--input",
        t,
        "--student-input",
        s,
        "--backend",
        "cpu",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    let v = json(&with(&[
        "--div", "uld", "--epochs", "40", "--lr", "0.1", "--json",
    ]));
    assert_eq!(
        (v["vocab"].as_u64(), v["student_vocab"].as_u64()),
        (Some(9), Some(5))
    );
    let objective = series(&v["runs"][0], "objective");
    assert!(objective[40] < 0.5 * objective[0], "{objective:?}");
    let first = &v["runs"][0]["history"][0];
    for key in ["kl_pq", "kl_qp", "head_gap", "tail_gap", "top1"] {
        assert!(first[key].is_null(), "{key}: {first}");
    }
    // The text table says why the per-class columns are empty.
    let (code, out, err) = kdviz(&with(&["--div", "uld", "--epochs", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("the student has 5 classes, not the teacher's 9"),
        "{out}"
    );
    // Any other family: exit 2 before anything trains, naming uld.
    let msg = fails(
        &with(&["--div", "uld", "--div", "fkl", "--epochs", "2"]),
        "only uld accepts different sizes",
    );
    assert!(msg.contains("--div \"fkl\""), "{msg}");
    assert!(
        msg.contains("the teacher has 9 classes, the student 5"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn figures_of_the_metrics_and_of_a_position() {
    let dir = std::env::temp_dir().join(format!("kdviz-real-fig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |file: &str, extra: &[&str]| -> std::path::PathBuf {
        let path = dir.join(file);
        let p = path.to_str().unwrap().to_string();
        let mut args = vec![
            "real",
            "--builtin",
            "--positions",
            "32",
            "--div",
            "fkl",
            "--div",
            "rkl",
            "--epochs",
            "5",
            "--backend",
            "cpu",
            "--figure",
            &p,
        ];
        args.extend_from_slice(extra);
        let (code, _, err) = kdviz(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        path
    };
    // PNG: the requested scale of the default 1100 × 640 points, and not blank.
    let png = image::open(run("metrics.png", &["--scale", "1"]))
        .unwrap()
        .to_rgba8();
    assert_eq!(png.dimensions(), (1100, 640));
    let distinct: std::collections::HashSet<[u8; 4]> = png.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());
    // SVG: six plots, each with one curve per divergence in its colour.
    let svg = std::fs::read_to_string(run("metrics.svg", &[])).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("valid SVG");
    let fkl = kdviz::views::palette::run_colors::<kdviz::math::Divergence>(&[
        "fkl".parse().unwrap(),
        "rkl".parse().unwrap(),
    ])[0];
    let fkl_rgb = format!("rgb({},{},{})", fkl.r(), fkl.g(), fkl.b());
    let fkl_paths = doc
        .descendants()
        .filter(|n| n.has_tag_name("path"))
        .filter(|n| n.attribute("stroke") == Some(fkl_rgb.as_str()))
        .count();
    assert!(fkl_paths >= 6, "{fkl_paths} fkl curves");
    assert!(svg.contains("top-1 agreement"));
    // A position: the CSV lists every class by teacher rank with both students.
    let csv = std::fs::read_to_string(run("pos.csv", &["--position", "3"])).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "rank,class,token,teacher,\"fkl\",\"rkl\"");
    assert_eq!(lines.len(), 1 + 5751);
    let p: Vec<f64> = lines[1..]
        .iter()
        // from the right: a token may be a quoted comma
        .map(|l| l.rsplit(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "sorted by teacher");
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    fails(
        &[
            "real",
            "--builtin",
            "--positions",
            "8",
            "--div",
            "fkl",
            "--figure",
            "x.gif",
        ],
        "expected .png, .svg or .csv",
    );
    fails(
        &[
            "real",
            "--builtin",
            "--positions",
            "8",
            "--div",
            "fkl",
            "--figure",
            "x.png",
            "--position",
            "8",
        ],
        "--position",
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 10, failure 6: extreme but finite teacher files (rows of ±3e38 or ±1e30) made the GPU say
/// "diverged at epoch 0 ... lower the learning rate" and the CPU blame -inf logits the file does
/// not have. Both backends now refuse them at load with the same message naming the file, the
/// position, the value and the accepted range; at the bound (±1e5 and -inf) both train and agree.
#[test]
fn extreme_files_are_refused_alike_and_the_bound_trains_alike() {
    let dir = std::env::temp_dir().join(format!("kdviz-real-extreme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let has_gpu = kdviz(&["gpu", "info"]).0 == 0;
    let backends: &[&str] = if has_gpu { &["cpu", "gpu"] } else { &["cpu"] };
    for (name, big) in [("e38", 3e38f32), ("e30", 1e30)] {
        let file = dir.join(format!("{name}.safetensors"));
        safetensors(
            &file,
            &[(
                "teacher_logits",
                vec![2, 4],
                vec![big, -big, 0.0, 1.0, 2.0, 1.0, 0.0, -big],
            )],
        );
        let f = file.to_str().unwrap();
        let mut messages = Vec::new();
        for backend in backends {
            let args = [
                "real",
                "--input",
                f,
                "--div",
                "rkl",
                "--epochs",
                "2",
                "--backend",
                backend,
            ];
            let (code, out, err) = kdviz(&args);
            assert_eq!(code, 2, "{backend}: {out} {err}");
            assert!(
                err.contains(&format!(
                    "teacher logit of tensor 'teacher_logits' at position 0, class 0 is {:e}; \
                     expected a finite logit in [-100000, 100000] or -inf",
                    f64::from(big)
                )),
                "{backend}: {err}"
            );
            messages.push(err);
        }
        assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    }
    // At the bound, with a -inf class: both backends train, and their metrics agree.
    let file = dir.join("bound.safetensors");
    let b = 1e5f32;
    safetensors(
        &file,
        &[(
            "teacher_logits",
            vec![2, 4],
            vec![b, -b, 0.0, 1.0, -b, 3.0, f32::NEG_INFINITY, b],
        )],
    );
    let run = |backend: &str| {
        json(&[
            "real",
            "--input",
            file.to_str().unwrap(),
            "--div",
            "fkl",
            "--div",
            "jsd",
            "--epochs",
            "5",
            "--backend",
            backend,
            "--json",
        ])
    };
    let runs: Vec<_> = backends.iter().map(|b| run(b)).collect();
    for r in 0..2 {
        let kl = series(&runs[0]["runs"][r], "kl_pq");
        assert!(kl.iter().all(|x| x.is_finite()), "{kl:?}");
        if let [c, g] = runs.as_slice() {
            for key in ["objective", "kl_pq", "head_gap", "tail_gap"] {
                let (a, b) = (series(&c["runs"][r], key), series(&g["runs"][r], key));
                for (e, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (x - y).abs() <= 2e-3 * x.abs() + 1e-5,
                        "run {r} {key} epoch {e}: cpu {x} gpu {y}"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
