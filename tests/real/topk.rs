//! Top-k teachers in `kdviz real` (practice.md §10.6): `--topk K` derives one from a full teacher
//! and keeps the metrics against the full teacher (the cost of k); a top-k `.safetensors` file
//! trains like the derived teacher; what a top-k teacher cannot serve exits 2 with the reason.
//! A module of `real_cli.rs` (one test binary fewer to link).

use crate::common::{fails, json, kdviz};
use kdviz::real::{RealData, files};
use std::path::{Path, PathBuf};

fn series(run: &serde_json::Value, key: &str) -> Vec<Option<f64>> {
    run["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h[key].as_f64())
        .collect()
}

fn objective(run: &serde_json::Value) -> Vec<f64> {
    series(run, "objective")
        .into_iter()
        .map(|x| x.expect("objective"))
        .collect()
}

fn builtin(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "real",
        "--builtin",
        "--positions",
        "64",
        "--student",
        "free",
        "--epochs",
        "20",
        "--backend",
        "cpu",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

/// `--topk 16` with the top-16-plus-tail FKL: the objective falls, and KL(p‖q) to the full teacher
/// is reported every epoch and stays above the objective (the coarse-grained KL is at most the
/// full one, §10.3): the gap is the cost of k. The same loss on the full teacher (its own top-k
/// selection) trains identically.
#[test]
fn topk_shows_the_cost_of_k_against_the_full_teacher() {
    let spec = "fkl:support=topk-tail,k=16";
    let v = builtin(&["--topk", "16", "--div", spec]);
    assert_eq!(v["teacher_topk"], 16);
    assert_eq!(v["full_teacher"], true);
    let run = &v["runs"][0];
    assert_eq!(run["divergence"], spec);
    let obj = objective(run);
    assert_eq!(obj.len(), 21);
    assert!(obj[20] < 0.8 * obj[0], "{obj:?}");
    let kl: Vec<f64> = series(run, "kl_pq")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    for (e, (o, k)) in obj.iter().zip(&kl).enumerate() {
        assert!(
            k.is_finite() && *k >= o - 1e-9,
            "epoch {e}: KL {k} < objective {o}"
        );
    }
    assert!(
        kl[20] - obj[20] > 0.1,
        "no visible cost of k: {kl:?} vs {obj:?}"
    );
    for key in ["kl_qp", "head_gap", "tail_gap", "top1"] {
        assert!(series(run, key).iter().all(Option::is_some), "{key}");
    }
    let full = builtin(&["--div", spec]);
    assert_eq!(full["teacher_topk"], serde_json::Value::Null);
    for (a, b) in obj.iter().zip(objective(&full["runs"][0])) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }
    // A smaller k uses the first entries of the stored top 16.
    let small = builtin(&["--topk", "16", "--div", "fkl:support=topk,k=4"]);
    let full4 = builtin(&["--div", "fkl:support=topk,k=4"]);
    for (a, b) in objective(&small["runs"][0])
        .iter()
        .zip(objective(&full4["runs"][0]))
    {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }
}

/// What a top-k teacher cannot serve, and practice options the GPU does not run: exit 2, one line naming the
/// key and what is accepted.
#[test]
fn refusals_name_the_key_and_what_is_accepted() {
    let base = [
        "real",
        "--builtin",
        "--positions",
        "16",
        "--epochs",
        "2",
        "--backend",
        "cpu",
    ];
    let run = |extra: &[&str], needle: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        fails(&args, needle)
    };
    let accepted = "trains only with support=topk, topk-renorm or topk-tail and k ≤ 16";
    let e = run(
        &["--topk", "16", "--div", "fkl"],
        "support=full needs the teacher's full row",
    );
    assert!(e.contains(accepted) && e.contains("without --topk"), "{e}");
    run(
        &["--topk", "16", "--div", "fkl:support=sampled,n=8"],
        "support=sampled needs the teacher's full row",
    );
    run(
        &["--topk", "16", "--div", "fkl:support=topk,k=32"],
        "k=32 is more than the teacher's stored top 16; expected k ≤ 16",
    );
    for key in ["tt=2", "softcap=5", "std=true", "tprecision=bf16"] {
        let name = key.split('=').next().unwrap();
        let e = run(
            &[
                "--topk",
                "16",
                "--div",
                &format!("fkl:support=topk,k=4,{key}"),
            ],
            &format!("{name} needs the teacher's full row"),
        );
        assert!(
            e.contains("takes only st, t2, precision and the top-k keys"),
            "{e}"
        );
    }
    run(&["--topk", "0", "--div", "fkl:support=topk,k=1"], "--topk");
    let v = kdviz::real::corpus::builtin_with(16).unwrap().v;
    run(
        &["--topk", "99999", "--div", "fkl:support=topk,k=1"],
        &format!("--topk 99999 is out of range; expected 1..{v}"),
    );
    run(
        &["--div", "fkl:support=topk,k=99999"],
        &format!("k=99999 is out of range; expected 1..{v}"),
    );
    run(
        &["--topk", "4", "--student-vocab", "100", "--div", "uld"],
        "--topk 4 with a student vocabulary of 100 classes",
    );
    let mut gpu = base.to_vec();
    gpu[7] = "gpu";
    for (extra, needle) in [
        (
            vec!["--div", "fkl:support=topk-tail,k=4,st=2"],
            "fkl: support=topk-tail,k=4 is not yet on the GPU; use the CPU engine",
        ),
        (
            vec!["--div", "fkl", "--div", "rkl:precision=f64"],
            "--div \"rkl:precision=f64\": rkl: precision=f64: the GPU computes in f32",
        ),
        (
            vec!["--div", "fkl:compute=naive,precision=bf16"],
            "fkl: compute=naive emulates arithmetic in the stored formats on the CPU only",
        ),
    ] {
        let mut args = gpu.clone();
        args.extend_from_slice(&extra);
        fails(&args, needle);
    }
}

