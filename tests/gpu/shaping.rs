//! Practice options on the GPU (`GpuRows::run_loss`): temperatures, T², soft-capping,
//! standardisation, storage rounding and the sampled support against `practice::evaluate` in f64,
//! with practice.md §12.5's tolerance per row:
//!   value:    |Δ| ≤ 1e-4·|v| + 64·ε32·L·S
//!   gradient: max|Δg| ≤ 1e-5·max|g| + 64·ε32·L·S·max(p, q)
//! L = 1 + the largest |log-probability| of the row after steps 1–4 + ln V (the magnitude f32
//! rounds at, as in the module above), S = the family's scale × st² with t2 × 1/st when st < 1
//! (the chain rule's factor).

use super::{EPS32, Rng, ctx, family_scale};
use kdviz::gpu::{GpuError, GpuRows, RowsOptions, RowsResult, RunOptions, Storage};
use kdviz::math::practice::{Loss, PracticeWorkspace, evaluate, seen};

/// `n` rows of `v` logits: teacher N(0, σ²), student = teacher·0.7 + N(0, σ²)·0.7 (a student
/// mid-training, so that p and q differ), σ = `scale`.
fn rows(n: usize, v: usize, scale: f64, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(seed | 1);
    let (mut t, mut s) = (Vec::new(), Vec::new());
    for _ in 0..n * v {
        let u = scale * rng.normal();
        t.push(u as f32);
        s.push((0.7 * u + 0.7 * scale * rng.normal()) as f32);
    }
    (t, s)
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&y| f64::from(y)).collect()
}

/// The CPU engine's value, gradient and sampled counts of row `r`.
fn cpu_row(
    loss: &Loss,
    t: &[f32],
    s: &[f32],
    v: usize,
    r: usize,
    stream: u64,
) -> (f64, Vec<f64>, Option<Vec<u32>>) {
    let (u, z) = (f64s(&t[r * v..(r + 1) * v]), f64s(&s[r * v..(r + 1) * v]));
    let mut g = vec![0.0; v];
    let out = evaluate(
        loss,
        &u,
        &z,
        stream,
        &mut g,
        &mut PracticeWorkspace::default(),
    )
    .unwrap_or_else(|e| panic!("{loss}: the CPU refused: {e}"));
    (out.value, g, out.support.counts)
}

/// GPU = CPU on every row within the tolerance of the module docs.
fn check(loss: &Loss, t: &[f32], s: &[f32], v: usize, stream0: u64, out: &RowsResult) {
    let pr = &loss.practice;
    let st = pr.student_temperature();
    let scale =
        family_scale(&loss.family) * if pr.t2 { st * st } else { 1.0 } * (1.0 / st).max(1.0);
    for r in 0..out.values.len() {
        let (val, g, counts) = cpu_row(loss, t, s, v, r, stream0 + r as u64);
        let (u, z) = (f64s(&t[r * v..(r + 1) * v]), f64s(&s[r * v..(r + 1) * v]));
        let (mut tp, sq) = seen(pr, &u, &z);
        if let Some(c) = &counts {
            let n: u32 = c.iter().sum();
            tp.p = c.iter().map(|&k| f64::from(k) / f64::from(n)).collect();
            tp.logp = tp.p.iter().map(|p| p.ln()).collect();
        }
        let mag = tp
            .logp
            .iter()
            .chain(&sq.logp)
            .filter(|x| x.is_finite())
            .fold(0f64, |m, x| m.max(x.abs()));
        let big_l = 1.0 + mag + (v as f64).ln();
        let floor = 64.0 * EPS32 * big_l * scale;
        let gv = f64::from(out.values[r]);
        let gg = &out.grad[r * v..(r + 1) * v];
        let ctx = format!("{loss} row {r}: gpu {gv} cpu {val}");
        assert!(gv.is_finite() && val.is_finite(), "{ctx}");
        let err = (gv - val).abs();
        assert!(
            err <= 1e-4 * val.abs() + floor,
            "{ctx}: value error {err:e}, allowed {:e}",
            1e-4 * val.abs() + floor
        );
        let gmax = g.iter().fold(0f64, |m, x| m.max(x.abs()));
        let pq = tp.p.iter().chain(&sq.p).fold(0f64, |m, &x| m.max(x));
        let allowed = 1e-5 * gmax + floor * pq;
        for k in 0..v {
            let e = (f64::from(gg[k]) - g[k]).abs();
            assert!(
                e <= allowed,
                "{ctx}: grad[{k}] gpu {} cpu {} error {e:e}, allowed {allowed:e}",
                gg[k],
                g[k]
            );
        }
    }
}

