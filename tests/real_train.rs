//! The real-model trainer: CPU and GPU backends agree epoch by epoch, students learn what they can,
//! the head/tail story of FKL vs RKL on a low-rank student, cancellation and input errors.
//!
//! GPU tests print a SKIP line and pass without an adapter, unless KDVIZ_REQUIRE_GPU=1.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::real::train::{
    BackendChoice, CpuArith, EpochStats, GpuEpoch, StudentKind, TrainConfig, TrainResult,
    matmul_nn, matmul_nt, matmul_tn, train,
};
use kdviz::real::{RealData, RealError};
use std::sync::atomic::AtomicBool;

/// xorshift64* with Box-Muller.
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

/// `n` Zipf-like teacher rows over `v` classes: logit = −1.2·ln(rank + 1) + 0.1·noise, with the
/// ranks a random permutation per row (so rows differ and the logit matrix has full rank).
fn zipf_data(n: usize, v: usize, seed: u64) -> RealData {
    let mut rng = Rng(seed | 1);
    let mut teacher = Vec::with_capacity(n * v);
    for _ in 0..n {
        let mut perm: Vec<usize> = (0..v).collect();
        for i in (1..v).rev() {
            let j = (rng.uniform() * (i + 1) as f64) as usize % (i + 1);
            perm.swap(i, j);
        }
        for &rank in &perm {
            teacher.push((-1.2 * ((rank + 1) as f64).ln() + 0.1 * rng.normal()) as f32);
        }
    }
    RealData {
        source: "test: zipf".into(),
        n,
        v,
        student_v: v,
        teacher,
        topk: None,
        student_init: None,
        tokens: None,
        contexts: None,
        labels: None,
    }
}

fn div(s: &str) -> Loss {
    s.parse().unwrap()
}

fn run(data: &RealData, d: &str, cfg: &TrainConfig) -> Result<TrainResult, RealError> {
    train(
        None,
        data,
        &div(d),
        cfg,
        &AtomicBool::new(false),
        &mut |_| {},
    )
}

fn cpu(student: StudentKind, epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        student,
        epochs,
        lr,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    }
}

#[test]
fn free_student_under_fkl_converges() {
    let data = zipf_data(64, 300, 1);
    let r = run(&data, "fkl", &cpu(StudentKind::Free, 300, 0.05)).unwrap();
    let last = r.stats.last().unwrap();
    assert_eq!(r.stats.len(), 301);
    let c = last.classes.unwrap();
    assert!(c.kl_pq < 1e-3, "KL(p||q) = {}", c.kl_pq);
    assert!((last.objective - c.kl_pq).abs() < 1e-9);
    assert_eq!(c.top1, 1.0);
    assert_eq!(r.student_logits.len(), 64 * 300);
    assert!(r.backend.starts_with("CPU"), "{}", r.backend);
}

/// The CPU trainer's f32 engine (fkl, rkl, tvd, jsd, akl) against its f64 engine, epoch by epoch:
/// objective and metrics within 1e-5 relative (a row's f32 evaluation is good to about 1e-6 of its
/// scale, see `math::row32`; Adam then steps both students alike). V = 333 is not a multiple of
/// the 16 lanes; one teacher class per row is ruled out (−inf) where the family allows it.
#[test]
fn the_f32_engine_trains_as_the_f64_engine() {
    let mut data = zipf_data(24, 333, 9);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs() + 1e-12;
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for d in ["fkl", "rkl", "tvd", "jsd:beta=0.3", "akl"] {
            // RKL and AKL are infinite where the teacher rules a class out.
            let zeros = !matches!(d, "rkl" | "akl");
            for r in 0..data.n {
                data.teacher[r * data.v + 7] = if zeros { f32::NEG_INFINITY } else { -9.0 };
            }
            let mut c = cpu(student, 25, 0.05);
            let r32 = run(&data, d, &c).unwrap();
            c.cpu_arith = CpuArith::F64;
            let r64 = run(&data, d, &c).unwrap();
            for (a, b) in r32.stats.iter().zip(&r64.stats) {
                let what = format!("{student} {d} epoch {}: f32 {a:?} f64 {b:?}", b.epoch);
                assert!(close(a.objective, b.objective), "objective {what}");
                let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
                assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
                assert!(close(a.head_gap, b.head_gap), "head {what}");
                assert!(close(a.tail_gap, b.tail_gap), "tail {what}");
                assert_eq!(a.top1, b.top1, "top1 {what}");
            }
            assert!(r32.stats.last().unwrap().objective < 0.9 * r32.stats[0].objective);
            // The result names the arithmetic that ran.
            assert!(r32.backend.ends_with(", f32)"), "{}", r32.backend);
            assert!(r64.backend.ends_with(", f64)"), "{}", r64.backend);
        }
    }
    // Families and options the f32 engine does not have run (and say) f64 under f32.
    let c = cpu(StudentKind::Free, 2, 0.05);
    for d in ["srkl:alpha=0.1", "fkl:tt=2"] {
        let r = run(&data, d, &c).unwrap();
        assert!(r.backend.ends_with(", f64)"), "{d}: {}", r.backend);
    }
}

