//! Elementwise unary ops and the activations.

use super::{mul, record, record_gpu};
use crate::cpu::{self, activation::Activation};
use crate::error::{Error, Result};
use crate::gpu;
use crate::tensor::{Device, Tensor};

/// An elementwise function on both devices: `f` on the CPU, the WGSL expression `wgsl` (in `x0`,
/// with scalars `s0..s3`) on the GPU.
#[derive(Clone, Copy)]
struct Elementwise<'a, F> {
    key: &'a str,
    f: F,
    wgsl: &'a str,
    scalars: [f32; 4],
}

/// Apply `e` to every element and record `rule` as the backward.
fn unary<F, R>(op: &'static str, x: &Tensor, e: Elementwise<'_, F>, rule: impl FnOnce(Tensor, Tensor) -> R) -> Result<Tensor>
where
    F: Fn(f32) -> f32 + Sync,
    R: Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    if x.device() == Device::Gpu {
        let buffer = gpu::kernels::elementwise(op, e.key, e.wgsl, &[x], x.shape(), e.scalars)?;
        return Ok(record_gpu(op, buffer, x.shape(), &[x], move |out| rule(x.detach(), out)));
    }
    let values = cpu::map(x.cpu_values().as_slice(), e.f);
    Ok(record(op, values, x.shape(), &[x], move |out| rule(x.detach(), out)))
}

/// The tensor `g * d(x, y)` elementwise, where y is the op's output: `f` on the CPU, the WGSL
/// expression `wgsl` (in `x1` = x, `x2` = y, scalars `s0..`) on the GPU.
fn scaled(g: &Tensor, x: &Tensor, y: &Tensor, key: &str, wgsl: &str, scalars: [f32; 4], f: impl Fn(f32, f32) -> f32 + Sync) -> Result<Tensor> {
    if g.device() == Device::Gpu {
        let expr = format!("x0 * ({wgsl})");
        let buffer = gpu::kernels::elementwise("backward", &format!("scaled/{key}"), &expr, &[g, x, y], g.shape(), scalars)?;
        return Ok(Tensor::from_gpu(buffer, g.shape()));
    }
    let (gv, xv, yv) = (g.cpu_values(), x.cpu_values(), y.cpu_values());
    let values = cpu::zip3_map(gv.as_slice(), xv.as_slice(), yv.as_slice(), |g, x, y| g * f(x, y));
    Tensor::from_vec(values, g.shape())
}

/// `-x`.
pub fn neg(x: &Tensor) -> Result<Tensor> {
    let e = Elementwise { key: "neg", f: |v: f32| -v, wgsl: "-x0", scalars: [0.0; 4] };
    unary("neg", x, e, |_, _| |g: &Tensor| Ok(vec![Some(neg(g)?)]))
}

/// `e^x`.
pub fn exp(x: &Tensor) -> Result<Tensor> {
    let e = Elementwise { key: "exp", f: f32::exp, wgsl: "exp(x0)", scalars: [0.0; 4] };
    unary("exp", x, e, |_, y| move |g: &Tensor| Ok(vec![Some(mul(g, &y)?)]))
}

/// Natural logarithm (`-inf` at 0, `nan` below, as NumPy).
pub fn log(x: &Tensor) -> Result<Tensor> {
    // WGSL's log is undefined at 0 and below: NumPy's answers (-inf, NaN) come in as scalars
    // (WGSL folds a constant 1/0 into a compile error).
    let e = Elementwise { key: "log", f: f32::ln, wgsl: "select(select(log(x0), s0, x0 == 0.0), s1, x0 < 0.0)", scalars: [f32::NEG_INFINITY, f32::NAN, 0.0, 0.0] };
    unary("log", x, e, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, "log", "1.0 / x1", [0.0; 4], |x, _| 1.0 / x)?)]))
}

/// Square root.
pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    let e = Elementwise { key: "sqrt", f: f32::sqrt, wgsl: "sqrt(x0)", scalars: [0.0; 4] };
    unary("sqrt", x, e, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, "sqrt", "0.5 / x2", [0.0; 4], |_, y| 0.5 / y)?)]))
}

/// `x * x`.
pub fn square(x: &Tensor) -> Result<Tensor> {
    let e = Elementwise { key: "square", f: |v: f32| v * v, wgsl: "x0 * x0", scalars: [0.0; 4] };
    unary("square", x, e, |x, y| move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, "square", "2.0 * x1", [0.0; 4], |x, _| 2.0 * x)?)]))
}

/// `|x|` (gradient 0 at 0).
pub fn abs(x: &Tensor) -> Result<Tensor> {
    let e = Elementwise { key: "abs", f: f32::abs, wgsl: "abs(x0)", scalars: [0.0; 4] };
    unary("abs", x, e, |x, y| {
        move |g: &Tensor| Ok(vec![Some(scaled(g, &x, &y, "abs", "sign(x1)", [0.0; 4], |x, _| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 })?)])
    })
}

/// Clamp into `[min, max]`; the gradient passes where `min <= x <= max`.
///
/// # Errors
/// `Value` when a bound is NaN or `min > max`.
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    if min.is_nan() || max.is_nan() || min > max {
        return Err(Error::value("clip", "bounds with min <= max and neither NaN", format!("min={min}, max={max}")));
    }
    let e = Elementwise { key: "clip", f: move |v: f32| v.clamp(min, max), wgsl: "clamp(x0, s0, s1)", scalars: [min, max, 0.0, 0.0] };
    unary("clip", x, e, move |x, y| {
        move |g: &Tensor| {
            let d = scaled(g, &x, &y, "clip", "select(0.0, 1.0, x1 >= s0 && x1 <= s1)", [min, max, 0.0, 0.0], move |x, _| if x >= min && x <= max { 1.0 } else { 0.0 })?;
            Ok(vec![Some(d)])
        }
    })
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
    let (wgsl, scalars) = gpu::activation::forward(act, "x0");
    let e = Elementwise { key: gpu::activation::key(act), f: move |v: f32| act.forward(v), wgsl: &wgsl, scalars };
    unary(act.name(), x, e, move |x, y| move |g: &Tensor| Ok(vec![Some(activation_grad(act, &x, &y, g)?)]))
}

/// The gradient of an activation, `g * act'(x)`, from its input and output (the dense op uses it).
pub fn activation_grad(act: Activation, x: &Tensor, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    let (wgsl, scalars) = gpu::activation::derivative(act, "x1", "x2");
    scaled(g, x, y, gpu::activation::key(act), &wgsl, scalars, move |x, y| act.derivative(x, y))
}
