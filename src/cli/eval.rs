//! `kdviz eval`: one divergence, its value and gradient, for given teacher and student vectors.

use super::json::{num, nums};
use super::output::Output;
use super::values::{LossSpec, loss_spec};
use crate::io::vector::read_vector;
use crate::math::practice::{self, Loss, Outcome, PracticeWorkspace, SupportReport};
use crate::math::range::{check_output, first_bad_logit, logit_range, short};
use crate::math::{Divergence, Evaluation, LogDist, evaluate};
use clap::Args;
use serde_json::{Map, Value, json};

pub const EXAMPLES: &str = "\
Examples:
  kdviz eval --div rkl --teacher-logits 1,0.9,0.8,0.7,0,-1 --student-logits=0.2,1,-0.5,0.9,0.3,0
  kdviz eval --div ab:alpha=0.2,beta=0.7 --teacher-probs 0.5,0.5,0 --student-logits -1,0,1 --json
  kdviz eval --div fkl --teacher-logits teacher.npy --student-logits student.csv
  kdviz eval --div fkl:support=topk-tail,k=2,tt=2,st=2,t2=true --teacher-logits 1.5,1.2,0.1,-0.4 --student-logits 2.6,1.9,-1,-1.5 --json

A vector V is an inline comma-separated list (negative numbers and -inf work in both --flag V
and --flag=V forms) or a path to a .npy file (shape (V,), (1,V) or (V,1)) or to a .csv/.txt
file (numbers separated by commas, spaces or newlines; # comments).";

/// `kdviz eval`: the value of one divergence and its gradient w.r.t. the student logits.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("teacher").required(true).args(["teacher_logits", "teacher_probs"]))]
pub struct EvalArgs {
    /// The divergence, e.g. fkl, rkl, akl:mu=0.5, ab:alpha=0.2,beta=0.7, with any practice option
    /// (tt, st, t2, std, softcap, support, k, ..., precision; kdviz divergences lists them)
    #[arg(long, value_name = "SPEC", value_parser = loss_spec)]
    pub div: LossSpec,
    /// The teacher as logits (-inf = probability 0): numbers "1,0.5,-inf" or a .npy/.csv path
    #[arg(long, value_name = "V")]
    pub teacher_logits: Option<String>,
    /// The teacher as probabilities (normalised; zeros allowed): numbers or a .npy/.csv path
    #[arg(long, value_name = "V")]
    pub teacher_probs: Option<String>,
    /// The student logits: numbers "-1,0,1" or a .npy/.csv path
    #[arg(long, value_name = "V")]
    pub student_logits: String,
    /// One line of JSON instead of text
    #[arg(long, overrides_with = "json")]
    pub json: bool,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

/// The teacher as given on the command line.
#[derive(Debug, Clone, Copy)]
pub enum TeacherVector<'a> {
    Logits(&'a [f64]),
    Probs(&'a [f64]),
}

/// What `kdviz eval` computes from vectors already read: every check of the command line, then
/// the value and gradient (the fuzz target `eval` calls this).
pub fn eval_vectors(
    div: &Divergence,
    teacher: TeacherVector<'_>,
    student: &[f64],
) -> Result<Evaluation, String> {
    let teacher = match teacher {
        TeacherVector::Logits(v) => {
            let d = LogDist::from_logits(v, true).map_err(|e| format!("--teacher-logits: {e}"))?;
            check_range("--teacher-logits", v, true)?;
            d
        }
        TeacherVector::Probs(v) => {
            LogDist::from_probs(v).map_err(|e| format!("--teacher-probs: {e}"))?
        }
    };
    LogDist::from_logits(student, false).map_err(|e| format!("--student-logits: {e}"))?;
    check_range("--student-logits", student, false)?;
    evaluate(div, &teacher, student)
}

/// The value, gradient and outcome of a loss with practice options (practice.md §0.2), from
/// vectors already read. The teacher may be given as probabilities (as logits `ln p`); the options
/// need every entry finite, so a teacher probability of 0 is refused by the pipeline.
pub fn eval_loss(
    loss: &Loss,
    teacher: TeacherVector<'_>,
    student: &[f64],
) -> Result<(Outcome, Option<Vec<f64>>), String> {
    let (flag, dist) = match teacher {
        TeacherVector::Logits(v) => {
            let d = LogDist::from_logits(v, true).map_err(|e| format!("--teacher-logits: {e}"))?;
            check_range("--teacher-logits", v, true)?;
            ("--teacher-logits", d)
        }
        TeacherVector::Probs(v) => (
            "--teacher-probs",
            LogDist::from_probs(v).map_err(|e| format!("--teacher-probs: {e}"))?,
        ),
    };
    let u = match teacher {
        TeacherVector::Logits(v) => v.to_vec(),
        TeacherVector::Probs(_) => dist.logp.clone(),
    };
    if let Some(k) = u.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "{flag}: entry {k} has probability 0; the practice options of {loss} need every \
             teacher probability > 0"
        ));
    }
    LogDist::from_logits(student, false).map_err(|e| format!("--student-logits: {e}"))?;
    check_range("--student-logits", student, false)?;
    let mut grad = vec![0.0; student.len()];
    let outcome = practice::evaluate(
        loss,
        &u,
        student,
        0,
        &mut grad,
        &mut PracticeWorkspace::default(),
    )
    .map_err(|e| e.to_string())?;
    if outcome.nonfinite.is_some() {
        return Ok((outcome, None));
    }
    let grad = check_output(loss, &dist, outcome.value, &grad)?.then_some(grad);
    Ok((outcome, grad))
}

