// Divergence value per row and gradient w.r.t. the student logits: one workgroup per row,
// strided loads, f32 arithmetic, workgroup tree reductions. The KIND override picks the family
// (the driver drops the other branches); loss.rs maps every Divergence onto KIND + parameters
// and documents the pass plan. "Pass" = one sweep over the row's logits.
//ELEM_DECL

struct Params {
    n_rows: u32,
    v: u32,
    label: u32,     // shared Hinton label (when FLAG_ROW_LABELS is clear)
    flags: u32,
    inf_bits: u32,  // 0x7f800000: +inf made at run time (a constant expression may not overflow)
    order: u32,     // AMiD argument order: 0 pr, 1 qr, 2 rp, 3 rq
    mode: u32,      // AMiD divergence: 0 fkl, 1 ab
    pad: u32,
    a0: f32, a1: f32, a2: f32, a3: f32,
    a4: f32, a5: f32, a6: f32, a7: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> teacher: array<Elem>;
@group(0) @binding(2) var<storage, read> student: array<Elem>;
@group(0) @binding(3) var<storage, read> aux: array<u32>;
@group(0) @binding(4) var<storage, read_write> values: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<Elem>;

override KIND: u32 = 0u;

const K_FKL: u32 = 0u;
const K_RKL: u32 = 1u;
const K_AKL: u32 = 2u;
const K_JSD: u32 = 3u;
const K_TVD: u32 = 4u;
const K_SKL: u32 = 5u;
const K_SRKL: u32 = 6u;
const K_AB: u32 = 7u;
const K_TAID: u32 = 8u;
const K_AMID: u32 = 9u;
const K_HINTON: u32 = 10u;

const FLAG_ROW_LABELS: u32 = 1u;
const FLAG_DETACH: u32 = 2u;

const WG: u32 = 256u;
// Start value of running maxima: finite, so that no `inf - inf` appears in the rescaling.
const BIG: f32 = 3.0e38;
// Below this log-probability the f64 engine's probability is exactly 0 (exp underflows), so a
// class there neither counts as mass nor makes a divergence infinite. Mirrors the CPU rule.
const UNDERFLOW64: f32 = -745.0;

var<workgroup> sa: array<vec4<f32>, 256>;
var<workgroup> sb: array<vec4<f32>, 256>;
var<workgroup> sc: array<vec4<f32>, 256>;

// ---------------------------------------------------------------- scalar helpers

fn inf() -> f32 {
    return bitcast<f32>(P.inf_bits);
}

// Teacher zeros arrive as -inf logits; test the bits so no fast-math assumption can drop it.
fn is_ninf(x: f32) -> bool {
    return bitcast<u32>(x) == 0xff800000u;
}

fn finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// E(x) = expm1(x)/x for |x| <= 0.5 (Taylor, relative error < 2e-8).
fn exprel_s(x: f32) -> f32 {
    return 1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
        + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x / 40320.0))))));
}

fn expm1(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        return x * exprel_s(x);
    }
    return exp(x) - 1.0;
}

// WGSL has no log1p; the series keeps small arguments exact (relative error < 1e-8).
fn log1p(y: f32) -> f32 {
    if (abs(y) < 0.125) {
        return y * (1.0 - y * (0.5 - y * (1.0 / 3.0 - y * (0.25 - y * (0.2
            - y * (1.0 / 6.0 - y * (1.0 / 7.0 - y * 0.125)))))));
    }
    return log(1.0 + y);
}

fn logaddexp(a: f32, b: f32) -> f32 {
    let hi = max(a, b);
    return hi + log1p(exp(min(a, b) - hi));
}

