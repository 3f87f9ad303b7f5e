//! A teacher stored as its top k (`GpuContext::upload_topk`, practice.md §10.6) on the GPU against
//! `math::practice::evaluate_stored` in f64, row by row, with §12.5's tolerance:
//!   value:    |Δ| ≤ 1e-4·|v| + 64·ε32·L·S
//!   gradient: max|Δg| ≤ 1e-5·max|g| + 64·ε32·L·S·max(p, q)
//! L = 1 + the largest |logit| of the student after rounding and st, + ln V (its lse), or
//! |lp| of the stored cells; S = st² with t2, else 1.
//! Rows alternate a random student and one peaked on the teacher's K (so that the truncated FKL
//! is negative and fkl's tail rule is inactive on some rows); the decisions are checked to fall on
//! both sides where a test is about them.

use super::{EPS32, Rng, ctx};
use kdviz::gpu::{GpuError, GpuTopK, RowsOptions, RowsResult, RunOptions, Storage};
use kdviz::math::practice::{Loss, Outcome, PracticeWorkspace, StoredTopK, evaluate_stored};
use kdviz::math::precision::round;

/// A stored teacher (ids, log-probabilities, tail) and its students.
struct Rows {
    n: usize,
    v: usize,
    ks: usize,
    ids: Vec<u32>,
    lp: Vec<f32>,
    tail: Option<Vec<f32>>,
    student: Vec<f32>,
}

/// `n` rows of `v` classes; the teacher keeps its top `ks`; `tail`: store ln p̄ (shifted by −0.2,
/// so that the stored value, not 1 − P_K, is what a loss must read).
fn rows(n: usize, v: usize, ks: usize, tail: bool, seed: u64) -> Rows {
    let mut rng = Rng(seed | 1);
    let (mut ids, mut lp, mut tails, mut student) = (vec![], vec![], vec![], vec![]);
    for r in 0..n {
        let u: Vec<f64> = (0..v).map(|_| 2.0 * rng.normal()).collect();
        let m = u.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = m + u.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| u[b].total_cmp(&u[a]).then(a.cmp(&b)));
        ids.extend(order[..ks].iter().map(|&j| j as u32));
        lp.extend(order[..ks].iter().map(|&j| (u[j] - lse) as f32));
        let rest: f64 = order[ks..].iter().map(|&j| (u[j] - lse).exp()).sum();
        tails.push(if rest > 0.0 {
            (rest.ln() - 0.2) as f32
        } else {
            f32::NEG_INFINITY
        });
        let peaked = r % 2 == 1;
        let mut z: Vec<f32> = (0..v)
            .map(|_| {
                let x = rng.normal();
                (if peaked { -10.0 + 0.5 * x } else { 2.0 * x }) as f32
            })
            .collect();
        if peaked {
            for &j in &order[..ks.min(5)] {
                z[j] = (10.0 + 0.5 * rng.normal()) as f32;
            }
        }
        student.extend(z);
    }
    Rows {
        n,
        v,
        ks,
        ids,
        lp,
        tail: tail.then_some(tails),
        student,
    }
}

impl Rows {
    fn upload<'c>(&self, c: &'c kdviz::gpu::GpuContext, opts: &RowsOptions) -> GpuTopK<'c> {
        c.upload_topk(
            &self.ids,
            &self.lp,
            self.tail.as_deref(),
            &self.student,
            self.n,
            self.v,
            self.ks,
            opts,
        )
        .unwrap()
    }

    /// The f64 engine on row `r`.
    fn cpu(&self, loss: &Loss, r: usize) -> (Outcome, Vec<f64>) {
        let (v, ks) = (self.v, self.ks);
        let lp: Vec<f64> = self.lp[r * ks..(r + 1) * ks]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let stored = StoredTopK {
            ids: &self.ids[r * ks..(r + 1) * ks],
            logprobs: &lp,
            tail: self.tail.as_ref().map(|t| t[r] as f64),
        };
        let z: Vec<f64> = self.student[r * v..(r + 1) * v]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let mut g = vec![0.0; v];
        let out = evaluate_stored(loss, &stored, &z, &mut g, &mut PracticeWorkspace::default())
            .unwrap_or_else(|e| panic!("{loss}: the CPU refused: {e}"));
        (out, g)
    }
}

