//! `ferronet.Tensor`: the Python face of `crate::tensor::Tensor`.

use super::convert::{tensor_to_numpy, to_tensor};
use crate::autograd;
use crate::error::Error;
use crate::ops::{self, SliceSpec};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;
use numpy::PyArrayDyn;
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyInt, PySlice, PySliceMethods, PyTuple};

/// A float32 n-dimensional array that records operations for automatic differentiation.
///
/// Build one from anything NumPy accepts; float32 C-contiguous arrays are shared, not copied.
#[pyclass(name = "Tensor", module = "ferronet", frozen)]
pub struct PyTensor {
    pub inner: Tensor,
}

impl PyTensor {
    pub fn wrap(inner: Tensor) -> Self {
        PyTensor { inner }
    }
}

/// Run an engine call with the GIL released (kernels may use every core).
pub fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> crate::Result<T> + Send) -> PyResult<T> {
    // Grad mode is thread-local: carry the caller's into the closure (it runs on this thread,
    // but keep it explicit).
    let enabled = autograd::is_grad_enabled();
    Ok(py.detach(move || {
        let previous = autograd::set_grad_enabled(enabled);
        let out = f();
        autograd::set_grad_enabled(previous);
        out
    })?)
}

fn binary(py: Python<'_>, a: &Tensor, other: &Bound<'_, PyAny>, op: &str, f: fn(&Tensor, &Tensor) -> crate::Result<Tensor>, reflected: bool) -> PyResult<PyTensor> {
    let b = to_tensor(other, op)?;
    let (x, y) = if reflected { (b, a.clone()) } else { (a.clone(), b) };
    Ok(PyTensor::wrap(detached(py, || f(&x, &y))?))
}

fn axes_arg(axis: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    match axis {
        None => Ok(None),
        Some(a) if a.is_none() => Ok(None),
        Some(a) => {
            if let Ok(single) = a.extract::<isize>() {
                Ok(Some(vec![single]))
            } else {
                Ok(Some(a.extract::<Vec<isize>>().map_err(|_| PyTypeError::new_err(format!("axis: expected an int or a tuple of ints, got {}", a.repr().map(|r| r.to_string()).unwrap_or_default())))?))
            }
        }
    }
}

pub(crate) fn reduce_axes(axis: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    axes_arg(axis)
}

/// An integer index: a Python int or anything with `__index__` (NumPy integers), but not a bool.
fn as_index(item: &Bound<'_, PyAny>) -> Option<isize> {
    if item.is_instance_of::<PyBool>() || !(item.is_instance_of::<PyInt>() || item.hasattr("__index__").unwrap_or(false)) {
        return None;
    }
    item.extract::<isize>().ok()
}

/// Parse a basic index (ints, slices, Ellipsis) against `shape`.
fn parse_index(key: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<SliceSpec>> {
    let items: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![key.clone()],
    };
    let ellipses = items.iter().filter(|k| k.is_instance_of::<PyEllipsis>()).count();
    if ellipses > 1 {
        return Err(PyIndexError::new_err("getitem: an index can only have a single ellipsis ('...')"));
    }
    let explicit = items.len() - ellipses;
    if explicit > shape.len() {
        return Err(PyIndexError::new_err(format!("getitem: expected at most {} indices for shape {}, got {explicit}", shape.len(), fmt_shape(shape))));
    }
    let mut specs = Vec::new();
    let mut axis = 0;
    for item in &items {
        if item.is_instance_of::<PyEllipsis>() {
            for _ in 0..shape.len() - explicit {
                specs.push(SliceSpec::Range { start: 0, step: 1, len: shape[axis] });
                axis += 1;
            }
        } else if let Ok(s) = item.cast::<PySlice>() {
            if s.getattr("step")?.extract::<Option<isize>>().ok().flatten() == Some(0) {
                return Err(PyValueError::new_err(format!("getitem: expected a non-zero slice step, got step=0 for axis {axis} of shape {}", fmt_shape(shape))));
            }
            let idx = s.indices(shape[axis] as isize)?;
            specs.push(SliceSpec::Range { start: idx.start, step: idx.step, len: idx.slicelength });
            axis += 1;
        } else if let Some(i) = as_index(item) {
            let dim = shape[axis] as isize;
            let resolved = if i < 0 { i + dim } else { i };
            if resolved < 0 || resolved >= dim {
                return Err(PyIndexError::new_err(format!("getitem: expected an index in [-{dim}, {dim}) for axis {axis} of shape {}, got {i}", fmt_shape(shape))));
            }
            specs.push(SliceSpec::Index(resolved as usize));
            axis += 1;
        } else {
            return Err(PyTypeError::new_err(format!(
                "getitem: expected ints, slices or '...', got {}",
                item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            )));
        }
    }
    Ok(specs)
}