pub fn run(args: &EvalArgs) -> Result<(), String> {
    let loss = args.div.loss;
    let (flag, raw) = match (&args.teacher_logits, &args.teacher_probs) {
        (Some(raw), _) => ("--teacher-logits", raw),
        (None, Some(raw)) => ("--teacher-probs", raw),
        // clap's required group makes this unreachable; say what is missing all the same.
        (None, None) => return Err("--teacher-logits or --teacher-probs is missing".into()),
    };
    let teacher = read_vector(raw).map_err(|e| format!("{flag}: {e}"))?;
    let student =
        read_vector(&args.student_logits).map_err(|e| format!("--student-logits: {e}"))?;
    let teacher = match args.teacher_logits {
        Some(_) => TeacherVector::Logits(&teacher),
        None => TeacherVector::Probs(&teacher),
    };
    let (outcome, grad) = if loss.practice.is_default() {
        // The family alone: exactly the evaluation of a plain divergence.
        let ev = eval_vectors(&loss.family, teacher, &student)?;
        let outcome = Outcome {
            value: ev.value,
            ..Outcome::default()
        };
        (outcome, ev.grad)
    } else {
        eval_loss(&loss, teacher, &student)?
    };
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        let mut value = json_line(&loss, &outcome, grad.as_deref());
        if let Some(w) = loss.family.warning() {
            value["warning"] = w.into();
        }
        out.line(&value.to_string())?;
    } else {
        for line in text_lines(&loss, &outcome, grad.as_deref()) {
            out.line(&line)?;
        }
        if let Some(w) = loss.family.warning() {
            out.line(&format!("warning: {w}"))?;
        }
    }
    out.finish()
}

/// `{"divergence", "value", "grad"}` plus what applies of the outcome: `nonfinite` (value and
/// grad null), `top_k` {k, p_k, q_k, overlap}, `clamped`, `lpmin_active`, `tail_active`, `counts`.
fn json_line(loss: &Loss, outcome: &Outcome, grad: Option<&[f64]>) -> Value {
    let mut v = Map::new();
    v.insert("divergence".into(), json!(loss.to_string()));
    if let Some(what) = &outcome.nonfinite {
        v.insert("value".into(), Value::Null);
        v.insert("grad".into(), Value::Null);
        v.insert("nonfinite".into(), json!(what));
        return Value::Object(v);
    }
    v.insert("value".into(), num(outcome.value));
    v.insert("grad".into(), grad.map_or(Value::Null, nums));
    let r: &SupportReport = &outcome.support;
    if let Some(t) = r.top_k {
        let top = json!({ "k": t.k, "p_k": num(t.p_k), "q_k": num(t.q_k), "overlap": t.overlap });
        v.insert("top_k".into(), top);
    }
    for (key, flag) in [
        ("clamped", r.clamped),
        ("lpmin_active", r.lpmin_active),
        ("tail_active", r.tail_active),
    ] {
        if let Some(b) = flag {
            v.insert(key.into(), json!(b));
        }
    }
    if let Some(c) = &r.counts {
        v.insert("counts".into(), json!(c));
    }
    Value::Object(v)
}

