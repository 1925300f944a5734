//! Where a tensor's data lives. The GPU device (wgpu) becomes a second variant here and a second
//! `Storage` variant; ops match on both and never need to change shape for it.

use std::fmt;

/// A compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, SIMD kernels on the `cpu::workers` threads.
    Cpu,
}

impl Device {
    /// The name users write (`"cpu"`).
    pub fn name(&self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
