// PyTorch Adam on `count` f32 parameters in place: g = gscale · Σ_s grad[s·stride + i] (split-K
// partials of a matmul, or one gradient), then adam_step (epoch_terms.wgsl). One element per
// invocation, 2-D grid of workgroups.
struct AP {
    count: u32, splits: u32, stride: u32, pad0: u32,
    gscale: f32, b1: f32, b2: f32, step_size: f32,
    bc2_sqrt: f32, eps: f32, pad1: f32, pad2: f32,
}

@group(0) @binding(0) var<uniform> P: AP;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i >= P.count) {
        return;
    }
    var g = 0.0;
    for (var s = 0u; s < P.splits; s++) {
        g += grad[s * P.stride + i];
    }
    g *= P.gscale;
    let s = adam_step(param[i], g, m1[i], m2[i], P.b1, P.b2, P.step_size, P.bc2_sqrt, P.eps);
    param[i] = s.x;
    m1[i] = s.y;
    m2[i] = s.z;
}
