//! The built-in real teacher: an interpolated Kneser–Ney word trigram model trained on a bundled
//! public-domain Shakespeare text (`assets/corpus/`, see its README), evaluated at held-out
//! positions. It gives the real-model tab genuine language-model logits — Zipf-shaped, with a long
//! smoothed tail over a vocabulary of several thousand word types — without any file or download.
//!
//! Pipeline: [`tokenize`] the embedded text → the first [`TRAIN_FRACTION`] of the tokens train
//! the counts (parsed once per process, cached) → rows at evenly spaced held-out positions are the
//! model's log-probabilities over the whole vocabulary.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{RealData, RealError};

/// The bundled text (tiny Shakespeare, a prefix; public domain — see `assets/corpus/README.md`).
pub const TEXT: &str = include_str!("../../assets/corpus/shakespeare.txt");

/// Positions of [`builtin`]: enough rows for realistic per-row averages, small enough to build fast.
pub const DEFAULT_POSITIONS: usize = 2048;

/// Share of the token stream that trains the counts; the rest is held out for the rows.
pub const TRAIN_FRACTION: f64 = 0.9;

/// Tokens of context shown per position in [`RealData::contexts`].
const CONTEXT_TOKENS: usize = 8;

/// Splits text into lowercase tokens. The rule:
/// - a **word** is a run of ASCII letters or digits, which may continue through a single `'` or
///   `-` that has a letter or digit on both sides (`ne'er`, `know't`, `store-houses`);
/// - an apostrophe anywhere else is dropped: Shakespeare's quotes and elisions share the one mark,
///   so `'tis` gives `tis` and `Tullus'` gives `tullus`;
/// - a run of hyphens outside a word (`--`) is one token;
/// - any other non-space character is a token of its own (`,` `.` `;` `:` `!` `?` `&` …);
/// - whitespace, line breaks included, only separates.
pub fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let is_word = |c: char| c.is_ascii_alphanumeric();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_word(c) {
            let start = i;
            i += 1;
            while i < chars.len() {
                if is_word(chars[i]) {
                    i += 1;
                } else if (chars[i] == '\'' || chars[i] == '-')
                    && i + 1 < chars.len()
                    && is_word(chars[i + 1])
                {
                    i += 2;
                } else {
                    break;
                }
            }
            out.push(chars[start..i].iter().collect());
        } else if c == '-' {
            let start = i;
            while i < chars.len() && chars[i] == '-' {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            if !c.is_whitespace() && c != '\'' {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// Held-out perplexities at the positions of [`builtin_with`], for the same `positions`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Perplexity {
    /// The Kneser–Ney trigram teacher (what the rows hold).
    pub trigram: f64,
    /// The smoothed unigram baseline (absolute discounting over a uniform floor) on the same positions.
    pub unigram: f64,
}

/// Counts parsed from the text once per process.
struct Model {
    /// Vocabulary, most frequent first (ties by string), over train and held-out text, so every
    /// target is a class; types seen only in the held-out part get the uniform floor.
    vocab: Vec<String>,
    index: HashMap<String, u32>,
    /// The whole token stream as vocabulary ids.
    ids: Vec<u32>,
    /// Tokens `[0, split)` train; `[split, len)` are held out.
    split: usize,
    /// Distinct training trigrams `(u, v, w, count)`, sorted.
    tri: Vec<(u32, u32, u32, u32)>,
    /// `(u, v)` → (range in `tri`, total count c(uv·)).
    tri_index: HashMap<(u32, u32), (usize, usize, u64)>,
    /// Distinct `(v, w, N1+(·vw))`, sorted: how many distinct left words precede each bigram.
    bi: Vec<(u32, u32, u32)>,
    /// `v` → range in `bi` and N1+(·v·) = Σ_w N1+(·vw).
    bi_index: Vec<(usize, usize, u64)>,
    /// Continuation unigram with a uniform floor: the base of every row.
    p1: Vec<f64>,
    ln_p1: Vec<f64>,
    /// Absolute discounts of the trigram and bigram levels.
    d3: f64,
    d2: f64,
    /// The baseline unigram (training counts, discounted over a uniform floor).
    unigram: Vec<f64>,
}

/// Ney's discount `n1 / (n1 + 2 n2)` from count-of-counts, kept inside (0.1, 0.95) so that a
/// degenerate count profile cannot switch smoothing off or drown the counts.
fn discount<I: IntoIterator<Item = u64>>(counts: I) -> f64 {
    let (mut n1, mut n2) = (0u64, 0u64);
    for c in counts {
        match c {
            1 => n1 += 1,
            2 => n2 += 1,
            _ => {}
        }
    }
    if n1 + n2 == 0 {
        return 0.75;
    }
    (n1 as f64 / (n1 as f64 + 2.0 * n2 as f64)).clamp(0.1, 0.95)
}

/// `p(w) = max(c(w) - d, 0) / total + d · types / total / V`: sums to 1, every class > 0.
fn floored_unigram(counts: &[u64], v: usize) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return vec![1.0 / v as f64; v];
    }
    let d = discount(counts.iter().copied());
    let types = counts.iter().filter(|&&c| c > 0).count() as f64;
    let floor = d * types / total as f64 / v as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - d).max(0.0) / total as f64 + floor)
        .collect()
}