#[test]
fn cancel_stops_the_run() {
    let data = zipf_data(8, 50, 2);
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::<EpochStats>::new();
    let r = train(
        None,
        &data,
        &div("rkl"),
        &cpu(StudentKind::Free, 1000, 0.05),
        &cancel,
        &mut |s| {
            seen.push(*s);
            if s.epoch == 3 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
    );
    assert_eq!(r, Err(RealError::Cancelled));
    assert_eq!(seen.len(), 4);
}

// ------------------------------------------------------------------ GPU

use kdviz::gpu::{GpuContext, GpuError};
use kdviz::math::practice::Loss;

mod common;
use common::gpu as ctx;

fn on(gpu: Option<&GpuContext>, data: &RealData, d: &str, cfg: &TrainConfig) -> TrainResult {
    train(
        gpu,
        data,
        &div(d),
        cfg,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap()
}

/// GPU and CPU trainers, epoch by epoch: the GPU is f32 throughout, the CPU engine f64 per row with
/// f32 parameters, so they agree to f32 level (observed ≤ 2e-6 relative over 20 epochs on lavapipe).
#[test]
fn gpu_and_cpu_agree_epoch_by_epoch() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(64, 300, 3);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (b.abs() + 0.01);
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for d in [
            "fkl",
            "rkl",
            "akl",
            "ab:alpha=0.2,beta=0.7",
            "taid:t=0.5",
            "taid:t_start=0.2,rate=0.01",
            "hinton",
        ] {
            let mut c = cpu(student, 20, 0.05);
            let rc = on(None, &data, d, &c);
            c.backend = BackendChoice::Gpu;
            let rg = on(Some(g), &data, d, &c);
            assert!(rg.backend.starts_with("GPU: "), "{}", rg.backend);
            assert_eq!(rg.fallback, None);
            assert_eq!(rg.stats.len(), 21);
            for (a, b) in rg.stats.iter().zip(&rc.stats) {
                let what = format!("{student} {d} epoch {}: gpu {a:?} cpu {b:?}", b.epoch);
                assert!(close(a.objective, b.objective), "objective {what}");
                let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
                assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
                assert!(close(a.kl_qp, b.kl_qp), "kl_qp {what}");
                assert!(close(a.head_gap, b.head_gap), "head {what}");
                assert!(close(a.tail_gap, b.tail_gap), "tail {what}");
                assert!((a.top1 - b.top1).abs() <= 1.0 / 64.0 + 1e-12, "top1 {what}");
            }
            let worst = rg
                .student_logits
                .iter()
                .zip(&rc.student_logits)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // Adam divides by √v: parameters whose gradients are near zero amplify f32 rounding
            // into visible steps (observed 2e-3 on the rank-4 RKL run); the metrics above agree.
            assert!(
                worst < 1e-2,
                "{student} {d}: final logits differ by {worst}"
            );
        }
    }
}

/// The fused epoch (`gpu/fused.rs`: the free student's Adam in the loss kernel's first pass, the
/// metrics in its gradient pass) against the separate kernels, epoch by epoch, for a spec of every
/// family the GPU trainer runs, both students: the same arithmetic up to the order of the metrics'
/// row sums (observed: the same bits on lavapipe); the byte model drops the metrics' sweeps and
/// one read of the logits.
#[test]
fn fused_epoch_matches_the_separate_kernels() {
    let Some(g) = ctx() else { return };
    let (n, v) = (24, 300);
    let data = zipf_data(n, v, 5);
    let e = (n * v) as f64;
    let close = |a: f64, b: f64| (a - b).abs() <= 2e-6 * (b.abs() + 0.01);
    let mut worst = 0f64;
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 3 }] {
        for d in [
            "fkl",
            "rkl",
            "akl:mu=0.5",
            "jsd:beta=0.5",
            "tvd",
            "skl:alpha=0.1",
            "srkl:alpha=0.1",
            "ab:alpha=0.2,beta=0.7",
            "taid:t=0.4",
            "taid:t_start=0.2,rate=0.01",
            "amid:alpha=0.5,lambda=0.5",
            "hinton:T=2,a=0.5,label=0",
            "todi",
            "uld",
            "bild:k=4,T=3",
            "wsd",
            "renyi:alpha=2.5",
            "dkd",
            "eakd",
        ] {
            let mut c = cpu(student, 6, 0.05);
            c.backend = BackendChoice::Gpu;
            let fused = on(Some(g), &data, d, &c);
            c.gpu_epoch = GpuEpoch::Separate;
            let sep = on(Some(g), &data, d, &c);
            // Metrics: 12 bytes per element (16 with TAID's schedule) no longer move; the free
            // student's Adam reads the logits in the loss's first pass (4 bytes fewer).
            let metrics = if d.starts_with("taid:t_start") {
                16.0
            } else {
                12.0
            };
            let adam = if student == StudentKind::Free {
                4.0
            } else {
                0.0
            };
            assert_eq!(
                sep.bytes_per_epoch - fused.bytes_per_epoch,
                (metrics + adam) * e,
                "{student} {d}: the run did not fuse"
            );
            for (a, b) in fused.stats.iter().zip(&sep.stats) {
                let what = format!(
                    "{student} {d} epoch {}: fused {a:?} separate {b:?}",
                    b.epoch
                );
                let (ca, cb) = (a.classes.unwrap(), b.classes.unwrap());
                for (x, y, name) in [
                    (a.objective, b.objective, "objective"),
                    (ca.kl_pq, cb.kl_pq, "kl_pq"),
                    (ca.kl_qp, cb.kl_qp, "kl_qp"),
                    (ca.head_gap, cb.head_gap, "head"),
                    (ca.tail_gap, cb.tail_gap, "tail"),
                    (ca.top1, cb.top1, "top1"),
                ] {
                    assert!(close(x, y), "{name} {what}");
                    worst = worst.max((x - y).abs() / (y.abs() + 0.01));
                }
            }
            assert_eq!(fused.stats.len(), sep.stats.len());
            let dz = fused
                .student_logits
                .iter()
                .zip(&sep.student_logits)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(dz < 1e-4, "{student} {d}: final logits differ by {dz}");
        }
    }
    eprintln!("fused vs separate: worst relative difference {worst:.2e}");
}

