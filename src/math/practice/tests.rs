//! practice.md §13.2, §13.3, §13.5 and the extra checks after §13.7; finite differences, the
//! sampled support's unbiasedness, the refusal table and round trips.
#![allow(clippy::excessive_precision)] // the spec's 17-digit vectors, copied as printed

use super::*;
use crate::math::Divergence;
use crate::math::reference_rows::{A_U, A_Z, B_U, B_Z, C_U, C_Z, D_U, D_Z};
use crate::math::sampler::Sampler;

fn loss(spec: &str) -> Loss {
    spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// Value, gradient and outcome of `spec` on one row (stream 0, as `eval`).
fn run(spec: &str, u: &[f64], z: &[f64]) -> (f64, Vec<f64>, Outcome) {
    let mut g = vec![0.0; z.len()];
    let out = evaluate(
        &loss(spec),
        u,
        z,
        0,
        &mut g,
        &mut PracticeWorkspace::default(),
    )
    .unwrap_or_else(|e| panic!("{spec}: {e}"));
    (out.value, g, out)
}

/// 1e-9, relative above 1 (the spec's values are of order 1).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn check(spec: &str, u: &[f64], z: &[f64], value: f64, grad: &[f64]) {
    let (v, g, _) = run(spec, u, z);
    assert!(close(v, value), "{spec}: value {v} expected {value}");
    assert_eq!(g.len(), grad.len(), "{spec}");
    for (k, (&a, &b)) in g.iter().zip(grad).enumerate() {
        assert!(close(a, b), "{spec}: grad[{k}] {a} expected {b}");
    }
}

/// §13.2: temperature, soft-capping, standardisation.
#[test]
fn vectors_13_2_temperature_softcap_std() {
    check(
        "fkl:tt=2,st=2,t2=true",
        &A_U,
        &A_Z,
        0.24253992501537885,
        &[
            -0.12199574847953287,
            0.048476534204346666,
            -0.17129891842587816,
            0.06492607767543207,
            0.061356262349879787,
            0.11853579267575262,
        ],
    );
    check(
        "rkl:tt=0.5",
        &B_U,
        &B_Z,
        1.8437531429087197,
        &[
            -0.81735701682722883,
            1.1772922367247989,
            -0.063832559591305751,
            -0.29610266030626498,
        ],
    );
    check(
        "jsd:tt=2",
        &A_U,
        &A_Z,
        0.030429459332797847,
        &[
            -0.020110697064949865,
            0.01896979356244614,
            -0.023342228174193572,
            0.017164579027718934,
            0.0014545227771537101,
            0.005864029871824653,
        ],
    );
    check(
        "jsd:softcap=5",
        &C_U,
        &C_Z,
        0.3476598697381062,
        &[
            -0.025267993639576356,
            0.0061552318804082365,
            -1.619011461163081e-05,
            -0.035733799354746278,
        ],
    );
    check(
        "fkl:softcap=8,tt=2,st=2,t2=true",
        &C_U,
        &C_Z,
        5.8771558416646954,
        &[
            -0.32060054187889619,
            0.30569142880148725,
            -0.060827198565925403,
            -0.58089988654121238,
        ],
    );
    check(
        "fkl:std=true,tt=2,st=2,t2=true",
        &A_U,
        &A_Z,
        0.53198720524136378,
        &[
            -0.27117681374082703,
            -0.043030734044654906,
            -0.11686284162799837,
            0.0048663999073649267,
            0.11485009609922735,
            0.31135389340688813,
        ],
    );
    check(
        "dkd:alpha=1,beta=0.5,T=2,label=1,std=true",
        &B_U,
        &B_Z,
        0.60353714297238947,
        &[
            -0.34831321675430665,
            0.35296085521323756,
            0.13682666217506828,
            -0.14147430063399916,
        ],
    );
}

