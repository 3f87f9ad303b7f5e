//! The spec's §15 test vectors: value and gradient of every divergence within 1e-9.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::math::{Divergence, LogDist, evaluate};

const U: [f64; 6] = [1.0, 0.9, 0.8, 0.7, 0.0, -1.0];
const Z: [f64; 6] = [0.2, 1.0, -0.5, 0.9, 0.3, 0.0];

fn check(spec: &str, value: f64, grad: [f64; 6]) {
    let div: Divergence = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
    let teacher = LogDist::from_logits(&U, false).unwrap();
    let ev = evaluate(&div, &teacher, &Z).unwrap();
    assert!(
        (ev.value - value).abs() < 1e-9,
        "{spec}: value {} expected {value}",
        ev.value
    );
    let g = ev.grad.expect("finite value has a gradient");
    for k in 0..6 {
        assert!(
            (g[k] - grad[k]).abs() < 1e-9,
            "{spec}: grad[{k}] {} expected {}",
            g[k],
            grad[k]
        );
    }
    let sum: f64 = g.iter().sum();
    assert!(sum.abs() < 1e-12, "{spec}: gradient sums to {sum}");
}

#[test]
fn fkl() {
    check(
        "fkl",
        0.2056397822,
        [
            -0.1214894235,
            0.0624923638,
            -0.1415238735,
            0.0761826180,
            0.0515614466,
            0.0727768685,
        ],
    );
}

#[test]
fn rkl() {
    check(
        "rkl",
        0.1852638547,
        [
            -0.1100665386,
            0.0165364351,
            -0.0870725382,
            0.0412527380,
            0.0370682147,
            0.1022816890,
        ],
    );
}

#[test]
fn jsd() {
    check(
        "jsd:beta=0.1",
        0.0180462858,
        [
            -0.0107389765,
            0.0050532511,
            -0.0116621074,
            0.0063854953,
            0.0044114238,
            0.0065509137,
        ],
    );
    check(
        "jsd:beta=0.5",
        0.0470403896,
        [
            -0.0281621804,
            0.0093553025,
            -0.0255190540,
            0.0140843139,
            0.0106384566,
            0.0196031613,
        ],
    );
    check(
        "jsd:beta=0.9",
        0.0166265969,
        [
            -0.0098944233,
            0.0019081174,
            -0.0080146076,
            0.0040148839,
            0.0034424046,
            0.0085436250,
        ],
    );
}

#[test]
fn tvd() {
    check(
        "tvd",
        0.2630132970,
        [
            -0.1050444880,
            0.0567681054,
            -0.0521635490,
            0.0513659059,
            0.0281902069,
            0.0208838189,
        ],
    );
}

#[test]
fn skew() {
    check(
        "skl:alpha=0.1",
        0.1586961935,
        [
            -0.0949539368,
            0.0407697950,
            -0.0965396279,
            0.0536309084,
            0.0378692036,
            0.0592236576,
        ],
    );
    check(
        "srkl:alpha=0.1",
        0.1494720539,
        [
            -0.0891086459,
            0.0207533818,
            -0.0739204816,
            0.0386971083,
            0.0318771239,
            0.0717015135,
        ],
    );
    check(
        "srkl:alpha=0.1,detach=true",
        0.1494720539,
        [
            -0.0989442334,
            0.0190811739,
            -0.0801460757,
            0.0401488393,
            0.0344240459,
            0.0854362500,
        ],
    );
}