// ------------------------------------------------------------------ files

/// One tensor of a test file: name, dtype, shape, little-endian bytes.
struct T(&'static str, &'static str, Vec<usize>, Vec<u8>);

fn bytes_f64(x: &[f64]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bytes_f32(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write(path: &Path, tensors: &[T], metadata: &[(&str, &str)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for T(name, dtype, shape, bytes) in tensors {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(m));
    }
    let header = serde_json::Value::Object(header).to_string();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("kdviz-topk-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const N: usize = 6;
const V: usize = 9;

/// A full teacher file `[N, V]` with some equal logits (the tie rule matters).
fn full_teacher(dir: &Dir) -> (String, RealData) {
    let teacher: Vec<f32> = (0..N * V).map(|i| ((i * 7) % 5) as f32 * 0.7).collect();
    let path = dir.path("full.safetensors");
    write(
        Path::new(&path),
        &[T("teacher_logits", "F32", vec![N, V], bytes_f32(&teacher))],
        &[],
    );
    let data = files::load(Path::new(&path), None, None).unwrap();
    (path, data)
}

fn file_run(input: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "real",
        "--input",
        input,
        "--epochs",
        "15",
        "--lr",
        "0.2",
        "--backend",
        "cpu",
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

/// A top-k file written from the derived top k (F64 log-probabilities and tail, I64 ids, V in the
/// metadata) trains exactly as `--topk` on the full file; the metrics against the full teacher do
/// not exist (JSON null, CSV empty cells, text "—"). A file as scripts/dump_hf_logits.py writes it
/// (F32, I32, [B, T, k]) with no tail and a smaller k trains too.
#[test]
fn a_top_k_file_trains_as_the_derived_teacher() {
    let dir = Dir::new("file");
    let (full, data) = full_teacher(&dir);
    let k = 4;
    let top = data.clone().with_topk(k).unwrap().topk.unwrap();
    let ids: Vec<u8> = top
        .ids
        .iter()
        .flat_map(|&j| i64::from(j).to_le_bytes())
        .collect();
    let stored = dir.path("top4.safetensors");
    write(
        Path::new(&stored),
        &[
            T("teacher_topk_ids", "I64", vec![N, k], ids),
            T(
                "teacher_topk_logprobs",
                "F64",
                vec![N, k],
                bytes_f64(&top.logprobs),
            ),
            T(
                "teacher_tail_logprob",
                "F64",
                vec![N],
                bytes_f64(top.tail.as_ref().unwrap()),
            ),
        ],
        &[("vocab", "9")],
    );
    for spec in [
        "fkl:support=topk-tail,k=4",
        "akl:support=topk-renorm,k=3,st=2",
    ] {
        let from_file = file_run(&stored, &["--div", spec]);
        let derived = file_run(&full, &["--topk", "4", "--div", spec]);
        assert_eq!(from_file["full_teacher"], false);
        assert_eq!(from_file["teacher_topk"], 4);
        assert_eq!(from_file["vocab"], V);
        let (a, b) = (
            objective(&from_file["runs"][0]),
            objective(&derived["runs"][0]),
        );
        assert!(a[15] < a[0], "{spec}: {a:?}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1e-12),
                "{spec}: {x} vs {y}"
            );
        }
        for key in ["kl_pq", "kl_qp", "head_gap", "tail_gap", "top1"] {
            assert!(
                series(&from_file["runs"][0], key)
                    .iter()
                    .all(Option::is_none),
                "{key}"
            );
            assert!(
                series(&derived["runs"][0], key).iter().all(Option::is_some),
                "{key}"
            );
        }
    }
    // Both forms in one file: the students see the stored top k, the metrics use the full teacher.
    let teacher: Vec<f32> = data.teacher.clone();
    let both = dir.path("both.safetensors");
    let ids: Vec<u8> = top
        .ids
        .iter()
        .flat_map(|&j| i64::from(j).to_le_bytes())
        .collect();
    write(
        Path::new(&both),
        &[
            T("teacher_logits", "F32", vec![N, V], bytes_f32(&teacher)),
            T("teacher_topk_ids", "I64", vec![N, k], ids),
            T(
                "teacher_topk_logprobs",
                "F64",
                vec![N, k],
                bytes_f64(&top.logprobs),
            ),
            T(
                "teacher_tail_logprob",
                "F64",
                vec![N],
                bytes_f64(top.tail.as_ref().unwrap()),
            ),
        ],
        &[],
    );
    let spec = "fkl:support=topk-tail,k=4";
    let (a, b) = (
        file_run(&both, &["--div", spec]),
        file_run(&full, &["--topk", "4", "--div", spec]),
    );
    assert_eq!(
        (a["full_teacher"].as_bool(), a["teacher_topk"].as_u64()),
        (Some(true), Some(4))
    );
    for key in ["objective", "kl_pq", "top1"] {
        assert_eq!(
            series(&a["runs"][0], key),
            series(&b["runs"][0], key),
            "{key}"
        );
    }
    let (code, csv, err) = kdviz(&[
        "real",
        "--input",
        &stored,
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--csv",
        "--div",
        "fkl:support=topk,k=2",
    ]);
    assert_eq!(code, 0, "{err}");
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with("\"fkl:support=topk,k=2\",0,") && row.contains(",,,,,"),
        "{row}"
    );
    let (code, text, err) = kdviz(&[
        "real",
        "--input",
        &stored,
        "--epochs",
        "2",
        "--backend",
        "cpu",
        "--div",
        "fkl:support=topk,k=2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("stored as its top 4") && text.contains('—'),
        "{text}"
    );

    // As dump_hf_logits.py writes it: f32 log-probabilities, int32 ids, [B, T, k]; here without the
    // tail (p̄ = 1 − Σ p_K) and with the student's logits telling V.
    let lp32: Vec<f32> = top.logprobs.iter().map(|&x| x as f32).collect();
    let ids32: Vec<u8> = top
        .ids
        .iter()
        .flat_map(|&j| (j as i32).to_le_bytes())
        .collect();
    let student: Vec<f32> = (0..N * V).map(|i| (i % 3) as f32 * 0.1).collect();
    let script = dir.path("script.safetensors");
    write(
        Path::new(&script),
        &[
            T("teacher_topk_ids", "I32", vec![2, 3, k], ids32),
            T(
                "teacher_topk_logprobs",
                "F32",
                vec![2, 3, k],
                bytes_f32(&lp32),
            ),
            T("student_logits", "F32", vec![2, 3, V], bytes_f32(&student)),
        ],
        &[],
    );
    let v = file_run(&script, &["--div", "fkl:support=topk-tail,k=2"]);
    assert_eq!(
        (v["positions"].as_u64(), v["vocab"].as_u64()),
        (Some(6), Some(9))
    );
    let obj = objective(&v["runs"][0]);
    assert!(obj[15] < obj[0], "{obj:?}");
}

/// Malformed top-k files: exit 2, one line naming the file, the tensor or position and what was
/// expected.
#[test]
fn malformed_top_k_files_are_refused() {
    let dir = Dir::new("bad");
    let ids = |rows: &[[i64; 2]]| -> Vec<u8> {
        rows.iter()
            .flatten()
            .flat_map(|j| j.to_le_bytes())
            .collect()
    };
    let lp = |rows: &[[f64; 2]]| -> Vec<u8> { bytes_f64(&rows.concat()) };
    let good_lp = [[-0.5, -1.5], [-0.2, -2.0]];
    /// A file's name, its tensors and metadata, and what the refusal says.
    type Case = (
        &'static str,
        Vec<T>,
        Vec<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "novocab",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
            ],
            vec![],
            "nothing tells its vocabulary size V; expected __metadata__ 'vocab'",
        ),
        (
            "dup",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [3, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
            ],
            vec![("vocab", "5")],
            "top-k id 3 appears twice at position 1",
        ),
        (
            "outside",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 7], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
            ],
            vec![("vocab", "5")],
            "top-k id 7 at position 0 is outside the vocabulary; expected ids below 5",
        ),
        (
            "negative",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, -1], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
            ],
            vec![("vocab", "5")],
            "id -1 at position 0, entry 1 of tensor 'teacher_topk_ids' is not a class",
        ),
        (
            "increasing",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T(
                    "teacher_topk_logprobs",
                    "F64",
                    vec![2, 2],
                    lp(&[[-0.5, -1.5], [-2.0, -0.2]]),
                ),
            ],
            vec![("vocab", "5")],
            "top-k log-probabilities at position 1 increase at entry 1",
        ),
        (
            "positive",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T(
                    "teacher_topk_logprobs",
                    "F64",
                    vec![2, 2],
                    lp(&[[0.5, -1.5], [-0.2, -2.0]]),
                ),
            ],
            vec![("vocab", "5")],
            "top-k log-probability at position 0, entry 0 is 0.5; expected a number ≤ 0 or -inf",
        ),
        (
            "shape",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![4], lp(&good_lp)),
            ],
            vec![("vocab", "5")],
            "tensor 'teacher_topk_logprobs' has shape [4] but 'teacher_topk_ids' [2, 2]",
        ),
        (
            "nolp",
            vec![T(
                "teacher_topk_ids",
                "I64",
                vec![2, 2],
                ids(&[[0, 1], [2, 3]]),
            )],
            vec![("vocab", "5")],
            "holds 'teacher_topk_ids' but no 'teacher_topk_logprobs'",
        ),
        (
            "tail",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
                T(
                    "teacher_tail_logprob",
                    "F64",
                    vec![3],
                    bytes_f64(&[-1.0, -1.0, -1.0]),
                ),
            ],
            vec![("vocab", "5")],
            "tensor 'teacher_tail_logprob' has shape [3]; expected [N] or [B, T] with 2 positions",
        ),
        (
            "vocabtext",
            vec![
                T(
                    "teacher_topk_ids",
                    "I64",
                    vec![2, 2],
                    ids(&[[0, 1], [2, 3]]),
                ),
                T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
            ],
            vec![("vocab", "many")],
            "__metadata__ 'vocab' is \"many\"; expected the vocabulary size as a decimal integer",
        ),
    ];
    for (name, tensors, meta, needle) in cases {
        let path = dir.path(&format!("{name}.safetensors"));
        write(Path::new(&path), &tensors, &meta);
        let e = fails(
            &[
                "real",
                "--input",
                &path,
                "--div",
                "fkl:support=topk,k=2",
                "--backend",
                "cpu",
            ],
            needle,
        );
        assert!(e.contains(&path), "{name}: {e}");
    }
    // A well-formed file refuses what a top-k teacher cannot serve, a position figure among them.
    let path = dir.path("ok.safetensors");
    write(
        Path::new(&path),
        &[
            T(
                "teacher_topk_ids",
                "I64",
                vec![2, 2],
                ids(&[[0, 1], [2, 3]]),
            ),
            T("teacher_topk_logprobs", "F64", vec![2, 2], lp(&good_lp)),
        ],
        &[("vocab", "5")],
    );
    let figure = dir.path("pos.png");
    for (extra, needle) in [
        (
            vec!["--div", "rkl"],
            "rkl: support=full needs the teacher's full row",
        ),
        (
            vec!["--div", "fkl:support=topk,k=3"],
            "k=3 is more than the teacher's stored top 2",
        ),
        (
            vec![
                "--div",
                "fkl:support=topk,k=2",
                "--figure",
                &figure,
                "--position",
                "0",
            ],
            "--position needs the full teacher",
        ),
        (
            vec!["--div", "fkl:support=topk,k=2", "--topk", "1"],
            "this teacher is already stored as its top 2",
        ),
    ] {
        let mut args = vec!["real", "--input", &path, "--backend", "cpu"];
        args.extend_from_slice(&extra);
        fails(&args, needle);
    }
}