impl Model {
    fn build(text: &str) -> Model {
        let tokens = tokenize(text);
        // Vocabulary ordered by total frequency, so class 0 is the commonest token.
        let mut freq: HashMap<&str, u64> = HashMap::new();
        for t in &tokens {
            *freq.entry(t.as_str()).or_insert(0) += 1;
        }
        let mut types: Vec<(&str, u64)> = freq.into_iter().collect();
        types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let vocab: Vec<String> = types.iter().map(|(s, _)| s.to_string()).collect();
        let index: HashMap<String, u32> = vocab
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        let ids: Vec<u32> = tokens.iter().map(|t| index[t.as_str()]).collect();
        let v = vocab.len();
        let split = ((ids.len() as f64) * TRAIN_FRACTION) as usize;
        let train = &ids[..split];

        // Trigram counts by sorting the training triples.
        let mut triples: Vec<(u32, u32, u32)> =
            train.windows(3).map(|w| (w[0], w[1], w[2])).collect();
        triples.sort_unstable();
        let mut tri: Vec<(u32, u32, u32, u32)> = Vec::new();
        for t in triples {
            match tri.last_mut() {
                Some(last) if (last.0, last.1, last.2) == t => last.3 += 1,
                _ => tri.push((t.0, t.1, t.2, 1)),
            }
        }
        let mut tri_index = HashMap::new();
        let mut s = 0;
        while s < tri.len() {
            let key = (tri[s].0, tri[s].1);
            let mut e = s;
            let mut total = 0u64;
            while e < tri.len() && (tri[e].0, tri[e].1) == key {
                total += tri[e].3 as u64;
                e += 1;
            }
            tri_index.insert(key, (s, e, total));
            s = e;
        }

        // Bigram continuation counts N1+(·vw): distinct u before (v, w), from the distinct trigrams.
        let mut vw: Vec<(u32, u32)> = tri.iter().map(|t| (t.1, t.2)).collect();
        vw.sort_unstable();
        let mut bi: Vec<(u32, u32, u32)> = Vec::new();
        for p in vw {
            match bi.last_mut() {
                Some(last) if (last.0, last.1) == p => last.2 += 1,
                _ => bi.push((p.0, p.1, 1)),
            }
        }
        let mut bi_index = vec![(0usize, 0usize, 0u64); v];
        let mut s = 0;
        while s < bi.len() {
            let key = bi[s].0;
            let mut e = s;
            let mut total = 0u64;
            while e < bi.len() && bi[e].0 == key {
                total += bi[e].2 as u64;
                e += 1;
            }
            bi_index[key as usize] = (s, e, total);
            s = e;
        }

        // Continuation unigram N1+(·w): distinct v before w.
        let mut cont = vec![0u64; v];
        for b in &bi {
            cont[b.1 as usize] += 1;
        }
        let p1 = floored_unigram(&cont, v);
        let ln_p1 = p1.iter().map(|p| p.ln()).collect();

        let mut counts = vec![0u64; v];
        for &t in train {
            counts[t as usize] += 1;
        }
        let unigram = floored_unigram(&counts, v);

        let d3 = discount(tri.iter().map(|t| t.3 as u64));
        let d2 = discount(bi.iter().map(|b| b.2 as u64));
        Model {
            vocab,
            index,
            ids,
            split,
            tri,
            tri_index,
            bi,
            bi_index,
            p1,
            ln_p1,
            d3,
            d2,
            unigram,
        }
    }

