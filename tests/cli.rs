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
        "divergence,epoch,objective,kl_pq,kl_qp,tvd,head_gap,tail_gap,far_tail,mu,sigma,t,mean1,mean2,cov11,cov12,cov22"
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
        "--student-logits: entry 1 is inf",
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

// ---------------------------------------------------------------- issue 10: numerics and the input policy

/// A number of a JSON reply (value or gradient entry), asserting it is one.
fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn eval_json(div: &str, teacher: &str, student: &str) -> (f64, Vec<f64>) {
    let v = json(&["eval", "--div", div, teacher, student, "--json"]);
    let grad = v["grad"].as_array().unwrap().iter().map(f).collect();
    (f(&v["value"]), grad)
}

/// Failure 2: logits of 1e16 printed 1.386 for ln 2; now outside the policy (±1e5), refused with
/// the value, the flag and the range. (The root fix, `(x − max) − ln Σ`, is tested in math::dist.)
#[test]
fn huge_logits_are_refused_naming_flag_value_and_range() {
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits=1e16,1e16,-1e16,-1e16",
            "--student-logits=0,0,0,0",
        ],
        "--teacher-logits: entry 0 is 1e16; expected a finite logit in [-100000, 100000] or -inf",
    );
    // Failure 3: a student spread beyond f64 (x − max overflowed) printed NaN.
    fails(
        &[
            "eval",
            "--div",
            "rkl",
            "--teacher-logits=0,0",
            "--student-logits=1e308,-1e308",
        ],
        "--student-logits: entry 0 is 1e308; expected a finite logit in [-100000, 100000]",
    );
    fails(
        &[
            "eval",
            "--div",
            "ab:alpha=-10,beta=10",
            "--teacher-logits=1e300,0",
            "--student-logits=0,0",
        ],
        "entry 0 is 1e300",
    );
    // At the bound: accepted and exact (ln 2 between a two-class teacher and a uniform student).
    let (v, g) = eval_json(
        "fkl",
        "--teacher-logits=100000,100000,-100000,-100000",
        "--student-logits=0,0,0,0",
    );
    assert!((v - 2f64.ln()).abs() < 1e-15, "{v}");
    assert_eq!(g, vec![-0.25, -0.25, 0.25, 0.25]);
}

