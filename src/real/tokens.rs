//! Token labels for the classes of real-model logits, from
//!
//! - a JSON list of strings by id (`null` items allowed), as `scripts/dump_hf_logits.py` writes;
//! - a Hugging Face `tokenizer.json`: `model.vocab` (a `{token: id}` map, or Unigram's list of
//!   `[token, score]` pairs where the id is the index) plus `added_tokens` (`[{id, content}]`);
//! - a GPT-2 style `vocab.json` (a `{token: id}` map).
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
use serde_json::Value;
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
    const EXPECT: &str = "expected a JSON list of token strings or a Hugging Face tokenizer.json";
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e}); {EXPECT}"))?;
    // (id, raw token, whether it is in the byte-level alphabet's encoding)
    let mut entries: Vec<(u64, String, bool)> = Vec::new();
    let byte_level;
    match json {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(s) => entries.push((i as u64, s, true)),
                    Value::Null => {}
                    other => {
                        return Err(format!(
                            "item {i} is {}; expected a string (or null for an unknown token)",
                            kind(&other)
                        ));
                    }
                }
            }
            byte_level = looks_byte_level(entries.iter().map(|e| e.1.as_str()));
        }
        Value::Object(mut obj) if obj.contains_key("model") => {
            let model = obj.remove("model").unwrap_or(Value::Null);
            match model.get("vocab") {
                Some(Value::Object(vocab)) => {
                    for (tok, id) in vocab {
                        let id = id.as_u64().ok_or_else(|| {
                            format!(
                                "model.vocab entry \"{}\" has id {id}; expected a non-negative integer",
                                show(tok)
                            )
                        })?;
                        entries.push((id, tok.clone(), true));
                    }
                }
                // Unigram (SentencePiece): [[token, score], ...], the id is the index.
                Some(Value::Array(pieces)) => {
                    for (i, piece) in pieces.iter().enumerate() {
                        let tok = piece
                            .get(0)
                            .and_then(Value::as_str)
                            .or_else(|| piece.as_str())
                            .ok_or_else(|| {
                                format!(
                                    "model.vocab item {i} is {}; expected [token, score]",
                                    kind(piece)
                                )
                            })?;
                        entries.push((i as u64, tok.to_string(), true));
                    }
                }
                _ => {
                    return Err(format!(
                        "tokenizer.json has no model.vocab map or list; {EXPECT}"
                    ));
                }
            }
            byte_level = [obj.get("decoder"), obj.get("pre_tokenizer")]
                .into_iter()
                .flatten()
                .any(|v| has_type(v, "ByteLevel", 0));
            match obj.get("added_tokens") {
                None | Some(Value::Null) => {}
                Some(Value::Array(added)) => {
                    for (i, a) in added.iter().enumerate() {
                        let (Some(id), Some(content)) = (
                            a.get("id").and_then(Value::as_u64),
                            a.get("content").and_then(Value::as_str),
                        ) else {
                            return Err(format!(
                                "added_tokens item {i} lacks an integer \"id\" or a string \
                                 \"content\"; expected {{\"id\": 50256, \"content\": \"...\"}}"
                            ));
                        };
                        // Added tokens are stored as plain text, not in the byte alphabet.
                        entries.push((id, content.to_string(), false));
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "added_tokens is {}; expected a list of {{id, content}}",
                        kind(other)
                    ));
                }
            }
        }
        Value::Object(vocab) => {
            for (tok, id) in vocab {
                let id = id.as_u64().ok_or_else(|| {
                    format!(
                        "entry \"{}\" has value {id}; expected a {{token: id}} map with \
                         non-negative integer ids, or {EXPECT}",
                        show(&tok)
                    )
                })?;
                entries.push((id, tok, true));
            }
            byte_level = looks_byte_level(entries.iter().map(|e| e.1.as_str()));
        }
        other => return Err(format!("the file holds {}; {EXPECT}", kind(&other))),
    }
    if entries.is_empty() {
        return Err(format!("no tokens found; {EXPECT}"));
    }
    if let Some((id, tok, _)) = entries.iter().max_by_key(|e| e.0)
        && *id >= v as u64
    {
        return Err(format!(
            "token \"{}\" has id {id} but the logits have only {v} classes (ids 0..{}); expected \
             the tokenizer of the model that produced the logits",
            show(tok),
            v.saturating_sub(1)
        ));
    }
    let mut out: Vec<Option<String>> = vec![None; v];
    for (id, tok, encoded) in entries {
        let label = if encoded {
            readable(&tok, byte_level)
        } else {
            escape(&tok)
        };
        out[id as usize] = Some(label); // id < v checked above
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.unwrap_or_else(|| format!("#{i}")))
        .collect())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A token quoted in a message: escaped, at most 40 characters.
fn show(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// Whether `v` (a decoder or pre-tokenizer, possibly a `Sequence` of them) has `"type": ty`.
fn has_type(v: &Value, ty: &str, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    match v {
        Value::Object(o) => {
            o.get("type").and_then(Value::as_str) == Some(ty)
                || o.values().any(|x| has_type(x, ty, depth + 1))
        }
        Value::Array(a) => a.iter().any(|x| has_type(x, ty, depth + 1)),
        _ => false,
    }
}

/// A bare list or vocab map is taken as byte-level BPE when some token starts with `Ġ` and nearly
/// all tokens are spelled in the byte alphabet (special tokens such as `<|endoftext|>` are too).
fn looks_byte_level<'a>(tokens: impl Iterator<Item = &'a str> + Clone) -> bool {
    let total = tokens.clone().count();
    let space_tokens = tokens.clone().any(|t| t.starts_with('Ġ'));
    let in_alphabet = tokens
        .filter(|t| t.chars().all(|c| alphabet_byte(c).is_some()))
        .count();
    space_tokens && in_alphabet * 10 >= total * 9
}

/// GPT-2's `bytes_to_unicode`: printable latin-1 bytes stand for themselves, the other 68 bytes
/// (controls, space, 0x7f–0xa0, 0xad) for U+0100.. in byte order. This is the inverse.
fn alphabet_byte(c: char) -> Option<u8> {
    const fn printable(b: u32) -> bool {
        (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
    }
    const SHIFTED: [u8; 68] = {
        let mut t = [0u8; 68];
        let (mut b, mut n) = (0u32, 0usize);
        while b < 256 {
            if !printable(b) {
                t[n] = b as u8;
                n += 1;
            }
            b += 1;
        }
        t
    };
    let c = c as u32;
    if printable(c) {
        Some(c as u8)
    } else if (256..256 + 68).contains(&c) {
        Some(SHIFTED[(c - 256) as usize])
    } else {
        None
    }
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
