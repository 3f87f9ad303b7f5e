//! clap's parse errors as one line: what was wrong and what was expected, with clap's "did you mean"
//! tip kept on the same line (clap prints several lines and a usage block by default).

use clap::Command;
use clap::error::{ContextKind, ContextValue, Error, ErrorKind};
use std::ffi::OsString;

/// The message of a parse error, without the `kdviz: error: ` prefix. `cmd` is the (sub)command
/// whose options were being parsed: an unknown option is matched against them when clap has no tip.
pub fn one_line(err: &Error, cmd: &Command) -> String {
    let arg = string(err, ContextKind::InvalidArg);
    let value = string(err, ContextKind::InvalidValue);
    let mut tips = tips(err);
    let message = match err.kind() {
        ErrorKind::UnknownArgument => arg.map(|a| {
            if !a.starts_with('-') {
                return format!("unexpected argument {a:?}; options start with --");
            }
            let longs: Vec<String> = cmd
                .get_arguments()
                .filter(|o| !o.is_hide_set())
                .filter_map(|o| o.get_long().map(|l| format!("--{l}")))
                .collect();
            match (tips.is_empty(), similar(flag_name(a), &longs)) {
                (true, Some(s)) => tips.push(format!("tip: a similar argument exists: '{s}'")),
                (true, None) if !longs.is_empty() => {
                    return format!("unknown option {a}; expected one of {}", longs.join(", "));
                }
                (true, None) if cmd.has_subcommands() => {
                    return format!("unknown option {a}; expected a command first (kdviz --help)");
                }
                (true, None) => {
                    return format!(
                        "unknown option {a}; kdviz {} takes no options",
                        cmd.get_name()
                    );
                }
                _ => {}
            }
            format!("unknown option {a}")
        }),
        ErrorKind::InvalidSubcommand => string(err, ContextKind::InvalidSubcommand)
            .map(|c| format!("unknown command {c:?}; kdviz --help lists the commands")),
        ErrorKind::MissingSubcommand => {
            let mut valid = strings(err, ContextKind::ValidSubcommand);
            valid.retain(|&c| c != "help");
            string(err, ContextKind::InvalidSubcommand)
                .map(|c| format!("{c} needs a subcommand; expected {}", either(&valid)))
        }
        ErrorKind::MissingRequiredArgument => Some(missing(&strings(err, ContextKind::InvalidArg))),
        ErrorKind::ArgumentConflict => {
            let prior = strings(err, ContextKind::PriorArg);
            arg.map(|a| match prior.first() {
                Some(p) if flag(p) == flag(a) => {
                    format!("{} is given more than once; expected it once", flag(a))
                }
                Some(p) => format!("give {} or {}, not both", flag(a), flag(p)),
                None => format!("{} cannot be used here", flag(a)),
            })
        }
        ErrorKind::ValueValidation => match (arg, std::error::Error::source(err)) {
            (Some(a), Some(source)) => Some(format!("{} {source}", flag(a))),
            _ => None,
        },
        ErrorKind::InvalidValue => arg.map(|a| match value {
            Some("") | None => format!("{} needs a value", flag(a)),
            Some(v) => {
                let valid = strings(err, ContextKind::ValidValue);
                // A positional (`<SHELL>`) is named by its value only.
                let who = if a.starts_with('-') {
                    format!("{} {v:?}", flag(a))
                } else {
                    format!("{v:?}")
                };
                format!(
                    "{who} is not {}; expected {}",
                    with_article(&value_name(a)),
                    either(&valid)
                )
            }
        }),
        ErrorKind::TooManyValues => arg.map(|a| match value {
            Some(v) => format!("{} takes no value; got {v:?}", flag(a)),
            None => format!("{} takes no value", flag(a)),
        }),
        _ => None,
    };
    let mut line = message.unwrap_or_else(|| first_line(err));
    for tip in tips {
        line.push_str("; ");
        line.push_str(&tip);
    }
    line
}

