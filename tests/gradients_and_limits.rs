//! Gradients and limits of every divergence family (spec §0.2, §4, §6–§10, §15, §16).
//!
//! 1. true gradients against finite differences on random inputs, across each family's parameter range;
//! 2. what the stop-gradient "gradients" are (AKL with frozen weights, TAID = Rényi-t, DistiLLM-2's
//!    detached SRKL, TVD's sub-gradient away from ties);
//! 3. every gradient sums to zero (softmax shift invariance, eq. 0.1);
//! 4. limit identities between families, and the unified αβ formula against the piecewise forms of §7.1;
//! 5. teachers with exact zeros: finite where the divergence is finite, `+inf` with no gradient otherwise;
//! 6. extreme but valid logits: never NaN.
//!
//! Everything is deterministic (a splitmix64 generator below) and runs in f64.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::math::akl::{gaps, head_mask, weights};
use kdviz::math::{Divergence, LogDist, Workspace, evaluate, value_and_grad};

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

/// splitmix64: tiny, deterministic, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Logits: N(0, σ = 2) for even `kind`, uniform in [-4, 4] for odd.
    fn logits(&mut self, n: usize, kind: u64) -> Vec<f64> {
        (0..n)
            .map(|_| {
                if kind.is_multiple_of(2) {
                    2.0 * self.normal()
                } else {
                    self.range(-4.0, 4.0)
                }
            })
            .collect()
    }
}

fn parse(spec: &str) -> Divergence {
    spec.parse()
        .unwrap_or_else(|e| panic!("{spec:?} does not parse: {e}"))
}

fn teacher(u: &[f64]) -> LogDist {
    LogDist::from_logits(u, true).expect("valid teacher logits")
}

fn value(div: &Divergence, t: &LogDist, z: &[f64]) -> f64 {
    evaluate(div, t, z).expect("evaluate").value
}

/// Value and gradient; panics when the value is infinite or NaN.
fn value_grad(spec: &str, div: &Divergence, t: &LogDist, z: &[f64]) -> (f64, Vec<f64>) {
    let ev = evaluate(div, t, z).expect("evaluate");
    assert!(
        ev.value.is_finite(),
        "{spec}: value {} is not finite (teacher {:?}, z {z:?})",
        ev.value,
        t.logp
    );
    let g = ev
        .grad
        .unwrap_or_else(|| panic!("{spec}: finite value without a gradient"));
    assert_eq!(g.len(), z.len());
    assert!(
        g.iter().all(|x| x.is_finite()),
        "{spec}: non-finite gradient {g:?}"
    );
    (ev.value, g)
}

fn softmax(z: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let d = LogDist::from_logits(z, true).unwrap();
    (d.logp, d.p)
}

fn logsumexp(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `KL(x‖y)` from log-probabilities, `0 log 0 = 0`.
fn kl(lx: &[f64], ly: &[f64]) -> f64 {
    lx.iter()
        .zip(ly)
        .filter(|(a, _)| **a > f64::NEG_INFINITY)
        .map(|(a, b)| a.exp() * (a - b))
        .sum()
}

/// Step of the finite differences (fourth-order central stencil, truncation error ~h⁴).
const H: f64 = 1e-4;
/// Relative tolerance of a finite-difference check: |fd − g| ≤ FD_TOL (1 + |g|) + roundoff. The stencil
/// is accurate to ~2e-11 on these inputs, so 1e-8 leaves a wide margin and still catches a gradient that
/// is off by 1e-4 relative wherever |g| > 1e-4.
const FD_TOL: f64 = 1e-8;

/// Directional derivative of `f` at `z` along `dir`:
/// `[8 (f(z+h d) − f(z−h d)) − (f(z+2h d) − f(z−2h d))] / 12h`.
fn fd_dir(f: &dyn Fn(&[f64]) -> f64, z: &[f64], dir: &[f64]) -> f64 {
    let mut buf = z.to_vec();
    let mut at = |s: f64| {
        for ((b, &zk), &dk) in buf.iter_mut().zip(z).zip(dir) {
            *b = zk + s * dk;
        }
        f(&buf)
    };
    let (p1, m1, p2, m2) = (at(H), at(-H), at(2.0 * H), at(-2.0 * H));
    (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * H)
}

/// Checks the analytic gradient `g` of `f` at `z`: every coordinate for small sizes, three random
/// directions for large ones. `f0 = f(z)` sets the roundoff allowance (≈ 3e-12 |f| at this h).
fn check_fd(what: &str, f: &dyn Fn(&[f64]) -> f64, z: &[f64], g: &[f64], f0: f64, rng: &mut Rng) {
    let n = z.len();
    let roundoff = 1e-10 * f0.abs();
    let check = |dir: &[f64], label: String| {
        let fd = fd_dir(f, z, dir);
        let an: f64 = g.iter().zip(dir).map(|(a, b)| a * b).sum();
        let scale: f64 = g.iter().zip(dir).map(|(a, b)| (a * b).abs()).sum();
        let tol = FD_TOL * (1.0 + scale) + roundoff;
        assert!(
            (fd - an).abs() <= tol,
            "{what}: {label}: finite difference {fd:.12e} vs gradient {an:.12e} (diff {:.3e}, tol {tol:.3e}); z = {z:?}",
            (fd - an).abs()
        );
    };
    if n <= 17 {
        for k in 0..n {
            let mut e = vec![0.0; n];
            e[k] = 1.0;
            check(&e, format!("d/dz[{k}]"));
        }
    } else {
        for r in 0..3 {
            let dir: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            check(&dir, format!("random direction {r}"));
        }
    }
}

/// Finite-difference check of a divergence's own gradient.
fn check_true_gradient(spec: &str, t: &LogDist, z: &[f64], rng: &mut Rng) {
    let div = parse(spec);
    assert!(
        div.is_true_gradient(),
        "{spec}: expected a true gradient (is_true_gradient)"
    );
    let (v, g) = value_grad(spec, &div, t, z);
    let f = |zz: &[f64]| value(&div, t, zz);
    check_fd(spec, &f, z, &g, v, rng);
}

const SIZES: [usize; 4] = [2, 5, 17, 64];

/// Calls `body(teacher, student logits, rng)` for every size × seed; teacher and student logits alternate
/// between N(0, σ = 2) and uniform [-4, 4].
fn for_random_inputs(seeds: u64, mut body: impl FnMut(&LogDist, &[f64], &mut Rng)) {
    for &n in &SIZES {
        for seed in 0..seeds {
            let mut rng = Rng::new(1000 * n as u64 + seed);
            let u = rng.logits(n, seed);
            let z = rng.logits(n, seed + 1);
            let t = teacher(&u);
            body(&t, &z, &mut rng);
        }
    }
}

fn close(what: &str, a: f64, b: f64, rel: f64) {
    assert!(
        (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs())),
        "{what}: {a:.15e} vs {b:.15e} (diff {:.3e}, rel tol {rel:e})",
        (a - b).abs()
    );
}

fn close_vec(what: &str, a: &[f64], b: &[f64], rel: f64) {
    assert_eq!(a.len(), b.len());
    for k in 0..a.len() {
        close(&format!("{what}[{k}]"), a[k], b[k], rel);
    }
}

