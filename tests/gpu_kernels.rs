//! GPU kernels against the f64 CPU engine, on random and adversarial rows, for every divergence.
//!
//! Without an adapter each test prints a SKIP line and passes, unless KDVIZ_REQUIRE_GPU=1.
//! KDVIZ_GPU_REPORT=1 prints the largest errors per divergence (the table of the GPU report).
//!
//! Tolerances (f32 kernels against f64): per row, with L = 1 + the largest |logit| or |log-sum-exp|
//! of the row (the magnitude f32 rounds at: every log-probability carries ~L·ε32 of absolute error),
//!   value:    |gpu − cpu| ≤ 1e-4·|cpu| + 64·ε32·L·S
//!   gradient: |gpu − cpu| ≤ 1e-5·max|g_cpu| + 64·ε32·L·S·max(p, q)_row
//! where S is the family's own scale (1, or T for Hinton, 1/(β(1−β)) for normalised JSD). The
//! relative parts are the brief's f32 targets; the absolute floors cover the cancellation that no
//! f32 kernel avoids when p ≈ q (a value of 1e-9 computed from log-probabilities of size 10 is
//! only known to ~1e-6). 64 ε32 ≈ 7.6e-6: a few ulps per term plus the reduction's rounding.
#![allow(clippy::unwrap_used)] // tests may unwrap
#![allow(clippy::excessive_precision)] // the spec's 17-digit vectors, copied as printed

use kdviz::gpu::{GpuContext, GpuError, RowsOptions, RowsResult, RunOptions, Storage};
use kdviz::math::{Divergence, LogDist, Workspace, check_classes, value_and_grad};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

const EPS32: f64 = f32::EPSILON as f64;

mod common;
use common::gpu as ctx;

#[path = "gpu/shaping.rs"]
mod shaping;
#[path = "gpu/topk.rs"]
mod topk;

// ------------------------------------------------------------------ data

/// xorshift64* with Box-Muller: reproducible rows without depending on rand's API.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

#[derive(Clone, Copy, Debug)]
enum RowKind {
    Random,
    Near,
    Peaked,
    Flat,
    Huge,
    TeacherZeros,
    Identical,
}

fn make_row(kind: RowKind, v: usize, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let mut t = vec![0f32; v];
    let mut s = vec![0f32; v];
    for k in 0..v {
        let (a, b) = (rng.normal(), rng.normal());
        let (u, z) = match kind {
            RowKind::Random => (2.0 * a, 2.0 * b),
            RowKind::Near => (2.0 * a, 2.0 * a + 1e-3 * b),
            RowKind::Peaked => (a, 0.5 * b),
            RowKind::Flat => (0.0, 1e-3 * b),
            RowKind::Huge => (
                1e4 * a.signum() * rng.uniform(),
                1e4 * b.signum() * rng.uniform(),
            ),
            RowKind::TeacherZeros => {
                let u = if rng.uniform() < 0.25 {
                    f64::NEG_INFINITY
                } else {
                    2.0 * a
                };
                (u, 2.0 * b)
            }
            RowKind::Identical => (3.0 * a, 3.0 * a),
        };
        t[k] = u as f32;
        s[k] = z as f32;
    }
    match kind {
        RowKind::Peaked => {
            t[0] = 30.0;
            s[v / 2] = 15.0;
        }
        RowKind::TeacherZeros => t[0] = 1.0, // at least one finite logit
        _ => {}
    }
    (t, s)
}

fn make_rows(kinds: &[RowKind], reps: usize, v: usize, seed: u64) -> (Vec<f32>, Vec<f32>, usize) {
    let mut rng = Rng(seed | 1);
    let (mut t, mut s) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        for &k in kinds {
            let (a, b) = make_row(k, v, &mut rng);
            t.extend(a);
            s.extend(b);
        }
    }
    (t, s, kinds.len() * reps)
}

// ------------------------------------------------------------------ divergences

