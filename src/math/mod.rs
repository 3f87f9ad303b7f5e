//! Divergences between a teacher p and a student q = softmax(z): value and gradient w.r.t. z, in f64.
//!
//! No I/O and no UI. Every caller (fit loop, CLI, GUI, GPU reference, tests) goes through
//! [`value_and_grad`] or [`evaluate`].

pub mod ab;
pub mod akl;
pub mod amid;
pub mod bild;
pub mod dist;
pub mod divergence;
pub mod dkd;
pub mod eakd;
pub mod emulate;
pub mod fastmath;
pub mod hinton;
pub mod jsd;
pub mod kl;
pub mod label;
pub mod logspace;
pub mod params;
pub mod practice;
pub mod precision;
#[cfg(test)]
pub(crate) mod props;
pub mod range;
#[cfg(test)]
pub(crate) mod reference_rows;
pub mod renyi;
pub mod rkl_est;
pub mod rng;
pub mod row32;
pub mod sampler;
pub mod simd;
pub mod skew;
pub mod spec;
pub mod taid;
pub mod todi;
pub mod tvd;
pub mod uld;
pub mod wsd;

pub use dist::{DistError, LogDist};
pub use divergence::{
    AklConvention, AmidDiv, AmidOrder, BildLead, Divergence, EstKind, EstMode, FAMILIES, Family,
    TaidSchedule,
};
pub use spec::SpecError;

/// Reusable scratch space so that the fit loop allocates nothing per step.
#[derive(Default)]
pub struct Workspace {
    buf: [Vec<f64>; 4],
    amid: amid::AmidScratch,
    /// AKL's head mask depends on the teacher only: cache the sort for the last teacher seen.
    order_of: Vec<f64>,
    order: Vec<usize>,
    mask: Vec<bool>,
    /// `mask` as weights (1 head, 0 tail), for the vectorised AKL kernel.
    mask_weights: Vec<f64>,
    mask_mu: f64,
    mask_convention: AklConvention,
    /// `order` as the teacher's sorted probabilities (ULD).
    sorted_p: Vec<f64>,
    /// Student order (ULD) and top-k scratch (BiLD).
    order_q: Vec<usize>,
    bild: bild::BildScratch,
}

impl Workspace {
    fn resize(&mut self, n: usize) {
        for b in &mut self.buf {
            b.resize(n, 0.0);
        }
    }

    /// The teacher's classes by descending probability, re-sorted only when the teacher changes.
    fn teacher_order(&mut self, p: &[f64]) -> &[usize] {
        if !simd::equal(&self.order_of, p) {
            self.order_of.clear();
            self.order_of.extend_from_slice(p);
            self.order = akl::descending_order(p);
            self.sorted_p.clear();
            self.mask.clear();
        }
        if self.order.len() != p.len() {
            self.order = akl::descending_order(p); // primed without an order
        }
        &self.order
    }

    /// The teacher's probabilities sorted descending (ULD), cached with the order.
    fn sort_teacher(&mut self, p: &[f64]) {
        self.teacher_order(p);
        if self.sorted_p.len() != p.len() {
            self.sorted_p = self.order.iter().map(|&k| p[k]).collect();
        }
    }

    /// The AKL head mask of `p` for `mu` (`AKL.py`'s convention), recomputed only when the teacher
    /// or μ changes.
    pub fn head_mask(&mut self, p: &[f64], mu: f64) -> &[bool] {
        self.head_mask_for(p, mu, AklConvention::Akl)
    }

    /// The AKL head mask of `p` for `mu` under `convention`, cached as [`Workspace::head_mask`].
    pub fn head_mask_for(&mut self, p: &[f64], mu: f64, convention: AklConvention) -> &[bool] {
        self.teacher_order(p);
        if self.mask.len() != p.len() || self.mask_mu != mu || self.mask_convention != convention {
            match convention {
                AklConvention::Akl => akl::head_mask_from_order(p, &self.order, mu, &mut self.mask),
                AklConvention::Dskd => self.mask = akl::dskd_head_mask(p, mu),
            }
            self.mask_convention = convention;
            self.mask_weights.clear();
            let weight = |&h: &bool| if h { 1.0 } else { 0.0 };
            self.mask_weights.extend(self.mask.iter().map(weight));
            self.mask_mu = mu;
        }
        &self.mask
    }

