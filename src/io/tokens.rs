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
//!
//! Files are streamed (two passes: the first finds the format, the second hands each token to a
//! sink), never held as a JSON tree: a tree costs 25 to 40 times the file; the caller's sink bounds
//! what is kept (`real::tokens` keeps at most one token per id below V).

use super::show;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::Read;

/// The scalar `visit_*` methods of a visitor that answers `$value` to any scalar (a scalar is never
/// what it looks for: the caller then says what was expected).
macro_rules! scalars_give {
    ($value:expr) => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

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

const EXPECT: &str = "expected a JSON list of token strings or a Hugging Face tokenizer.json";

/// Receives each token as it is read: (id, text, encoded); an error stops the reading.
pub type TokenSink<'a> = dyn FnMut(u64, String, bool) -> Result<(), String> + 'a;

/// Parses the bytes of a token file (see the module docs); at least one token. The error says what
/// is wrong and what was expected.
pub fn parse_vocab(bytes: &[u8]) -> Result<Vocab, String> {
    let mut tokens = Vec::new();
    let byte_level = stream_vocab(&mut || Ok(bytes), &mut |id, text, encoded| {
        tokens.push(Token { id, text, encoded });
        Ok(())
    })?;
    Ok(Vocab { tokens, byte_level })
}

/// Whether a token file's tokens are spelled in the byte-level BPE alphabet, read without keeping
/// its tokens (the first of [`stream_vocab`]'s passes).
pub fn vocab_is_byte_level<R: Read>(reader: R) -> Result<bool, String> {
    pass(reader, ShapeSeed).map(|(_, byte_level)| byte_level)
}

/// Streams a token file (see the module docs) into `sink` token by token, reading it twice from
/// `open()`: once for its format and whether its tokens are spelled in the byte-level BPE alphabet
/// (returned), once for its tokens. At least one token; the error says what is wrong and what was
/// expected.
pub fn stream_vocab<R: Read>(
    open: &mut dyn FnMut() -> std::io::Result<R>,
    sink: &mut TokenSink<'_>,
) -> Result<bool, String> {
    let read_err = |e: std::io::Error| format!("cannot read token file: {e}");
    let (shape, byte_level) = pass(open().map_err(read_err)?, ShapeSeed)?;
    let mut seen = Seen::default();
    match shape {
        Shape::Other(kind) => return Err(format!("the file holds {kind}; {EXPECT}")),
        Shape::List => {
            let seed = ListSeed {
                sink,
                seen: &mut seen,
            };
            pass(open().map_err(read_err)?, seed)?;
        }
        Shape::VocabMap => {
            let seed = VocabMapSeed {
                sink,
                seen: &mut seen,
                what: "entry",
            };
            pass(open().map_err(read_err)?, seed)?;
        }
        Shape::Tokenizer => {
            let seed = TokenizerSeed {
                sink,
                seen: &mut seen,
            };
            if !pass(open().map_err(read_err)?, seed)? {
                return Err(format!(
                    "tokenizer.json has no model.vocab map or list; {EXPECT}"
                ));
            }
        }
    }
    if seen.tokens == 0 {
        return Err(if seen.nulls > 0 {
            format!(
                "the list holds {} items, all null (null marks an unknown token); expected at \
                 least one token string",
                seen.nulls
            )
        } else {
            format!("no tokens found; {EXPECT}")
        });
    }
    Ok(byte_level)
}

/// Runs `seed` over the JSON document in `reader` (trailing whitespace only after it). Errors the
/// visitors raise keep their text (with serde's position); others are invalid JSON.
fn pass<R: Read, T, S>(reader: R, seed: S) -> Result<T, String>
where
    S: for<'de> DeserializeSeed<'de, Value = T>,
{
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let out = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    out.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => e.to_string(),
        _ => format!("not valid JSON ({e}); {EXPECT}"),
    })
}