fn run(rows: &GpuRows<'_>, spec: &str, stream0: u64) -> (Loss, RowsResult) {
    let loss: Loss = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
    let out = rows
        .run_loss(&loss, stream0, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    (loss, out)
}

const FAMILIES: [&str; 6] = ["fkl", "rkl", "jsd:beta=0.5", "tvd", "akl:mu=0.5", "ab"];

/// `fam` with `options` appended as spec pairs.
fn with(fam: &str, options: &str) -> String {
    let sep = if fam.contains(':') { ',' } else { ':' };
    format!("{fam}{sep}{options}")
}

fn check_options(options: &[&str], families: &[&str], scale: f64, seed: u64) {
    let Some(c) = ctx() else { return };
    let mut rng = Rng(seed);
    for (i, opt) in options.iter().enumerate() {
        // V from 50 to 300, a few rows each.
        let v = 50 + (rng.uniform() * 250.0) as usize;
        let n = 4;
        let (t, s) = rows(n, v, scale, seed + i as u64);
        let gpu = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
        for fam in families {
            let (loss, out) = run(&gpu, &with(fam, opt), 0);
            check(&loss, &t, &s, v, 0, &out);
        }
    }
}

#[test]
fn temperatures_and_t2_match_the_cpu() {
    check_options(&["tt=2", "st=0.5", "st=2,t2=true"], &FAMILIES, 2.0, 11);
}

#[test]
fn softcap_matches_the_cpu_where_it_bites() {
    // σ = 8: logits up to ±30, well into tanh's bend at c = 5.
    check_options(&["softcap=5"], &FAMILIES, 8.0, 12);
    let Some(c) = ctx() else { return };
    // The cap changes the loss on these rows (else the test above would not test it).
    let (t, s) = rows(2, 100, 8.0, 12);
    let gpu = c.upload(&t, &s, 2, 100, &RowsOptions::default()).unwrap();
    let (_, capped) = run(&gpu, "fkl:softcap=5", 0);
    let (_, plain) = run(&gpu, "fkl", 0);
    assert!((capped.values[0] - plain.values[0]).abs() > 0.1 * plain.values[0].abs());
}

#[test]
fn standardisation_matches_the_cpu() {
    check_options(&["std=true", "std=true,st=2"], &FAMILIES, 2.0, 13);
}

#[test]
fn storage_rounding_matches_the_cpu() {
    check_options(
        &[
            "precision=bf16",
            "precision=f16",
            "tprecision=bf16",
            "precision=f32",
        ],
        &FAMILIES,
        3.0,
        14,
    );
}

#[test]
fn all_steps_together_match_the_cpu() {
    check_options(
        &["tt=2,st=2,t2=true,softcap=30,std=true,precision=bf16"],
        &FAMILIES,
        10.0,
        15,
    );
}

/// DKD, Hinton and EA-KD (their own T) with softcap and std.
#[test]
fn dkd_and_eakd_take_softcap_and_std() {
    check_options(
        &["softcap=5", "std=true"],
        &["dkd:label=3", "hinton:label=2"],
        6.0,
        16,
    );
    // EA-KD's weight reads the logits before standardisation, its KL after (§7).
    check_options(
        &[
            "softcap=5",
            "softcap=3,precision=bf16",
            "std=true",
            "std=true,softcap=4",
        ],
        &["eakd", "eakd:wt=1.5,hub=3"],
        6.0,
        17,
    );
}

/// `support=sampled`: the counts are the CPU's (read off the FKL gradient q − p̂), the values and
/// gradients agree, and row r draws on stream `stream0 + r`.
#[test]
fn sampled_support_draws_the_cpus_counts() {
    let Some(c) = ctx() else { return };
    let (n, v) = (6, 120);
    let (t, s) = rows(n, v, 2.0, 21);
    let gpu = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    let stream0 = 7;
    for spec in [
        "fkl:support=sampled,n=16,seed=3",
        "fkl:support=sampled,n=16,seed=3,tt=2,softcap=5",
        "jsd:beta=0.5,support=sampled,n=16,seed=3",
        "tvd:support=sampled,n=16,seed=3,st=2,t2=true",
        "skl:support=sampled,n=16,seed=3,std=true",
        "uld:support=sampled,n=16,seed=3,softcap=5",
    ] {
        let (loss, out) = run(&gpu, spec, stream0);
        check(&loss, &t, &s, v, stream0, &out);
    }
    let (loss, out) = run(&gpu, "fkl:support=sampled,n=16,seed=3", stream0);
    for r in 0..n {
        let (_, _, counts) = cpu_row(&loss, &t, &s, v, r, stream0 + r as u64);
        let counts = counts.unwrap();
        let z = f64s(&s[r * v..(r + 1) * v]);
        let (_, q) = seen(&loss.practice, &z, &z);
        // FKL's gradient is q − p̂: p̂·16 is a whole number of draws.
        let drawn: Vec<u32> = (0..v)
            .map(|k| ((q.p[k] - f64::from(out.grad[r * v + k])) * 16.0).round() as u32)
            .collect();
        assert_eq!(drawn, counts, "row {r}");
        // Another stream draws differently (the test can tell streams apart).
        let (_, _, other) = cpu_row(&loss, &t, &s, v, r, r as u64);
        assert_ne!(other.unwrap(), counts, "row {r}");
    }
}

/// Chunks of rows give the same rows as one chunk (the sampler's stream is the row of the whole
/// tensor, the AKL head thresholds come from the shaped teacher of each chunk).
#[test]
fn chunks_give_the_same_rows() {
    let Some(c) = ctx() else { return };
    let (n, v) = (11, 90);
    let (t, s) = rows(n, v, 3.0, 31);
    let whole = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    let split = RowsOptions {
        max_rows_per_chunk: Some(3),
        max_workgroups_x: Some(2),
        ..RowsOptions::default()
    };
    let parts = c.upload(&t, &s, n, v, &split).unwrap();
    assert_eq!(parts.chunks(), 4);
    for spec in [
        "fkl:support=sampled,n=16,seed=3,std=true,st=2,t2=true",
        "akl:mu=0.5,tt=2,softcap=5,precision=bf16",
        "jsd:beta=0.5,std=true,tprecision=f16",
    ] {
        let (loss, a) = run(&whole, spec, 4);
        let (_, b) = run(&parts, spec, 4);
        assert_eq!(a.values, b.values, "{spec}");
        assert_eq!(a.grad, b.grad, "{spec}");
        check(&loss, &t, &s, v, 4, &b);
    }
}

/// Under f16 storage the shaped rows are f16 too (about 3 significant digits): the f16 shader
/// compiles and the result is the CPU's on the f16-rounded logits to f16 precision.
#[test]
fn f16_storage_shapes_in_f16() {
    let Some(c) = ctx() else { return };
    if !c.has_f16() {
        return;
    }
    let (n, v) = (3, 80);
    let (t, s) = rows(n, v, 2.0, 61);
    let round = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .map(|&y| kdviz::gpu::f16_to_f32(kdviz::gpu::f32_to_f16(y)))
            .collect()
    };
    let (tr, sr) = (round(&t), round(&s));
    let f16 = RowsOptions {
        storage: Storage::F16,
        ..RowsOptions::default()
    };
    let gpu = c.upload(&t, &s, n, v, &f16).unwrap();
    for spec in [
        "fkl:tt=2,std=true,st=2,t2=true",
        "jsd:beta=0.5,softcap=3,precision=bf16",
    ] {
        let (loss, out) = run(&gpu, spec, 0);
        for r in 0..n {
            let (val, g, _) = cpu_row(&loss, &tr, &sr, v, r, r as u64);
            let gv = f64::from(out.values[r]);
            assert!(
                (gv - val).abs() <= 1e-2 * val.abs() + 1e-3,
                "{spec} row {r}: {gv} vs {val}"
            );
            let gmax = g.iter().fold(0f64, |m, x| m.max(x.abs()));
            for (k, (gg, gc)) in out.grad[r * v..(r + 1) * v].iter().zip(&g).enumerate() {
                let e = (f64::from(*gg) - gc).abs();
                assert!(
                    e <= 1e-2 * gmax,
                    "{spec} row {r} grad[{k}]: error {e:e}, max|g| {gmax:e}"
                );
            }
        }
    }
}

