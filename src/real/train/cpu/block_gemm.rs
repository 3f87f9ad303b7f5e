//! The low-rank student's three products on a block of rows, register-blocked: `S_B = H_B·W`,
//! `dH_B = G_B·Wᵀ` and `dWᵀ += G_Bᵀ·H_B` (`H_B` `[b × d]`, `W` `[d × v]`, `S_B` and `G_B` `[b × v]`,
//! row-major; `Wᵀ` and `dWᵀ` `[v × padded(d)]`, a row of ranks per class). Each reads a stripe of
//! `W`, `Wᵀ` or `dWᵀ` once per block of rows instead of once per row and keeps its sums in
//! registers: a row-at-a-time `dW += h_rᵀ·g_r` reads and writes all of `dW` per row (368 KiB at
//! d = 16, V = 5,751), and per-row dot products over V leave 16 lanes to add up per rank.
//!
//! The order of every sum is fixed by the shapes alone (ranks in order for `S`, classes in order
//! for `dH`, rows in order for `dW`), the same for a block of `ROWS` as for its rows one by one, so
//! the results do not depend on threads or timing. With AVX2, AVX-512 or NEON the multiply-adds
//! are fused (one rounding); the baseline build rounds twice.

/// Lanes per stripe.
const L: usize = 16;
type F = [f32; L];
/// Rows per block: eight (sixteen for `S_B`) 16-lane sums in registers.
pub(super) const ROWS: usize = 8;

#[inline(always)]
fn mad<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// The 16 columns of row `k` of a `[_ × v]` matrix from column `c` (a full stripe).
#[inline(always)]
fn stripe(x: &[f32], v: usize, k: usize, c: usize) -> &F {
    let at = k * v + c;
    &x[at..at + L].as_chunks::<L>().0[0]
}

#[inline(always)]
fn stripe_mut(x: &mut [f32], v: usize, k: usize, c: usize) -> &mut F {
    let at = k * v + c;
    &mut x[at..at + L].as_chunks_mut::<L>().0[0]
}

