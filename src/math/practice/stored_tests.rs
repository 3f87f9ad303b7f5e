//! practice.md §10.6: a teacher stored as its top k. Derived from a full teacher row, the stored
//! path must give the full-row path's value and gradient (both are the same maths on the same
//! numbers; only the order of a few sums differs).

use super::*;
use crate::math::LogDist;
use crate::math::logspace::logsumexp;
use crate::math::reference_rows::{A_U, A_Z, B_U, B_Z, C_U, C_Z, D_U, D_Z};

/// The top `k` of the full row `u` as stored (§10.6): ids by decreasing log-probability (ties:
/// lower index first), their log-probabilities and `ln p̄`, the log-sum-exp of the others.
fn derive(u: &[f64], k: usize) -> (Vec<u32>, Vec<f64>, f64) {
    let t = LogDist::from_logits(u, true).unwrap();
    let mut order: Vec<usize> = (0..u.len()).collect();
    order.sort_by(|&a, &b| t.logp[b].total_cmp(&t.logp[a]).then(a.cmp(&b)));
    let ids = order[..k].iter().map(|&j| j as u32).collect();
    let lp = order[..k].iter().map(|&j| t.logp[j]).collect();
    let rest: Vec<f64> = order[k..].iter().map(|&j| t.logp[j]).collect();
    (ids, lp, logsumexp(&rest))
}

fn full(spec: &str, u: &[f64], z: &[f64]) -> (f64, Vec<f64>, Outcome) {
    let loss: Loss = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
    let mut g = vec![0.0; z.len()];
    let out = evaluate(&loss, u, z, 0, &mut g, &mut PracticeWorkspace::default())
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    (out.value, g, out)
}

fn stored(spec: &str, t: &StoredTopK<'_>, z: &[f64]) -> Result<(f64, Vec<f64>, Outcome), String> {
    let loss: Loss = spec.parse().map_err(|e| format!("{e}"))?;
    let mut g = vec![0.0; z.len()];
    let out = evaluate_stored(&loss, t, z, &mut g, &mut PracticeWorkspace::default())
        .map_err(|e| e.to_string())?;
    Ok((out.value, g, out))
}

fn assert_same(what: &str, a: (f64, Vec<f64>, Outcome), b: (f64, Vec<f64>, Outcome), tol: f64) {
    assert!(
        (a.0 - b.0).abs() <= tol * b.0.abs().max(1.0),
        "{what}: value {} vs full row {}",
        a.0,
        b.0
    );
    for (k, (x, y)) in a.1.iter().zip(&b.1).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "{what}: grad[{k}] {x} vs full row {y}"
        );
    }
    let (ra, rb) = (a.2.support, b.2.support);
    assert_eq!(ra.tail_active, rb.tail_active, "{what}");
    assert_eq!(ra.clamped, rb.clamped, "{what}");
    let (ta, tb) = (ra.top_k.unwrap(), rb.top_k.unwrap());
    assert_eq!((ta.k, ta.overlap), (tb.k, tb.overlap), "{what}");
    assert!(
        (ta.p_k - tb.p_k).abs() <= tol && (ta.q_k - tb.q_k).abs() <= tol,
        "{what}"
    );
}

const ROWS: [(&[f64], &[f64]); 4] = [(&A_U, &A_Z), (&B_U, &B_Z), (&C_U, &C_Z), (&D_U, &D_Z)];

/// The spec's supports for several families, every k, rows A–D; also with st, t2 and
/// clamp/lpmin/eps, which act on the stored teacher exactly as on the full one.
const SPECS: [&str; 14] = [
    "fkl:support=topk,k={k}",
    "fkl:support=topk,k={k},clamp=true,lpmin=-2",
    "rkl:support=topk,k={k},st=2,t2=true",
    "jsd:beta=0.3,support=topk,k={k}",
    "tvd:support=topk-renorm,k={k},renorm=teacher",
    "skl:alpha=0.1,support=topk-renorm,k={k},renorm=teacher",
    "fkl:support=topk-renorm,k={k}",
    "akl:support=topk-renorm,k={k}",
    "renyi:alpha=0.5,support=topk-renorm,k={k},st=0.5",
    "fkl:support=topk-tail,k={k}",
    "fkl:support=topk-tail,k={k},eps=0.2",
    "rkl:support=topk-tail,k={k}",
    "jsd:support=topk-tail,k={k}",
    "akl:support=topk-tail,k={k},st=2,t2=true",
];