/// What to say when required flags are missing, by the first flag clap names (a group counts as its
/// first member); the first is explained, the others listed.
fn missing(args: &[&str]) -> String {
    let mut names = args.iter().map(|a| longs(a));
    let Some(first) = names.next() else {
        return "a required option is missing".into();
    };
    let explained = match first.first().map(String::as_str) {
        Some("--teacher-logits") => {
            "--teacher-logits is missing; expected comma-separated numbers or a .npy/.csv path \
             (or --teacher-probs)"
                .to_string()
        }
        Some("--preset") if first.iter().any(|f| f == "--lesson") => {
            "--preset NAME, --config FILE.toml or --lesson NAME is missing (kdviz presets and \
             kdviz lessons list the names)"
                .into()
        }
        Some("--preset") => {
            "--preset NAME or --config FILE.toml is missing (kdviz presets lists the names)".into()
        }
        Some("--step") => {
            "--step N is missing; expected the number of a step of the lesson (kdviz lessons NAME \
             lists them)"
                .into()
        }
        Some("--builtin") => {
            "--builtin or --input FILE (.safetensors or .npy teacher logits) is missing".into()
        }
        Some("--div") => {
            "--div SPEC is missing; expected a divergence such as fkl, rkl or ab:alpha=0.2,beta=0.7 \
             (kdviz divergences lists them)"
                .into()
        }
        Some("--student-logits") => {
            "--student-logits is missing; expected comma-separated numbers or a .npy/.csv path"
                .into()
        }
        Some("--out") => {
            "--out is missing; expected a file name ending in .png, .svg, .gif, .apng or .csv"
                .into()
        }
        Some("--figure") => {
            "--figure FILE is missing; --position, --scale and --theme go with --figure FILE".into()
        }
        _ => format!("{} is missing", either(&first)),
    };
    let rest: Vec<String> = names.map(|n| either(&n)).collect();
    if rest.is_empty() {
        explained
    } else {
        format!("{explained}; also missing: {}", rest.join(", "))
    }
}

/// The subcommand that `argv` names (`kdviz gpu bench ...` → `bench`), for the options it knows.
pub fn subcommand<'a>(root: &'a Command, argv: &[OsString]) -> &'a Command {
    let mut cmd = root;
    for word in argv.iter().skip(1) {
        match word.to_str().and_then(|w| cmd.find_subcommand(w)) {
            Some(sub) => cmd = sub,
            None => break,
        }
    }
    cmd
}

/// The candidate one or two edits away from `typed` (one for short names), for `--dvi` → `--div`:
/// clap's own tip misses swapped letters in short words.
fn similar<'a>(typed: &str, candidates: &'a [String]) -> Option<&'a str> {
    let limit = if typed.chars().count() > 4 { 2 } else { 1 };
    candidates
        .iter()
        .map(|c| (edits(typed, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.as_str())
}

/// Insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b`.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let change = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + change);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// clap's own first line, without its `error: ` prefix: the fallback for the rarer kinds.
fn first_line(err: &Error) -> String {
    let rendered = err.render().to_string();
    let line = rendered.lines().next().unwrap_or("invalid command line");
    line.trim_start_matches("error: ").trim().to_string()
}

/// clap's suggestions ("tip: a similar argument exists: '--div'") as they appear in its message.
fn tips(err: &Error) -> Vec<String> {
    err.render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tip: "))
        .map(str::to_string)
        .collect()
}

fn string(err: &Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn strings(err: &Error, kind: ContextKind) -> Vec<&str> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.as_str()],
        Some(ContextValue::Strings(v)) => v.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `--dvi=fkl` → `--dvi`.
fn flag_name(arg: &str) -> &str {
    arg.split('=').next().unwrap_or(arg)
}

/// `--epochs <N>` → `--epochs`; a positional `<SHELL>` stays as it is.
fn flag(arg: &str) -> &str {
    arg.split_whitespace().next().unwrap_or(arg)
}

/// `--view <VIEW>` → `view`, `<SHELL>` → `shell`: what kind of value was expected.
/// "a view", "an arithmetic".
fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

fn value_name(arg: &str) -> String {
    let inner = arg
        .rsplit('<')
        .next()
        .unwrap_or(arg)
        .trim_end_matches(['>', '.']);
    inner.to_ascii_lowercase()
}

/// The long flags named in clap's rendering of a required arg or group (`<--preset <NAME>|--config <FILE>>`).
fn longs(arg: &str) -> Vec<String> {
    let names: Vec<String> = arg
        .split(|c: char| c.is_whitespace() || c == '|' || c == '<' || c == '>')
        .filter(|t| t.starts_with("--"))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        vec![arg.to_string()]
    } else {
        names
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} or {}", init.join(", "), last.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(flag("--epochs <N>"), "--epochs");
        assert_eq!(value_name("--view <VIEW>"), "view");
        assert_eq!(value_name("<SHELL>"), "shell");
        assert_eq!(with_article("view"), "a view");
        assert_eq!(with_article("arithmetic"), "an arithmetic");
        assert_eq!(
            longs("<--preset <NAME>|--config <FILE>>"),
            ["--preset", "--config"]
        );
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
        let longs = ["--div".to_string(), "--json".into(), "--epochs".into()];
        assert_eq!(similar("--dvi", &longs), Some("--div"));
        assert_eq!(similar("--epohcs", &longs), Some("--epochs"));
        assert_eq!(similar("--xyz", &longs), None);
        assert_eq!(edits("kitten", "sitting"), 3);
    }
}
