//! Real-model inputs: `.safetensors` / `.npy` logits and token files (src/real/files.rs, tokens.rs).
//! Exact round trips per dtype and shape, one test per kind of bad input (the message must name the
//! file and the problem), and random damage that must never panic.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::real::files::{
    self, MAX_LOGITS, read_npy_tensor, read_safetensors_header, read_safetensors_ints,
    read_safetensors_tensor,
};
use kdviz::real::tokens::{parse_tokens, read_tokens, readable};
use kdviz::real::train::{BackendChoice, TrainConfig, train};
use kdviz::real::{RealData, RealError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

// ------------------------------------------------------------------------------------ helpers

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kdviz-real-files-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One tensor for [`safetensors`]: name, dtype, shape, raw little-endian bytes.
struct T<'a>(&'a str, &'a str, &'a [usize], Vec<u8>);

/// Builds a `.safetensors` file the way the Python library does (header padded with spaces to 8).
fn safetensors(tensors: &[T], metadata: Option<serde_json::Value>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), m);
    }
    let mut data = Vec::new();
    for T(name, dtype, shape, bytes) in tensors {
        let begin = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            (*name).into(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    raw_safetensors(&serde_json::Value::Object(header).to_string(), &data)
}

fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A `.npy` file, version `major`, padded like NumPy pads it.
fn npy(major: u8, descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let len_bytes = if major == 1 { 2 } else { 4 };
    let unpadded = 8 + len_bytes + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn load(teacher: &Path) -> Result<RealData, RealError> {
    files::load(teacher, None, None)
}

/// The error's message, checked to name the file.
fn err_of(r: Result<RealData, RealError>, file: &Path) -> String {
    let e = r.expect_err("expected an error");
    let m = e.to_string();
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(m.contains(name), "message {m:?} does not name {name}");
    assert!(matches!(e, RealError::File { .. }), "{e:?}");
    m
}

fn has(msg: &str, needle: &str) {
    assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
}

const LOGITS: [f32; 6] = [1.5, -2.25, 0.0, f32::NEG_INFINITY, 3.0e4, -1.0e-3];

// ------------------------------------------------------------------------------------ round trips

#[test]
fn safetensors_f32_round_trip() {
    let dir = TempDir::new();
    let p = dir.file(
        "t.safetensors",
        &safetensors(&[T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS))], None),
    );
    let d = load(&p).unwrap();
    assert_eq!((d.n, d.v), (2, 3));
    assert_eq!(d.teacher, LOGITS);
    assert_eq!(d.source, p.display().to_string());
    assert!(d.student_init.is_none() && d.labels.is_none() && d.tokens.is_none());
    let h = read_safetensors_header(&p).unwrap();
    assert_eq!(h.tensors.len(), 1);
    assert_eq!(h.tensors[0].dtype, "F32");
    assert_eq!(h.tensors[0].len, 24);
    let t = read_safetensors_tensor(&p, "teacher_logits").unwrap();
    assert_eq!((t.shape, t.data), (vec![2, 3], LOGITS.to_vec()));
}

#[test]
fn safetensors_f16_bf16_f64_known_bits() {
    let dir = TempDir::new();
    // f16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, -inf
    let f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0xfc00];
    let want16 = [1.0, -2.0, 65504.0, 2f32.powi(-24), -0.0, f32::NEG_INFINITY];
    // bf16: 1, -5, 3.140625, 1e38-ish (0x7e96), smallest normal 2^-126, -inf
    let bf16 = [0x3f80, 0xc0a0, 0x4049, 0x7e96, 0x0080, 0xff80];
    let want_bf = [
        1.0,
        -5.0,
        3.140625,
        f32::from_bits(0x7e96_0000),
        f32::MIN_POSITIVE,
        f32::NEG_INFINITY,
    ];
    let f64v = [0.5, -0.125, 1e-3, f64::NEG_INFINITY, 123456.0, 7.0];
    for (name, dtype, bytes, want) in [
        ("h.safetensors", "F16", u16s(&f16), want16.to_vec()),
        ("b.safetensors", "BF16", u16s(&bf16), want_bf.to_vec()),
        (
            "d.safetensors",
            "F64",
            f64s(&f64v),
            f64v.iter().map(|&x| x as f32).collect(),
        ),
    ] {
        let p = dir.file(
            name,
            &safetensors(&[T("teacher_logits", dtype, &[3, 2], bytes)], None),
        );
        // The conversion alone: 1e38 and 123456 are outside the input policy that `load` applies.
        let d = read_safetensors_tensor(&p, "teacher_logits").unwrap();
        assert_eq!(d.shape, [3, 2], "{dtype}");
        for (a, b) in d.data.iter().zip(&want) {
            assert_eq!(a.to_bits(), b.to_bits(), "{dtype}: {a} vs {b}");
        }
    }
}