fn specs() -> Vec<&'static str> {
    vec![
        "fkl",
        "rkl",
        "akl:mu=0.5",
        "akl:mu=0.1",
        "akl:mu=0.9",
        "jsd:beta=0.5",
        "jsd:beta=0.1",
        "jsd:beta=0.9,norm=true",
        // The normalised ends: nothing divided by β (fuzzing found NaN and 1e283 there).
        "jsd:beta=1e-300,norm=true",
        "jsd:beta=1e-30,norm=true",
        "jsd:beta=0.9999999,norm=true",
        "jsd:beta=0",
        "jsd:beta=1",
        "tvd",
        "skl:alpha=0.1",
        "skl:alpha=0.5",
        "skl:alpha=0",
        "srkl:alpha=0.1",
        "srkl:alpha=0.3,detach=true",
        "srkl:alpha=0",
        "ab:alpha=0.2,beta=0.7",
        "ab:alpha=0.5,beta=0.5",
        "ab:alpha=0.8,beta=0.3",
        "ab:alpha=0,beta=0",
        "ab:alpha=0.5,beta=-0.5",
        "ab:alpha=0,beta=0.5",
        "ab:alpha=0.5,beta=0",
        "ab:alpha=1,beta=0",
        "ab:alpha=0,beta=1",
        "ab:alpha=1.5,beta=-0.3",
        "ab:alpha=-0.5,beta=1.2",
        "ab:alpha=1e-7,beta=1e-7",
        "ab:alpha=2,beta=1",
        "alpha:alpha=0.5",
        "alpha:alpha=2",
        "alpha:alpha=-0.5",
        "taid:t=0.4",
        "taid:t=0",
        "taid:t=1",
        "taid:t_start=0.2",
        "amid:alpha=0.5,lambda=0.5",
        "amid:alpha=-1,lambda=0.5",
        "amid:alpha=1,lambda=0.3",
        "amid:alpha=3,lambda=0.3,order=qr",
        "amid:alpha=-3,lambda=0.7,order=rp",
        "amid:alpha=0.9999,lambda=0.5,order=rq",
        "amid:alpha=0.5,lambda=0.5,div=ab",
        "amid:alpha=-1,lambda=0.4,div=ab,ab_alpha=0.5,ab_beta=0.5,order=qr",
        "amid:alpha=2,lambda=0.5,div=ab,order=rp",
        "amid:alpha=0.5,lambda=0.6,div=ab,ab_alpha=1,ab_beta=0,order=rq",
        "amid:alpha=0.5,lambda=0",
        "amid:alpha=0.5,lambda=1",
        "hinton:T=2,a=0.5,label=0",
        "hinton:T=1,a=1",
        "hinton:T=4,a=0.3,label=2",
        "hinton:T=0.5,a=0,label=1",
        // The families of 2024–2026.
        "todi",
        "todi:beta=3",
        "uld",
        "bild",
        "bild:k=4,T=3",
        "bild:k=3,T=2,lead=student",
        "bild:k=5,T=1,lead=teacher",
        "wsd",
        "wsd:lambda=0.9",
        "wsd:lambda=0",
        "jeffreys",
        "renyi",
        "renyi:alpha=2.5",
        "renyi:alpha=0.999",
        "renyi:alpha=1",
        "dkd",
        "dkd:alpha=1,beta=8,T=4,label=2",
        "eakd",
        "eakd:T=4,hub=100",
        "akl:mu=0.5,convention=dskd",
        "akl:mu=0.1,convention=dskd",
    ]
}

/// ULD counts each class's rank over the whole row (O(V²) per row, see loss.wgsl); wider rows are
/// refused (`kdviz::gpu::ULD_MAX_V`), checked in `new_families_match_the_spec_vectors`.
const ULD_TEST_MAX_V: usize = kdviz::gpu::ULD_MAX_V;

/// The family's own scale of absolute error (see the module docs).
fn family_scale(div: &Divergence) -> f64 {
    match *div {
        Divergence::Hinton { temperature, .. } => temperature.max(1.0),
        Divergence::Jsd { beta, norm: true } if beta > 0.0 && beta < 1.0 => {
            1.0 / (beta * (1.0 - beta))
        }
        Divergence::Dkd {
            alpha,
            beta,
            temperature,
            ..
        } => (temperature * (alpha + beta)).max(1.0),
        Divergence::Eakd { temperature, .. } => temperature.max(1.0),
        // A position's gradient sums k − 1 pair terms, each a difference of two logits / T.
        Divergence::Bild { k, temperature, .. } => k.unwrap_or(8) as f64 / temperature.min(1.0),
        _ => 1.0,
    }
}

// ------------------------------------------------------------------ comparison

#[derive(Default, Clone, Copy)]
struct Worst {
    /// |gpu − cpu| / (1e-4·|cpu| + floor): must stay ≤ 1
    value_ratio: f64,
    grad_ratio: f64,
    /// plain errors, for the report: |Δ| and |Δ|/|v| on rows with |v| ≥ 1e-3; gradient
    /// max|Δ|/max|g| on rows with max|g| ≥ 1e-4
    value_abs: f64,
    value_rel: f64,
    grad_rel: f64,
    infinite_rows: usize,
    rows: usize,
}

fn report() -> &'static Mutex<BTreeMap<String, Worst>> {
    static R: OnceLock<Mutex<BTreeMap<String, Worst>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The naive αβ formula in f64, for rows where the CPU engine's ab_term gives NaN (a class whose
/// probability underflows); valid away from the limit lines and for a teacher without zeros.
fn ab_naive(a: f64, b: f64, lp: &[f64], lq: &[f64]) -> (f64, Vec<f64>) {
    let mut value = 0.0;
    let mut w = vec![0.0; lq.len()];
    for k in 0..lq.len() {
        let e0 = (a * lp[k] + b * lq[k]).exp();
        let ex = ((a + b) * lp[k]).exp();
        let ey = ((a + b) * lq[k]).exp();
        value += -(e0 - a / (a + b) * ex - b / (a + b) * ey) / (a * b);
        w[k] = (ey - e0) / a;
    }
    let sw: f64 = w.iter().sum();
    let g = w.iter().zip(lq).map(|(w, l)| w - l.exp() * sw).collect();
    (value, g)
}

/// `(a, b)` of the αβ family, if `div` is one.
fn ab_params(div: &Divergence) -> Option<(f64, f64)> {
    match *div {
        Divergence::Ab { alpha, beta } => Some((alpha, beta)),
        Divergence::Alpha { alpha } => Some((alpha, 1.0 - alpha)),
        _ => None,
    }
}