/// Failure 3: probabilities of 1e308 overflowed the normalising sum (NaN gradients for akl, taid,
/// amid, hinton; wrong values for the others). Now normalised by their largest first.
#[test]
fn huge_probabilities_are_normalised_without_overflow() {
    for div in [
        "akl", "taid", "amid", "hinton", "fkl", "rkl", "jsd", "tvd", "ab", "srkl",
    ] {
        let (v, g) = eval_json(
            div,
            "--teacher-probs=1e308,1e308,1e308",
            "--student-logits=0,0,0",
        );
        if div != "hinton" {
            // (Hinton adds the hard label's cross-entropy, ln 3 here.)
            assert!((0.0..1e-15).contains(&v), "{div}: uniform vs uniform: {v}");
            assert!(g.iter().all(|x| x.abs() < 1e-15), "{div}: {g:?}");
        }
        let want = eval_json(div, "--teacher-probs=1,1,1", "--student-logits=0,1,0");
        assert_eq!(
            eval_json(
                div,
                "--teacher-probs=1e308,1e308,1e308",
                "--student-logits=0,1,0"
            ),
            want,
            "{div}: scaling the weights changes nothing"
        );
    }
    // The TOML `kind = "probs"` teacher blamed "zero probability" for the same weights.
    let dir = std::env::temp_dir().join(format!("kdviz-probs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "epochs = 3\ndivergences = [\"rkl\", \"akl\"]\n[teacher]\nkind = \"probs\"\nprobs = [1e308, 1e308, 5e307]\n[student]\nkind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n").unwrap();
    let (code, out, err) = kdviz(&["fit", "--config", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("NaN") && !out.contains("nan"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Failure 3: a finite value was printed next to a gradient of [-inf, NaN]; an overflow is now
/// refused with exit 2, never printed.
#[test]
fn overflowing_values_and_gradients_are_refused() {
    fails(
        &[
            "eval",
            "--div",
            "ab:alpha=-10,beta=10",
            "--teacher-logits=10000,0",
            "--student-logits=0,0",
        ],
        "ab:alpha=-10,beta=10 overflows: its value exceeds f64's range",
    );
    // The same in a fit: an error naming the epoch, not NaN in the JSON.
    let dir = std::env::temp_dir().join(format!("kdviz-ovf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "epochs = 3\ndivergences = [\"alpha:alpha=-10\"]\n[teacher]\nkind = \"logits\"\nlogits = [10000, 0, -10000]\n[student]\nkind = \"logits\"\ninit = \"zeros\"\n[optimizer]\nkind = \"adam\"\nlr = 0.1\n").unwrap();
    fails(
        &["fit", "--config", path.to_str().unwrap()],
        "epoch 0: alpha:alpha=-10 overflows",
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Failures 9 and 10: exact endpoints give exactly 0 (not ±1e-16), values never go negative.
#[test]
fn endpoints_are_exactly_zero_and_values_never_negative() {
    let t = "--teacher-logits=0.3,1.7,-2.1,0.44,3";
    let s = "--student-logits=1.1,0.2,-0.7,2.3,-1.3";
    for div in [
        "amid:lambda=1",
        "amid:lambda=0,order=qr",
        "amid:lambda=1,order=rp",
        "amid:lambda=0,order=rq",
        "amid:alpha=1,lambda=1",
        "amid:lambda=1,div=ab",
        "taid:t=0",
    ] {
        let (v, g) = eval_json(div, t, s);
        assert_eq!(v, 0.0, "{div}");
        assert!(g.iter().all(|&x| x == 0.0), "{div}: {g:?}");
    }
    for beta in ["0.9999999999", "0.99999999999999", "1e-15"] {
        let (v, _) = eval_json(
            &format!("jsd:beta={beta}"),
            t,
            t.replace("teacher", "student").as_str(),
        );
        // Rounding leaves ±1e-16 here; the negative side is clamped (math::range::clamp0).
        assert!(
            (0.0..1e-15).contains(&v),
            "jsd:beta={beta} of p against itself: {v}"
        );
    }
}

/// Failure 10: one class is refused by eval and fit as by the real-model path; KDVIZ_SIMD is checked.
#[test]
fn one_class_and_bad_simd_caps_are_reported() {
    fails(
        &[
            "eval",
            "--div",
            "fkl",
            "--teacher-logits",
            "0",
            "--student-logits",
            "0",
        ],
        "--teacher-logits: the vector has 1 entry; expected at least 2 classes",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kdviz"))
        .args([
            "eval",
            "--div",
            "fkl",
            "--teacher-logits=0,1",
            "--student-logits=0,0",
        ])
        .env("KDVIZ_SIMD", "bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let caps = if cfg!(target_arch = "x86_64") {
        "scalar, avx2, avx512"
    } else if cfg!(target_arch = "aarch64") {
        "scalar, neon"
    } else {
        "scalar"
    };
    assert!(
        err.contains(&format!(
            "KDVIZ_SIMD=\"bogus\" is not a SIMD backend; expected one of {caps} (or unset)"
        )),
        "{err}"
    );
}

/// A value of 1e187 (αβ exponents of −10 inside AMiD) printed as 188 digits; from 1e10 on the text
/// output is scientific, ten significant digits.
#[test]
fn huge_values_print_in_scientific_notation() {
    let (code, out, err) = kdviz(&[
        "eval",
        "--div",
        "amid:alpha=0.85,lambda=0.19,div=ab,ab_alpha=-10,ab_beta=-10,order=rp",
        "--teacher-logits=0,0",
        "--student-logits=100,0",
    ]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().next().unwrap();
    let value = line.rsplit(" = ").next().unwrap();
    assert!(value.ends_with("e194"), "{line}");
    assert!(value.len() < 20, "{line}");
    let grad = out.lines().nth(1).unwrap();
    assert!(grad.len() < 60 && grad.contains('e'), "{grad}");
}

/// A value or gradient below 1e-4 prints in scientific notation: ten decimals showed 3e-11 as zero.
#[test]
fn tiny_values_keep_their_digits() {
    let (code, out, err) = kdviz(&[
        "eval",
        "--div",
        "fkl",
        "--teacher-logits=0,1",
        "--student-logits=0,1.00001",
    ]);
    assert_eq!(code, 0, "{err}");
    // KL ≈ p(1−p)·δ²/2 with p = σ(1), δ = 1e-5: 9.8e-12; the gradient ≈ ±p(1−p)·δ = ±1.97e-6.
    let value: f64 = out
        .lines()
        .next()
        .unwrap()
        .rsplit(" = ")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((value - 9.83e-12).abs() < 0.01e-12, "{out}");
    assert!(out.contains("e-6"), "{out}");
    let (_, same, _) = kdviz(&[
        "eval",
        "--div",
        "fkl",
        "--teacher-logits=0,1",
        "--student-logits=0,1",
    ]);
    assert!(
        same.contains("= 0.0000000000") && !same.contains("-0.0"),
        "{same}"
    );
}

/// practice.md §11 through `eval`: a §13.4 vector, verl's warning for k1 as a loss, and bad keys
/// refused with exit 2.
#[test]
fn rkl_est_evaluates_warns_and_refuses_bad_keys() {
    let (a_u, a_z) = (
        "--teacher-logits=1,0.9,0.8,0.7,0,-1",
        "--student-logits=0.2,1,-0.5,0.9,0.3,0",
    );
    let (value, grad) = eval_json("rkl-est:kind=k3,mode=pg,n=4,seed=7", a_u, a_z);
    assert!((value - 0.20338911529420495).abs() < 1e-9, "{value}");
    assert!((grad[5] - 0.09358571081383338).abs() < 1e-9, "{grad:?}");
    let v = json(&[
        "eval",
        "--div",
        "rkl-est:kind=kl,mode=loss,x=2",
        a_u,
        a_z,
        "--json",
    ]);
    assert_eq!(v["divergence"], "rkl-est:kind=k1,mode=loss,n=1,seed=0,x=2");
    let warning = v["warning"].as_str().unwrap();
    assert!(
        warning.starts_with("k1 as a loss has zero expected gradient"),
        "{warning}"
    );
    let (code, text, _) = kdviz(&["eval", "--div", "rkl-est:kind=k1,mode=loss", a_u, a_z]);
    assert_eq!(code, 0);
    assert!(
        text.contains("warning: k1 as a loss has zero expected gradient"),
        "{text}"
    );
    let v = json(&["eval", "--div", "rkl-est", a_u, a_z, "--json"]);
    assert!(v.get("warning").is_none(), "{v}");
    for (spec, needle) in [
        (
            "rkl-est:kind=k4",
            "rkl-est: kind=\"k4\"; expected k1, k2, k3 or abs (or kl, mse, low_var_kl)",
        ),
        (
            "rkl-est:n=2.0",
            "rkl-est: n=\"2.0\"; expected an integer in [1, 1000000]",
        ),
        ("rkl-est:n=0", "rkl-est: n=0 is out of range"),
        (
            "rkl-est:seed=18446744073709551616",
            "rkl-est: seed=\"18446744073709551616\"",
        ),
        ("rkl-est:x=1,n=2", "expected n=1 (or no x)"),
        (
            "rkl-est:x=6",
            "rkl-est: x=6 is not a class; expected an index below 6",
        ),
        (
            "rkl-est:mode=reinforce",
            "rkl-est: mode=\"reinforce\"; expected loss or pg",
        ),
    ] {
        fails(&["eval", "--div", spec, a_u, a_z], needle);
    }
}

/// The GPU has neither u64 nor f64 for the sampler: the GPU paths refuse rkl-est in one line.
#[test]
fn rkl_est_stays_on_the_cpu() {
    let line = "rkl-est runs on the CPU engine: its sampler needs f64";
    fails(&["gpu", "bench", "--div", "rkl-est", "--vocab", "8"], line);
    let real = [
        "real",
        "--builtin",
        "--div",
        "rkl-est",
        "--backend",
        "gpu",
        "--epochs",
        "1",
    ];
    fails(&real, line);
}

/// `kdviz bench` says how many threads its refits used and times them on one thread too; the long
/// fit is the `minillm-gmm` preset as the app runs it.
#[test]
fn bench_reports_its_threads_and_the_long_fit() {
    let v = json(&[
        "bench",
        "--repeats",
        "1",
        "--epochs",
        "2",
        "--classes",
        "10",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(v["cores"].as_u64().unwrap() >= 1);
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    for s in scenarios {
        let refit = &s["refit"];
        assert_eq!(refit["threads"], 2, "{s}");
        assert_eq!(refit["divergences"].as_array().unwrap().len(), 6);
        for key in [
            "median_ms",
            "min_ms",
            "one_thread_median_ms",
            "one_thread_min_ms",
        ] {
            assert!(refit[key].as_f64().unwrap() > 0.0, "{key}: {refit}");
        }
    }
    let long = &v["long_fit"];
    assert_eq!(long["preset"], "minillm-gmm");
    assert_eq!(long["epochs"], 4000);
    assert_eq!(long["classes"], 2401);
    assert_eq!(long["divergences"], serde_json::json!(["fkl", "rkl"]));
    assert_eq!(long["threads"], 2);
    let v = json(&[
        "bench",
        "--repeats",
        "1",
        "--epochs",
        "2",
        "--classes",
        "10",
        "--threads",
        "1",
        "--json",
    ]);
    let refit = &v["scenarios"][0]["refit"];
    assert_eq!(refit["threads"], 1);
    assert_eq!(refit["median_ms"], refit["one_thread_median_ms"]);
}