/// Checks every row of `out` against the CPU; returns the CPU's outcomes (for the decisions).
fn check(loss: &Loss, d: &Rows, out: &RowsResult, tag: &str) -> Vec<Outcome> {
    let pr = &loss.practice;
    let st = pr.student_temperature();
    let scale = if pr.t2 { st * st } else { 1.0 };
    let k = pr.support.k().unwrap();
    let v = d.v;
    assert_eq!(out.values.len(), d.n);
    assert_eq!(out.grad.len(), d.n * v);
    let mut outcomes = Vec::new();
    for r in 0..d.n {
        let (cpu, g) = d.cpu(loss, r);
        let ctx = format!("{loss} {tag} row {r}");
        let gv = out.values[r] as f64;
        let gg = &out.grad[r * v..(r + 1) * v];
        assert!(gv.is_finite(), "{ctx}: GPU value {gv}");
        assert!(
            gg.iter().all(|x| x.is_finite()),
            "{ctx}: non-finite gradient"
        );
        // L and max(p, q) of the row after steps 1–4 (rounding, st).
        let z: Vec<f64> = d.student[r * v..(r + 1) * v]
            .iter()
            .map(|&x| round(x as f64, pr.student_format()) / st)
            .collect();
        let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        let lps = &d.lp[r * d.ks..r * d.ks + k];
        let big_l = 1.0
            + z.iter()
                .map(|x| x.abs())
                .chain([lse.abs()])
                .chain(lps.iter().map(|&x| (x as f64).abs()))
                .fold(0.0, f64::max);
        let pq = z
            .iter()
            .map(|x| (x - lse).exp())
            .chain(lps.iter().map(|&x| (x as f64).exp()))
            .fold(0.0, f64::max);
        let floor = 64.0 * EPS32 * big_l * scale;
        let err = (gv - cpu.value).abs();
        assert!(
            err <= 1e-4 * cpu.value.abs() + floor,
            "{ctx}: value gpu {gv} cpu {} (error {err:e}, floor {floor:e})",
            cpu.value
        );
        let gmax = g.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        let tol = 1e-5 * gmax + floor * pq;
        for j in 0..v {
            let e = (gg[j] as f64 - g[j]).abs();
            assert!(
                e <= tol,
                "{ctx}: grad[{j}] gpu {} cpu {} (error {e:e}, tolerance {tol:e})",
                gg[j],
                g[j]
            );
        }
        outcomes.push(cpu);
    }
    outcomes
}

/// `family` (with its own keys) under `opts`.
fn loss(family: &str, opts: &str) -> Loss {
    let sep = if family.contains(':') { ',' } else { ':' };
    let s = format!("{family}{sep}{opts}");
    s.parse()
        .unwrap_or_else(|e| panic!("{s} does not parse: {e}"))
}

/// The shapes every family runs on: (V, stored k, loss k, stored tail).
const SHAPES: &[(usize, usize, usize, bool)] = &[
    (50, 5, 1, false),
    (50, 8, 5, true),
    (300, 5, 5, false),
    (60, 60, 60, false),
    (60, 60, 60, true),
];

/// Every family × option on every shape; the CPU outcomes of all rows.
fn sweep(families: &[&str], opts: &str) -> Vec<Outcome> {
    let Some(c) = ctx() else { return Vec::new() };
    let mut all = Vec::new();
    for (i, &(v, ks, k, tail)) in SHAPES.iter().enumerate() {
        let d = rows(4, v, ks, tail, 7 + i as u64);
        let g = d.upload(c, &RowsOptions::default());
        for fam in families {
            let l = loss(fam, &format!("{opts},k={k}"));
            let out = g.run(&l, &RunOptions::default()).unwrap();
            let tag = format!("V={v} stored k={ks} tail={tail}");
            all.extend(check(&l, &d, &out, &tag));
        }
    }
    all
}

#[test]
fn truncated_topk_matches_the_cpu() {
    sweep(
        &[
            "fkl",
            "rkl",
            "jsd:beta=0.5",
            "tvd",
            "ab:alpha=0.2,beta=0.7",
            "todi",
            "wsd",
        ],
        "support=topk",
    );
    sweep(&["fkl:lpmin=-3"], "support=topk");
    // The student's options on the GPU: temperature with T², bf16 and f16 storage rounding.
    sweep(&["fkl", "jsd:beta=0.5"], "support=topk,st=2,t2=true");
    sweep(&["rkl"], "support=topk,precision=bf16");
    sweep(&["fkl"], "support=topk,precision=f16,st=0.5");
}

#[test]
fn truncated_fkl_clamp_on_both_sides_of_zero() {
    let outcomes = sweep(&["fkl:clamp=true"], "support=topk");
    if outcomes.is_empty() {
        return;
    }
    let clamped: Vec<bool> = outcomes
        .iter()
        .map(|o| o.support.clamped.unwrap())
        .collect();
    assert!(
        clamped.contains(&true) && clamped.contains(&false),
        "{clamped:?}"
    );
}

#[test]
fn lpmin_is_active_on_some_rows() {
    let outcomes = sweep(&["fkl:lpmin=-3"], "support=topk");
    assert!(
        outcomes.is_empty()
            || outcomes
                .iter()
                .any(|o| o.support.lpmin_active == Some(true)),
        "lpmin=-3 never active"
    );
}

