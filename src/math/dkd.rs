//! Decoupled KD (practice.md §6): the KL at temperature T split at the target class y into the
//! binary (target, rest) part TCKD and the non-target part NCKD, weighted apart:
//! `T²(α·TCKD + β·NCKD)`. The references remove the target with a −1000 mask; here it is removed
//! exactly.

use super::logspace::logsumexp;

/// Log-probabilities at temperature T, in place: `l ← log_softmax(l/T)`.
fn tempered(l: &mut [f64]) {
    let lse = logsumexp(l);
    for x in l.iter_mut() {
        *x -= lse;
    }
}

/// `(TCKD, NCKD)` for reading the two parts apart (the gradient view, the tests).
pub fn parts(temperature: f64, label: usize, lp: &[f64], lq: &[f64]) -> (f64, f64) {
    let mut g = vec![0.0; lq.len()];
    let mut b = [vec![0.0; lq.len()], vec![0.0; lq.len()]];
    let [x, y] = &mut b;
    split(temperature, label, lp, lq, &mut g, [x, y])
}

/// TCKD and NCKD at temperature T; `grad_t` receives d TCKD/d(z/T) and `buf[1]` d NCKD/d(z/T).
fn split(
    temperature: f64,
    y: usize,
    lp: &[f64],
    lq: &[f64],
    grad_t: &mut [f64],
    buf: [&mut [f64]; 2],
) -> (f64, f64) {
    let [lpt, grad_n] = buf;
    let n = lq.len();
    for k in 0..n {
        lpt[k] = lp[k] / temperature;
        grad_t[k] = lq[k] / temperature;
    }
    tempered(lpt);
    let lqt = grad_t; // log q^T for now; overwritten by the gradient below
    tempered(lqt);
    // log of the non-target masses, over the non-target classes (no 1 − a cancellation).
    let rest = |l: &[f64]| {
        let m = l
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != y)
            .map(|(_, &x)| x)
            .fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return m;
        }
        let s: f64 = (l.iter().enumerate())
            .filter(|&(k, _)| k != y)
            .map(|(_, &x)| (x - m).exp())
            .sum();
        m + s.ln()
    };
    let (la, lb) = (lpt[y], lqt[y]);
    let (l1a, l1b) = (rest(lpt), rest(lqt));
    let (a, b) = (la.exp(), lb.exp());
    let term = |x: f64, lx: f64, ly: f64| if x > 0.0 { x * (lx - ly) } else { 0.0 };
    let tckd = term(a, la, lb) + term(l1a.exp(), l1a, l1b);
    // NCKD = KL(p̂‖q̂), p̂ = p^T/(1−a) over the non-target classes; 0 when the teacher has no
    // non-target mass (p̂ undefined: there is nothing to match).
    let mut nckd = 0.0;
    for k in 0..n {
        let lqh = lqt[k] - l1b;
        let qh = if k == y { 0.0 } else { lqh.exp() };
        let (lph, ph) = if k == y || l1a == f64::NEG_INFINITY {
            (f64::NEG_INFINITY, 0.0)
        } else {
            let l = lpt[k] - l1a;
            (l, l.exp())
        };
        if k != y && ph > 0.0 {
            nckd += ph * (lph - lqh);
        }
        grad_n[k] = if l1a == f64::NEG_INFINITY {
            0.0
        } else {
            qh - ph
        };
        // d TCKD/d(z_k/T): (b − a) at the target, −(b − a)·q̂_k elsewhere.
        lqt[k] = if k == y { b - a } else { -(b - a) * qh };
    }
    (tckd, nckd)
}

/// `T²(α·TCKD + β·NCKD)`; gradient `T(α·dTCKD + β·dNCKD)` w.r.t. z (`label < V` is checked by the
/// caller).
#[allow(clippy::too_many_arguments)]
pub fn dkd(
    alpha: f64,
    beta: f64,
    temperature: f64,
    label: usize,
    lp: &[f64],
    lq: &[f64],
    grad: &mut [f64],
    buf: [&mut [f64]; 2],
) -> f64 {
    let [lpt, grad_n] = buf;
    let (t, n) = split(temperature, label, lp, lq, grad, [lpt, grad_n]);
    for k in 0..grad.len() {
        grad[k] = temperature * (alpha * grad[k] + beta * grad_n[k]);
    }
    temperature * temperature * (alpha * t + beta * n)
}