/// uld across vocabularies: the GPU trainer refuses it with a reason (`gpu`), `auto` trains it on the
/// CPU and says why.
#[test]
fn uld_across_vocabularies_trains_on_the_cpu_engine() {
    let Some(g) = ctx() else { return };
    let mut data = zipf_data(8, 40, 5);
    data.student_v = 24;
    data.student_init = Some((0..8 * 24).map(|i| 0.01 * (i % 7) as f32).collect());
    let mut c = cpu(StudentKind::Free, 3, 0.05);
    c.backend = BackendChoice::Gpu;
    let e = train(
        Some(g),
        &data,
        &div("uld"),
        &c,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("a student vocabulary other than the teacher's (24 classes, the teacher 40)"),
        "{e}"
    );
    c.backend = BackendChoice::Auto;
    // A real GPU falls back for the vocabulary; a software one already for being software.
    let r = on(Some(g), &data, "uld", &c);
    assert!(r.backend.starts_with("CPU"), "{}", r.backend);
    assert!(r.fallback.is_some());
    assert_eq!(r.student_logits.len(), 8 * 24);
}

/// A top-k teacher trains on the GPU's sparse kernels (`gpu/topk`), epoch by epoch as the CPU engine
/// trains it (the metrics against the full teacher included); a teacher known only as its top k,
/// and options the top-k kernels do not take, are refused with their reason (`gpu`), and `auto`
/// trains them on the CPU and says why.
#[test]
fn top_k_teachers_train_on_the_gpu_as_on_the_cpu() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(24, 60, 5);
    let top = data.clone().with_topk(8).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * (b.abs() + 0.01);
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for spec in [
            "fkl:support=topk,k=8",
            "fkl:support=topk,k=4,clamp=true",
            "rkl:support=topk-renorm,k=8,st=2,t2=true",
            "fkl:support=topk-renorm,k=8,renorm=teacher",
            "fkl:support=topk-tail,k=8",
            "jsd:beta=0.5,support=topk-tail,k=6",
            "akl:support=topk-tail,k=8",
        ] {
            let mut c = cpu(student, 10, 0.05);
            let rc = on(None, &top, spec, &c);
            c.backend = BackendChoice::Gpu;
            let rg = on(Some(g), &top, spec, &c);
            assert!(rg.backend.starts_with("GPU: "), "{spec}: {}", rg.backend);
            for (a, b) in rg.stats.iter().zip(&rc.stats) {
                let what = format!("{student} {spec} epoch {}: gpu {a:?} cpu {b:?}", b.epoch);
                assert!(close(a.objective, b.objective), "objective {what}");
                let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
                assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
                assert!(close(a.tail_gap, b.tail_gap), "tail {what}");
            }
        }
    }
    // The truncated loss goes below 0 on both backends (it is not a divergence): no clamp at 0.
    let mut c = cpu(StudentKind::Free, 40, 0.1);
    c.backend = BackendChoice::Gpu;
    let rg = on(Some(g), &top, "fkl:support=topk,k=4", &c);
    let last = rg.stats.last().unwrap().objective;
    assert!(last < 0.0, "truncated top-4 FKL ends at {last}");

    let mut c = cpu(StudentKind::Free, 3, 0.05);
    c.backend = BackendChoice::Gpu;
    let refuse = |data: &RealData, spec: &str, c: &TrainConfig| {
        let loss: Loss = spec.parse().unwrap();
        train(
            Some(g),
            data,
            &loss,
            c,
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string()
    };
    let e = refuse(&data, "rkl:support=topk,k=4", &c);
    assert!(
        e.contains("rkl: support=topk,k=4 is not yet on the GPU; use the CPU engine"),
        "{e}"
    );
    let e = refuse(&top, "fkl:support=topk-tail,k=4,precision=f64", &c);
    assert!(e.contains("precision=f64"), "{e}");
    // A teacher known only as its top k (a top-k file) trains on the GPU too, without the
    // per-class metrics (they need the full rows), as on the CPU.
    let mut stored = top.clone();
    stored.teacher.clear();
    let mut cs = cpu(StudentKind::Free, 6, 0.05);
    let spec = "jsd:beta=0.5,support=topk-tail,k=8";
    let rc = on(None, &stored, spec, &cs);
    cs.backend = BackendChoice::Gpu;
    let rg = on(Some(g), &stored, spec, &cs);
    assert!(rg.backend.starts_with("GPU: "), "{}", rg.backend);
    for (a, b) in rg.stats.iter().zip(&rc.stats) {
        assert!(
            (a.objective - b.objective).abs() <= 1e-4 * (b.objective.abs() + 0.01),
            "stored top-k epoch {}: gpu {} cpu {}",
            b.epoch,
            a.objective,
            b.objective
        );
        assert_eq!((a.classes, b.classes), (None, None));
    }
    c.backend = BackendChoice::Auto;
    for (data, spec) in [
        (&data, "rkl:support=topk,k=4"),
        (&stored, "fkl:support=topk,k=2"),
    ] {
        let loss: Loss = spec.parse().unwrap();
        let r = train(
            Some(g),
            data,
            &loss,
            &c,
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap();
        assert!(r.backend.starts_with("CPU"), "{spec}: {}", r.backend);
        assert!(r.fallback.is_some(), "{spec}");
        assert_eq!(r.div, loss);
    }
}

#[test]
fn gpu_run_reports_throughput_and_honours_cancel() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(32, 200, 4);
    // `gpu`, not `auto`: auto trains on the CPU when the adapter is a software rasteriser.
    let cfg = TrainConfig {
        epochs: 5,
        backend: BackendChoice::Gpu,
        ..TrainConfig::default()
    };
    let r = on(Some(g), &data, "fkl", &cfg);
    assert!(r.backend.starts_with("GPU: "), "{}", r.backend);
    assert!(r.rows_per_s > 0.0 && r.gb_per_s > 0.0);
    // FKL 2 passes, fused epoch: loss 20 B, Adam in its first pass 24 B, the metrics in its
    // gradient pass 0 B per element, plus the read-back.
    assert_eq!(r.bytes_per_epoch, (44 * 32 * 200 + 28 * 32) as f64);
    // Separate kernels: loss 20 B, metrics 12 B, Adam 28 B.
    let sep = TrainConfig {
        gpu_epoch: GpuEpoch::Separate,
        ..cfg
    };
    let r = on(Some(g), &data, "fkl", &sep);
    assert_eq!(r.bytes_per_epoch, (60 * 32 * 200 + 28 * 32) as f64);
    let cancel = AtomicBool::new(false);
    let mut epochs = 0;
    let out = train(Some(g), &data, &div("fkl"), &cfg, &cancel, &mut |s| {
        epochs += 1;
        if s.epoch == 1 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert_eq!(out, Err(RealError::Cancelled));
    assert_eq!(epochs, 2);
}

/// Reference `op(A)·op(B)` in f64 and the bound `Σ_k |a_ik b_kj|` that scales f32 rounding.
fn reference(
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
) -> (Vec<f64>, Vec<f64>) {
    let at = |i: usize, l: usize| f64::from(if ta { a[l * m + i] } else { a[i * k + l] });
    let bt = |l: usize, j: usize| f64::from(if tb { b[j * k + l] } else { b[l * n + j] });
    let mut c = vec![0.0; m * n];
    let mut s = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            for l in 0..k {
                c[i * n + j] += at(i, l) * bt(l, j);
                s[i * n + j] += (at(i, l) * bt(l, j)).abs();
            }
        }
    }
    (c, s)
}