#[test]
fn renormalised_topk_matches_the_cpu() {
    sweep(
        &[
            "fkl",
            "jsd:beta=0.5",
            "akl:mu=0.5",
            "renyi:alpha=2.5",
            "tvd",
            "uld",
        ],
        "support=topk-renorm",
    );
    sweep(&["fkl", "rkl"], "support=topk-renorm,renorm=teacher");
    sweep(
        &["jsd:beta=0.5"],
        "support=topk-renorm,st=2,t2=true,precision=f16",
    );
}

#[test]
fn tail_bucket_matches_the_cpu() {
    sweep(
        &["rkl", "jsd:beta=0.5", "akl:mu=0.5", "uld"],
        "support=topk-tail",
    );
    sweep(&["rkl"], "support=topk-tail,precision=bf16,st=2,t2=true");
}

#[test]
fn fkl_tail_follows_the_eps_rule_active_and_inactive() {
    let outcomes = sweep(&["fkl"], "support=topk-tail");
    if outcomes.is_empty() {
        return;
    }
    let active: Vec<bool> = outcomes
        .iter()
        .map(|o| o.support.tail_active.unwrap())
        .collect();
    assert!(
        active.contains(&true) && active.contains(&false),
        "{active:?}"
    );
    // A larger eps turns the rule off on the random rows too.
    sweep(&["fkl"], "support=topk-tail,eps=0.999");
    sweep(&["fkl"], "support=topk-tail,st=2,t2=true,precision=bf16");
}

#[test]
fn chunks_and_the_2d_grid_give_the_rows_of_one_chunk() {
    let Some(c) = ctx() else { return };
    let d = rows(5, 70, 6, true, 99);
    let one = d.upload(c, &RowsOptions::default());
    assert_eq!(one.chunks(), 1);
    let split = d.upload(
        c,
        &RowsOptions {
            max_rows_per_chunk: Some(2),
            max_workgroups_x: Some(1),
            ..RowsOptions::default()
        },
    );
    assert_eq!(split.chunks(), 3);
    for spec in [
        "fkl:support=topk,k=6",
        "rkl:support=topk-tail,k=4",
        "jsd:beta=0.5,support=topk-renorm,k=6",
    ] {
        let l: Loss = spec.parse().unwrap();
        let a = one.run(&l, &RunOptions::default()).unwrap();
        let b = split.run(&l, &RunOptions::default()).unwrap();
        assert_eq!((a.chunks, b.chunks), (1, 3), "{spec}");
        assert_eq!(a.values, b.values, "{spec}");
        assert_eq!(a.grad, b.grad, "{spec}");
        check(&l, &d, &b, "3 chunks");
        // Without the gradient read back, the same values.
        let c = split
            .run(
                &l,
                &RunOptions {
                    read_grad: false,
                    ..RunOptions::default()
                },
            )
            .unwrap();
        assert_eq!(c.values, a.values, "{spec}");
        assert!(c.grad.is_empty());
    }
}

#[test]
fn the_byte_model_reads_the_teacher_as_k_cells() {
    let Some(c) = ctx() else { return };
    let d = rows(2, 300, 8, false, 5);
    let g = d.upload(c, &RowsOptions::default());
    let l: Loss = "fkl:support=topk,k=8".parse().unwrap();
    let b = g.bytes_per_row(&l).unwrap();
    assert_eq!(b.teacher, 12 * 8);
    assert_eq!((b.student, b.grad), (2 * 4 * 300 + 4 * 8, 4 * 300));
    assert_eq!(g.run(&l, &RunOptions::default()).unwrap().passes, 2);
    let l: Loss = "fkl:support=topk-renorm,k=8".parse().unwrap();
    assert_eq!(g.run(&l, &RunOptions::default()).unwrap().passes, 0);
    assert_eq!(g.bytes_per_row(&l).unwrap().student, 4 * 8);
    assert_eq!(
        kdviz::gpu::topk_bytes_per_row(&l, 300).unwrap().total(),
        g.bytes_per_row(&l).unwrap().total()
    );
}

fn one_line(e: &GpuError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s}");
    s
}

