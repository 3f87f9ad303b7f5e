//! Decoupled KD (practice.md §6): the KL at temperature T split at the target class y into the
//! binary (target, rest) part TCKD and the non-target part NCKD, weighted apart:
//! `T²(α·TCKD + β·NCKD)`. The references remove the target with a −1000 mask; here it is removed
//! exactly.

use super::fastmath;
use super::kl::kl_term;
use super::logspace::{log_softmax_fused, logsumexp};
use super::simd::{Simd, V, map_sum, multiversion};

/// Below this a non-target mass is summed again in log space: the plain sum of the probabilities
/// may have lost its relative precision to underflow (a target with all but 1e-300 of the mass).
const REST_TINY: f64 = 1e-290;

multiversion! {
    /// Log-probabilities and probabilities at temperature T: `lo = log_softmax(l/T)`, `o = exp(lo)`.
    fn tempered[s](temperature: f64, l: &[f64], lo: &mut [f64], o: &mut [f64]) {
        log_softmax_fused(s, [l], #[inline(always)] |z| z / temperature, lo, o, #[inline(always)] |_, _, _| []);
    }
}

multiversion! {
    /// `Σ x`.
    fn sum[s](x: &[f64]) -> f64 {
        let [v] = map_sum(s, [x], [], #[inline(always)] |[x]| ([], [x]));
        v
    }
}

/// One side's non-target mass `1 − x_y`, as its log and as the way to renormalise a class,
/// `x̂ = x/(1 − x_y)`.
#[derive(Clone, Copy, Debug)]
struct Rest {
    /// `log(1 − x_y)`, summed over the non-target classes (no `1 − x_y` cancellation).
    log: f64,
    /// `1/(1 − x_y)`; used when `direct`.
    inv: f64,
    /// `x̂ = x·inv` (the mass is a normal number); otherwise `x̂ = exp(log x − log)`.
    direct: bool,
}

impl Rest {
    /// From the tempered `l`, `x` of one side, the target class already set to `-inf`, 0.
    fn of(l: &[f64], x: &[f64]) -> Rest {
        let mass = sum(x);
        if mass >= REST_TINY {
            Rest {
                log: mass.ln(),
                inv: 1.0 / mass,
                direct: true,
            }
        } else {
            // `-inf` when the side has no non-target mass at all.
            Rest {
                log: logsumexp(l),
                inv: 0.0,
                direct: false,
            }
        }
    }

    /// `x̂` per lane (0 at the target and at the side's zeros).
    #[inline(always)]
    fn hat<S: Simd>(&self, l: V<S>, x: V<S>) -> V<S> {
        if self.direct {
            x * self.inv
        } else {
            l.gt(f64::NEG_INFINITY)
                .select(fastmath::exp(l - self.log), 0.0)
        }
    }
}

/// The tempered sides with their target classes taken out, and what is known of them.
struct Split {
    tckd: f64,
    /// The target's tempered probabilities, teacher's (a) and student's (b).
    a: f64,
    b: f64,
    /// The teacher's and the student's non-target masses.
    ra: Rest,
    rb: Rest,
}

/// Tempers both sides into `buf` (`[log p^T, p^T, log q^T, q^T]`, the target class then set to
/// `-inf`, 0) and computes TCKD.
fn split(temperature: f64, y: usize, lp: &[f64], lq: &[f64], buf: [&mut [f64]; 4]) -> Split {
    let [lpt, pt, lqt, qt] = buf;
    tempered(temperature, lp, lpt, pt);
    tempered(temperature, lq, lqt, qt);
    let (la, lb, a, b) = (lpt[y], lqt[y], pt[y], qt[y]);
    (lpt[y], pt[y], lqt[y], qt[y]) = (f64::NEG_INFINITY, 0.0, f64::NEG_INFINITY, 0.0);
    let (ra, rb) = (Rest::of(lpt, pt), Rest::of(lqt, qt));
    let term = |x: f64, lx: f64, ly: f64| if x > 0.0 { x * (lx - ly) } else { 0.0 };
    let tckd = term(a, la, lb) + term(ra.log.exp(), ra.log, rb.log);
    Split { tckd, a, b, ra, rb }
}

multiversion! {
    /// NCKD = KL(p̂‖q̂) over the non-target classes, and the gradient `ct·q̂ + cn·(q̂ − p̂)` into
    /// `grad` (the target class is the caller's). Without `nckd` (the teacher has no non-target
    /// mass: p̂ undefined, there is nothing to match) NCKD and its gradient are 0.
    #[allow(clippy::too_many_arguments)]
    fn non_target[s](
        sp: &Split,
        nckd: bool,
        ct: f64,
        cn: f64,
        lpt: &[f64],
        pt: &[f64],
        lqt: &[f64],
        qt: &[f64],
        grad: &mut [f64],
    ) -> f64 {
        let (ra, rb) = (sp.ra, sp.rb);
        let [v] = map_sum(s, [lpt, pt, lqt, qt], [grad], #[inline(always)] |[lp, p, lq, q]| {
            let qh = rb.hat(lq, q);
            if !nckd {
                return ([qh * ct], [s.v(0.0)]);
            }
            let ph = ra.hat(lp, p);
            ([qh * ct + (qh - ph) * cn], [kl_term(lp - ra.log, ph, lq - rb.log)])
        });
        v
    }
}

/// `(TCKD, NCKD)` for reading the two parts apart (the gradient view, the tests).
pub fn parts(temperature: f64, label: usize, lp: &[f64], lq: &[f64]) -> (f64, f64) {
    let n = lq.len();
    let [mut g, mut b0, mut b1, mut b2, mut b3] = std::array::from_fn(|_| vec![0.0; n]);
    let sp = split(
        temperature,
        label,
        lp,
        lq,
        [&mut b0, &mut b1, &mut b2, &mut b3],
    );
    let nckd = sp.ra.log > f64::NEG_INFINITY;
    let v = non_target(&sp, nckd, 0.0, 0.0, &b0, &b1, &b2, &b3, &mut g);
    (sp.tckd, if nckd { v } else { 0.0 })
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
    let [mut target, mut rest, mut b0, mut b1, mut b2, mut b3] =
        std::array::from_fn(|_| vec![0.0; n]);
    let sp = split(
        temperature,
        label,
        lp,
        lq,
        [&mut b0, &mut b1, &mut b2, &mut b3],
    );
    let nckd = sp.ra.log > f64::NEG_INFINITY;
    let (ct, cn) = (temperature * alpha, temperature * beta);
    // d TCKD/d(z_k/T): (b − a) at the target, −(b − a)·q̂_k elsewhere.
    non_target(
        &sp,
        false,
        -ct * (sp.b - sp.a),
        0.0,
        &b0,
        &b1,
        &b2,
        &b3,
        &mut target,
    );
    target[label] = ct * (sp.b - sp.a);
    // d NCKD/d(z_k/T) = q̂_k − p̂_k, 0 at the target.
    non_target(&sp, nckd, 0.0, cn, &b0, &b1, &b2, &b3, &mut rest);
    rest[label] = 0.0;
    (target, rest)
}

/// `T²(α·TCKD + β·NCKD)`; gradient `T(α·dTCKD + β·dNCKD)` w.r.t. z (`label < V` is checked by the
/// caller). `buf` is scratch.
#[allow(clippy::too_many_arguments)]
pub fn dkd(
    alpha: f64,
    beta: f64,
    temperature: f64,
    label: usize,
    lp: &[f64],
    lq: &[f64],
    grad: &mut [f64],
    buf: [&mut [f64]; 4],
) -> f64 {
    let [lpt, pt, lqt, qt] = buf;
    let sp = split(temperature, label, lp, lq, [lpt, pt, lqt, qt]);
    let nckd = sp.ra.log > f64::NEG_INFINITY;
    let (ct, cn) = (temperature * alpha, temperature * beta);
    let n = non_target(&sp, nckd, -ct * (sp.b - sp.a), cn, lpt, pt, lqt, qt, grad);
    grad[label] = ct * (sp.b - sp.a);
    let n = if nckd { n } else { 0.0 };
    temperature * temperature * (alpha * sp.tckd + beta * n)
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
        let [mut b0, mut b1, mut b2, mut b3] = std::array::from_fn(|_| vec![0.0; n]);
        dkd(
            alpha,
            beta,
            t,
            y,
            &lp,
            &lq,
            &mut grad,
            [&mut b0, &mut b1, &mut b2, &mut b3],
        );
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

    /// The scalar loop this file's kernels replaced (libm `exp`/`ln`, one class at a time).
    mod scalar {
        use crate::math::logspace::logsumexp;

        fn tempered(l: &mut [f64]) {
            let lse = logsumexp(l);
            for x in l.iter_mut() {
                *x -= lse;
            }
        }

        pub fn split(
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

        /// `(value, gradient)` of `dkd` as the scalar loop computed them.
        pub fn dkd(a: f64, b: f64, t: f64, y: usize, lp: &[f64], lq: &[f64]) -> (f64, Vec<f64>) {
            let n = lq.len();
            let (mut g, mut l, mut gn) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let (tc, nc) = split(t, y, lp, lq, &mut g, [&mut l, &mut gn]);
            for k in 0..n {
                g[k] = t * (a * g[k] + b * gn[k]);
            }
            (t * t * (a * tc + b * nc), g)
        }
    }

    /// The vectorised kernels agree with the scalar loop they replaced, on every backend's path
    /// (ordinary, extreme and peaked rows, teacher zeros, temperatures 0.01 to 100).
    #[test]
    fn the_vector_kernels_match_the_scalar_loop() {
        use crate::math::reference_rows::{assert_close, rows};
        for (i, (p, q)) in rows().iter().enumerate() {
            let n = p.len();
            for (j, t) in [1.0, 0.01, 0.3, 4.0, 100.0].into_iter().enumerate() {
                let y = (i + j) % n;
                let (want, want_g) = scalar::dkd(1.5, 8.0, t, y, &p.logp, &q.logp);
                let mut g = vec![0.0; n];
                let [mut b0, mut b1, mut b2, mut b3] = std::array::from_fn(|_| vec![0.0; n]);
                let bufs = [&mut b0[..], &mut b1, &mut b2, &mut b3];
                let got = dkd(1.5, 8.0, t, y, &p.logp, &q.logp, &mut g, bufs);
                let what = format!("row {i}, T = {t}, label {y}");
                // T²·(a sum of O(1) terms that cancel to a small KL as q → p): absolute
                // precision relative to T², as for either loop.
                let tol = 1e-12 * want.abs().max(t * t);
                assert!(
                    (got - want).abs() <= tol,
                    "{what}: value {got:e} vs {want:e}"
                );
                assert_close(&format!("{what}: gradient"), &g, &want_g, 1e-12);
                let (mut g0, mut l0, mut gn0) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                let (tc, nc) = scalar::split(t, y, &p.logp, &q.logp, &mut g0, [&mut l0, &mut gn0]);
                let (tc2, nc2) = parts(t, y, &p.logp, &q.logp);
                let tol = 1e-12 * (tc.abs() + nc.abs()).max(1.0);
                let parts = format!("{what}: parts ({tc2:e}, {nc2:e}) vs ({tc:e}, {nc:e})");
                assert!((tc2 - tc).abs() + (nc2 - nc).abs() <= tol, "{parts}");
            }
        }
    }
}
