//! Broadcasting binary ops: add, sub, mul, div, pow.

use super::{record, same_device, sum_to};
use crate::cpu;
use crate::error::Result;
use crate::tensor::shape::broadcast_shapes;
use crate::tensor::Tensor;

fn forward(op: &'static str, a: &Tensor, b: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Result<(Vec<f32>, Vec<usize>)> {
    same_device(op, &[a, b])?;
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let (av, bv) = (a.cpu_values(), b.cpu_values());
    let values = cpu::binary::broadcast_zip(av.as_slice(), a.shape(), bv.as_slice(), b.shape(), &shape, f);
    Ok((values, shape))
}

/// `a + b` with NumPy broadcasting.
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("add", a, b, |x, y| x + y)?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(record("add", values, &shape, &[a, b], move |_| {
        move |g: &Tensor| Ok(vec![Some(sum_to(g, &sa)?), Some(sum_to(g, &sb)?)])
    }))
}

/// `a - b` with NumPy broadcasting.
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("sub", a, b, |x, y| x - y)?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(record("sub", values, &shape, &[a, b], move |_| {
        move |g: &Tensor| Ok(vec![Some(sum_to(g, &sa)?), Some(sum_to(&super::neg(g)?, &sb)?)])
    }))
}

/// `a * b` with NumPy broadcasting.
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("mul", a, b, |x, y| x * y)?;
    Ok(record("mul", values, &shape, &[a, b], |_| {
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| Ok(vec![Some(sum_to(&mul(g, &b)?, a.shape())?), Some(sum_to(&mul(g, &a)?, b.shape())?)])
    }))
}

/// `a / b` with NumPy broadcasting (IEEE semantics: division by zero gives inf or nan).
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (values, shape) = forward("div", a, b, |x, y| x / y)?;
    Ok(record("div", values, &shape, &[a, b], |_| {
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
    let (values, shape) = forward("pow", a, b, |x, y| x.powf(y))?;
    Ok(record("pow", values, &shape, &[a, b], move |out| {
        let b_needs_grad = b.requires_grad();
        let (a, b) = (a.detach(), b.detach());
        move |g: &Tensor| {
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