#[test]
fn safetensors_btv_student_labels_contexts() {
    let dir = TempDir::new();
    let teacher: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32 * 0.5 - 3.0).collect();
    let student: Vec<f32> = teacher.iter().map(|x| -x).collect();
    let contexts = json!(["a", "b", "c", "d", "e", "f"]).to_string();
    for (name, labels) in [
        (
            "l64.safetensors",
            T("labels", "I64", &[2, 3], i64s(&[0, 1, 2, 3, 0, 1])),
        ),
        (
            "l32.safetensors",
            T("labels", "I32", &[6], i32s(&[0, 1, 2, 3, 0, 1])),
        ),
    ] {
        let p = dir.file(
            name,
            &safetensors(
                &[
                    T("student_logits", "BF16", &[2, 3, 4], {
                        // bf16 of exactly representable values
                        u16s(
                            &student
                                .iter()
                                .map(|x| (x.to_bits() >> 16) as u16)
                                .collect::<Vec<_>>(),
                        )
                    }),
                    T("teacher_logits", "F32", &[2, 3, 4], f32s(&teacher)),
                    labels,
                ],
                Some(json!({"contexts": contexts, "format": "pt"})),
            ),
        );
        let d = load(&p).unwrap();
        assert_eq!((d.n, d.v), (6, 4));
        assert_eq!(d.teacher, teacher);
        assert_eq!(d.student_init.as_deref(), Some(student.as_slice()));
        assert_eq!(d.labels, Some(vec![0, 1, 2, 3, 0, 1]));
        assert_eq!(d.contexts.as_ref().unwrap()[5], "f");
        assert_eq!(d.teacher_row(1), &teacher[4..8]);
    }
    let p = dir.0.join("l32.safetensors");
    let (shape, ints) = read_safetensors_ints(&p, "labels").unwrap();
    assert_eq!((shape, ints), (vec![6], vec![0, 1, 2, 3, 0, 1]));
}

#[test]
fn single_tensor_of_any_name_is_the_teacher() {
    let dir = TempDir::new();
    let p = dir.file(
        "one.safetensors",
        &safetensors(&[T("logits", "F32", &[2, 3], f32s(&LOGITS))], None),
    );
    assert_eq!(load(&p).unwrap().teacher, LOGITS);
}

#[test]
fn separate_student_files() {
    let dir = TempDir::new();
    let t = dir.file(
        "t.safetensors",
        &safetensors(&[T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS))], None),
    );
    let s_vals = [0.25f32, 0.5, -1.0, 2.0, 0.0, 1.0];
    let s_npy = dir.file("s.npy", &npy(1, "<f4", "(2, 3)", &f32s(&s_vals)));
    let s_st = dir.file(
        "s.safetensors",
        &safetensors(
            &[
                T("student_logits", "F32", &[1, 2, 3], f32s(&s_vals)),
                T("other", "F32", &[1], f32s(&[9.0])),
            ],
            None,
        ),
    );
    let s_one = dir.file(
        "s1.safetensors",
        &safetensors(
            &[T(
                "x",
                "F16",
                &[2, 3],
                u16s(&[0x3400, 0x3800, 0xbc00, 0x4000, 0, 0x3c00]),
            )],
            None,
        ),
    );
    for s in [&s_npy, &s_st, &s_one] {
        let d = files::load(&t, Some(s), None).unwrap();
        assert_eq!(
            d.student_init.as_deref(),
            Some(&s_vals[..]),
            "{}",
            s.display()
        );
    }
}

