//! The stored teacher on the host: its checks, and what one run's kernels read of it.

use super::plan::{Path, RunPlan};
use crate::gpu::GpuError;
use crate::gpu::loss::teacher_aux_words;
use crate::gpu::plan::Aux;

/// A teacher stored as its top `k` classes per row, row-major: ids in decreasing log-probability,
/// their log-probabilities, optionally the log of the mass outside them (one per row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredRows<'a> {
    pub ids: &'a [u32],
    pub lp: &'a [f32],
    pub tail: Option<&'a [f32]>,
    pub k: usize,
}

/// The checks of a stored teacher of `n` rows over `v` classes (as `evaluate_stored`'s, per row).
pub(super) fn check_teacher(t: &StoredRows<'_>, n: usize, v: usize) -> Result<(), GpuError> {
    let err = |m: String| Err(GpuError::Input(m));
    let k = t.k;
    if n == 0 || v < 2 {
        return err(format!(
            "rows={n}, vocab={v}; expected at least one row and 2 classes"
        ));
    }
    if k == 0 || k > v {
        return err(format!(
            "the stored teacher keeps k={k} classes of {v}; expected 1..{v}"
        ));
    }
    for (what, len, want) in [
        ("stored teacher ids", t.ids.len(), n * k),
        ("stored teacher log-probabilities", t.lp.len(), n * k),
    ] {
        if len != want {
            return err(format!(
                "{len} {what} for {n} rows; expected {want} ({n} × {})",
                want / n
            ));
        }
    }
    if let Some(tail) = t.tail {
        if tail.len() != n {
            return err(format!(
                "{} stored tail log-probabilities for {n} rows; expected one per row",
                tail.len()
            ));
        }
        if let Some((r, x)) = tail
            .iter()
            .enumerate()
            .find(|(_, x)| x.is_nan() || **x > 0.0)
        {
            return err(format!(
                "stored teacher tail log-probability {x} (row {r}); expected a number ≤ 0 or -inf"
            ));
        }
    }
    let mut seen = vec![false; v];
    for r in 0..n {
        let ids = &t.ids[r * k..(r + 1) * k];
        for (i, (&j, &lp)) in ids.iter().zip(&t.lp[r * k..(r + 1) * k]).enumerate() {
            if j as usize >= v {
                return err(format!(
                    "stored teacher id {j} (row {r}, entry {i}) is not a class; expected an id \
                     below {v}"
                ));
            }
            if std::mem::replace(&mut seen[j as usize], true) {
                return err(format!(
                    "stored teacher id {j} appears twice in row {r}; expected {k} distinct classes"
                ));
            }
            if lp.is_nan() || lp > 0.0 {
                return err(format!(
                    "stored teacher log-probability {lp} (row {r}, entry {i}); expected a number \
                     ≤ 0 or -inf"
                ));
            }
        }
        for &j in ids {
            seen[j as usize] = false;
        }
    }
    Ok(())
}

/// `n` rows of `v` finite student logits.
pub(super) fn check_student(student: &[f32], n: usize, v: usize) -> Result<(), GpuError> {
    if student.len() != n * v {
        return Err(GpuError::Input(format!(
            "{} student logits for {n} rows; expected {} ({n} × {v})",
            student.len(),
            n * v
        )));
    }
    if let Some((i, x)) = student.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(GpuError::Input(format!(
            "student logit {} of row {} is {x}; expected finite logits",
            i % v,
            i / v
        )));
    }
    Ok(())
}

/// `ln Σ exp(x)` in f64; `-inf` for no terms.
fn lse(x: &[f32]) -> f64 {
    let m = x
        .iter()
        .fold(f64::NEG_INFINITY, |m, &a| m.max(f64::from(a)));
    if !m.is_finite() {
        return m;
    }
    m + x
        .iter()
        .map(|&a| (f64::from(a) - m).exp())
        .sum::<f64>()
        .ln()
}