fn randn(len: usize, rng: &mut Rng) -> Vec<f32> {
    (0..len).map(|_| rng.normal() as f32).collect()
}

#[test]
fn matmul_kernels_match_a_reference_on_odd_sizes() {
    let mut rng = Rng(99);
    // (m, k, n): not multiples of the 64-wide tiles, of the 16-deep slices, or of the CPU's
    // 512-column blocks; (70, 3001, 3) and (5, 1300, 2) split k across workgroups.
    for &(m, k, n) in &[
        (37, 5, 1301),
        (70, 3001, 3),
        (3, 67, 129),
        (65, 129, 63),
        (1, 1, 1),
        (5, 1300, 2),
    ] {
        let a = randn(m * k, &mut rng);
        let b = randn(k * n, &mut rng);
        let ok = |c: &[f32], r: &(Vec<f64>, Vec<f64>), what: &str| {
            for (i, &x) in c.iter().enumerate() {
                let tol = 4.0 * f64::from(f32::EPSILON) * r.1[i] * (k as f64).sqrt() + 1e-6;
                assert!(
                    (f64::from(x) - r.0[i]).abs() <= tol,
                    "{what} {m}x{k}x{n} at {i}: {x} vs {}",
                    r.0[i]
                );
            }
        };
        // CPU: H·W, G·Wᵀ, Hᵀ·G as the trainer uses them.
        let mut c = vec![0f32; m * n];
        matmul_nn(&a, &b, &mut c, m, k, n);
        ok(&c, &reference(&a, &b, m, k, n, false, false), "cpu nn");
        let bt = randn(n * k, &mut rng); // [n × k]: C = A·Bᵀ
        matmul_nt(&a, &bt, &mut c, m, k, n);
        ok(&c, &reference(&a, &bt, m, k, n, false, true), "cpu nt");
        let at = randn(k * m, &mut rng); // [k × m]: C = Aᵀ·B
        matmul_tn(&at, &b, &mut c, k, m, n);
        ok(&c, &reference(&at, &b, m, k, n, true, false), "cpu tn");
        if let Some(g) = ctx() {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let aa = if ta { &at } else { &a };
                let bb = if tb { &bt } else { &b };
                let c = g.matmul(aa, bb, m, k, n, ta, tb).unwrap();
                ok(
                    &c,
                    &reference(aa, bb, m, k, n, ta, tb),
                    &format!("gpu ta={ta} tb={tb}"),
                );
            }
        }
    }
    if let Some(g) = ctx() {
        assert!(matches!(
            g.matmul(&[1.0; 6], &[1.0; 5], 2, 3, 2, false, false),
            Err(GpuError::Input(_))
        ));
    }
}