// Online log-sum-exp state (max, sum of exp(x - max)).
fn lse_push(s: vec2<f32>, x: f32) -> vec2<f32> {
    if (x > s.x) {
        return vec2<f32>(x, s.y * exp(s.x - x) + 1.0);
    }
    return vec2<f32>(s.x, s.y + exp(x - s.x));
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// x * e^sh without overflowing in between (sh > 0 only when the exponents were shifted).
fn unshift(x: f32, sh: f32) -> f32 {
    if (sh == 0.0 || x == 0.0) {
        return x;
    }
    return sign(x) * exp(sh + log(abs(x)));
}

// e^A E(x), given pe = e^(A + x) and p0 = e^A (both possibly shifted by the same factor).
fn scaled_exprel(x: f32, pe: f32, p0: f32) -> f32 {
    if (abs(x) < 0.5) {
        return p0 * exprel_s(x);
    }
    return (pe - p0) / x;
}

// One class of D_AB^(a,b)(x||y) and its partials w.r.t. log x and log y: vec3(term, d_lx, d_ly).
// term = e^A d^2 Phi(s, t), A = a lx + b ly, d = lx - ly, s = b d, t = -a d,
// Phi(s, t) = (E(s) - E(t)) / (s - t). Four regimes keep it free of cancellation and of 0 * inf
// (a class whose probability underflows gives a finite term, never NaN):
//   max(|s|,|t|) <= 1:  Phi = sum h_n(s,t)/(n+2)!  (complete homogeneous polynomials)
//   |s - t| <= 0.6:     Phi s t = e^c (c sinhc(δ) - cosh δ) + 1,  c, δ = midpoint, half-gap
//   one of |s|,|t| < 1: divided difference of e^A E(·), with every exponential folded into one exp
//   otherwise:          (t e^s - s e^t + (s - t)) / (s t (s - t)), exponentials folded
// Exponents are shifted by their maximum when it exceeds 60 and restored at the end.
// Zero masses (zx, zy) take the limits of the reference: y^(a+b)/(a(a+b)) or +inf.
fn ab_term(a: f32, b: f32, lx: f32, ly: f32, zx: bool, zy: bool) -> vec3<f32> {
    let ab = a + b;
    if (zx || zy) {
        if (zx && zy) {
            return vec3<f32>(0.0);
        }
        if (zx) {
            if (a > 0.0 && ab > 0.0) {
                let yab = exp(ab * ly);
                return vec3<f32>(yab / (a * ab), 0.0, yab / a);
            }
            return vec3<f32>(inf(), 0.0, 0.0);
        }
        if (b > 0.0 && ab > 0.0) {
            let xab = exp(ab * lx);
            return vec3<f32>(xab / (b * ab), xab / b, 0.0);
        }
        return vec3<f32>(inf(), 0.0, 0.0);
    }
    let d = lx - ly;
    let s = b * d;
    let t = -a * d;
    let h = s - t;
    let ex = ab * lx;
    let ey = ab * ly;
    let e0 = a * lx + b * ly;
    let em = max(max(ex, ey), e0);
    let sh = select(0.0, em, em > 60.0);
    let px = exp(ex - sh);
    let py = exp(ey - sh);
    let p0 = exp(e0 - sh);
    var term: f32;
    if (max(abs(s), abs(t)) <= 1.0) {
        var hn = 1.0;
        var sn = 1.0;
        var c = 0.5;
        var phi = 0.5;
        for (var n = 1; n < 12; n++) {
            sn = sn * s;
            hn = hn * t + sn;
            c = c / f32(n + 2);
            phi += c * hn;
        }
        term = p0 * d * d * phi;
    } else if (abs(h) <= 0.6) {
        let cm = 0.5 * (s + t);
        let d2 = 0.25 * h * h;
        let shc = 1.0 + d2 * (1.0 / 6.0 + d2 * (1.0 / 120.0 + d2 / 5040.0));
        let ch = 1.0 + d2 * (0.5 + d2 * (1.0 / 24.0 + d2 / 720.0));
        let pc = exp(0.5 * (ex + ey) - sh);
        term = d * d * (pc * (cm * shc - ch) + p0) / (s * t);
    } else if (min(abs(s), abs(t)) < 1.0) {
        term = d * (scaled_exprel(s, px, p0) - scaled_exprel(t, py, p0)) / ab;
    } else {
        term = d * d * (t * px - s * py + h * p0) / (s * t * h);
    }
    // d_ly = -y^(a+b) d E(a d) = (y^(a+b) - x^a y^b)/a ;  d_lx = x^(a+b) d E(-b d) = (x^(a+b) - x^a y^b)/b
    var gy: f32;
    var gx: f32;
    if (abs(t) <= 0.5) {
        gy = -py * d * exprel_s(-t);
    } else {
        gy = (py - p0) / a;
    }
    if (abs(s) <= 0.5) {
        gx = px * d * exprel_s(-s);
    } else {
        gx = (px - p0) / b;
    }
    term = unshift(max(term, 0.0), sh);
    if (!finite(term)) {
        term = inf();
    }
    return vec3<f32>(term, unshift(gx, sh), unshift(gy, sh));
}

// ---------------------------------------------------------------- workgroup reductions

struct Pair {
    a: vec4<f32>,
    b: vec4<f32>,
}

fn sum_step(lid: u32, s: u32) {
    if (lid < s) {
        sa[lid] = sa[lid] + sa[lid + s];
        sb[lid] = sb[lid] + sb[lid + s];
    }
    workgroupBarrier();
}

// Sums of eight values over the workgroup (unrolled: WG = 256).
fn reduce_sum(lid: u32, x: vec4<f32>, y: vec4<f32>) -> Pair {
    sa[lid] = x;
    sb[lid] = y;
    workgroupBarrier();
    sum_step(lid, 128u);
    sum_step(lid, 64u);
    sum_step(lid, 32u);
    sum_step(lid, 16u);
    sum_step(lid, 8u);
    sum_step(lid, 4u);
    sum_step(lid, 2u);
    sum_step(lid, 1u);
    let r = Pair(sa[0], sb[0]);
    workgroupBarrier();
    return r;
}

// sa = (lse u, lse z), sb = (lse w, lse x), sc = (Σ e^(z - m_z)(z - u), max z over teacher zeros).
fn lse_step(lid: u32, s: u32) {
    if (lid < s) {
        let a = sa[lid];
        let b = sa[lid + s];
        let mz = max(a.z, b.z);
        let ea = exp(a.z - mz);
        let eb = exp(b.z - mz);
        sa[lid] = vec4<f32>(lse_merge(a.xy, b.xy), mz, a.w * ea + b.w * eb);
        let c = sb[lid];
        let d = sb[lid + s];
        sb[lid] = vec4<f32>(lse_merge(c.xy, d.xy), lse_merge(c.zw, d.zw));
        let e = sc[lid];
        let f = sc[lid + s];
        sc[lid] = vec4<f32>(e.x * ea + f.x * eb, max(e.y, f.y), 0.0, 0.0);
    }
    workgroupBarrier();
}

struct Triple {
    a: vec4<f32>,
    b: vec4<f32>,
    c: vec4<f32>,
}

fn reduce_lse(lid: u32, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> Triple {
    sa[lid] = a;
    sb[lid] = b;
    sc[lid] = c;
    workgroupBarrier();
    lse_step(lid, 128u);
    lse_step(lid, 64u);
    lse_step(lid, 32u);
    lse_step(lid, 16u);
    lse_step(lid, 8u);
    lse_step(lid, 4u);
    lse_step(lid, 2u);
    lse_step(lid, 1u);
    let r = Triple(sa[0], sb[0], sc[0]);
    workgroupBarrier();
    return r;
}

// ---------------------------------------------------------------- pass 1: log-sum-exps

// Each log-sum-exp is kept as (max, log of the rescaled sum): log-probabilities are then formed as
// (x - max) - log_sum, which is exact for the classes near the max however large the logits are
// (m + log(l) rounded to f32 would carry an absolute error of ulp(m): 1e-3 at logits of 1e4).
struct Stats {
    mu: f32,
    llu: f32,
    mz: f32,
    llz: f32,
    mw: f32,
    llw: f32,
    mx: f32,
    llx: f32,
    lz: f32,      // Σ e^(z - m_z)
    rs: f32,      // Σ e^(z - m_z) (z - u) over teacher non-zeros (RKL in one pass)
    zmax0: f32,   // max student logit over teacher zeros (-BIG if none)
}

// One read of both rows: online log-sum-exp of u and z, plus what the family needs besides
// (TAID: w = t u + (1-t) z; Hinton: u/T and z/T; RKL: the q-weighted log-ratio sum).
fn pass1(base: u32, lid: u32) -> Stats {
    var su = vec2<f32>(-BIG, 0.0);
    var sz = vec2<f32>(-BIG, 0.0);
    var sw = vec2<f32>(-BIG, 0.0);
    var sx = vec2<f32>(-BIG, 0.0);
    var rs = 0.0;
    var zm0 = -BIG;
    for (var k = lid; k < P.v; k += WG) {
        let u = f32(teacher[base + k]);
        let z = f32(student[base + k]);
        let zero = is_ninf(u);
        var diff = 0.0;
        if (KIND == K_RKL && !zero) {
            diff = z - u;
        }
        if (z > sz.x) {
            let c = exp(sz.x - z);
            sz = vec2<f32>(z, sz.y * c + 1.0);
            rs = rs * c + diff;
        } else {
            let e = exp(z - sz.x);
            sz.y += e;
            rs += e * diff;
        }
        if (zero) {
            zm0 = max(zm0, z);
        } else {
            su = lse_push(su, u);
        }
        if (KIND == K_TAID) {
            let t = P.a0;
            if (t == 0.0) {
                sw = lse_push(sw, z);
            } else if (!zero) {
                sw = lse_push(sw, t * u + (1.0 - t) * z);
            }
        }
        if (KIND == K_HINTON) {
            if (!zero) {
                sw = lse_push(sw, u / P.a0);
            }
            sx = lse_push(sx, z / P.a0);
        }
    }
    let t = reduce_lse(lid, vec4<f32>(su, sz), vec4<f32>(sw, sx), vec4<f32>(rs, zm0, 0.0, 0.0));
    let a = t.a;
    let b = t.b;
    let c = t.c;
    return Stats(a.x, log(a.y), a.z, log(a.w), b.x, log(b.y), b.z, log(b.w), a.w, c.x, c.y);
}

// ---------------------------------------------------------------- per-element quantities

struct Row {
    row: u32,
    base: u32,
    lid: u32,
    mu: f32,
    llu: f32,
    mz: f32,
    llz: f32,
}

struct El {
    u: f32,
    z: f32,
    zero: bool,
    lp: f32,
    p: f32,
    lq: f32,
    q: f32,
}

fn elem(r: Row, k: u32) -> El {
    let u = f32(teacher[r.base + k]);
    let z = f32(student[r.base + k]);
    let zero = is_ninf(u);
    let lq = (z - r.mz) - r.llz;
    var lp = -BIG;
    var p = 0.0;
    if (!zero) {
        lp = (u - r.mu) - r.llu;
        p = exp(lp);
    }
    return El(u, z, zero, lp, p, lq, exp(lq));
}

fn put_value(r: Row, v: f32) {
    if (r.lid == 0u) {
        values[r.row] = v;
    }
}

fn put_grad(r: Row, k: u32, g: f32) {
    grad[r.base + k] = Elem(g);
}

// ---------------------------------------------------------------- families

// KL(p||q): 2 passes, gradient q - p.
fn run_fkl(r: Row) {
    var acc = 0.0;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        if (!e.zero) {
            acc += e.p * (e.lp - e.lq);
        }
        put_grad(r, k, e.q - e.p);
    }
    put_value(r, reduce_sum(r.lid, vec4<f32>(acc, 0.0, 0.0, 0.0), vec4<f32>(0.0)).a.x);
}

// KL(q||p): 2 passes (the value comes out of pass 1), gradient q (lq - lp - KL).
fn run_rkl(r: Row, st: Stats) {
    let inf_row = (st.zmax0 - r.mz) - r.llz > UNDERFLOW64;
    // Σ q (z - u) - (lse_z - lse_u)
    let kl = st.rs / st.lz - (r.mz - r.mu) - (r.llz - r.llu);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var g = 0.0;
        if (!inf_row && !e.zero) {
            g = e.q * (e.lq - e.lp - kl);
        }
        put_grad(r, k, g);
    }
    put_value(r, select(kl, inf(), inf_row));
}

