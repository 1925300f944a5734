//! `ferronet._core` op functions; `python/ferronet/ops.py` gives them their Keras names and docs.

use super::convert::{to_labels, to_tensor};
use super::tensor::{detached, reduce_axes, PyTensor};
use crate::cpu::activation::Activation;
use crate::error::Error;
use crate::ops::{self, loss, DenseActivation};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::wrap_pyfunction;

type PyT = PyResult<PyTensor>;

fn t(x: &Bound<'_, PyAny>, op: &str) -> PyResult<Tensor> {
    to_tensor(x, op)
}

fn run(py: Python<'_>, f: impl FnOnce() -> crate::Result<Tensor> + Send) -> PyT {
    Ok(PyTensor::wrap(detached(py, f)?))
}

/// Check a float parameter is finite (non-finite scalars are refused where they matter).
fn finite(op: &str, name: &str, v: f32) -> crate::Result<f32> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::value(op, format!("a finite {name}"), format!("{name}={v}")))
    }
}

macro_rules! binary_fn {
    ($name:ident, $op:path, $label:literal) => {
        #[pyfunction]
        fn $name(py: Python<'_>, x1: &Bound<'_, PyAny>, x2: &Bound<'_, PyAny>) -> PyT {
            let (a, b) = (t(x1, $label)?, t(x2, $label)?);
            run(py, move || $op(&a, &b))
        }
    };
}