/// The text output: the value, the gradient, then one line per reported fact of the support.
fn text_lines(loss: &Loss, outcome: &Outcome, grad: Option<&[f64]>) -> Vec<String> {
    if let Some(what) = &outcome.nonfinite {
        return vec![format!(
            "{loss} is not a finite number here: the emulated computation gives {what}"
        )];
    }
    let mut lines = vec![format!("{loss} = {}", fmt_num(outcome.value))];
    lines.push(match grad {
        Some(g) => {
            let items: Vec<String> = g.iter().map(|&x| fmt_num(x)).collect();
            format!("grad = [{}]", items.join(", "))
        }
        None => "grad = undefined (the value is infinite: the teacher gives zero probability to \
                 classes this divergence needs)"
            .into(),
    });
    let r = &outcome.support;
    if let Some(t) = r.top_k {
        lines.push(format!(
            "top-{}: teacher mass P_K = {}, student mass Q_K = {}, {} of the student's top-{} \
             among the teacher's",
            t.k,
            fmt_num(t.p_k),
            fmt_num(t.q_k),
            t.overlap,
            t.k
        ));
    }
    if let Some(c) = r.clamped {
        lines.push(
            if c {
                "clamp: fired (the truncated forward KL was negative; value and gradient set to 0)"
            } else {
                "clamp: idle (the truncated forward KL was >= 0)"
            }
            .into(),
        );
    }
    if let Some(a) = r.lpmin_active {
        lines.push(format!(
            "lpmin: {}",
            if a {
                "clamped a top-k log-probability"
            } else {
                "idle"
            }
        ));
    }
    if let Some(a) = r.tail_active {
        lines.push(format!(
            "tail bucket: {}",
            if a {
                "active (student tail mass > eps)"
            } else {
                "inactive (student tail mass <= eps: truncated gradient)"
            }
        ));
    }
    if let Some(c) = &r.counts {
        let items: Vec<String> = c.iter().map(u32::to_string).collect();
        lines.push(format!("teacher draws per class = [{}]", items.join(", ")));
    }
    lines
}

/// The input policy (README "Input ranges"): logits within ±1e5, teachers may use -inf.
fn check_range(flag: &str, v: &[f64], allow_neg_inf: bool) -> Result<(), String> {
    match first_bad_logit(v.iter().copied(), allow_neg_inf) {
        Some((k, x)) => Err(format!(
            "{flag}: entry {k} is {}; expected {}",
            short(x),
            logit_range(allow_neg_inf)
        )),
        None => Ok(()),
    }
}

/// Ten decimals; ten significant digits in scientific notation from 1e10 on (a value of 1e187 would
/// otherwise print as 188 digits) and below 1e-4 (a gradient of 3e-11 would print as zero). Zero prints
/// without a sign.
fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        format!("{:.10}", 0.0)
    } else if x.is_finite() && (x.abs() >= 1e10 || x.abs() < 1e-4) {
        format!("{x:.9e}")
    } else if x.is_finite() {
        format!("{x:.10}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// practice.md §12.3: an emulated non-finite result is an outcome, printed as null values with
    /// what happened, never as a NaN.
    #[test]
    fn a_nonfinite_outcome_prints_nulls_and_says_why() {
        let loss: Loss = "jsd:precision=bf16".parse().unwrap();
        let what = "nan: student probability rounds to 0 in bf16 at class 3";
        let outcome = Outcome {
            value: f64::NAN,
            nonfinite: Some(what.into()),
            ..Outcome::default()
        };
        let v = json_line(&loss, &outcome, None);
        assert_eq!(v["value"], Value::Null);
        assert_eq!(v["grad"], Value::Null);
        assert_eq!(v["nonfinite"], what);
        let text = text_lines(&loss, &outcome, None).join("\n");
        assert!(text.contains(what) && !text.contains("NaN"), "{text}");
    }
}