#[test]
fn lowrank_student_improves_but_cannot_match() {
    let data = zipf_data(64, 300, 5);
    let r = run(
        &data,
        "fkl",
        &cpu(StudentKind::LowRank { rank: 4 }, 200, 0.05),
    )
    .unwrap();
    let (first, last) = (r.stats[0], *r.stats.last().unwrap());
    assert!(
        last.objective < 0.6 * first.objective,
        "{first:?} -> {last:?}"
    );
    assert!(
        last.objective > 0.5,
        "rank 4 cannot fit 64 full-rank rows: {last:?}"
    );
    assert!(last.classes.unwrap().top1 > first.classes.unwrap().top1 + 0.5);
    // Monotone enough: never worse than the start.
    assert!(
        r.stats
            .iter()
            .all(|s| s.objective <= first.objective + 1e-9)
    );
}

/// The toy's story at scale, measured first (d = 8, 200 epochs, lr 0.05): FKL head gap 0.118 vs RKL
/// 0.234, tail gap 0.590 vs 0.420; top-1 1.00 vs 0.92. FKL fits the head (and the argmax), RKL the
/// tail, and each wins its own KL.
#[test]
fn fkl_fits_the_head_rkl_the_tail_on_a_lowrank_student() {
    let data = zipf_data(64, 300, 5);
    let cfg = cpu(StudentKind::LowRank { rank: 8 }, 200, 0.05);
    let last = |d: &str| {
        run(&data, d, &cfg)
            .unwrap()
            .stats
            .last()
            .unwrap()
            .classes
            .unwrap()
    };
    let (f, r) = (last("fkl"), last("rkl"));
    assert!(f.head_gap < 0.7 * r.head_gap, "head: fkl {f:?} rkl {r:?}");
    assert!(r.tail_gap < 0.8 * f.tail_gap, "tail: fkl {f:?} rkl {r:?}");
    assert!(f.top1 > r.top1);
    assert!(f.kl_pq < r.kl_pq && r.kl_qp < f.kl_qp);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let data = zipf_data(4, 20, 6);
    let ok = cpu(StudentKind::Free, 3, 0.05);
    let input = |r: Result<TrainResult, RealError>| matches!(r, Err(RealError::Input(_)));
    let mut short = data.clone();
    short.teacher.pop();
    assert!(input(run(&short, "fkl", &ok)));
    let mut nan = data.clone();
    nan.teacher[3] = f32::NAN;
    assert!(input(run(&nan, "fkl", &ok)));
    let mut labels = data.clone();
    labels.labels = Some(vec![0, 1, 2, 20]);
    assert!(input(run(&labels, "hinton", &ok)));
    for cfg in [
        TrainConfig { lr: -1.0, ..ok },
        TrainConfig { lr: f64::NAN, ..ok },
        TrainConfig { beta1: 1.0, ..ok },
        TrainConfig { eps: 0.0, ..ok },
        TrainConfig { mu: 1.0, ..ok },
        TrainConfig {
            epochs: usize::MAX,
            ..ok
        },
        TrainConfig {
            student: StudentKind::LowRank { rank: 0 },
            ..ok
        },
        TrainConfig {
            student: StudentKind::LowRank { rank: 30 },
            ..ok
        },
    ] {
        assert!(input(run(&data, "fkl", &cfg)), "{cfg:?}");
    }
    // A teacher ruling a class out makes RKL infinite: a clear error.
    let mut zeros = data.clone();
    zeros.teacher[5] = f32::NEG_INFINITY;
    match run(&zeros, "rkl", &ok) {
        Err(RealError::Input(m)) => assert!(m.contains("infinite"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(run(&zeros, "fkl", &ok).is_ok());
    // Backends: gpu without an adapter is an error, auto falls back and says why.
    let gpu = TrainConfig {
        backend: BackendChoice::Gpu,
        ..ok
    };
    assert!(matches!(
        run(&data, "fkl", &gpu),
        Err(RealError::Gpu(GpuError::NoAdapter))
    ));
    let auto = TrainConfig {
        backend: BackendChoice::Auto,
        ..ok
    };
    let r = run(&data, "fkl", &auto).unwrap();
    assert!(
        r.backend.starts_with("CPU (") && r.fallback.is_some(),
        "{r:?}"
    );
}

#[test]
fn student_and_backend_parse_and_print() {
    for s in ["free", "lowrank:d=64", "lowrank:d=1"] {
        assert_eq!(s.parse::<StudentKind>().unwrap().to_string(), s);
    }
    assert_eq!(
        "lowrank".parse::<StudentKind>(),
        Ok(StudentKind::LowRank { rank: 64 })
    );
    for s in ["lowrank:d=0", "lowrank:d=x", "dense", "lowrank:d=99999"] {
        assert!(s.parse::<StudentKind>().is_err(), "{s}");
    }
    for s in ["auto", "gpu", "cpu"] {
        assert_eq!(s.parse::<BackendChoice>().unwrap().to_string(), s);
    }
    assert!("cuda".parse::<BackendChoice>().is_err());
}

/// Time per epoch at N = 2048, V = 8192 (run with `--ignored --nocapture`; release mode for CPU
/// numbers that mean something).
#[test]
#[ignore]
fn bench_epoch_times() {
    use kdviz::real::train::synthetic_zipf;
    let data = synthetic_zipf(2048, 8192, 0);
    let mut backends = vec![(None, BackendChoice::Cpu)];
    if let Some(g) = ctx() {
        backends.push((Some(g), BackendChoice::Gpu));
    }
    for (gpu, backend) in backends {
        for student in [StudentKind::Free, StudentKind::LowRank { rank: 64 }] {
            for d in ["fkl", "akl"] {
                let cfg = TrainConfig {
                    student,
                    epochs: 3,
                    backend,
                    ..TrainConfig::default()
                };
                let r = on(gpu, &data, d, &cfg);
                let s = &r.stats;
                let per_epoch = (s[3].seconds - s[0].seconds) / 3.0;
                eprintln!(
                    "{:<40} {student:<13} {d:<4} first forward {:7.1} ms, epoch {:7.1} ms, {:6.2} GB/s ({:.0} MB/epoch)",
                    r.backend,
                    1e3 * s[0].seconds,
                    1e3 * per_epoch,
                    r.gb_per_s,
                    r.bytes_per_epoch / 1e6
                );
            }
        }
    }
}

// ------------------------------------------------------------------ chunked [N × V] tensors

/// Practice options of full rows train on the GPU (`gpu/shaping.rs` around the family kernel),
/// epoch by epoch as on the CPU engine: the teacher's and the student's steps 1–4, the chain rule
/// and T², AKL's head on the standardised teacher, a sampled teacher drawn afresh every epoch on
/// stream seed + e·N + r, TAID's fixed t; in one chunk and in chunks of 5 rows (a last one of 4).
#[test]
fn practice_options_train_on_the_gpu_as_on_the_cpu() {
    let Some(one) = ctx() else { return };
    let (n, v) = (14, 60);
    let data = zipf_data(n, v, 7);
    let five = chunked(5, v).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * (b.abs() + 0.01);
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for spec in [
            "fkl:tt=2",
            "rkl:st=2,t2=true",
            "jsd:beta=0.5,softcap=5",
            "akl:std=true",
            "fkl:precision=bf16",
            "fkl:tprecision=f16,tt=0.5",
            "tvd:support=sampled,n=16,seed=3",
            "jsd:beta=0.5,support=sampled,n=32,seed=1",
            "uld:support=sampled,n=32,seed=1,tt=2",
            "taid:t=0.5,st=2",
            "eakd:std=true,softcap=4",
        ] {
            let mut c = cpu(student, 10, 0.05);
            let rc = on(None, &data, spec, &c);
            c.backend = BackendChoice::Gpu;
            for (g, chunks) in [(one, "one chunk"), (&five, "chunks of 5")] {
                let rg = on(Some(g), &data, spec, &c);
                assert!(rg.backend.starts_with("GPU: "), "{spec}: {}", rg.backend);
                assert_eq!(rg.stats.len(), 11);
                for (a, b) in rg.stats.iter().zip(&rc.stats) {
                    let what = format!(
                        "{student} {spec} {chunks} epoch {}: gpu {a:?} cpu {b:?}",
                        b.epoch
                    );
                    assert!(close(a.objective, b.objective), "objective {what}");
                    let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
                    assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
                    assert!(close(a.kl_qp, b.kl_qp), "kl_qp {what}");
                }
            }
        }
    }
    // The options matter: the tempered teacher is another target than the plain one.
    let c = TrainConfig {
        backend: BackendChoice::Gpu,
        ..cpu(StudentKind::Free, 2, 0.05)
    };
    let plain = on(Some(one), &data, "fkl", &c).stats[0].objective;
    let tempered = on(Some(one), &data, "fkl:tt=2", &c).stats[0].objective;
    assert!((plain - tempered).abs() > 1e-2, "{plain} vs {tempered}");
}

/// What the GPU does not run (`compute≠exact`, `precision=f64`) is refused with its reason under
/// `--backend gpu` and trains on the CPU under `auto`.
#[test]
fn refused_practice_options_train_on_the_cpu() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(8, 40, 9);
    let mut c = cpu(StudentKind::Free, 3, 0.05);
    for (spec, why) in [
        (
            "fkl:compute=naive,precision=bf16",
            "fkl: compute=naive emulates arithmetic in the stored formats on the CPU only",
        ),
        (
            "rkl:precision=f64",
            "rkl: precision=f64: the GPU computes in f32; use f32/bf16/f16 or the CPU engine",
        ),
    ] {
        let loss: Loss = spec.parse().unwrap();
        c.backend = BackendChoice::Gpu;
        let e = train(
            Some(g),
            &data,
            &loss,
            &c,
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(why), "{spec}: {e}");
        c.backend = BackendChoice::Auto;
        let r = on(Some(g), &data, spec, &c);
        assert!(r.backend.starts_with("CPU"), "{spec}: {}", r.backend);
        assert!(r.fallback.is_some(), "{spec}");
        assert_eq!(r.stats.len(), 4);
    }
}

/// The byte model of a loss with practice options of full rows counts the steps around the
/// family (`loss_bytes_per_elem`) over the N × V logits.
#[test]
fn practice_options_add_their_bytes_per_epoch() {
    use kdviz::gpu::{Storage, loss_bytes_per_elem};
    use kdviz::real::train::bytes_per_epoch;
    let (n, v) = (64, 1000);
    for spec in [
        "fkl:st=2",
        "fkl:std=true",
        "jsd:beta=0.5,softcap=5,t2=true,st=2",
    ] {
        let shaped = div(spec);
        let plain = Loss::from(shaped.family);
        let extra = loss_bytes_per_elem(&shaped, Storage::F32) as f64
            - loss_bytes_per_elem(&plain, Storage::F32) as f64;
        assert!(extra > 0.0, "{spec}");
        let b = |l: &Loss| bytes_per_epoch(l, StudentKind::Free, n, v, false, GpuEpoch::Separate);
        assert_eq!(b(&shaped) - b(&plain), extra * (n * v) as f64, "{spec}");
    }
}

/// A device of its own (a second one on the same adapter) whose buffers hold at most `rows` rows
/// of `v` f32 logits: the GPU trainer stores every `[N × V]` tensor in chunks of that many rows.
fn chunked(rows: usize, v: usize) -> Option<GpuContext> {
    ctx()?;
    Some(
        GpuContext::new()
            .unwrap()
            .with_max_binding_bytes((rows * v * 4) as u64),
    )
}

/// 13 rows in chunks of 4, 4, 4 and 1 (a last partial chunk of one row), of 5, 5 and 3, and in 13
/// chunks of one row train as on the CPU (the tolerances of `gpu_and_cpu_agree_epoch_by_epoch`);
/// the free student, whose kernels are per row or per element, trains bit for bit as with one
/// chunk. The rank-4 student's `W` is 4 rows of V: it needs bindings of 4 rows at least.
#[test]
fn chunked_gpu_training_equals_the_cpu_and_one_chunk() {
    let Some(one) = ctx() else { return };
    let (n, v) = (13, 300);
    let data = zipf_data(n, v, 11);
    let contexts = [4, 5, 1].map(|rows| (chunked(rows, v).unwrap(), rows));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (b.abs() + 0.01);
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for d in ["fkl", "rkl", "jsd", "tvd", "akl", "hinton"] {
            let mut c = cpu(student, 12, 0.05);
            let rc = on(None, &data, d, &c);
            c.backend = BackendChoice::Gpu;
            let r1 = on(Some(one), &data, d, &c);
            for (g, chunk_rows) in &contexts {
                if matches!(student, StudentKind::LowRank { rank } if rank > *chunk_rows) {
                    continue;
                }
                let rg = on(Some(g), &data, d, &c);
                assert!(rg.backend.starts_with("GPU: "), "{}", rg.backend);
                assert_eq!(rg.stats.len(), 13);
                for ((a, b), a1) in rg.stats.iter().zip(&rc.stats).zip(&r1.stats) {
                    let what = format!(
                        "{student} {d} chunks of {chunk_rows} epoch {}: gpu {a:?} cpu {b:?}",
                        b.epoch
                    );
                    assert!(close(a.objective, b.objective), "objective {what}");
                    let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
                    assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
                    assert!(close(a.kl_qp, b.kl_qp), "kl_qp {what}");
                    assert!(close(a.head_gap, b.head_gap), "head {what}");
                    assert!(close(a.tail_gap, b.tail_gap), "tail {what}");
                    assert!(
                        (a.top1 - b.top1).abs() <= 1.0 / n as f64 + 1e-12,
                        "top1 {what}"
                    );
                    let a1 = a1.classes.unwrap();
                    assert!(close(a.kl_pq, a1.kl_pq), "kl_pq vs one chunk {what}");
                }
                let worst = rg
                    .student_logits
                    .iter()
                    .zip(&rc.student_logits)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    worst < 1e-2,
                    "{student} {d} chunks of {chunk_rows}: final logits differ by {worst}"
                );
                if student == StudentKind::Free {
                    for (a, b) in rg.stats.iter().zip(&r1.stats) {
                        let what = format!("{d} chunks of {chunk_rows} epoch {}", a.epoch);
                        assert_eq!(a.objective, b.objective, "{what}");
                        assert_eq!(a.classes, b.classes, "{what}");
                    }
                    assert_eq!(rg.student_logits, r1.student_logits, "{d}");
                }
            }
        }
    }
}