#[test]
fn npy_shapes_and_dtypes() {
    let dir = TempDir::new();
    let p = dir.file("a.npy", &npy(1, "<f4", "(2, 3)", &f32s(&LOGITS)));
    let d = load(&p).unwrap();
    assert_eq!((d.n, d.v, d.teacher.clone()), (2, 3, LOGITS.to_vec()));
    let v: Vec<f64> = (0..12).map(|i| f64::from(i) - 5.5).collect();
    let p = dir.file("b.npy", &npy(2, "<f8", "(2, 2, 3)", &f64s(&v)));
    let d = load(&p).unwrap();
    assert_eq!((d.n, d.v), (4, 3));
    assert_eq!(d.teacher, v.iter().map(|&x| x as f32).collect::<Vec<_>>());
    let p = dir.file("c.npy", &npy(3, "<f2", "(1, 2)", &u16s(&[0x3c00, 0xfc00])));
    assert_eq!(load(&p).unwrap().teacher, [1.0, f32::NEG_INFINITY]);
    // Any extension: sniffed by the magic.
    let p = dir.file("a.logits", &npy(1, "<f4", "(2, 3)", &f32s(&LOGITS)));
    assert_eq!(load(&p).unwrap().teacher, LOGITS);
    let t = read_npy_tensor(&p).unwrap();
    assert_eq!(t.shape, [2, 3]);
    // The 1-D reader of the toy tab still works beside it.
    assert_eq!(
        kdviz::io::npy::parse_npy(&npy(1, "<f4", "(2,)", &f32s(&[1.0, 2.0]))).unwrap(),
        [1.0, 2.0]
    );
}

// ------------------------------------------------------------------------------------ tokens

#[test]
fn tokens_json_list_padded_to_v() {
    let dir = TempDir::new();
    let p = dir.file(
        "tokens.json",
        br#"["a", "Gb", null, "\u2581x\u2581y", "<0x0A>", "tab\tq"]"#,
    );
    let t = read_tokens(&p, 8).unwrap();
    assert_eq!(t, ["a", "Gb", "#2", " x y", "\\n", "tab\\tq", "#6", "#7"]);
    let e = read_tokens(&p, 5).unwrap_err().to_string();
    has(&e, "tokens.json");
    has(&e, "has id 5 but the logits have only 5 classes");
}

#[test]
fn tokens_byte_level_list() {
    // GPT-2 spellings: Ġ space, Ċ newline, ĉ tab, Ã© = é, 'â' alone = an incomplete sequence.
    let toks = json!(["Ġthe", "Ċ", "ĉ", "cafÃ©", "<|endoftext|>", "â", "ĠĠ"]);
    let t = parse_tokens(toks.to_string().as_bytes(), 7).unwrap();
    assert_eq!(
        t,
        [" the", "\\n", "\\t", "café", "<|endoftext|>", "\\xe2", "  "]
    );
    // Without a Ġ anywhere the list is not taken as byte-level: only the character mapping.
    assert_eq!(readable("Ċx", false), "\\nx");
    assert_eq!(readable("▁Hello", false), " Hello");
    assert_eq!(readable("Ã©", false), "Ã©");
    assert_eq!(readable("Ã©", true), "é");
}

#[test]
fn tokens_from_tokenizer_json() {
    let dir = TempDir::new();
    let tok = json!({
        "version": "1.0",
        "added_tokens": [{"id": 5, "content": "<|im_start|>", "special": true},
                         {"id": 6, "content": "Ġliteral", "special": false}],
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false}]},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"Ġhello": 0, "Ċ": 1, "!": 2, "Ã©t": 3, "ĉx": 4}}
    });
    let p = dir.file("tokenizer.json", tok.to_string().as_bytes());
    let t = read_tokens(&p, 9).unwrap();
    assert_eq!(
        t,
        [
            " hello",
            "\\n",
            "!",
            "ét",
            "\\tx",
            "<|im_start|>",
            "Ġliteral",
            "#7",
            "#8"
        ]
    );
    let e = read_tokens(&p, 6).unwrap_err().to_string();
    has(&e, "tokenizer.json");
    has(
        &e,
        "\"Ġliteral\" has id 6 but the logits have only 6 classes",
    );

    // SentencePiece Unigram: a list of [piece, score].
    let sp = json!({"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["▁the", -1.5], ["<0x09>", 0.0]]},
                    "decoder": {"type": "Metaspace"}});
    let t = parse_tokens(sp.to_string().as_bytes(), 3).unwrap();
    assert_eq!(t, ["<unk>", " the", "\\t"]);

    // vocab.json ({token: id}) of a GPT-2 model.
    let v = json!({"Ġa": 1, "b": 0});
    assert_eq!(
        parse_tokens(v.to_string().as_bytes(), 2).unwrap(),
        ["b", " a"]
    );
}