/// The αβ grid of the task: limit lines, the origin, both signs and near-limit points.
const AB_GRID: [(f64, f64); 19] = [
    (0.0, 0.0),
    (1.0, 0.0),
    (0.0, 1.0),
    (0.5, -0.5),
    (-0.5, 1.2),
    (1.5, -0.3),
    (2.0, 1.0),
    (0.0, 0.3),
    (0.3, 0.0),
    (1e-7, 1e-7),
    (-1.0, -1.0),
    (0.2, 0.7),
    (0.5, 0.5),
    (0.8, 0.3),
    (-0.3, 0.3),
    (1.0, -1.0),
    (-1.0, 2.0),
    (1e-7, 0.0),
    (0.3, -0.3 + 1e-9),
];

fn true_gradient_specs_except_amid() -> Vec<String> {
    let mut specs = vec!["fkl".to_string(), "rkl".to_string()];
    for beta in [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0] {
        specs.push(format!("jsd:beta={beta}"));
        specs.push(format!("jsd:beta={beta},norm=true"));
    }
    for alpha in [0.0, 0.1, 0.5, 0.9] {
        specs.push(format!("skl:alpha={alpha}"));
        specs.push(format!("srkl:alpha={alpha}"));
    }
    for (a, b) in AB_GRID {
        specs.push(format!("ab:alpha={a},beta={b}"));
    }
    for alpha in [-1.0, 0.0, 0.3, 0.5, 1.0, 2.0] {
        specs.push(format!("alpha:alpha={alpha}"));
    }
    for lambda in [0.0, 0.1, 0.5, 0.9, 1.0] {
        specs.push(format!("wsd:lambda={lambda}"));
    }
    specs.push("jeffreys".into());
    for alpha in [0.05, 0.5, 0.999, 1.0, 1.001, 2.5, 10.0] {
        specs.push(format!("renyi:alpha={alpha}"));
    }
    for lead in ["both", "teacher", "student"] {
        for temperature in [0.5, 3.0] {
            specs.push(format!("bild:T={temperature},lead={lead}"));
            specs.push(format!("bild:k=2,T={temperature},lead={lead}"));
        }
    }
    specs
}

/// DKD's specs for `n` classes (its label must be a class).
fn dkd_specs(n: usize) -> Vec<String> {
    let mut specs = Vec::new();
    for (alpha, beta) in [(1.0, 8.0), (0.0, 1.0), (1.0, 0.0), (2.0, 0.5)] {
        for temperature in [0.5, 1.0, 4.0] {
            for label in [0, n - 1, n / 2] {
                specs.push(format!(
                    "dkd:alpha={alpha},beta={beta},T={temperature},label={label}"
                ));
            }
        }
    }
    specs
}

/// EA-KD's specs (its row weight is detached).
const EAKD_SPECS: [&str; 4] = [
    "eakd",
    "eakd:T=1,wt=1",
    "eakd:T=4,hub=4.6",
    "eakd:T=0.5,wt=8,hub=100",
];

const AMID_ALPHAS: [f64; 7] = [-3.0, -1.0, 0.0, 0.5, 1.0, 1.0 + 1e-9, 3.0];
const AMID_LAMBDAS: [f64; 3] = [0.1, 0.5, 0.9];

fn amid_specs(divs: &[&str], orders: &[&str]) -> Vec<String> {
    let mut specs = Vec::new();
    for alpha in AMID_ALPHAS {
        for lambda in AMID_LAMBDAS {
            for div in divs {
                for order in orders {
                    specs.push(format!(
                        "amid:alpha={alpha},lambda={lambda},div={div},order={order}"
                    ));
                }
            }
        }
    }
    specs
}

fn hinton_specs(n: usize) -> Vec<String> {
    let mut specs = Vec::new();
    for temperature in [0.5, 1.0, 2.0, 5.0] {
        for a in [0.0, 0.3, 1.0] {
            for label in [0, n - 1, n / 2] {
                specs.push(format!("hinton:T={temperature},a={a},label={label}"));
            }
        }
    }
    specs
}

/// Every family, stop-gradient variants included.
fn all_specs(n: usize) -> Vec<String> {
    let mut specs = true_gradient_specs_except_amid();
    specs.extend(amid_specs(&["fkl", "ab"], &["pr", "qr", "rp", "rq"]));
    specs.extend(hinton_specs(n));
    specs.push("tvd".into());
    for mu in [0.0, 0.1, 0.5, 0.9] {
        specs.push(format!("akl:mu={mu}"));
    }
    for t in [0.0, 0.1, 0.4, 0.9, 1.0] {
        specs.push(format!("taid:t={t}"));
    }
    specs.push("taid:t_start=0.2,t_end=1".into());
    for alpha in [0.0, 0.1, 0.5, 0.9] {
        specs.push(format!("srkl:alpha={alpha},detach=true"));
    }
    specs.extend(dkd_specs(n));
    specs.extend(EAKD_SPECS.map(String::from));
    for beta in [0.5, 1.0, 4.0] {
        specs.push(format!("todi:beta={beta}"));
    }
    specs.push("uld".into());
    for mu in [0.0, 0.1, 0.5, 0.9] {
        specs.push(format!("akl:mu={mu},convention=dskd"));
    }
    specs.extend(RKL_EST_SPECS.map(String::from));
    specs
}

/// Sampled-token estimators (stop-gradient: the gradient is k or k' times e_x − q).
const RKL_EST_SPECS: [&str; 4] = [
    "rkl-est",
    "rkl-est:kind=k1,mode=loss,x=1",
    "rkl-est:kind=k2,mode=pg,n=8,seed=3",
    "rkl-est:kind=abs,mode=loss,n=5,clamp=false",
];

// ---------------------------------------------------------------------------------------------------
// 1. True gradients against finite differences
// ---------------------------------------------------------------------------------------------------

#[test]
fn true_gradients_match_finite_differences() {
    let specs = true_gradient_specs_except_amid();
    let mut checked = 0;
    for_random_inputs(3, |t, z, rng| {
        for spec in &specs {
            check_true_gradient(spec, t, z, rng);
            checked += 1;
        }
    });
    assert_eq!(checked, specs.len() * SIZES.len() * 3);
}

#[test]
fn amid_fkl_gradients_match_finite_differences() {
    let specs = amid_specs(&["fkl"], &["pr", "qr", "rp", "rq"]);
    assert_eq!(specs.len(), 7 * 3 * 4);
    for_random_inputs(3, |t, z, rng| {
        for spec in &specs {
            check_true_gradient(spec, t, z, rng);
        }
    });
}

#[test]
fn amid_ab_gradients_match_finite_differences() {
    let mut specs = amid_specs(&["ab"], &["pr", "qr", "rp", "rq"]);
    // A non-default αβ pair inside AMiD, on the limit line β = 0 and with a negative exponent.
    for order in ["pr", "qr", "rp", "rq"] {
        specs.push(format!(
            "amid:alpha=0.5,lambda=0.3,div=ab,ab_alpha=1,ab_beta=0,order={order}"
        ));
        specs.push(format!(
            "amid:alpha=2,lambda=0.7,div=ab,ab_alpha=0.5,ab_beta=-0.2,order={order}"
        ));
    }
    for_random_inputs(3, |t, z, rng| {
        for spec in &specs {
            check_true_gradient(spec, t, z, rng);
        }
    });
}

#[test]
fn hinton_gradients_match_finite_differences() {
    for_random_inputs(3, |t, z, rng| {
        for spec in hinton_specs(z.len()) {
            check_true_gradient(&spec, t, z, rng);
        }
    });
}

