//! The GPU as Python sees it: probing (lazily, on the first request, never at import), the pool's
//! figures, and which ops ran on the CPU for GPU tensors. `ferronet.config` builds the user API
//! (list_devices, set_device, the device context) on these.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `(True, info)` with the adapter's name, backend, type, driver, binding limit, the optional
/// shader features in use and its subgroup sizes, or `(False, reason)`.
#[pyfunction]
fn gpu_probe(py: Python<'_>) -> PyResult<(bool, Py<PyAny>)> {
    match py.detach(crate::gpu::probe) {
        Ok(gpu) => {
            let s = &gpu.summary;
            let d = PyDict::new(py);
            d.set_item("name", &s.name)?;
            d.set_item("backend", &s.backend)?;
            d.set_item("device_type", &s.device_type)?;
            d.set_item("driver", &s.driver)?;
            d.set_item("max_binding_bytes", s.max_binding_bytes)?;
            let mut features = Vec::new();
            if s.features.f16 {
                features.push("shader-f16");
            }
            if s.features.subgroups {
                features.push("subgroups");
            }
            d.set_item("features", features)?;
            d.set_item("subgroup_sizes", s.subgroup_sizes)?;
            Ok((true, d.into_any().unbind()))
        }
        Err(why) => Ok((false, why.into_pyobject(py)?.into_any().unbind())),
    }
}

/// Whether the adapter was probed yet (import never does).
#[pyfunction]
fn gpu_probed() -> bool {
    crate::gpu::probed()
}

/// The buffer pool: bytes allocated, bytes free for reuse, allocations made; submits and compute
/// dispatches so far (None without a GPU).
#[pyfunction]
fn gpu_memory_stats() -> Option<(u64, u64, u64, u64, u64)> {
    crate::gpu::memory_stats()
}

/// Free the pool's unused buffers.
#[pyfunction]
fn gpu_empty_cache(py: Python<'_>) {
    py.detach(crate::gpu::empty_cache);
}

/// Submit recorded GPU work and wait for it (timing).
#[pyfunction]
fn gpu_synchronize(py: Python<'_>) -> PyResult<()> {
    py.detach(|| match crate::gpu::probe() {
        Ok(gpu) => crate::gpu::synchronize(gpu),
        Err(_) => Ok(()),
    })?;
    Ok(())
}

/// `[(op, calls)]` for ops that ran on the CPU because they have no GPU kernel yet.
#[pyfunction]
fn cpu_fallbacks() -> Vec<(&'static str, u64)> {
    crate::ops::cpu_fallbacks()
}

/// Let GEMMs on the GPU round their operands to f16 (products and sums stay f32) where the
/// adapter has `shader-f16`: `config.set_matmul_precision("medium")`.
#[pyfunction]
fn set_reduced_matmul_precision(reduced: bool) {
    crate::gpu::set_reduced_matmul_precision(reduced);
}

#[pyfunction]
fn reduced_matmul_precision() -> bool {
    crate::gpu::reduced_matmul_precision()
}

/// Tests: record only the portable kernel variants (`True`), or the feature variants again.
#[pyfunction]
fn gpu_portable_kernels(portable: bool) {
    crate::gpu::kernels::use_portable_kernels(portable);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gpu_probe, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_probed, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_fallbacks, m)?)?;
    m.add_function(wrap_pyfunction!(set_reduced_matmul_precision, m)?)?;
    m.add_function(wrap_pyfunction!(reduced_matmul_precision, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_portable_kernels, m)?)?;
    Ok(())
}