/// §13.5: storage rounding alone.
#[test]
fn vectors_13_5_storage_rounding() {
    check(
        "fkl:precision=bf16",
        &A_U,
        &A_Z,
        0.20593083085986882,
        &[
            -0.12151424469640437,
            0.062849950333045551,
            -0.14173786217907658,
            0.075925873814383205,
            0.051681934069324087,
            0.072794348658727859,
        ],
    );
    check(
        "jsd:precision=f16,tprecision=bf16",
        &B_U,
        &B_Z,
        0.13035797372630006,
        &[
            -0.077859822382427862,
            0.11152188009295899,
            -0.013847553161276002,
            -0.019814504549255117,
        ],
    );
}

/// §13.3: the supports.
#[test]
fn vectors_13_3_supports() {
    check(
        "fkl:support=topk,k=2",
        &D_U,
        &D_Z,
        -0.12795741677552033,
        &[
            0.060855852236064822,
            -0.084068492040165421,
            0.014448924247890035,
            0.0087637155562106089,
        ],
    );
    check(
        "fkl:support=topk,k=2,clamp=true",
        &D_U,
        &D_Z,
        0.0,
        &[0.0; 4],
    );
    check(
        "fkl:support=topk,k=3",
        &A_U,
        &A_Z,
        0.34948924008770149,
        &[
            -0.1624237404088486,
            -0.028608633721486004,
            -0.16185125362859734,
            0.18046793661709279,
            0.099042903557339759,
            0.073372787584499416,
        ],
    );
    check(
        "fkl:support=topk,k=2,lpmin=-1.5",
        &B_U,
        &B_Z,
        0.47868536308743975,
        &[
            -0.43172581847698255,
            0.27467224251648853,
            0.033635381758806024,
            0.12341819420168808,
        ],
    );
    check(
        "rkl:support=topk,k=3",
        &A_U,
        &A_Z,
        -0.090577158130613941,
        &[
            -0.0069421969131570962,
            0.24604387812164513,
            -0.035862505680835099,
            -0.103938385807717,
            -0.0570425955681053,
            -0.042258194151830616,
        ],
    );
    check(
        "fkl:support=topk-renorm,k=3",
        &A_U,
        &A_Z,
        0.1636545330892385,
        &[
            -0.098501756303155108,
            0.26569694398430843,
            -0.16719518768115338,
            0.0,
            0.0,
            0.0,
        ],
    );
    check(
        "fkl:support=topk-renorm,k=3,renorm=teacher",
        &A_U,
        &A_Z,
        0.88534280273731791,
        &[
            -0.23661335911432566,
            -0.041676080771646862,
            -0.23577937992025697,
            0.26289952803645222,
            0.14428232011003272,
            0.10688697165974448,
        ],
    );
    check(
        "fkl:support=topk-renorm,k=2,renorm=teacher",
        &B_U,
        &B_Z,
        0.76396795197522316,
        &[
            -0.43250934738091612,
            0.45907020656797337,
            0.056216097813672608,
            -0.082776957000729623,
        ],
    );
    check(
        "jsd:support=topk-renorm,k=3",
        &B_U,
        &B_Z,
        0.0092290999244978907,
        &[
            -0.029433153977218834,
            0.0,
            -0.0031488115204883482,
            0.032581965497707185,
        ],
    );
    check(
        "fkl:support=topk-tail,k=2",
        &A_U,
        &A_Z,
        0.054684870706259256,
        &[
            -0.12148942354185666,
            0.062492363845884108,
            0.0066070115533234178,
            0.026792753031979505,
            0.014704174626943844,
            0.010893120483725802,
        ],
    );
    check(
        "fkl:support=topk-tail,k=2",
        &D_U,
        &D_Z,
        0.21921376558174585,
        &[
            0.18119833550090014,
            -0.024308183429084564,
            -0.097657739130779575,
            -0.059232412941035983,
        ],
    );
    check(
        "fkl:support=topk-tail,k=1",
        &B_U,
        &B_Z,
        0.22238456243309465,
        &[
            -0.31988279969116906,
            0.20351556977431623,
            0.024921789768433289,
            0.091445440148419654,
        ],
    );
    check(
        "jsd:support=topk-tail,k=3",
        &A_U,
        &A_Z,
        0.043378222393173044,
        &[
            -0.027998578538690574,
            0.009719405164000508,
            -0.025437811690615677,
            0.022357268711955123,
            0.01226992922040188,
            0.0090897871329487356,
        ],
    );
    check(
        "fkl:support=sampled,n=16,seed=3",
        &A_U,
        &A_Z,
        0.43988454599452442,
        &[
            -0.11944795800340016,
            0.22804891276170036,
            -0.18516977456452963,
            -0.049600471963547776,
            0.019282320110032697,
            0.10688697165974448,
        ],
    );
    check(
        "fkl:support=sampled,n=8,seed=42",
        &B_U,
        &B_Z,
        0.65329607386377198,
        &[
            -0.34655984475591223,
            0.45907020656797337,
            -0.06878390218632742,
            -0.043726459625733571,
        ],
    );
}

