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
use crate::io::tokens::{Vocab, alphabet_byte, parse_vocab};
use std::path::Path;

/// Largest token file read (a 256k-token `tokenizer.json` is about 20 MB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 512 << 20;

/// Reads token labels for a vocabulary of `v` classes; errors name the file.
pub fn read_tokens(path: &Path, v: usize) -> Result<Vec<String>, RealError> {
    let err = |m: String| RealError::File {
        path: path.display().to_string(),
        message: m,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(format!("cannot read token file: {e}")))?
        .len();
    if len > MAX_TOKEN_FILE_BYTES {
        return Err(err(format!(
            "token file of {len} bytes is too large; expected at most {MAX_TOKEN_FILE_BYTES} bytes \
             (a JSON list of strings or a tokenizer.json)"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read token file: {e}")))?;
    parse_tokens(&bytes, v).map_err(err)
}

/// Parses the bytes of a token file (see the module docs) into `v` readable labels; the error
/// says what is wrong and what was expected.
pub fn parse_tokens(bytes: &[u8], v: usize) -> Result<Vec<String>, String> {
    let Vocab { tokens, byte_level } = parse_vocab(bytes)?;
    if let Some(t) = tokens.iter().max_by_key(|t| t.id)
        && t.id >= v as u64
    {
        return Err(format!(
            "token \"{}\" has id {} but the logits have only {v} classes (ids 0..{}); expected \
             the tokenizer of the model that produced the logits",
            show(&t.text),
            t.id,
            v.saturating_sub(1)
        ));
    }
    let mut out: Vec<Option<String>> = vec![None; v];
    for t in tokens {
        let label = if t.encoded {
            readable(&t.text, byte_level)
        } else {
            escape(&t.text)
        };
        out[t.id as usize] = Some(label); // id < v checked above
    }
    Ok(out
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
