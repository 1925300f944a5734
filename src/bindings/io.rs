//! safetensors in and out (`src/io/safetensors.rs`): bytes to named NumPy arrays and back. The
//! Python saving code (`ferronet/saving/`) owns the files; this only parses and serializes.

use super::convert::as_float32_array;
use crate::io::safetensors::{self, Header};
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

fn metadata_dict<'py>(py: Python<'py>, header: &Header) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in &header.metadata {
        dict.set_item(k, v)?;
    }
    Ok(dict)
}

/// Validate a whole safetensors file and list its tensors without reading them:
/// `(metadata, [(name, shape), ...])` in file order. Raises `FileFormatError` on any defect.
#[pyfunction]
fn safetensors_header<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let header = py.detach(|| safetensors::read_header(data))?;
    let entries = PyList::empty(py);
    for e in &header.entries {
        entries.append((e.name.as_str(), PyTuple::new(py, &e.shape)?))?;
    }
    PyTuple::new(py, [metadata_dict(py, &header)?.into_any(), entries.into_any()])
}

/// Read a whole safetensors file: `(metadata, [(name, float32 array), ...])` in file order.
#[pyfunction]
fn safetensors_load<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let (header, arrays) = py.detach(|| safetensors::read(data))?;
    let out = PyList::empty(py);
    for (entry, values) in header.entries.iter().zip(arrays) {
        out.append((entry.name.as_str(), PyArray1::from_vec(py, values).reshape(entry.shape.clone())?))?;
    }
    PyTuple::new(py, [metadata_dict(py, &header)?.into_any(), out.into_any()])
}

/// Serialize `[(name, array), ...]` (converted to float32) and string metadata to file bytes.
#[pyfunction]
#[pyo3(signature = (arrays, metadata = None))]
fn safetensors_dump<'py>(py: Python<'py>, arrays: Vec<(String, Bound<'py, PyAny>)>, metadata: Option<Vec<(String, String)>>) -> PyResult<Bound<'py, PyBytes>> {
    let converted = arrays.iter().map(|(name, a)| Ok((name.clone(), as_float32_array(a, name)?))).collect::<PyResult<Vec<_>>>()?;
    let readonly: Vec<_> = converted.iter().map(|(name, a)| (name.clone(), a.shape().to_vec(), a.readonly())).collect();
    let views = readonly.iter().map(|(n, s, r)| Ok((n.clone(), s.clone(), r.as_slice()?))).collect::<PyResult<Vec<_>>>()?;
    let bytes = safetensors::write(&views, &metadata.unwrap_or_default())?;
    Ok(PyBytes::new(py, &bytes))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(safetensors_header, m)?)?;
    m.add_function(wrap_pyfunction!(safetensors_load, m)?)?;
    m.add_function(wrap_pyfunction!(safetensors_dump, m)?)?;
    Ok(())
}
