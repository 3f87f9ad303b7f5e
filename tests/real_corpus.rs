//! The built-in Shakespeare trigram teacher (`kdviz::real::corpus`): shape, normalisation, a
//! genuinely long tail, a real language model (better than unigram, plausible continuations).
//! Thresholds sit around values measured on the bundled text (noted beside each).
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::real::{RealError, corpus};

fn logsumexp(row: &[f32]) -> f64 {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln()
}

#[test]
fn builtin_has_the_promised_size_and_passes_check() {
    let d = corpus::builtin();
    d.check().unwrap();
    assert!(d.v >= 5000, "V = {}", d.v); // 5,751
    assert_eq!(d.n, corpus::DEFAULT_POSITIONS);
    assert!(d.n >= 2000);
    assert_eq!(
        d.source,
        format!("built-in: Shakespeare trigram (V={}, N={})", d.v, d.n)
    );
    assert!(d.student_init.is_none());
    assert_eq!(d.tokens.as_ref().unwrap().len(), d.v);
    assert_eq!(d.contexts.as_ref().unwrap().len(), d.n);
    assert_eq!(d.labels.as_ref().unwrap().len(), d.n);
    // Context strings are the words before the position, not empty placeholders.
    assert!(
        d.contexts
            .as_ref()
            .unwrap()
            .iter()
            .all(|c| c.split(' ').count() == 8)
    );
    // Classes are ordered by frequency: the commonest tokens of English verse come first.
    let head: Vec<String> = (0..5).map(|k| d.token(k)).collect();
    assert!(
        head.contains(&",".to_string()) && head.contains(&"the".to_string()),
        "{head:?}"
    );
}

#[test]
fn every_row_is_a_finite_probability_distribution() {
    let d = corpus::builtin();
    assert!(
        d.teacher.iter().all(|x| x.is_finite()),
        "a logit is not finite"
    );
    for r in 0..d.n {
        let lse = logsumexp(d.teacher_row(r));
        assert!(lse.abs() < 1e-4, "row {r}: logsumexp {lse}"); // measured max |lse| 7e-8
    }
}

#[test]
fn rows_are_long_tailed() {
    let d = corpus::builtin();
    let (mut top10, mut bottom_half, mut min_p) = (0.0, 0.0, f64::INFINITY);
    for r in 0..d.n {
        let mut p: Vec<f64> = d.teacher_row(r).iter().map(|&x| (x as f64).exp()).collect();
        p.sort_by(|a, b| b.total_cmp(a));
        top10 += p[..10].iter().sum::<f64>();
        bottom_half += p[d.v / 2..].iter().sum::<f64>();
        min_p = min_p.min(p[d.v - 1]);
    }
    let n = d.n as f64;
    // A peaked head: 10 of ~5,750 classes hold a large share on average (measured 0.44)...
    assert!(top10 / n > 0.35, "top-10 mass {}", top10 / n);
    // ...and a real tail: the least likely half of the classes still holds mass (measured 0.041),
    // with no class ruled out.
    assert!(
        bottom_half / n > 0.01 && bottom_half / n < 0.2,
        "bottom-half mass {}",
        bottom_half / n
    );
    assert!(min_p > 0.0);
}

#[test]
fn unigram_follows_zipf() {
    let mut c = corpus::train_counts();
    c.sort_by(|a, b| b.cmp(a));
    // Least-squares slope of log count against log rank over ranks 10..=1000 (measured −1.21).
    let pts: Vec<(f64, f64)> = (10..=1000)
        .map(|r| ((r as f64).ln(), (c[r - 1] as f64).ln()))
        .collect();
    let k = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let sxx: f64 = pts.iter().map(|p| p.0 * p.0).sum();
    let sxy: f64 = pts.iter().map(|p| p.0 * p.1).sum();
    let slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    assert!((-1.4..=-1.0).contains(&slope), "Zipf slope {slope}");
}

#[test]
fn trigram_beats_unigram_on_held_out_text() {
    let d = corpus::builtin();
    let p = corpus::perplexity(d.n).unwrap();
    // Measured: trigram 284.5, unigram 538.3.
    assert!(p.trigram.is_finite() && p.unigram.is_finite());
    assert!(p.trigram < 0.7 * p.unigram, "{p:?}");
    // The rows hold that model: their mean NLL at the labels gives the same perplexity.
    let labels = d.labels.as_ref().unwrap();
    let nll: f64 = (0..d.n)
        .map(|r| -(d.teacher_row(r)[labels[r] as usize] as f64))
        .sum::<f64>()
        / d.n as f64;
    let rel = (nll.exp() - p.trigram).abs() / p.trigram;
    assert!(
        rel < 1e-4,
        "rows give ppl {}, model {}",
        nll.exp(),
        p.trigram
    );
}

#[test]
fn known_contexts_give_plausible_continuations() {
    // Measured: after "my lord" the comma leads with p ≈ 0.39; after "i pray", "you" (0.46)
    // then "thee" (0.21).
    let after = corpus::next_token("My lord");
    assert_eq!(after[0].0, ",", "{:?}", &after[..5]);
    assert!(after[0].1 > 0.2);
    let after = corpus::next_token("I pray");
    let top2: Vec<&str> = after[..2].iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(top2, ["you", "thee"], "{:?}", &after[..5]);
    let total: f64 = after.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-3);
}

#[test]
fn tokenizer_follows_its_documented_rule() {
    let t = corpus::tokenize("Ne'er, 'tis Tullus' store-houses--O  THOU!\nknow't & 42");
    assert_eq!(
        t,
        [
            "ne'er",
            ",",
            "tis",
            "tullus",
            "store-houses",
            "--",
            "o",
            "thou",
            "!",
            "know't",
            "&",
            "42"
        ]
    );
}

#[test]
fn builtin_with_sizes_and_rejects_bad_counts() {
    let small = corpus::builtin_with(64).unwrap();
    small.check().unwrap();
    assert_eq!(small.n, 64);
    assert_eq!(small.v, corpus::builtin().v);
    assert!(matches!(corpus::builtin_with(0), Err(RealError::Input(_))));
    assert!(matches!(
        corpus::builtin_with(10_000_000),
        Err(RealError::Input(_))
    ));
    // Deterministic: same positions, same logits.
    assert_eq!(corpus::builtin_with(64).unwrap(), small);
}

/// A benchmark, not a test (speed is never asserted): prints the build time.
/// `cargo test --release --test real_corpus build_time -- --ignored --nocapture`
#[test]
#[ignore]
fn build_time() {
    // Measured on 2 shared cores: 50-170 ms at opt-level 1 including parsing the text, 25-55 ms
    // once parsed (release: 92 ms / 28 ms).
    let t = std::time::Instant::now();
    let d = corpus::builtin();
    let first = t.elapsed();
    let t = std::time::Instant::now();
    let _ = corpus::builtin();
    let again = t.elapsed();
    eprintln!(
        "built-in teacher N={} V={}: {first:?}, again {again:?}",
        d.n, d.v
    );
}
