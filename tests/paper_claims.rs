//! The papers' claims, reproduced through the fit loop on the built-in presets.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::toy::{EpochRecord, FitResult, preset};

fn fit(name: &str) -> FitResult {
    preset::load(name)
        .unwrap()
        .to_spec()
        .unwrap()
        .run()
        .unwrap()
}

fn at(r: &FitResult, div: &str, epoch: usize) -> EpochRecord {
    let run = r
        .runs
        .iter()
        .find(|run| run.divergence.to_string() == div)
        .unwrap();
    run.history[epoch]
}

#[test]
fn akl_fig3_fkl_fits_the_head_first_and_both_converge() {
    let r = fit("akl-fig3-longtail");
    for epoch in [1, 5, 10, 20, 300] {
        let (f, k) = (at(&r, "fkl", epoch), at(&r, "rkl", epoch));
        eprintln!(
            "epoch {epoch}: FKL head {:.4} tail {:.4} far {:.4} | RKL head {:.4} tail {:.4} far {:.4}",
            f.head_gap, f.tail_gap, f.far_tail, k.head_gap, k.tail_gap, k.far_tail
        );
    }
    for epoch in [5, 10] {
        let (f, k) = (at(&r, "fkl", epoch), at(&r, "rkl", epoch));
        assert!(
            f.head_gap < k.head_gap,
            "epoch {epoch}: FKL head {} vs RKL {}",
            f.head_gap,
            k.head_gap
        );
    }
    // Spec §13.2 table (float64 reproduction): head errors 0.181/0.281 at step 5, 0.067/0.201 at step 10.
    assert!((at(&r, "fkl", 5).head_gap - 0.181).abs() < 0.005);
    assert!((at(&r, "rkl", 5).head_gap - 0.281).abs() < 0.005);
    assert!((at(&r, "fkl", 10).head_gap - 0.067).abs() < 0.005);
    assert!((at(&r, "rkl", 10).head_gap - 0.201).abs() < 0.005);
    // RKL is ahead only on the far tail, and the AKL-mask tail gap at step 10 is 0.357 vs 0.129.
    assert!(at(&r, "rkl", 10).far_tail < at(&r, "fkl", 10).far_tail);
    assert!((at(&r, "rkl", 10).tail_gap - 0.357).abs() < 0.005);
    assert!((at(&r, "fkl", 10).tail_gap - 0.129).abs() < 0.005);
    for div in ["fkl", "rkl"] {
        let e = at(&r, div, 300);
        assert!(
            e.head_gap < 1e-3 && e.far_tail < 1e-3,
            "{div} at 300: {e:?}"
        );
    }
}

#[test]
fn akl_fig2_both_converge_by_epoch_200() {
    for name in ["akl-fig2-bimodal", "akl-fig2-unimodal"] {
        let r = fit(name);
        for div in ["fkl", "rkl"] {
            let e = at(&r, div, 200);
            eprintln!(
                "{name} {div}: KL(p||q) at 200 = {:e}, TVD {:e}",
                e.kl_pq, e.tvd
            );
            assert!(e.kl_pq < 1e-3 && e.tvd < 0.02, "{name} {div}: {e:?}");
            assert!(e.kl_pq < at(&r, div, 1).kl_pq * 1e-2);
        }
    }
}

#[test]
fn minillm_fkl_moment_matches_and_rkl_seeks_the_heavier_mode() {
    let cfg = preset::load("minillm-gmm").unwrap();
    let r = cfg.to_spec().unwrap().run().unwrap();
    let f = at(&r, "fkl", cfg.epochs);
    let k = at(&r, "rkl", cfg.epochs);
    eprintln!(
        "FKL ({:?}, {:?})  RKL ({:?}, {:?})",
        f.mu, f.sigma, k.mu, k.sigma
    );
    let comps = r.teacher.components.as_ref().unwrap();
    let (m, s) = kdviz::toy::teacher::mixture_moments(comps);
    assert!((m - -1.0).abs() < 1e-12 && (s - 2.427).abs() < 1e-3);
    assert!((f.mu.unwrap() - m).abs() < 2e-3, "FKL mu {:?} vs {m}", f.mu);
    assert!(
        (f.sigma.unwrap() - s).abs() < 2e-3,
        "FKL sigma {:?} vs {s}",
        f.sigma
    );
    assert!((k.mu.unwrap() - -2.495).abs() < 5e-3, "RKL mu {:?}", k.mu);
    assert!(
        (k.sigma.unwrap() - 0.808).abs() < 5e-3,
        "RKL sigma {:?}",
        k.sigma
    );
}

