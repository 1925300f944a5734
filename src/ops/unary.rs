//! Elementwise unary ops and the activations.

use super::{mul, record};
use crate::cpu::{self, activation::Activation};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Apply `f` to every element and record `rule` as the backward.
fn unary<F>(op: &'static str, x: &Tensor, f: impl Fn(f32) -> f32 + Sync, rule: impl FnOnce(Tensor, Tensor) -> F) -> Tensor
where
    F: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    let values = cpu::map(x.cpu_values().as_slice(), f);
    record(op, values, x.shape(), &[x], move |out| rule(x.detach(), out))
}

/// The tensor `g * f(x, y)` elementwise, where y is the op's output.
fn scaled(g: &Tensor, x: &Tensor, y: &Tensor, f: impl Fn(f32, f32) -> f32 + Sync) -> Result<Tensor> {
    let (gv, xv, yv) = (g.cpu_values(), x.cpu_values(), y.cpu_values());
    let values = cpu::zip3_map(gv.as_slice(), xv.as_slice(), yv.as_slice(), |g, x, y| g * f(x, y));
    Tensor::from_vec(values, g.shape())
}

/// `-x`.
pub fn neg(x: &Tensor) -> Result<Tensor> {
    Ok(unary("neg", x, |v| -v, |_, _| |g: &Tensor| Ok(vec![Some(neg(g)?)])))
}

/// `e^x`.
pub fn exp(x: &Tensor) -> Result<Tensor> {
    Ok(unary("exp", x, f32::exp, |_, y| move |g: &Tensor| Ok(vec![Some(mul(g, &y)?)])))
}

/// Natural logarithm (`-inf` at 0, `nan` below, as NumPy).
pub fn log(x: &Tensor) -> Result<Tensor> {
    Ok(unary("log", x, f32::ln, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, |x, _| 1.0 / x)?)])))
}

/// Square root.
pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    Ok(unary("sqrt", x, f32::sqrt, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, |_, y| 0.5 / y)?)])))
}

/// `x * x`.
pub fn square(x: &Tensor) -> Result<Tensor> {
    Ok(unary("square", x, |v| v * v, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, |x, _| 2.0 * x)?)])))
}

/// `|x|` (gradient 0 at 0).
pub fn abs(x: &Tensor) -> Result<Tensor> {
    Ok(unary("abs", x, f32::abs, |x, y| {
        move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, |x, _| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 })?)])
    }))
}

/// Clamp into `[min, max]`; the gradient passes where `min <= x <= max`.
///
/// # Errors
/// `Value` when a bound is NaN or `min > max`.
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    if min.is_nan() || max.is_nan() || min > max {
        return Err(Error::value("clip", "bounds with min <= max and neither NaN", format!("min={min}, max={max}")));
    }
    Ok(unary("clip", x, move |v| v.clamp(min, max), move |x, y| {
        move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, move |x, _| if x >= min && x <= max { 1.0 } else { 0.0 })?)])
    }))
}

/// Apply an elementwise activation.
///
/// # Errors
/// `Value` when a parameter (slope, alpha) is not finite.
pub fn activation(x: &Tensor, act: Activation) -> Result<Tensor> {
    match act {
        Activation::LeakyRelu { negative_slope: p } | Activation::Elu { alpha: p } if !p.is_finite() => {
            return Err(Error::value(act.name(), "a finite parameter", format!("{p}")));
        }
        _ => {}
    }
    Ok(unary(act.name(), x, move |v| act.forward(v), move |x, y| {
        move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, move |x, y| act.derivative(x, y))?)])
    }))
}

/// The gradient of an activation, `g * act'(x)`, from its input and output (the dense op uses it).
pub fn activation_grad(act: Activation, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    scaled(g, x, y, move |x, y| act.derivative(x, y))
}