// Adaptive KL: head = {u > thr} ∪ {u == thr, k <= kcut} (threshold from the CPU, see akl.rs).
// 3 passes: lse; gaps, FKL, RKL; gradient.
fn run_akl(r: Row, st: Stats) {
    let thr = bitcast<f32>(aux[2u * r.row]);
    let kcut = aux[2u * r.row + 1u];
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let gap = abs(e.p - e.q);
        if (e.u > thr || (e.u == thr && k <= kcut)) {
            acc.x += gap;
        } else {
            acc.y += gap;
        }
        if (!e.zero) {
            acc.z += e.p * (e.lp - e.lq);
            acc.w += e.q * (e.lq - e.lp);
        }
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    let tot = s.x + s.y;
    var wh = 0.5;
    var wt = 0.5;
    if (tot > 0.0) {
        wh = s.x / tot;
        wt = s.y / tot;
    }
    let rk = select(0.0, s.w, wt > 0.0);
    let inf_row = wt > 0.0 && (st.zmax0 - r.mz) - r.llz > UNDERFLOW64;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var g = 0.0;
        if (!inf_row) {
            g = wh * (e.q - e.p);
            if (!e.zero) {
                g += wt * e.q * (e.lq - e.lp - rk);
            }
        }
        put_grad(r, k, g);
    }
    put_value(r, select(wh * s.z + wt * rk, inf(), inf_row));
}