/// The CPU engine's value and gradient; where its ab_term gives NaN (the known underflow bug), the
/// naive αβ formula when that one is valid, else None.
fn reference(div: &Divergence, t: &LogDist, s: &LogDist) -> Option<(f64, Vec<f64>)> {
    let mut g = vec![0.0; t.len()];
    let val = value_and_grad(div, t, s, &mut g, &mut Workspace::default());
    if !val.is_nan() {
        return Some((val, g));
    }
    let (a, b) = ab_params(div).expect("a NaN value outside the αβ family");
    if a.abs() < 0.1 || b.abs() < 0.1 || (a + b).abs() < 0.1 || t.has_zeros() {
        return None;
    }
    Some(ab_naive(a, b, &t.logp, &s.logp))
}

/// Log-probabilities shifted by `delta` (an error in the row's log-sum-exp), probabilities to match.
fn shifted(d: &LogDist, delta: f64) -> LogDist {
    LogDist {
        logp: d.logp.iter().map(|l| l + delta).collect(),
        p: d.p.iter().map(|p| p * delta.exp()).collect(),
    }
}

/// Checks one result against the CPU engine. The floors combine (1) 64 ε32 L per term and (2) eight
/// times what an error of ε32·L in either log-sum-exp changes in the CPU result itself (the
/// conditioning of the divergence: e.g. AB(0,0) weighs every class alike, so such an error is
/// multiplied by V in its gradient; a value of 1e4 turns it into 1e4·ε32·L).
fn check(
    div: &Divergence,
    spec: &str,
    t: &[f32],
    s: &[f32],
    v: usize,
    out: &RowsResult,
    tag: &str,
) {
    check_stored(div, spec, t, s, v, out, tag, 0.0);
}

/// [`check`] of a gradient stored in a narrower format: `grad_rel`·|g_cpu| more per class (half
/// an ulp of the format, relative).
#[allow(clippy::too_many_arguments)]
fn check_stored(
    div: &Divergence,
    spec: &str,
    t: &[f32],
    s: &[f32],
    v: usize,
    out: &RowsResult,
    tag: &str,
    grad_rel: f64,
) {
    let n = out.values.len();
    let mut worst = Worst::default();
    let scale = family_scale(div);
    for r in 0..n {
        let tl: Vec<f64> = t[r * v..(r + 1) * v].iter().map(|&x| x as f64).collect();
        let sl: Vec<f64> = s[r * v..(r + 1) * v].iter().map(|&x| x as f64).collect();
        let teacher = LogDist::from_logits(&tl, true).unwrap();
        let student = LogDist::from_logits(&sl, false).unwrap();
        let gv = out.values[r] as f64;
        let gg = &out.grad[r * v..(r + 1) * v];
        let ctx = format!("{spec} {tag} row {r}: gpu {gv}");
        assert!(!gv.is_nan(), "{ctx}: the GPU value is NaN");
        assert!(
            gg.iter().all(|x| !x.is_nan()),
            "{ctx}: NaN in the GPU gradient"
        );
        let Some((val, g)) = reference(div, &teacher, &student) else {
            continue;
        };
        let ctx = format!("{ctx} cpu {val}");
        if val == f64::INFINITY || val > f32::MAX as f64 {
            assert!(gv == f64::INFINITY || gv > 1e37, "{ctx}: expected +inf");
            worst.infinite_rows += 1;
            continue;
        }
        assert!(gv.is_finite(), "{ctx}: expected a finite value");
        let mag = tl
            .iter()
            .chain(&sl)
            .filter(|x| x.is_finite())
            .fold(0f64, |m, x| m.max(x.abs()));
        let big_l = 1.0 + mag + (v as f64).ln();
        let delta = EPS32 * big_l;
        let (mut sens_v, mut sens_g) = (0f64, vec![0f64; v]);
        for (dt, ds) in [(delta, 0.0), (0.0, delta)] {
            if let Some((v2, g2)) = reference(div, &shifted(&teacher, dt), &shifted(&student, ds))
                && v2.is_finite()
            {
                sens_v = sens_v.max((v2 - val).abs());
                for k in 0..v {
                    sens_g[k] = sens_g[k].max((g2[k] - g[k]).abs());
                }
            }
        }
        let floor = 64.0 * EPS32 * big_l * scale;
        let err = (gv - val).abs();
        let ratio = err / (1e-4 * val.abs() + floor + 8.0 * sens_v);
        assert!(
            ratio <= 1.0,
            "{ctx}: value error {err:e} (ratio {ratio:.3})"
        );
        worst.value_ratio = worst.value_ratio.max(ratio);
        worst.value_abs = worst.value_abs.max(err);
        if val.abs() >= 1e-3 {
            worst.value_rel = worst.value_rel.max(err / val.abs());
        }
        let gmax = g.iter().fold(0f64, |m, x| m.max(x.abs()));
        let pq = teacher
            .p
            .iter()
            .chain(&student.p)
            .fold(0f64, |m, &x| m.max(x));
        // αβ gradients weigh classes by q^(a+b) rather than by probability: AB(0,0) by 1.
        let weight = match ab_params(div) {
            Some((a, b)) => pq.powf((a + b).clamp(0.0, 1.0)),
            None => pq,
        };
        for k in 0..v {
            let e = (gg[k] as f64 - g[k]).abs();
            let ratio =
                e / (1e-5 * gmax + floor * weight + 8.0 * sens_g[k] + grad_rel * g[k].abs());
            assert!(
                ratio <= 1.0,
                "{ctx}: grad[{k}] gpu {} cpu {} error {e:e} (ratio {ratio:.3}, max|g| {gmax:e})",
                gg[k],
                g[k]
            );
            worst.grad_ratio = worst.grad_ratio.max(ratio);
            if gmax >= 1e-4 {
                worst.grad_rel = worst.grad_rel.max(e / gmax);
            }
        }
        worst.rows += 1;
    }
    let mut rep = report().lock().unwrap();
    let w = rep.entry(spec.to_string()).or_default();
    w.value_ratio = w.value_ratio.max(worst.value_ratio);
    w.grad_ratio = w.grad_ratio.max(worst.grad_ratio);
    w.value_rel = w.value_rel.max(worst.value_rel);
    w.value_abs = w.value_abs.max(worst.value_abs);
    w.grad_rel = w.grad_rel.max(worst.grad_rel);
    w.infinite_rows += worst.infinite_rows;
    w.rows += worst.rows;
}

