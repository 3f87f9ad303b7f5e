//! The real-model trainer: CPU and GPU backends agree epoch by epoch, students learn what they can,
//! the head/tail story of FKL vs RKL on a low-rank student, cancellation and input errors.
//!
//! GPU tests print a SKIP line and pass without an adapter, unless KDVIZ_REQUIRE_GPU=1.

use kdviz::math::Divergence;
use kdviz::real::train::{BackendChoice, EpochStats, StudentKind, TrainConfig, TrainResult, train};
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
        teacher,
        student_init: None,
        tokens: None,
        contexts: None,
        labels: None,
    }
}

fn div(s: &str) -> Divergence {
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
    assert!(last.kl_pq < 1e-3, "KL(p||q) = {}", last.kl_pq);
    assert!((last.objective - last.kl_pq).abs() < 1e-9);
    assert_eq!(last.top1, 1.0);
    assert_eq!(r.student_logits.len(), 64 * 300);
    assert!(r.backend.starts_with("CPU"), "{}", r.backend);
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
use std::io::Write as _;
use std::sync::OnceLock;

fn ctx() -> Option<&'static GpuContext> {
    static CTX: OnceLock<Result<GpuContext, GpuError>> = OnceLock::new();
    match CTX.get_or_init(GpuContext::new) {
        Ok(c) => Some(c),
        Err(e) => {
            if std::env::var("KDVIZ_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("KDVIZ_REQUIRE_GPU=1 but no GPU device: {e}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: no GPU adapter (set KDVIZ_REQUIRE_GPU=1 to fail instead) [{e}]"
            );
            None
        }
    }
}

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

#[test]
fn explore_gpu_vs_cpu() {
    let Some(g) = ctx() else { return };
    let data = zipf_data(64, 300, 3);
    for student in [StudentKind::Free, StudentKind::LowRank { rank: 4 }] {
        for d in [
            "fkl",
            "rkl",
            "akl",
            "ab:alpha=0.2,beta=0.7",
            "taid",
            "hinton",
        ] {
            let mut c = cpu(student, 20, 0.05);
            let rc = on(None, &data, d, &c);
            c.backend = BackendChoice::Gpu;
            let rg = on(Some(g), &data, d, &c);
            let mut worst = [0f64; 6];
            for (a, b) in rg.stats.iter().zip(&rc.stats) {
                let e = [
                    (a.objective - b.objective).abs() / (1e-3 + b.objective.abs()),
                    (a.kl_pq - b.kl_pq).abs() / (1e-3 + b.kl_pq.abs()),
                    (a.kl_qp - b.kl_qp).abs() / (1e-3 + b.kl_qp.abs()),
                    (a.head_gap - b.head_gap).abs() / (1e-3 + b.head_gap.abs()),
                    (a.tail_gap - b.tail_gap).abs() / (1e-3 + b.tail_gap.abs()),
                    (a.top1 - b.top1).abs(),
                ];
                for i in 0..6 {
                    worst[i] = worst[i].max(e[i]);
                }
            }
            let l = rc.stats.last().unwrap();
            eprintln!(
                "{student} {d}: worst {} last obj {:.4} {}",
                worst
                    .iter()
                    .map(|x| format!("{x:.1e}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                l.objective,
                rg.backend
            );
        }
    }
}
