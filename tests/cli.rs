//! The command line as a user meets it: output formats, exit codes and one-line errors.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;
use common::{fails, json, kdviz};

#[test]
fn eval_prints_the_spec_vector_in_both_negative_forms() {
    for t in [
        ["--teacher-logits", "1,0.9,0.8,0.7,0,-1"],
        ["--teacher-logits=1,0.9,0.8,0.7,0,-1", "--json"],
    ] {
        let mut args = vec![
            "eval",
            "--div",
            "fkl",
            "--student-logits",
            "0.2,1,-0.5,0.9,0.3,0",
            "--json",
        ];
        args.extend(t);
        let v = json(&args);
        assert_eq!(v["divergence"], "fkl");
        assert!((v["value"].as_f64().unwrap() - 0.2056397822).abs() < 1e-9);
        let g: Vec<f64> = v["grad"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!((g[0] + 0.1214894235).abs() < 1e-9 && g.len() == 6);
    }
}

#[test]
fn eval_reports_infinity_not_nan() {
    let v = json(&[
        "eval",
        "--div",
        "rkl",
        "--teacher-probs",
        "0.5,0.5,0",
        "--student-logits",
        "-1,0,1",
        "--json",
    ]);
    assert_eq!(v["value"], "inf");
    assert!(v["grad"].is_null());
    let v = json(&[
        "eval",
        "--div",
        "fkl",
        "--teacher-logits",
        "0,0,-inf",
        "--student-logits",
        "-1,0,1",
        "--json",
    ]);
    assert!(v["value"].as_f64().unwrap().is_finite());
}

#[test]
fn eval_reads_npy_and_csv_files() {
    let dir = std::env::temp_dir().join(format!("kdviz-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("t.npy");
    kdviz::io::npy::write_npy_f64(&npy, &[1.0, 0.9, 0.8, 0.7, 0.0, -1.0]).unwrap();
    let csv = dir.join("s.csv");
    std::fs::write(&csv, "# student\n0.2, 1\n-0.5 0.9\n0.3,0\n").unwrap();
    let v = json(&[
        "eval",
        "--div",
        "rkl",
        "--teacher-logits",
        npy.to_str().unwrap(),
        "--student-logits",
        csv.to_str().unwrap(),
        "--json",
    ]);
    assert!((v["value"].as_f64().unwrap() - 0.1852638547).abs() < 1e-9);
    std::fs::write(dir.join("bad.csv"), "1,2\nx,3\n").unwrap();
    fails(
        &[
            "eval",
            "--div",
            "rkl",
            "--teacher-logits",
            dir.join("bad.csv").to_str().unwrap(),
            "--student-logits",
            "1,2,3,4",
        ],
        "line 2",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fit_preset_json_has_the_documented_shape() {
    let v = json(&["fit", "--preset", "akl-fig3-longtail", "--json"]);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["divergence"], "fkl");
    let hist = runs[0]["history"].as_array().unwrap();
    assert_eq!(hist.len(), 801);
    for key in [
        "epoch",
        "objective",
        "kl_pq",
        "kl_qp",
        "tvd",
        "head_gap",
        "tail_gap",
        "far_tail",
    ] {
        assert!(hist[5].get(key).is_some(), "missing {key}");
    }
    assert_eq!(hist[5]["epoch"], 5);
    assert!((hist[5]["head_gap"].as_f64().unwrap() - 0.181).abs() < 0.005);
    let snaps: Vec<u64> = runs[1]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(snaps, [1, 5, 10, 300]);
    assert_eq!(runs[1]["snapshots"][0]["q"].as_array().unwrap().len(), 80);
}

#[test]
fn fit_overrides_divergences_epochs_and_snapshots() {
    let v = json(&[
        "fit",
        "--preset",
        "minillm-gmm",
        "--div",
        "jsd:beta=0.5",
        "--div=tvd",
        "--epochs",
        "20",
        "--snapshots",
        "2,20",
        "--json",
    ]);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["divergence"], "tvd");
    assert_eq!(runs[0]["history"].as_array().unwrap().len(), 21);
    assert!(runs[0]["history"][20]["sigma"].as_f64().unwrap() > 0.0);
    let (code, csv, _) = kdviz(&["fit", "--preset", "taid-schedule", "--epochs", "3", "--csv"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "divergence,epoch,objective,kl_pq,kl_qp,tvd,head_gap,tail_gap,far_tail,mu,sigma,t"
    );
    assert_eq!(lines.len(), 1 + 4 * 4);
    assert!(lines[5].starts_with("\"taid:t_start=0.4,t_end=1,rate=0.0005,momentum=0.99\",0,"));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    fails(
        &[
            "eval",
            "--div",
            "kl",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,2",
        ],
        "unknown divergence \"kl\"",
    );
    fails(
        &[
            "eval",
            "--div",
            "akl:nu=1",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,2",
        ],
        "unknown parameter",
    );
    fails(
        &[
            "eval",
            "--div",
            "jsd:beta=2",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,2",
        ],
        "out of range",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,2,3",
        ],
        "2 classes and the student 3",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits",
            "1,nan",
            "--student-logits",
            "1,2",
        ],
        "expected a finite number",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,inf",
        ],
        "student logits",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits",
            "",
            "--student-logits",
            "1",
        ],
        "--teacher-logits",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-probs",
            "0.5,-0.5",
            "--student-logits",
            "1,2",
        ],
        ">= 0",
    );
    fails(
        &[
            "eval",
            "--div",
            "hinton:label=5",
            "--teacher-logits",
            "1,2",
            "--student-logits",
            "1,2",
        ],
        "label=5",
    );
    fails(
        &["eval", "--div", "fkl", "--student-logits", "1,2"],
        "--teacher-logits is missing",
    );
    fails(&["fit", "--preset", "nope"], "unknown preset");
    fails(
        &["fit", "--preset", "minillm-gmm", "--epochs", "-3"],
        "--epochs",
    );
    fails(
        &["fit", "--preset", "minillm-gmm", "--snapshots", "1,x"],
        "\"x\"",
    );
    fails(
        &[
            "fit",
            "--preset",
            "minillm-gmm",
            "--epochs",
            "10",
            "--snapshots",
            "20",
        ],
        "after the last epoch",
    );
    fails(&["fit", "--config", "/nonexistent/x.toml"], "cannot read");
    fails(&["fit"], "--preset NAME or --config");
    fails(
        &["fit", "--preset", "minillm-gmm", "--json", "--csv"],
        "not both",
    );
    fails(&["frobnicate"], "unknown command");
    fails(&["eval", "--dvi", "fkl"], "unknown option --dvi");
}

