//! `kdviz eval`: one divergence, its value and gradient, for given teacher and student vectors.

use super::args::{Args, Schema};
use super::json::{num, nums};
use super::output::Output;
use crate::io::vector::read_vector;
use crate::math::{Divergence, LogDist, evaluate};
use serde_json::json;

pub const SCHEMA: Schema = Schema {
    valued: &[
        "div",
        "teacher-logits",
        "teacher-probs",
        "student-logits",
        "out",
    ],
    switches: &["json"],
};

pub fn run(args: &Args) -> Result<(), String> {
    args.no_positional("eval")?;
    let spec = args.required(
        "div",
        "a divergence spec such as fkl or ab:alpha=0.2,beta=0.7",
    )?;
    let div: Divergence = spec
        .parse()
        .map_err(|e: crate::math::SpecError| format!("--div: {e}"))?;
    let teacher = match (args.one("teacher-logits")?, args.one("teacher-probs")?) {
        (Some(raw), None) => {
            let v = read_vector(raw).map_err(|e| format!("--teacher-logits: {e}"))?;
            LogDist::from_logits(&v, true).map_err(|e| format!("--teacher-logits: {e}"))?
        }
        (None, Some(raw)) => {
            let v = read_vector(raw).map_err(|e| format!("--teacher-probs: {e}"))?;
            LogDist::from_probs(&v).map_err(|e| format!("--teacher-probs: {e}"))?
        }
        (Some(_), Some(_)) => {
            return Err("give --teacher-logits or --teacher-probs, not both".into());
        }
        (None, None) => {
            return Err(
                "--teacher-logits is missing; expected comma-separated numbers or a .npy/.csv path"
                    .into(),
            );
        }
    };
    let raw = args.required(
        "student-logits",
        "comma-separated numbers or a .npy/.csv path",
    )?;
    let student = read_vector(raw).map_err(|e| format!("--student-logits: {e}"))?;
    let ev = evaluate(&div, &teacher, &student)?;
    let mut out = Output::open(args.one("out")?)?;
    if args.switch("json") {
        let grad = ev.grad.as_deref().map_or(serde_json::Value::Null, nums);
        let value = json!({ "divergence": div.to_string(), "value": num(ev.value), "grad": grad });
        out.line(&value.to_string())?;
    } else {
        out.line(&format!("{div} = {}", fmt_num(ev.value)))?;
        match &ev.grad {
            Some(g) => {
                let items: Vec<String> = g.iter().map(|&x| fmt_num(x)).collect();
                out.line(&format!("grad = [{}]", items.join(", ")))?;
            }
            None => out.line("grad = undefined (the value is infinite: the teacher has zero-probability classes)")?,
        }
    }
    out.finish()
}

fn fmt_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.10}")
    } else {
        format!("{x}")
    }
}
