// What the trainer's separate kernels (adam.wgsl, metrics.wgsl) and the fused epoch (fused.rs) compute
// alike, prepended to each of them: one Adam step of one parameter, and one class's terms of the
// training metrics. The host module defines is_ninf.

// PyTorch Adam on one parameter given its gradient g (already scaled): m.lerp_(g, 1−β1),
// v = β2 v + (1−β2) g², p −= step_size · m / (√v / √bc2 + eps). Returns (p, m, v).
fn adam_step(p: f32, g: f32, m0: f32, v0: f32, b1: f32, b2: f32, step_size: f32, bc2_sqrt: f32, eps: f32) -> vec3<f32> {
    var m = m0;
    m += (1.0 - b1) * (g - m);
    let v = v0 * b2 + (1.0 - b2) * g * g;
    return vec3<f32>(p - step_size * m / (sqrt(v) / bc2_sqrt + eps), m, v);
}

// A row's constants for its metrics: the student's max and log rescaled sum, the teacher's (from the
// CPU), the metrics-head threshold and cut index, +inf.
struct MetricRow {
    mz: f32,
    llz: f32,
    mu: f32,
    ll: f32,
    thr: f32,
    kcut: u32,
    inf: f32,
}

struct MetricTerm {
    // kl_pq, kl_qp, head gap, tail gap, with class k's terms added
    acc: vec4<f32>,
    lq: f32,
    q: f32,
}

// Class k (teacher logit u, student logit z) added to the sums: KL(p||q), KL(q||p) (+inf where the
// student puts mass on a teacher zero), and |p − q| on the head (u > thr, or u == thr and k <= kcut)
// or the tail.
fn metric_term(acc0: vec4<f32>, m: MetricRow, k: u32, u: f32, z: f32) -> MetricTerm {
    var acc = acc0;
    let lq = (z - m.mz) - m.llz;
    let q = exp(lq);
    var gap = q;
    if (is_ninf(u)) {
        if (q > 0.0) {
            acc.y = m.inf;
        }
    } else {
        let lp = (u - m.mu) - m.ll;
        let p = exp(lp);
        acc.x += p * (lp - lq);
        acc.y += q * (lq - lp);
        gap = abs(p - q);
    }
    if (u > m.thr || (u == m.thr && k <= m.kcut)) {
        acc.z += gap;
    } else {
        acc.w += gap;
    }
    return MetricTerm(acc, lq, q);
}
