//! Readable token labels for the classes of real-model logits, from a token file (a JSON list of
//! strings, a Hugging Face `tokenizer.json` or a GPT-2 `vocab.json`; parsed by
//! [`crate::io::tokens`]).
//!
//! The result has exactly V labels. A vocabulary smaller than V is accepted (models pad their
//! output layer beyond the tokenizer), the missing ids labelled `#id`; an id ≥ V is an error.
//!
//! Labels are made readable: byte-level BPE tokens (GPT-2, Llama 3, Qwen ...) are decoded from
//! their byte alphabet to text (`Ġ` → space, `Ċ` → newline, `ĉ` → tab, `Ã©` → `é`, an incomplete
//! UTF-8 sequence → `\xHH`), SentencePiece's `▁` becomes a space and its byte-fallback tokens
//! `<0x0A>` the byte. Control characters are escaped (`\n`, `\t`, `\r`, `\xHH`) so that every
//! label is one line.

use super::RealError;
use crate::io::show;
use crate::io::tokens::{alphabet_byte, stream_vocab, vocab_is_byte_level};
use std::io::Read;
use std::path::Path;

/// Largest token file read (a 256k-token `tokenizer.json` is about 20 MB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 512 << 20;

/// Reads token labels for a vocabulary of `v` classes; errors name the file. Only a regular file is
/// read (a FIFO would block and a device such as `/dev/zero` never end), streamed: at most one token
/// per id below `v` is kept.
pub fn read_tokens(path: &Path, v: usize) -> Result<Vec<String>, RealError> {
    let err = |m: String| RealError::File {
        path: path.display().to_string(),
        message: m,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read token file: {e}")))?;
    if !meta.is_file() {
        return Err(err(
            "is not a regular file (a directory, a FIFO or a device); expected a token file: a \
             JSON list of strings or a tokenizer.json"
                .into(),
        ));
    }
    let len = meta.len();
    if len > MAX_TOKEN_FILE_BYTES {
        return Err(err(format!(
            "token file of {len} bytes is too large; expected at most {MAX_TOKEN_FILE_BYTES} bytes \
             (a JSON list of strings or a tokenizer.json)"
        )));
    }
    // A file that grows while it is read is cut at the limit (and then is not valid JSON).
    let mut open = || std::fs::File::open(path).map(|f| f.take(MAX_TOKEN_FILE_BYTES));
    labels(&mut open, v).map_err(err)
}

/// Parses the bytes of a token file (see the module docs) into `v` readable labels; the error
/// says what is wrong and what was expected.
pub fn parse_tokens(bytes: &[u8], v: usize) -> Result<Vec<String>, String> {
    labels(&mut || Ok(bytes), v)
}

/// The `v` labels of the token file `open()` reads (twice: see [`stream_vocab`]; its first pass
/// tells whether the tokens are byte-level), each made as its token streams in: at most one label
/// per id below `v` is kept.
fn labels<R: Read>(
    open: &mut dyn FnMut() -> std::io::Result<R>,
    v: usize,
) -> Result<Vec<String>, String> {
    let byte_level =
        vocab_is_byte_level(open().map_err(|e| format!("cannot read token file: {e}"))?)?;
    // Label by id; the last token of an id wins.
    let mut by_id: Vec<Option<String>> = Vec::new();
    stream_vocab(open, &mut |id, text, encoded| {
        let i = usize::try_from(id).ok().filter(|&i| i < v).ok_or_else(|| {
            format!(
                "token \"{}\" has id {id} but the logits have only {v} classes (ids 0..{}); \
                 expected the tokenizer of the model that produced the logits",
                show(&text),
                v.saturating_sub(1)
            )
        })?;
        if by_id.len() <= i {
            by_id.resize(i + 1, None);
        }
        by_id[i] = Some(if encoded {
            readable(&text, byte_level)
        } else {
            escape(&text)
        });
        Ok(())
    })?;
    by_id.resize(v, None);
    Ok(by_id
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.unwrap_or_else(|| format!("#{i}")))
        .collect())
}

/// The display form of a vocabulary token (see the module docs).
pub fn readable(token: &str, byte_level: bool) -> String {
    if byte_level
        && let Some(bytes) = token
            .chars()
            .map(alphabet_byte)
            .collect::<Option<Vec<u8>>>()
    {
        return escape_bytes(&bytes);
    }
    if let Some(b) = byte_fallback(token) {
        return escape_bytes(&[b]);
    }
    let mapped: String = token
        .chars()
        .map(|c| match c {
            'Ġ' | '▁' => ' ',
            'Ċ' => '\n',
            'ĉ' => '\t',
            c => c,
        })
        .collect();
    escape(&mapped)
}

/// SentencePiece byte-fallback tokens `<0x0A>`.
fn byte_fallback(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Valid UTF-8 runs as text, other bytes as `\xHH`, then [`escape`].
fn escape_bytes(mut bytes: &[u8]) -> String {
    let mut out = String::new();
    while !bytes.is_empty() {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(&escape(s));
                break;
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(&escape(std::str::from_utf8(good).unwrap_or_default()));
                let bad = e.error_len().unwrap_or(rest.len()).max(1).min(rest.len());
                for b in &rest[..bad] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                bytes = &rest[bad..];
            }
        }
    }
    out
}

/// One line: newline, tab, carriage return and other control characters escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