#[test]
fn gradients_are_checked_for_the_right_families() {
    // The flag that selects the finite-difference check must be right for every family.
    for spec in all_specs(5) {
        let d = parse(&spec);
        let stop_grad = spec == "tvd"
            || spec == "uld"
            || spec.starts_with("akl")
            || spec.starts_with("taid")
            || spec.starts_with("todi")
            || spec.starts_with("eakd")
            || spec.starts_with("rkl-est")
            || spec.contains("detach=true");
        assert_eq!(d.is_true_gradient(), !stop_grad, "{spec}");
    }
}

// ---------------------------------------------------------------------------------------------------
// 2. Stop-gradient variants: what the gradient is
// ---------------------------------------------------------------------------------------------------

#[test]
fn akl_gradient_is_fkl_rkl_with_frozen_weights() {
    let (fkl, rkl) = (parse("fkl"), parse("rkl"));
    let mut differs_from_true_gradient = 0;
    for_random_inputs(3, |t, z, rng| {
        for mu in [0.0, 0.1, 0.5, 0.9] {
            let spec = format!("akl:mu={mu}");
            let div = parse(&spec);
            let (v, g) = value_grad(&spec, &div, t, z);
            let (_, q) = softmax(z);
            let head = head_mask(&t.p, mu);
            let (gh, gt) = gaps(&t.p, &q, &head);
            let (wh, wt) = weights(gh, gt);
            assert!((wh + wt - 1.0).abs() < 1e-12 && wh >= 0.0 && wt >= 0.0);
            let frozen = |zz: &[f64]| wh * value(&fkl, t, zz) + wt * value(&rkl, t, zz);
            close(&format!("{spec} value"), v, frozen(z), 1e-12);
            check_fd(&format!("{spec} (frozen weights)"), &frozen, z, &g, v, rng);
            // The weights do depend on q: the gradient is not the derivative of the value.
            let dir: Vec<f64> = (0..z.len()).map(|_| rng.normal()).collect();
            let fd = fd_dir(&|zz: &[f64]| value(&div, t, zz), z, &dir);
            let an: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
            if (fd - an).abs() > 1e-4 * (1.0 + an.abs()) {
                differs_from_true_gradient += 1;
            }
        }
    });
    assert!(
        differs_from_true_gradient > 10,
        "AKL's gradient should differ from d(value)/dz on generic inputs"
    );
}

/// Rényi divergence of order t: `1/(t−1) log Σ p^t q^(1−t)` (spec §9.1).
fn renyi(t: f64, lp: &[f64], lq: &[f64]) -> f64 {
    let x: Vec<f64> = lp
        .iter()
        .zip(lq)
        .map(|(a, b)| t * a + (1.0 - t) * b)
        .collect();
    logsumexp(&x) / (t - 1.0)
}

#[test]
fn taid_gradient_is_the_renyi_gradient() {
    for_random_inputs(3, |t, z, rng| {
        for tt in [0.1, 0.2, 0.4, 0.7, 0.95] {
            let spec = format!("taid:t={tt}");
            let div = parse(&spec);
            assert!(!div.is_true_gradient());
            let (v, g) = value_grad(&spec, &div, t, z);
            // The value is KL(p_t‖q), p_t = softmax(t lp + (1−t) lq).
            let (lq, q) = softmax(z);
            let mix: Vec<f64> = t
                .logp
                .iter()
                .zip(&lq)
                .map(|(a, b)| tt * a + (1.0 - tt) * b)
                .collect();
            let (lpt, pt) = softmax(&mix);
            close(&format!("{spec} value"), v, kl(&lpt, &lq), 1e-12);
            // The gradient is q − p_t, which is the derivative of Rényi-t.
            for k in 0..z.len() {
                close(
                    &format!("{spec} grad[{k}] = q − p_t"),
                    g[k],
                    q[k] - pt[k],
                    1e-13,
                );
            }
            let f = |zz: &[f64]| renyi(tt, &t.logp, &softmax(zz).0);
            check_fd(&format!("{spec} vs Rényi-{tt}"), &f, z, &g, f(z), rng);
        }
    });
}

#[test]
fn detached_srkl_gradient_freezes_the_mixture() {
    for_random_inputs(3, |t, z, rng| {
        for alpha in [0.1, 0.5, 0.9] {
            let spec = format!("srkl:alpha={alpha},detach=true");
            let div = parse(&spec);
            assert!(!div.is_true_gradient());
            let (v, g) = value_grad(&spec, &div, t, z);
            let (v_live, _) = value_grad("srkl", &parse(&format!("srkl:alpha={alpha}")), t, z);
            close(&format!("{spec} value = srkl value"), v, v_live, 1e-14);
            // m = (1−α) p + α q from the current q, then q_j (log(q_j/m_j) − SRKL).
            let (lq, q) = softmax(z);
            let lm: Vec<f64> =
                t.p.iter()
                    .zip(&q)
                    .map(|(p, q)| ((1.0 - alpha) * p + alpha * q).ln())
                    .collect();
            close(&format!("{spec} value = KL(q‖m)"), v, kl(&lq, &lm), 1e-12);
            for k in 0..z.len() {
                let expect = q[k] * (lq[k] - lm[k] - v);
                close(&format!("{spec} grad[{k}]"), g[k], expect, 1e-12);
            }
            // The same thing by finite differences of KL(q'‖m) with m frozen.
            let f = |zz: &[f64]| kl(&softmax(zz).0, &lm);
            check_fd(&format!("{spec} (frozen mixture)"), &f, z, &g, v, rng);
        }
    });
}

#[test]
fn tvd_subgradient_matches_finite_differences_away_from_ties() {
    let div = parse("tvd");
    let mut checked = 0;
    for_random_inputs(6, |t, z, rng| {
        let (_, q) = softmax(z);
        let margin =
            t.p.iter()
                .zip(&q)
                .map(|(a, b)| (a - b).abs())
                .fold(f64::INFINITY, f64::min);
        let (v, g) = value_grad("tvd", &div, t, z);
        close(
            "tvd value",
            v,
            0.5 * t.p.iter().zip(&q).map(|(a, b)| (a - b).abs()).sum::<f64>(),
            1e-14,
        );
        if margin < 1e-3 {
            return; // a step of 2h could cross a kink
        }
        let f = |zz: &[f64]| value(&div, t, zz);
        check_fd("tvd", &f, z, &g, v, rng);
        checked += 1;
    });
    assert!(checked >= 12, "only {checked} tie-free samples");
    // At an exact tie sign(0) = 0: the student equal to the teacher gets a zero sub-gradient.
    let u = [0.3, -1.0, 2.0, 0.0];
    let (v, g) = value_grad("tvd", &div, &teacher(&u), &u);
    assert_eq!(v, 0.0);
    assert!(g.iter().all(|&x| x == 0.0), "{g:?}");
}

// ---------------------------------------------------------------------------------------------------
// 3. Every gradient sums to zero
// ---------------------------------------------------------------------------------------------------

/// `|Σ g| ≤ 1e-12 Σ|g|`, plus 1e-15 absolute: Σq = 1 only to a few ulps, so a gradient that is itself
/// at roundoff level (TAID at t = 0, say) cannot sum to zero more precisely than that.
fn assert_sums_to_zero(spec: &str, g: &[f64]) {
    let sum: f64 = g.iter().sum();
    let size: f64 = g.iter().map(|x| x.abs()).sum();
    assert!(
        sum.abs() <= 1e-12 * size + 1e-15,
        "{spec}: gradient sums to {sum:e} (Σ|g| = {size:e}): {g:?}"
    );
}

