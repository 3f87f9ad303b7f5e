//! `kdviz eval`, `fit --sweep` and `kdviz divergences` with the practice options of practice.md §0.2
//! (issue 13).
#![allow(clippy::unwrap_used)] // tests may unwrap
#![allow(clippy::excessive_precision)] // the spec's 17-digit vectors, copied as printed

mod common;
use common::{fails, json, kdviz};

const D_U: &str = "1.5,1.2,0.1,-0.4";
const D_Z: &str = "2.6,1.9,-1,-1.5";
const A_U: &str = "1,0.9,0.8,0.7,0,-1";
const A_Z: &str = "0.2,1,-0.5,0.9,0.3,0";

fn eval_json(div: &str, u: &str, z: &str) -> serde_json::Value {
    json(&[
        "eval",
        "--div",
        div,
        "--teacher-logits",
        u,
        "--student-logits",
        z,
        "--json",
    ])
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// §13.3's tail-bucket row on vector D, with the outcome fields that apply.
#[test]
fn eval_json_carries_the_value_the_gradient_and_the_outcome() {
    let v = eval_json("fkl:support=topk-tail,k=2", D_U, D_Z);
    assert_eq!(v["divergence"], "fkl:support=topk-tail,k=2");
    assert!((v["value"].as_f64().unwrap() - 0.21921376558174585).abs() < 1e-9);
    let g = floats(&v["grad"]);
    let want = [
        0.18119833550090014,
        -0.024308183429084564,
        -0.097657739130779575,
        -0.059232412941035983,
    ];
    for (a, b) in g.iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{g:?}");
    }
    assert_eq!(v["top_k"]["k"], 2);
    assert_eq!(v["top_k"]["overlap"], 2);
    let (pk, qk) = (
        v["top_k"]["p_k"].as_f64().unwrap(),
        v["top_k"]["q_k"].as_f64().unwrap(),
    );
    assert!(qk > pk && pk > 0.5, "{pk} {qk}");
    assert_eq!(v["tail_active"], true);
    assert!(v.get("counts").is_none() && v.get("clamped").is_none());
    // The truncated loss goes negative (−0.128) and is printed so; the clamp reports firing.
    let v = eval_json("fkl:support=topk,k=2", D_U, D_Z);
    assert!((v["value"].as_f64().unwrap() + 0.12795741677552033).abs() < 1e-9);
    let v = eval_json("fkl:support=topk,k=2,clamp=true", D_U, D_Z);
    assert_eq!(v["value"].as_f64().unwrap(), 0.0);
    assert_eq!(v["clamped"], true);
    // The sampled support prints its counts (§10.5: vector A, n=16, seed=3).
    let v = eval_json("fkl:support=sampled,n=16,seed=3", A_U, A_Z);
    assert_eq!(floats(&v["counts"]), [4.0, 1.0, 4.0, 5.0, 2.0, 0.0]);
    assert!((v["value"].as_f64().unwrap() - 0.43988454599452442).abs() < 1e-9);
    // A plain family prints exactly what it printed before the options existed.
    let v = eval_json("fkl", A_U, A_Z);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["divergence", "value", "grad"]);
}

