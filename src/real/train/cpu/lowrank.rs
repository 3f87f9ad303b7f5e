//! A low-rank student's epoch on the f32 engine, fused: per block of rows `S_B = H_B·W`, each row's
//! value and gradient, `dH_B = G_B·Wᵀ` and `dW += H_Bᵀ·G_B` ([`block_gemm`]); no `[N × V]` tensor
//! is written, the teacher is the only one read.
//!
//! The rows are cut into a fixed number of slots of whole blocks, each with its own partial `dW`;
//! threads take the next slot as they finish one (a core slowed by other work takes fewer), and
//! the partials are added in slot order. The slots depend on N, d and V only, so the result is the
//! same bits on any number of threads.
//!
//! [`block_gemm`]: super::block_gemm

use super::block_gemm::{ROWS, lowrank_block, padded, transpose_padded};
use super::{Sums, row_f32, total};
use crate::math::row32::{Family32, Scratch32, Teacher32};
use crate::real::RealData;
use crate::real::train::Prep;
use std::sync::Mutex;

/// At most this many slots: enough for a core slowed by others to hand its share over.
const MAX_SLOTS: usize = 16;
/// The slots' partial `dW` take at most this much memory (or one slot).
const SLOT_BYTES: usize = 32 << 20;

/// A low-rank student's factors: `H` `[n × d]`, `W` `[d × v]`.
pub(super) struct LowRankRef<'a> {
    pub d: usize,
    pub h: &'a [f32],
    pub w: &'a [f32],
}

/// Buffers kept from epoch to epoch (allocating them each epoch cost page faults): the slots'
/// partial `dW`, and per thread the block's `S_B` and `G_B` and the row engine's scratch.
#[derive(Default)]
pub(super) struct FusedBuffers {
    /// `Wᵀ` `[v × padded(d)]`.
    wt: Vec<f32>,
    /// Each slot's partial `dWᵀ`, `[v × padded(d)]`.
    slots: Vec<Vec<f32>>,
    threads: Vec<ThreadBuf>,
}

#[derive(Default)]
struct ThreadBuf {
    s: Vec<f32>,
    g: Vec<f32>,
    scr: Scratch32,
}

/// `(slots, rows per slot)` for `n` rows of a rank-`d` student over `v` classes.
fn slots(n: usize, d: usize, v: usize) -> (usize, usize) {
    let by_memory = (SLOT_BYTES / (4 * padded(d) * v).max(1)).max(1);
    let want = MAX_SLOTS.min(by_memory).min(n.div_ceil(ROWS)).max(1);
    let per = (n.div_ceil(want).div_ceil(ROWS) * ROWS).max(ROWS);
    (n.div_ceil(per).max(1), per)
}