/// The sweeps of the practice steps are counted: teacher-only options cost nothing per run.
#[test]
fn passes_count_the_practice_sweeps() {
    let Some(c) = ctx() else { return };
    let (t, s) = rows(2, 60, 2.0, 41);
    let gpu = c.upload(&t, &s, 2, 60, &RowsOptions::default()).unwrap();
    for (spec, passes) in [
        ("fkl", 2),
        ("fkl:tt=2", 2),
        ("fkl:precision=bf16", 3),
        ("fkl:st=2", 4),
        ("fkl:std=true", 6),
        ("tvd:softcap=5", 5),
    ] {
        let (loss, out) = run(&gpu, spec, 0);
        assert_eq!(out.passes, passes, "{spec}");
        assert_eq!(kdviz::gpu::loss_passes(&loss), passes, "{spec}");
    }
}

#[test]
fn refusals_say_why_and_what_to_do() {
    let Some(c) = ctx() else { return };
    let (t, s) = rows(2, 60, 2.0, 51);
    let gpu = c.upload(&t, &s, 2, 60, &RowsOptions::default()).unwrap();
    let refused = |spec: &str| {
        let loss: Loss = spec.parse().unwrap();
        match gpu.run_loss(&loss, 0, &RunOptions::default()) {
            Err(GpuError::Unsupported(m)) => m,
            other => panic!("{spec}: expected Unsupported, got {other:?}"),
        }
    };
    for (spec, needle) in [
        // The top-k supports run (tests/gpu/topk.rs); what their kernels refuse says so.
        ("fkl:support=topk,k=4,precision=f64", "precision=f64"),
        (
            "fkl:precision=f64",
            "fkl: precision=f64: the GPU computes in f32; use f32/bf16/f16 or the CPU engine",
        ),
        (
            "fkl:precision=bf16,tprecision=f64",
            "tprecision=f64: the GPU computes in f32",
        ),
        (
            "fkl:compute=naive,precision=bf16",
            "compute=naive emulates arithmetic in the stored formats on the CPU only",
        ),
        ("jsd:beta=0.5,compute=logspace", "compute=logspace"),
        ("rkl-est:tt=2", "rkl-est runs on the CPU engine"),
    ] {
        let m = refused(spec);
        assert!(m.contains(needle), "{spec}: {m}");
    }
    // A teacher zero (−∞) is refused with options, as the CPU refuses it; the family alone runs.
    let mut t0 = t.clone();
    t0[60 + 5] = f32::NEG_INFINITY;
    let gpu = c.upload(&t0, &s, 2, 60, &RowsOptions::default()).unwrap();
    let e = gpu
        .run_loss(&"fkl:tt=2".parse().unwrap(), 0, &RunOptions::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "fkl: teacher logit [1, 5] is -inf; practice options need finite logits"
    );
    assert!(
        gpu.run_loss(&"fkl".parse().unwrap(), 0, &RunOptions::default())
            .is_ok()
    );
}

/// Top-k supports of uploaded full rows (`gpu bench`): the top k derived on the host from the
/// uploaded teacher, the sparse kernels on the rows' student, equal to the CPU's top k of the full
/// teacher row.
#[test]
fn top_k_supports_of_full_rows_match_the_cpu() {
    check_options(
        &[
            "support=topk,k=5",
            "support=topk-tail,k=5",
            "support=topk-renorm,k=8",
            "support=topk,k=3,st=2,t2=true",
        ],
        &["fkl", "rkl", "jsd:beta=0.5", "tvd"],
        3.0,
        41,
    );
}
