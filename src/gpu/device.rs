//! A headless wgpu device for compute, with the optional features the kernels use.

use super::GpuError;
use super::loss::Kernels;
use std::fmt;
use std::sync::Arc;

/// The device, its queue and the compiled kernels. Cheap to share (`&GpuContext` is `Sync`).
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) info: GpuInfo,
    pub(crate) kernels: Kernels,
    /// The stored top-k teacher's kernels (`topk/`), compiled on first use.
    pub(crate) topk: super::topk::TopKKernels,
    /// Bytes one buffer may hold and bind: the device's limits, or less
    /// ([`GpuContext::with_max_binding_bytes`]).
    max_binding: u64,
}

/// What `kdviz gpu info` prints: the adapter and the limits that shape the kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuInfo {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// Optional features the device was created with (the ones kdviz asks for and the adapter has).
    pub features: Vec<String>,
    /// Everything the adapter offers (SUBGROUP, for instance, which the kernels do not use yet).
    pub adapter_features: Vec<String>,
    pub timestamp_query: bool,
    pub shader_f16: bool,
    /// Nanoseconds per timestamp tick.
    pub timestamp_period_ns: f32,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    /// Device-local memory in bytes where the backend tells (Vulkan: the device-local heaps; on a
    /// software adapter, host memory); what the trainer's buffers are checked against.
    pub device_memory: Option<u64>,
}

impl fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "adapter: {}", self.name)?;
        writeln!(f, "backend: {}", self.backend)?;
        writeln!(f, "device type: {}", self.device_type)?;
        writeln!(f, "driver: {} {}", self.driver, self.driver_info)?;
        let feats = if self.features.is_empty() {
            "none".to_string()
        } else {
            self.features.join(", ")
        };
        writeln!(f, "features in use: {feats}")?;
        writeln!(f, "adapter features: {}", self.adapter_features.join(", "))?;
        writeln!(f, "timestamp period: {} ns", self.timestamp_period_ns)?;
        match self.device_memory {
            Some(b) => writeln!(f, "device memory: {b} bytes")?,
            None => writeln!(f, "device memory: not reported by the backend")?,
        }
        writeln!(f, "limits:")?;
        for (k, v) in self.limits() {
            writeln!(f, "  {k} = {v}")?;
        }
        Ok(())
    }
}

impl GpuInfo {
    /// The key limits as (name, value), in a fixed order.
    pub fn limits(&self) -> [(&'static str, u64); 6] {
        [
            (
                "max_storage_buffer_binding_size",
                self.max_storage_buffer_binding_size,
            ),
            ("max_buffer_size", self.max_buffer_size),
            (
                "max_compute_workgroups_per_dimension",
                u64::from(self.max_compute_workgroups_per_dimension),
            ),
            (
                "max_compute_invocations_per_workgroup",
                u64::from(self.max_compute_invocations_per_workgroup),
            ),
            (
                "max_compute_workgroup_storage_size",
                u64::from(self.max_compute_workgroup_storage_size),
            ),
            (
                "max_storage_buffers_per_shader_stage",
                u64::from(self.max_storage_buffers_per_shader_stage),
            ),
        ]
    }
}

/// Optional features used when present: GPU timing and f16 storage.
const WANTED: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::SHADER_F16);

/// The sum of the adapter's device-local memory heaps, on Vulkan (wgpu has no portable query).
#[cfg(not(any(target_vendor = "apple", target_arch = "wasm32")))]
fn device_memory(adapter: &wgpu::Adapter) -> Option<u64> {
    /// VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.
    const DEVICE_LOCAL: u32 = 1;
    // SAFETY: only reads a property of the physical device through the adapter's own instance;
    // nothing is created, destroyed or retained beyond the guard.
    let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
    // SAFETY: the physical device belongs to this instance, which the guard keeps alive.
    let props = unsafe {
        hal.shared_instance()
            .raw_instance()
            .get_physical_device_memory_properties(hal.raw_physical_device())
    };
    let count = (props.memory_heap_count as usize).min(props.memory_heaps.len());
    let bytes = props.memory_heaps[..count]
        .iter()
        .filter(|h| h.flags.as_raw() & DEVICE_LOCAL != 0)
        .map(|h| h.size)
        .sum();
    Some(bytes).filter(|&b| b > 0)
}

#[cfg(any(target_vendor = "apple", target_arch = "wasm32"))]
fn device_memory(_: &wgpu::Adapter) -> Option<u64> {
    None
}