/// The fused epoch (see the module documentation) on `threads` threads: the sums of the rows'
/// values and metrics, `gh = G·Wᵀ` and `gw = Hᵀ·G`.
#[allow(clippy::too_many_arguments)]
pub(super) fn lowrank_fused(
    data: &RealData,
    prep: &Prep,
    teacher32: &[Teacher32],
    fam: Family32,
    low: LowRankRef,
    (gh, gw): (&mut [f32], &mut [f32]),
    bufs: &mut FusedBuffers,
    threads: usize,
) -> Sums {
    let (n, v, d) = (data.n, data.student_v, low.d);
    let (h, w) = (low.h, low.w);
    if n == 0 || d == 0 {
        gh.fill(0.0);
        gw.fill(0.0);
        return Sums::default();
    }
    let (count, per) = slots(n, d, v);
    let threads = threads.clamp(1, count);
    let dp = padded(d);
    transpose_padded(w, d, v, &mut bufs.wt);
    let wt = &bufs.wt[..];
    bufs.slots.resize_with(count, Vec::new);
    for dw in &mut bufs.slots {
        dw.resize(v * dp, 0.0);
    }
    bufs.threads.resize_with(threads, ThreadBuf::default);
    let queue = Mutex::new(gh.chunks_mut(per * d).zip(&mut bufs.slots).enumerate());
    let mut parts: Vec<(usize, Sums)> = std::thread::scope(|sc| {
        let handles: Vec<_> = bufs
            .threads
            .iter_mut()
            .map(|tb| {
                let queue = &queue;
                sc.spawn(move || {
                    tb.s.resize(ROWS * v, 0.0);
                    tb.g.resize(ROWS * v, 0.0);
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((slot, (gh_slot, dw))) = next else {
                            break;
                        };
                        let first_row = slot * per;
                        let mut sums = Sums::default();
                        for (b, gh_b) in gh_slot.chunks_mut(ROWS * d).enumerate() {
                            let r0 = first_row + b * ROWS;
                            let rows = gh_b.len() / d;
                            let scr = &mut tb.scr;
                            let mut rows_f32 = |s: &[f32], g: &mut [f32]| {
                                let rows = s.chunks_exact(v).zip(g.chunks_exact_mut(v));
                                for (j, (s_row, g_row)) in rows.enumerate() {
                                    let (r, t32) = (r0 + j, &teacher32[r0 + j]);
                                    row_f32(data, prep, r, fam, t32, s_row, g_row, scr, &mut sums);
                                }
                            };
                            lowrank_block(
                                &h[r0 * d..(r0 + rows) * d],
                                (w, wt),
                                (d, v),
                                (&mut tb.s, &mut tb.g),
                                gh_b,
                                dw,
                                b == 0,
                                &mut rows_f32,
                            );
                        }
                        done.push((slot, sums));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    parts.sort_by_key(|&(slot, _)| slot);
    add_in_order(&bufs.slots, gw, (d, v), threads);
    total(parts.into_iter().map(|(_, s)| s))
}

/// `dW = Σ parts` with the partial `dWᵀ` added in the order of `parts`, element by element (any
/// split of `dW` over threads gives the same bits).
fn add_in_order(parts: &[Vec<f32>], dw: &mut [f32], (d, v): (usize, usize), threads: usize) {
    let dp = padded(d);
    let per = v.div_ceil(threads.max(1)).max(1);
    // Threads own column ranges of dW: each writes its columns of every row of dW.
    let mut cols: Vec<Vec<(usize, &mut [f32])>> =
        (0..v.div_ceil(per)).map(|_| Vec::new()).collect();
    for (k, row) in dw.chunks_mut(v).enumerate() {
        for (t, part) in row.chunks_mut(per).enumerate() {
            cols[t].push((k, part));
        }
    }
    std::thread::scope(|sc| {
        for (t, mut mine) in cols.into_iter().enumerate() {
            sc.spawn(move || {
                // Column by column: the parts are read in order, a stripe of dWᵀ at a time.
                let len = mine.first().map_or(0, |(_, out)| out.len());
                for i in 0..len {
                    let at = (t * per + i) * dp;
                    for (k, out) in mine.iter_mut() {
                        let mut sum = 0.0;
                        for p in parts {
                            sum += p[at + *k];
                        }
                        out[i] = sum;
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real::train::lowrank_init;

    fn data(n: usize, v: usize) -> RealData {
        let teacher = (0..n * v)
            .map(|i| ((i * 7 % 23) as f32) * 0.4 - 3.0)
            .collect();
        RealData {
            source: "test".into(),
            n,
            v,
            student_v: v,
            teacher,
            topk: None,
            student_init: None,
            tokens: None,
            contexts: None,
            labels: None,
        }
    }

    struct Epoch {
        sums: Sums,
        gh: Vec<f32>,
        gw: Vec<f32>,
    }

    fn epoch(data: &RealData, d: usize, fam: Family32, threads: usize) -> Epoch {
        let (n, v) = (data.n, data.v);
        let prep = Prep::new(data, 0.5);
        let t32: Vec<Teacher32> = (0..n)
            .map(|r| Teacher32::new(data.teacher_row(r), prep.head[r]))
            .collect();
        let (h, w) = lowrank_init(n, v, d, 3);
        let (mut gh, mut gw) = (vec![f32::NAN; n * d], vec![f32::NAN; d * v]);
        let low = LowRankRef { d, h: &h, w: &w };
        let mut bufs = FusedBuffers::default();
        let grads = (&mut gh[..], &mut gw[..]);
        let sums = lowrank_fused(data, &prep, &t32, fam, low, grads, &mut bufs, threads);
        Epoch { sums, gh, gw }
    }

    /// Shapes off every tile: rows not a multiple of a block, classes of a stripe, ranks of 4 or 8.
    const SHAPES: [(usize, usize, usize); 4] =
        [(37, 45, 5), (64, 100, 16), (9, 7, 3), (130, 33, 12)];

    /// The slots fix the order of every sum: 1, 2 or 5 threads give the same bits.
    #[test]
    fn the_fused_epoch_is_the_same_on_any_number_of_threads() {
        for (n, v, d) in SHAPES {
            let data = data(n, v);
            for fam in [Family32::Fkl, Family32::Akl] {
                let one = epoch(&data, d, fam, 1);
                assert!(one.sums.objective.is_finite() && one.sums.objective > 0.0);
                for threads in [2, 5] {
                    let many = epoch(&data, d, fam, threads);
                    let what = format!("{n}×{v} d={d} {fam:?} on {threads} threads");
                    assert_eq!(many.sums, one.sums, "{what}");
                    assert_eq!(bits(&many.gh), bits(&one.gh), "gh {what}");
                    assert_eq!(bits(&many.gw), bits(&one.gw), "gw {what}");
                }
            }
        }
    }

    fn bits(x: &[f32]) -> Vec<u32> {
        x.iter().map(|x| x.to_bits()).collect()
    }

    /// Blocked and fused, the epoch is the row engine on `S = H·W` followed by `G·Wᵀ` and
    /// `Hᵀ·G`, here in f64 from the same `H`, `W`: to the f32 products' rounding.
    #[test]
    fn the_fused_epoch_is_the_row_engine_and_the_products() {
        for (n, v, d) in SHAPES {
            let data = data(n, v);
            let prep = Prep::new(&data, 0.5);
            let (h, w) = lowrank_init(n, v, d, 3);
            let got = epoch(&data, d, Family32::Rkl, 2);
            let (mut want_gh, mut mag_gh) = (vec![0f64; n * d], vec![0f64; n * d]);
            let (mut want_gw, mut mag_gw) = (vec![0f64; d * v], vec![0f64; d * v]);
            let (mut s, mut g) = (vec![0f32; v], vec![0f32; v]);
            let mut sums = Sums::default();
            for r in 0..n {
                for (c, s) in s.iter_mut().enumerate() {
                    let dot: f64 = (0..d)
                        .map(|k| f64::from(h[r * d + k]) * f64::from(w[k * v + c]))
                        .sum();
                    *s = dot as f32;
                }
                let t32 = Teacher32::new(data.teacher_row(r), prep.head[r]);
                let mut scr = Scratch32::default();
                row_f32(
                    &data,
                    &prep,
                    r,
                    Family32::Rkl,
                    &t32,
                    &s,
                    &mut g,
                    &mut scr,
                    &mut sums,
                );
                for k in 0..d {
                    for c in 0..v {
                        let (gc, hk, wk) = (
                            f64::from(g[c]),
                            f64::from(h[r * d + k]),
                            f64::from(w[k * v + c]),
                        );
                        want_gh[r * d + k] += gc * wk;
                        mag_gh[r * d + k] += (gc * wk).abs();
                        want_gw[k * v + c] += hk * gc;
                        mag_gw[k * v + c] += (hk * gc).abs();
                    }
                }
            }
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1e-9);
            assert!(
                close(got.sums.objective, sums.objective),
                "{} vs {}",
                got.sums.objective,
                sums.objective
            );
            for (name, got, want, mag) in [
                ("gh", &got.gh, &want_gh, &mag_gh),
                ("gw", &got.gw, &want_gw, &mag_gw),
            ] {
                for (i, (&x, (&y, &m))) in got.iter().zip(want.iter().zip(mag)).enumerate() {
                    let tol = 1e-5 * m + 1e-12;
                    assert!(
                        (f64::from(x) - y).abs() <= tol,
                        "{name}[{i}] {n}×{v} d={d}: {x} vs {y}"
                    );
                }
            }
        }
    }

    /// Slots are whole blocks, cover the rows, number at most 16 and fit the memory they may take.
    #[test]
    fn slots_cover_the_rows_in_whole_blocks_within_their_memory() {
        assert_eq!(slots(2048, 16, 5751), (16, 128));
        for (n, d, v) in [
            (1, 1, 1),
            (9, 3, 7),
            (2048, 16, 5751),
            (4096, 256, 50_000),
            (100, 2, 3),
        ] {
            let (count, per) = slots(n, d, v);
            assert!(
                per % ROWS == 0 && count * per >= n && (count - 1) * per < n,
                "{n} {d} {v}"
            );
            assert!(count <= MAX_SLOTS && (count == 1 || count * 4 * d * v <= SLOT_BYTES));
        }
    }
}
