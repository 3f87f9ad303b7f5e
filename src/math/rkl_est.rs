//! Sampled-token estimators of reverse KL (practice.md §11): verl's per-token `kl_penalty` k1, k2,
//! k3 and abs on tokens drawn from the student, backpropagated (`mode=loss`) or used as a detached
//! reward (`mode=pg`, REINFORCE / vanilla PPO at ratio 1).
//!
//! With `δ = lq_x − lp_x` the draw's log-ratio, the gradient of one draw w.r.t. the student logits
//! is `k'(x)(e_x − q)` (loss) or `k(x)(e_x − q)` (pg); value and gradient are means over the draws.
//! Finite differences do not apply: the estimator is a stop-gradient construction.

use super::sampler::Sampler;

/// Which per-token estimator (verl `kl_penalty`'s names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstKind {
    /// `δ` (`kl`).
    K1,
    /// `δ²/2` (`mse`).
    K2,
    /// `e^{−δ} − 1 + δ` (`low_var_kl`).
    K3,
    /// `|δ|`.
    Abs,
}

impl EstKind {
    pub const ALL: [EstKind; 4] = [EstKind::K1, EstKind::K2, EstKind::K3, EstKind::Abs];

    pub fn name(self) -> &'static str {
        match self {
            EstKind::K1 => "k1",
            EstKind::K2 => "k2",
            EstKind::K3 => "k3",
            EstKind::Abs => "abs",
        }
    }

    /// `(k, k')` at `δ` without clamps, `k' = ∂k/∂lq_x`.
    pub fn eval(self, delta: f64) -> (f64, f64) {
        match self {
            EstKind::K1 => (delta, 1.0),
            EstKind::K2 => (0.5 * delta * delta, delta),
            EstKind::K3 => {
                // e^{−δ} − 1 as expm1: never below −δ, so k is never below 0 (r − 1 + δ rounded
                // to −1e-16 near δ = 0), and 1 − r keeps its digits there.
                let em1 = (-delta).exp_m1();
                (em1 + delta, -em1)
            }
            EstKind::Abs => (delta.abs(), sign(delta)),
        }
    }
}

/// How the estimate becomes a gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstMode {
    /// Backpropagate k (verl `use_policy_gradient=False`).
    Loss,
    /// REINFORCE with the detached reward k (verl `use_policy_gradient=True`, the default).
    Pg,
}

impl EstMode {
    pub fn name(self) -> &'static str {
        match self {
            EstMode::Loss => "loss",
            EstMode::Pg => "pg",
        }
    }
}

/// The estimator's parameters (see `Divergence::RklEst`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimator {
    pub kind: EstKind,
    pub mode: EstMode,
    pub n: usize,
    /// A fixed token instead of draws (n = 1).
    pub x: Option<usize>,
    pub clamp: bool,
}

/// verl's bounds: `−δ` inside k3 (`kl_penalty_forward`), and every k (`loss_max_clamp`).
const K3_LOG_RATIO_BOUND: f64 = 20.0;
const LOSS_BOUND: f64 = 10.0;

