// A teacher stored as its top k per row (practice.md §10.6): the student's full row against K
// teacher cells (+ a tail cell). topk/kernels.rs appends this file to loss.wgsl, whose helpers,
// reductions and bindings 0–5 it reuses: P (the family's parameters, gpu/plan.rs), teacher = the
// teacher's cells [N × kc] (log-probabilities lp_K, then ln p̄), student [N × V], aux = the keys
// [N × k × 2] (the row's K ids ascending, each with its slot in the stored order), values, grad.
//
// Three entry points, one workgroup per row:
//   topk_gather    z'_K and (tail) ln q̄ = lse of z' over the complement of K into zcells [N × kc];
//                  loss.wgsl's family kernel then runs on (teacher cells, zcells) with v = kc,
//                  writing its gradient G' w.r.t. the cells to gcells;
//   topk_scatter   G' back to the row: G'_slot on K, G'_tail·q_j/q̄ off K (0 without a tail cell);
//   topk_per_class the truncated forms (topk, renorm=teacher: Σ_K f(p, q) with the full-V
//                  softmax, gradient w_j 1[j∈K] − q_j Σ_K w) and fkl's tail with verl's eps rule.
// z' = round(z, fmt)/st throughout (storage rounding, then the student temperature).

struct TopkParams {
    n_rows: u32,
    v: u32,        // classes of the student row
    k: u32,        // teacher cells in K
    kc: u32,       // cells per row of the cell buffers: k, or k + 1 with the tail cell
    flags: u32,    // TOPK_CLAMP | TOPK_LPMIN | TOPK_TAIL_FKL
    fmt: u32,      // TOPK_FMT_*: the student's storage rounding
    inf_bits: u32, // 0x7f800000
    pad: u32,
    st: f32,
    scale_v: f32,  // the value's factor (st² with t2)
    scale_g: f32,  // the gradient's factor (scale_v / st)
    x: f32,        // lpmin, or ln eps (fkl's tail)
}

@group(0) @binding(6) var<uniform> T: TopkParams;
@group(0) @binding(7) var<storage, read_write> zcells: array<f32>;
@group(0) @binding(8) var<storage, read> gcells: array<f32>;

// The constants TOPK_* come from topk/kernels.rs.

const NO_SLOT: u32 = 0xffffffffu;

fn topk_inf() -> f32 {
    return bitcast<f32>(T.inf_bits);
}

// bf16: round to nearest, ties to even, on the f32 bits (the carry overflows to inf as it should).
fn round_bf16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7f800000u) == 0x7f800000u) {
        return x;
    }
    return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}

// f16: 11 significant bits from 2^-14 up (on the bits), a fixed ulp of 2^-24 below; beyond 65504
// it overflows to inf (as math::precision::round).
fn round_f16(x: f32) -> f32 {
    let a = abs(x);
    if (a == 0.0 || !finite(x)) {
        return x;
    }
    var r: f32;
    if (a < 6.103515625e-05) {
        r = round(a * 16777216.0) / 16777216.0; // round() ties to even; both scalings are exact
    } else {
        let b = bitcast<u32>(a);
        r = bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
    }
    if (r > 65504.0) {
        r = topk_inf();
    }
    return select(r, -r, x < 0.0);
}

// The student logit as the loss sees it: storage rounding, then the temperature.
fn student_at(i: u32) -> f32 {
    var z = f32(student[i]);
    if (T.fmt == TOPK_FMT_BF16) {
        z = round_bf16(z);
    } else if (T.fmt == TOPK_FMT_F16) {
        z = round_f16(z);
    }
    return z / T.st;
}

// The slot (stored position) of class j when j ∈ K, else NO_SLOT: binary search of the row's
// ascending ids, keys kb .. kb + k.
fn find_slot(kb: u32, j: u32) -> u32 {
    var lo = 0u;
    var hi = T.k;
    while (lo < hi) {
        let mid = (lo + hi) / 2u;
        if (aux[2u * (kb + mid)] < j) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    if (lo < T.k && aux[2u * (kb + lo)] == j) {
        return aux[2u * (kb + lo) + 1u];
    }
    return NO_SLOT;
}

// Online lse of `s` merged over the workgroup, as (max, log of the rescaled sum); the sum is 0
// when no invocation pushed anything.
fn reduce_one_lse(lid: u32, s: vec2<f32>) -> vec2<f32> {
    let none = vec4<f32>(-BIG, 0.0, -BIG, 0.0);
    let r = reduce_lse(lid, vec4<f32>(s, -BIG, 0.0), none, vec4<f32>(0.0, -BIG, 0.0, 0.0));
    return r.a.xy;
}

// ---------------------------------------------------------------- gather / scatter

@compute @workgroup_size(256)
fn topk_gather(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= T.n_rows) {
        return;
    }
    let base = row * T.v;
    let kb = row * T.k;
    let cb = row * T.kc;
    for (var s = lid; s < T.k; s += WG) {
        let id = aux[2u * (kb + s)];
        let slot = aux[2u * (kb + s) + 1u];
        zcells[cb + slot] = student_at(base + id);
    }
    if (T.kc > T.k) {
        // The tail cell's logit: lse of z' over the complement (not the total minus K, §10).
        var sc = vec2<f32>(-BIG, 0.0);
        for (var j = lid; j < T.v; j += WG) {
            if (find_slot(kb, j) == NO_SLOT) {
                sc = lse_push(sc, student_at(base + j));
            }
        }
        let l = reduce_one_lse(lid, sc);
        if (lid == 0u) {
            zcells[cb + T.k] = l.x + log(l.y); // k < V: the complement is not empty, l.y >= 1
        }
    }
}