// log m, m = βp + (1-β)q; a1 = log β, a2 = log(1-β).
fn jsd_lm(e: El) -> f32 {
    if (e.zero) {
        return P.a2 + e.lq;
    }
    return logaddexp(P.a1 + e.lp, P.a2 + e.lq);
}

// Generalized JSD interior (0 < β < 1): 3 passes, gradient c q (lq - lm - KL(q||m)).
fn run_jsd(r: Row) {
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let lm = jsd_lm(e);
        if (!e.zero) {
            acc.x += e.p * (e.lp - lm);
        }
        acc.y += e.q * (e.lq - lm);
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    let beta = P.a0;
    let scale = P.a3;
    let c = (1.0 - beta) * scale;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        put_grad(r, k, c * e.q * (e.lq - jsd_lm(e) - s.y));
    }
    put_value(r, scale * (beta * s.x + (1.0 - beta) * s.y));
}

// TVD: 3 passes, sub-gradient ½ q (sign(q - p) - <sign>_q).
fn run_tvd(r: Row) {
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let d = e.q - e.p;
        acc.x += abs(d);
        acc.y += e.q * sign(d);
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        put_grad(r, k, 0.5 * e.q * (sign(e.q - e.p) - s.y));
    }
    put_value(r, 0.5 * s.x);
}