/// The rank-4 student over 300 rows: `dW = Hᵀ·G` sums k = 300 rows in two splits of 160; in chunks
/// of 200 and 100 rows the first chunk writes both partials and the second adds its one split to
/// the first partial. Trains as on the CPU.
#[test]
fn chunked_lowrank_gradients_add_across_chunks() {
    let Some(g) = chunked(200, 40) else { return };
    let data = zipf_data(300, 40, 5);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (b.abs() + 0.01);
    for d in ["fkl", "rkl"] {
        let mut c = cpu(StudentKind::LowRank { rank: 4 }, 12, 0.05);
        let rc = on(None, &data, d, &c);
        c.backend = BackendChoice::Gpu;
        let rg = on(Some(&g), &data, d, &c);
        for (a, b) in rg.stats.iter().zip(&rc.stats) {
            let what = format!("{d} epoch {}: gpu {a:?} cpu {b:?}", b.epoch);
            assert!(close(a.objective, b.objective), "objective {what}");
            let (a, b) = (a.classes.unwrap(), b.classes.unwrap());
            assert!(close(a.kl_pq, b.kl_pq), "kl_pq {what}");
            assert!(close(a.kl_qp, b.kl_qp), "kl_qp {what}");
        }
        assert!(rg.stats[12].objective < rg.stats[0].objective);
    }
}