    /// The model's distribution after context `(u, v)` (either may be unknown) as
    /// `p(w) = scale · p1(w)` for every class, plus exact probabilities at the few classes seen
    /// after `v` in training: `(scale, [(w, p(w))])`.
    ///
    /// Interpolated Kneser–Ney: `p(w|uv) = A(w) + λ3 · (B(w) + λ2 · p1(w))` with
    /// `A = max(c(uvw) − D3, 0) / c(uv·)`, `λ3 = D3 · N1+(uv·) / c(uv·)`,
    /// `B = max(N1+(·vw) − D2, 0) / N1+(·v·)`, `λ2 = D2 · N1+(v·) / N1+(·v·)`; an unseen
    /// context passes all its mass down (λ = 1).
    fn sparse_row(&self, u: Option<u32>, v: Option<u32>) -> (f64, Vec<(u32, f64)>) {
        let (bs, be, btotal) = v.map_or((0, 0, 0), |v| self.bi_index[v as usize]);
        let (ts, te, ttotal) = match (u, v) {
            (Some(u), Some(v)) => self.tri_index.get(&(u, v)).copied().unwrap_or((0, 0, 0)),
            _ => (0, 0, 0),
        };
        let lambda2 = if btotal == 0 {
            1.0
        } else {
            self.d2 * (be - bs) as f64 / btotal as f64
        };
        let lambda3 = if ttotal == 0 {
            1.0
        } else {
            self.d3 * (te - ts) as f64 / ttotal as f64
        };
        let scale = lambda3 * lambda2;
        // Every w after (u, v) also follows v, and both lists are sorted by w: one merge pass.
        let mut out = Vec::with_capacity(be - bs);
        let mut t = ts;
        for &(_, w, n) in &self.bi[bs..be] {
            let mut p = scale * self.p1[w as usize]
                + lambda3 * (n as f64 - self.d2).max(0.0) / btotal as f64;
            while t < te && self.tri[t].2 < w {
                t += 1;
            }
            if t < te && self.tri[t].2 == w {
                p += (self.tri[t].3 as f64 - self.d3).max(0.0) / ttotal as f64;
            }
            out.push((w, p));
        }
        (scale, out)
    }

    /// Log-probabilities over the vocabulary after `(u, v)`, written into `row` as f32 logits.
    fn fill_row(&self, u: Option<u32>, v: Option<u32>, row: &mut [f32]) {
        let (scale, sparse) = self.sparse_row(u, v);
        let ln_scale = scale.ln();
        for (x, lp) in row.iter_mut().zip(&self.ln_p1) {
            *x = (ln_scale + lp) as f32;
        }
        for (w, p) in sparse {
            row[w as usize] = p.ln() as f32;
        }
    }

    fn log_prob(&self, u: Option<u32>, v: Option<u32>, w: u32) -> f64 {
        let (scale, sparse) = self.sparse_row(u, v);
        match sparse.iter().find(|(x, _)| *x == w) {
            Some((_, p)) => p.ln(),
            None => scale.ln() + self.ln_p1[w as usize],
        }
    }

    /// Held-out token indices of `n` rows, evenly spaced over the held-out part.
    fn positions(&self, n: usize) -> Result<Vec<usize>, RealError> {
        // Each position needs two tokens of context inside the held-out part's neighbourhood;
        // starting at split keeps (u, v) from the training tail, which is how a reader meets it.
        let held = self.ids.len() - self.split;
        if n == 0 || n > held {
            return Err(RealError::Input(format!(
                "built-in corpus: {n} positions requested; expected between 1 and the {held} \
                 held-out tokens"
            )));
        }
        Ok((0..n).map(|k| self.split + k * held / n).collect())
    }