// Skew KL(p || αp + (1-α)q), α > 0; a1 = log α, a2 = log(1-α).
fn skl_lm(e: El) -> f32 {
    if (e.zero) {
        return P.a2 + e.lq;
    }
    return logaddexp(P.a1 + e.lp, P.a2 + e.lq);
}

fn run_skl(r: Row) {
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        if (!e.zero) {
            let lm = skl_lm(e);
            acc.x += e.p * (e.lp - lm);
            acc.y += e.q * exp(e.lp - lm);
        }
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    let c = -(1.0 - P.a0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var ratio = 0.0;
        if (!e.zero) {
            ratio = exp(e.lp - skl_lm(e));
        }
        put_grad(r, k, c * e.q * (ratio - s.y));
    }
    put_value(r, s.x);
}

// Skew reverse KL(q || (1-α)p + αq), α > 0: h = log(q/m) (- α q/m unless detached).
fn srkl_h(e: El) -> vec2<f32> {
    var lm: f32;
    if (e.zero) {
        lm = P.a1 + e.lq;
    } else {
        lm = logaddexp(P.a2 + e.lp, P.a1 + e.lq);
    }
    let lr = e.lq - lm;
    var h = lr;
    if ((P.flags & FLAG_DETACH) == 0u) {
        h = lr - P.a0 * exp(lr);
    }
    return vec2<f32>(lr, h);
}