#[test]
fn bad_token_files() {
    for (bytes, want) in [
        (&b"not json"[..], "not valid JSON"),
        (b"[1, 2]", "item 0 is a number; expected a string"),
        (b"[]", "no tokens found"),
        (b"42", "the file holds a number"),
        (br#"{"model": {"vocab": 3}}"#, "no model.vocab map or list"),
        (br#"{"a": -1}"#, "has value -1"),
        (
            br#"{"model": {"vocab": {"a": 0}}, "added_tokens": [{"content": "x"}]}"#,
            "added_tokens item 0 lacks an integer \"id\"",
        ),
    ] {
        let m = parse_tokens(bytes, 4).unwrap_err();
        has(&m, want);
    }
}

#[test]
fn load_with_tokens() {
    let dir = TempDir::new();
    let t = dir.file(
        "t.safetensors",
        &safetensors(&[T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS))], None),
    );
    let tok = dir.file("tokens.json", br#"["x", "Gy"]"#);
    let d = files::load(&t, None, Some(&tok)).unwrap();
    assert_eq!(d.tokens, Some(vec!["x".into(), "Gy".into(), "#2".into()]));
    assert_eq!(d.token(1), "Gy");
    let big = dir.file("big_tokens.json", br#"["a", "b", "c", "d"]"#);
    let m = err_of(files::load(&t, None, Some(&big)), &big);
    has(&m, "has id 3 but the logits have only 3 classes");
}

// ------------------------------------------------------------------------------------ bad files

#[test]
fn truncated_files() {
    let dir = TempDir::new();
    let good = safetensors(&[T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS))], None);
    let p = dir.file("short.safetensors", &good[..good.len() - 5]);
    let m = err_of(load(&p), &p);
    has(
        &m,
        "truncated or damaged: tensor 'teacher_logits' has data_offsets [0, 24]",
    );
    has(&m, "only 19 data bytes follow the header");

    let p = dir.file("tiny.safetensors", &good[..5]);
    has(
        &err_of(load(&p), &p),
        "truncated: 5 bytes; a .safetensors file starts with an 8-byte header length",
    );

    let p = dir.file("head.safetensors", &good[..40]);
    has(&err_of(load(&p), &p), "truncated: header length field says");

    let goodn = npy(1, "<f4", "(2, 3)", &f32s(&LOGITS));
    let p = dir.file("short.npy", &goodn[..goodn.len() - 1]);
    has(
        &err_of(load(&p), &p),
        "truncated: shape [2, 3] of <f4 needs 24 data bytes but only 23 follow the header",
    );
    let p = dir.file("hdr.npy", &goodn[..30]);
    has(&err_of(load(&p), &p), "truncated: header length field says");
    let p = dir.file("empty.npy", b"");
    has(&err_of(load(&p), &p), "bad magic");
    let p = dir.0.join("missing.safetensors");
    has(&err_of(load(&p), &p), "cannot open");
    let d = dir.0.clone();
    has(&err_of(load(&d), &d), "is a directory");
}

