//! The memory floor of an epoch on the CPU: how long copying its bytes takes on this machine now.

use super::threads;
use std::time::Instant;

/// The copy bandwidth of this machine's cores, in GB/s (10⁹ bytes read plus written per second):
/// all cores copy disjoint parts of a `bytes`-sized buffer into another (sized beyond the last-level
/// cache to measure memory), best of `repeats`.
pub fn cpu_copy_bandwidth(bytes: usize, repeats: usize) -> f64 {
    let n = (bytes / 4).max(1);
    let src = vec![1f32; n];
    let mut dst = vec![0f32; n];
    let per = n.div_ceil(threads()).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        std::thread::scope(|s| {
            for (d, c) in dst.chunks_mut(per).zip(src.chunks(per)) {
                s.spawn(move || d.copy_from_slice(c));
            }
        });
        best = best.min(start.elapsed().as_secs_f64());
        std::hint::black_box(&dst);
    }
    (2 * n * 4) as f64 / best / 1e9
}
