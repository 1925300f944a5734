//! The one GPU context of the process: adapter, device and queue, found lazily on first use (import
//! never touches the GPU) and kept for the life of the process. A missing adapter is a value, not
//! an error: callers decide whether to fall back to the CPU or fail.

use super::pool::Pool;
use super::recorder::Recorder;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// What users see of the adapter (`ferronet.config.list_devices()`).
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// Largest storage-buffer binding, in bytes: the largest tensor one kernel can address.
    pub max_binding_bytes: u64,
    /// The optional shader features in use (offered by the adapter and not turned off by
    /// `FERRONET_GPU_FEATURES`).
    pub features: ShaderFeatures,
    /// The adapter's subgroup sizes (smallest, largest); (0, 0) when it reports none.
    pub subgroup_sizes: (u32, u32),
}

/// Optional WGSL features the kernels have variants for. Every kernel also has a portable f32
/// path, used where the adapter lacks a feature or the user turned it off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShaderFeatures {
    /// `shader-f16`: the GEMM keeps its tiles in f16 when the user allows reduced matmul
    /// precision (`config.set_matmul_precision("medium")`).
    pub f16: bool,
    /// `subgroups`: row and workgroup reductions combine within a subgroup without barriers.
    pub subgroups: bool,
}

impl ShaderFeatures {
    /// The features of `offered` that `FERRONET_GPU_FEATURES` allows: unset or "auto" allows
    /// both, "none" (or "") neither, else a comma-separated list of "f16" and "subgroups".
    fn allowed(offered: wgpu::Features, setting: Option<&str>) -> std::result::Result<Self, String> {
        let (mut f16, mut subgroups) = (true, true);
        if let Some(setting) = setting.map(str::trim).filter(|s| !s.eq_ignore_ascii_case("auto")) {
            f16 = false;
            subgroups = false;
            for name in setting.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match name.to_ascii_lowercase().as_str() {
                    "none" => {}
                    "f16" | "shader-f16" => f16 = true,
                    "subgroups" | "subgroup" => subgroups = true,
                    other => return Err(format!("FERRONET_GPU_FEATURES: expected \"auto\", \"none\" or a list of \"f16\" and \"subgroups\", got {other:?}")),
                }
            }
        }
        Ok(ShaderFeatures { f16: f16 && offered.contains(wgpu::Features::SHADER_F16), subgroups: subgroups && offered.contains(wgpu::Features::SUBGROUP) })
    }

    fn wgpu(self) -> wgpu::Features {
        let mut f = wgpu::Features::empty();
        if self.f16 {
            f |= wgpu::Features::SHADER_F16;
        }
        if self.subgroups {
            f |= wgpu::Features::SUBGROUP;
        }
        f
    }
}

/// Adapter, device, queue and the state every kernel shares.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub summary: AdapterSummary,
    pub(crate) limits: wgpu::Limits,
    pub(crate) pool: Mutex<Pool>,
    pub(crate) pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    pub(crate) recorder: Mutex<Recorder>,
    /// Validation or out-of-memory errors wgpu reports outside any call (its default handler
    /// panics, and a panic must never reach Python): kept here, raised at the next flush.
    pub(crate) device_error: Arc<Mutex<Option<String>>>,
}

static GPU: OnceLock<std::result::Result<Arc<Gpu>, String>> = OnceLock::new();

