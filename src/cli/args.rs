//! A small command-line parser: `--flag value`, `--flag=value`, repeated flags, and values that start
//! with `-` (negative numbers) taken as values.

use std::collections::BTreeMap;

/// The options of one subcommand, consumed as the subcommand reads them.
#[derive(Debug, Default)]
pub struct Args {
    values: BTreeMap<String, Vec<String>>,
    switches: Vec<String>,
    positional: Vec<String>,
}

/// Describes which flags take a value; everything else starting with `--` is a switch.
pub struct Schema {
    pub valued: &'static [&'static str],
    pub switches: &'static [&'static str],
}

impl Args {
    pub fn parse(tokens: &[String], schema: &Schema) -> Result<Args, String> {
        let mut args = Args::default();
        let mut i = 0;
        while i < tokens.len() {
            let tok = &tokens[i];
            if let Some(flag) = tok.strip_prefix("--") {
                let (name, inline) = match flag.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (flag, None),
                };
                if schema.valued.contains(&name) {
                    let value = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            tokens
                                .get(i)
                                .cloned()
                                .ok_or_else(|| format!("--{name} needs a value"))?
                        }
                    };
                    args.values.entry(name.to_string()).or_default().push(value);
                } else if schema.switches.contains(&name) {
                    if inline.is_some() {
                        return Err(format!("--{name} takes no value"));
                    }
                    args.switches.push(name.to_string());
                } else {
                    let mut known: Vec<String> = schema
                        .valued
                        .iter()
                        .chain(schema.switches)
                        .map(|f| format!("--{f}"))
                        .collect();
                    known.sort();
                    return Err(format!(
                        "unknown option --{name}; expected one of {}",
                        known.join(", ")
                    ));
                }
            } else {
                args.positional.push(tok.clone());
            }
            i += 1;
        }
        Ok(args)
    }

    /// The single value of `--name`, if given; an error if given twice.
    pub fn one(&self, name: &str) -> Result<Option<&str>, String> {
        match self.values.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([v]) => Ok(Some(v.as_str())),
            Some(_) => Err(format!(
                "--{name} is given more than once; expected it once"
            )),
        }
    }

    pub fn required(&self, name: &str, what: &str) -> Result<&str, String> {
        self.one(name)?
            .ok_or_else(|| format!("--{name} is missing; expected {what}"))
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// `--name` parsed as an integer in `lo..=hi`.
    pub fn usize_in(&self, name: &str, lo: usize, hi: usize) -> Result<Option<usize>, String> {
        let Some(raw) = self.one(name)? else {
            return Ok(None);
        };
        let v: usize = raw.trim().parse().map_err(|_| {
            format!("--{name} {raw:?} is not a whole number; expected {lo} to {hi}")
        })?;
        if !(lo..=hi).contains(&v) {
            return Err(format!(
                "--{name} {v} is out of range; expected {lo} to {hi}"
            ));
        }
        Ok(Some(v))
    }

    pub fn no_positional(&self, command: &str) -> Result<(), String> {
        match self.positional.first() {
            Some(p) => Err(format!(
                "{command}: unexpected argument {p:?}; options start with --"
            )),
            None => Ok(()),
        }
    }
}

/// A comma-separated list of epochs, e.g. `1,5,10,300`.
pub fn epoch_list(raw: &str, flag: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v = item.parse::<usize>().map_err(|_| {
            format!("--{flag}: {item:?} is not an epoch; expected whole numbers like 1,5,10,300")
        })?;
        out.push(v);
    }
    if out.is_empty() {
        return Err(format!(
            "--{flag} is empty; expected whole numbers like 1,5,10,300"
        ));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        valued: &["div", "teacher-logits"],
        switches: &["json"],
    };

    fn toks(s: &[&str]) -> Vec<String> {
        s.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn negative_values_in_both_forms() {
        let a = Args::parse(&toks(&["--teacher-logits", "-1,0.5", "--json"]), &SCHEMA).unwrap();
        assert_eq!(a.one("teacher-logits").unwrap(), Some("-1,0.5"));
        let a = Args::parse(&toks(&["--teacher-logits=-1,0.5"]), &SCHEMA).unwrap();
        assert_eq!(a.one("teacher-logits").unwrap(), Some("-1,0.5"));
        assert!(!a.switch("json"));
    }

    #[test]
    fn repeated_and_unknown_flags() {
        let a = Args::parse(&toks(&["--div", "fkl", "--div=rkl"]), &SCHEMA).unwrap();
        assert_eq!(a.all("div"), ["fkl", "rkl"]);
        assert!(a.one("div").unwrap_err().contains("more than once"));
        let e = Args::parse(&toks(&["--dvi", "fkl"]), &SCHEMA).unwrap_err();
        assert!(e.contains("unknown option --dvi"), "{e}");
        let e = Args::parse(&toks(&["--div"]), &SCHEMA).unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
        let e = Args::parse(&toks(&["--json=1"]), &SCHEMA).unwrap_err();
        assert!(e.contains("takes no value"), "{e}");
    }

    #[test]
    fn epoch_lists() {
        assert_eq!(
            epoch_list("300,1, 5,5", "snapshots").unwrap(),
            vec![1, 5, 300]
        );
        assert!(
            epoch_list("1,x", "snapshots")
                .unwrap_err()
                .contains("\"x\"")
        );
        assert!(epoch_list("-1", "snapshots").is_err());
    }
}