macro_rules! unary_fn {
    ($name:ident, $op:path, $label:literal) => {
        #[pyfunction]
        fn $name(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyT {
            let a = t(x, $label)?;
            run(py, move || $op(&a))
        }
    };
}

macro_rules! activation_fn {
    ($name:ident, $act:expr) => {
        #[pyfunction]
        fn $name(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyT {
            let a = t(x, stringify!($name))?;
            run(py, move || ops::activation(&a, $act))
        }
    };
}

binary_fn!(add, ops::add, "add");
binary_fn!(subtract, ops::sub, "sub");
binary_fn!(multiply, ops::mul, "mul");
binary_fn!(divide, ops::div, "div");
binary_fn!(power, ops::pow, "pow");
binary_fn!(matmul, ops::matmul, "matmul");
unary_fn!(negative, ops::neg, "neg");
unary_fn!(exp, ops::exp, "exp");
unary_fn!(log, ops::log, "log");
unary_fn!(sqrt, ops::sqrt, "sqrt");
unary_fn!(square, ops::square, "square");
unary_fn!(absolute, ops::abs, "abs");
activation_fn!(relu, Activation::Relu);
activation_fn!(sigmoid, Activation::Sigmoid);
activation_fn!(tanh, Activation::Tanh);
activation_fn!(selu, Activation::Selu);
activation_fn!(softplus, Activation::Softplus);
activation_fn!(silu, Activation::Silu);
activation_fn!(hard_sigmoid, Activation::HardSigmoid);

#[pyfunction]
#[pyo3(signature = (x, negative_slope = 0.2))]
fn leaky_relu(py: Python<'_>, x: &Bound<'_, PyAny>, negative_slope: f32) -> PyT {
    let a = t(x, "leaky_relu")?;
    run(py, move || ops::activation(&a, Activation::LeakyRelu { negative_slope: finite("leaky_relu", "negative_slope", negative_slope)? }))
}

#[pyfunction]
#[pyo3(signature = (x, alpha = 1.0))]
fn elu(py: Python<'_>, x: &Bound<'_, PyAny>, alpha: f32) -> PyT {
    let a = t(x, "elu")?;
    run(py, move || ops::activation(&a, Activation::Elu { alpha: finite("elu", "alpha", alpha)? }))
}

#[pyfunction]
#[pyo3(signature = (x, approximate = false))]
fn gelu(py: Python<'_>, x: &Bound<'_, PyAny>, approximate: bool) -> PyT {
    let a = t(x, "gelu")?;
    run(py, move || ops::activation(&a, Activation::Gelu { approximate }))
}

#[pyfunction]
#[pyo3(signature = (x, axis = -1))]
fn softmax(py: Python<'_>, x: &Bound<'_, PyAny>, axis: isize) -> PyT {
    let a = t(x, "softmax")?;
    run(py, move || ops::softmax(&a, axis))
}

#[pyfunction]
#[pyo3(signature = (x, axis = -1))]
fn log_softmax(py: Python<'_>, x: &Bound<'_, PyAny>, axis: isize) -> PyT {
    let a = t(x, "log_softmax")?;
    run(py, move || ops::log_softmax(&a, axis))
}

#[pyfunction]
fn clip(py: Python<'_>, x: &Bound<'_, PyAny>, x_min: f32, x_max: f32) -> PyT {
    let a = t(x, "clip")?;
    run(py, move || ops::clip(&a, x_min, x_max))
}

#[pyfunction]
#[pyo3(signature = (x, axes = None))]
fn transpose(x: &Bound<'_, PyAny>, axes: Option<Vec<isize>>) -> PyT {
    Ok(PyTensor::wrap(ops::transpose(&t(x, "transpose")?, axes.as_deref())?))
}

#[pyfunction]
fn reshape(x: &Bound<'_, PyAny>, new_shape: &Bound<'_, PyAny>) -> PyT {
    let dims: Vec<isize> = match new_shape.extract::<isize>() {
        Ok(d) => vec![d],
        Err(_) => new_shape.extract()?,
    };
    Ok(PyTensor::wrap(ops::shape::reshape_inferred(&t(x, "reshape")?, &dims)?))
}

macro_rules! reduce_fn {
    ($name:ident, $op:path) => {
        #[pyfunction]
        #[pyo3(signature = (x, axis = None, keepdims = false))]
        fn $name(py: Python<'_>, x: &Bound<'_, PyAny>, axis: Option<&Bound<'_, PyAny>>, keepdims: bool) -> PyT {
            let a = t(x, stringify!($name))?;
            let axes = reduce_axes(axis)?;
            run(py, move || $op(&a, axes.as_deref(), keepdims))
        }
    };
}
reduce_fn!(sum, ops::sum);
reduce_fn!(mean, ops::mean);
reduce_fn!(max, ops::max);

fn parse_activation(name: &str) -> crate::Result<DenseActivation> {
    Ok(match name {
        "linear" | "None" => DenseActivation::Elementwise(Activation::Linear),
        "relu" => DenseActivation::Elementwise(Activation::Relu),
        "sigmoid" => DenseActivation::Elementwise(Activation::Sigmoid),
        "tanh" => DenseActivation::Elementwise(Activation::Tanh),
        "leaky_relu" => DenseActivation::Elementwise(Activation::LeakyRelu { negative_slope: 0.2 }),
        "elu" => DenseActivation::Elementwise(Activation::Elu { alpha: 1.0 }),
        "selu" => DenseActivation::Elementwise(Activation::Selu),
        "gelu" => DenseActivation::Elementwise(Activation::Gelu { approximate: false }),
        "softplus" => DenseActivation::Elementwise(Activation::Softplus),
        "silu" | "swish" => DenseActivation::Elementwise(Activation::Silu),
        "hard_sigmoid" => DenseActivation::Elementwise(Activation::HardSigmoid),
        "softmax" => DenseActivation::Softmax,
        other => {
            return Err(Error::value(
                "dense",
                "an activation among linear, relu, sigmoid, tanh, leaky_relu, elu, selu, gelu, softplus, silu, swish, hard_sigmoid, softmax",
                format!("'{other}'"),
            ))
        }
    })
}

/// 2-D convolution of NHWC `x` with a (kh, kw, in/groups, out) kernel (Keras `ops.conv`).
#[pyfunction]
#[pyo3(signature = (x, kernel, strides = 1, padding = "valid", dilation_rate = 1, groups = 1))]
fn conv(py: Python<'_>, x: &Bound<'_, PyAny>, kernel: &Bound<'_, PyAny>, strides: usize, padding: &str, dilation_rate: usize, groups: usize) -> PyT {
    let padding = match padding.to_lowercase().as_str() {
        "valid" => crate::ops::conv::Padding::Valid,
        "same" => crate::ops::conv::Padding::Same,
        other => return Err(Error::value("conv", "padding 'valid' or 'same'", format!("'{other}'")).into()),
    };
    let spec = crate::ops::conv::ConvSpec { strides: [strides; 2], dilation: [dilation_rate; 2], padding, groups };
    let (x, k) = (t(x, "conv")?, t(kernel, "conv")?);
    run(py, move || crate::ops::conv::conv2d(&x, &k, None, &spec, DenseActivation::Elementwise(Activation::Linear)))
}

/// Join tensors along `axis` (Keras `ops.concatenate`).
#[pyfunction]
#[pyo3(signature = (xs, axis = 0))]
fn concatenate(py: Python<'_>, xs: Vec<Bound<'_, PyAny>>, axis: isize) -> PyT {
    let tensors = xs.iter().map(|x| t(x, "concatenate")).collect::<PyResult<Vec<_>>>()?;
    run(py, move || ops::concat(&tensors.iter().collect::<Vec<_>>(), axis))
}

/// Fused `activation(x @ kernel + bias)`.
#[pyfunction]
#[pyo3(signature = (x, kernel, bias = None, activation = "linear"))]
fn dense(py: Python<'_>, x: &Bound<'_, PyAny>, kernel: &Bound<'_, PyAny>, bias: Option<&Bound<'_, PyAny>>, activation: &str) -> PyT {
    let act = parse_activation(activation)?;
    let (x, k) = (t(x, "dense")?, t(kernel, "dense")?);
    let b = match bias {
        Some(b) if !b.is_none() => Some(t(b, "dense")?),
        _ => None,
    };
    run(py, move || ops::dense(&x, &k, b.as_ref(), act))
}

#[pyfunction]
fn mean_squared_error(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>) -> PyT {
    let (a, b) = (t(y_true, "mean_squared_error")?, t(y_pred, "mean_squared_error")?);
    run(py, move || loss::mean_squared_error(&a, &b))
}

#[pyfunction]
fn mean_absolute_error(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>) -> PyT {
    let (a, b) = (t(y_true, "mean_absolute_error")?, t(y_pred, "mean_absolute_error")?);
    run(py, move || loss::mean_absolute_error(&a, &b))
}

#[pyfunction]
#[pyo3(signature = (y_true, y_pred, delta = 1.0))]
fn huber(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>, delta: f32) -> PyT {
    let (a, b) = (t(y_true, "huber")?, t(y_pred, "huber")?);
    run(py, move || loss::huber(&a, &b, delta))
}

#[pyfunction]
#[pyo3(signature = (y_true, y_pred, from_logits = false, label_smoothing = 0.0))]
fn binary_crossentropy(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>, from_logits: bool, label_smoothing: f32) -> PyT {
    let (a, b) = (t(y_true, "binary_crossentropy")?, t(y_pred, "binary_crossentropy")?);
    run(py, move || loss::binary_crossentropy(&a, &b, from_logits, label_smoothing))
}

#[pyfunction]
#[pyo3(signature = (y_true, y_pred, from_logits = false, label_smoothing = 0.0))]
fn categorical_crossentropy(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>, from_logits: bool, label_smoothing: f32) -> PyT {
    let (a, b) = (t(y_true, "categorical_crossentropy")?, t(y_pred, "categorical_crossentropy")?);
    run(py, move || loss::categorical_crossentropy(&a, &b, from_logits, label_smoothing))
}

#[pyfunction]
#[pyo3(signature = (y_true, y_pred, from_logits = false))]
fn sparse_categorical_crossentropy(py: Python<'_>, y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>, from_logits: bool) -> PyT {
    let labels = to_labels(y_true, "sparse_categorical_crossentropy")?;
    let b = t(y_pred, "sparse_categorical_crossentropy")?;
    run(py, move || {
        if b.device() == crate::tensor::Device::Gpu {
            // Checked here on the host; the GPU builds the one-hot targets from them.
            let as_floats = crate::tensor::Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), &[labels.len()])?;
            if let Some(bad) = labels.iter().find(|&&l| l < 0 || l as usize >= *b.shape().last().unwrap_or(&0)) {
                return Err(crate::Error::value("sparse_categorical_crossentropy", format!("labels in [0, {}) for y_pred {:?}", b.shape().last().unwrap_or(&0), b.shape()), format!("label {bad}")));
            }
            return loss::sparse_categorical_crossentropy_tensor(&as_floats, &b, from_logits);
        }
        loss::sparse_categorical_crossentropy(&labels, &b, from_logits)
    })
}

