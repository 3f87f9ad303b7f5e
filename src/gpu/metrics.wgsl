// Per-row training metrics, one workgroup per row: pass 1 the student's log-sum-exp and largest
// logit, pass 2 the number of classes at that largest logit (top-1 agreement is 1/ties when the
// teacher's argmax is among them: the expected agreement under random tie-breaking, so a uniform
// student scores 1/V, not 1 or 0), KL(p||q), KL(q||p), the L1 gaps on the AKL head / tail (head =
// {u > thr} ∪ {u == thr, k <= kcut}, threshold from the CPU as for the AKL loss) and, for TAID's
// schedule, the cross-entropy −Σ p_t log q with p_t = q − grad. The teacher's log-sum-exp comes
// precomputed (the teacher never changes). Out: 6 floats per row
// [kl_pq, kl_qp, head_gap, tail_gap, top1 (0..1), ce].
struct MP {
    n_rows: u32,
    v: u32,
    want_ce: u32,
    inf_bits: u32,
}

@group(0) @binding(0) var<uniform> P: MP;
@group(0) @binding(1) var<storage, read> teacher: array<f32>;
@group(0) @binding(2) var<storage, read> student: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<u32>; // thr bits, kcut, teacher argmax, max bits, log-sum bits
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
const BIG: f32 = 3.0e38;

var<workgroup> s4: array<vec4<f32>, 256>;
var<workgroup> s1: array<f32, 256>;
var<workgroup> si: array<u32, 256>;
var<workgroup> sc: array<f32, 256>;

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

fn is_ninf(x: f32) -> bool {
    return bitcast<u32>(x) == 0xff800000u;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.n_rows) {
        return;
    }
    let base = row * P.v;

    // pass 1: student log-sum-exp and argmax
    var st = vec2<f32>(-BIG, 0.0);
    var best = -BIG;
    var bi = 0xffffffffu;
    for (var k = lid; k < P.v; k += WG) {
        let z = student[base + k];
        st = lse_push(st, z);
        if (z > best) {
            best = z;
            bi = k;
        }
    }
    s4[lid] = vec4<f32>(st, best, 0.0);
    si[lid] = bi;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (lid < h) {
            let a = s4[lid];
            let b = s4[lid + h];
            let l = lse_merge(a.xy, b.xy);
            var bv = a.z;
            var bix = si[lid];
            if (b.z > a.z || (b.z == a.z && si[lid + h] < bix)) {
                bv = b.z;
                bix = si[lid + h];
            }
            s4[lid] = vec4<f32>(l, bv, 0.0);
            si[lid] = bix;
        }
        workgroupBarrier();
    }
    let mz = s4[0].x;
    let llz = log(s4[0].y);
    workgroupBarrier();

    // pass 2: sums
    let thr = bitcast<f32>(aux[5u * row]);
    let kcut = aux[5u * row + 1u];
    let targ = aux[5u * row + 2u];
    // (u - max) - log_sum: exact near the max however large the logits (see real/train.rs lse64).
    let mu_t = bitcast<f32>(aux[5u * row + 3u]);
    let ll_t = bitcast<f32>(aux[5u * row + 4u]);
    let inf = bitcast<f32>(P.inf_bits);
    let mrow = MetricRow(mz, llz, mu_t, ll_t, thr, kcut, inf);
    var acc = vec4<f32>(0.0);
    var ce = 0.0;
    var ties = 0.0;
    for (var k = lid; k < P.v; k += WG) {
        let z = student[base + k];
        if (z == mz) {
            ties += 1.0;
        }
        let t = metric_term(acc, mrow, k, teacher[base + k], z);
        acc = t.acc;
        if (P.want_ce != 0u) {
            ce -= (t.q - grad[base + k]) * t.lq;
        }
    }
    s4[lid] = acc;
    s1[lid] = ce;
    sc[lid] = ties;
    workgroupBarrier();
    for (var h = WG / 2u; h > 0u; h >>= 1u) {
        if (lid < h) {
            s4[lid] += s4[lid + h];
            s1[lid] += s1[lid + h];
            sc[lid] += sc[lid + h];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let o = 6u * row;
        let t = s4[0];
        out[o] = t.x;
        out[o + 1u] = t.y;
        out[o + 2u] = t.z;
        out[o + 3u] = t.w;
        out[o + 4u] = select(0.0, 1.0 / max(sc[0], 1.0), student[base + targ] == mz);
        out[o + 5u] = s1[0];
    }
}