#[test]
fn every_gradient_sums_to_zero() {
    let mut count = 0;
    for_random_inputs(2, |t, z, _| {
        for spec in all_specs(z.len()) {
            let (_, g) = value_grad(&spec, &parse(&spec), t, z);
            assert_sums_to_zero(&spec, &g);
            count += 1;
        }
    });
    assert!(count > 1000);
}

// ---------------------------------------------------------------------------------------------------
// 4. Limit identities
// ---------------------------------------------------------------------------------------------------

fn same(a: &str, b: &str, t: &LogDist, z: &[f64], rel: f64) {
    let (va, ga) = value_grad(a, &parse(a), t, z);
    let (vb, gb) = value_grad(b, &parse(b), t, z);
    close(&format!("value {a} vs {b}"), va, vb, rel);
    close_vec(&format!("grad {a} vs {b}"), &ga, &gb, rel);
}

#[test]
fn limit_identities_between_families() {
    for_random_inputs(3, |t, z, _| {
        same("ab:alpha=1,beta=0", "fkl", t, z, 1e-12);
        same("ab:alpha=0,beta=1", "rkl", t, z, 1e-12);
        same("jsd:beta=0", "fkl", t, z, 1e-15);
        same("jsd:beta=1", "rkl", t, z, 1e-15);
        same("jsd:beta=0,norm=true", "fkl", t, z, 1e-15);
        same("jsd:beta=1,norm=true", "rkl", t, z, 1e-15);
        // norm=true is continuous at the ends; the gap is O(β) (O(1−β)) with a coefficient that reaches a
        // few hundred on these random rows, so the tolerance follows the distance to the end.
        same("jsd:beta=1e-6,norm=true", "fkl", t, z, 2e-3);
        same("jsd:beta=0.999999,norm=true", "rkl", t, z, 2e-3);
        same("jsd:beta=1e-9,norm=true", "fkl", t, z, 2e-6);
        same("jsd:beta=0.999999999,norm=true", "rkl", t, z, 2e-6);
        same("skl:alpha=0", "fkl", t, z, 1e-15);
        same("srkl:alpha=0", "rkl", t, z, 1e-15);
        same("srkl:alpha=0,detach=true", "rkl", t, z, 1e-15);
        same("taid:t=1", "fkl", t, z, 1e-13);
        same("alpha:alpha=1", "fkl", t, z, 1e-12);
        same("alpha:alpha=0", "rkl", t, z, 1e-12);
        for a in [-1.0, 0.3, 0.5, 2.0] {
            same(
                &format!("alpha:alpha={a}"),
                &format!("ab:alpha={a},beta={}", 1.0 - a),
                t,
                z,
                1e-15,
            );
        }
        // The interior GJSD tends to β·FKL and (1−β)·RKL at the ends (spec §4.1).
        let (fkl, rkl) = (value(&parse("fkl"), t, z), value(&parse("rkl"), t, z));
        let small = value(&parse("jsd:beta=1e-6"), t, z);
        close("jsd:beta=1e-6 / 1e-6 vs fkl", small / 1e-6, fkl, 2e-3);
        let big = value(&parse("jsd:beta=0.999999"), t, z);
        close(
            "jsd:beta=1-1e-6 / 1e-6 vs rkl",
            big / (1.0 - 0.999999),
            rkl,
            2e-3,
        );
        // 4·JS at β = ½ with norm.
        let (vn, gn) = value_grad("jsd", &parse("jsd:beta=0.5,norm=true"), t, z);
        let (vj, gj) = value_grad("jsd", &parse("jsd:beta=0.5"), t, z);
        close("jsd:beta=0.5,norm=true = 4 js", vn, 4.0 * vj, 1e-14);
        let gj4: Vec<f64> = gj.iter().map(|x| 4.0 * x).collect();
        close_vec("jsd:beta=0.5,norm=true grad = 4 js grad", &gn, &gj4, 1e-14);
        assert!(vj <= std::f64::consts::LN_2 + 1e-15, "JS above log 2: {vj}");
        // AMiD with the m-mixture (α = −1) and KL(p‖r) is SKL with α = λ (spec §10.1).
        for lambda in [0.1, 0.5, 0.9] {
            same(
                &format!("amid:alpha=-1,lambda={lambda},div=fkl,order=pr"),
                &format!("skl:alpha={lambda}"),
                t,
                z,
                1e-12,
            );
        }
        // GJSD(β) = β·AMiD(α = −1, λ = β, KL, pr) + (1−β)·AMiD(α = −1, λ = β, KL, qr) (spec §10.1).
        for beta in [0.1, 0.5, 0.9] {
            let (vj, gj) = value_grad("jsd", &parse(&format!("jsd:beta={beta}")), t, z);
            let amid = |order: &str| {
                let s = format!("amid:alpha=-1,lambda={beta},div=fkl,order={order}");
                value_grad(&s, &parse(&s), t, z)
            };
            let ((vp, gp), (vq, gq)) = (amid("pr"), amid("qr"));
            close(
                &format!("jsd:beta={beta} = amid pr/qr mix"),
                vj,
                beta * vp + (1.0 - beta) * vq,
                1e-12,
            );
            let mixed: Vec<f64> = gp
                .iter()
                .zip(&gq)
                .map(|(a, b)| beta * a + (1.0 - beta) * b)
                .collect();
            close_vec(
                &format!("jsd:beta={beta} grad = amid pr/qr mix"),
                &gj,
                &mixed,
                1e-12,
            );
        }
        // AMiD at λ = 1 is r = p: D(p, p) = 0 with no gradient, KL(q‖p) = RKL, KL(p‖q) = FKL.
        let (v, g) = value_grad("amid", &parse("amid:alpha=0.5,lambda=1,order=pr"), t, z);
        assert!(
            v.abs() < 1e-14 && g.iter().all(|x| x.abs() < 1e-14),
            "{v} {g:?}"
        );
        same(
            "amid:alpha=0.5,lambda=1,div=fkl,order=qr",
            "rkl",
            t,
            z,
            1e-12,
        );
        same(
            "amid:alpha=0.5,lambda=1,div=fkl,order=rq",
            "fkl",
            t,
            z,
            1e-12,
        );
        same("amid:alpha=3,lambda=0,div=fkl,order=rp", "rkl", t, z, 1e-12);
        // Hinton: T = 1, a = 1 is FKL; a = 0 is the hard-label cross-entropy.
        same("hinton:T=1,a=1,label=0", "fkl", t, z, 1e-12);
        let n = z.len();
        let (lq, q) = softmax(z);
        let (v, g) = value_grad(
            "hinton",
            &parse(&format!("hinton:T=3,a=0,label={}", n - 1)),
            t,
            z,
        );
        close("hinton a=0 value = -log q_label", v, -lq[n - 1], 1e-14);
        for k in 0..n {
            let e = if k == n - 1 { 1.0 } else { 0.0 };
            close(&format!("hinton a=0 grad[{k}]"), g[k], q[k] - e, 1e-14);
        }
        // AMiD at λ = 0 is D(p, q); at the e-mixture alpha = 1 ± tiny it is continuous.
        same(
            "amid:alpha=0.5,lambda=0,div=fkl,order=pr",
            "fkl",
            t,
            z,
            1e-12,
        );
        same(
            "amid:alpha=0.5,lambda=0,div=ab,order=pr",
            "ab:alpha=0.2,beta=0.7",
            t,
            z,
            1e-12,
        );
        for div in ["fkl", "ab"] {
            for order in ["pr", "qr", "rp", "rq"] {
                for lambda in [0.1, 0.5, 0.9] {
                    let at = |alpha: f64| {
                        format!("amid:alpha={alpha},lambda={lambda},div={div},order={order}")
                    };
                    for delta in [1e-12, 1e-9] {
                        same(&at(1.0 + delta), &at(1.0), t, z, 1e-7);
                        same(&at(1.0 - delta), &at(1.0), t, z, 1e-7);
                    }
                    for delta in [1e-6, 1e-4] {
                        same(&at(1.0 + delta), &at(1.0), t, z, 200.0 * delta);
                        same(&at(1.0 - delta), &at(1.0), t, z, 200.0 * delta);
                    }
                }
            }
        }
    });
}