/// `S_B = H_B·W` for `R` rows, two stripes at a time (each `h[r, k]` serves 32 columns); every
/// output sums its `k` in order.
#[inline(always)]
fn nn<const R: usize, const FUSED: bool>(h: &[f32], w: &[f32], s: &mut [f32], d: usize, v: usize) {
    let full = v / L * L;
    let mut c = 0;
    while c + 2 * L <= full {
        let (mut a0, mut a1) = ([[0f32; L]; R], [[0f32; L]; R]);
        for k in 0..d {
            let (w0, w1) = (stripe(w, v, k, c), stripe(w, v, k, c + L));
            for (r, (a0, a1)) in a0.iter_mut().zip(&mut a1).enumerate() {
                let hk = h[r * d + k];
                for l in 0..L {
                    a0[l] = mad::<FUSED>(hk, w0[l], a0[l]);
                }
                for l in 0..L {
                    a1[l] = mad::<FUSED>(hk, w1[l], a1[l]);
                }
            }
        }
        for (r, (a0, a1)) in a0.iter().zip(&a1).enumerate() {
            *stripe_mut(s, v, r, c) = *a0;
            *stripe_mut(s, v, r, c + L) = *a1;
        }
        c += 2 * L;
    }
    for c in (c..full).step_by(L) {
        let mut acc = [[0f32; L]; R];
        for k in 0..d {
            let wk = stripe(w, v, k, c);
            for (r, a) in acc.iter_mut().enumerate() {
                let hk = h[r * d + k];
                for l in 0..L {
                    a[l] = mad::<FUSED>(hk, wk[l], a[l]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            *stripe_mut(s, v, r, c) = *a;
        }
    }
    for c in full..v {
        for r in 0..R {
            let mut a = 0f32;
            for k in 0..d {
                a = mad::<FUSED>(h[r * d + k], w[k * v + c], a);
            }
            s[r * v + c] = a;
        }
    }
}

/// `d` rounded up to whole lanes: the row length of `Wᵀ` and `dWᵀ`.
pub(super) fn padded(d: usize) -> usize {
    d.div_ceil(L) * L
}

/// `Wᵀ` `[v × padded(d)]` of `W` `[d × v]`, zero in the padding.
pub(super) fn transpose_padded(w: &[f32], d: usize, v: usize, out: &mut Vec<f32>) {
    let dp = padded(d);
    out.clear();
    out.resize(v * dp, 0.0);
    for (c, o) in out.chunks_exact_mut(dp).enumerate() {
        for (k, o) in o[..d].iter_mut().enumerate() {
            *o = w[k * v + c];
        }
    }
}

/// The `R` rows of `x` (`[R × v]`) as slices of length `v` (their bounds checks then fold away).
#[inline(always)]
fn rows<const R: usize>(x: &[f32], v: usize) -> [&[f32]; R] {
    let mut out: [&[f32]; R] = [&[]; R];
    for (r, o) in out.iter_mut().enumerate() {
        *o = &x[r * v..(r + 1) * v];
    }
    out
}

/// `dWᵀ += G_Bᵀ·H_B` for `R` rows (`dWᵀ = …` when `first`), `dWᵀ` `[v × padded(d)]`: per column
/// of G, one 16-lane stripe of `dWᵀ` takes the R rows' `g[r, c]·h_r`, rows added in order; the
/// rows of `H_B` stay in registers and four columns run as independent chains.
#[inline(always)]
fn tn<const R: usize, const FUSED: bool>(
    h: &[f32],
    g: &[f32],
    dwt: &mut [f32],
    d: usize,
    v: usize,
    first: bool,
) {
    let (dp, g) = (padded(d), rows::<R>(g, v));
    for j in (0..dp).step_by(L) {
        let mut hr = [[0f32; L]; R];
        for (r, x) in hr.iter_mut().enumerate() {
            let n = (d - j).min(L);
            x[..n].copy_from_slice(&h[r * d + j..r * d + j + n]);
        }
        let mut c = 0;
        while c + 4 <= v {
            let mut a = [[0f32; L]; 4];
            if !first {
                for (u, a) in a.iter_mut().enumerate() {
                    *a = *stripe(dwt, dp, c + u, j);
                }
            }
            for (gr, hr) in g.iter().zip(&hr) {
                for (u, a) in a.iter_mut().enumerate() {
                    let x = gr[c + u];
                    for l in 0..L {
                        a[l] = mad::<FUSED>(x, hr[l], a[l]);
                    }
                }
            }
            for (u, a) in a.iter().enumerate() {
                *stripe_mut(dwt, dp, c + u, j) = *a;
            }
            c += 4;
        }
        for c in c..v {
            let mut a = if first {
                [0f32; L]
            } else {
                *stripe(dwt, dp, c, j)
            };
            for (gr, hr) in g.iter().zip(&hr) {
                let x = gr[c];
                for l in 0..L {
                    a[l] = mad::<FUSED>(x, hr[l], a[l]);
                }
            }
            *stripe_mut(dwt, dp, c, j) = a;
        }
    }
}

/// `dH_B = G_B·Wᵀ` for `R` rows from `Wᵀ` `[v × padded(d)]`: per column of G, the R rows' sums
/// of 16 ranks take `g[r, c]·Wᵀ[c]` (R independent chains, columns in order).
#[inline(always)]
fn nt<const R: usize, const FUSED: bool>(
    g: &[f32],
    wt: &[f32],
    out: &mut [f32],
    d: usize,
    v: usize,
) {
    let (dp, g) = (padded(d), rows::<R>(g, v));
    for j in (0..dp).step_by(L) {
        let mut acc = [[0f32; L]; R];
        for c in 0..v {
            let wc = stripe(wt, dp, c, j);
            for (a, gr) in acc.iter_mut().zip(&g) {
                let x = gr[c];
                for l in 0..L {
                    a[l] = mad::<FUSED>(x, wc[l], a[l]);
                }
            }
        }
        let n = (d - j).min(L);
        for (r, a) in acc.iter().enumerate() {
            out[r * d + j..r * d + j + n].copy_from_slice(&a[..n]);
        }
    }
}

/// All three products of one block of `b ≤ ROWS` rows, in the order the trainer needs them: run
/// `between(s, g)` after `S_B` (it fills `G_B` from `S_B`), then `dH_B` and `dW`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const FUSED: bool>(
    h: &[f32],
    (w, wt): (&[f32], &[f32]),
    (d, v): (usize, usize),
    (s, g): (&mut [f32], &mut [f32]),
    gh: &mut [f32],
    dwt: &mut [f32],
    first: bool,
    between: &mut dyn FnMut(&[f32], &mut [f32]),
) {
    let b = h.len() / d;
    if b == ROWS {
        nn::<ROWS, FUSED>(h, w, s, d, v);
    } else {
        for r in 0..b {
            nn::<1, FUSED>(&h[r * d..], w, &mut s[r * v..], d, v);
        }
    }
    between(s, g);
    if b == ROWS {
        nt::<ROWS, FUSED>(g, wt, gh, d, v);
        tn::<ROWS, FUSED>(h, g, dwt, d, v, first);
    } else {
        for r in 0..b {
            nt::<1, FUSED>(&g[r * v..], wt, &mut gh[r * d..], d, v);
            tn::<1, FUSED>(&h[r * d..], &g[r * v..], dwt, d, v, first && r == 0);
        }
    }
}

/// One block of `b = h.len() / d ≤ ROWS` rows (`d ≥ 1`): `s = H_B·W` (`[b × v]`), then
/// `between(s, g)` writes `G_B` into `g`, then `gh = G_B·Wᵀ` (`[b × d]`) and `dW += H_Bᵀ·G_B` (`dW =`
/// when `first`). Compiled for AVX-512, AVX2+FMA or NEON when the CPU has them.
#[allow(clippy::too_many_arguments)]
pub(super) fn lowrank_block(
    h: &[f32],
    (w, wt): (&[f32], &[f32]),
    (d, v): (usize, usize),
    (s, g): (&mut [f32], &mut [f32]),
    gh: &mut [f32],
    dwt: &mut [f32],
    first: bool,
    between: &mut dyn FnMut(&[f32], &mut [f32]),
) {
    let b = h.len() / d;
    let dv = v * padded(d);
    assert!(d > 0 && b <= ROWS && h.len() == b * d && w.len() == d * v);
    assert!(wt.len() == dv && dwt.len() == dv);
    let (s, g, gh) = (&mut s[..b * v], &mut g[..b * v], &mut gh[..b * d]);
    dispatch(h, (w, wt), (d, v), (s, g), gh, dwt, first, between)
}

crate::math::simd::fma_versions! {
    /// [`block`] for the CPU's best level.
    fn dispatch<FUSED>(
        h: &[f32],
        w: (&[f32], &[f32]),
        dv: (usize, usize),
        sg: (&mut [f32], &mut [f32]),
        gh: &mut [f32],
        dwt: &mut [f32],
        first: bool,
        between: &mut dyn FnMut(&[f32], &mut [f32]),
    ) {
        block::<FUSED>(h, w, dv, sg, gh, dwt, first, between)
    }
}