fn run_all(
    c: &GpuContext,
    t: &[f32],
    s: &[f32],
    n: usize,
    v: usize,
    opts: &RowsOptions,
    tag: &str,
) {
    let rows = c.upload(t, s, n, v, opts).unwrap();
    for spec in specs() {
        let div: Divergence = spec.parse().unwrap();
        if check_classes(&div, v).is_err() || (spec == "uld" && v > ULD_TEST_MAX_V) {
            continue;
        }
        let out = rows.run(&div, &RunOptions::default()).unwrap();
        assert_eq!(out.values.len(), n);
        assert_eq!(out.grad.len(), n * v);
        check(&div, spec, t, s, v, &out, tag);
    }
}

fn print_report() {
    if std::env::var("KDVIZ_GPU_REPORT").as_deref() != Ok("1") {
        return;
    }
    let rep = report().lock().unwrap();
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "{:<56} {:>5} {:>4} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "divergence", "rows", "inf", "val abs", "val rel", "grad/max", "v/tol", "g/tol"
    );
    for (k, w) in rep.iter() {
        let _ = writeln!(
            e,
            "{k:<56} {:>5} {:>4} {:>9.1e} {:>9.1e} {:>9.1e} {:>6.3} {:>6.3}",
            w.rows,
            w.infinite_rows,
            w.value_abs,
            w.value_rel,
            w.grad_rel,
            w.value_ratio,
            w.grad_ratio
        );
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn spec_vectors_match_the_published_table() {
    let Some(c) = ctx() else { return };
    let t = [1.0f32, 0.9, 0.8, 0.7, 0.0, -1.0];
    let s = [0.2f32, 1.0, -0.5, 0.9, 0.3, 0.0];
    for (spec, value) in [
        ("fkl", 0.2056397822),
        ("rkl", 0.1852638547),
        ("jsd:beta=0.1", 0.0180462858),
        ("jsd:beta=0.5", 0.0470403896),
        ("tvd", 0.2630132970),
        ("skl:alpha=0.1", 0.1586961935),
        ("srkl:alpha=0.1", 0.1494720539),
        ("ab:alpha=0.2,beta=0.7", 0.2317579026),
        ("ab:alpha=0,beta=0", 1.7245548629),
        ("ab:alpha=0.5,beta=-0.5", 1.7813582353),
        ("akl:mu=0.5", 0.1923904897),
        ("taid:t=0.4", 0.0289963346),
        ("amid:alpha=0.5,lambda=0.5", 0.0510515326),
        ("amid:alpha=-1,lambda=0.5", 0.0447025028),
        ("amid:alpha=1,lambda=0.5", 0.0537083252),
        ("amid:alpha=0.5,lambda=0.5,div=ab", 0.0612136433),
        ("hinton:T=2,a=0.5,label=0", 1.1392616337),
    ] {
        let div: Divergence = spec.parse().unwrap();
        let out = c.divergence_rows(&div, &t, &s, 1, 6).unwrap();
        let got = out.values[0] as f64;
        assert!(
            (got - value).abs() <= 2e-6 * value.max(1.0),
            "{spec}: gpu {got} table {value}"
        );
        let sum: f32 = out.grad.iter().sum();
        assert!(sum.abs() < 1e-6, "{spec}: gradient sums to {sum}");
        check(&div, spec, &t, &s, 6, &out, "spec vector");
    }
}

#[test]
fn random_rows_of_many_widths() {
    let Some(c) = ctx() else { return };
    // From 2 classes: one class is not a distribution (math::range::MIN_CLASSES).
    for (i, &v) in [2usize, 3, 7, 255, 256, 257, 1000, 4099].iter().enumerate() {
        let (t, s, n) = make_rows(&[RowKind::Random, RowKind::Near], 2, v, 11 + i as u64);
        run_all(
            c,
            &t,
            &s,
            n,
            v,
            &RowsOptions::default(),
            &format!("random V={v}"),
        );
    }
    print_report();
}

#[test]
fn wide_rows() {
    let Some(c) = ctx() else { return };
    let v = 65_537;
    let (t, s, n) = make_rows(&[RowKind::Random, RowKind::TeacherZeros], 1, v, 5);
    run_all(c, &t, &s, n, v, &RowsOptions::default(), "V=65537");
    print_report();
}

#[test]
fn adversarial_rows() {
    let Some(c) = ctx() else { return };
    let kinds = [
        RowKind::Peaked,
        RowKind::Flat,
        RowKind::Huge,
        RowKind::TeacherZeros,
        RowKind::Identical,
        RowKind::Near,
    ];
    let (t, s, n) = make_rows(&kinds, 2, 1000, 99);
    run_all(c, &t, &s, n, 1000, &RowsOptions::default(), "adversarial");
    print_report();
}

#[test]
fn teacher_zeros_give_inf_where_the_cpu_does() {
    let Some(c) = ctx() else { return };
    let ninf = f32::NEG_INFINITY;
    let t = [2.0, ninf, 0.5, ninf, -1.0];
    let s = [0.1f32, 0.3, -0.2, 1.0, 0.0];
    for (spec, infinite) in [
        ("fkl", false),
        ("rkl", true),
        ("akl:mu=0.5", true),
        ("jsd:beta=0.5", false),
        ("jsd:beta=1", true),
        ("srkl:alpha=0.1", false),
        ("srkl:alpha=0", true),
        ("ab:alpha=0.2,beta=0.7", false),
        ("ab:alpha=0,beta=1", true),
        ("ab:alpha=-0.5,beta=1.2", true),
        ("amid:alpha=0.5,lambda=0.5,order=rp", true),
        ("amid:alpha=3,lambda=0.5,order=qr", true),
        ("amid:alpha=0.5,lambda=0.5,order=qr", false),
    ] {
        let div: Divergence = spec.parse().unwrap();
        let out = c.divergence_rows(&div, &t, &s, 1, 5).unwrap();
        let got = out.values[0];
        assert_eq!(got == f32::INFINITY, infinite, "{spec}: {got}");
        if infinite {
            assert!(out.grad.iter().all(|&g| g == 0.0), "{spec}: {:?}", out.grad);
        }
        check(&div, spec, &t, &s, 5, &out, "zeros");
    }
}

#[test]
fn chunks_and_2d_grid_give_the_same_rows() {
    let Some(c) = ctx() else { return };
    let v = 301;
    let (t, s, n) = make_rows(&[RowKind::Random, RowKind::Peaked, RowKind::Near], 13, v, 3);
    let split = RowsOptions {
        max_rows_per_chunk: Some(5),
        max_workgroups_x: Some(2),
        ..RowsOptions::default()
    };
    let whole = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    let parts = c.upload(&t, &s, n, v, &split).unwrap();
    assert_eq!(whole.chunks(), 1);
    assert_eq!(parts.chunks(), n.div_ceil(5));
    for spec in [
        "fkl",
        "akl:mu=0.5",
        "amid:alpha=3,lambda=0.3",
        "hinton:T=2,a=0.5,label=7",
    ] {
        let div: Divergence = spec.parse().unwrap();
        let a = whole.run(&div, &RunOptions::default()).unwrap();
        let b = parts.run(&div, &RunOptions::default()).unwrap();
        assert_eq!(a.values, b.values, "{spec}");
        assert_eq!(a.grad, b.grad, "{spec}");
        check(&div, spec, &t, &s, v, &b, "chunked");
    }
}

/// A device whose buffers hold 4 rows of f32 (`with_max_binding_bytes`, as the trainer's tests
/// use it) and of f16 (8 rows, half the bytes): 26 rows in 6 chunks of 4 and one of 2, or 3 of 8 and
/// one of 2; the same rows as one chunk.
#[test]
fn a_smaller_binding_limit_chunks_the_rows() {
    let Some(c) = ctx() else { return };
    let v = 301;
    let (t, s, n) = make_rows(&[RowKind::Random, RowKind::Peaked], 13, v, 4);
    assert_eq!(n, 26);
    let small = GpuContext::new()
        .unwrap()
        .with_max_binding_bytes((4 * v * 4) as u64);
    assert_eq!(small.max_binding_bytes(), (4 * v * 4) as u64);
    let whole = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    let parts = small.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    assert_eq!(parts.chunks(), 7);
    let div: Divergence = "jsd:beta=0.3".parse().unwrap();
    let a = whole.run(&div, &RunOptions::default()).unwrap();
    let b = parts.run(&div, &RunOptions::default()).unwrap();
    assert_eq!((a.values, a.grad), (b.values, b.grad));
    if small.has_f16() {
        let f16 = RowsOptions {
            storage: Storage::F16,
            ..RowsOptions::default()
        };
        assert_eq!(small.upload(&t, &s, n, v, &f16).unwrap().chunks(), 4);
    }
    // A row over the limit is refused with both sizes.
    let tiny = GpuContext::new().unwrap().with_max_binding_bytes(1203);
    let e = tiny
        .upload(&t, &s, n, v, &RowsOptions::default())
        .unwrap_err();
    assert!(
        matches!(&e, GpuError::Unsupported(m) if m.contains("1204 bytes") && m.contains("1203")),
        "{e}"
    );
}

#[test]
fn more_rows_than_one_grid_dimension() {
    let Some(c) = ctx() else { return };
    let max = c.info().max_compute_workgroups_per_dimension as usize;
    let (n, v) = (max + 3, 2);
    let t: Vec<f32> = (0..n * v).map(|i| (i % 7) as f32 * 0.3).collect();
    let s: Vec<f32> = (0..n * v).map(|i| (i % 5) as f32 * -0.2).collect();
    let div: Divergence = "fkl".parse().unwrap();
    let out = c.divergence_rows(&div, &t, &s, n, v).unwrap();
    let last = n - 1;
    let one = c
        .divergence_rows(&div, &t[last * v..], &s[last * v..], 1, v)
        .unwrap();
    assert_eq!(out.values[last], one.values[0]);
    check(
        &div,
        "fkl",
        &t[last * v..],
        &s[last * v..],
        v,
        &one,
        "last row",
    );
}

#[test]
fn hinton_labels_per_row() {
    let Some(c) = ctx() else { return };
    let v = 50;
    let (t, s, n) = make_rows(&[RowKind::Random], 6, v, 8);
    let labels: Vec<u32> = (0..n as u32).map(|r| (r * 7) % v as u32).collect();
    let rows = c.upload(&t, &s, n, v, &RowsOptions::default()).unwrap();
    let div: Divergence = "hinton:T=3,a=0.4".parse().unwrap();
    let opts = RunOptions {
        labels: Some(&labels),
        read_grad: true,
    };
    let out = rows.run(&div, &opts).unwrap();
    for (r, &label) in labels.iter().enumerate() {
        let one = Divergence::Hinton {
            temperature: 3.0,
            a: 0.4,
            label: label as usize,
        };
        let part = RowsResult {
            values: vec![out.values[r]],
            grad: out.grad[r * v..(r + 1) * v].to_vec(),
            ..out.clone()
        };
        check(
            &one,
            "hinton per-row label",
            &t[r * v..],
            &s[r * v..],
            v,
            &part,
            "labels",
        );
    }
    let bad = [0u32, 50];
    let e = rows
        .run(
            &div,
            &RunOptions {
                labels: Some(&bad[..]),
                read_grad: true,
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("expected one per row"), "{e}");
}

#[test]
fn f16_storage_when_available() {
    let Some(c) = ctx() else { return };
    let v = 777;
    let (t, s, n) = make_rows(
        &[RowKind::Random, RowKind::Peaked, RowKind::TeacherZeros],
        1,
        v,
        21,
    );
    let f16 = RowsOptions {
        storage: Storage::F16,
        ..RowsOptions::default()
    };
    if !c.has_f16() {
        let e = c.upload(&t, &s, n, v, &f16).unwrap_err();
        assert!(matches!(e, GpuError::Unsupported(_)), "{e}");
        return;
    }
    let round = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .map(|&v| kdviz::gpu::f16_to_f32(kdviz::gpu::f32_to_f16(v)))
            .collect()
    };
    let (tr, sr) = (round(&t), round(&s));
    let rows = c.upload(&t, &s, n, v, &f16).unwrap();
    for spec in [
        "fkl",
        "rkl",
        "akl:mu=0.5",
        "jsd:beta=0.5",
        "ab:alpha=0.2,beta=0.7",
        "amid",
    ] {
        let div: Divergence = spec.parse().unwrap();
        let out = rows.run(&div, &RunOptions::default()).unwrap();
        // the gradient went through f16: compare it to f16 precision, the value as usual
        let exact = c.divergence_rows(&div, &tr, &sr, n, v).unwrap();
        assert_eq!(
            out.values, exact.values,
            "{spec}: same inputs, same f32 arithmetic"
        );
        for (a, b) in out.grad.iter().zip(&exact.grad) {
            assert!((a - b).abs() <= 1e-3 * b.abs() + 1e-7, "{spec}: {a} vs {b}");
        }
        check(&div, spec, &tr, &sr, v, &exact, "f16 inputs");
    }
}

/// bf16 packs two logits per word, rows padded to whole words, each invocation owning both halves
/// of a word: every family on odd and even vocabularies, one chunk and chunks of 3 or 5 rows,
/// against the CPU engine on the bf16-rounded logits (`check`, the gradient to half a bf16 ulp
/// more: it is stored in bf16).
#[test]
fn bf16_storage_packs_two_logits_a_word() {
    let Some(c) = ctx() else { return };
    let kinds = [
        RowKind::Random,
        RowKind::Peaked,
        RowKind::TeacherZeros,
        RowKind::Near,
    ];
    for (v, max_rows) in [(301, None), (300, Some(5)), (7, Some(3))] {
        let (t, s, n) = make_rows(&kinds, 3, v, 31 + v as u64);
        let round = |x: &[f32]| -> Vec<f32> { x.iter().map(|&y| Storage::Bf16.round(y)).collect() };
        let (tr, sr) = (round(&t), round(&s));
        let bf16 = RowsOptions {
            storage: Storage::Bf16,
            max_rows_per_chunk: max_rows,
            ..RowsOptions::default()
        };
        let rows = c.upload(&t, &s, n, v, &bf16).unwrap();
        assert_eq!(rows.storage(), Storage::Bf16);
        if let Some(m) = max_rows {
            assert_eq!(rows.chunks(), n.div_ceil(m));
        }
        for spec in specs() {
            let div: Divergence = spec.parse().unwrap();
            if check_classes(&div, v).is_err() || (spec == "uld" && v > ULD_TEST_MAX_V) {
                continue;
            }
            let out = rows.run(&div, &RunOptions::default()).unwrap();
            for g in &out.grad {
                assert_eq!(
                    *g,
                    Storage::Bf16.round(*g),
                    "{spec}: {g} is not a bf16 value"
                );
            }
            // ULD parks its first term in the gradient slot: rounded twice.
            let rel = if spec == "uld" {
                2.0 / 256.0
            } else {
                1.0 / 256.0
            };
            check_stored(&div, spec, &tr, &sr, v, &out, "bf16 storage", rel);
        }
    }
}

/// Under bf16 storage `precision=bf16` is what the upload did (the family's kernel runs); other
/// options need f32 or f16 rows; logits beyond bf16's range are refused.
#[test]
fn bf16_storage_takes_precision_bf16_and_refuses_other_options() {
    let Some(c) = ctx() else { return };
    let v = 33;
    let (t, s, n) = make_rows(&[RowKind::Random, RowKind::Peaked], 2, v, 5);
    let bf16 = RowsOptions {
        storage: Storage::Bf16,
        ..RowsOptions::default()
    };
    let rows = c.upload(&t, &s, n, v, &bf16).unwrap();
    let plain = rows
        .run(&"jsd:beta=0.5".parse().unwrap(), &RunOptions::default())
        .unwrap();
    let loss: kdviz::math::practice::Loss = "jsd:beta=0.5,precision=bf16".parse().unwrap();
    let same = rows.run_loss(&loss, 0, &RunOptions::default()).unwrap();
    assert_eq!((same.values, same.grad), (plain.values, plain.grad));
    for spec in [
        "jsd:beta=0.5,tt=2",
        "jsd:beta=0.5,precision=bf16,tprecision=f32",
        "fkl:support=topk,k=4",
    ] {
        let loss: kdviz::math::practice::Loss = spec.parse().unwrap();
        let e = rows.run_loss(&loss, 0, &RunOptions::default()).unwrap_err();
        assert!(
            matches!(&e, GpuError::Unsupported(m) if m.contains("bf16 storage")),
            "{spec}: {e}"
        );
    }
    let mut big = t.clone();
    big[3] = 3.4e38;
    let e = c.upload(&big, &s, n, v, &bf16).unwrap_err();
    assert!(e.to_string().contains("bf16's ±3.39e38"), "{e}");
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let Some(c) = ctx() else { return };
    let div: Divergence = "fkl".parse().unwrap();
    let e = c
        .divergence_rows(&div, &[0.0, 1.0], &[0.0, f32::NAN], 1, 2)
        .unwrap_err();
    assert!(
        matches!(e, GpuError::Input(_)) && e.to_string().contains("[0, 1]"),
        "{e}"
    );
    let e = c
        .divergence_rows(&div, &[0.0; 4], &[0.0; 4], 3, 2)
        .unwrap_err();
    assert!(e.to_string().contains("expected rows × vocab"), "{e}");
    let hinton: Divergence = "hinton:label=5".parse().unwrap();
    let e = c
        .divergence_rows(&hinton, &[0.0; 4], &[0.0; 4], 2, 2)
        .unwrap_err();
    assert!(e.to_string().contains("label=5"), "{e}");
}

#[test]
fn ab_with_an_underflowing_class_is_finite() {
    let Some(c) = ctx() else { return };
    // p_1 = e^-20000 underflows (f64 too): the term must take its limit y^(a+b)/(a(a+b)), not 0·inf.
    let t = [0.0f32, -20_000.0, 1.0];
    let s = [0.0f32, 0.0, -3.0];
    let tl: Vec<f64> = t.iter().map(|&x| x as f64).collect();
    let sl: Vec<f64> = s.iter().map(|&x| x as f64).collect();
    let (tp, sq) = (
        LogDist::from_logits(&tl, true).unwrap(),
        LogDist::from_logits(&sl, false).unwrap(),
    );
    for (a, b) in [(0.2, 0.7), (0.5, 0.5), (0.8, 0.3), (2.0, 1.0), (0.3, 1.5)] {
        let div = Divergence::Ab { alpha: a, beta: b };
        let out = c.divergence_rows(&div, &t, &s, 1, 3).unwrap();
        let (value, grad) = ab_naive(a, b, &tp.logp, &sq.logp);
        let got = out.values[0] as f64;
        assert!(
            (got - value).abs() <= 1e-5 * value,
            "ab({a},{b}): gpu {got} exact {value}"
        );
        for (g, e) in out.grad.iter().zip(&grad) {
            assert!((*g as f64 - e).abs() <= 1e-5, "ab({a},{b}): {g} vs {e}");
        }
    }
    // negative exponents: the divergence is astronomically large, never NaN
    for (a, b) in [(-0.5, 1.2), (1.5, -0.3), (0.5, -0.5), (0.0, 0.0)] {
        let div = Divergence::Ab { alpha: a, beta: b };
        let out = c.divergence_rows(&div, &t, &s, 1, 3).unwrap();
        assert!(!out.values[0].is_nan(), "ab({a},{b})");
        assert!(out.grad.iter().all(|g| !g.is_nan()), "ab({a},{b})");
    }
}

#[test]
fn timing_is_reported_when_the_adapter_has_timestamps() {
    let Some(c) = ctx() else { return };
    let (t, s, n) = make_rows(&[RowKind::Random], 4, 100, 4);
    let div: Divergence = "jsd".parse().unwrap();
    let rows = c.upload(&t, &s, n, 100, &RowsOptions::default()).unwrap();
    let out = rows.run(&div, &RunOptions::default()).unwrap();
    assert_eq!(out.gpu_ms.is_some(), c.info().timestamp_query);
    assert_eq!(out.passes, 3);
    let quiet = RunOptions {
        read_grad: false,
        ..RunOptions::default()
    };
    let again = rows.run(&div, &quiet).unwrap();
    assert!(again.grad.is_empty());
    assert_eq!(again.values, out.values);
}

/// practice.md §13.1 on the GPU (f32): every new family's value on vectors A and B, the gradient
/// against the f64 engine.
#[test]
fn new_families_match_the_spec_vectors() {
    let Some(c) = ctx() else { return };
    let a = (
        [1.0f32, 0.9, 0.8, 0.7, 0.0, -1.0],
        [0.2f32, 1.0, -0.5, 0.9, 0.3, 0.0],
    );
    let b = ([2.0f32, -0.5, 0.3, 1.1], [0.4f32, 0.9, -1.2, 0.1]);
    let on_a = [
        ("todi", 0.39090363682338336),
        ("todi:beta=2", 0.52449894883693637),
        ("uld", 0.23647329363751607),
        ("bild:k=4,T=3", 0.073164961604386625),
        ("bild:k=4,T=3,lead=teacher", 0.055539207483376166),
        ("wsd", 0.19545181841169168),
        ("jeffreys", 0.39090363682338336),
        ("renyi", 0.098223131765003593),
        ("dkd", 1.6834451963365067),
        ("eakd", 0.45211897230444775),
        ("akl:mu=0.5,convention=dskd", 0.19787249426603024),
    ];
    let on_b = [
        ("uld", 0.2785054967345672),
        ("bild:k=3,T=2,lead=student", 0.31955169491720253),
        ("wsd:lambda=0.9", 0.71357207139411649),
        ("jeffreys", 1.2023699861975921),
        ("renyi:alpha=2.5", 0.60933804059563634),
        ("dkd:alpha=1,beta=8,T=4,label=2", 6.2076078110116102),
        ("eakd:T=4,hub=4.605170185988092", 0.58739316895451177),
        ("akl:mu=0.3,convention=dskd", 0.61937704614235423),
    ];
    let mut checked = 0;
    for (t, s, table) in [
        (&a.0[..], &a.1[..], &on_a[..]),
        (&b.0[..], &b.1[..], &on_b[..]),
    ] {
        let v = t.len();
        for &(spec, value) in table {
            let div: Divergence = spec.parse().unwrap();
            let out = c.divergence_rows(&div, t, s, 1, v).unwrap();
            let got = out.values[0] as f64;
            assert!(
                (got - value).abs() <= 2e-6 * value.max(1.0),
                "{spec} V={v}: gpu {got} table {value}"
            );
            let sum: f32 = out.grad.iter().sum();
            assert!(
                sum.abs() < 1e-5 * value.max(1.0) as f32,
                "{spec}: gradient sums to {sum}"
            );
            check(&div, spec, t, s, v, &out, "spec vector");
            checked += 1;
        }
    }
    assert_eq!(checked, 19);
    // BiLD beyond the kernel's arrays is refused with a reason, not run wrong.
    let wide: Vec<f32> = (0..100).map(|k| (k as f32 * 0.37).sin()).collect();
    let e = c
        .divergence_rows(&"bild:k=65".parse().unwrap(), &wide, &wide, 1, 100)
        .unwrap_err();
    assert!(e.to_string().contains("expected k <= 64 on the GPU"), "{e}");
    let wide: Vec<f32> = (0..2049).map(|k| (k as f32 * 0.37).sin()).collect();
    let e = c
        .divergence_rows(&"uld".parse().unwrap(), &wide, &wide, 1, 2049)
        .unwrap_err();
    assert!(
        e.to_string().contains("expected V <= 2048 on the GPU"),
        "{e}"
    );
}

/// rkl-est's sampler needs u64 and f64 (practice.md §12.5): the kernels refuse it as unsupported,
/// so that the real tab's auto backend trains it on the CPU.
#[test]
fn rkl_est_is_refused_as_unsupported() {
    let Some(c) = ctx() else { return };
    let (t, s, _) = make_rows(&[RowKind::Random], 1, 6, 4);
    let div: Divergence = "rkl-est:kind=k1,mode=pg".parse().unwrap();
    let e = c.divergence_rows(&div, &t, &s, 1, 6).unwrap_err();
    assert!(matches!(e, GpuError::Unsupported(_)), "{e}");
    assert!(
        e.to_string()
            .ends_with("rkl-est runs on the CPU engine: its sampler needs f64"),
        "{e}"
    );
}
