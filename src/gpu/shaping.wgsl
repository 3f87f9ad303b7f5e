// The practice steps around a family kernel (practice.md §0.2), one workgroup per row:
//   shape: steps 1–4 on one side's logits (storage rounding, soft-capping, standardisation,
//          temperature) into a scratch row the family kernel reads; keeps (mean, s, σ) per row.
//   chain: the gradient the family wrote w.r.t. the shaped student, chained back through 4 → 3 → 2
//          (÷ st, standardisation, 1 − tanh²) and step 7 (× st² on value and gradient).
// EA-KD with std (FLAG_ENT): its row weight reads the logits before standardisation (§7) while the
// family kernel weighs by the standardised ones; `shape` keeps both entropies at wt per row and
// `chain` rescales value and gradient by w_raw / w_std (the weight is detached: a constant).
// shaping.rs prepends the declaration of Elem (f32 or f16) and the constants FMT_*, FLAG_*.

struct ShapeParams {
    n_rows: u32,
    v: u32,
    flags: u32,     // FLAG_STD, FLAG_CAP, FLAG_ENT
    fmt: u32,       // FMT_KEEP, FMT_BF16, FMT_F16: step 1's storage format
    cap: f32,       // softcap c
    temp: f32,      // the side's temperature
    scale: f32,     // chain: st² with t2, else 1
    inf_bits: u32,  // 0x7f800000
    wt: f32,        // FLAG_ENT: EA-KD's entropy temperature
    hub: f32,       // FLAG_ENT: EA-KD's H_ub
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> S: ShapeParams;
@group(0) @binding(1) var<storage, read> raw: array<Elem>;
@group(0) @binding(2) var<storage, read_write> shaped: array<Elem>;
// Two per row: (mean, s = σ + 1e-7, σ, 0) of the rounded, capped row (std only), and
// (H at wt before standardisation, H at wt after, 0, 0) (FLAG_ENT only).
@group(0) @binding(3) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> grad: array<Elem>;
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
// The teacher's stats (chain with FLAG_ENT reads its entropies).
@group(0) @binding(6) var<storage, read> tstats: array<vec4<f32>>;

const WG: u32 = 256u;

var<workgroup> red: array<vec4<f32>, 256>;

fn inf() -> f32 {
    return bitcast<f32>(S.inf_bits);
}

// bf16: round-to-nearest-even on the upper 16 bits (a carry into the exponent overflows to ∞,
// subnormals share f32's grid); ±∞ and NaN pass.
fn round_bf16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7f800000u) == 0x7f800000u) {
        return x;
    }
    let r = b + 0x7fffu + ((b >> 16u) & 1u);
    return bitcast<f32>(r & 0xffff0000u);
}

// f16 by the formula of precision.rs: ulp = 2^(max(E, −14) − 10), ties to even (WGSL's round),
// above 65504 → ∞. a/ulp and r·ulp are exact power-of-two scalings.
fn round_f16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if ((b & 0x7f800000u) == 0x7f800000u || x == 0.0) {
        return x;
    }
    let e = max(i32((b >> 23u) & 0xffu) - 127, -14);
    let ulp = bitcast<f32>(u32(e - 10 + 127) << 23u);
    let r = round(abs(x) / ulp) * ulp;
    if (r > 65504.0) {
        return sign(x) * inf();
    }
    return sign(x) * r;
}

// expm1 for x ≤ 0: Taylor below 0.5 in magnitude (relative error < 2e-8).
fn expm1_neg(x: f32) -> f32 {
    if (x > -0.5) {
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
            + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x / 40320.0)))))));
    }
    return exp(x) - 1.0;
}

// tanh(x) = −expm1(−2|x|)/(2 + expm1(−2|x|)) with x's sign: no overflow, exact near 0.
fn tanh_s(x: f32) -> f32 {
    let e = expm1_neg(-2.0 * abs(x));
    return sign(x) * (-e / (2.0 + e));
}