/// What the outcome reports: P_K, Q_K, the overlap, the clamp, the eps rule and the counts.
#[test]
fn outcomes_report_the_support() {
    let (_, _, out) = run("fkl:support=topk,k=2,clamp=true", &D_U, &D_Z);
    let top = out.support.top_k.unwrap();
    assert_eq!((top.k, top.overlap), (2, 2));
    assert!(top.q_k > top.p_k, "D: the student over-confident on K");
    assert_eq!(out.support.clamped, Some(true));
    let (_, _, out) = run("fkl:support=topk,k=2,lpmin=-1.5", &B_U, &B_Z);
    assert_eq!(out.support.lpmin_active, Some(true)); // lq of class 3 is below −1.5
    let (_, _, out) = run("fkl:support=topk-tail,k=2", &A_U, &A_Z);
    assert_eq!(out.support.tail_active, Some(true));
    let (_, _, out) = run("fkl:support=topk-tail,k=2,eps=0.9", &A_U, &A_Z);
    assert_eq!(out.support.tail_active, Some(false));
    let (_, _, out) = run("fkl:support=sampled,n=16,seed=3", &A_U, &A_Z);
    assert_eq!(out.support.counts, Some(vec![4, 1, 4, 5, 2, 0]));
    // The overlap counts the student's top-k among the teacher's: A's teacher top-2 is {0, 1},
    // the student's {1, 3}.
    let (_, _, out) = run("fkl:support=topk,k=2", &A_U, &A_Z);
    assert_eq!(out.support.top_k.unwrap().overlap, 1);
}

/// Extra checks after §13.7 (those that involve only this module's keys).
#[test]
fn extra_checks() {
    let same = |a: &str, b: &str, u: &[f64], z: &[f64]| {
        let (va, ga, _) = run(a, u, z);
        let (vb, gb, _) = run(b, u, z);
        assert!(close(va, vb), "{a} = {va}, {b} = {vb}");
        for (x, y) in ga.iter().zip(&gb) {
            assert!(close(*x, *y), "{a} vs {b}: {ga:?} {gb:?}");
        }
    };
    for (u, z) in [(&A_U[..], &A_Z[..]), (&B_U, &B_Z), (&D_U, &D_Z)] {
        let v = u.len();
        same(&format!("fkl:support=topk-tail,k={v}"), "fkl", u, z);
        same(&format!("fkl:support=topk-renorm,k={v}"), "fkl", u, z);
        for t in ["0.5", "2", "3"] {
            same(
                &format!("fkl:tt={t},st={t},t2=true"),
                &format!("hinton:T={t},a=1"),
                u,
                z,
            );
        }
        same("jsd:beta=0.5,compute=exact,precision=f64", "jsd", u, z);
        // jsd with β = 0 / 1 is fkl / rkl under every support.
        for support in [
            "",
            ",support=topk,k=2",
            ",support=topk-renorm,k=2",
            ",support=topk-renorm,k=2,renorm=teacher",
            ",support=topk-tail,k=2",
        ] {
            let bare = support.replacen(',', ":", 1);
            same(&format!("jsd:beta=0{support}"), &format!("fkl{bare}"), u, z);
            same(&format!("jsd:beta=1{support}"), &format!("rkl{bare}"), u, z);
        }
        same(
            "jsd:beta=0,support=sampled,n=16,seed=5",
            "fkl:support=sampled,n=16,seed=5",
            u,
            z,
        );
    }
}

