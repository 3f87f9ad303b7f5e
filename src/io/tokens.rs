//! Token files: the vocabulary of a model as
//!
//! - a JSON list of strings by id (`null` items allowed), as `scripts/dump_hf_logits.py` writes;
//! - a Hugging Face `tokenizer.json`: `model.vocab` (a `{token: id}` map, or Unigram's list of
//!   `[token, score]` pairs where the id is the index) plus `added_tokens` (`[{id, content}]`);
//! - a GPT-2 style `vocab.json` (a `{token: id}` map).
//!
//! [`parse_vocab`] returns the tokens as spelled in the file, and whether they are spelled in the
//! byte-level BPE alphabet ([`alphabet_byte`]); turning them into labels is
//! `real::tokens`' business.

use super::show;
use serde_json::Value;

/// One token of a vocabulary, as spelled in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: u64,
    pub text: String,
    /// Whether `text` is in the vocabulary's encoding (byte alphabet, `▁`); added tokens are
    /// stored as plain text.
    pub encoded: bool,
}

/// The tokens of a token file, in file order (ids may repeat or leave gaps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    pub tokens: Vec<Token>,
    /// Whether encoded tokens are spelled in the byte-level BPE alphabet (GPT-2, Llama 3, Qwen ...).
    pub byte_level: bool,
}

/// Parses the bytes of a token file (see the module docs); at least one token. The error says what
/// is wrong and what was expected.
pub fn parse_vocab(bytes: &[u8]) -> Result<Vocab, String> {
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
    let tokens = entries
        .into_iter()
        .map(|(id, text, encoded)| Token { id, text, encoded })
        .collect();
    Ok(Vocab { tokens, byte_level })
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
pub fn alphabet_byte(c: char) -> Option<u8> {
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