/// Turn recording on or off for this thread; returns the previous mode.
#[pyfunction]
fn set_grad_enabled(flag: bool) -> bool {
    crate::autograd::set_grad_enabled(flag)
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    crate::autograd::is_grad_enabled()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(subtract, m)?)?;
    m.add_function(wrap_pyfunction!(multiply, m)?)?;
    m.add_function(wrap_pyfunction!(divide, m)?)?;
    m.add_function(wrap_pyfunction!(power, m)?)?;
    m.add_function(wrap_pyfunction!(matmul, m)?)?;
    m.add_function(wrap_pyfunction!(negative, m)?)?;
    m.add_function(wrap_pyfunction!(exp, m)?)?;
    m.add_function(wrap_pyfunction!(log, m)?)?;
    m.add_function(wrap_pyfunction!(sqrt, m)?)?;
    m.add_function(wrap_pyfunction!(square, m)?)?;
    m.add_function(wrap_pyfunction!(absolute, m)?)?;
    m.add_function(wrap_pyfunction!(relu, m)?)?;
    m.add_function(wrap_pyfunction!(sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(tanh, m)?)?;
    m.add_function(wrap_pyfunction!(selu, m)?)?;
    m.add_function(wrap_pyfunction!(softplus, m)?)?;
    m.add_function(wrap_pyfunction!(silu, m)?)?;
    m.add_function(wrap_pyfunction!(hard_sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(elu, m)?)?;
    m.add_function(wrap_pyfunction!(gelu, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(log_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(clip, m)?)?;
    m.add_function(wrap_pyfunction!(transpose, m)?)?;
    m.add_function(wrap_pyfunction!(reshape, m)?)?;
    m.add_function(wrap_pyfunction!(sum, m)?)?;
    m.add_function(wrap_pyfunction!(mean, m)?)?;
    m.add_function(wrap_pyfunction!(max, m)?)?;
    m.add_function(wrap_pyfunction!(dense, m)?)?;
    m.add_function(wrap_pyfunction!(conv, m)?)?;
    m.add_function(wrap_pyfunction!(concatenate, m)?)?;
    m.add_function(wrap_pyfunction!(mean_squared_error, m)?)?;
    m.add_function(wrap_pyfunction!(mean_absolute_error, m)?)?;
    m.add_function(wrap_pyfunction!(huber, m)?)?;
    m.add_function(wrap_pyfunction!(binary_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(categorical_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_categorical_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    Ok(())
}
