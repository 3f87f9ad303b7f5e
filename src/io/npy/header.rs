//! The header of a `.npy` file: a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, parsed without Python.

use super::EXPECT_DTYPE;

/// The three keys NumPy writes; any others are ignored.
pub(super) struct Header {
    pub(super) descr: String,
    pub(super) fortran_order: bool,
    pub(super) shape: Vec<u64>,
}

/// A Python literal as found in an npy header. Tuples and lists are both `Seq`.
#[derive(Debug)]
enum Py {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Seq(Vec<Py>),
}

impl Py {
    fn kind(&self) -> &'static str {
        match self {
            Py::Str(_) => "a string",
            Py::Int(_) => "an integer",
            Py::Bool(_) => "a boolean",
            Py::None => "None",
            Py::Seq(_) => "a tuple or list",
        }
    }
}

/// `offset` is where `text` starts in the file, so that errors give file byte offsets.
/// Header strings are latin-1 in versions 1 and 2 and UTF-8 in version 3; only the string
/// contents depend on it, since everything else must be ASCII.
pub(super) fn parse_header(text: &[u8], offset: usize, utf8: bool) -> Result<Header, String> {
    let mut p = HeaderParser {
        s: text,
        pos: 0,
        offset,
        utf8,
    };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        return Err(p.error("expected the header to be a dict starting with '{'"));
    }
    p.pos += 1;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.peek() == Some(b'}') {
            p.pos += 1;
            break;
        }
        let key_at = p.pos;
        let key = match p.value(0)? {
            Py::Str(k) => k,
            other => {
                return Err(p.error_at(
                    key_at,
                    &format!("dict key is {}; expected a string", other.kind()),
                ));
            }
        };
        p.skip_ws();
        if p.peek() != Some(b':') {
            return Err(p.error("expected ':' after a dict key"));
        }
        p.pos += 1;
        let value_at = p.pos;
        let value = p.value(0)?;
        match key.as_str() {
            "descr" => descr = Some((value_at, value)),
            "fortran_order" => fortran = Some((value_at, value)),
            "shape" => shape = Some((value_at, value)),
            _ => {}
        }
        p.skip_ws();
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {}
            _ => return Err(p.error("expected ',' or '}' after a dict value")),
        }
    }
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the header dict"));
    }
    let missing =
        |k: &str| format!("header has no '{k}' key; expected 'descr', 'fortran_order' and 'shape'");
    let descr = match descr.ok_or_else(|| missing("descr"))? {
        (_, Py::Str(s)) => s,
        (at, Py::Seq(_)) => {
            return Err(p.error_at(
                at,
                &format!("structured dtypes are not supported; {EXPECT_DTYPE}"),
            ));
        }
        (at, v) => {
            return Err(p.error_at(
                at,
                &format!("'descr' is {}; expected a dtype string", v.kind()),
            ));
        }
    };
    let fortran_order = match fortran.ok_or_else(|| missing("fortran_order"))? {
        (_, Py::Bool(b)) => b,
        (at, v) => {
            return Err(p.error_at(
                at,
                &format!("'fortran_order' is {}; expected True or False", v.kind()),
            ));
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        (at, Py::Seq(items)) => {
            let mut dims = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Py::Int(d) => dims.push(d),
                    v => {
                        return Err(p.error_at(
                            at,
                            &format!("'shape' holds {}; expected integers", v.kind()),
                        ));
                    }
                }
            }
            dims
        }
        (at, v) => {
            return Err(p.error_at(at, &format!("'shape' is {}; expected a tuple", v.kind())));
        }
    };
    Ok(Header {
        descr,
        fortran_order,
        shape,
    })
}

struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
    offset: usize,
    utf8: bool,
}

/// Nesting deeper than this is not a NumPy header; the limit keeps recursion bounded.
const MAX_DEPTH: usize = 8;

impl HeaderParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        self.error_at(self.pos, what)
    }

    fn error_at(&self, pos: usize, what: &str) -> String {
        let found = match self.s.get(pos) {
            Some(&b) if b.is_ascii_graphic() || b == b' ' => format!("found '{}'", b as char),
            Some(&b) => format!("found byte 0x{b:02x}"),
            None => "found the end of the header".to_string(),
        };
        format!(
            "malformed header at byte offset {} ({found}): {what}",
            self.offset + pos
        )
    }

    fn value(&mut self, depth: usize) -> Result<Py, String> {
        self.skip_ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(open @ (b'(' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Py::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => {
                            return Err(self.error(&format!("expected ',' or '{}'", close as char)));
                        }
                    }
                }
            }
            Some(b'{') => Err(self.error("nested dicts are not expected in an npy header")),
            Some(b'0'..=b'9') => self.int(),
            Some(b'-') => Err(self.error("negative numbers are not allowed here")),
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Py::Bool(true)),
                    b"False" => Ok(Py::Bool(false)),
                    b"None" => Ok(Py::None),
                    _ => Err(self.error_at(
                        start,
                        "expected a string, integer, tuple, True, False or None",
                    )),
                }
            }
            _ => Err(self.error("expected a string, integer, tuple, True, False or None")),
        }
    }

    /// A quoted string; backslash escapes keep the next byte literally, which covers what
    /// `repr` produces for dtype strings.
    fn string(&mut self, quote: u8) -> Result<Py, String> {
        let start = self.pos;
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, "string is not closed")),
                Some(b) if b == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) => raw.push(b),
                        None => return Err(self.error_at(start, "string is not closed")),
                    }
                    self.pos += 1;
                }
                Some(b) => {
                    raw.push(b);
                    self.pos += 1;
                }
            }
        }
        let s = if self.utf8 {
            String::from_utf8_lossy(&raw).into_owned()
        } else {
            raw.iter().map(|&b| char::from(b)).collect() // latin-1
        };
        Ok(Py::Str(s))
    }

    /// A non-negative integer, with Python 2's optional `L` suffix (`(3L,)` in old files).
    fn int(&mut self) -> Result<Py, String> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.error_at(start, "integer is too large"))?;
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(Py::Int(v))
    }
}
