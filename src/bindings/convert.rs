//! NumPy and Python values in and out. Float32 C-contiguous arrays come in without a copy: the
//! tensor borrows the array's memory and keeps the array alive. Anything else numeric is converted
//! once by NumPy. Results go out as new NumPy arrays.

use super::error::{DTypeError, ShapeError};
use super::tensor::PyTensor;
use crate::tensor::storage::ExternalBuffer;
use crate::tensor::{CpuBuffer, Layout, Storage, Tensor};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt};
use std::sync::Arc;

/// Any tensor-like Python value as a tensor: a `Tensor`, a Python number, or anything
/// `numpy.asarray` accepts with a numeric dtype.
pub fn to_tensor(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    if let Ok(t) = value.cast::<PyTensor>() {
        return Ok(t.get().inner.clone());
    }
    if value.is_instance_of::<PyFloat>() || (value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>()) {
        let v: f64 = value.extract()?;
        return Ok(Tensor::scalar(v as f32));
    }
    let array = as_float32_array(value, what)?;
    Ok(array_to_tensor(&array))
}

/// `value` as a C-contiguous float32 NumPy array (the same object when it already is one).
pub fn as_float32_array<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    // The common case first (a float32 C-contiguous aligned ndarray, as `predict` passes on):
    // no NumPy calls at all.
    if let Ok(a) = value.cast::<PyArrayDyn<f32>>() {
        if a.is_c_contiguous() && a.is_aligned() {
            return Ok(a.clone());
        }
    }
    let py = value.py();
    let numpy = py.import("numpy")?;
    let array = asarray(&numpy, value, what)?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        let dtype = array.getattr("dtype")?.str()?.to_string();
        return Err(DTypeError::new_err(format!("{what}: expected numeric data (bool, int or float), got dtype {dtype}")));
    }
    if let Ok(a) = array.cast::<PyArrayDyn<f32>>() {
        // Aligned too: a float32 view at an odd byte offset (`np.frombuffer(..., offset=1)`) is
        // C-contiguous but cannot be read as a `&[f32]`.
        if a.is_c_contiguous() && a.is_aligned() {
            return Ok(a.clone());
        }
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", numpy.getattr("float32")?)?;
    kwargs.set_item("requirements", "CA")?; // C-contiguous and aligned, copying when needed
    let converted = numpy.call_method("require", (array,), Some(&kwargs))?;
    Ok(converted.cast_into::<PyArrayDyn<f32>>()?)
}

/// `numpy.asarray(value)`; ragged nested lists raise a `ShapeError` that names the op instead of
/// NumPy's bare message.
fn asarray<'py>(numpy: &Bound<'py, PyModule>, value: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    numpy.call_method1("asarray", (value,)).map_err(|e| {
        if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) {
            ShapeError::new_err(format!("{what}: expected a rectangular array-like, got {}", e.value(py)))
        } else {
            e
        }
    })
}

/// Wrap a C-contiguous float32 array without copying its data.
pub fn array_to_tensor(array: &Bound<'_, PyArrayDyn<f32>>) -> Tensor {
    let shape = array.shape().to_vec();
    let len = array.len();
    let ptr = if len == 0 { std::ptr::NonNull::<f32>::dangling().as_ptr() as *const f32 } else { array.data() as *const f32 };
    let owner: Py<PyAny> = array.clone().into_any().unbind();
    // SAFETY: the array is C-contiguous with `len` f32 elements at `ptr`; `owner` holds a
    // reference to it, so the memory lives (and stays put: NumPy refuses to resize a referenced
    // array) as long as the buffer does. The engine never writes through it.
    let buffer = unsafe { ExternalBuffer::new(ptr, len, Box::new(owner)) };
    Tensor::from_storage(Layout::contiguous(&shape), Arc::new(Storage::Cpu(CpuBuffer::External(buffer))))
}

/// A tensor's values as a new NumPy array of its shape.
pub fn tensor_to_numpy<'py>(py: Python<'py>, tensor: &Tensor) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    // A GPU tensor is read back (with the GIL released: it waits for the GPU).
    let values = if tensor.device() == crate::tensor::Device::Gpu {
        let t = tensor.clone();
        py.detach(move || t.try_cpu_values().map(|v| v.into_vec()))?
    } else {
        tensor.to_vec()
    };
    PyArray1::from_vec(py, values).reshape(tensor.shape().to_vec())
}

/// Integer class labels from any array-like: integral values only.
pub fn to_labels(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<i64>> {
    let py = value.py();
    let numpy = py.import("numpy")?;
    let array = asarray(&numpy, value, what)?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    match kind.as_str() {
        "i" | "u" | "b" => {
            let flat = array.call_method1("astype", (numpy.getattr("int64")?,))?.call_method0("ravel")?;
            let flat = flat.cast_into::<PyArrayDyn<i64>>()?;
            let readonly = flat.readonly();
            Ok(readonly.as_slice()?.to_vec())
        }
        "f" => {
            let flat: Vec<f64> = array.call_method0("ravel")?.call_method0("tolist")?.extract()?;
            flat.iter()
                .map(|&v| {
                    if v.fract() == 0.0 && v.is_finite() {
                        Ok(v as i64)
                    } else {
                        Err(DTypeError::new_err(format!("{what}: expected integer class labels, got {v}")))
                    }
                })
                .collect()
        }
        _ => Err(DTypeError::new_err(format!("{what}: expected integer class labels, got dtype {}", array.getattr("dtype")?.str()?))),
    }
}