#[test]
fn bad_headers() {
    let dir = TempDir::new();
    let mut huge = (u64::MAX - 3).to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    let p = dir.file("huge.safetensors", &huge);
    has(
        &err_of(load(&p), &p),
        "header length field says 18446744073709551612 bytes, over the limit of 100000000",
    );

    let cases: [(&str, &str, &[u8]); 8] = [
        ("json.safetensors", "{\"teacher_logits\": ", b""),
        ("notobj.safetensors", "[1, 2]", b""),
        (
            "nodtype.safetensors",
            r#"{"teacher_logits": {"shape": [1, 2], "data_offsets": [0, 8]}}"#,
            &[0; 8],
        ),
        (
            "shape.safetensors",
            r#"{"teacher_logits": {"dtype": "F32", "shape": [1, -2], "data_offsets": [0, 8]}}"#,
            &[0; 8],
        ),
        (
            "back.safetensors",
            r#"{"teacher_logits": {"dtype": "F32", "shape": [1, 2], "data_offsets": [8, 0]}}"#,
            &[0; 8],
        ),
        (
            "size.safetensors",
            r#"{"teacher_logits": {"dtype": "F32", "shape": [1, 3], "data_offsets": [0, 8]}}"#,
            &[0; 8],
        ),
        (
            "offs.safetensors",
            r#"{"teacher_logits": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0]}}"#,
            &[0; 8],
        ),
        ("meta.safetensors", r#"{"__metadata__": {"a": 1}}"#, b""),
    ];
    let wants = [
        "header is not valid JSON",
        "header is JSON but not an object",
        "tensor 'teacher_logits': no \"dtype\" string",
        "\"shape\" holds something other than non-negative integers",
        "data_offsets [8, 0] run backwards",
        "shape [1, 3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8",
        "\"data_offsets\" is not two non-negative integers",
        "__metadata__ entry 'a' is not a string",
    ];
    for ((name, header, data), want) in cases.iter().zip(wants) {
        let p = dir.file(name, &raw_safetensors(header, data));
        has(&err_of(load(&p), &p), want);
    }
    // Offsets past the data are caught even in a tensor that is not used.
    let p = dir.file(
        "extra.safetensors",
        &raw_safetensors(
            r#"{"teacher_logits": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]},
                "x": {"dtype": "U8", "shape": [4], "data_offsets": [8, 12]}}"#,
            &[0; 8],
        ),
    );
    has(
        &err_of(load(&p), &p),
        "tensor 'x' has data_offsets [8, 12] but only 8 data bytes follow",
    );
    // Not a safetensors file at all: text that happens to have a small first 8 bytes is rare; a
    // CSV reads as an absurd header length.
    let p = dir.file("text.safetensors", b"1.0,2.0,3.0\n4.0,5.0,6.0\n");
    has(&err_of(load(&p), &p), "over the limit");
    // Bad npy headers.
    let p = dir.file("fortran.npy", &{
        let mut b = npy(1, "<f4", "(1, 2)", &f32s(&[1.0, 2.0]));
        let at = b.windows(5).position(|w| w == b"False").unwrap();
        b[at..at + 5].copy_from_slice(b"True ");
        b
    });
    has(&err_of(load(&p), &p), "fortran_order=True is not supported");
}

#[test]
fn wrong_dtypes() {
    let dir = TempDir::new();
    for (dtype, bytes) in [
        ("I32", i32s(&[1, 2])),
        ("U8", vec![1, 2]),
        ("F8_E4M3", vec![1, 2]),
    ] {
        let p = dir.file(
            &format!("{dtype}.safetensors"),
            &safetensors(&[T("teacher_logits", dtype, &[1, 2], bytes)], None),
        );
        has(
            &err_of(load(&p), &p),
            &format!(
                "tensor 'teacher_logits' has dtype {dtype}; expected F32, F16, BF16 or F64 logits"
            ),
        );
    }
    for descr in [">f4", "<i4", "|u1"] {
        let p = dir.file("d.npy", &npy(1, descr, "(1, 2)", &[0; 8]));
        has(
            &err_of(load(&p), &p),
            &format!("dtype '{descr}' is not supported; expected little-endian float logits"),
        );
    }
    let p = dir.file(
        "labels.safetensors",
        &safetensors(
            &[
                T("teacher_logits", "F32", &[1, 2], f32s(&[0.0, 1.0])),
                T("labels", "F32", &[1], f32s(&[1.0])),
            ],
            None,
        ),
    );
    has(
        &err_of(load(&p), &p),
        "tensor 'labels' has dtype F32; expected I32 or I64",
    );
}