// 1 − tanh²(x) = 4e/(1 + e)², e = exp(−2|x|): no cancellation where tanh → ±1.
fn sech2(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    return 4.0 * e / ((1.0 + e) * (1.0 + e));
}

// Step 1: the stored value (the side's format; FMT_KEEP = the device storage as is).
fn stored(x: f32) -> f32 {
    switch S.fmt {
        case FMT_BF16: { return round_bf16(x); }
        case FMT_F16: { return round_f16(x); }
        default: { return x; }
    }
}

// Steps 1–2 on one logit.
fn capped(k: u32) -> f32 {
    let x = stored(f32(raw[k]));
    if ((S.flags & FLAG_CAP) != 0u) {
        return S.cap * tanh_s(x / S.cap);
    }
    return x;
}

fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// Chan's merge of two (count, mean, M2) partial states.
fn welford_merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    let n = a.x + b.x;
    if (n == 0.0) {
        return a;
    }
    let d = b.y - a.y;
    return vec4<f32>(n, a.y + d * (b.x / n), a.z + b.z + d * d * (a.x * b.x / n), 0.0);
}

fn merge_step(lid: u32, s: u32) {
    if (lid < s) {
        red[lid] = welford_merge(red[lid], red[lid + s]);
    }
    workgroupBarrier();
}

fn sum_step(lid: u32, s: u32) {
    if (lid < s) {
        red[lid] += red[lid + s];
    }
    workgroupBarrier();
}

