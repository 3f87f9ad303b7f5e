//! Why the GPU path cannot run.

/// Why the GPU path cannot run; every message says what to do or what happens instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpuError {
    /// No adapter on any backend (no driver, or a machine without a GPU or software rasteriser).
    #[error("no GPU adapter found (Vulkan/Metal/DX12/GL); the CPU engine is used instead")]
    NoAdapter,
    /// The adapter exists but refused a device.
    #[error("the GPU adapter refused a device: {0}")]
    Device(String),
    /// The request needs something the adapter lacks (f16 storage, a longer row than a binding holds)
    /// or an option the kernels do not run (`compute=naive`, `precision=f64`).
    #[error("the GPU cannot run this: {0}")]
    Unsupported(String),
    /// The inputs are malformed (shapes, non-finite logits, a label outside the vocabulary).
    #[error("{0}")]
    Input(String),
    /// wgpu reported an error while compiling, dispatching or reading back.
    #[error("GPU error: {0}")]
    Backend(String),
}
