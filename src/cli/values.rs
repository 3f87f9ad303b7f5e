//! Value parsers for the flags: each returns the parsed value or a message that reads on after the
//! flag's name (`--epochs` + ` "-3" is not a whole number; expected 0 to 1000000`), see [`super::errors`].

use crate::math::Divergence;
use crate::math::practice::Loss;

/// A divergence spec as typed (kept for configs and messages) and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct DivSpec {
    pub raw: String,
    pub div: Divergence,
}

/// `fkl`, `akl:mu=0.5`, `ab:alpha=0.2,beta=0.7`, ...
pub fn div_spec(raw: &str) -> Result<DivSpec, String> {
    let div = raw.parse().map_err(|e| format!("{raw:?}: {e}"))?;
    Ok(DivSpec {
        raw: raw.to_string(),
        div,
    })
}

/// A loss spec as typed and as parsed: a family with the common options of practice.md §0.2.
#[derive(Debug, Clone, PartialEq)]
pub struct LossSpec {
    pub raw: String,
    pub loss: Loss,
}

/// `fkl`, `jsd:tt=2,st=2,t2=true`, `fkl:support=topk-tail,k=64,precision=bf16`, ...
pub fn loss_spec(raw: &str) -> Result<LossSpec, String> {
    let loss = raw.parse().map_err(|e| format!("{raw:?}: {e}"))?;
    Ok(LossSpec {
        raw: raw.to_string(),
        loss,
    })
}

/// `--sweep KEY=V1,V2,...`: one run per value of one key of every divergence.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub key: String,
    pub values: Vec<String>,
}

/// Most runs one sweep may add per divergence (a figure's legend stays readable).
pub const MAX_SWEEP_VALUES: usize = 12;

/// `k=1,4,16,64,full`, `tt=1,2,4`, `mu=0.3,0.5,0.7`.
pub fn sweep(raw: &str) -> Result<Sweep, String> {
    let Some((key, values)) = raw.split_once('=') else {
        return Err(format!(
            "{raw:?} has no \"=\"; expected KEY=V1,V2,..., e.g. k=1,4,16,64,full"
        ));
    };
    let key = key.trim();
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if key.is_empty() || values.is_empty() {
        return Err(format!(
            "{raw:?}: expected KEY=V1,V2,..., e.g. k=1,4,16,64,full"
        ));
    }
    if values.len() > MAX_SWEEP_VALUES {
        return Err(format!(
            "{raw:?} has {} values; expected at most {MAX_SWEEP_VALUES}",
            values.len()
        ));
    }
    Ok(Sweep {
        key: key.to_string(),
        values,
    })
}

/// The config's divergences with `sweep` applied: each one once per value, in order.
pub fn apply_sweep(divergences: &[String], sweep: &Sweep) -> Result<Vec<String>, String> {
    let bases = divergences
        .iter()
        .map(|s| s.parse().map_err(|e| format!("{s:?}: {e}")))
        .collect::<Result<Vec<crate::math::practice::Loss>, String>>()?;
    let swept = crate::math::practice::sweep::sweep(&bases, &sweep.key, &sweep.values)
        .map_err(|e| format!("--sweep {}: {e}", sweep.key))?;
    Ok(swept.iter().map(ToString::to_string).collect())
}

/// A whole number in `lo..=hi`.
pub fn whole(lo: usize, hi: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |raw| {
        let digits = raw.trim();
        let v: usize = digits.parse().map_err(|_| {
            // All digits but too many for the machine: a range error, not a spelling one.
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "{} is out of range; expected {lo} to {hi}",
                    long_number(digits)
                )
            } else {
                format!("{raw:?} is not a whole number; expected {lo} to {hi}")
            }
        })?;
        if !(lo..=hi).contains(&v) {
            return Err(format!("{v} is out of range; expected {lo} to {hi}"));
        }
        Ok(v)
    }
}

/// A long run of digits as a message shows it: its first 12 digits and how many there are.
fn long_number(digits: &str) -> String {
    if digits.len() > 12 {
        format!("{}… ({} digits)", &digits[..12], digits.len())
    } else {
        digits.to_string()
    }
}

/// A number in `lo..=hi` (a figure's pixels per point).
pub fn number_in(lo: f32, hi: f32) -> impl Fn(&str) -> Result<f32, String> + Clone {
    move |raw| {
        let x: f32 = raw
            .trim()
            .parse()
            .map_err(|_| format!("{raw:?} is not a number; expected {lo} to {hi}"))?;
        if !(lo..=hi).contains(&x) {
            return Err(format!("{raw} is out of range; expected {lo} to {hi}"));
        }
        Ok(x)
    }
}

/// A finite number > 0 (a learning rate).
pub fn positive(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("{raw:?}; expected a finite number > 0")),
    }
}

/// A number in `[0, 1)` (the head's teacher mass μ).
pub fn unit_interval(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err(format!("{raw:?}; expected a number in [0, 1)")),
    }
}

/// A seed: a non-negative integer.
pub fn seed(raw: &str) -> Result<u64, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{raw:?}; expected a non-negative integer"))
}

/// Epochs as a sorted list without repeats, from `1,5,10,300`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochList(pub Vec<usize>);

pub fn epoch_list(raw: &str) -> Result<EpochList, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v = item.parse::<usize>().map_err(|_| {
            if item.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "{} is after any epoch a fit can have; expected whole numbers up to {}",
                    long_number(item),
                    crate::toy::fit::MAX_EPOCHS
                )
            } else {
                format!("{item:?} is not an epoch; expected whole numbers like 1,5,10,300")
            }
        })?;
        out.push(v);
    }
    if out.is_empty() {
        return Err("is empty; expected whole numbers like 1,5,10,300".into());
    }
    out.sort_unstable();
    out.dedup();
    Ok(EpochList(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_lists() {
        assert_eq!(epoch_list("300,1, 5,5").unwrap().0, vec![1, 5, 300]);
        assert!(epoch_list("1,x").unwrap_err().contains("\"x\""));
        assert!(epoch_list("-1").is_err());
    }

    #[test]
    fn ranges_name_the_value_and_the_range() {
        assert_eq!(whole(1, 60)("6"), Ok(6));
        assert_eq!(
            whole(1, 60)("61").unwrap_err(),
            "61 is out of range; expected 1 to 60"
        );
        assert!(
            whole(0, 9)("-3")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert_eq!(
            whole(0, 9)("99999999999999999999999").unwrap_err(),
            "999999999999… (23 digits) is out of range; expected 0 to 9"
        );
        assert!(
            epoch_list("1,99999999999999999999")
                .unwrap_err()
                .starts_with("999999999999… (20 digits) is after any epoch")
        );
        assert_eq!(number_in(1.0, 8.0)("2.5"), Ok(2.5));
        assert!(
            number_in(1.0, 8.0)("0")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(positive("-1").unwrap_err().starts_with("\"-1\""));
        assert!(positive("nan").is_err());
        assert!(unit_interval("1").is_err());
        assert_eq!(div_spec("rkl").unwrap().raw, "rkl");
        assert!(div_spec("kl").unwrap_err().contains("unknown divergence"));
    }
}