/// Central differences of the value w.r.t. the raw student logits, wherever the gradient is a
/// true gradient (decisions — K, the eps rule, the clamp — are away from their thresholds here).
#[test]
fn gradients_match_finite_differences() {
    let specs = [
        "fkl:std=true",
        "rkl:std=true,tt=2,st=3,t2=true",
        "jsd:softcap=2",
        "skl:alpha=0.2,softcap=1.5,std=true",
        "ab:alpha=0.3,beta=0.6,tt=0.7,st=1.3",
        "fkl:support=topk,k=2",
        "fkl:support=topk,k=3,lpmin=-1.2",
        "rkl:support=topk,k=3",
        "jsd:beta=0.3,support=topk,k=2,st=2",
        "skl:alpha=0.1,support=topk,k=3",
        "srkl:alpha=0.2,support=topk,k=2",
        "alpha:alpha=0.5,support=topk,k=3",
        "wsd:lambda=0.3,support=topk,k=2",
        "jeffreys:support=topk,k=3",
        "fkl:support=topk-renorm,k=3",
        "rkl:support=topk-renorm,k=2,softcap=3",
        "renyi:alpha=2,support=topk-renorm,k=3",
        "fkl:support=topk-renorm,k=3,renorm=teacher",
        "jsd:support=topk-renorm,k=2,renorm=teacher",
        "fkl:support=topk-tail,k=2",
        "fkl:support=topk-tail,k=1,std=true",
        "rkl:support=topk-tail,k=2",
        "jsd:beta=0.7,support=topk-tail,k=3",
        "renyi:alpha=0.5,support=topk-tail,k=2",
        "skl:alpha=0.3,support=topk-tail,k=3",
        "fkl:precision=bf16,tt=1.5",
    ];
    for spec in specs {
        for (u, z) in [(&A_U[..], &A_Z[..]), (&B_U, &B_Z), (&D_U, &D_Z)] {
            let (_, g, _) = run(spec, u, z);
            let h = 1e-6;
            for j in 0..z.len() {
                let at = |d: f64| {
                    let mut zz = z.to_vec();
                    zz[j] += d;
                    run(spec, u, &zz).0
                };
                // bf16 storage is piecewise constant: its gradient is straight-through, so
                // compare against the difference of the unrounded loss.
                let fd = if spec.contains("bf16") {
                    let mut g2 = vec![0.0; z.len()];
                    let mut ub = u.to_vec();
                    crate::math::precision::round_all(
                        &mut ub,
                        crate::math::precision::Format::Bf16,
                    );
                    let mut zb = z.to_vec();
                    crate::math::precision::round_all(
                        &mut zb,
                        crate::math::precision::Format::Bf16,
                    );
                    let plain = loss("fkl:tt=1.5");
                    let mut ws = PracticeWorkspace::default();
                    evaluate(&plain, &ub, &zb, 0, &mut g2, &mut ws).unwrap();
                    assert!((g2[j] - g[j]).abs() < 1e-12, "{spec}: straight-through");
                    continue;
                } else {
                    (at(h) - at(-h)) / (2.0 * h)
                };
                assert!(
                    (fd - g[j]).abs() < 1e-7 * g[j].abs().max(1.0),
                    "{spec} on {u:?}: grad[{j}] {} vs finite difference {fd}",
                    g[j]
                );
            }
        }
    }
}