    fn context(&self, i: usize) -> (Option<u32>, Option<u32>) {
        let u = i.checked_sub(2).map(|j| self.ids[j]);
        let v = i.checked_sub(1).map(|j| self.ids[j]);
        (u, v)
    }
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::build(TEXT))
}

/// The built-in teacher at [`DEFAULT_POSITIONS`] held-out positions.
pub fn builtin() -> RealData {
    // The text is compiled in and holds far more held-out tokens than the default asks for, so
    // this cannot fail short of a broken build; the tests pin it.
    builtin_with(DEFAULT_POSITIONS).expect("the bundled corpus holds DEFAULT_POSITIONS positions")
}

/// The built-in teacher at `positions` evenly spaced held-out positions: rows are the trigram
/// model's log-probabilities (every class finite), labels the tokens that actually came next.
pub fn builtin_with(positions: usize) -> Result<RealData, RealError> {
    let m = model();
    let pos = m.positions(positions)?;
    let v = m.vocab.len();
    let mut teacher = vec![0f32; positions * v];
    // Rows are independent: split them over the cores (scoped threads, no pool to manage).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let rows_per = positions.div_ceil(threads);
    std::thread::scope(|s| {
        for (chunk, rows) in teacher.chunks_mut(rows_per * v).zip(pos.chunks(rows_per)) {
            s.spawn(move || {
                for (row, &i) in chunk.chunks_exact_mut(v).zip(rows) {
                    let (u, w) = m.context(i);
                    m.fill_row(u, w, row);
                }
            });
        }
    });
    let contexts = pos
        .iter()
        .map(|&i| {
            let from = i.saturating_sub(CONTEXT_TOKENS);
            m.ids[from..i]
                .iter()
                .map(|&t| m.vocab[t as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let labels = pos.iter().map(|&i| m.ids[i]).collect();
    Ok(RealData {
        source: format!("built-in: Shakespeare trigram (V={v}, N={positions})"),
        n: positions,
        v,
        student_v: v,
        teacher,
        topk: None,
        student_init: None,
        tokens: Some(m.vocab.clone()),
        contexts: Some(contexts),
        labels: Some(labels),
    })
}

/// Held-out perplexities of the trigram teacher and of the unigram baseline at the positions
/// [`builtin_with`] uses for the same `positions`.
pub fn perplexity(positions: usize) -> Result<Perplexity, RealError> {
    let m = model();
    let pos = m.positions(positions)?;
    let (mut tri, mut uni) = (0.0, 0.0);
    for &i in &pos {
        let (u, v) = m.context(i);
        let w = m.ids[i];
        tri -= m.log_prob(u, v, w);
        uni -= m.unigram[w as usize].ln();
    }
    let n = pos.len() as f64;
    Ok(Perplexity {
        trigram: (tri / n).exp(),
        unigram: (uni / n).exp(),
    })
}

/// Training-token counts by vocabulary class (the unigram the teacher's tail comes from).
pub fn train_counts() -> Vec<u64> {
    let m = model();
    let mut counts = vec![0u64; m.vocab.len()];
    for &t in &m.ids[..m.split] {
        counts[t as usize] += 1;
    }
    counts
}

/// The teacher's next-token distribution after arbitrary text (its last two tokens are the
/// context; words outside the vocabulary count as unseen), most likely first.
pub fn next_token(context: &str) -> Vec<(String, f64)> {
    let m = model();
    let toks = tokenize(context);
    let id = |k: usize| {
        toks.len()
            .checked_sub(k)
            .and_then(|j| m.index.get(&toks[j]).copied())
    };
    let mut row = vec![0f32; m.vocab.len()];
    m.fill_row(id(2), id(1), &mut row);
    let mut out: Vec<(String, f64)> = row
        .iter()
        .enumerate()
        .map(|(k, &l)| (m.vocab[k].clone(), (l as f64).exp()))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}