/// `uld-sorted`: ULD compares sorted probability vectors, so its own loss falls close to 0 while the
/// student's mass sits on the wrong classes (KL(p‖q) grows); FKL on the same start fits the classes.
#[test]
fn uld_matches_the_sorted_vector_not_the_classes() {
    let r = fit("uld-sorted");
    let uld = at(&r, "uld", 400);
    let fkl = at(&r, "fkl", 400);
    assert!(uld.objective < 0.03, "ULD's loss {}", uld.objective);
    assert!(uld.kl_pq > 4.0, "KL(p‖q) under ULD {}", uld.kl_pq);
    assert!(
        at(&r, "uld", 0).kl_pq < uld.kl_pq,
        "ULD moved away from the teacher's classes"
    );
    assert!(fkl.kl_pq < 1e-3, "KL(p‖q) under FKL {}", fkl.kl_pq);
    // The sorted vectors agree: the largest student probability is the teacher's largest (within 5 %
    // at epoch 400, where ULD's loss is still 0.02).
    let q = kdviz::toy::analysis::q_at(&r.runs[1], 400);
    let p = &r.teacher.dist.p;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    assert!(
        (max(q) - max(p)).abs() < 0.05 * max(p),
        "{} vs {}",
        max(q),
        max(p)
    );
}

/// The practice presets reproduce the reported failures: practice.md §12.4's numbers at epoch 0
/// through the toy fit (the teacher's given logits are what bf16 rounds), and what each shows over
/// the epochs.
#[test]
fn the_numerics_presets_reproduce_the_reported_values() {
    // The spec's vectors hold at 1e-9 relative (its contract for f64).
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs();
    let r = fit("bf16-logits-jsd");
    let bf16 = at(&r, "jsd:beta=0.5,precision=bf16", 0).objective;
    assert!(close(bf16, 0.0011709866459383182), "{bf16}");
    // The rounded student reaches the rounded teacher: the loss reads 0 while the true KL stays.
    let last = at(&r, "jsd:beta=0.5,precision=bf16", 200);
    assert_eq!(last.objective, 0.0);
    assert!(last.kl_pq > 1e-4, "{}", last.kl_pq);
    assert!(at(&r, "jsd:beta=0.5,precision=f32", 200).kl_pq < 1e-9);

    let r = fit("bf16-arithmetic-jsd");
    let naive = at(&r, "jsd:beta=0.5,precision=bf16,compute=naive", 0).objective;
    assert_eq!(naive, -0.00034332275390625);
    let f32 = at(&r, "jsd:beta=0.5,precision=f32,compute=naive", 0).objective;
    // §13.7: in f32 arithmetic the value is 1.5e-4 off (the 1.9e-6 is the gradient's error).
    assert!((f32 / 0.00025221889158129264 - 1.0).abs() < 2e-4, "{f32}");

    let r = fit("bf16-teacher-negative-jsd");
    let spec = "jsd:beta=0.5,precision=f32,tprecision=bf16,compute=logspace";
    assert!(close(at(&r, spec, 0).objective, -0.0013554448960348964));
    assert!(at(&r, spec, 200).objective < 0.0, "negative all along");
    let rounded = at(&r, "jsd:beta=0.5,tprecision=bf16", 0).objective;
    assert!(close(rounded, 1.8623849765479877e-05), "{rounded}");
}

#[test]
fn the_topk_presets_show_what_the_loss_hides() {
    let r = fit("topk-truncated-negative");
    let trunc = at(&r, "fkl:support=topk,k=8", 300);
    assert!(trunc.objective < -0.1, "{}", trunc.objective);
    assert!(trunc.kl_pq > at(&r, "fkl:support=topk,k=8", 10).kl_pq);
    assert_eq!(
        at(&r, "fkl:support=topk,k=8,clamp=true", 300).objective,
        0.0
    );
    let tail = at(&r, "fkl:support=topk-tail,k=8", 300);
    assert!(tail.kl_pq < trunc.kl_pq / 4.0 && tail.head_gap < 1e-6);

    let r = fit("topk-renorm-mismatch");
    let teacher_only = at(&r, "fkl:support=topk-renorm,k=8,renorm=teacher", 300);
    let both = at(&r, "fkl:support=topk-renorm,k=8", 300);
    // Renormalised on one side, the student's tail is emptied: the far tail gap grows.
    assert!(
        teacher_only.kl_pq > at(&r, "fkl", 0).kl_pq,
        "{}",
        teacher_only.kl_pq
    );
    assert!(both.objective < 1e-9 && both.kl_pq < teacher_only.kl_pq);

    let r = fit("softcap-on-off");
    let (off, on) = (at(&r, "fkl", 300), at(&r, "fkl:softcap=5", 300));
    assert!(
        off.kl_pq < 0.01 && on.kl_pq > 0.5,
        "{} {}",
        off.kl_pq,
        on.kl_pq
    );
}