/// §10.4: `E[q − p̂] = q − p`; the mean over seeds of the sampled fkl gradient is within 5 sd/√m
/// of the full fkl gradient, per class.
#[test]
fn the_sampled_gradient_is_unbiased() {
    let n = 16;
    let seeds = 4000;
    let (_, full, _) = run("fkl", &A_U, &A_Z);
    let spec = loss(&format!("fkl:support=sampled,n={n}"));
    let mut ws = PracticeWorkspace::default();
    let mut g = vec![0.0; 6];
    let (mut sum, mut sum2) = ([0.0; 6], [0.0; 6]);
    for stream in 0..seeds {
        evaluate(&spec, &A_U, &A_Z, stream, &mut g, &mut ws).unwrap();
        for j in 0..6 {
            sum[j] += g[j];
            sum2[j] += g[j] * g[j];
        }
    }
    let m = seeds as f64;
    for j in 0..6 {
        let mean = sum[j] / m;
        let sd = (sum2[j] / m - mean * mean).sqrt();
        assert!(sd > 0.0, "class {j} never varies");
        assert!(
            (mean - full[j]).abs() < 5.0 * sd / m.sqrt(),
            "class {j}: mean {mean} vs {} (sd {sd})",
            full[j]
        );
    }
    // §10.5: row r of epoch e draws from seed + e·rows + r, so stream 5 of seed 3 is seed 8.
    let mut g8 = vec![0.0; 6];
    let a = evaluate(
        &loss("fkl:support=sampled,n=16,seed=3"),
        &A_U,
        &A_Z,
        5,
        &mut g,
        &mut ws,
    );
    let b = evaluate(
        &loss("fkl:support=sampled,n=16,seed=8"),
        &A_U,
        &A_Z,
        0,
        &mut g8,
        &mut ws,
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.support.counts, b.support.counts);
    assert_ne!(
        a.support.counts,
        run("fkl:support=sampled,n=16,seed=3", &A_U, &A_Z)
            .2
            .support
            .counts
    );
    let mut direct = Vec::new();
    let p = crate::math::LogDist::from_logits(&A_U, false).unwrap().p;
    Sampler::for_row(3, 1, 4, 1).counts(&p, 16, &mut direct);
    assert_eq!(a.support.counts, Some(direct));
}