fn run_srkl(r: Row) {
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let lh = srkl_h(e);
        acc.x += e.q * lh.x;
        acc.y += e.q * lh.y;
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        put_grad(r, k, e.q * (srkl_h(e).y - s.y));
    }
    put_value(r, s.x);
}

// αβ-divergence: 3 passes (the cancellation-free terms need lse before any sum), gradient w - q Σw.
fn run_ab(r: Row) {
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let t = ab_term(P.a0, P.a1, e.lp, e.lq, e.zero, false);
        acc.x += t.x;
        acc.y += t.z;
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    let ok = finite(s.x) && finite(s.y);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var g = 0.0;
        if (ok) {
            g = ab_term(P.a0, P.a1, e.lp, e.lq, e.zero, false).z - e.q * s.y;
        }
        put_grad(r, k, g);
    }
    put_value(r, select(inf(), s.x, finite(s.x)));
}

// TAID at fixed t: KL(p_t||q), p_t = softmax(t u + (1-t) z) (student detached); 2 passes.
fn run_taid(r: Row, st: Stats) {
    let t = P.a0;
    var acc = 0.0;
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var pt = 0.0;
        if (t == 0.0 || !e.zero) {
            var lw = e.z;
            if (t != 0.0) {
                lw = t * e.u + (1.0 - t) * e.z;
            }
            let lpt = (lw - st.mw) - st.llw;
            pt = exp(lpt);
            acc += pt * (lpt - e.lq);
        }
        put_grad(r, k, e.q - pt);
    }
    put_value(r, reduce_sum(r.lid, vec4<f32>(acc, 0.0, 0.0, 0.0), vec4<f32>(0.0)).a.x);
}

// Hinton: (1-a) CE(label, q) + a T² KL(p^T||q^T); 2 passes. a0 = T, a1 = a.
fn run_hinton(r: Row, st: Stats) {
    let temp = P.a0;
    let a = P.a1;
    var label = P.label;
    if ((P.flags & FLAG_ROW_LABELS) != 0u) {
        label = aux[2u * r.row];
    }
    var acc = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        let lqt = (e.z / temp - st.mx) - st.llx;
        var pt = 0.0;
        if (!e.zero) {
            let lpt = (e.u / temp - st.mw) - st.llw;
            pt = exp(lpt);
            acc.x += pt * (lpt - lqt);
        }
        var hard = e.q;
        if (k == label) {
            hard -= 1.0;
            acc.y -= e.lq;
        }
        put_grad(r, k, (1.0 - a) * hard + a * temp * (exp(lqt) - pt));
    }
    let s = reduce_sum(r.lid, acc, vec4<f32>(0.0)).a;
    put_value(r, (1.0 - a) * s.y + a * temp * temp * s.x);
}

// AMiD: log r_un = log-power-mean of p, q (s = (1-α)/2), ω = ∂ log r_un/∂ log q.
// a1 = λ, a2 = s, a3 = log(1-λ), a4/a5 = αβ exponents of div=ab.
struct Mix {
    lr: f32,
    om: f32,
    zr: bool,
}

fn amid_mix(e: El) -> Mix {
    let lam = P.a1;
    let s = P.a2;
    if (lam <= 0.0) {
        return Mix(e.lq, 1.0, false);
    }
    if (lam >= 1.0) {
        return Mix(e.lp, 0.0, e.zero);
    }
    if (e.zero) {
        if (s > 0.0) {
            return Mix(P.a3 / s + e.lq, 1.0, false);
        }
        return Mix(-BIG, 0.0, true);
    }
    if (s == 0.0) {
        return Mix(lam * e.lp + (1.0 - lam) * e.lq, 1.0 - lam, false);
    }
    // (1/s) log(λ e^(s lp) + (1-λ) e^(s lq)) around the larger of the two: exact for every s
    let x = s * (e.lp - e.lq);
    if (x <= 0.0) {
        let y = lam * expm1(x);
        return Mix(e.lq + log1p(y) / s, (1.0 - lam) / (1.0 + y), false);
    }
    let y = (1.0 - lam) * expm1(-x);
    return Mix(e.lp + log1p(y) / s, (1.0 - lam) * exp(-x) / (1.0 + y), false);
}