/// `D_AB^(a,b)(p‖q)` by the piecewise closed forms of spec §7.1 (general formula and the four limits).
fn ab_piecewise(a: f64, b: f64, lp: &[f64], lq: &[f64]) -> f64 {
    let mut s = 0.0;
    for (&x, &y) in lp.iter().zip(lq) {
        let (pa, qa) = ((a * x).exp(), (a * y).exp());
        let (pb, qb) = ((b * x).exp(), (b * y).exp());
        s += if a == 0.0 && b == 0.0 {
            0.5 * (x - y) * (x - y)
        } else if b == 0.0 {
            // (1/a²) [p^a log(p^a/q^a) − p^a + q^a]
            (pa * (a * x - a * y) - pa + qa) / (a * a)
        } else if a == 0.0 {
            // (1/b²) [q^b log(q^b/p^b) − q^b + p^b]
            (qb * (b * y - b * x) - qb + pb) / (b * b)
        } else if a + b == 0.0 {
            // (1/a²) [log(q^a/p^a) + (q^a/p^a)^(−1) − 1]
            (a * (y - x) + (a * (x - y)).exp() - 1.0) / (a * a)
        } else {
            // −1/(ab) [p^a q^b − a/(a+b) p^(a+b) − b/(a+b) q^(a+b)]
            let c = a + b;
            -(pa * qb - a / c * (c * x).exp() - b / c * (c * y).exp()) / (a * b)
        };
    }
    s
}