    /// Installs a head mask the caller already knows for teacher `p` and `mu` (the real-model trainer
    /// derives it once per row from a threshold instead of sorting every row every epoch). `mask`
    /// must be what [`Workspace::head_mask`] would compute.
    pub fn prime_head(&mut self, p: &[f64], mu: f64, mask: &[bool]) {
        self.order_of.clear();
        self.order_of.extend_from_slice(p);
        self.order.clear();
        self.mask.clear();
        self.mask.extend_from_slice(mask);
        self.mask_weights.clear();
        self.mask_weights
            .extend(mask.iter().map(|&h| if h { 1.0 } else { 0.0 }));
        self.mask_mu = mu;
        self.mask_convention = AklConvention::Akl;
    }

    /// [`Workspace::head_mask_for`] as weights: 1 for head classes, 0 for tail classes.
    fn head_weights(&mut self, p: &[f64], mu: f64, convention: AklConvention) -> &[f64] {
        self.head_mask_for(p, mu, convention);
        &self.mask_weights
    }
}

/// Checks what the spec string cannot: parameters that depend on the number of classes.
pub fn check_classes(div: &Divergence, n_classes: usize) -> Result<(), String> {
    match *div {
        Divergence::Hinton { label, .. } | Divergence::Dkd { label, .. } if label >= n_classes => {
            Err(format!(
                "{}: label={label} is not a class; expected an index below {n_classes}",
                div.name()
            ))
        }
        Divergence::RklEst { x: Some(x), .. } if x >= n_classes => Err(format!(
            "rkl-est: x={x} is not a class; expected an index below {n_classes}"
        )),
        Divergence::Bild { k: Some(k), .. } if k > n_classes => Err(format!(
            "bild: k={k} is more than the {n_classes} classes; expected an integer in [2, {n_classes}]"
        )),
        _ => Ok(()),
    }
}

/// Value of `div` between teacher and student, gradient w.r.t. the student logits written to `grad`.
///
/// Returns `+inf` when the divergence is infinite (a teacher with exact zeros under RKL, for
/// example); `grad` is then unspecified. Never returns NaN for valid inputs.
///
/// Every family is ≥ 0, but a value that is 0 in exact arithmetic can come out as −1e-17 after
/// rounding (`jsd:beta` near 1, a mixture equal to one side): negative values are clamped to 0
/// (README "Input ranges"). NaN passes through for [`range::check_output`] to refuse.
pub fn value_and_grad(
    div: &Divergence,
    teacher: &LogDist,
    student: &LogDist,
    grad: &mut [f64],
    ws: &mut Workspace,
) -> f64 {
    value_and_grad_at(div, teacher, student, grad, ws, RowAt::EVAL)
}

/// Where a row sits in a fit: row `row` of `rows` per epoch, epoch `epoch`. A sampled family
/// (rkl-est) draws from stream `seed + epoch·rows + row` (practice.md §10.5), so every epoch draws
/// afresh; `eval` is row 0 of epoch 0, the spec's seed itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowAt {
    pub epoch: u64,
    pub rows: u64,
    pub row: u64,
}

impl RowAt {
    pub const EVAL: RowAt = RowAt {
        epoch: 0,
        rows: 1,
        row: 0,
    };
}

/// [`value_and_grad`] for a row of a fit (see [`RowAt`]); only sampled families read `at`.
///
/// rkl-est's value is an estimate that may be negative (k1, a token the student over-weights): it is
/// not clamped to 0.
pub fn value_and_grad_at(
    div: &Divergence,
    teacher: &LogDist,
    student: &LogDist,
    grad: &mut [f64],
    ws: &mut Workspace,
    at: RowAt,
) -> f64 {
    if let Divergence::RklEst {
        kind,
        mode,
        n,
        seed,
        x,
        clamp,
    } = *div
    {
        let est = rkl_est::Estimator {
            kind,
            mode,
            n,
            x,
            clamp,
        };
        let mut stream = sampler::Sampler::for_row(seed, at.epoch, at.rows, at.row);
        return est.value_and_grad(&teacher.logp, &student.logp, &student.p, &mut stream, grad);
    }
    range::clamp0(raw_value_and_grad(div, teacher, student, grad, ws))
}