/// Every row of §0.2's refusal table, refused even at the key's default value.
#[test]
fn the_refusal_table() {
    let msg = |s: &str| s.parse::<Loss>().unwrap_err().to_string();
    // Any key: unknown, twice, malformed, out of range.
    assert_eq!(
        msg("fkl:foo=1"),
        "fkl: unknown parameter \"foo\"; expected a practice option (tt, st, t2, std, softcap, \
         support, k, renorm, clamp, lpmin, eps, n, seed, precision, tprecision, compute)"
    );
    assert!(msg("akl:bar=1").starts_with(
        "akl: unknown parameter \"bar\"; expected one of mu, convention, or a practice option"
    ));
    assert_eq!(msg("fkl:tt=2,tt=3"), "fkl: parameter \"tt\" is given twice");
    assert_eq!(
        msg("fkl:tt=x"),
        "fkl: tt=\"x\" is not a number; expected a number in [0.01, 100]"
    );
    assert_eq!(
        msg("fkl:tt=0"),
        "fkl: tt=0 is out of range; expected a number in [0.01, 100]"
    );
    assert_eq!(
        msg("fkl:softcap=inf"),
        "fkl: softcap=inf is out of range; expected a number in (0, 1000000]"
    );
    assert_eq!(
        msg("fkl:support=topk,k=2.0"),
        "fkl: k=\"2.0\" is not a decimal integer; expected an integer in 1..V"
    );
    assert_eq!(
        msg("fkl:support=sampled,n=1e3"),
        "fkl: n=\"1e3\" is not a decimal integer; expected an integer in [1, 1000000]"
    );
    assert_eq!(
        msg("fkl:support=sampled,n=1000001"),
        "fkl: n=1000001 is out of range; expected an integer in [1, 1000000]"
    );
    assert_eq!(
        msg("fkl:support=sampled,seed=18446744073709551616"),
        "fkl: seed=18446744073709551616 is out of range; expected an integer in [0, 2^64)"
    );
    assert_eq!(
        msg("fkl:t2=maybe"),
        "fkl: t2=\"maybe\"; expected true or false"
    );
    assert_eq!(
        msg("fkl:support=all"),
        "fkl: support=\"all\"; expected full, topk, topk-renorm, topk-tail or sampled"
    );
    assert_eq!(
        msg("fkl:precision=f8"),
        "fkl: precision=\"f8\"; expected f64, f32, bf16 or f16"
    );
    // tt, st, t2 with a family that has its own T, even at their defaults.
    for (spec, fam, key) in [
        ("bild:tt=1", "bild", "tt"),
        ("hinton:st=1", "hinton", "st"),
        ("dkd:t2=false", "dkd", "t2"),
        ("eakd:tt=2", "eakd", "tt"),
    ] {
        assert_eq!(
            msg(spec),
            format!("{fam}: {key} is not accepted; {fam} has its own temperature (use T=…)")
        );
    }
    // support ≠ full with the families that have logit structure or their own sampling.
    for fam in ["taid", "amid", "hinton", "dkd", "bild", "eakd"] {
        assert_eq!(
            msg(&format!("{fam}:support=topk-tail,k=2")),
            format!("{fam}: support must be full")
        );
    }
    // A family outside the support's list.
    assert_eq!(
        msg("akl:support=topk,k=2"),
        "akl: support=topk needs a per-class divergence (fkl, rkl, jsd, tvd, skl, srkl, ab, \
         alpha, todi, wsd, jeffreys); use support=topk-renorm or topk-tail"
    );
    assert!(
        msg("renyi:support=topk-renorm,k=2,renorm=teacher")
            .starts_with("renyi: renorm=teacher needs a per-class divergence")
    );
    assert!(msg("rkl:support=sampled").starts_with("rkl: support=sampled needs a family"));
    assert!(msg("jsd:beta=1,support=sampled").starts_with("jsd: support=sampled needs"));
    // k renorm clamp eps lpmin without a top-k support; a top-k support without k.
    for key in ["k=2", "renorm=both", "clamp=false", "eps=1e-7", "lpmin=-10"] {
        let name = key.split('=').next().unwrap();
        assert_eq!(
            msg(&format!("fkl:{key}")),
            format!("fkl: {name} needs support=topk, topk-renorm or topk-tail")
        );
    }
    assert_eq!(msg("fkl:support=topk"), "fkl: support=topk needs k");
    assert_eq!(
        msg("jsd:support=topk-tail"),
        "jsd: support=topk-tail needs k"
    );
    // renorm only with topk-renorm, eps only with topk-tail.
    assert_eq!(
        msg("fkl:support=topk,k=2,renorm=both"),
        "fkl: renorm needs support=topk-renorm"
    );
    assert_eq!(
        msg("fkl:support=topk-renorm,k=2,eps=1e-7"),
        "fkl: eps needs support=topk-tail"
    );
    // clamp and lpmin: support=topk and fkl only.
    assert!(
        msg("fkl:support=topk-tail,k=2,clamp=false")
            .starts_with("fkl: clamp needs fkl with support=topk")
    );
    assert!(
        msg("rkl:support=topk,k=2,lpmin=-10").starts_with("rkl: lpmin needs fkl with support=topk")
    );
    // n, seed only with the sampled support.
    assert_eq!(msg("fkl:n=64"), "fkl: n needs support=sampled");
    assert_eq!(
        msg("fkl:support=topk,k=2,seed=0"),
        "fkl: seed needs support=sampled"
    );
    // compute ≠ exact: fkl rkl jsd tvd only, and only with tt st precision tprecision.
    assert_eq!(
        msg("akl:compute=naive"),
        "akl: compute=naive emulates fkl, rkl, jsd and tvd only; use compute=exact"
    );
    assert_eq!(
        msg("fkl:compute=naive,support=full"),
        "fkl: compute=naive takes only tt, st, precision and tprecision of the practice options; \
         support is given"
    );
    assert!("fkl:compute=exact,support=topk,k=2".parse::<Loss>().is_ok());
    // A family's own key of the same name wins: bild's k is its pair count.
    let l = loss("bild:k=4");
    assert_eq!(l.practice, Practice::default());
    assert_eq!(l.to_string(), "bild:k=4,T=3,lead=both");
}

