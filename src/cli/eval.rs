//! `kdviz eval`: one divergence, its value and gradient, for given teacher and student vectors.

use super::json::{num, nums};
use super::output::Output;
use super::values::{DivSpec, div_spec};
use crate::io::vector::read_vector;
use crate::math::range::{first_bad_logit, logit_range, short};
use crate::math::{Divergence, Evaluation, LogDist, evaluate};
use clap::Args;
use serde_json::json;

pub const EXAMPLES: &str = "\
Examples:
  kdviz eval --div rkl --teacher-logits 1,0.9,0.8,0.7,0,-1 --student-logits=0.2,1,-0.5,0.9,0.3,0
  kdviz eval --div ab:alpha=0.2,beta=0.7 --teacher-probs 0.5,0.5,0 --student-logits -1,0,1 --json
  kdviz eval --div fkl --teacher-logits teacher.npy --student-logits student.csv

A vector V is an inline comma-separated list (negative numbers and -inf work in both --flag V
and --flag=V forms) or a path to a .npy file (shape (V,), (1,V) or (V,1)) or to a .csv/.txt
file (numbers separated by commas, spaces or newlines; # comments).";

/// `kdviz eval`: the value of one divergence and its gradient w.r.t. the student logits.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("teacher").required(true).args(["teacher_logits", "teacher_probs"]))]
pub struct EvalArgs {
    /// The divergence, e.g. fkl, rkl, akl:mu=0.5, ab:alpha=0.2,beta=0.7 (kdviz divergences lists them)
    #[arg(long, value_name = "SPEC", value_parser = div_spec)]
    pub div: DivSpec,
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

pub fn run(args: &EvalArgs) -> Result<(), String> {
    let div = args.div.div;
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
    let ev = eval_vectors(&div, teacher, &student)?;
    let mut out = Output::open(args.out.as_deref())?;
    if args.json {
        let grad = ev.grad.as_deref().map_or(serde_json::Value::Null, nums);
        let mut value =
            json!({ "divergence": div.to_string(), "value": num(ev.value), "grad": grad });
        if let Some(w) = div.warning() {
            value["warning"] = w.into();
        }
        out.line(&value.to_string())?;
    } else {
        out.line(&format!("{div} = {}", fmt_num(ev.value)))?;
        match &ev.grad {
            Some(g) => {
                let items: Vec<String> = g.iter().map(|&x| fmt_num(x)).collect();
                out.line(&format!("grad = [{}]", items.join(", ")))?;
            }
            None => out.line(
                "grad = undefined (the value is infinite: the teacher gives zero probability to \
                 classes this divergence needs)",
            )?,
        }
        if let Some(w) = div.warning() {
            out.line(&format!("warning: {w}"))?;
        }
    }
    out.finish()
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