#[test]
fn unified_ab_matches_the_piecewise_forms() {
    for_random_inputs(4, |t, z, _| {
        if z.len() > 17 {
            return;
        }
        let (lq, _) = softmax(z);
        for (a, b) in [
            (0.2, 0.7),
            (0.0, 0.3),
            (0.3, 0.0),
            (0.5, -0.5),
            (0.0, 0.0),
            (1.0, 0.0),
            (0.0, 1.0),
            (1.5, -0.3),
            (2.0, 1.0),
            (-0.5, 1.2),
        ] {
            let spec = format!("ab:alpha={a},beta={b}");
            let v = value(&parse(&spec), t, z);
            let w = ab_piecewise(a, b, &t.logp, &lq);
            assert!(
                (v - w).abs() <= 1e-12 * w.abs(),
                "{spec}: unified {v:.16e} vs piecewise {w:.16e} (rel {:.2e})",
                (v - w).abs() / w.abs()
            );
        }
        // Next to the origin the unified form stays accurate. It agrees with the (0,0) value to ~1e-6
        // (the true gap is first order in a = b = 1e-7 and reaches 1e-6 relative on wide rows), and with
        // the first-order expansion D(ε,ε) = Σ ½ d² (1 + ε (lp + lq)) + O(ε²) to far better.
        let eps = 1e-7;
        let v = value(&parse("ab:alpha=1e-7,beta=1e-7"), t, z);
        let w = ab_piecewise(0.0, 0.0, &t.logp, &lq);
        assert!((v - w).abs() <= 5e-6 * w, "(1e-7,1e-7): {v} vs (0,0) {w}");
        let first_order: f64 = t
            .logp
            .iter()
            .zip(&lq)
            .map(|(x, y)| 0.5 * (x - y) * (x - y) * (1.0 + eps * (x + y)))
            .sum();
        assert!(
            (v - first_order).abs() <= 1e-10 * w,
            "(1e-7,1e-7): {v:.16e} vs first-order expansion {first_order:.16e}"
        );
        // And next to each limit line, continuous with it.
        for (a, b, a0, b0) in [
            (1e-9, 0.3, 0.0, 0.3),
            (0.3, 1e-9, 0.3, 0.0),
            (0.5, -0.5 + 1e-9, 0.5, -0.5),
        ] {
            let v = value(&parse(&format!("ab:alpha={a},beta={b}")), t, z);
            let w = ab_piecewise(a0, b0, &t.logp, &lq);
            assert!(
                (v - w).abs() <= 1e-6 * w,
                "({a},{b}): {v} vs ({a0},{b0}) {w}"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------------
// 5. Teachers with exact zeros
// ---------------------------------------------------------------------------------------------------

/// Teachers with zeros: from probabilities with some 0 entries, and from logits with -inf.
fn zero_teachers(n: usize, rng: &mut Rng) -> Vec<LogDist> {
    let mut probs: Vec<f64> = (0..n).map(|_| rng.range(0.05, 1.0)).collect();
    probs[1] = 0.0;
    if n > 4 {
        probs[n - 1] = 0.0;
        probs[n / 2] = 0.0;
    }
    let mut u = rng.logits(n, 0);
    u[0] = f64::NEG_INFINITY;
    if n > 4 {
        u[3] = f64::NEG_INFINITY;
    }
    let a = LogDist::from_probs(&probs).unwrap();
    let b = LogDist::from_logits(&u, true).unwrap();
    assert!(a.has_zeros() && b.has_zeros());
    vec![a, b]
}

fn zero_finite_specs() -> Vec<String> {
    let mut specs: Vec<String> = ["fkl", "tvd"].iter().map(|s| s.to_string()).collect();
    for beta in [0.01, 0.1, 0.5, 0.9, 0.99] {
        specs.push(format!("jsd:beta={beta}"));
        specs.push(format!("jsd:beta={beta},norm=true"));
    }
    specs.push("jsd:beta=0".into());
    for alpha in [0.0, 0.1, 0.5, 0.9] {
        specs.push(format!("skl:alpha={alpha}"));
    }
    for alpha in [0.1, 0.5, 0.9] {
        specs.push(format!("srkl:alpha={alpha}"));
        specs.push(format!("srkl:alpha={alpha},detach=true"));
    }
    for t in [0.0, 0.1, 0.4, 0.9, 1.0] {
        specs.push(format!("taid:t={t}"));
    }
    specs.extend(amid_specs(&["fkl", "ab"], &["pr"]));
    for (a, b) in [
        (1.0, 0.0),
        (0.2, 0.7),
        (0.5, 0.5),
        (0.3, 0.0),
        (1e-7, 1e-7),
        (2.0, 1.0),
        (1.5, -0.3),
        (0.5, -0.3),
    ] {
        specs.push(format!("ab:alpha={a},beta={b}"));
    }
    for a in [0.3, 0.5, 1.0] {
        specs.push(format!("alpha:alpha={a}"));
    }
    specs.push("hinton:T=2,a=0.5,label=0".into());
    specs
}

#[test]
fn zero_teacher_finite_divergences_have_finite_gradients() {
    for &n in &[2usize, 5, 17] {
        for seed in 0..2 {
            let mut rng = Rng::new(77 + 10 * n as u64 + seed);
            let z = rng.logits(n, seed);
            for t in zero_teachers(n, &mut rng) {
                for spec in zero_finite_specs() {
                    let div = parse(&spec);
                    let (v, g) = value_grad(&spec, &div, &t, &z);
                    assert!(v >= -1e-12, "{spec}: negative value {v}");
                    assert_sums_to_zero(&spec, &g);
                    if div.is_true_gradient() {
                        let f = |zz: &[f64]| value(&div, &t, zz);
                        check_fd(&format!("{spec} (zero teacher)"), &f, &z, &g, v, &mut rng);
                    }
                }
            }
        }
    }
}

#[test]
fn zero_teacher_infinite_divergences_report_inf_without_gradient() {
    let mut specs: Vec<String> = vec![
        "rkl".into(),
        "akl:mu=0.5".into(),
        "akl:mu=0.1".into(),
        "akl:mu=0.9".into(),
        "srkl:alpha=0".into(),
        "srkl:alpha=0,detach=true".into(),
        "jsd:beta=1".into(),
        "jsd:beta=1,norm=true".into(),
        "alpha:alpha=0".into(),
        "alpha:alpha=-1".into(),
    ];
    for (a, b) in [
        (0.0, 1.0),
        (0.0, 0.0),
        (0.0, 0.3),
        (-0.5, 1.2),
        (-1.0, -1.0),
        (-1.0, 2.0),
        (0.5, -0.5),
        (1.0, -2.0),
    ] {
        specs.push(format!("ab:alpha={a},beta={b}"));
    }
    for &n in &[2usize, 5, 17] {
        for seed in 0..2 {
            let mut rng = Rng::new(99 + 10 * n as u64 + seed);
            let z = rng.logits(n, seed);
            for t in zero_teachers(n, &mut rng) {
                for spec in &specs {
                    let ev = evaluate(&parse(spec), &t, &z).unwrap();
                    assert_eq!(ev.value, f64::INFINITY, "{spec}: teacher {:?}", t.p);
                    assert!(ev.grad.is_none(), "{spec}: gradient for an infinite value");
                }
            }
        }
    }
}

#[test]
fn zero_teacher_never_gives_nan() {
    for &n in &[2usize, 5, 17] {
        let mut rng = Rng::new(5 + n as u64);
        let z = rng.logits(n, 1);
        for t in zero_teachers(n, &mut rng) {
            for spec in all_specs(n) {
                let ev = evaluate(&parse(&spec), &t, &z).unwrap();
                assert!(
                    ev.value == f64::INFINITY || ev.value.is_finite(),
                    "{spec}: value {} with a zero teacher {:?}",
                    ev.value,
                    t.p
                );
                if let Some(g) = ev.grad {
                    assert!(g.iter().all(|x| x.is_finite()), "{spec}: gradient {g:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// 6. Extreme but valid inputs
// ---------------------------------------------------------------------------------------------------

fn extreme_cases(rng: &mut Rng) -> Vec<(String, Vec<f64>, Vec<f64>)> {
    let mut cases = Vec::new();
    for &n in &[2usize, 5, 17] {
        let wide = |rng: &mut Rng, s: f64| (0..n).map(|_| rng.range(-s, s)).collect::<Vec<f64>>();
        let moderate = rng.logits(n, 0);
        for s in [1e4, 700.0, 350.0] {
            cases.push((format!("n={n} both ±{s}"), wide(rng, s), wide(rng, s)));
            cases.push((
                format!("n={n} teacher ±{s}"),
                wide(rng, s),
                moderate.clone(),
            ));
            cases.push((
                format!("n={n} student ±{s}"),
                moderate.clone(),
                wide(rng, s),
            ));
        }
        let mut spread = vec![0.0; n];
        spread[0] = 700.0;
        spread[n - 1] = -700.0;
        cases.push((
            format!("n={n} teacher 700 spread"),
            spread.clone(),
            moderate.clone(),
        ));
        cases.push((
            format!("n={n} student 700 spread"),
            moderate.clone(),
            spread.clone(),
        ));
        let mut peaked = vec![0.0; n];
        peaked[0] = 60.0;
        let mut peaked2 = vec![0.0; n];
        peaked2[n - 1] = 60.0;
        cases.push((
            format!("n={n} peaked, same class"),
            peaked.clone(),
            peaked.clone(),
        ));
        cases.push((
            format!("n={n} peaked, other class"),
            peaked.clone(),
            peaked2.clone(),
        ));
        cases.push((
            format!("n={n} peaked vs flat"),
            peaked.clone(),
            vec![0.0; n],
        ));
        cases.push((
            format!("n={n} flat vs peaked"),
            vec![0.0; n],
            peaked2.clone(),
        ));
        cases.push((format!("n={n} flat vs flat"), vec![3.0; n], vec![-2.0; n]));
        let nearly: Vec<f64> = (0..n).map(|k| 1e-13 * k as f64).collect();
        cases.push((format!("n={n} nearly flat"), vec![0.0; n], nearly));
        cases.push((
            format!("n={n} shifted 1e4"),
            moderate.iter().map(|x| x + 1e4).collect(),
            moderate.iter().map(|x| x - 1e4).collect(),
        ));
    }
    cases
}

/// An estimate, not a divergence: rkl-est's k1 is one token's log-ratio, negative where the student
/// over-weights it (at least −10 with verl's clamps).
fn signed(spec: &str) -> bool {
    spec.starts_with("rkl-est") && spec.contains("kind=k1")
}

/// Uses the αβ kernel (`ab`, `alpha`, AMiD with `div=ab`).
fn uses_ab_kernel(spec: &str) -> bool {
    spec.starts_with("ab:") || spec.starts_with("alpha:") || spec.contains("div=ab")
}

/// Evaluates `specs` on every extreme case; returns the violations (NaN or -inf value, negative value,
/// non-finite gradient next to a finite value, finite value without a gradient).
fn extreme_violations(filter: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
    let mut rng = Rng::new(4242);
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for (name, u, z) in extreme_cases(&mut rng) {
        let t = teacher(&u);
        for spec in all_specs(z.len()).into_iter().filter(|s| filter(s)) {
            evaluated += 1;
            // The input/output policy (math::range): logits beyond ±1e5 are refused, and so are
            // values beyond f64 (αβ exponents below 0 only); any other refusal is a failure.
            let ev = match evaluate(&parse(&spec), &t, &z) {
                Ok(ev) => ev,
                Err(e) if e.contains("expected a finite logit in [-100000, 100000]") => continue,
                Err(e)
                    if uses_ab_kernel(&spec)
                        && (e.contains(" overflows") || e.contains("its gradient")) =>
                {
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{spec} [{name}; u={u:?}; z={z:?}]: refused: {e}"));
                    continue;
                }
            };
            let what = if ev.value.is_nan() {
                "NaN value".to_string()
            } else if ev.value == f64::NEG_INFINITY || (ev.value < -1e-9 && !signed(&spec)) {
                format!("negative value {}", ev.value)
            } else if ev.value.is_finite() {
                match &ev.grad {
                    None => "finite value without a gradient".to_string(),
                    Some(g) if g.iter().any(|x| !x.is_finite()) => {
                        format!("value {} with gradient {g:?}", ev.value)
                    }
                    Some(_) => continue,
                }
            } else {
                continue; // +inf: allowed, and `grad` is None by construction of `evaluate`
            };
            failures.push(format!("{spec} [{name}; u={u:?}; z={z:?}]: {what}"));
        }
    }
    (evaluated, failures)
}

fn report(evaluated: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {evaluated} evaluations fail; the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(12)].join("\n")
    );
}

#[test]
fn extreme_inputs_never_give_nan() {
    let (evaluated, failures) = extreme_violations(|s| !uses_ab_kernel(s));
    assert!(evaluated > 5000);
    report(evaluated, &failures);
}

/// The αβ kernel on the same rows: a class whose log-probability is finite but whose probability
/// underflows (log p < about −709/|exponent|) must not turn the value or the gradient into NaN.
#[test]
fn extreme_inputs_never_give_nan_ab_kernel() {
    let (evaluated, failures) = extreme_violations(uses_ab_kernel);
    assert!(evaluated > 5000);
    report(evaluated, &failures);
}

/// The smallest rows showing the αβ failure above: `ab:alpha=1,beta=0` is FKL and `ab:alpha=0,beta=1`
/// is RKL (spec §7.1), so their values and gradients are known exactly.
#[test]
fn ab_with_an_underflowed_class_equals_kl() {
    let half = [-0.5, 0.5];
    // (spec, teacher logits, student logits, value, gradient)
    type Case = (&'static str, [f64; 2], [f64; 2], f64, [f64; 2]);
    let cases: [Case; 4] = [
        // Teacher p = (1, e^-800 = 0 in f64, log p finite); FKL = ln 2, gradient q − p.
        (
            "ab:alpha=1,beta=0",
            [0.0, -800.0],
            [0.0, 0.0],
            std::f64::consts::LN_2,
            half,
        ),
        // Student q = (1, e^-800 = 0 in f64); FKL = ½ log(½/1) + ½ (log ½ + 800) ≈ 399.3, gradient q − p.
        (
            "ab:alpha=1,beta=0",
            [0.0, 0.0],
            [0.0, -800.0],
            0.5 * (0.5f64.ln() + (0.5f64.ln() + 800.0)),
            [0.5, -0.5],
        ),
        // RKL with the same student: ln 2, and a zero gradient (q log q/p is flat in z here).
        (
            "ab:alpha=0,beta=1",
            [0.0, 0.0],
            [0.0, -800.0],
            std::f64::consts::LN_2,
            [0.0, 0.0],
        ),
        // D_AB^(2,1) with p = (1, e^-400 ≈ 1e-174), q = (½, ½):
        // −1/(ab) Σ [p^a q^b − a/(a+b) p^(a+b) − b/(a+b) q^(a+b)] = −½ [(½ − ⅔ − 1/24) − 1/24] = 1/8,
        // gradient w − q Σw with w = q^b (q^a − p^a)/a = (−3/16, 1/16).
        (
            "ab:alpha=2,beta=1",
            [0.0, -400.0],
            [0.0, 0.0],
            0.125,
            [-0.125, 0.125],
        ),
    ];
    let mut failures = Vec::new();
    for (spec, u, z, v, g) in cases {
        let ev = evaluate(&parse(spec), &teacher(&u), &z).unwrap();
        let ok = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        let grad_ok = ev
            .grad
            .as_ref()
            .is_some_and(|gr| gr.iter().zip(&g).all(|(a, b)| ok(*a, *b)));
        if !ok(ev.value, v) || !grad_ok {
            failures.push(format!(
                "{spec} u={u:?} z={z:?}: value {} grad {:?}; expected {v} and {g:?}",
                ev.value, ev.grad
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Hinton's high-temperature limit (spec §3): `T (q^T − p^T) → ((z − z̄) − (u − ū)) / V`, i.e. the soft
/// term becomes logit matching; the error is O(|z|/T).
#[test]
fn hinton_high_temperature_is_logit_matching() {
    for &n in &[2usize, 5, 17] {
        let mut rng = Rng::new(31 + n as u64);
        let u: Vec<f64> = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
        let z: Vec<f64> = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
        let mean = |x: &[f64]| x.iter().sum::<f64>() / n as f64;
        let (ub, zb) = (mean(&u), mean(&z));
        let (_, g) = value_grad("hinton", &parse("hinton:T=100,a=1"), &teacher(&u), &z);
        let expect: Vec<f64> = (0..n)
            .map(|k| ((z[k] - zb) - (u[k] - ub)) / n as f64)
            .collect();
        let size = expect.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for k in 0..n {
            assert!(
                (g[k] - expect[k]).abs() <= 0.03 * size,
                "n={n} k={k}: {} vs logit matching {}",
                g[k],
                expect[k]
            );
        }
    }
}

/// One `Workspace` reused across families, sizes, teachers and AKL's μ (its head-mask cache included)
/// gives exactly what a fresh evaluation gives.
#[test]
fn reused_workspace_matches_fresh_evaluation() {
    let mut ws = Workspace::default();
    let mut rng = Rng::new(2024);
    for round in 0..3 {
        for &n in &[17usize, 2, 5, 17, 5] {
            let t = teacher(&rng.logits(n, round));
            let z = rng.logits(n, round + 1);
            let student = LogDist::from_logits(&z, false).unwrap();
            for spec in all_specs(n) {
                let div = parse(&spec);
                let fresh = evaluate(&div, &t, &z).unwrap();
                let mut grad = vec![f64::NAN; n];
                let v = value_and_grad(&div, &t, &student, &mut grad, &mut ws);
                assert_eq!(v.to_bits(), fresh.value.to_bits(), "{spec} n={n}");
                if let Some(g) = fresh.grad {
                    assert_eq!(grad, g, "{spec} n={n}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// 5. The families of 2024–2026 (practice.md §1–§8)
// ---------------------------------------------------------------------------------------------------

#[test]
fn dkd_gradients_match_finite_differences() {
    for_random_inputs(3, |t, z, rng| {
        for spec in dkd_specs(z.len()) {
            check_true_gradient(&spec, t, z, rng);
        }
    });
}

/// ToDi's gradient is d/dz of Σ w⁺ p d − w⁻ q d with the weights w± frozen at the current z.
#[test]
fn todi_gradient_freezes_the_sigmoid_weights() {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let mut differs = 0;
    for_random_inputs(3, |t, z, rng| {
        for beta in [0.5, 1.0, 4.0] {
            let spec = format!("todi:beta={beta}");
            let (v, g) = value_grad(&spec, &parse(&spec), t, z);
            let lq0 = softmax(z).0;
            let w: Vec<f64> = (t.logp.iter().zip(&lq0))
                .map(|(a, b)| sigmoid(beta * (a - b)))
                .collect();
            let frozen = |zz: &[f64]| {
                let (lq, q) = softmax(zz);
                (0..zz.len())
                    .map(|k| {
                        let d = t.logp[k] - lq[k];
                        w[k] * t.p[k] * d - (1.0 - w[k]) * q[k] * d
                    })
                    .sum::<f64>()
            };
            close(&format!("{spec} value"), v, frozen(z), 1e-13);
            check_fd(&format!("{spec} (frozen weights)"), &frozen, z, &g, v, rng);
            let live = |zz: &[f64]| value(&parse(&spec), t, zz);
            let fd = fd_dir(&live, z, &g);
            let an: f64 = g.iter().map(|x| x * x).sum();
            differs += usize::from((fd - an).abs() > 1e-6 * (1.0 + an));
        }
    });
    assert!(
        differs > 10,
        "ToDi's gradient should differ from d(value)/dz ({differs})"
    );
}

/// EA-KD's gradient is w·T·(q^T − p^T), the row weight w frozen: w times the FD of T²·KL.
#[test]
fn eakd_gradient_freezes_the_row_weight() {
    for_random_inputs(3, |t, z, rng| {
        for spec in EAKD_SPECS {
            let div = parse(spec);
            let (v, g) = value_grad(spec, &div, t, z);
            let (temperature, wt, hub) = match div {
                Divergence::Eakd {
                    temperature,
                    entropy_temperature,
                    hub,
                } => (temperature, entropy_temperature, hub),
                _ => unreachable!(),
            };
            let scaled = |l: &[f64], s: f64| softmax(&l.iter().map(|x| x / s).collect::<Vec<_>>());
            let entropy = |p: &[f64]| -p.iter().map(|x| x * (x + 1e-10).ln()).sum::<f64>();
            let ht = entropy(&scaled(&t.logp, wt).1);
            let hs = entropy(&scaled(z, wt).1);
            let hub = hub.unwrap_or((z.len() as f64).ln());
            let w = 0.5 * (ht + ht * hs / hub);
            let soft = |zz: &[f64]| {
                w * temperature
                    * temperature
                    * kl(&scaled(&t.logp, temperature).0, &scaled(zz, temperature).0)
            };
            close(&format!("{spec} value"), v, soft(z), 1e-12);
            check_fd(&format!("{spec} (frozen weight)"), &soft, z, &g, v, rng);
        }
    });
}

/// ULD's gradient holds the sort order fixed: away from ties and kinks it is the derivative.
#[test]
fn uld_subgradient_matches_finite_differences_away_from_ties() {
    let div = parse("uld");
    let mut checked = 0;
    for_random_inputs(12, |t, z, rng| {
        let (_, q) = softmax(z);
        let mut ps = t.p.clone();
        let mut qs = q.clone();
        ps.sort_by(|a, b| b.total_cmp(a));
        qs.sort_by(|a, b| b.total_cmp(a));
        let kink = ps
            .iter()
            .zip(&qs)
            .map(|(a, b)| (a - b).abs())
            .fold(f64::INFINITY, f64::min);
        let tie = qs
            .windows(2)
            .map(|w| w[0] - w[1])
            .fold(f64::INFINITY, f64::min);
        let (v, g) = value_grad("uld", &div, t, z);
        close(
            "uld value",
            v,
            ps.iter().zip(&qs).map(|(a, b)| (a - b).abs()).sum(),
            1e-14,
        );
        if kink.min(tie) < 1e-3 {
            return;
        }
        let f = |zz: &[f64]| value(&div, t, zz);
        check_fd("uld", &f, z, &g, v, rng);
        checked += 1;
    });
    assert!(checked >= 12, "only {checked} tie-free samples");
}

/// Vocabularies of different sizes: ULD pads the shorter sorted vector with zeros; FD still holds.
#[test]
fn uld_with_different_vocabularies_matches_finite_differences() {
    let div = parse("uld");
    let mut rng = Rng::new(77);
    for (vt, vs) in [(6, 4), (4, 6), (2, 9), (17, 5)] {
        let u = rng.logits(vt, 0);
        let z = rng.logits(vs, 1);
        let t = teacher(&u);
        let (v, g) = value_grad("uld", &div, &t, &z);
        assert_eq!(g.len(), vs);
        let f = |zz: &[f64]| value(&div, &t, zz);
        check_fd(&format!("uld {vt}→{vs}"), &f, &z, &g, v, &mut rng);
    }
}

#[test]
fn limits_of_the_new_families() {
    for_random_inputs(3, |t, z, rng| {
        same("wsd:lambda=0", "fkl", t, z, 1e-15);
        same("wsd:lambda=1", "rkl", t, z, 1e-15);
        // Jeffreys = FKL + RKL = 2·wsd(½).
        let (vj, gj) = value_grad("jeffreys", &parse("jeffreys"), t, z);
        let (vw, gw) = value_grad("wsd", &parse("wsd:lambda=0.5"), t, z);
        close("jeffreys = 2 wsd", vj, 2.0 * vw, 1e-14);
        close_vec(
            "jeffreys grad = 2 wsd grad",
            &gj,
            &gw.iter().map(|x| 2.0 * x).collect::<Vec<_>>(),
            1e-14,
        );
        // ToDi at β = 1 has Jeffreys' value (σ(d) = p/(p+q)), not its gradient.
        let (vt, _) = value_grad("todi", &parse("todi"), t, z);
        close("todi(β=1) = jeffreys", vt, vj, 1e-12);
        // Rényi → FKL as α → 1 (value and gradient), exactly FKL at 1.
        same("renyi:alpha=1", "fkl", t, z, 1e-15);
        let (vf, gf) = value_grad("fkl", &parse("fkl"), t, z);
        for a in [1.0 - 1e-7, 1.0 + 1e-7] {
            let spec = format!("renyi:alpha={a}");
            let (vr, gr) = value_grad(&spec, &parse(&spec), t, z);
            close(&format!("{spec} → fkl"), vr, vf, 1e-6);
            close_vec(&format!("{spec} grad → fkl"), &gr, &gf, 1e-6);
        }
        // Rényi's gradient is TAID's at t = α (the values differ).
        for a in [0.2, 0.4, 0.9] {
            let (_, gr) = value_grad("renyi", &parse(&format!("renyi:alpha={a}")), t, z);
            let (_, gt) = value_grad("taid", &parse(&format!("taid:t={a}")), t, z);
            close_vec(
                &format!("renyi:alpha={a} grad = taid:t={a} grad"),
                &gr,
                &gt,
                1e-12,
            );
            let f = |zz: &[f64]| renyi(a, &t.logp, &softmax(zz).0);
            check_fd(&format!("renyi {a} (closed form)"), &f, z, &gr, f(z), rng);
        }
        // DKD: KD = TCKD + (1 − p^T_y)·NCKD, so dkd with α = 1, β = 1 − p^T_y is Hinton's soft term
        // (β depends on the teacher only: the gradients agree too).
        for (temperature, label) in [(1.0, 0), (2.5, z.len() - 1)] {
            let lpt: Vec<f64> = t.logp.iter().map(|x| x / temperature).collect();
            let beta = 1.0 - softmax(&lpt).1[label];
            same(
                &format!("dkd:alpha=1,beta={beta},T={temperature},label={label}"),
                &format!("hinton:T={temperature},a=1,label={label}"),
                t,
                z,
                1e-11,
            );
        }
    });
}

/// AKL's DSKD convention: the same weighted FKL + RKL, with its own head (practice.md §8).
#[test]
fn akl_dskd_gradient_is_fkl_rkl_with_frozen_weights() {
    for_random_inputs(3, |t, z, _| {
        for mu in [0.1, 0.5, 0.9] {
            let spec = format!("akl:mu={mu},convention=dskd");
            let (v, g) = value_grad(&spec, &parse(&spec), t, z);
            let head = kdviz::math::akl::dskd_head_mask(&t.p, mu);
            let (_, q) = softmax(z);
            let (gh, gt) = gaps(&t.p, &q, &head);
            let (wh, wt) = weights(gh, gt);
            let (vf, gf) = value_grad("fkl", &parse("fkl"), t, z);
            let (vr, gr) = value_grad("rkl", &parse("rkl"), t, z);
            close(&format!("{spec} value"), v, wh * vf + wt * vr, 1e-12);
            let mix: Vec<f64> = gf.iter().zip(&gr).map(|(a, b)| wh * a + wt * b).collect();
            close_vec(&format!("{spec} grad"), &g, &mix, 1e-12);
        }
    });
}
