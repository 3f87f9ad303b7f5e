//! Sweeps: one loss per value of one key (`k=1,4,16,64,full`), for the figures that show what a
//! choice costs (`kdviz fit|figure --sweep`).

use super::Loss;
use crate::math::spec::SpecError;

/// `base` with `key=value`, replacing the key where the canonical spec has it. `k=full` means the
/// full teacher: the support and its keys go. The result is parsed again, so every refusal of the
/// spec parser applies (e.g. `k` without a top-k support).
pub fn with_key(base: &Loss, key: &str, value: &str) -> Result<Loss, SpecError> {
    let key = key.trim();
    let value = value.trim();
    let text = base.to_string();
    let (name, rest) = text.split_once(':').unwrap_or((text.as_str(), ""));
    let support_keys = [
        "support", "k", "renorm", "clamp", "lpmin", "eps", "n", "seed",
    ];
    let full = key == "k" && value.eq_ignore_ascii_case("full");
    let mut items: Vec<String> = rest
        .split(',')
        .filter(|item| !item.is_empty())
        .filter(|item| {
            let k = item.split_once('=').map_or(*item, |(k, _)| k);
            k != key && !(full && support_keys.contains(&k))
        })
        .map(str::to_string)
        .collect();
    if !full {
        items.push(format!("{key}={value}"));
    }
    let spec = if items.is_empty() {
        name.to_string()
    } else {
        format!("{name}:{}", items.join(","))
    };
    spec.parse()
}

/// Every base loss with every value of `key`, base by base: `fkl:support=topk-tail` swept over
/// `k=1,4,full` gives three losses, the last the full teacher.
pub fn sweep(bases: &[Loss], key: &str, values: &[String]) -> Result<Vec<Loss>, SpecError> {
    let mut out = Vec::with_capacity(bases.len() * values.len());
    for base in bases {
        for value in values {
            out.push(with_key(base, key, value)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(s: &str) -> Loss {
        s.parse().unwrap()
    }

    #[test]
    fn a_sweep_over_k_ends_with_the_full_teacher() {
        let values: Vec<String> = ["1", "16", "full"].iter().map(|s| s.to_string()).collect();
        let out = sweep(&[loss("fkl:support=topk-tail,k=4,tt=2")], "k", &values).unwrap();
        let printed: Vec<String> = out.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            printed,
            [
                "fkl:tt=2,support=topk-tail,k=1",
                "fkl:tt=2,support=topk-tail,k=16",
                "fkl:tt=2"
            ]
        );
    }

    #[test]
    fn a_family_key_and_a_common_key_sweep_alike() {
        assert_eq!(
            with_key(&loss("akl:mu=0.5"), "mu", "0.3").unwrap(),
            loss("akl:mu=0.3")
        );
        assert_eq!(
            with_key(&loss("jsd"), "precision", "bf16").unwrap(),
            loss("jsd:precision=bf16")
        );
    }

    #[test]
    fn a_value_the_parser_refuses_is_refused() {
        let e = with_key(&loss("fkl"), "k", "4").unwrap_err().to_string();
        assert!(e.contains("k"), "{e}");
        let e = with_key(&loss("fkl:support=topk,k=2"), "k", "0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("k=0"), "{e}");
    }
}