#[test]
fn wrong_ranks_and_sizes() {
    let dir = TempDir::new();
    for (shape, count, want) in [
        (
            &[6usize][..],
            6,
            "has rank 1 (shape [6]); expected logits of shape [N, V] or [B, T, V]",
        ),
        (&[1, 1, 2, 3], 6, "has rank 4 (shape [1, 1, 2, 3])"),
        (
            &[6, 1],
            6,
            "6 positions × 1 classes; expected at least 1 position and 2 classes",
        ),
        (&[0, 4], 0, "0 positions × 4 classes"),
    ] {
        let p = dir.file(
            "rank.safetensors",
            &safetensors(
                &[T("teacher_logits", "F32", shape, f32s(&vec![0.0; count]))],
                None,
            ),
        );
        has(&err_of(load(&p), &p), want);
    }
    let p = dir.file("rank.npy", &npy(1, "<f4", "(6,)", &f32s(&[0.0; 6])));
    has(&err_of(load(&p), &p), "array has rank 1 (shape [6])");
    let p = dir.file(
        "lab.safetensors",
        &safetensors(
            &[
                T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS)),
                T("labels", "I64", &[3], i64s(&[0, 1, 2])),
            ],
            None,
        ),
    );
    has(
        &err_of(load(&p), &p),
        "tensor 'labels' has shape [3]; expected [N] or [B, T] with 2 positions",
    );
}

#[test]
fn teacher_student_token_mismatches() {
    let dir = TempDir::new();
    let t = dir.file(
        "t.safetensors",
        &safetensors(&[T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS))], None),
    );
    // A student of another vocabulary loads (uld trains on it); every other family is refused
    // when it trains, with a message naming uld.
    let s = dir.file("wide.npy", &npy(1, "<f4", "(2, 4)", &f32s(&[0.0; 8])));
    let wide = files::load(&t, Some(&s), None).unwrap();
    assert_eq!((wide.n, wide.v, wide.student_v), (2, 3, 4));
    assert!(!wide.aligned());
    assert_eq!(wide.student_init.as_ref().unwrap().len(), 8);
    let fkl: kdviz::math::Divergence = "fkl".parse().unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        backend: BackendChoice::Cpu,
        ..TrainConfig::default()
    };
    let stop = AtomicBool::new(false);
    let m = train(None, &wide, &fkl, &cfg, &stop, &mut |_| {})
        .unwrap_err()
        .to_string();
    has(
        &m,
        "V mismatch: the teacher has 3 classes, the student 4; fkl compares class by class",
    );
    has(&m, "only uld accepts different sizes");
    let uld = train(
        None,
        &wide,
        &"uld".parse::<kdviz::math::Divergence>().unwrap(),
        &cfg,
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(uld.student_logits.len(), 8);
    assert!(uld.stats.iter().all(|s| s.classes.is_none()));
    let s = dir.file("long.npy", &npy(1, "<f4", "(3, 3)", &f32s(&[0.0; 9])));
    has(
        &err_of(files::load(&t, Some(&s), None), &s),
        "array has 3 positions (shape [3, 3]) but the teacher has 2",
    );
    let both = dir.file(
        "both.safetensors",
        &safetensors(
            &[
                T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS)),
                T("student_logits", "F32", &[2, 3], f32s(&[0.0; 6])),
            ],
            None,
        ),
    );
    let s = dir.file("s.npy", &npy(1, "<f4", "(2, 3)", &f32s(&[0.0; 6])));
    has(
        &err_of(files::load(&both, Some(&s), None), &both),
        "expected one source of initial student logits",
    );
    let inner = dir.file(
        "inner.safetensors",
        &safetensors(
            &[
                T("teacher_logits", "F32", &[2, 3], f32s(&LOGITS)),
                T("student_logits", "F32", &[2, 2], f32s(&[0.0; 4])),
            ],
            None,
        ),
    );
    assert_eq!(load(&inner).unwrap().student_v, 2);
    let many = dir.file(
        "many.safetensors",
        &safetensors(
            &[
                T("a", "F32", &[1, 2], f32s(&[0.0; 2])),
                T("b", "F32", &[1, 2], f32s(&[0.0; 2])),
            ],
            None,
        ),
    );
    has(
        &err_of(load(&many), &many),
        "holds 'a' [1, 2] F32, 'b' [1, 2] F32 but no tensor 'teacher_logits'",
    );
}

