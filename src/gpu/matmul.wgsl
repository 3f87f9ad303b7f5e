// C = A·B, f32, with A(i, k) = a[a_off + i*a_rs + k*a_cs] and B(k, j) = b[b_off + k*b_rs + j*b_cs],
// so one kernel serves H·W, G·Wᵀ and Hᵀ·G, on a chunk of rows too (the offsets pick its rows of H). A workgroup computes a 64×64 tile of C, each invocation a 4×4 block,
// from 16-deep slices of A and B staged in workgroup memory. Split-K: workgroup z sums k in
// [z·kps, min(k, (z+1)·kps)) and writes its partial to C + c_off + z·c_zs, row stride n (the consumer
// adds the partials), or adds it to what is there when add_c is set (a later chunk of rows of dW).
struct MM {
    m: u32, n: u32, k: u32, kps: u32,
    a_rs: u32, a_cs: u32, b_rs: u32, b_cs: u32,
    a_off: u32, b_off: u32, c_off: u32, c_zs: u32,
    add_c: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> P: MM;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

var<workgroup> ta: array<f32, 1024>; // [kk][ii], 16 × 64
var<workgroup> tb: array<f32, 1024>; // [kk][jj], 16 × 64

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let tx = lid % 16u;
    let ty = lid / 16u;
    let i0 = wid.y * 64u;
    let j0 = wid.x * 64u;
    let kb = wid.z * P.kps;
    let ke = min(P.k, kb + P.kps);
    var acc: array<f32, 16>;
    for (var k0 = kb; k0 < ke; k0 += 16u) {
        for (var l = 0u; l < 4u; l++) {
            let e = lid + l * 256u;
            // Neighbouring invocations load neighbouring addresses: along k when A (or B) is
            // contiguous in k, along the output index otherwise.
            var ii = e % 64u;
            var ka = e / 64u;
            if (P.a_cs == 1u) {
                ii = e / 16u;
                ka = e % 16u;
            }
            var x = 0.0;
            if (i0 + ii < P.m && k0 + ka < ke) {
                x = A[P.a_off + (i0 + ii) * P.a_rs + (k0 + ka) * P.a_cs];
            }
            ta[ka * 64u + ii] = x;
            var jj = e / 16u;
            var kb2 = e % 16u;
            if (P.b_cs == 1u) {
                jj = e % 64u;
                kb2 = e / 64u;
            }
            var y = 0.0;
            if (j0 + jj < P.n && k0 + kb2 < ke) {
                y = B[P.b_off + (k0 + kb2) * P.b_rs + (j0 + jj) * P.b_cs];
            }
            tb[kb2 * 64u + jj] = y;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var r = 0u; r < 4u; r++) {
                av[r] = ta[kk * 64u + ty + 16u * r];
                bv[r] = tb[kk * 64u + tx + 16u * r];
            }
            for (var r = 0u; r < 4u; r++) {
                for (var c = 0u; c < 4u; c++) {
                    acc[r * 4u + c] = fma(av[r], bv[c], acc[r * 4u + c]);
                }
            }
        }
        workgroupBarrier();
    }
    let base = P.c_off + wid.z * P.c_zs;
    for (var r = 0u; r < 4u; r++) {
        let i = i0 + ty + 16u * r;
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + tx + 16u * c;
            if (i < P.m && j < P.n) {
                let o = base + i * P.n + j;
                if (P.add_c != 0u) {
                    C[o] += acc[r * 4u + c];
                } else {
                    C[o] = acc[r * 4u + c];
                }
            }
        }
    }
}