fn raw_value_and_grad(
    div: &Divergence,
    teacher: &LogDist,
    student: &LogDist,
    grad: &mut [f64],
    ws: &mut Workspace,
) -> f64 {
    let (lp, p) = (&teacher.logp[..], &teacher.p[..]);
    let (lq, q) = (&student.logp[..], &student.p[..]);
    if let Divergence::Uld = div {
        // Ranks, not classes, are matched: the two sides may differ in size.
        ws.sort_teacher(p);
        return uld::uld(&ws.sorted_p, q, grad, &mut ws.order_q);
    }
    let n = p.len();
    debug_assert_eq!(n, q.len());
    debug_assert_eq!(n, grad.len());
    ws.resize(n);
    match *div {
        Divergence::Fkl => kl::fkl(lp, p, lq, q, grad),
        Divergence::Rkl => kl::rkl(lp, lq, q, grad),
        Divergence::Akl { mu, convention } => {
            let head = ws.head_weights(p, mu, convention);
            akl::akl(head, lp, p, lq, q, grad)
        }
        Divergence::Jsd { beta, norm } => jsd::jsd(beta, norm, lp, p, lq, q, grad, &mut ws.buf[0]),
        Divergence::Tvd => tvd::tvd(p, q, grad),
        Divergence::Skl { alpha } => skew::skl(alpha, lp, p, lq, q, grad),
        Divergence::Srkl { alpha, detach } => skew::srkl(alpha, detach, lp, p, lq, q, grad),
        Divergence::Ab { alpha, beta } => ab::ab(alpha, beta, lp, lq, q, grad),
        Divergence::Alpha { alpha } => ab::ab(alpha, 1.0 - alpha, lp, lq, q, grad),
        Divergence::Taid { t, .. } => {
            let [lpt, pt, ..] = &mut ws.buf;
            taid::taid(t, lp, p, lq, q, grad, lpt, pt)
        }
        Divergence::Amid {
            alpha,
            lambda,
            div,
            order,
        } => amid::amid(alpha, lambda, div, order, lp, p, lq, q, grad, &mut ws.amid),
        Divergence::Hinton {
            temperature,
            a,
            label,
        } => {
            let [b0, b1, b2, b3] = &mut ws.buf;
            hinton::hinton(temperature, a, label, lp, lq, q, grad, [b0, b1, b2, b3])
        }
        Divergence::Todi { beta } => todi::todi(beta, lp, p, lq, q, grad),
        Divergence::Uld | Divergence::RklEst { .. } => f64::NAN, // handled above
        Divergence::Bild {
            k,
            temperature,
            lead,
        } => {
            let k = k.unwrap_or(bild::DEFAULT_K).min(n);
            bild::bild(k, temperature, lead, lp, lq, grad, &mut ws.bild)
        }
        Divergence::Wsd { lambda } => wsd::wsd(lambda, lp, p, lq, q, grad),
        Divergence::Jeffreys => wsd::jeffreys(lp, p, lq, q, grad),
        Divergence::Renyi { alpha } => {
            let [lr, r, ..] = &mut ws.buf;
            renyi::renyi(alpha, lp, p, lq, q, grad, lr, r)
        }
        Divergence::Dkd {
            alpha,
            beta,
            temperature,
            label,
        } => {
            let [b0, b1, b2, b3] = &mut ws.buf;
            dkd::dkd(
                alpha,
                beta,
                temperature,
                label,
                lp,
                lq,
                grad,
                [b0, b1, b2, b3],
            )
        }
        Divergence::Eakd {
            temperature,
            entropy_temperature,
            hub,
        } => {
            let [b0, b1, b2, b3] = &mut ws.buf;
            eakd::eakd(
                temperature,
                entropy_temperature,
                hub,
                lp,
                lq,
                grad,
                [b0, b1, b2, b3],
            )
        }
    }
}