struct AmidEl {
    term: f32,
    gr: f32,   // ∂D/∂ log r
    gq: f32,   // ∂D/∂ log q, direct share
    r: f32,
    om: f32,
}

fn amid_el(e: El, lse_r: vec2<f32>) -> AmidEl {
    let m = amid_mix(e);
    let lr = (m.lr - lse_r.x) - lse_r.y;
    var r = 0.0;
    if (!m.zr) {
        r = exp(lr);
    }
    var lx = e.lp;
    var zx = e.zero;
    var ly = lr;
    var zy = m.zr;
    if (P.order == 1u) {
        lx = e.lq;
        zx = false;
    } else if (P.order == 2u) {
        lx = lr;
        zx = m.zr;
        ly = e.lp;
        zy = e.zero;
    } else if (P.order == 3u) {
        lx = lr;
        zx = m.zr;
        ly = e.lq;
        zy = false;
    }
    var t = vec3<f32>(0.0);
    if (P.mode == 1u) {
        t = ab_term(P.a4, P.a5, lx, ly, zx, zy);
    } else if (!zx && lx > UNDERFLOW64) {
        if (zy) {
            t = vec3<f32>(inf(), 0.0, 0.0);
        } else {
            let x = exp(lx);
            t = vec3<f32>(x * (lx - ly), x * (lx - ly), -x);
        }
    }
    var gr = t.z;
    var gq = 0.0;
    if (P.order >= 2u) {
        gr = t.y;
    }
    if (P.order == 1u) {
        gq = t.y;
    } else if (P.order == 3u) {
        gq = t.z;
    }
    return AmidEl(t.x, gr, gq, r, m.om);
}

// 4 passes: lse of p, q; lse of r_un; value and the sums of the chain rule; gradient.
fn run_amid(r: Row) {
    var sr = vec2<f32>(-BIG, 0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let m = amid_mix(elem(r, k));
        if (!m.zr) {
            sr = lse_push(sr, m.lr);
        }
    }
    let none = vec4<f32>(-BIG, 0.0, -BIG, 0.0);
    let t = reduce_lse(r.lid, vec4<f32>(sr, -BIG, 0.0), none, vec4<f32>(0.0, -BIG, 0.0, 0.0));
    let lse_r = vec2<f32>(t.a.x, log(t.a.y));

    var acc = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    for (var k = r.lid; k < P.v; k += WG) {
        let a = amid_el(elem(r, k), lse_r);
        acc += vec4<f32>(a.term, a.gr, a.om * a.gr, a.om * a.r);
        acc2.x += a.gq;
    }
    let s = reduce_sum(r.lid, acc, acc2);
    let sum_gr = s.a.y;
    let sum_h = s.a.z - sum_gr * s.a.w + s.b.x;
    let ok = finite(s.a.x) && finite(sum_h);
    for (var k = r.lid; k < P.v; k += WG) {
        let e = elem(r, k);
        var g = 0.0;
        if (ok) {
            let a = amid_el(e, lse_r);
            g = a.om * (a.gr - a.r * sum_gr) + a.gq - e.q * sum_h;
        }
        put_grad(r, k, g);
    }
    put_value(r, select(inf(), s.a.x, finite(s.a.x)));
}

// ---------------------------------------------------------------- entry point

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // 2-D grid when the rows exceed max_compute_workgroups_per_dimension.
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.n_rows) {
        return;
    }
    let st = pass1(row * P.v, lid);
    let r = Row(row, row * P.v, lid, st.mu, st.llu, st.mz, st.llz);
    switch KIND {
        case 0u: { run_fkl(r); }
        case 1u: { run_rkl(r, st); }
        case 2u: { run_akl(r, st); }
        case 3u: { run_jsd(r); }
        case 4u: { run_tvd(r); }
        case 5u: { run_skl(r); }
        case 6u: { run_srkl(r); }
        case 7u: { run_ab(r); }
        case 8u: { run_taid(r, st); }
        case 9u: { run_amid(r); }
        default: { run_hinton(r, st); }
    }
}