fn reduce_sum(lid: u32, x: vec4<f32>) -> vec4<f32> {
    red[lid] = x;
    workgroupBarrier();
    sum_step(lid, 128u);
    sum_step(lid, 64u);
    sum_step(lid, 32u);
    sum_step(lid, 16u);
    sum_step(lid, 8u);
    sum_step(lid, 4u);
    sum_step(lid, 2u);
    sum_step(lid, 1u);
    let t = red[0];
    workgroupBarrier();
    return t;
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

fn lse_step(lid: u32, s: u32) {
    if (lid < s) {
        red[lid] = vec4<f32>(lse_merge(red[lid].xy, red[lid + s].xy), 0.0, 0.0);
    }
    workgroupBarrier();
}

// The row's logit k after steps 1–2, and after step 3 when `z` (a row's (mean, s)) is given.
fn logit(k: u32, stdz: bool, ms: vec2<f32>) -> f32 {
    let x = capped(k);
    if (stdz) {
        return (x - ms.x) / ms.y;
    }
    return x;
}

// EA-KD's entropy −Σ x ln(x + 1e-10) of softmax(logit/wt) over the row at `base` (two sweeps).
fn entropy(base: u32, lid: u32, stdz: bool, ms: vec2<f32>) -> f32 {
    var a = vec2<f32>(-3.0e38, 0.0);
    for (var k = lid; k < S.v; k += WG) {
        let y = logit(base + k, stdz, ms) / S.wt;
        a = lse_merge(a, vec2<f32>(y, 1.0));
    }
    red[lid] = vec4<f32>(a, 0.0, 0.0);
    workgroupBarrier();
    lse_step(lid, 128u);
    lse_step(lid, 64u);
    lse_step(lid, 32u);
    lse_step(lid, 16u);
    lse_step(lid, 8u);
    lse_step(lid, 4u);
    lse_step(lid, 2u);
    lse_step(lid, 1u);
    let l = red[0].x + log(red[0].y);
    workgroupBarrier();
    var h = 0.0;
    for (var k = lid; k < S.v; k += WG) {
        let p = exp(logit(base + k, stdz, ms) / S.wt - l);
        h -= p * log(p + 1e-10);
    }
    return reduce_sum(lid, vec4<f32>(h, 0.0, 0.0, 0.0)).x;
}

// EA-KD's row weight (H_t + H_t·H_s/H_ub)/2.
fn eakd_weight(ht: f32, hs: f32) -> f32 {
    return 0.5 * (ht + ht * hs / S.hub);
}

@compute @workgroup_size(256)
fn shape(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = row_of(wid, nwg);
    if (row >= S.n_rows) {
        return;
    }
    let base = row * S.v;
    var mean = 0.0;
    var s = 1.0;
    var sigma = 0.0;
    let stdz = (S.flags & FLAG_STD) != 0u;
    if (stdz) {
        // One sweep: Welford per invocation, merged in the tree.
        var w = vec4<f32>(0.0);
        for (var k = lid; k < S.v; k += WG) {
            let x = capped(base + k);
            w.x += 1.0;
            let d = x - w.y;
            w.y += d / w.x;
            w.z += d * (x - w.y);
        }
        red[lid] = w;
        workgroupBarrier();
        merge_step(lid, 128u);
        merge_step(lid, 64u);
        merge_step(lid, 32u);
        merge_step(lid, 16u);
        merge_step(lid, 8u);
        merge_step(lid, 4u);
        merge_step(lid, 2u);
        merge_step(lid, 1u);
        let t = red[0];
        workgroupBarrier();
        mean = t.y;
        sigma = sqrt(max(t.z, 0.0) / (f32(S.v) - 1.0));
        s = sigma + 1e-7;
    }
    for (var k = lid; k < S.v; k += WG) {
        var x = capped(base + k);
        if (stdz) {
            x = (x - mean) / s;
        }
        shaped[base + k] = Elem(x / S.temp);
    }
    var ent = vec4<f32>(0.0);
    if ((S.flags & FLAG_ENT) != 0u) {
        ent.x = entropy(base, lid, false, vec2<f32>(0.0, 1.0));
        ent.y = entropy(base, lid, stdz, vec2<f32>(mean, s));
    }
    if (lid == 0u) {
        stats[2u * row] = vec4<f32>(mean, s, sigma, 0.0);
        stats[2u * row + 1u] = ent;
    }
}

@compute @workgroup_size(256)
fn chain(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = row_of(wid, nwg);
    if (row >= S.n_rows) {
        return;
    }
    let base = row * S.v;
    let st = stats[2u * row];
    // EA-KD with std: the weight of the logits before standardisation, not the family's.
    var r = 1.0;
    if ((S.flags & FLAG_ENT) != 0u) {
        let hs = stats[2u * row + 1u];
        let ht = tstats[2u * row + 1u];
        let w_std = eakd_weight(ht.y, hs.y);
        if (w_std > 0.0) {
            r = eakd_weight(ht.x, hs.x) / w_std;
        }
    }
    let stdz = (S.flags & FLAG_STD) != 0u;
    let cap = (S.flags & FLAG_CAP) != 0u;
    var gbar = 0.0;
    var c = 0.0;
    if (stdz) {
        // Σ g and Σ g·d, d = x − mean (x: the row after steps 1–2), for the standardisation's
        // chain rule (pipeline.rs `standardise_back`).
        var acc = vec4<f32>(0.0);
        for (var k = lid; k < S.v; k += WG) {
            let g = r * f32(grad[base + k]) / S.temp;
            acc.x += g;
            acc.y += g * (capped(base + k) - st.x);
        }
        red[lid] = acc;
        workgroupBarrier();
        sum_step(lid, 128u);
        sum_step(lid, 64u);
        sum_step(lid, 32u);
        sum_step(lid, 16u);
        sum_step(lid, 8u);
        sum_step(lid, 4u);
        sum_step(lid, 2u);
        sum_step(lid, 1u);
        let t = red[0];
        gbar = t.x / f32(S.v);
        if (st.z > 0.0) {
            c = t.y / st.y / st.y / (f32(S.v) - 1.0) / st.z;
        }
    }
    for (var k = lid; k < S.v; k += WG) {
        var g = r * f32(grad[base + k]) / S.temp;
        if (stdz) {
            g = (g - gbar) / st.y - c * (capped(base + k) - st.x);
        }
        if (cap) {
            g *= sech2(stored(f32(raw[base + k])) / S.cap);
        }
        grad[base + k] = Elem(g * S.scale);
    }
    if (lid == 0u && S.scale * r != 1.0) {
        values[row] = values[row] * r * S.scale;
    }
}