/// `ln p̄` outside the first k of a row's stored entries (§10.6, as `support::stored_tail`): the
/// stored tail plus the dropped entries, else `ln(−expm1(lse(lp_K)))`, `-inf` at p̄ = 0.
fn stored_tail(lp: &[f32], k: usize, tail: Option<f32>) -> f64 {
    match tail {
        Some(t) => {
            let (a, b) = (f64::from(t), lse(&lp[k..]));
            let hi = a.max(b);
            if hi == f64::NEG_INFINITY {
                hi
            } else {
                hi + (a.min(b) - hi).exp().ln_1p()
            }
        }
        None => {
            let pbar = -lse(&lp[..k]).exp_m1();
            if pbar > 0.0 {
                pbar.ln()
            } else {
                f64::NEG_INFINITY
            }
        }
    }
}

/// What the kernels read from the teacher side in one run.
pub(super) struct Prepared {
    /// Per row, the loss's k ids ascending, each followed by its stored position.
    pub(super) keys: Vec<u32>,
    /// `[N × kc]` teacher cells.
    pub(super) cells: Vec<f32>,
    /// The family's aux words on the cells (AKL's head, ULD's order) and their number per row.
    pub(super) aux: Vec<u32>,
    pub(super) aux_per_row: usize,
}

pub(super) fn prepare(run: &RunPlan, t: &StoredRows<'_>, n: usize) -> Result<Prepared, GpuError> {
    let (k, kc, ks) = (run.k, run.kc, t.k);
    let mut keys = Vec::with_capacity(n * k * 2);
    let mut cells = Vec::with_capacity(n * kc);
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(k);
    for r in 0..n {
        let ids = &t.ids[r * ks..r * ks + k];
        let lp = &t.lp[r * ks..(r + 1) * ks];
        order.clear();
        order.extend(ids.iter().enumerate().map(|(s, &j)| (j, s as u32)));
        order.sort_unstable();
        keys.extend(order.iter().flat_map(|&(j, s)| [j, s]));
        let shift = if run.renorm_teacher {
            let ln_pk = lse(&lp[..k]);
            if ln_pk == f64::NEG_INFINITY {
                return Err(GpuError::Input(format!(
                    "row {r}: the stored teacher's first {k} log-probabilities are all -inf; \
                     renorm=teacher needs mass on K"
                )));
            }
            ln_pk
        } else {
            0.0
        };
        cells.extend(lp[..k].iter().map(|&x| (f64::from(x) - shift) as f32));
        if kc > k {
            cells.push(stored_tail(lp, k, t.tail.map(|tl| tl[r])) as f32);
        }
        if run.path == Path::Cells && cells[r * kc..].iter().all(|&x| x == f32::NEG_INFINITY) {
            return Err(GpuError::Input(format!(
                "row {r}: the stored teacher has no mass on the cells the loss sees (every \
                 log-probability -inf); expected some"
            )));
        }
    }
    let (aux, aux_per_row) = match run.family.aux {
        Aux::AklHead { .. } => (teacher_aux_words(run.family.aux, &cells, n, kc), 2),
        Aux::SortedTeacher => (teacher_aux_words(run.family.aux, &cells, n, kc), kc),
        Aux::None | Aux::Label(_) => (Vec::new(), 0),
    };
    Ok(Prepared {
        keys,
        cells,
        aux,
        aux_per_row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_tail_follows_the_cpu_rule() {
        let lp = [0.5f32.ln(), 0.25f32.ln(), 0.125f32.ln()];
        // No stored tail: 1 − (0.5 + 0.25) for k = 2.
        assert!((stored_tail(&lp, 2, None) - 0.25f64.ln()).abs() < 1e-7);
        // A stored tail gains the dropped entry.
        assert!((stored_tail(&lp, 2, Some(0.125f32.ln())) - 0.25f64.ln()).abs() < 1e-7);
        // All the mass in K: p̄ = 0.
        assert_eq!(stored_tail(&[0.0], 1, None), f64::NEG_INFINITY);
    }
}