@compute @workgroup_size(256)
fn topk_scatter(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= T.n_rows) {
        return;
    }
    let base = row * T.v;
    let kb = row * T.k;
    let cb = row * T.kc;
    let tail = T.kc > T.k;
    var ln_qbar = 0.0;
    var g_tail = 0.0;
    if (tail) {
        ln_qbar = zcells[cb + T.k];
        g_tail = gcells[cb + T.k];
    }
    for (var j = lid; j < T.v; j += WG) {
        let slot = find_slot(kb, j);
        var g = 0.0;
        if (slot != NO_SLOT) {
            g = gcells[cb + slot];
        } else if (tail && g_tail != 0.0) {
            g = g_tail * exp(student_at(base + j) - ln_qbar);
        }
        grad[base + j] = g * T.scale_g;
    }
    if (lid == 0u) {
        values[row] = values[row] * T.scale_v;
    }
}

// ---------------------------------------------------------------- per-class forms

struct Cell {
    lp: f32,
    p: f32,
    zero: bool, // a teacher cell of probability 0 (-inf stored)
    lq: f32,
    q: f32,
}

fn cell(lp_stored: f32, z: f32, mz: f32, llz: f32) -> Cell {
    let zero = is_ninf(lp_stored);
    let lq = (z - mz) - llz;
    return Cell(select(lp_stored, -BIG, zero), select(exp(lp_stored), 0.0, zero), zero, lq, exp(lq));
}

fn fkl_fw(c: Cell) -> vec2<f32> {
    return vec2<f32>(select(c.p * (c.lp - c.lq), 0.0, c.zero), -c.p);
}

// Infinite on a teacher zero (the run's gradient is then zero, as loss.wgsl's).
fn rkl_fw(c: Cell) -> vec2<f32> {
    if (c.zero) {
        return vec2<f32>(topk_inf(), 0.0);
    }
    return vec2<f32>(c.q * (c.lq - c.lp), c.q * (c.lq - c.lp + 1.0));
}

// One class's f(p, q) and w = q ∂f/∂q (practice.md §10's table; math::practice::support::per_class),
// the family by KIND with plan.rs's parameters in P.
fn per_class(c: Cell) -> vec2<f32> {
    if ((T.flags & TOPK_LPMIN) != 0u) {
        // verl's log_prob_min_clamp (fkl): a = max(lp, x), b = max(lq, x); clamped student cells
        // pass no gradient.
        let a = max(c.lp, T.x);
        let b = max(c.lq, T.x);
        let ea = exp(a);
        return vec2<f32>(ea * (a - b), select(0.0, -ea, c.lq >= T.x));
    }
    switch KIND {
        case K_FKL: {
            return fkl_fw(c);
        }
        case K_RKL: {
            return rkl_fw(c);
        }
        case K_JSD: {
            // a0 = β, a1 = ln β, a2 = ln(1-β), a3 = the norm scale, a5 = 1-β
            var lm = P.a2 + c.lq;
            if (!c.zero) {
                lm = logaddexp(P.a1 + c.lp, lm);
            }
            let kp = select(c.p * (c.lp - lm), 0.0, c.zero);
            let kq = c.q * (c.lq - lm);
            return P.a3 * vec2<f32>(P.a0 * kp + P.a5 * kq, P.a5 * kq);
        }
        case K_TVD: {
            let d = c.q - c.p;
            return vec2<f32>(0.5 * abs(d), 0.5 * c.q * sign(d));
        }
        case K_SKL: {
            // m = α p + (1-α) q: a0 = α, a1 = ln α, a2 = ln(1-α)
            var lm = P.a2 + c.lq;
            if (!c.zero) {
                lm = logaddexp(P.a1 + c.lp, lm);
            }
            let f = select(c.p * (c.lp - lm), 0.0, c.zero);
            let pm = select(exp(c.lp - lm), 0.0, c.zero);
            return vec2<f32>(f, -(1.0 - P.a0) * c.q * pm);
        }
        case K_SRKL: {
            // m = (1-α) p + α q
            var lm = P.a1 + c.lq;
            if (!c.zero) {
                lm = logaddexp(P.a2 + c.lp, lm);
            }
            let lr = c.lq - lm;
            let a = select(P.a0, 0.0, (P.flags & FLAG_DETACH) != 0u);
            return vec2<f32>(c.q * lr, c.q * (lr + 1.0 - a * exp(lr)));
        }
        case K_AB: {
            let t = ab_term(P.a0, P.a1, c.lp, c.lq, c.zero, false);
            return vec2<f32>(t.x, t.z);
        }
        case K_TODI: {
            let d = c.lp - c.lq;
            let wp = sigmoid(P.a0 * d);
            let wm = sigmoid(-P.a0 * d);
            return vec2<f32>(wp * c.p * d - wm * c.q * d, -wp * c.p + wm * c.q * (1.0 - d));
        }
        case K_WSD: {
            // a0 = 1-λ, a1 = λ (jeffreys: 1, 1)
            if (P.a1 == 0.0) {
                return P.a0 * fkl_fw(c);
            }
            return P.a0 * fkl_fw(c) + P.a1 * rkl_fw(c);
        }
        default: {
            return vec2<f32>(0.0); // topk/plan.rs refuses the other families
        }
    }
}

