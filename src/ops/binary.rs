//! Broadcasting binary ops: add, sub, mul, div, pow.

use super::{record, record_gpu, same_device, sum_to};
use crate::cpu;
use crate::error::Result;
use crate::gpu::{kernels, GpuBuffer};
use crate::tensor::shape::broadcast_shapes;
use crate::tensor::{Device, Tensor};

/// A forward result on either device.
enum Values {
    Cpu(Vec<f32>),
    Gpu(GpuBuffer),
}

/// `f(a, b)` broadcast: on the CPU by `f`, on the GPU by the WGSL expression `wgsl` in `x0`, `x1`.
/// A one-element CPU operand next to a GPU one (a Python scalar, a constant) travels to the
/// kernel as a scalar parameter instead of a buffer.
fn forward(op: &'static str, a: &Tensor, b: &Tensor, wgsl: &str, f: impl Fn(f32, f32) -> f32 + Sync) -> Result<(Values, Vec<usize>)> {
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let scalar = |t: &Tensor| t.device() == Device::Cpu && t.numel() == 1;
    match (a.device(), b.device()) {
        (Device::Gpu, Device::Cpu) if scalar(b) => {
            let expr = wgsl.replace("x1", "s0");
            let buf = kernels::elementwise(op, &format!("{op}/scalar_b"), &expr, &[a], &shape, [b.item()?, 0.0, 0.0, 0.0])?;
            return Ok((Values::Gpu(buf), shape));
        }
        (Device::Cpu, Device::Gpu) if scalar(a) => {
            let expr = wgsl.replace("x1", "__b").replace("x0", "s0").replace("__b", "x0");
            let buf = kernels::elementwise(op, &format!("{op}/scalar_a"), &expr, &[b], &shape, [a.item()?, 0.0, 0.0, 0.0])?;
            return Ok((Values::Gpu(buf), shape));
        }
        _ => {}
    }
    same_device(op, &[a, b])?;
    if a.device() == Device::Gpu {
        return Ok((Values::Gpu(kernels::elementwise(op, op, wgsl, &[a, b], &shape, [0.0; 4])?), shape));
    }
    let (av, bv) = (a.cpu_values(), b.cpu_values());
    let values = cpu::binary::broadcast_zip(av.as_slice(), a.shape(), bv.as_slice(), b.shape(), &shape, f);
    Ok((Values::Cpu(values), shape))
}

/// Record a forward result from either device.
fn finish<F>(op: &'static str, values: Values, shape: &[usize], inputs: &[&Tensor], rule: impl FnOnce(Tensor) -> F) -> Tensor
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    match values {
        Values::Cpu(v) => record(op, v, shape, inputs, rule),
        Values::Gpu(b) => record_gpu(op, b, shape, inputs, rule),
    }
}

/// `a + b` with NumPy broadcasting.
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("add", a, b, "x0 + x1", |x, y| x + y)?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(finish("add", values, &shape, &[a, b], move |_| {
        move |g: &Tensor| Ok(vec![Some(sum_to(g, &sa)?), Some(sum_to(g, &sb)?)])
    }))
}

/// `a - b` with NumPy broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("sub", a, b, "x0 - x1", |x, y| x - y)?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(finish("sub", values, &shape, &[a, b], move |_| {
        move |g: &Tensor| Ok(vec![Some(sum_to(g, &sa)?), Some(sum_to(&super::neg(g)?, &sb)?)])
    }))
}

/// `a * b` with NumPy broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("mul", a, b, "x0 * x1", |x, y| x * y)?;
    Ok(finish("mul", values, &shape, &[a, b], |_| {
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| Ok(vec![Some(sum_to(&mul(g, &b)?, a.shape())?), Some(sum_to(&mul(g, &a)?, b.shape())?)])
    }))
}

/// `a / b` with NumPy broadcasting (IEEE semantics: division by zero gives inf or nan).
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("div", a, b, "x0 / x1", |x, y| x / y)?;
    Ok(finish("div", values, &shape, &[a, b], |_| {
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| {
            let ga = div(g, &b)?;
            // d(a/b)/db = -a / b^2 = -(g/b) * (a/b)
            let gb = super::neg(&mul(&ga, &div(&a, &b)?)?)?;
            Ok(vec![Some(sum_to(&ga, a.shape())?), Some(sum_to(&gb, b.shape())?)])
        }
    }))
}

/// `a ** b` with NumPy broadcasting.
pub fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("pow", a, b, "powf_(x0, x1)", |x, y| x.powf(y))?;
    Ok(finish("pow", values, &shape, &[a, b], move |out| {
        let b_needs_grad = b.requires_grad();
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| {
            if g.device() == Device::Gpu {
                return pow_backward_gpu(g, &a, &b, &out, b_needs_grad);
            }
            // d/da = b * a^(b-1); d/db = a^b * ln(a), only where needed (b constant: skip).
            let (av, bv) = (a.cpu_values(), b.cpu_values());
            let shape = g.shape().to_vec();
            let da = cpu::binary::broadcast_zip(av.as_slice(), a.shape(), bv.as_slice(), b.shape(), &shape, |x, y| {
                if y == 0.0 {
                    0.0
                } else {
                    y * x.powf(y - 1.0)
                }
            });
            let ga = mul(g, &Tensor::from_vec(da, &shape)?)?;
            let gb = if b_needs_grad {
                let ov = out.cpu_values();
                let ln_a = cpu::binary::broadcast_zip(av.as_slice(), a.shape(), ov.as_slice(), &shape, &shape, |x, o| {
                    if o == 0.0 {
                        0.0
                    } else {
                        o * x.ln()
                    }
                });
                Some(sum_to(&mul(g, &Tensor::from_vec(ln_a, &shape)?)?, b.shape())?)
            } else {
                None
            };
            Ok(vec![Some(sum_to(&ga, a.shape())?), gb])
        }
    }))
}

/// `pow`'s backward on the GPU, the CPU's formulas as elementwise kernels (operands broadcast).
fn pow_backward_gpu(g: &Tensor, a: &Tensor, b: &Tensor, out: &Tensor, b_needs_grad: bool) -> Result<Vec<Option<Tensor>>> {
    let shape = g.shape().to_vec();
    let on_gpu = |t: &Tensor| t.to_device(Device::Gpu);
    let (a, b) = (on_gpu(a)?, on_gpu(b)?);
    let da = kernels::elementwise("pow", "pow/da", "x0 * select(x2 * powf_(x1, x2 - 1.0), 0.0, x2 == 0.0)", &[g, &a, &b], &shape, [0.0; 4])?;
    let ga = sum_to(&Tensor::from_gpu(da, &shape), a.shape())?;
    let gb = if b_needs_grad {
        let db = kernels::elementwise("pow", "pow/db", "x0 * select(x2 * log(x1), 0.0, x2 == 0.0)", &[g, &a, out], &shape, [0.0; 4])?;
        Some(sum_to(&Tensor::from_gpu(db, &shape), b.shape())?)
    } else {
        None
    };
    Ok(vec![Some(ga), gb])
}
