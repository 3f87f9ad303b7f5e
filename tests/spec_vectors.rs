//! The spec's §15 test vectors: value and gradient of every divergence within 1e-9.
#![allow(clippy::unwrap_used)] // tests may unwrap
#![allow(clippy::excessive_precision)] // the spec's 17-digit vectors, copied as printed

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

// ---------------------------------------------------------------------------------------------------
// practice.md §13.1: the families of 2024–2026 (values and gradients from the authors' code, 1e-9)
// ---------------------------------------------------------------------------------------------------

const B_U: [f64; 4] = [2.0, -0.5, 0.3, 1.1];
const B_Z: [f64; 4] = [0.4, 0.9, -1.2, 0.1];

/// `spec` on teacher logits `u` and student logits `z` (lengths may differ for uld).
fn check_on(spec: &str, u: &[f64], z: &[f64], value: f64, grad: &[f64]) {
    let div: Divergence = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
    let teacher = LogDist::from_logits(u, false).unwrap();
    let ev = evaluate(&div, &teacher, z).unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert!(
        (ev.value - value).abs() < 1e-9,
        "{spec}: value {} expected {value}",
        ev.value
    );
    let g = ev.grad.expect("finite value has a gradient");
    assert_eq!(
        g.len(),
        grad.len(),
        "{spec}: one gradient entry per student class"
    );
    for k in 0..g.len() {
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
fn todi() {
    check_on(
        "todi",
        &U,
        &Z,
        0.39090363682338336,
        &[
            -0.17379241393309222,
            0.050730645286179932,
            -0.17088899778450975,
            0.082470341891442145,
            0.064983581877412017,
            0.14649684266256788,
        ],
    );
    check_on(
        "todi:beta=2",
        &U,
        &Z,
        0.52449894883693637,
        &[
            -0.22258232549694471,
            0.062253890029905917,
            -0.20527599001049565,
            0.10486838398550949,
            0.083351814385643153,
            0.1773842271063818,
        ],
    );
}

/// `todi:tt=2,st=2` (kd_temperature = 2 in the ToDi code): the temperature keys are issue 13's;
/// the same row is ToDi on the halved logits, its gradient halved by the chain rule.
#[test]
fn todi_at_temperature_two_is_todi_on_halved_logits() {
    let half = |x: &[f64]| x.iter().map(|v| v / 2.0).collect::<Vec<f64>>();
    let div: Divergence = "todi".parse().unwrap();
    let t = LogDist::from_logits(&half(&B_U), false).unwrap();
    let ev = evaluate(&div, &t, &half(&B_Z)).unwrap();
    assert!(
        (ev.value - 0.34080088231433431).abs() < 1e-9,
        "{}",
        ev.value
    );
    let want = [
        -0.12563271164332462,
        0.22405431955602811,
        -0.050835798223346669,
        -0.047585809689356801,
    ];
    for (g, w) in ev.grad.unwrap().iter().zip(want) {
        assert!((g / 2.0 - w).abs() < 1e-9, "{} vs {w}", g / 2.0);
    }
}

#[test]
fn uld() {
    check_on(
        "uld",
        &U,
        &Z,
        0.23647329363751607,
        &[
            -0.18934370962549202,
            0.1597056501992751,
            0.035635147305573371,
            0.14450764817206624,
            -0.20925716139865383,
            0.058752425347231171,
        ],
    );
    check_on(
        "uld",
        &B_U,
        &B_Z,
        0.2785054967345672,
        &[
            0.25564715916944386,
            -0.49664950401922336,
            0.051614271271536151,
            0.18938807357824333,
        ],
    );
}

#[test]
fn uld_across_vocabularies_of_different_sizes() {
    check_on(
        "uld",
        &U,
        &B_Z,
        0.51482469471557668,
        &[
            0.1461753112140283,
            0.24100234484977945,
            -0.082919909276447795,
            -0.30425774678736006,
        ],
    );
    check_on(
        "uld",
        &B_U,
        &Z,
        0.61554808434711306,
        &[
            0.075863507721863857,
            -0.41226048410938837,
            0.037672703028743704,
            0.15277034407311071,
            0.083842142477411258,
            0.062111786808258872,
        ],
    );
    // Every other family refuses, naming uld.
    let t = LogDist::from_logits(&U, false).unwrap();
    let e = evaluate(&"fkl".parse().unwrap(), &t, &B_Z).unwrap_err();
    assert_eq!(
        e,
        "the teacher has 6 classes and the student 4; expected the same number (only uld accepts \
         different sizes)"
    );
}

#[test]
fn bild() {
    check_on(
        "bild:k=4,T=3",
        &U,
        &Z,
        0.073164961604386625,
        &[
            -0.046193354351547491,
            0.036691599155107217,
            -0.06805610512030924,
            0.044651051260479954,
            0.032906809056269554,
            0.0,
        ],
    );
    check_on(
        "bild:k=4,T=3,lead=teacher",
        &U,
        &Z,
        0.055539207483376166,
        &[
            -0.015169188275066553,
            0.048060077730165372,
            -0.06805610512030924,
            0.035165215665210421,
            0.0,
            0.0,
        ],
    );
    check_on(
        "bild:k=3,T=2,lead=student",
        &B_U,
        &B_Z,
        0.31955169491720253,
        &[
            -0.29366799979632713,
            0.19279636895719696,
            0.0,
            0.10087163083913019,
        ],
    );
}

#[test]
fn wsd_and_jeffreys() {
    check_on(
        "wsd",
        &U,
        &Z,
        0.19545181841169168,
        &[
            -0.11577798104708877,
            0.039514399462865155,
            -0.11429820582685835,
            0.058717678011526421,
            0.044314830637736446,
            0.087529278761819082,
        ],
    );
    check_on(
        "wsd:lambda=0.9",
        &B_U,
        &B_Z,
        0.71357207139411649,
        &[
            -0.40953551032454871,
            0.65801509511615319,
            -0.076474787195611765,
            -0.17200479759599288,
        ],
    );
    check_on(
        "jeffreys",
        &U,
        &Z,
        0.39090363682338336,
        &[
            -0.23155596209417753,
            0.079028798925730309,
            -0.22859641165371669,
            0.11743535602305284,
            0.088629661275472893,
            0.17505855752363816,
        ],
    );
    check_on(
        "jeffreys",
        &B_U,
        &B_Z,
        1.2023699861975921,
        &[
            -0.7393797223083155,
            1.0955339880272508,
            -0.13216100632005365,
            -0.22399325939888168,
        ],
    );
}

#[test]
fn renyi() {
    check_on(
        "renyi",
        &U,
        &Z,
        0.098223131765003593,
        &[
            -0.059975039399115276,
            0.020178114424854954,
            -0.056655205308770579,
            0.030189225315518597,
            0.022796889365791773,
            0.043466015601720615,
        ],
    );
    check_on(
        "renyi:alpha=2.5",
        &B_U,
        &B_Z,
        0.60933804059563634,
        &[
            -0.47716191448600415,
            0.45838118666745081,
            -0.062592630491399084,
            0.081373358309952515,
        ],
    );
}

#[test]
fn dkd() {
    check_on(
        "dkd",
        &U,
        &Z,
        1.6834451963365067,
        &[
            -0.12148942354185663,
            0.27476669488889671,
            -1.6015407122768499,
            0.45865424025260487,
            0.35601510483721271,
            0.63359409583999271,
        ],
    );
    check_on(
        "dkd:alpha=1,beta=8,T=4,label=2",
        &B_U,
        &B_Z,
        6.2076078110116102,
        &[
            -3.2060055817262452,
            4.5651521425761628,
            -0.15671802488932995,
            -1.2024285359605789,
        ],
    );
}

#[test]
fn eakd() {
    check_on(
        "eakd",
        &U,
        &Z,
        0.45211897230444775,
        &[
            -0.21420207463610064,
            0.075392465149068694,
            -0.32031541796129048,
            0.10510094614197722,
            0.11153249388914471,
            0.24249158741720064,
        ],
    );
    check_on(
        "eakd:T=4,hub=4.605170185988092",
        &B_U,
        &B_Z,
        0.58739316895451177,
        &[
            -0.23135961312156342,
            0.43186725264320031,
            -0.13587331128008059,
            -0.064634328241555655,
        ],
    );
}

#[test]
fn akl_dskd_convention() {
    check_on(
        "akl:mu=0.5,convention=dskd",
        &U,
        &Z,
        0.19787249426603024,
        &[
            -0.11713502856730065,
            0.044973999137388539,
            -0.1207670663240554,
            0.062867374611173865,
            0.046036637738455968,
            0.084024083404337757,
        ],
    );
    check_on(
        "akl:mu=0.3,convention=dskd",
        &B_U,
        &B_Z,
        0.61937704614235423,
        &[
            -0.37613966102668406,
            0.56561281164346466,
            -0.067763021910343363,
            -0.12171012870643719,
        ],
    );
}