/// Rank adapters as a user would: a discrete card first, a software rasteriser (lavapipe) last.
fn preference(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn open() -> std::result::Result<Arc<Gpu>, String> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = desc_backends();
    let instance = wgpu::Instance::new(desc);
    let mut adapters = pollster::block_on(instance.enumerate_adapters(desc_backends()));
    adapters.sort_by_key(|a| preference(&a.get_info()));
    let adapter = adapters.into_iter().next().ok_or_else(|| "no Vulkan, Metal or DX12 adapter found".to_string())?;
    let info = adapter.get_info();
    // The adapter's own limits, not WebGPU's defaults: big tensors need big storage bindings.
    let limits = adapter.limits();
    let features = ShaderFeatures::allowed(adapter.features(), std::env::var("FERRONET_GPU_FEATURES").ok().as_deref())?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("ferronet"),
        required_features: features.wgpu(),
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|e| format!("the adapter {} refused a device: {e}", info.name))?;
    let device_error = Arc::new(Mutex::new(None));
    let slot = device_error.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        slot.lock().get_or_insert_with(|| e.to_string());
    }));
    let max_binding_bytes = u64::from(limits.max_storage_buffer_binding_size).min(limits.max_buffer_size);
    let summary = AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend).to_lowercase(),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        max_binding_bytes,
        features,
        subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
    };
    Ok(Arc::new(Gpu {
        device,
        queue,
        summary,
        limits,
        pool: Mutex::new(Pool::default()),
        pipelines: Mutex::new(HashMap::new()),
        recorder: Mutex::new(Recorder::default()),
        device_error,
    }))
}

fn desc_backends() -> wgpu::Backends {
    wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12
}

/// Whether the adapter was looked for yet (import must not do it).
pub fn probed() -> bool {
    GPU.get().is_some()
}

/// The GPU, probing for it on the first call. `Err` holds why there is none.
pub fn probe() -> std::result::Result<&'static Arc<Gpu>, &'static str> {
    // wgpu panics on some broken driver installs; that must become "no GPU", not a crash.
    GPU.get_or_init(|| std::panic::catch_unwind(open).unwrap_or_else(|_| Err("the GPU driver failed while starting".to_string())))
        .as_ref()
        .map_err(String::as_str)
}

/// The GPU, or a `Device` error naming `op` and why there is none.
pub fn gpu(op: &str) -> Result<&'static Arc<Gpu>> {
    probe().map_err(|why| Error::Device { op: op.to_string(), expected: "a GPU adapter".to_string(), got: why.to_string() })
}

impl Gpu {
    /// Raise (once) an error wgpu reported asynchronously.
    pub(crate) fn take_device_error(&self, op: &str) -> Result<()> {
        match self.device_error.lock().take() {
            Some(msg) => Err(Error::Device { op: op.to_string(), expected: "a GPU command that validates".to_string(), got: msg }),
            None => Ok(()),
        }
    }

    /// The optional shader features the kernels may use.
    pub(crate) fn features(&self) -> ShaderFeatures {
        self.summary.features
    }

    /// Bytes one storage binding may cover (the adapter's limit).
    pub fn max_binding_bytes(&self) -> u64 {
        self.summary.max_binding_bytes
    }

    /// Most workgroups per dispatch dimension.
    pub(crate) fn max_groups(&self) -> u32 {
        self.limits.max_compute_workgroups_per_dimension
    }
}

#[cfg(test)]
mod tests {
    use super::ShaderFeatures;
    use wgpu::Features as F;

    #[test]
    fn feature_setting_intersects_what_the_adapter_offers() {
        let both = F::SHADER_F16 | F::SUBGROUP;
        let on = |f16, subgroups| Ok(ShaderFeatures { f16, subgroups });
        assert_eq!(ShaderFeatures::allowed(both, None), on(true, true));
        assert_eq!(ShaderFeatures::allowed(both, Some("auto")), on(true, true));
        assert_eq!(ShaderFeatures::allowed(both, Some("none")), on(false, false));
        assert_eq!(ShaderFeatures::allowed(both, Some("")), on(false, false));
        assert_eq!(ShaderFeatures::allowed(both, Some(" Subgroups ")), on(false, true));
        assert_eq!(ShaderFeatures::allowed(F::SUBGROUP, Some("f16,subgroups")), on(false, true));
        assert_eq!(ShaderFeatures::allowed(F::empty(), None), on(false, false));
        let err = ShaderFeatures::allowed(both, Some("f16,tensor-cores")).unwrap_err();
        assert!(err.contains("FERRONET_GPU_FEATURES") && err.contains("tensor-cores"), "{err}");
    }
}