/// The refusals that need the row: sizes, k ≤ V, finite logits.
#[test]
fn row_refusals() {
    let fails = |spec: &str, u: &[f64], z: &[f64]| {
        let mut g = vec![0.0; z.len()];
        evaluate(
            &loss(spec),
            u,
            z,
            0,
            &mut g,
            &mut PracticeWorkspace::default(),
        )
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        fails("fkl", &A_U, &B_Z),
        "fkl: teacher has 6 classes, student 4; only uld accepts different sizes"
    );
    assert!(fails("uld:support=topk-tail,k=2", &A_U, &B_Z).contains("only with support=full"));
    assert_eq!(
        fails("fkl:support=topk,k=7", &A_U, &A_Z),
        "fkl: k=7 is out of range; expected 1..6"
    );
    assert!(fails("fkl:tt=2", &[1.0, f64::NAN], &[0.0, 1.0]).contains("teacher logit 1 is NaN"));
    assert!(fails("fkl", &[1.0], &[0.0]).contains("expected at least 2 classes"));
    // uld with different sizes and a temperature is fine.
    let mut g = vec![0.0; 4];
    evaluate(
        &loss("uld:tt=2"),
        &A_U,
        &B_Z,
        0,
        &mut g,
        &mut PracticeWorkspace::default(),
    )
    .unwrap();
}

/// `Display` then `FromStr` gives the same loss; the canonical order is §0.2's.
#[test]
fn specs_round_trip() {
    for s in [
        "fkl",
        "fkl:t2=true,st=2,tt=2",
        "akl:mu=0.3,std=yes,softcap=30",
        "jsd:support=TopK-Tail,k=64,tt=1",
        "fkl:support=topk,k=2,clamp=true,lpmin=-10",
        "fkl:support=topk,k=2,clamp=false",
        "rkl:support=topk-renorm,k=3,renorm=teacher",
        "rkl:support=topk-renorm,k=3,renorm=both",
        "fkl:support=topk-tail,k=8,eps=1e-5",
        "uld:support=sampled,n=16,seed=3",
        "fkl:precision=BF16,tprecision=f32",
        "jsd:precision=bf16,compute=naive",
        "dkd:std=true",
        "bild:k=4,softcap=10",
    ] {
        let l = loss(s);
        let printed = l.to_string();
        assert_eq!(loss(&printed), l, "{s} → {printed}");
    }
    assert_eq!(
        loss("fkl:t2=true,st=2,tt=2").to_string(),
        "fkl:tt=2,st=2,t2=true"
    );
    assert_eq!(
        loss("jsd:support=TopK-Tail,k=64,tt=1").to_string(),
        "jsd:beta=0.5,tt=1,support=topk-tail,k=64"
    );
    assert_eq!(
        loss("fkl:support=topk-renorm,k=3,renorm=both").to_string(),
        "fkl:support=topk-renorm,k=3"
    );
    // Family-only specs still parse as a Divergence, and name a practice key as such.
    assert!("fkl".parse::<Divergence>().is_ok());
    let e = "fkl:tt=2".parse::<Divergence>().unwrap_err().to_string();
    assert!(e.contains("tt is a practice option"), "{e}");
}