/// The result of one evaluation: `grad` is `None` when the value is infinite (the teacher gives
/// zero probability to a class the divergence needs).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: f64,
    pub grad: Option<Vec<f64>>,
}

/// One-shot evaluation from a teacher distribution and student logits (validated: the student's
/// logits must be in [`range::MAX_LOGIT`]'s range, the output must pass [`range::check_output`]).
pub fn evaluate(
    div: &Divergence,
    teacher: &LogDist,
    student_logits: &[f64],
) -> Result<Evaluation, String> {
    if teacher.len() != student_logits.len() && !div.accepts_vocab_mismatch() {
        return Err(format!(
            "the teacher has {} classes and the student {}; expected the same number (only uld \
             accepts different sizes)",
            teacher.len(),
            student_logits.len()
        ));
    }
    check_classes(div, teacher.len())?;
    let student =
        LogDist::from_logits(student_logits, false).map_err(|e| format!("student logits: {e}"))?;
    if let Some((k, x)) = range::first_bad_logit(student_logits.iter().copied(), false) {
        return Err(format!(
            "student logit {k} is {}; expected {}",
            range::short(x),
            range::logit_range(false)
        ));
    }
    let mut grad = vec![0.0; student_logits.len()];
    let value = value_and_grad(div, teacher, &student, &mut grad, &mut Workspace::default());
    let grad = range::check_output(div, teacher, value, &grad)?.then_some(grad);
    Ok(Evaluation { value, grad })
}

#[cfg(test)]
mod prime_tests {
    use super::*;

    /// Issue 10, failure 10: rounding made divergences of a distribution against itself slightly
    /// negative (−2.3e-17 for `jsd:beta` near 1); they are clamped at 0.
    #[test]
    fn rounding_never_makes_a_value_negative() {
        let mut rng = rng::Rng::new(10);
        let (mut negative_raw, mut evaluated) = (0, 0);
        for _ in 0..200 {
            let z: Vec<f64> = (0..7).map(|_| 6.0 * rng.uniform() - 3.0).collect();
            let p = LogDist::from_logits(&z, false).unwrap();
            for spec in [
                "jsd:beta=0.9999999999",
                "jsd:beta=0.5",
                "skl:alpha=0.3",
                "srkl:alpha=0.3",
                "amid:lambda=0.4",
                "ab",
            ] {
                let div: Divergence = spec.parse().unwrap();
                let mut g = vec![0.0; 7];
                let mut ws = Workspace::default();
                let raw = raw_value_and_grad(&div, &p, &p, &mut g, &mut ws);
                negative_raw += usize::from(raw < 0.0);
                let v = value_and_grad(&div, &p, &p, &mut g, &mut ws);
                assert!(
                    v >= 0.0 && v.is_sign_positive() && v < 1e-15,
                    "{spec}: {v:e}"
                );
                evaluated += 1;
            }
        }
        // The clamp is not idle: rounding does go below 0 on these inputs.
        assert!(negative_raw > 0, "no negative raw value in {evaluated}");
        println!("{negative_raw} of {evaluated} raw values were negative");
    }

    #[test]
    fn a_primed_head_is_used_and_another_mu_recomputes_from_the_teacher() {
        let p = [0.1, 0.4, 0.3, 0.2];
        let mut ws = Workspace::default();
        // A deliberately different mask proves the primed one is what AKL reads for that μ.
        ws.prime_head(&p, 0.5, &[true, false, false, false]);
        assert_eq!(ws.head_mask(&p, 0.5), &[true, false, false, false]);
        // Another μ: the order is rebuilt from p (top-1 = class 1, then 0.4 + 0.3 ≤ 0.75).
        assert_eq!(ws.head_mask(&p, 0.75), akl::head_mask(&p, 0.75).as_slice());
        assert_eq!(ws.head_mask(&p, 0.75), &[false, true, true, false]);
        // Another teacher replaces the primed one.
        let q = [0.7, 0.1, 0.1, 0.1];
        assert_eq!(ws.head_mask(&q, 0.5), &[true, false, false, false]);
    }
}
