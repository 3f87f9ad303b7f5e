//! The copy bandwidth of the device, measured the way the loss kernels use memory: a compute
//! kernel that reads one buffer and writes another. It is the denominator of the byte model
//! ("% of the memory-bandwidth floor"): a loss kernel that moves B bytes cannot beat B ÷ this.

use super::{GpuContext, GpuError};
use std::time::Instant;

const COPY_WGSL: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let stride = nwg.x * 256u;
    let n = arrayLength(&src);
    for (var i = gid.x; i < n; i += stride) {
        dst[i] = src[i];
    }
}
"#;

/// One copy-bandwidth measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyBandwidth {
    /// Bytes read plus bytes written per copy.
    pub bytes: u64,
    /// Median time of one copy.
    pub ms: f64,
    /// `bytes / ms`, in GB/s (10⁹ bytes per second).
    pub gbps: f64,
    /// True when timed by GPU timestamps; false when by the wall clock around submit and wait.
    pub timestamps: bool,
}

impl GpuContext {
    /// Copies `bytes` (rounded down to 16 B, at least 16 B, capped by the binding limit) from one
    /// buffer to another `repeats` times after a warm-up and reports the median.
    pub fn copy_bandwidth(&self, bytes: u64, repeats: usize) -> Result<CopyBandwidth, GpuError> {
        use wgpu::BufferUsages as U;
        let limit = self
            .info
            .max_storage_buffer_binding_size
            .min(self.info.max_buffer_size);
        // The kernel copies 16-byte vectors; a tiny problem is timed on one.
        let size = (bytes.min(limit) / 16 * 16).max(16) as usize;
        if size as u64 > limit {
            return Err(GpuError::Unsupported(format!(
                "copy bandwidth: a storage binding holds {limit} bytes; expected at least 16"
            )));
        }
        let device = &self.device;
        let (pipe, bind, timer) = self.scoped("setting up the copy kernel", || {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("kdviz copy"),
                source: wgpu::ShaderSource::Wgsl(COPY_WGSL.into()),
            });
            let pipe = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("kdviz copy"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
            let src = self.buffer("kdviz copy src", size, U::STORAGE);
            let dst = self.buffer("kdviz copy dst", size, U::STORAGE);
            let bind =
                self.bind_buffers("kdviz copy", &pipe.get_bind_group_layout(0), &[&src, &dst]);
            let timer = self.info.timestamp_query.then(|| {
                (
                    device.create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("kdviz copy timer"),
                        ty: wgpu::QueryType::Timestamp,
                        count: 2,
                    }),
                    self.buffer("kdviz copy ticks", 16, U::QUERY_RESOLVE | U::COPY_SRC),
                    self.buffer("kdviz copy ticks read", 16, U::MAP_READ | U::COPY_DST),
                )
            });
            (pipe, bind, timer)
        })?;
        // Enough workgroups to fill any GPU; the grid-stride loop covers the rest.
        let groups = ((size / 16).div_ceil(256) as u32)
            .min(self.info.max_compute_workgroups_per_dimension)
            .min(65_535);
        let mut times = Vec::with_capacity(repeats.max(1));
        for i in 0..=repeats.max(1) {
            let mut enc = device.create_command_encoder(&Default::default());
            {
                let timestamp_writes =
                    timer
                        .as_ref()
                        .map(|(set, _, _)| wgpu::ComputePassTimestampWrites {
                            query_set: set,
                            beginning_of_pass_write_index: Some(0),
                            end_of_pass_write_index: Some(1),
                        });
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kdviz copy"),
                    timestamp_writes,
                });
                pass.set_pipeline(&pipe);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups(groups, 1, 1);
            }
            if let Some((set, resolve, read)) = &timer {
                enc.resolve_query_set(set, 0..2, resolve, 0);
                enc.copy_buffer_to_buffer(resolve, 0, read, 0, None);
            }
            let t0 = Instant::now();
            self.queue.submit([enc.finish()]);
            let ms = match &timer {
                Some((_, _, read)) => {
                    let mut ticks = (0u64, 0u64);
                    self.read_back(&[read], |_, b| {
                        let word =
                            |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
                        ticks = (word(0), word(8));
                    })?;
                    (ticks.1.saturating_sub(ticks.0)) as f64
                        * f64::from(self.info.timestamp_period_ns)
                        / 1e6
                }
                None => {
                    device
                        .poll(wgpu::PollType::wait_indefinitely())
                        .map_err(|e| GpuError::Backend(format!("waiting for the GPU: {e}")))?;
                    t0.elapsed().as_secs_f64() * 1e3
                }
            };
            if i > 0 && ms > 0.0 {
                times.push(ms); // the first run is the warm-up
            }
        }
        if times.is_empty() {
            return Err(GpuError::Backend(
                "copy bandwidth: the timer reported no elapsed time".into(),
            ));
        }
        times.sort_by(f64::total_cmp);
        let ms = times[times.len() / 2];
        let moved = 2 * size as u64;
        Ok(CopyBandwidth {
            bytes: moved,
            ms,
            gbps: moved as f64 / (ms * 1e-3) / 1e9,
            timestamps: timer.is_some(),
        })
    }
}
