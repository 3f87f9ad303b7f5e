//! Numbers as text: a comma-separated list given inline (`"1,0.9,-1e-3,-inf"`), or a `.csv`/`.txt`
//! file of numbers separated by commas, whitespace or newlines.
//!
//! `f64::from_str` reads each number: `inf`, `+inf`, `-Infinity`, `NaN`, ... in any case.

use super::{EXPECT_ONE, ReadError, read_file, show};
use std::path::Path;

/// How errors of [`parse_inline`] name their input.
const INLINE: &str = "inline list";
const EXPECT_NUMBER: &str = "expected a number such as 0.5, -1e-3, inf, -inf or nan";

/// Parses a comma-separated list such as `"1, 0.9,-1e-3, -inf"`. Spaces around items are ignored;
/// an empty item is an error except a single trailing one (`"1,2,"`).
pub fn parse_inline(text: &str) -> Result<Vec<f64>, ReadError> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    let n = items.len();
    let mut out = Vec::with_capacity(n);
    for (i, item) in items.iter().enumerate() {
        if item.is_empty() {
            if i + 1 == n {
                break;
            }
            return Err(ReadError::new(
                INLINE,
                format!("item {} is empty; {EXPECT_NUMBER}", i + 1),
            ));
        }
        match parse_number(item) {
            Some(Ok(v)) => out.push(v),
            Some(Err(why)) => {
                return Err(ReadError::new(
                    INLINE,
                    format!("item {} {} {why}", i + 1, quoted(item)),
                ));
            }
            None => {
                return Err(ReadError::new(
                    INLINE,
                    format!(
                        "item {} \"{}\" is not a number; {EXPECT_NUMBER}",
                        i + 1,
                        show(item)
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(ReadError::new(INLINE, EXPECT_ONE));
    }
    Ok(out)
}

/// Reads a text file of numbers separated by commas, whitespace or newlines. Blank lines and
/// lines starting with `#` are skipped; a header line is an error (it would shift every index).
pub fn read_text(path: &Path) -> Result<Vec<f64>, ReadError> {
    let bytes = read_file(path)?;
    parse_text_bytes(&bytes, &path.display().to_string())
}

/// Numbers as text in `bytes`, which name themselves `input` in messages; a `.npy` file or bytes
/// that are not UTF-8 are refused.
pub fn parse_text_bytes(bytes: &[u8], input: &str) -> Result<Vec<f64>, ReadError> {
    if bytes.starts_with(super::npy::MAGIC) {
        return Err(ReadError::new(
            input,
            "this is a NumPy .npy file, not text; expected numbers as text (or name the file *.npy)",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(err) => {
            let at = err.valid_up_to();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            return Err(ReadError::new(
                input,
                format!("byte offset {at} is not valid UTF-8; expected a text file of numbers"),
            )
            .at_line(line));
        }
    };
    parse_text(text, input)
}

fn parse_text(text: &str, input: &str) -> Result<Vec<f64>, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // BOM written by some spreadsheet exports
    let mut out = Vec::new();
    let mut first_data_line = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens = line_tokens(line).map_err(|field| {
            ReadError::new(input, format!("field {field} is empty; {EXPECT_NUMBER}"))
                .at_line(line_no)
        })?;
        let is_header = first_data_line && tokens.iter().all(|t| !is_number(t));
        first_data_line = false;
        if is_header {
            return Err(ReadError::new(
                input,
                format!(
                    "\"{}\" looks like a header line, which is not supported; expected only numbers (delete the line or start it with '#')",
                    show(line)
                ),
            )
            .at_line(line_no));
        }
        let many = tokens.len() > 1;
        for (k, tok) in tokens.iter().enumerate() {
            let item = || {
                if many {
                    format!("item {} ", k + 1)
                } else {
                    String::new()
                }
            };
            match parse_number(tok) {
                Some(Ok(v)) => out.push(v),
                Some(Err(why)) => {
                    return Err(
                        ReadError::new(input, format!("{}{} {why}", item(), quoted(tok)))
                            .at_line(line_no),
                    );
                }
                None => {
                    return Err(ReadError::new(
                        input,
                        format!(
                            "{}\"{}\" is not a number; {EXPECT_NUMBER}",
                            item(),
                            show(tok)
                        ),
                    )
                    .at_line(line_no));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(ReadError::new(input, EXPECT_ONE));
    }
    Ok(out)
}

/// Splits a line on commas, then each field on whitespace. An empty field between commas
/// (`1,,2`) is an error, returned as its 1-based field number, since silently dropping it would
/// shift every later class; one trailing comma is tolerated.
fn line_tokens(line: &str) -> Result<Vec<&str>, usize> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let n = fields.len();
    let mut tokens = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() {
            if i + 1 == n && n > 1 {
                break;
            }
            return Err(i + 1);
        }
        tokens.extend(field.split_whitespace());
    }
    Ok(tokens)
}

/// A number with surrounding whitespace already trimmed by the caller; `None` when it is not one.
/// A literal beyond f64's range (`1e400`, a 1 and 5,000 zeros) is an error of its own: Rust reads
/// it as ±inf, which would later be reported as an infinity the user never wrote.
fn parse_number(s: &str) -> Option<Result<f64, String>> {
    let v = s.parse::<f64>().ok()?;
    let spelled_infinite = s
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    Some(if v.is_infinite() && !spelled_infinite {
        Err(format!(
            "is beyond the range of a 64-bit float (magnitude up to {:e}); expected a smaller number, \
             or inf/-inf if that is meant",
            f64::MAX
        ))
    } else {
        Ok(v)
    })
}

pub(crate) fn is_number(s: &str) -> bool {
    parse_number(s).is_some()
}

/// A number's text for a message: [`show`], with a long run of digits cut to its length
/// (`"1000000000…" (5001 characters)`).
fn quoted(s: &str) -> String {
    let n = s.chars().count();
    if n > 40 {
        format!("\"{}\" ({n} characters)", show(s))
    } else {
        format!("\"{}\"", show(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_util::{assert_has, dict, f8, npy};

    // ------------------------------------------------------------ inline

    #[test]
    fn inline_spaces_negatives_and_infinities() {
        let v = parse_inline("1,0.9,-1e-3, -inf , +inf,2.5E2").unwrap();
        assert_eq!(
            v,
            [1.0, 0.9, -1e-3, f64::NEG_INFINITY, f64::INFINITY, 250.0]
        );
        let v = parse_inline("Inf,-Infinity,INF").unwrap();
        assert_eq!(v, [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY]);
        assert!(parse_inline("NaN").unwrap()[0].is_nan());
        assert_eq!(parse_inline("  7  ").unwrap(), [7.0]);
        assert_eq!(parse_inline("1,2,").unwrap(), [1.0, 2.0]);
    }

    /// A literal beyond f64's range is named as such, not passed on as the infinity Rust reads.
    #[test]
    fn numbers_beyond_f64_are_refused_as_such() {
        let huge = format!("1{}", "0".repeat(5000));
        let e = parse_inline(&format!("{huge},0")).unwrap_err().to_string();
        assert_has(
            &e,
            "item 1 \"1000000000000000000000000000000000000000…\" (5001 characters)",
        );
        assert_has(
            &e,
            "is beyond the range of a 64-bit float (magnitude up to 1.7976931348623157e308)",
        );
        assert!(e.len() < 250, "{e}");
        let e = parse_inline("0,-1e400").unwrap_err().to_string();
        assert_has(&e, "item 2 \"-1e400\" is beyond the range");
        let e = parse_text("# t\n1 2\n3 1e309\n", "t.csv")
            .unwrap_err()
            .to_string();
        assert_has(&e, "t.csv line 3: item 2 \"1e309\" is beyond the range");
        // Spelled infinities and the largest finite numbers still read.
        assert_eq!(
            parse_inline("-inf,+Infinity,1.7976931348623157e308").unwrap(),
            [f64::NEG_INFINITY, f64::INFINITY, f64::MAX]
        );
        // Underflow is not an error: 1e-400 is 0 to every computation here.
        assert_eq!(parse_inline("1e-400").unwrap(), [0.0]);
    }

    #[test]
    fn inline_errors() {
        let e = parse_inline("1,2,abc").unwrap_err();
        assert_has(
            &e.to_string(),
            "inline list: item 3 \"abc\" is not a number; expected a number",
        );
        assert_eq!(e.input(), "inline list");
        assert_has(
            &parse_inline("1,,2").unwrap_err().to_string(),
            "inline list: item 2 is empty",
        );
        assert_has(
            &parse_inline("1 2").unwrap_err().to_string(),
            "item 1 \"1 2\" is not a number",
        );
        assert_has(
            &parse_inline("").unwrap_err().to_string(),
            "inline list: no numbers found; expected at least one",
        );
        assert_has(
            &parse_inline(" , ").unwrap_err().to_string(),
            "item 1 is empty",
        );
        let long = "x".repeat(100);
        let m = parse_inline(&long).unwrap_err().to_string();
        assert_has(&m, &format!("\"{}…\"", "x".repeat(40)));
        assert_has(
            &parse_inline("1,\u{7}").unwrap_err().to_string(),
            "item 2 \"\\u{7}\"",
        );
    }

    // ------------------------------------------------------------ text

    fn text_err(text: &str) -> String {
        parse_text(text, "t.csv")
            .expect_err("expected an error")
            .to_string()
    }

    #[test]
    fn text_separators_comments_and_blank_lines() {
        let text = "# teacher logits\n\n1.5, -2\n  3 4\t5\r\n# more\n-inf,\n  \n6e-1\n";
        assert_eq!(
            parse_text(text, "t.csv").unwrap(),
            [1.5, -2.0, 3.0, 4.0, 5.0, f64::NEG_INFINITY, 0.6]
        );
        assert_eq!(parse_text("\u{feff}1\n2", "t.csv").unwrap(), [1.0, 2.0]);
        assert_eq!(parse_text("1\n2", "t.csv").unwrap(), [1.0, 2.0]); // no final newline
    }

    #[test]
    fn text_errors() {
        assert_has(&text_err("1\nx\n"), "t.csv line 2: \"x\" is not a number");
        assert_has(
            &text_err("1\n2 3 y\n"),
            "t.csv line 2: item 3 \"y\" is not a number",
        );
        assert_has(&text_err("1,,2\n"), "t.csv line 1: field 2 is empty");
        assert_has(
            &text_err(""),
            "t.csv: no numbers found; expected at least one",
        );
        assert_has(
            &text_err("# only a comment\n\n   \n"),
            "t.csv: no numbers found",
        );
    }

    #[test]
    fn text_header_line_rejected() {
        let m = text_err("logit\n1\n2\n");
        assert_has(
            &m,
            "t.csv line 1: \"logit\" looks like a header line, which is not supported",
        );
        let m = text_err("# comment\nteacher,student\n1,2\n");
        assert_has(
            &m,
            "t.csv line 2: \"teacher,student\" looks like a header line",
        );
        // A first line that mixes numbers and words is a bad value, not a header.
        assert_has(
            &text_err("1,x\n"),
            "t.csv line 1: item 2 \"x\" is not a number",
        );
    }

    #[test]
    fn text_bytes_non_utf8_and_npy_in_disguise() {
        let m = parse_text_bytes(b"1\n2\n\xff3\n", "t.csv")
            .unwrap_err()
            .to_string();
        assert_has(&m, "t.csv line 3: byte offset 4 is not valid UTF-8");
        let npy_bytes = npy(1, &dict("<f8", "(1,)"), &f8(&[1.0]));
        let m = parse_text_bytes(&npy_bytes, "t.txt")
            .unwrap_err()
            .to_string();
        assert_has(&m, "t.txt: this is a NumPy .npy file, not text");
    }
}