/// What the tokens seen so far look like: enough to tell a byte-level BPE list or map.
#[derive(Default)]
struct Seen {
    tokens: usize,
    nulls: usize,
    /// Tokens starting with `Ġ` (a byte-level space).
    spaced: usize,
    /// Tokens spelled wholly in the byte alphabet.
    in_alphabet: usize,
}

impl Seen {
    fn add(&mut self, token: &str) {
        self.tokens += 1;
        self.spaced += usize::from(token.starts_with('Ġ'));
        self.in_alphabet += usize::from(token.chars().all(|c| alphabet_byte(c).is_some()));
    }

    /// A bare list or vocab map is taken as byte-level BPE when some token starts with `Ġ` and nearly
    /// all tokens are spelled in the byte alphabet (special tokens such as `<|endoftext|>` are too).
    fn looks_byte_level(&self) -> bool {
        self.spaced > 0 && self.in_alphabet * 10 >= self.tokens * 9
    }
}

/// Any JSON value, its lists and objects skipped (constant memory): what a field held.
#[derive(Debug, Clone, PartialEq)]
enum Any {
    Null,
    Bool(bool),
    Int(u64),
    Neg(i64),
    Float(f64),
    Str(String),
    List,
    Object,
}

impl Any {
    fn kind(&self) -> &'static str {
        match self {
            Any::Null => "null",
            Any::Bool(_) => "a boolean",
            Any::Int(_) | Any::Neg(_) | Any::Float(_) => "a number",
            Any::Str(_) => "a string",
            Any::List => "a list",
            Any::Object => "an object",
        }
    }
}

/// The value as JSON text when it is a scalar (shortened), else its kind.
impl fmt::Display for Any {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Any::Null => f.write_str("null"),
            Any::Bool(b) => write!(f, "{b}"),
            Any::Int(n) => write!(f, "{n}"),
            Any::Neg(n) => write!(f, "{n}"),
            Any::Float(x) => write!(f, "{x}"),
            Any::Str(s) => write!(f, "\"{}\"", show(s)),
            Any::List | Any::Object => f.write_str(self.kind()),
        }
    }
}