#[test]
fn nan_and_inf_values() {
    let dir = TempDir::new();
    let cases: [(&str, [f32; 4], &str); 4] = [
        (
            "nan.safetensors",
            [0.0, 1.0, f32::NAN, 2.0],
            "teacher logit of tensor 'teacher_logits' at position 1, class 0 is NaN; expected a finite logit in [-100000, 100000] or -inf (probability 0)",
        ),
        (
            "inf.safetensors",
            [0.0, f32::INFINITY, 1.0, 2.0],
            "at position 0, class 1 is inf",
        ),
        (
            "allneg.safetensors",
            [0.0, 1.0, f32::NEG_INFINITY, f32::NEG_INFINITY],
            "teacher position 1 of tensor 'teacher_logits' has every logit -inf",
        ),
        (
            "ok.safetensors",
            [f32::NEG_INFINITY, 1.0, 2.0, f32::NEG_INFINITY],
            "",
        ),
    ];
    for (name, vals, want) in cases {
        let p = dir.file(
            name,
            &safetensors(&[T("teacher_logits", "F32", &[2, 2], f32s(&vals))], None),
        );
        if want.is_empty() {
            load(&p).unwrap();
        } else {
            has(&err_of(load(&p), &p), want);
        }
    }
    // Issue 10: finite but outside the input policy (a torch.finfo(float32).min mask, 1e30): refused
    // with the range, and a hint to write -inf for a mask.
    let p = dir.file(
        "mask.safetensors",
        &safetensors(
            &[T(
                "teacher_logits",
                "F32",
                &[1, 3],
                f32s(&[1.0, f32::MIN, 2.0]),
            )],
            None,
        ),
    );
    has(
        &err_of(load(&p), &p),
        "teacher logit of tensor 'teacher_logits' at position 0, class 1 is -3.4028234663852886e38; \
         expected a finite logit in [-100000, 100000] or -inf (probability 0) (write -inf, not a large \
         negative number, for a class the teacher rules out)",
    );
    let p = dir.file("e30.npy", &npy(1, "<f4", "(1, 2)", &f32s(&[1e30, 0.0])));
    has(
        &err_of(load(&p), &p),
        "class 0 is 1.0000000150474662e30; expected a finite logit",
    );
    // f64 beyond the f32 range is +inf after conversion, and reported.
    let p = dir.file("big.npy", &npy(1, "<f8", "(1, 2)", &f64s(&[1e300, 0.0])));
    has(&err_of(load(&p), &p), "class 0 is inf");
    // The student may not use -inf.
    let t = dir.0.join("ok.safetensors");
    let s = dir.file(
        "s.npy",
        &npy(
            1,
            "<f4",
            "(2, 2)",
            &f32s(&[0.0, f32::NEG_INFINITY, 0.0, 0.0]),
        ),
    );
    has(
        &err_of(files::load(&t, Some(&s), None), &s),
        "student logit of array at position 0, class 1 is -inf; expected a finite logit in [-100000, 100000]",
    );
    // Labels outside the vocabulary, e.g. the -100 ignore index.
    let p = dir.file(
        "lab.safetensors",
        &safetensors(
            &[
                T("teacher_logits", "F32", &[2, 2], f32s(&[0.0; 4])),
                T("labels", "I64", &[2], i64s(&[1, -100])),
            ],
            None,
        ),
    );
    has(
        &err_of(load(&p), &p),
        "label -100 at position 1 of tensor 'labels' is outside the vocabulary; expected 0 ≤ label < 2",
    );
    let p = dir.file(
        "ctx.safetensors",
        &safetensors(
            &[T("teacher_logits", "F32", &[2, 2], f32s(&[0.0; 4]))],
            Some(json!({"contexts": "[\"only one\"]"})),
        ),
    );
    has(
        &err_of(load(&p), &p),
        "__metadata__ 'contexts' holds 1 strings; expected one per position, 2",
    );
}