/// torch's sign: 0 at 0.
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `x` clamped to `[-bound, bound]`, and whether it was (strictly outside: at the bound it passes,
/// gradient included, as torch's `clamp`).
fn clamp(x: f64, bound: f64) -> (f64, bool) {
    if x > bound {
        (bound, true)
    } else if x < -bound {
        (-bound, true)
    } else {
        (x, false)
    }
}

impl Estimator {
    /// `(k, k')` of one token with log-ratio `delta`, after verl's clamps when `clamp` is on: a
    /// clamped quantity passes no gradient.
    pub fn per_token(&self, delta: f64) -> (f64, f64) {
        if !self.clamp {
            return self.kind.eval(delta);
        }
        let (mut k, mut dk) = match self.kind {
            EstKind::K3 => {
                let (neg, clamped) = clamp(-delta, K3_LOG_RATIO_BOUND);
                let (k, dk) = EstKind::K3.eval(-neg);
                let dk = if clamped { 0.0 } else { dk };
                let (k, clamped) = clamp(k, LOSS_BOUND);
                (k, if clamped { 0.0 } else { dk })
            }
            kind => kind.eval(delta),
        };
        let clamped;
        (k, clamped) = clamp(k, LOSS_BOUND);
        if clamped {
            dk = 0.0;
        }
        (k, dk)
    }

    /// Value and gradient w.r.t. the student logits of one row: `n` tokens drawn from `q` by
    /// `sampler` (or the fixed token `x`), `lp`, `lq` the teacher's and student's log-probabilities.
    pub fn value_and_grad(
        &self,
        lp: &[f64],
        lq: &[f64],
        q: &[f64],
        sampler: &mut Sampler,
        grad: &mut [f64],
    ) -> f64 {
        grad.fill(0.0);
        // Σ_i c_i (e_{x_i} − q): accumulate the coefficients per token, then subtract Σ c_i · q.
        let mut value = 0.0;
        let mut total = 0.0;
        let draws = if self.x.is_some() { 1 } else { self.n.max(1) };
        for _ in 0..draws {
            let Some(x) = self.x.or_else(|| sampler.categorical(q)) else {
                continue;
            };
            let (k, dk) = self.per_token(lq[x] - lp[x]);
            let c = match self.mode {
                EstMode::Loss => dk,
                EstMode::Pg => k,
            };
            value += k;
            grad[x] += c;
            total += c;
        }
        let scale = 1.0 / draws as f64;
        for ((g, &qj), &lqj) in grad.iter_mut().zip(q).zip(lq) {
            let c = *g;
            // A drawn token: c (1 − q_j) − (total − c) q_j, with 1 − q_j = −expm1(lq_j), not
            // c − total·q_j, which cancels to ulp(c) when q_j is near 1.
            *g = if c == 0.0 {
                -total * qj
            } else {
                c * -lqj.exp_m1() - (total - c) * qj
            } * scale;
        }
        value * scale
    }
}

/// verl's warning for k1 backpropagated: its expected gradient is zero (§11).
pub const K1_LOSS_WARNING: &str = "k1 as a loss has zero expected gradient (verl: \"Directly \
     backpropagating k1 loss is incorrect\"); use kind=k1,mode=pg or kind=k2,mode=loss for ∇RKL";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::LogDist;
    use crate::math::reference_rows::{A_U, A_Z, B_U, B_Z};

    fn est(kind: EstKind, mode: EstMode, n: usize, x: Option<usize>) -> Estimator {
        Estimator {
            kind,
            mode,
            n,
            x,
            clamp: true,
        }
    }

    fn run(e: &Estimator, u: &[f64], z: &[f64], seed: u64) -> (f64, Vec<f64>) {
        let p = LogDist::from_logits(u, false).expect("finite");
        let q = LogDist::from_logits(z, false).expect("finite");
        let mut g = vec![0.0; z.len()];
        let v = e.value_and_grad(&p.logp, &q.logp, &q.p, &mut Sampler::new(seed), &mut g);
        (v, g)
    }

    fn assert_close(got: &(f64, Vec<f64>), value: f64, grad: &[f64], tol: f64, at: &str) {
        assert!(
            (got.0 - value).abs() <= tol,
            "{at}: value {} vs {value}",
            got.0
        );
        for (j, (a, b)) in got.1.iter().zip(grad).enumerate() {
            assert!((a - b).abs() <= tol, "{at}: grad[{j}] {a} vs {b}");
        }
    }

    /// A §13.4 row: u, z, estimator, seed, value, gradient.
    type Row = (
        &'static [f64],
        &'static [f64],
        Estimator,
        u64,
        f64,
        &'static [f64],
    );

    #[test]
    fn vectors_of_section_13_4() {
        use EstKind::*;
        use EstMode::*;
        let rows: [Row; 5] = [
            (
                &A_U,
                &A_Z,
                est(K3, Loss, 1, Some(2)),
                0,
                1.025170470504242,
                &[
                    0.2849940833350868,
                    0.6342659968404286,
                    -2.041468280301883,
                    0.5739076069290975,
                    0.3149671727255654,
                    0.23333342047170466,
                ],
            ),
            (
                &A_U,
                &A_Z,
                est(K1, Pg, 1, Some(4)),
                0,
                0.44217831675065056,
                &[
                    -0.05772728217841676,
                    -0.12847442917870028,
                    -0.0286665199576215,
                    -0.1162484707816989,
                    0.37837980330751775,
                    -0.0472631012110803,
                ],
            ),
            (
                &B_U,
                &B_Z,
                est(K2, Loss, 1, Some(1)),
                0,
                2.4977745116490535,
                &[
                    -0.6223339303339346,
                    1.2090172988381296,
                    -0.12564705356434983,
                    -0.46103631493984565,
                ],
            ),
            (
                &B_U,
                &B_Z,
                est(Abs, Pg, 1, Some(0)),
                0,
                0.7649275127419006,
                &[
                    0.5519409773435718,
                    -0.3511554312839504,
                    -0.0430012398766768,
                    -0.15778430618295364,
                ],
            ),
            (
                &A_U,
                &A_Z,
                est(K3, Pg, 4, None),
                7,
                0.20338911529420495,
                &[
                    0.0416372975851976,
                    -0.05232085678723513,
                    -0.013185762195644182,
                    -0.04037093597637683,
                    -0.02934545343977483,
                    0.09358571081383338,
                ],
            ),
        ];
        for (u, z, e, seed, value, grad) in rows {
            let got = run(&e, u, z, seed);
            assert_close(&got, value, grad, 1e-9, &format!("{e:?}"));
            assert!(
                got.1.iter().sum::<f64>().abs() < 1e-14,
                "{e:?}: gradient sums to 0"
            );
        }
    }

    /// §13.6's rows: kind, mode, E[value], E[gradient], `n=10000,seed=0` value and gradient.
    type Expectation = (EstKind, EstMode, f64, [f64; 6], f64, [f64; 6]);

    const RKL: f64 = 0.18526385466347398;
    const GRAD_RKL: [f64; 6] = [
        -0.1100665386,
        0.0165364351,
        -0.0870725382,
        0.0412527380,
        0.0370682147,
        0.1022816890,
    ];
    const GRAD_FKL: [f64; 6] = [
        -0.1214894235,
        0.0624923638,
        -0.1415238735,
        0.0761826180,
        0.0515614466,
        0.0727768685,
    ];

    fn expectations() -> [Expectation; 8] {
        use EstKind::*;
        use EstMode::*;
        let k1_pg = [
            -0.1109452569,
            0.01977867503,
            -0.08634467627,
            0.04216547179,
            0.0384564213,
            0.09688936507,
        ];
        [
            (
                K1,
                Loss,
                0.1852638547,
                [0.0; 6],
                0.1781483168,
                [
                    0.002747958003,
                    0.004851087238,
                    -0.0002302254355,
                    -0.002799528036,
                    0.00081767989,
                    -0.00538697166,
                ],
            ),
            (K1, Pg, 0.1852638547, GRAD_RKL, 0.1781483168, k1_pg),
            (K2, Loss, 0.1794382854, GRAD_RKL, 0.1764229909, k1_pg),
            (
                K2,
                Pg,
                0.1794382854,
                [
                    0.004820816669,
                    -0.0436152029,
                    0.0318210889,
                    -0.03178331342,
                    -0.01178461249,
                    0.05054122324,
                ],
                0.1764229909,
                [
                    0.005809030586,
                    -0.04259685341,
                    0.03186225665,
                    -0.03115448669,
                    -0.01126962174,
                    0.04734967461,
                ],
            ),
            (
                K3,
                Loss,
                0.1852638547,
                GRAD_FKL,
                0.1833464446,
                [
                    -0.1233679985,
                    0.0650460645,
                    -0.1406842973,
                    0.07673796045,
                    0.0526036547,
                    0.06966461618,
                ],
            ),
            (
                K3,
                Pg,
                0.1852638547,
                [
                    0.01142288499,
                    -0.04595592877,
                    0.05445133525,
                    -0.03492987997,
                    -0.01449323196,
                    0.02950482046,
                ],
                0.1833464446,
                [
                    0.0124227416,
                    -0.04526738948,
                    0.05433962106,
                    -0.03457248866,
                    -0.01414723341,
                    0.02722474889,
                ],
            ),
            (
                Abs,
                Loss,
                0.5071474642,
                [
                    -0.210088976,
                    0.1135362108,
                    -0.104327098,
                    0.1027318118,
                    0.05638041371,
                    0.04176763776,
                ],
                0.503114139,
                [
                    -0.2121795438,
                    0.1198503469,
                    -0.1037704222,
                    0.1012561052,
                    0.05792462219,
                    0.03691889172,
                ],
            ),
            (
                Abs,
                Pg,
                0.5071474642,
                [
                    0.01967082698,
                    -0.0769864977,
                    0.04218335631,
                    -0.043370311,
                    -0.009373899326,
                    0.06787652474,
                ],
                0.503114139,
                [
                    0.02200505218,
                    -0.07463979131,
                    0.04217827769,
                    -0.0432678895,
                    -0.008430401492,
                    0.06215475244,
                ],
            ),
        ]
    }

    /// The closed forms of §11 on vector A: `E[value] = ⟨k(d)⟩`, loss `E[grad]_j = q_j (k'(d_j) −
    /// ⟨k'(d)⟩)`, pg `E[grad]_j = q_j (k(d_j) − ⟨k(d)⟩)`, `d = lq − lp` (no clamp acts on A).
    fn closed_form(kind: EstKind, mode: EstMode) -> (f64, Vec<f64>) {
        let p = LogDist::from_logits(&A_U, false).expect("finite");
        let q = LogDist::from_logits(&A_Z, false).expect("finite");
        let per: Vec<(f64, f64)> = (0..6).map(|j| kind.eval(q.logp[j] - p.logp[j])).collect();
        let c: Vec<f64> = per
            .iter()
            .map(|&(k, dk)| if mode == EstMode::Loss { dk } else { k })
            .collect();
        let mean = |xs: &[f64]| xs.iter().zip(&q.p).map(|(x, qj)| x * qj).sum::<f64>();
        let values: Vec<f64> = per.iter().map(|&(k, _)| k).collect();
        let mc = mean(&c);
        let grad = (0..6).map(|j| q.p[j] * (c[j] - mc)).collect();
        (mean(&values), grad)
    }

    #[test]
    fn expectations_and_seeded_means_of_section_13_6() {
        for (kind, mode, e_value, e_grad, value, grad) in expectations() {
            let at = format!("{kind:?} {mode:?}");
            let (ev, eg) = closed_form(kind, mode);
            assert_close(&(ev, eg), e_value, &e_grad, 1e-9, &format!("E {at}"));
            let got = run(&est(kind, mode, 10_000, None), &A_U, &A_Z, 0);
            assert_close(&got, value, &grad, 1e-9, &format!("n=10000 {at}"));
        }
        // The unbiased pairs of §11: k1+pg and k2+loss follow ∇RKL, k3+loss ∇FKL; k1, k3 values RKL.
        for (kind, mode, reference) in [
            (EstKind::K1, EstMode::Pg, GRAD_RKL),
            (EstKind::K2, EstMode::Loss, GRAD_RKL),
            (EstKind::K3, EstMode::Loss, GRAD_FKL),
        ] {
            let (v, g) = closed_form(kind, mode);
            assert_close(&(v, g), v, &reference, 1e-9, &format!("{kind:?} {mode:?}"));
        }
        assert!((closed_form(EstKind::K3, EstMode::Pg).0 - RKL).abs() < 1e-15);
    }

    #[test]
    fn means_over_seeds_agree_with_the_closed_forms() {
        // 200 seeds of n = 1: each mean within 5 sd/√200, sd² = Σ_x q_x (per-sample − mean)².
        let q = LogDist::from_logits(&A_Z, false).expect("finite");
        for (kind, mode, ..) in expectations() {
            let e = est(kind, mode, 1, None);
            let (ev, eg) = closed_form(kind, mode);
            // Per-sample value and gradient for each token x.
            let per_x: Vec<(f64, Vec<f64>)> = (0..6)
                .map(|x| run(&Estimator { x: Some(x), ..e }, &A_U, &A_Z, 0))
                .collect();
            // sd over the tokens of entry `j` (None: the value).
            let sd = |j: Option<usize>, mean: f64| {
                (per_x.iter().zip(&q.p))
                    .map(|((v, g), qx)| qx * (j.map_or(*v, |j| g[j]) - mean).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            let runs: Vec<(f64, Vec<f64>)> = (0..200).map(|s| run(&e, &A_U, &A_Z, s)).collect();
            let tol = |sd: f64| 5.0 * sd / 200f64.sqrt() + 1e-15;
            let mean_v = runs.iter().map(|r| r.0).sum::<f64>() / 200.0;
            let sd_v = sd(None, ev);
            assert!(
                (mean_v - ev).abs() <= tol(sd_v),
                "{kind:?} {mode:?} value {mean_v}"
            );
            for (j, &egj) in eg.iter().enumerate() {
                let mean_g = runs.iter().map(|r| r.1[j]).sum::<f64>() / 200.0;
                let sd_g = sd(Some(j), egj);
                assert!((mean_g - egj).abs() <= tol(sd_g), "{kind:?} {mode:?} g{j}");
            }
        }
    }

    #[test]
    fn clamps_act_strictly_outside_their_intervals() {
        // A row with δ = lq_0 − lp_0 = 30 (beyond ±20) on class 0 and −30 on class 1.
        let lp = [-30.0, -1e-9, -60.0];
        let lq = [-1e-9, -30.0, -60.0];
        let q = [1.0, 0.0, 0.0];
        let one = |kind, mode, clamp, x| {
            let e = Estimator {
                kind,
                mode,
                n: 1,
                x: Some(x),
                clamp,
            };
            let mut g = [0.0; 3];
            let v = e.value_and_grad(&lp, &lq, &q, &mut Sampler::new(0), &mut g);
            (v, g)
        };
        use EstKind::*;
        use EstMode::*;
        // k3 at δ ≈ −30: −δ clamps to 20, k3 = e²⁰ − 21 clamps to 10; no gradient in loss mode.
        let (v, g) = one(K3, Loss, true, 1);
        assert_eq!((v, g), (10.0, [0.0; 3]));
        // pg: the clamped k is the reward.
        let (v, g) = one(K3, Pg, true, 1);
        assert_eq!(v, 10.0);
        // 10 (e_1 − q), 1 − q_1 from lq_1 = −30 (q rounds it to 0 here).
        let want = [-10.0, -10.0 * (-30f64).exp_m1(), 0.0];
        assert!(
            g.iter().zip(want).all(|(a, b)| (a - b).abs() <= 1e-15),
            "{g:?}"
        );
        // Without clamps k3 is e^30-ish.
        assert!(one(K3, Loss, false, 1).0 > 1e12);
        // k3 at δ ≈ 30: −δ clamps to −20, k3 = e^-20 + 19 clamps to 10.
        assert_eq!(one(K3, Loss, true, 0).0, 10.0);
        // k1 at δ = 30 → 10, at −30 → −10; k2 at 30 → 10; abs at −30 → 10.
        assert_eq!(one(K1, Loss, true, 0), (10.0, [0.0; 3]));
        assert_eq!(one(K1, Pg, true, 1).0, -10.0);
        assert_eq!(one(K2, Loss, true, 0).0, 10.0);
        assert_eq!(one(Abs, Loss, true, 1).0, 10.0);
        // At the bound the value and its gradient pass (torch's clamp).
        let e = est(K1, Loss, 1, None);
        assert_eq!(e.per_token(10.0), (10.0, 1.0));
        assert_eq!(e.per_token(10.5), (10.0, 0.0));
        let e = est(K3, Loss, 1, None);
        let (k, dk) = e.per_token(-20.0);
        assert_eq!((k, dk), (10.0, 0.0), "k3 = e^20 − 21 is beyond 10");
        assert_eq!(est(Abs, Loss, 1, None).per_token(-10.0), (10.0, -1.0));
    }

    #[test]
    fn a_fixed_token_gives_k_prime_times_e_x_minus_q() {
        // Not a derivative of the value (stop-gradient estimator): check the form instead.
        let p = LogDist::from_logits(&B_U, false).expect("finite");
        let q = LogDist::from_logits(&B_Z, false).expect("finite");
        for kind in EstKind::ALL {
            for x in 0..4 {
                let e = est(kind, EstMode::Loss, 1, Some(x));
                let (v, g) = run(&e, &B_U, &B_Z, 99);
                let (k, dk) = kind.eval(q.logp[x] - p.logp[x]);
                assert_eq!(v, k);
                for (j, (gj, qj)) in g.iter().zip(&q.p).enumerate() {
                    let ex = if j == x { 1.0 } else { 0.0 };
                    assert!((gj - dk * (ex - qj)).abs() < 1e-15, "{kind:?} x={x} g{j}");
                }
                assert!(g.iter().sum::<f64>().abs() < 1e-15);
            }
        }
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;
    use crate::math::{Divergence, LogDist, RowAt, Workspace, evaluate, value_and_grad_at};

    fn parse(s: &str) -> Result<Divergence, String> {
        s.parse::<Divergence>().map_err(|e| e.to_string())
    }

    #[test]
    fn spec_strings_parse_print_and_refuse() {
        let d = parse("rkl-est").expect("default");
        let default = Divergence::RklEst {
            kind: EstKind::K3,
            mode: EstMode::Pg,
            n: 1,
            seed: 0,
            x: None,
            clamp: true,
        };
        assert_eq!(d, default);
        assert_eq!(d.to_string(), "rkl-est:kind=k3,mode=pg,n=1,seed=0");
        let d = parse("RKL-EST:kind=KL,mode=loss,x=2,clamp=false").expect("aliases");
        assert_eq!(
            d.to_string(),
            "rkl-est:kind=k1,mode=loss,n=1,seed=0,x=2,clamp=false"
        );
        assert_eq!(parse(&d.to_string()), Ok(d));
        for (alias, kind) in [("mse", EstKind::K2), ("low_var_kl", EstKind::K3)] {
            let d = parse(&format!("rkl-est:kind={alias}")).expect("alias");
            assert!(
                matches!(d, Divergence::RklEst { kind: k, .. } if k == kind),
                "{alias}"
            );
        }
        let max = parse("rkl-est:seed=18446744073709551615,n=1000000").expect("u64 seed");
        assert!(matches!(
            max,
            Divergence::RklEst {
                seed: u64::MAX,
                n: 1_000_000,
                ..
            }
        ));
        for (spec, msg) in [
            (
                "rkl-est:kind=k4",
                "rkl-est: kind=\"k4\"; expected k1, k2, k3 or abs (or kl, mse, low_var_kl)",
            ),
            (
                "rkl-est:mode=ppo",
                "rkl-est: mode=\"ppo\"; expected loss or pg",
            ),
            (
                "rkl-est:n=1e3",
                "rkl-est: n=\"1e3\"; expected an integer in [1, 1000000]",
            ),
            (
                "rkl-est:n=0",
                "rkl-est: n=0 is out of range; expected an integer in [1, 1000000]",
            ),
            (
                "rkl-est:n=1000001",
                "rkl-est: n=1000001 is out of range; expected an integer in [1, 1000000]",
            ),
            (
                "rkl-est:seed=-1",
                "rkl-est: seed=\"-1\"; expected an integer in [0, 18446744073709551615]",
            ),
            (
                "rkl-est:x=2.0",
                "rkl-est: x=\"2.0\"; expected a class index >= 0",
            ),
            (
                "rkl-est:x=2,n=4",
                "rkl-est: x=2 fixes one token, but n=4; expected n=1 (or no x)",
            ),
            (
                "rkl-est:clamp=maybe",
                "rkl-est: clamp=\"maybe\"; expected true or false",
            ),
        ] {
            assert_eq!(parse(spec), Err(msg.to_string()), "{spec}");
        }
        // x is checked against the row's classes.
        let teacher = LogDist::from_logits(&[0.0, 1.0, 2.0], false).expect("finite");
        let err = evaluate(&parse("rkl-est:x=3").expect("parses"), &teacher, &[0.0; 3]);
        let msg = "rkl-est: x=3 is not a class; expected an index below 3";
        assert_eq!(err, Err(msg.to_string()));
    }

    #[test]
    fn value_and_grad_draws_from_the_seed_and_fits_draw_afresh_per_row_and_epoch() {
        let teacher = LogDist::from_logits(&[1.0, 0.9, 0.8, 0.7, 0.0, -1.0], false).expect("A");
        let z = [0.2, 1.0, -0.5, 0.9, 0.3, 0.0];
        let student = LogDist::from_logits(&z, false).expect("A");
        let div = parse("rkl-est:kind=k3,mode=pg,n=4,seed=7").expect("parses");
        // §13.4's last row through `evaluate` (stream 0 is the seed): draws 1, 0, 5, 3.
        let e = evaluate(&div, &teacher, &z).expect("finite");
        assert!((e.value - 0.20338911529420495).abs() < 1e-9, "{}", e.value);
        let g = e.grad.expect("gradient");
        assert!((g[5] - 0.09358571081383338).abs() < 1e-9, "{g:?}");
        // Row r of epoch e of a fit with R rows is the stream seed + e·R + r.
        let at = |epoch, row| {
            let mut g = vec![0.0; 6];
            let at = RowAt {
                epoch,
                rows: 3,
                row,
            };
            let ws = &mut Workspace::default();
            (
                value_and_grad_at(&div, &teacher, &student, &mut g, ws, at),
                g,
            )
        };
        let shifted = parse("rkl-est:kind=k3,mode=pg,n=4,seed=12").expect("parses");
        let e12 = evaluate(&shifted, &teacher, &z).expect("finite");
        assert_eq!(at(1, 2), (e12.value, e12.grad.expect("gradient")));
        assert_ne!(at(0, 0).0, at(1, 0).0, "a new epoch draws new tokens");
        // k1 estimates can be negative: never clamped to 0.
        let k1 = parse("rkl-est:kind=k1,mode=loss,x=2").expect("parses");
        let e = evaluate(&k1, &teacher, &z).expect("finite");
        assert!(e.value < 0.0, "{}", e.value);
    }
}