/// A rank above 256 over few classes: `S = H·W` has k = d = 512, which the forward computes in one
/// split (it once took split-K's count, whose second partial fell outside `S`).
#[test]
fn a_rank_above_256_forward_is_whole() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(600, 64, 9);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (b.abs() + 0.01);
    let mut c = cpu(StudentKind::LowRank { rank: 512 }, 3, 0.05);
    let rc = on(None, &data, "fkl", &c);
    c.backend = BackendChoice::Gpu;
    let rg = on(Some(g), &data, "fkl", &c);
    for (a, b) in rg.stats.iter().zip(&rc.stats) {
        assert!(close(a.objective, b.objective), "gpu {a:?} cpu {b:?}");
    }
}

/// A row wider than the binding limit cannot be chunked: refused with both sizes, never a panic.
#[test]
fn a_row_over_the_binding_limit_is_refused() {
    let Some(g) = chunked(1, 300) else { return };
    let g = g.with_max_binding_bytes(1199);
    let data = zipf_data(4, 300, 2);
    let mut c = cpu(StudentKind::Free, 2, 0.05);
    c.backend = BackendChoice::Gpu;
    match run_on(&g, &data, &c) {
        Err(RealError::Gpu(GpuError::Unsupported(m))) => {
            assert!(m.contains("1200 bytes") && m.contains("1199 bytes"), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn run_on(g: &GpuContext, data: &RealData, cfg: &TrainConfig) -> Result<TrainResult, RealError> {
    train(
        Some(g),
        data,
        &div("fkl"),
        cfg,
        &AtomicBool::new(false),
        &mut |_| {},
    )
}

/// The size: 4,096 × 131,072 f32 logits (2 GiB per tensor, 16 chunks under lavapipe's
/// 128 MiB bindings), FKL, 2 epochs, on whatever adapter there is. The free student needs about
/// 10 GiB of device memory (host memory on lavapipe) and 6 GiB on the host, the rank-16 one 6 and 4;
/// minutes on lavapipe, hence ignored:
/// `cargo test --test real_train -- --ignored trains_4096 --nocapture` (BENCHMARKS.md).
fn train_4096_by_131072(student: StudentKind) {
    let Some(g) = ctx() else { return };
    let (n, v) = (4096, 131_072);
    let mut rng = Rng(17);
    let teacher: Vec<f32> = (0..n * v).map(|_| (2.0 * rng.normal()) as f32).collect();
    let data = RealData {
        source: "test: normal logits".into(),
        n,
        v,
        student_v: v,
        teacher,
        student_init: None,
        tokens: None,
        contexts: None,
        labels: None,
        topk: None,
    };
    let mut c = cpu(student, 2, 0.05);
    c.backend = BackendChoice::Gpu;
    let t = std::time::Instant::now();
    let r = run_on(g, &data, &c).unwrap();
    let secs: Vec<String> = r
        .stats
        .iter()
        .map(|s| format!("{:.1}", s.seconds))
        .collect();
    eprintln!(
        "4096 × 131072 f32, {student}, 2 epochs on {}: {:.1} s in train(), epochs end at [{}] s \
         after setup; objective {:.4} -> {:.4}",
        r.backend,
        t.elapsed().as_secs_f64(),
        secs.join(", "),
        r.stats[0].objective,
        r.stats[2].objective
    );
    assert!(r.backend.starts_with("GPU: "), "{}", r.backend);
    assert_eq!(r.stats.len(), 3);
    // KL(p‖q) of a student near uniform is about ln V − H(p); Adam lowers it.
    let first = r.stats[0].objective;
    assert!(
        first.is_finite() && first > 0.0 && first < (v as f64).ln(),
        "{first}"
    );
    assert!(r.stats[2].objective < first, "{:?}", r.stats);
    assert_eq!(r.student_logits.len(), n * v);
}

#[test]
#[ignore]
fn trains_4096_by_131072_f32_in_chunks() {
    train_4096_by_131072(StudentKind::Free);
}

#[test]
#[ignore]
fn trains_4096_by_131072_f32_lowrank_in_chunks() {
    train_4096_by_131072(StudentKind::LowRank { rank: 16 });
}
