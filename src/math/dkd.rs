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

/// The two weighted parts of DKD's gradient w.r.t. z, `(T·α·dTCKD, T·β·dNCKD)` (the gradients of
/// `T²·α·TCKD` and `T²·β·NCKD`, as weighted in the loss): they sum to [`dkd`]'s gradient.
pub fn part_grads(
    alpha: f64,
    beta: f64,
    temperature: f64,
    label: usize,
    lp: &[f64],
    lq: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let n = lq.len();
    let (mut target, mut lpt, mut rest) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    split(
        temperature,
        label,
        lp,
        lq,
        &mut target,
        [&mut lpt, &mut rest],
    );
    for g in &mut target {
        *g *= temperature * alpha;
    }
    for g in &mut rest {
        *g *= temperature * beta;
    }
    (target, rest)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_sum_to_the_gradient_and_follow_the_closed_form() {
        let lp: Vec<f64> = [2.0, 0.5, -1.0, 0.1, -0.3].map(|x: f64| x - 0.7).to_vec();
        let lq: Vec<f64> = [0.2, 1.0, -0.5, 0.0, 0.4].map(|x: f64| x - 1.1).to_vec();
        let (alpha, beta, t, y) = (1.5, 8.0, 2.0, 1);
        let n = lp.len();
        let mut grad = vec![0.0; n];
        let (mut b0, mut b1) = (vec![0.0; n], vec![0.0; n]);
        dkd(alpha, beta, t, y, &lp, &lq, &mut grad, [&mut b0, &mut b1]);
        let (target, rest) = part_grads(alpha, beta, t, y, &lp, &lq);
        for k in 0..n {
            assert!((target[k] + rest[k] - grad[k]).abs() < 1e-14, "class {k}");
        }
        // dDKD/dz_y = T·α·(b − a) comes from TCKD alone; NCKD does not touch the target.
        let soft = |l: &[f64]| {
            let e: Vec<f64> = l.iter().map(|x| (x / t).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect::<Vec<_>>()
        };
        let (pt, qt) = (soft(&lp), soft(&lq));
        assert!((target[y] - t * alpha * (qt[y] - pt[y])).abs() < 1e-14);
        assert_eq!(rest[y], 0.0);
        // Elsewhere: −T·α·(b − a)·q̂_j and T·β·(q̂_j − p̂_j).
        let (a, b) = (pt[y], qt[y]);
        for j in (0..n).filter(|&j| j != y) {
            let (qh, ph) = (qt[j] / (1.0 - b), pt[j] / (1.0 - a));
            assert!(
                (target[j] + t * alpha * (b - a) * qh).abs() < 1e-14,
                "class {j}"
            );
            assert!((rest[j] - t * beta * (qh - ph)).abs() < 1e-14, "class {j}");
        }
    }
}