#[test]
fn eval_text_names_the_support_facts() {
    let (code, out, err) = kdviz(&[
        "eval",
        "--div",
        "fkl:tt=2,st=2,t2=true,support=topk,k=2,clamp=true",
        "--teacher-logits",
        D_U,
        "--student-logits",
        D_Z,
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("fkl:tt=2,st=2,t2=true,support=topk,k=2,clamp=true = "));
    assert!(lines[1].starts_with("grad = ["));
    assert!(lines[2].starts_with("top-2: teacher mass P_K = "), "{out}");
    assert!(lines[3].starts_with("clamp: "), "{out}");
}

/// Bad input: exit 2, one line, naming the family, the key and what is accepted.
#[test]
fn eval_refuses_with_one_line() {
    let eval = |div: &str, u: &str, z: &str, needle: &str| {
        fails(
            &[
                "eval",
                "--div",
                div,
                "--teacher-logits",
                u,
                "--student-logits",
                z,
            ],
            needle,
        );
    };
    eval(
        "akl:support=topk,k=2",
        A_U,
        A_Z,
        "akl: support=topk needs a per-class divergence (fkl, rkl, jsd, tvd, skl, srkl, ab, \
         alpha, todi, wsd, jeffreys); use support=topk-renorm or topk-tail",
    );
    eval("fkl:support=topk", A_U, A_Z, "fkl: support=topk needs k");
    eval(
        "fkl:support=topk,k=7",
        A_U,
        A_Z,
        "fkl: k=7 is out of range; expected 1..6",
    );
    eval(
        "fkl:tt=2",
        A_U,
        D_Z,
        "fkl: teacher has 6 classes, student 4; only uld accepts different sizes",
    );
    eval("dkd:st=1", A_U, A_Z, "dkd: st is not accepted");
    eval(
        "fkl:compute=naive,support=full",
        A_U,
        A_Z,
        "support is given",
    );
    fails(
        &[
            "eval",
            "--div",
            "fkl:tt=2",
            "--teacher-probs",
            "0.5,0.5,0",
            "--student-logits",
            "1,2,3",
        ],
        "--teacher-probs: entry 2 has probability 0",
    );
}

#[test]
fn the_catalogue_lists_the_practice_options() {
    let (code, out, _) = kdviz(&["divergences"]);
    assert_eq!(code, 0);
    for needle in [
        "practice options",
        "  tt: a number in [0.01, 100], default 1 — teacher temperature",
        "  k: an integer in 1..V, default none (required), with a top-k support",
        "  seed: an integer in [0, 2^64), default 0, with support=sampled",
        "  topk, topk-renorm with renorm=teacher: fkl, rkl, jsd, tvd, skl, srkl, ab, alpha, todi, \
         wsd, jeffreys",
        "  support must be full: taid, amid, hinton, dkd, bild, eakd",
    ] {
        assert!(out.contains(needle), "{needle:?} not in:\n{out}");
    }
}

/// practice.md §12.3: an emulated kernel that overflows prints null value and gradient and says
/// what happened (exit 0, no NaN anywhere).
#[test]
fn eval_shows_a_nonfinite_emulation_as_an_outcome() {
    let v = eval_json(
        "fkl:precision=f16,compute=naive",
        "70000,0,0,0",
        "0.4,0.9,-1.2,0.1",
    );
    assert!(v["value"].is_null() && v["grad"].is_null(), "{v}");
    assert_eq!(
        v["nonfinite"],
        "nan: teacher logit overflows to infinity in f16 at class 0"
    );
    let v = eval_json(
        "jsd:precision=bf16,compute=naive",
        "0.361328125,-0.5546875,-1.140625,-2.015625,0.97265625,-2.171875",
        "0.4140625,-0.62109375,-1.234375,-2.03125,0.953125,-2.109375",
    );
    assert_eq!(v["value"].as_f64().unwrap(), -0.00034332275390625);
}

/// `kdviz fit --sweep`: one run per value, `full` the whole teacher; the objective is what the
/// student sees, KL(p‖q) the full teacher's, so a small k costs KL.
#[test]
fn fit_sweeps_k_and_reports_the_full_teachers_kl() {
    let v = json(&[
        "fit",
        "--preset",
        "zipf-1000",
        "--div",
        "fkl:support=topk-tail,k=4",
        "--sweep",
        "k=1,16,full",
        "--epochs",
        "60",
        "--json",
    ]);
    let runs = v["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["divergence"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fkl:support=topk-tail,k=1",
            "fkl:support=topk-tail,k=16",
            "fkl"
        ]
    );
    let last = |r: &serde_json::Value, key: &str| {
        r["history"].as_array().unwrap().last().unwrap()[key]
            .as_f64()
            .unwrap()
    };
    let kl: Vec<f64> = runs.iter().map(|r| last(r, "kl_pq")).collect();
    assert!(kl[0] > kl[1] && kl[1] > kl[2], "{kl:?}");
    // k = 1 with a tail: two cells, fitted far better than the full teacher is.
    let seen = last(&runs[0], "objective");
    assert!(seen < 0.1 * kl[0] && kl[0] > 1.0, "{seen} {kl:?}");
}

#[test]
fn a_sweep_the_parser_refuses_exits_2_naming_it() {
    fails(
        &[
            "fit",
            "--preset",
            "zipf-1000",
            "--div",
            "fkl",
            "--sweep",
            "k=1,4",
        ],
        "--sweep k: fkl: k needs support=topk, topk-renorm or topk-tail",
    );
    fails(
        &[
            "figure",
            "--preset",
            "zipf-1000",
            "--sweep",
            "k",
            "--out",
            "x.png",
        ],
        "expected KEY=V1,V2",
    );
}