#[test]
fn alpha_beta() {
    check(
        "ab:alpha=0.2,beta=0.7",
        0.2317579026,
        [
            -0.1339399181,
            0.0300337575,
            -0.1216851708,
            0.0562250811,
            0.0504190634,
            0.1189471869,
        ],
    );
    check(
        "ab:alpha=0.5,beta=0.5",
        0.1917003812,
        [
            -0.1142014598,
            0.0384221527,
            -0.1078799984,
            0.0574848076,
            0.0434086925,
            0.0827658053,
        ],
    );
    check(
        "ab:alpha=0.8,beta=0.3",
        0.1608200749,
        [
            -0.0983977275,
            0.0427443729,
            -0.0970802695,
            0.0563803246,
            0.0374310342,
            0.0589222652,
        ],
    );
    check(
        "ab:alpha=0,beta=0",
        1.7245548629,
        [
            -0.7039156797,
            0.1395942410,
            -1.1807112845,
            0.2493564065,
            0.3912365723,
            1.1044397443,
        ],
    );
    check(
        "ab:alpha=0.5,beta=-0.5",
        1.7813582353,
        [
            -0.7087219561,
            0.3842918420,
            -1.5333350953,
            0.4558443450,
            0.4742770977,
            0.9276437667,
        ],
    );
    check(
        "ab:alpha=0,beta=0.5",
        0.5524329029,
        [
            -0.2787922785,
            0.0390523142,
            -0.3152157604,
            0.0926657544,
            0.1225276481,
            0.3397623222,
        ],
    );
    check(
        "ab:alpha=0.5,beta=0",
        0.5715335129,
        [
            -0.2864825252,
            0.1117127733,
            -0.4017952629,
            0.1510948827,
            0.1451097252,
            0.2803604069,
        ],
    );
    // alpha:alpha=0.5 is ab(0.5, 0.5).
    check(
        "alpha:alpha=0.5",
        0.1917003812,
        [
            -0.1142014598,
            0.0384221527,
            -0.1078799984,
            0.0574848076,
            0.0434086925,
            0.0827658053,
        ],
    );
}

#[test]
fn akl() {
    check(
        "akl:mu=0.5",
        0.1923904897,
        [
            -0.1140617791,
            0.0326098694,
            -0.1061173053,
            0.0534697282,
            0.0421373324,
            0.0919621545,
        ],
    );
}

#[test]
fn akl_head_and_weights() {
    let teacher = LogDist::from_logits(&U, false).unwrap();
    let student = LogDist::from_logits(&Z, false).unwrap();
    let head = kdviz::math::akl::head_mask(&teacher.p, 0.5);
    assert_eq!(head, vec![true, true, false, false, false, false]);
    let (gh, gt) = kdviz::math::akl::gaps(&teacher.p, &student.p, &head);
    let (wh, wt) = kdviz::math::akl::weights(gh, gt);
    assert!((wh - 0.349757578).abs() < 1e-9, "w_head {wh}");
    assert!((wt - 0.650242422).abs() < 1e-9, "w_tail {wt}");
}

#[test]
fn taid() {
    check(
        "taid:t=0.4",
        0.0289963346,
        [
            -0.0474033416,
            0.0142363041,
            -0.0431051708,
            0.0226848861,
            0.0176189593,
            0.0359683628,
        ],
    );
}

#[test]
fn amid() {
    check(
        "amid:alpha=0.5,lambda=0.5",
        0.0510515326,
        [
            -0.0298185237,
            0.0165916488,
            -0.0356216549,
            0.0195380950,
            0.0129163107,
            0.0163941241,
        ],
    );
    check(
        "amid:alpha=-1,lambda=0.5",
        0.0447025028,
        [
            -0.0266567581,
            0.0043106890,
            -0.0198607854,
            0.0103334069,
            0.0091422947,
            0.0227311528,
        ],
    );
    check(
        "amid:alpha=1,lambda=0.5",
        0.0537083252,
        [
            -0.0307571921,
            0.0211571247,
            -0.0424343341,
            0.0229966963,
            0.0143822786,
            0.0146554265,
        ],
    );
}

#[test]
fn amid_ab_value() {
    let div: Divergence = "amid:alpha=0.5,lambda=0.5,div=ab".parse().unwrap();
    let teacher = LogDist::from_logits(&U, false).unwrap();
    let ev = evaluate(&div, &teacher, &Z).unwrap();
    assert!((ev.value - 0.0612136433).abs() < 1e-9, "{}", ev.value);
}

#[test]
fn hinton() {
    check(
        "hinton:T=2,a=0.5,label=0",
        1.1392616337,
        [
            -0.4957218532,
            0.1695127235,
            -0.0532343465,
            0.1639128029,
            0.1028192912,
            0.1127113822,
        ],
    );
}