/// §7: with `std=true` EA-KD's entropy weight reads the logits before standardisation, while the
/// KL uses the standardised ones.
#[test]
fn eakd_weight_reads_the_logits_before_standardisation() {
    let (v, g, _) = run("eakd:T=2,std=true", &A_U, &A_Z);
    let standardised = |x: &[f64]| {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)).sqrt();
        x.iter()
            .map(|v| (v - m) / (sd + 1e-7))
            .collect::<Vec<f64>>()
    };
    let (us, zs) = (standardised(&A_U), standardised(&A_Z));
    let (mut a, mut b) = (vec![0.0; 6], vec![0.0; 6]);
    let w_raw = crate::math::eakd::row_weight(3.0, None, &A_U, &A_Z, [&mut a, &mut b]);
    let w_std = crate::math::eakd::row_weight(3.0, None, &us, &zs, [&mut a, &mut b]);
    assert!(
        (w_raw - w_std).abs() > 1e-3,
        "the test needs weights that differ"
    );
    // T²·KL(p^T‖q^T) on the standardised logits, and its gradient T(q^T − p^T) chained through std.
    let (kl, gk, _) = run("fkl:tt=2,st=2,t2=true,std=true", &A_U, &A_Z);
    assert!(close(v, w_raw * kl), "{v} vs {}", w_raw * kl);
    for (x, y) in g.iter().zip(&gk) {
        assert!(close(*x, w_raw * y), "{g:?} vs {gk:?}");
    }
}

/// §13.7 through the pipeline: `compute=naive|logspace` runs the emulation of §12.3, and a
/// non-finite emulated result is an outcome, not an error.
#[test]
fn emulated_compute_runs_through_the_pipeline() {
    check(
        "fkl:precision=bf16,compute=logspace",
        &B_U,
        &B_Z,
        0.458984375,
        &[-0.3203125, 0.408203125, -0.052490234375, -0.037109375],
    );
    check(
        "rkl:precision=f16,compute=naive",
        &B_U,
        &B_Z,
        0.7412109375,
        &[-0.419189453125, 0.685546875, -0.0791015625, -0.186767578125],
    );
    let (v, _, out) = run(
        "fkl:precision=f16,compute=naive",
        &[7e4, 0.0, 0.0, 0.0],
        &B_Z,
    );
    assert!(v.is_nan());
    assert_eq!(
        out.nonfinite.as_deref(),
        Some("nan: teacher logit overflows to infinity in f16 at class 0")
    );
    let mut g = vec![0.0; 4];
    let e = evaluate(
        &loss("jsd:norm=true,precision=bf16,compute=naive"),
        &B_U,
        &B_Z,
        0,
        &mut g,
        &mut PracticeWorkspace::default(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("jsd: compute=naive"), "{e}");
}

/// rkl-est's draws follow the row's stream through the pipeline, with or without options: stream s
/// of `seed=7` is the plain family at `seed=7+s` (§10.5), and the spec row of §13.4 at stream 0.
#[test]
fn rkl_est_draws_follow_the_stream() {
    let at = |spec: &str, stream: u64| {
        let mut g = vec![0.0; 6];
        let out = evaluate(
            &loss(spec),
            &A_U,
            &A_Z,
            stream,
            &mut g,
            &mut PracticeWorkspace::default(),
        )
        .unwrap();
        (out.value, g)
    };
    let (v0, g0) = at("rkl-est:kind=k3,mode=pg,n=4,seed=7", 0);
    assert!(close(v0, 0.20338911529420495), "{v0}");
    assert!(close(g0[5], 0.093585710813833378), "{g0:?}");
    for spec in [
        "rkl-est:kind=k3,mode=pg,n=4",
        "rkl-est:kind=k3,mode=pg,n=4,tt=1",
    ] {
        for s in [1u64, 5, 40] {
            let (v, g) = at(&format!("{spec},seed=7"), s);
            let (w, h) = at(&format!("{spec},seed={}", 7 + s), 0);
            assert_eq!((v, &g), (w, &h), "{spec} stream {s}");
        }
        assert_ne!(at(&format!("{spec},seed=7"), 1).0, v0, "{spec}");
    }
}
