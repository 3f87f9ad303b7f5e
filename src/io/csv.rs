//! CSV output: the two field formats every CSV writer shares (the writers live next to their record
//! types). Numbers are written with Rust's `Display` (the
//! shortest text that reads back to the same f64; `NaN`, `inf`); text fields are always quoted.

use std::fmt;

/// A text field: in double quotes, inner quotes doubled (divergence specs hold commas).
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.replace('"', "\"\""))
    }
}

/// An optional number: the number, or an empty field when absent.
pub struct Opt(pub Option<f64>);

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => Ok(()),
        }
    }
}

/// The CSV's rows split into fields, minding quoted fields with commas (the tests read CSV back).
#[cfg(test)]
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut fields = vec![String::new()];
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if quoted && chars.peek() == Some(&'"') => {
                        chars.next();
                        fields.last_mut().unwrap().push('"');
                    }
                    '"' => quoted = !quoted,
                    ',' if !quoted => fields.push(String::new()),
                    c => fields.last_mut().unwrap().push(c),
                }
            }
            fields
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_and_doubles_quotes() {
        assert_eq!(Quoted("taid:t=0.5,x").to_string(), "\"taid:t=0.5,x\"");
        assert_eq!(Quoted("say \"hi\"").to_string(), "\"say \"\"hi\"\"\"");
        let rows = parse_csv(&format!("{},{}", Quoted("a,\"b\""), Opt(Some(0.5))));
        assert_eq!(rows, vec![vec!["a,\"b\"".to_string(), "0.5".to_string()]]);
        assert_eq!(Opt(None).to_string(), "");
    }
}