#[test]
fn bad_config_files_name_the_line() {
    let dir = std::env::temp_dir().join(format!("kdviz-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "epochs = 5\ndivergences = [\"fkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [0.5, 0.5]\n[student]\nkind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = -1\n").unwrap();
    fails(&["fit", "--config", path.to_str().unwrap()], "lr=-1");
    std::fs::write(
        &path,
        "epochs = 5\ndivergences = [\"fkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [0.5, 0.5\n",
    )
    .unwrap();
    fails(&["fit", "--config", path.to_str().unwrap()], "line 5");
    std::fs::write(&path, "epochs = 5\ndivergences = [\"rkl\"]\n[teacher]\nkind = \"probs\"\nprobs = [0.5, 0.5, 0]\n[student]\nkind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n").unwrap();
    fails(
        &["fit", "--config", path.to_str().unwrap()],
        "zero probability",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn presets_and_help() {
    let (code, out, _) = kdviz(&["presets"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("akl-fig3-longtail ")));
    assert_eq!(out.lines().count(), kdviz::toy::preset::PRESETS.len());
    let (code, out, _) = kdviz(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("kdviz fit"));
    let (code, out, _) = kdviz(&["divergences"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.contains("default:")).count(),
        kdviz::math::FAMILIES.len()
    );
}

#[test]
fn every_preset_runs() {
    for (name, _) in kdviz::toy::preset::PRESETS {
        let cfg = kdviz::toy::preset::load(name).unwrap();
        let spec = cfg.to_spec().unwrap();
        let short = kdviz::toy::FitSpec {
            epochs: 5,
            snapshots: Default::default(),
            ..spec
        };
        let r = short.run().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.runs.len(), cfg.divergences.len(), "{name}");
    }
}

/// `kdviz app --preset/--config` check their argument before any window opens.
#[test]
fn app_refuses_a_wrong_preset_or_config_before_opening() {
    fails(&["app", "--preset", "nope"], "unknown preset \"nope\"");
    let dir = std::env::temp_dir().join(format!("kdviz-app-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "epochs = \"many\"\n").unwrap();
    fails(&["app", "--config", bad.to_str().unwrap()], "bad.toml");
    fails(
        &["app", "--preset", "zipf-1000", "--lesson", "mode-seeking"],
        "--lesson",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