#[test]
fn a_derived_top_k_teacher_evaluates_as_the_full_row() {
    for (u, z) in ROWS {
        let v = u.len();
        for k in 1..=v {
            let (ids, lp, tail) = derive(u, k);
            for spec in SPECS {
                let spec = spec.replace("{k}", &k.to_string());
                let what = format!("{spec} on u={u:?}");
                let t = StoredTopK {
                    ids: &ids,
                    logprobs: &lp,
                    tail: Some(tail),
                };
                let want = full(&spec, u, z);
                assert_same(&what, stored(&spec, &t, z).unwrap(), want.clone(), 1e-12);
                // Without the stored tail, p̄ = −expm1(lse(lp_K)) carries an absolute error of
                // an ulp of 1, so it is as good only where p̄ is not small (row C's p̄ of 3e-9 is
                // 3e-8 off: why scripts/dump_hf_logits.py stores the tail).
                if tail.exp() > 1e-3 {
                    let t = StoredTopK { tail: None, ..t };
                    assert_same(&what, stored(&spec, &t, z).unwrap(), want, 1e-12);
                }
            }
        }
    }
}

/// A smaller k than stored uses the first k entries; the dropped entries join the tail.
#[test]
fn a_smaller_k_uses_the_first_entries() {
    for (u, z) in ROWS {
        let v = u.len();
        let (ids, lp, tail) = derive(u, v - 1);
        let t = StoredTopK {
            ids: &ids,
            logprobs: &lp,
            tail: Some(tail),
        };
        for k in 1..v - 1 {
            for spec in SPECS {
                let spec = spec.replace("{k}", &k.to_string());
                let what = format!("{spec} from a stored top {} on u={u:?}", v - 1);
                assert_same(
                    &what,
                    stored(&spec, &t, z).unwrap(),
                    full(&spec, u, z),
                    1e-12,
                );
            }
        }
    }
}

/// `precision` rounds the student only: the stored teacher is taken as stored.
#[test]
fn precision_rounds_the_student_only() {
    let (ids, lp, tail) = derive(&A_U, 3);
    let t = StoredTopK {
        ids: &ids,
        logprobs: &lp,
        tail: Some(tail),
    };
    let spec = "fkl:support=topk-tail,k=3,precision=bf16";
    let got = stored(spec, &t, &A_Z).unwrap();
    let rounded = stored("fkl:support=topk-tail,k=3", &t, &A_Z).unwrap();
    assert!((got.0 - rounded.0).abs() > 1e-6, "bf16 changed nothing");
    let want = full(&format!("{spec},tprecision=f64"), &A_U, &A_Z);
    assert_same(spec, got, want, 1e-12);
}

/// §10.6's refusals: the supports and keys that need the full row, k above the stored k, and
/// malformed stored rows; each message names the key or value and what is accepted.
#[test]
fn what_a_stored_teacher_refuses() {
    let (ids, lp, tail) = derive(&A_U, 3);
    let t = StoredTopK {
        ids: &ids,
        logprobs: &lp,
        tail: Some(tail),
    };
    for (spec, needle) in [
        ("fkl", "support=full needs the teacher's full row"),
        (
            "fkl:support=sampled",
            "support=sampled needs the teacher's full row",
        ),
        (
            "fkl:support=topk,k=4",
            "k=4 is more than the teacher's stored top 3",
        ),
        (
            "fkl:support=topk,k=2,tt=2",
            "tt needs the teacher's full row",
        ),
        (
            "fkl:support=topk,k=2,tt=1",
            "tt needs the teacher's full row",
        ),
        ("fkl:support=topk,k=2,softcap=5", "softcap needs"),
        ("fkl:support=topk,k=2,std=true", "std needs"),
        ("fkl:support=topk,k=2,tprecision=bf16", "tprecision needs"),
    ] {
        let e = stored(spec, &t, &A_Z).unwrap_err();
        assert!(e.contains(needle), "{spec}: {e}");
    }
    let spec = "fkl:support=topk,k=2";
    let bad_id = [0u32, 6, 1];
    let dup = [0u32, 1, 0];
    let (bad_lp, nan_lp) = ([-1.0, 0.5, -2.0], [-1.0, f64::NAN, -2.0]);
    for (ids, lp, needle) in [
        (&bad_id[..], &lp[..], "id 6 (entry 1) is not a class"),
        (&dup[..], &lp[..], "id 0 appears twice"),
        (&ids[..], &bad_lp[..], "log-probability 0.5"),
        (&ids[..], &nan_lp[..], "log-probability NaN"),
        (&ids[..], &lp[..2], "3 ids and 2 log-probabilities"),
    ] {
        let t = StoredTopK {
            ids,
            logprobs: lp,
            tail: None,
        };
        let e = stored(spec, &t, &A_Z).unwrap_err();
        assert!(e.contains(needle), "{ids:?} {lp:?}: {e}");
    }
}