#[pymethods]
impl PyTensor {
    /// Above NumPy's, so `array + tensor` calls `Tensor.__radd__` (a tensor, with gradients)
    /// instead of NumPy converting the tensor to an array.
    #[classattr]
    #[allow(non_upper_case_globals)]
    const __array_priority__: f64 = 1000.0;

    #[new]
    #[pyo3(signature = (data, requires_grad = false))]
    fn new(data: &Bound<'_, PyAny>, requires_grad: bool) -> PyResult<Self> {
        let t = to_tensor(data, "Tensor")?;
        // A new handle, so setting requires_grad never changes the tensor passed in.
        let t = if data.cast::<PyTensor>().is_ok() { t.detach() } else { t };
        t.set_requires_grad(requires_grad)?;
        Ok(PyTensor::wrap(t))
    }

    /// The shape as a tuple of ints.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.shape())
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.inner.ndim()
    }

    #[getter]
    fn size(&self) -> usize {
        self.inner.numel()
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        "float32"
    }

    #[getter]
    fn device(&self) -> &'static str {
        self.inner.device().name()
    }

    #[getter]
    fn requires_grad(&self) -> bool {
        self.inner.requires_grad()
    }

    #[setter]
    fn set_requires_grad(&self, flag: bool) -> PyResult<()> {
        Ok(self.inner.set_requires_grad(flag)?)
    }

    #[getter]
    fn is_leaf(&self) -> bool {
        self.inner.is_leaf()
    }

    /// The accumulated gradient (None until `backward()` reaches this tensor).
    #[getter]
    fn grad(&self) -> Option<PyTensor> {
        self.inner.grad().map(PyTensor::wrap)
    }

    #[setter]
    fn set_grad(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        match value {
            None => self.inner.set_grad(None),
            Some(v) if v.is_none() => self.inner.set_grad(None),
            Some(v) => {
                let g = to_tensor(v, "grad")?;
                if g.shape() != self.inner.shape() {
                    return Err(Error::shape("grad", format!("a gradient of shape {}", fmt_shape(self.inner.shape())), fmt_shape(g.shape())).into());
                }
                self.inner.set_grad(Some(g));
            }
        }
        Ok(())
    }

    /// A copy of the values as a NumPy float32 array.
    fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        tensor_to_numpy(py, &self.inner)
    }

    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(&self, py: Python<'py>, dtype: Option<&Bound<'py, PyAny>>, copy: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let _ = copy;
        let array = tensor_to_numpy(py, &self.inner)?.into_any();
        match dtype {
            Some(d) if !d.is_none() => array.call_method1("astype", (d,)),
            _ => Ok(array),
        }
    }

    /// The value of a one-element tensor as a Python float.
    fn item(&self) -> PyResult<f32> {
        Ok(self.inner.item()?)
    }

    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        tensor_to_numpy(py, &self.inner)?.call_method0("tolist")
    }

    /// Accumulate gradients of this tensor into every leaf that requires grad.
    #[pyo3(signature = (gradient = None, retain_graph = false))]
    fn backward(&self, py: Python<'_>, gradient: Option<&Bound<'_, PyAny>>, retain_graph: bool) -> PyResult<()> {
        let seed = match gradient {
            Some(g) if !g.is_none() => Some(to_tensor(g, "backward")?),
            _ => None,
        };
        let root = self.inner.clone();
        detached(py, move || autograd::backward(&root, seed, retain_graph))
    }

    /// A new leaf sharing these values, cut from the graph.
    /// This tensor on `device` (`"cpu"` or `"gpu"`): itself when already there, else a copy that
    /// gradients flow back through.
    fn to(&self, py: Python<'_>, device: &str) -> PyResult<PyTensor> {
        let d = crate::tensor::Device::parse(device)?;
        Ok(PyTensor::wrap(detached(py, || self.inner.to_device(d))?))
    }

    /// Move a variable's values to `device` in place (every handle to it follows).
    fn _move_to(&self, py: Python<'_>, device: &str) -> PyResult<()> {
        let d = crate::tensor::Device::parse(device)?;
        detached(py, || self.inner.move_to(d))
    }

    fn detach(&self) -> PyTensor {
        PyTensor::wrap(self.inner.detach())
    }

    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let dims: Vec<isize> = if shape.len() == 1 && shape.get_item(0)?.extract::<isize>().is_err() {
            shape.get_item(0)?.extract()?
        } else {
            shape.extract()?
        };
        Ok(PyTensor::wrap(ops::shape::reshape_inferred(&self.inner, &dims)?))
    }

    #[pyo3(signature = (*axes))]
    fn transpose(&self, axes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        let axes: Option<Vec<isize>> = if axes.is_empty() {
            None
        } else if axes.len() == 1 && axes.get_item(0)?.extract::<isize>().is_err() {
            Some(axes.get_item(0)?.extract()?)
        } else {
            Some(axes.extract()?)
        };
        Ok(PyTensor::wrap(ops::transpose(&self.inner, axes.as_deref())?))
    }

    #[getter(T)]
    fn t(&self) -> PyResult<PyTensor> {
        Ok(PyTensor::wrap(ops::transpose(&self.inner, None)?))
    }

    #[pyo3(signature = (axis = None, keepdims = false))]
    fn sum(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<PyTensor> {
        let axes = axes_arg(axis)?;
        Ok(PyTensor::wrap(ops::sum(&self.inner, axes.as_deref(), keepdims)?))
    }

    #[pyo3(signature = (axis = None, keepdims = false))]
    fn mean(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<PyTensor> {
        let axes = axes_arg(axis)?;
        Ok(PyTensor::wrap(ops::mean(&self.inner, axes.as_deref(), keepdims)?))
    }

    #[pyo3(signature = (axis = None, keepdims = false))]
    fn max(&self, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyResult<PyTensor> {
        let axes = axes_arg(axis)?;
        Ok(PyTensor::wrap(ops::max(&self.inner, axes.as_deref(), keepdims)?))
    }

    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let specs = parse_index(key, self.inner.shape())?;
        Ok(PyTensor::wrap(ops::slice(&self.inner, &specs)?))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.inner.shape().first().copied().ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let values = tensor_to_numpy(py, &self.inner)?.repr()?.to_string();
        let inner = values.strip_prefix("array(").unwrap_or(&values);
        // NumPy puts the dtype on its own line for long arrays (",\n      dtype=float32)").
        let body = inner.strip_suffix("dtype=float32)").map(|b| b.trim_end().trim_end_matches(',')).or_else(|| inner.strip_suffix(')')).unwrap_or(inner);
        let grad = if self.inner.requires_grad() { ", requires_grad=True" } else { "" };
        Ok(format!("Tensor({body}{grad})"))
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<PyTensor> {
        let x = self.inner.clone();
        Ok(PyTensor::wrap(detached(py, move || ops::neg(&x))?))
    }
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "add", ops::add, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "add", ops::add, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "sub", ops::sub, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "sub", ops::sub, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "mul", ops::mul, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "mul", ops::mul, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "div", ops::div, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "div", ops::div, true)
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "matmul", ops::matmul, false)
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binary(py, &self.inner, o, "matmul", ops::matmul, true)
    }
    fn __pow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, modulo: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        if modulo.is_some_and(|m| !m.is_none()) {
            return Err(PyTypeError::new_err("pow: three-argument pow is not supported for tensors"));
        }
        binary(py, &self.inner, o, "pow", ops::pow, false)
    }
    fn __rpow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, modulo: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let _ = modulo;
        binary(py, &self.inner, o, "pow", ops::pow, true)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTensor>()?;
    Ok(())
}