impl<'de> de::Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Any, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Any;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Any, E> {
                Ok(Any::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Any, E> {
                Ok(Any::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Any, E> {
                Ok(Any::Int(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Any, E> {
                Ok(u64::try_from(n).map_or(Any::Neg(n), Any::Int))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Any, E> {
                Ok(Any::Float(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<Any, E> {
                Ok(Any::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Any, E> {
                Ok(Any::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Any, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Any::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Any, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Any::Object)
            }
        }
        d.deserialize_any(V)
    }
}

/// The format of a token file.
enum Shape {
    List,
    /// An object with a `model` object.
    Tokenizer,
    /// Any other object: `{token: id}`.
    VocabMap,
    Other(&'static str),
}

struct ShapeSeed;

/// The first pass: the file's format, and whether its tokens are byte-level BPE (a tokenizer's
/// `decoder` or `pre_tokenizer` says; a list's or map's tokens tell by their spelling).
impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = (Shape, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Shape, bool), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = (Shape, bool);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a token file")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Shape::Other("null"), false))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok((Shape::Other("a boolean"), false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok((Shape::Other("a number"), false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok((Shape::Other("a number"), false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok((Shape::Other("a number"), false))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok((Shape::Other("a string"), false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut seen = Seen::default();
        while let Some(item) = seq.next_element::<Any>()? {
            if let Any::Str(s) = item {
                seen.add(&s);
            }
        }
        Ok((Shape::List, seen.looks_byte_level()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut model, mut declared) = (false, false);
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "model" => model |= map.next_value::<Any>()? == Any::Object,
                "decoder" | "pre_tokenizer" => {
                    declared |= map.next_value_seed(HasType {
                        ty: "ByteLevel",
                        depth: 0,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            seen.add(&key);
        }
        Ok(if model {
            (Shape::Tokenizer, declared)
        } else {
            (Shape::VocabMap, seen.looks_byte_level())
        })
    }
}

/// A JSON list of token strings by id, `null` for an unknown id.
struct ListSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of token strings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        while let Some(item) = seq.next_element::<Any>()? {
            match item {
                Any::Str(s) => {
                    self.seen.add(&s);
                    (self.sink)(i, s, true).map_err(de::Error::custom)?;
                }
                Any::Null => self.seen.nulls += 1,
                other => {
                    return Err(de::Error::custom(format!(
                        "item {i} is {}; expected a string (or null for an unknown token)",
                        other.kind()
                    )));
                }
            }
            i += 1;
        }
        Ok(())
    }
}

/// A `{token: id}` map: a vocab.json, or a tokenizer's `model.vocab` (`what` names it in errors).
struct VocabMapSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
    what: &'static str,
}

impl<'de> DeserializeSeed<'de> for VocabMapSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for VocabMapSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a {token: id} map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(token) = map.next_key::<String>()? {
            match map.next_value::<Any>()? {
                Any::Int(id) => {
                    self.seen.add(&token);
                    (self.sink)(id, token, true).map_err(de::Error::custom)?;
                }
                other if self.what == "entry" => {
                    return Err(de::Error::custom(format!(
                        "entry \"{}\" has value {other}; expected a {{token: id}} map with \
                         non-negative integer ids, or {EXPECT}",
                        show(&token)
                    )));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "{} entry \"{}\" has id {other}; expected a non-negative integer",
                        self.what,
                        show(&token)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A Hugging Face `tokenizer.json`: `model.vocab` and `added_tokens` go to the sink; true when
/// `model.vocab` was there.
struct TokenizerSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for TokenizerSeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TokenizerSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tokenizer.json")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut vocab = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "model" => {
                    vocab |= map.next_value_seed(ModelSeed {
                        sink: &mut *self.sink,
                        seen: &mut *self.seen,
                    })?;
                }
                "added_tokens" => map.next_value_seed(AddedSeed {
                    sink: &mut *self.sink,
                    seen: &mut *self.seen,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(vocab)
    }
}

/// A tokenizer's `model`: true when it has a `vocab` map or list (its tokens sent to the sink).
struct ModelSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for ModelSeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ModelSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tokenizer model")
    }
    scalars_give!(false);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "vocab" {
                found |= map.next_value_seed(ModelVocabSeed {
                    sink: &mut *self.sink,
                    seen: &mut *self.seen,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `model.vocab`: a `{token: id}` map (BPE, WordPiece) or Unigram's `[[token, score], ...]` (the id
/// is the index); false for anything else.
struct ModelVocabSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for ModelVocabSeed<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ModelVocabSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a vocabulary")
    }
    scalars_give!(false);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        VocabMapSeed {
            sink: self.sink,
            seen: self.seen,
            what: "model.vocab",
        }
        .visit_map(map)?;
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut i = 0u64;
        while let Some(piece) = seq.next_element::<Piece>()? {
            let Piece::Token(token) = piece else {
                return Err(de::Error::custom(format!(
                    "model.vocab item {i} is {}; expected [token, score]",
                    match piece {
                        Piece::Other(kind) => kind,
                        Piece::Token(_) => "a token",
                    }
                )));
            };
            self.seen.add(&token);
            (self.sink)(i, token, true).map_err(de::Error::custom)?;
            i += 1;
        }
        Ok(true)
    }
}

/// A Unigram piece: `[token, score]` (or a bare token string).
enum Piece {
    Token(String),
    Other(&'static str),
}

impl<'de> de::Deserialize<'de> for Piece {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Piece, D::Error> {
        match Any::deserialize_piece(d)? {
            (Some(token), _) => Ok(Piece::Token(token)),
            (None, kind) => Ok(Piece::Other(kind)),
        }
    }
}

impl Any {
    /// A piece's token: the first item of a list when it is a string, or a string itself; else the
    /// value's kind.
    fn deserialize_piece<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<(Option<String>, &'static str), D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = (Option<String>, &'static str);
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("[token, score]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Any>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(match first {
                    Some(Any::Str(s)) => (Some(s), "a list"),
                    _ => (None, "a list"),
                })
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok((Some(s.to_string()), "a string"))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok((None, "null"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok((None, "a boolean"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok((None, "a number"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok((None, "a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok((None, "a number"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok((None, "an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// `added_tokens`: `[{"id": 50256, "content": "..."}]` (plain text, not in the byte alphabet).
struct AddedSeed<'a, 's> {
    sink: &'a mut TokenSink<'s>,
    seen: &'a mut Seen,
}

impl<'de> DeserializeSeed<'de> for AddedSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match d.deserialize_any(self)? {
            None => Ok(()),
            Some(kind) => Err(de::Error::custom(format!(
                "added_tokens is {kind}; expected a list of {{id, content}}"
            ))),
        }
    }
}

impl<'de> Visitor<'de> for AddedSeed<'_, '_> {
    /// The kind of a value that is not a list (null is no tokens).
    type Value = Option<&'static str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of {id, content}")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some("a boolean"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some("a string"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Some("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut i = 0;
        while let Some(fields) = seq.next_element::<AddedToken>()? {
            let (Some(id), Some(content)) = (fields.id, fields.content) else {
                return Err(de::Error::custom(format!(
                    "added_tokens item {i} lacks an integer \"id\" or a string \"content\"; \
                     expected {{\"id\": 50256, \"content\": \"...\"}}"
                )));
            };
            // Plain text: added tokens say nothing of the vocabulary's alphabet.
            self.seen.tokens += 1;
            (self.sink)(id, content, false).map_err(de::Error::custom)?;
            i += 1;
        }
        Ok(None)
    }
}

/// An `added_tokens` item's integer id and string content, when it has them.
#[derive(Default)]
struct AddedToken {
    id: Option<u64>,
    content: Option<String>,
}

impl<'de> de::Deserialize<'de> for AddedToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AddedToken, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddedToken;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{id, content}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddedToken, A::Error> {
                let mut t = AddedToken::default();
                while let Some(key) = map.next_key::<String>()? {
                    match (key.as_str(), map.next_value::<Any>()?) {
                        ("id", Any::Int(id)) => t.id = Some(id),
                        ("content", Any::Str(s)) => t.content = Some(s),
                        _ => {}
                    }
                }
                Ok(t)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddedToken, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AddedToken::default())
            }
            scalars_give!(AddedToken::default());
        }
        d.deserialize_any(V)
    }
}

/// Whether a value (a decoder or pre-tokenizer, possibly a `Sequence` of them) has `"type": ty`,
/// looked for at most 8 levels deep.
struct HasType {
    ty: &'static str,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for HasType {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for HasType {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    scalars_give!(false);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(f) = seq.next_element_seed(self.deeper())? {
            found |= f;
        }
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "type" {
                found |= map.next_value::<Any>()? == Any::Str(self.ty.to_string());
            } else {
                found |= map.next_value_seed(self.deeper())?;
            }
        }
        Ok(found)
    }
}

impl HasType {
    /// One level down; past 8 levels nothing more is looked at.
    fn deeper(&self) -> HasTypeOrSkip {
        HasTypeOrSkip(if self.depth < 8 {
            Some(HasType {
                ty: self.ty,
                depth: self.depth + 1,
            })
        } else {
            None
        })
    }
}

struct HasTypeOrSkip(Option<HasType>);

impl<'de> DeserializeSeed<'de> for HasTypeOrSkip {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        match self.0 {
            Some(h) => h.deserialize(d),
            None => <IgnoredAny as de::Deserialize>::deserialize(d).map(|_| false),
        }
    }
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