/// The host's total memory (Linux: `MemTotal` of /proc/meminfo).
fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl GpuContext {
    /// Picks the high-performance adapter of any backend (`WGPU_BACKEND` / `WGPU_ADAPTER_NAME` are
    /// honoured) and creates a device with the adapter's own limits, so big `[N × V]` buffers fit.
    pub fn new() -> Result<GpuContext, GpuError> {
        pollster::block_on(Self::new_async())
    }

    async fn new_async() -> Result<GpuContext, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|_| GpuError::NoAdapter)?;
        let features = adapter.features() & WANTED;
        let limits = adapter.limits();
        let need = wgpu::Limits::downlevel_defaults();
        if limits.max_compute_invocations_per_workgroup < super::WORKGROUP_SIZE
            || limits.max_compute_workgroup_storage_size < 12 * 1024
            || limits.max_storage_buffers_per_shader_stage < 5
            || limits.max_compute_workgroups_per_dimension
                < need.max_compute_workgroups_per_dimension
        {
            return Err(GpuError::Unsupported(format!(
                "compute limits too small ({} invocations, {} bytes of workgroup memory, {} storage \
                 buffers per stage); expected 256, 12288 and 5",
                limits.max_compute_invocations_per_workgroup,
                limits.max_compute_workgroup_storage_size,
                limits.max_storage_buffers_per_shader_stage
            )));
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("kdviz compute"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        // Errors outside our error scopes must not panic the process (wgpu's default handler does).
        device.on_uncaptured_error(Arc::new(|e| eprintln!("kdviz: wgpu error: {e}")));
        let ai = adapter.get_info();
        let info = GpuInfo {
            name: ai.name.clone(),
            backend: format!("{:?}", ai.backend),
            device_type: format!("{:?}", ai.device_type),
            driver: ai.driver.clone(),
            driver_info: ai.driver_info.clone(),
            features: features.iter_names().map(|(n, _)| n.to_string()).collect(),
            adapter_features: adapter
                .features()
                .iter_names()
                .map(|(n, _)| n.to_string())
                .collect(),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_period_ns: queue.get_timestamp_period(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            device_memory: device_memory(&adapter),
        };
        let kernels = Kernels::new(&device)?;
        let max_binding = info
            .max_storage_buffer_binding_size
            .min(info.max_buffer_size);
        Ok(GpuContext {
            device,
            queue,
            info,
            kernels,
            topk: Default::default(),
            max_binding,
        })
    }

    /// The same device with at most `bytes` per buffer (never more than its limits allow): the
    /// `[N × V]` tensors are split into more chunks of rows. Lets tests exercise the chunking with
    /// small inputs.
    pub fn with_max_binding_bytes(mut self, bytes: u64) -> GpuContext {
        self.max_binding = self.max_binding.min(bytes);
        self
    }

    /// Bytes one buffer may hold and bind (see [`GpuContext::with_max_binding_bytes`]).
    pub fn max_binding_bytes(&self) -> u64 {
        self.max_binding
    }

    /// Bytes the device's buffers can take in all, and where that figure comes from: the device-local
    /// heaps, or host memory on a software adapter (lavapipe reports a 2 GiB heap but allocates from
    /// host memory beyond it). `None` where neither is known.
    pub(crate) fn memory_budget(&self) -> Option<(u64, &'static str)> {
        if self.info.device_type == "Cpu" {
            host_memory().map(|b| (b, "of host memory, where a software adapter's buffers live"))
        } else {
            self.info
                .device_memory
                .map(|b| (b, "in its device-local memory heaps"))
        }
    }

    /// Adapter name, backend, device type, driver, features and key limits.
    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    /// True when f16 storage ([`super::Storage::F16`]) is available.
    pub fn has_f16(&self) -> bool {
        self.info.shader_f16
    }

    /// A bind group of whole buffers at bindings 0, 1, 2, … in order.
    pub(crate) fn bind_buffers(
        &self,
        label: &str,
        layout: &wgpu::BindGroupLayout,
        bufs: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout,
            entries: &entries,
        })
    }

    /// Runs `f` inside a validation + out-of-memory error scope and reports what it caught.
    pub(crate) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(val.pop());
        let o = pollster::block_on(oom.pop());
        match (v, o) {
            (None, None) => Ok(out),
            (Some(e), _) | (None, Some(e)) => Err(GpuError::Backend(format!("{what}: {e}"))),
        }
    }
}
