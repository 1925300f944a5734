//! Where a tensor's data lives: host memory or the GPU (wgpu). Ops dispatch on it; graphs,
//! gradients and layers never need to know which.

use std::fmt;

/// A compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, SIMD kernels on the `cpu::workers` threads.
    Cpu,
    /// The one wgpu adapter the process uses (see `gpu::context`).
    Gpu,
}

impl Device {
    /// The name users write (`"cpu"`).
    pub fn name(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }

    /// Parse a user's device name: `"cpu"`, `"gpu"` (also `"gpu:0"`, `"/gpu:0"`, `"cuda"`-free
    /// spellings Keras and TensorFlow users write).
    ///
    /// # Errors
    /// `Device` for any other name.
    pub fn parse(name: &str) -> crate::error::Result<Device> {
        let n = name.trim().trim_start_matches('/').to_ascii_lowercase();
        let n = n.strip_prefix("device:").unwrap_or(&n);
        match n {
            "cpu" | "cpu:0" => Ok(Device::Cpu),
            "gpu" | "gpu:0" => Ok(Device::Gpu),
            _ => Err(crate::error::Error::Device { op: "device".into(), expected: "\"cpu\" or \"gpu\"".into(), got: format!("{name:?}") }),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