#[test]
fn refusals_name_the_key() {
    let Some(c) = ctx() else { return };
    let d = rows(2, 10, 3, false, 3);
    let g = d.upload(c, &RowsOptions::default());
    let refused = |spec: &str, needles: &[&str]| {
        let l: Loss = spec.parse().unwrap();
        let e = g.run(&l, &RunOptions::default()).unwrap_err();
        let s = one_line(&e);
        for n in needles {
            assert!(s.contains(n), "{spec}: {s:?} lacks {n:?}");
        }
    };
    refused("fkl:support=topk,k=3,softcap=30", &["softcap", "full row"]);
    refused("fkl:support=topk,k=3,std=true", &["std", "full row"]);
    refused("fkl:support=topk,k=3,tt=2", &["tt", "full row"]);
    refused("fkl:support=topk,k=3,tprecision=bf16", &["tprecision"]);
    refused("fkl", &["support=full"]);
    refused("fkl:support=sampled", &["support=sampled"]);
    refused("fkl:support=topk,k=4", &["k=4", "stored top 3"]);
    refused("fkl:compute=naive", &["compute=naive", "CPU engine"]);
    refused(
        "fkl:support=topk,k=3,precision=f64",
        &["precision=f64", "CPU engine"],
    );
    refused("rkl-est", &["rkl-est", "CPU engine"]);

    let upload = |ids: &[u32], lp: &[f32], tail: Option<&[f32]>, s: &[f32], k: usize| {
        c.upload_topk(ids, lp, tail, s, 2, 10, k, &RowsOptions::default())
            .map(|_| ())
            .unwrap_err()
    };
    let (ids, lp, s) = (&d.ids, &d.lp, &d.student);
    let bad_input = |e: GpuError, needles: &[&str]| {
        let msg = one_line(&e);
        assert!(matches!(e, GpuError::Input(_)), "{msg}");
        for n in needles {
            assert!(msg.contains(n), "{msg:?} lacks {n:?}");
        }
    };
    let mut x = ids.clone();
    x[4] = 10;
    bad_input(upload(&x, lp, None, s, 3), &["id 10", "row 1", "below 10"]);
    let mut x = ids.clone();
    x[5] = x[3];
    bad_input(upload(&x, lp, None, s, 3), &["appears twice", "row 1"]);
    let mut x = lp.clone();
    x[2] = f32::NAN;
    bad_input(
        upload(ids, &x, None, s, 3),
        &["log-probability NaN", "row 0"],
    );
    x[2] = 0.5;
    bad_input(upload(ids, &x, None, s, 3), &["0.5", "≤ 0"]);
    bad_input(
        upload(ids, lp, Some(&[0.0, f32::NAN]), s, 3),
        &["tail", "row 1"],
    );
    bad_input(
        upload(ids, lp, Some(&[0.0]), s, 3),
        &["1 stored tail", "2 rows"],
    );
    bad_input(
        upload(&ids[1..], lp, None, s, 3),
        &["5 stored teacher ids", "expected 6"],
    );
    bad_input(
        upload(ids, lp, None, &s[1..], 3),
        &["student logits", "expected 20"],
    );
    let mut x = s.clone();
    x[13] = f32::INFINITY;
    bad_input(
        upload(ids, lp, None, &x, 3),
        &["student logit 3 of row 1", "finite"],
    );
    let wide: Vec<u32> = (0..22).map(|j| j % 11).collect();
    bad_input(
        upload(&wide, &[-1.0; 22], None, s, 11),
        &["k=11", "expected 1..10"],
    );
    let f16 = c.upload_topk(
        ids,
        lp,
        None,
        s,
        2,
        10,
        3,
        &RowsOptions {
            storage: Storage::F16,
            ..RowsOptions::default()
        },
    );
    let e = f16.map(|_| ()).unwrap_err();
    assert!(matches!(e, GpuError::Unsupported(_)), "{e}");
    assert!(one_line(&e).contains("precision=f16"));
}

#[test]
fn a_stored_zero_gives_inf_where_the_cpu_does() {
    let Some(c) = ctx() else { return };
    let mut d = rows(4, 40, 6, false, 17);
    for r in 0..d.n {
        d.lp[r * d.ks + 3] = f32::NEG_INFINITY;
    }
    let g = d.upload(c, &RowsOptions::default());
    for spec in [
        "rkl:support=topk,k=5",
        "wsd:support=topk,k=5",
        "rkl:support=topk-tail,k=5",
        "rkl:support=topk-renorm,k=5",
    ] {
        let l: Loss = spec.parse().unwrap();
        let out = g.run(&l, &RunOptions::default()).unwrap();
        for r in 0..d.n {
            assert_eq!(d.cpu(&l, r).0.value, f64::INFINITY, "{spec} row {r}: cpu");
            assert_eq!(out.values[r], f32::INFINITY, "{spec} row {r}: gpu");
            assert!(
                out.grad[r * d.v..(r + 1) * d.v].iter().all(|&x| x == 0.0),
                "{spec} row {r}"
            );
        }
    }
    // Finite families see the zero as a class of no teacher mass.
    for spec in [
        "fkl:support=topk,k=5",
        "jsd:beta=0.5,support=topk,k=5",
        "fkl:support=topk-tail,k=5",
        "jsd:beta=0.5,support=topk-tail,k=5",
    ] {
        let l: Loss = spec.parse().unwrap();
        check(
            &l,
            &d,
            &g.run(&l, &RunOptions::default()).unwrap(),
            "a zero in K",
        );
    }
}