@compute @workgroup_size(256)
fn topk_per_class(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= T.n_rows) {
        return;
    }
    let base = row * T.v;
    let kb = row * T.k;
    let cb = row * T.kc;
    let tail = (T.flags & TOPK_TAIL_FKL) != 0u;
    // Pass 1: lse of z' over the row, and (fkl's tail) over the complement of K.
    var sz = vec2<f32>(-BIG, 0.0);
    var sc = vec2<f32>(-BIG, 0.0);
    for (var j = lid; j < T.v; j += WG) {
        let z = student_at(base + j);
        sz = lse_push(sz, z);
        if (tail && find_slot(kb, j) == NO_SLOT) {
            sc = lse_push(sc, z);
        }
    }
    let none = vec4<f32>(-BIG, 0.0, -BIG, 0.0);
    let l = reduce_lse(lid, vec4<f32>(sz, sc), none, vec4<f32>(0.0, -BIG, 0.0, 0.0)).a;
    let mz = l.x;
    let llz = log(l.y);
    let has_comp = l.w > 0.0;
    // ln q̄ as a log-probability: lse over the complement minus lse over the row.
    let ln_qbar = select(-BIG, ((l.z - mz) + log(max(l.w, 1.0))) - llz, has_comp);
    // Pass 2 over K: Σ f, Σ w, Q_K.
    var acc = vec4<f32>(0.0);
    for (var s = lid; s < T.k; s += WG) {
        let id = aux[2u * (kb + s)];
        let slot = aux[2u * (kb + s) + 1u];
        let c = cell(teacher[cb + slot], student_at(base + id), mz, llz);
        let fw = per_class(c);
        acc += vec4<f32>(fw.x, fw.y, c.q, 0.0);
    }
    let sums = reduce_sum(lid, acc, vec4<f32>(0.0)).a;
    var value = sums.x;
    var no_grad = false;
    var tail_on = false;
    var pbar = 0.0;
    let pk = -sums.y; // fkl: w = -p
    if (tail) {
        // verl's tail_kl: L = Σ_K p (lp − lq) + p̄ (ln p̄ − ln max(q̄, eps)); the bucket is used iff q̄ > eps.
        let ln_pbar = teacher[cb + T.k];
        if (!is_ninf(ln_pbar)) {
            pbar = exp(ln_pbar);
            value += pbar * (ln_pbar - max(ln_qbar, T.x));
        }
        tail_on = has_comp && ln_qbar > T.x;
    } else if ((T.flags & TOPK_CLAMP) != 0u && value < 0.0) {
        // verl's clamp_min(0): no gradient where the truncated FKL is negative.
        value = 0.0;
        no_grad = true;
    }
    if (!finite(value)) {
        value = topk_inf();
        no_grad = true;
    }
    // Pass 3: the gradient.
    for (var j = lid; j < T.v; j += WG) {
        let z = student_at(base + j);
        let lq = (z - mz) - llz;
        let q = exp(lq);
        let slot = find_slot(kb, j);
        var g: f32;
        if (tail) {
            if (slot != NO_SLOT) {
                let lp = teacher[cb + slot];
                let p = select(exp(lp), 0.0, is_ninf(lp));
                g = select(q * pk, q * (pk + pbar), tail_on) - p;
            } else if (tail_on) {
                g = q * pk - pbar * sums.z * exp(lq - ln_qbar);
            } else {
                g = q * pk;
            }
        } else if (!no_grad) {
            g = -q * sums.y;
            if (slot != NO_SLOT) {
                g += per_class(cell(teacher[cb + slot], z, mz, llz)).y;
            }
        } else {
            g = 0.0;
        }
        grad[base + j] = g * T.scale_g;
    }
    if (lid == 0u) {
        values[row] = value * T.scale_v;
    }
}