#[test]
fn too_large_is_refused_before_reading() {
    let dir = TempDir::new();
    // A sparse file: the header promises 2^31 + 2^15 f16 values that exist on disk only as a hole.
    let (n, v) = ((MAX_LOGITS >> 15) + 1, 1usize << 15);
    let bytes = 2 * (n * v) as u64;
    let header = format!(
        r#"{{"teacher_logits": {{"dtype": "F16", "shape": [{n}, {v}], "data_offsets": [0, {bytes}]}}}}"#
    );
    let head = raw_safetensors(&header, &[]);
    let p = dir.file("big.safetensors", &head);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(head.len() as u64 + bytes).unwrap();
    drop(f);
    let m = err_of(load(&p), &p);
    has(
        &m,
        "tensor 'teacher_logits' has shape [65537, 32768]: too large (2147516416 values",
    );
    has(&m, "kdviz loads at most 2^31 logits (8 GiB) in all");
    // Teacher and student together over the cap.
    let half = MAX_LOGITS / 2 / v + 1;
    let b2 = 2 * (half * v) as u64;
    let header = format!(
        r#"{{"teacher_logits": {{"dtype": "F16", "shape": [{half}, {v}], "data_offsets": [0, {b2}]}},
            "student_logits": {{"dtype": "F16", "shape": [{half}, {v}], "data_offsets": [{b2}, {}]}}}}"#,
        2 * b2
    );
    let head = raw_safetensors(&header, &[]);
    let p = dir.file("pair.safetensors", &head);
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(head.len() as u64 + 2 * b2).unwrap();
    drop(f);
    has(&err_of(load(&p), &p), "plus 1073774592 already loaded");
}

// ------------------------------------------------------------------------------------ damage

/// xorshift64*: reproducible damage without a dependency on the rand API.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_truncations_and_bit_flips_never_panic() {
    let dir = TempDir::new();
    let st = safetensors(
        &[
            T("teacher_logits", "BF16", &[2, 2, 3], u16s(&[0x3f80; 12])),
            T("student_logits", "F32", &[4, 3], f32s(&[0.5; 12])),
            T("labels", "I64", &[2, 2], i64s(&[0, 1, 2, 0])),
        ],
        Some(json!({"contexts": "[\"a\",\"b\",\"c\",\"d\"]"})),
    );
    let np = npy(
        1,
        "<f2",
        "(2, 3)",
        &u16s(&[0x3c00, 0xfc00, 0, 0x4000, 0x3800, 0x8000]),
    );
    let tok = json!({"model": {"vocab": {"Ġa": 0, "b": 1}}, "added_tokens": [{"id": 2, "content": "<s>"}],
                     "decoder": {"type": "ByteLevel"}})
    .to_string()
    .into_bytes();
    assert!(load(&dir.file("ok.safetensors", &st)).is_ok());
    assert!(load(&dir.file("ok.npy", &np)).is_ok());
    let good_tok = dir.file("ok_tok.json", &tok);
    assert!(read_tokens(&good_tok, 3).is_ok());

    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut errors, mut oks) = (0, 0);
    for round in 0..300 {
        for (name, good) in [("f.safetensors", &st), ("f.npy", &np), ("tok.json", &tok)] {
            let mut b = good.clone();
            match round % 3 {
                0 => b.truncate(rng.below(good.len())),
                1 => {
                    for _ in 0..1 + rng.below(3) {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                }
                _ => {
                    // Overwrite a run with random bytes (lengths and offsets in the header too).
                    let i = rng.below(b.len());
                    for j in i..(i + 8).min(b.len()) {
                        b[j] = rng.next() as u8;
                    }
                }
            }
            let p = dir.file(name, &b);
            let r = if name == "tok.json" {
                read_tokens(&p, 3).map(|_| ()).map_err(|e| e.to_string())
            } else {
                load(&p)
                    .map(|d| d.check().unwrap())
                    .map_err(|e| e.to_string())
            };
            match r {
                Ok(()) => oks += 1,
                Err(m) => {
                    assert!(m.contains(name), "{m:?} does not name {name}");
                    errors += 1;
                }
            }
        }
    }
    // The damage must actually exercise the error paths, and some flips (in values) load fine.
    assert!(errors > 300 && oks > 10, "errors {errors}, ok {oks}");
}
