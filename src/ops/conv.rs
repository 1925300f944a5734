//! Convolutions on NHWC tensors: `conv2d` (grouped, strided, dilated; depthwise is groups = in
//! channels) and `conv2d_transpose`, with the bias and activation fused like `dense`. 1-D
//! convolutions are 2-D ones with height 1 (the layers reshape). Gradients: input, kernel, bias.

use super::dense::{activation_backward, bias_activation, bias_grad, DenseActivation};
use super::pool::{pool2d, pool_geometry, PoolKind};
use super::{record, record_gpu};
use crate::cpu::activation::Activation;
use crate::cpu::conv::{conv2d_backward_input, conv2d_backward_kernel, conv2d_forward, ConvGeometry};
use crate::cpu::conv_pool::conv2d_max_pool as conv2d_max_pool_values;
use crate::cpu::conv_pool_training;
use crate::cpu::pool::{max_pool, max_pool_backward, PoolGeometry};
use crate::error::{Error, Result};
use crate::gpu::kernels::{conv2d_pass, conv2d_pass_fused, ConvPass};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

/// How the input is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Valid,
    /// Output size ceil(in / stride); the odd pixel of padding goes after (bottom/right).
    Same,
    /// Conv1D: all padding before, so output t sees inputs up to t.
    Causal,
}

/// Strides, dilation, padding and groups of a convolution or pooling window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvSpec {
    pub strides: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: Padding,
    pub groups: usize,
}

/// Output size and padding before, for one spatial axis (Keras/TF rules).
pub fn axis_geometry(op: &str, input: usize, kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Result<(usize, usize)> {
    if stride == 0 || dilation == 0 || kernel == 0 {
        return Err(Error::value(op, "kernel size, strides and dilation of at least 1", format!("kernel {kernel}, stride {stride}, dilation {dilation}")));
    }
    let span = dilation * (kernel - 1) + 1;
    match padding {
        Padding::Valid => {
            if input < span {
                return Err(Error::shape(op, format!("an input of at least {span} along each axis for a 'valid' kernel of {kernel} (dilation {dilation})"), format!("{input}")));
            }
            Ok(((input - span) / stride + 1, 0))
        }
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out.max(1) - 1) * stride + span).saturating_sub(input);
            Ok((out, total / 2))
        }
        Padding::Causal => Ok((input.div_ceil(stride), span - 1)),
    }
}

/// The geometry of `x` (N, H, W, C) convolved with `kernel` (kh, kw, C/groups, out).
pub fn geometry(op: &str, x: &[usize], kernel: &[usize], spec: &ConvSpec) -> Result<ConvGeometry> {
    if x.len() != 4 || kernel.len() != 4 {
        return Err(Error::shape(op, "a 4-D input (batch, height, width, channels) and a 4-D kernel", format!("input {} and kernel {}", fmt_shape(x), fmt_shape(kernel))));
    }
    let groups = spec.groups.max(1);
    if x[3] != kernel[2] * groups || kernel[3] % groups != 0 {
        return Err(Error::shape(
            op,
            format!("input with {} channels ({} groups of {}) and filters divisible by the groups", kernel[2] * groups, groups, kernel[2]),
            format!("input {} and kernel {}", fmt_shape(x), fmt_shape(kernel)),
        ));
    }
    if spec.padding == Padding::Causal && kernel[0] != 1 {
        return Err(Error::value(op, "causal padding on 1-D convolutions only", "a 2-D kernel"));
    }
    let (out_h, pad_top) = axis_geometry(op, x[1], kernel[0], spec.strides[0], spec.dilation[0], if spec.padding == Padding::Causal { Padding::Valid } else { spec.padding })?;
    let (out_w, pad_left) = axis_geometry(op, x[2], kernel[1], spec.strides[1], spec.dilation[1], spec.padding)?;
    Ok(ConvGeometry {
        batch: x[0],
        in_h: x[1],
        in_w: x[2],
        in_c: x[3],
        kernel_h: kernel[0],
        kernel_w: kernel[1],
        out_c: kernel[3],
        groups,
        stride_h: spec.strides[0],
        stride_w: spec.strides[1],
        dilation_h: spec.dilation[0],
        dilation_w: spec.dilation[1],
        pad_top,
        pad_left,
        out_h,
        out_w,
    })
}

/// The three kernels of a convolution op in the roles its passes give them: a transposed
/// convolution is conv2d with the forward and the input gradient swapped, and the kernel
/// gradient's operands exchanged.
struct Passes {
    /// The output (`out` written, or accumulated into when `forward_accumulates`).
    forward: fn(&ConvGeometry, &[f32], &[f32], &mut [f32]),
    forward_accumulates: bool,
    /// dx from (dz, kernel), accumulated into zeros.
    input_grad: fn(&ConvGeometry, &[f32], &[f32], &mut [f32]),
    /// dkernel from (x, dz), accumulated into zeros.
    kernel_grad: fn(&ConvGeometry, &[f32], &[f32], &mut [f32]),
}

const CONV: Passes = Passes { forward: conv2d_forward, forward_accumulates: false, input_grad: conv2d_backward_input, kernel_grad: conv2d_backward_kernel };

const TRANSPOSED: Passes = Passes {
    forward: conv2d_backward_input,
    forward_accumulates: true,
    input_grad: conv2d_forward,
    kernel_grad: |geo, x, dz, dk| conv2d_backward_kernel(geo, dz, x, dk),
};

/// The GPU kernels in the same roles (`shaders/conv.wgsl`). The kernel gradient's operands are
/// (x, dz) for a convolution and (dz, x) for a transposed one.
#[derive(Clone, Copy)]
struct GpuPasses {
    forward: ConvPass,
    input_grad: ConvPass,
    kernel_grad_swapped: bool,
}

const GPU_CONV: GpuPasses = GpuPasses { forward: ConvPass::Forward, input_grad: ConvPass::BackwardInput, kernel_grad_swapped: false };
const GPU_TRANSPOSED: GpuPasses = GpuPasses { forward: ConvPass::BackwardInput, input_grad: ConvPass::Forward, kernel_grad_swapped: true };

/// The GPU path of `run`: the convolution kernel with the bias and, for the activations whose
/// derivative needs only the output (ReLU, sigmoid, tanh), the activation applied before each
/// result is stored; other activations and softmax as one more GPU op. Backward: the
/// activation's derivative from the output, the input- and kernel-gradient passes, and the bias
/// gradient as a sum over the pixels.
#[allow(clippy::too_many_arguments)]
fn run_gpu(op: &'static str, x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation, geo: ConvGeometry, shape: [usize; 4], passes: GpuPasses) -> Result<Tensor> {
    let fused = match activation {
        DenseActivation::Elementwise(a) if !a.derivative_needs_input() => a,
        _ => Activation::Linear,
    };
    let buffer = conv2d_pass_fused(op, passes.forward, &geo, x, kernel, bias, fused)?;
    let inputs = with_bias(x, kernel, bias);
    let (x_needs, kernel_needs, has_bias) = (x.requires_grad(), kernel.requires_grad(), bias.is_some());
    let z = record_gpu(op, buffer, &shape, &inputs, move |out| {
        let (x, kernel) = (x.detach(), kernel.detach());
        move |g: &Tensor| {
            // ReLU, sigmoid and tanh: the derivative reads only the output.
            let dz = if fused == Activation::Linear { g.clone() } else { super::unary::activation_grad(fused, &out, &out, g)? };
            let dx = if x_needs { Some(Tensor::from_gpu(conv2d_pass(op, passes.input_grad, &geo, &dz, &kernel)?, x.shape())) } else { None };
            let dk = if kernel_needs {
                let (a, b) = if passes.kernel_grad_swapped { (&dz, &x) } else { (&x, &dz) };
                Some(Tensor::from_gpu(conv2d_pass(op, ConvPass::BackwardKernel, &geo, a, b)?, kernel.shape()))
            } else {
                None
            };
            let mut grads = vec![dx, dk];
            if has_bias {
                grads.push(Some(super::sum(&dz, Some(&[0, 1, 2]), false)?));
            }
            Ok(grads)
        }
    });
    match activation {
        DenseActivation::Elementwise(a) if a == fused || a == Activation::Linear => Ok(z),
        DenseActivation::Elementwise(a) => super::activation(&z, a),
        DenseActivation::Softmax => super::softmax(&z, -1),
    }
}

/// `activation(pass(x, kernel) + bias)` as NHWC values (`rows x width`), and the
/// pre-activation when the backward will need it (`needs_grad` and an activation whose
/// derivative needs its input).
#[allow(clippy::too_many_arguments)]
fn forward_values(geo: &ConvGeometry, x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation, passes: &Passes, needs_grad: bool, rows: usize, width: usize) -> (Vec<f32>, Option<Vec<f32>>) {
    let mut z = if passes.forward_accumulates { vec![0.0f32; rows * width] } else { crate::cpu::uninit(rows * width) };
    (passes.forward)(geo, x.cpu_values().as_slice(), kernel.cpu_values().as_slice(), &mut z);
    bias_activation(z, width, bias, activation, needs_grad)
}

/// The gradients of a convolution op's operands (x, kernel, then the bias when there is one)
/// from `dz`, the gradient before the activation; only those the operands need.
#[allow(clippy::too_many_arguments)]
fn operand_grads(geo: &ConvGeometry, passes: &Passes, x: &Tensor, kernel: &Tensor, dz: &[f32], needs: [bool; 2], has_bias: bool, rows: usize, width: usize) -> Result<Vec<Option<Tensor>>> {
    let (xv, kv) = (x.cpu_values(), kernel.cpu_values());
    let (xv, kv) = (xv.as_slice(), kv.as_slice());
    let dx = if needs[0] {
        let mut dx = vec![0.0f32; xv.len()];
        (passes.input_grad)(geo, dz, kv, &mut dx);
        Some(Tensor::from_vec(dx, x.shape())?)
    } else {
        None
    };
    let dk = if needs[1] {
        let mut dk = vec![0.0f32; kv.len()];
        (passes.kernel_grad)(geo, xv, dz, &mut dk);
        Some(Tensor::from_vec(dk, kernel.shape())?)
    } else {
        None
    };
    let mut grads = vec![dx, dk];
    if has_bias {
        grads.push(Some(bias_grad(dz, rows, width)?));
    }
    Ok(grads)
}

/// `activation(pass(x, kernel) + bias)` with output `shape` (NHWC), recorded with its backward.
#[allow(clippy::too_many_arguments)]
fn run(op: &'static str, x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation, geo: ConvGeometry, shape: [usize; 4], passes: Passes) -> Result<Tensor> {
    let (rows, width) = (shape[0] * shape[1] * shape[2], shape[3]);
    let inputs = with_bias(x, kernel, bias);
    let needs_grad = crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let (y, pre) = forward_values(&geo, x, kernel, bias, activation, &passes, needs_grad, rows, width);
    // The first layer's input needs no gradient: its backward-input pass is skipped.
    let (needs, has_bias) = ([x.requires_grad(), kernel.requires_grad()], bias.is_some());
    Ok(record(op, y, &shape, &inputs, move |out| {
        let (x, kernel) = (x.detach(), kernel.detach());
        move |g: &Tensor| {
            let dz = activation_backward(g, &out, pre.as_deref(), activation, rows, width);
            operand_grads(&geo, &passes, &x, &kernel, &dz, needs, has_bias, rows, width)
        }
    }))
}

fn check_bias(op: &str, bias: Option<&Tensor>, channels: usize) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [channels] => Err(Error::shape(op, format!("bias of shape ({channels},)"), fmt_shape(b.shape()))),
        _ => Ok(()),
    }
}

/// The operand list of a convolution (the bias only when there is one).
fn with_bias<'a>(x: &'a Tensor, kernel: &'a Tensor, bias: Option<&'a Tensor>) -> Vec<&'a Tensor> {
    let mut v = vec![x, kernel];
    v.extend(bias);
    v
}

/// `activation(conv(x, kernel) + bias)` on NHWC `x` with a (kh, kw, C/groups, out) kernel.
///
/// # Errors
/// `Shape` when the ranks, channel counts, groups or bias do not fit, or a 'valid' kernel is
/// larger than the input; `Value` for zero strides, dilation or kernel size.
pub fn conv2d(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, spec: &ConvSpec, activation: DenseActivation) -> Result<Tensor> {
    let op = "conv2d";
    let operands = with_bias(x, kernel, bias);
    super::same_device(op, &operands)?;
    let geo = geometry(op, x.shape(), kernel.shape(), spec)?;
    check_bias(op, bias, geo.out_c)?;
    let shape = [geo.batch, geo.out_h, geo.out_w, geo.out_c];
    if super::on_gpu(&operands) {
        return run_gpu(op, x, kernel, bias, activation, geo, shape, GPU_CONV);
    }
    run(op, x, kernel, bias, activation, geo, shape, CONV)
}

/// `max_pool(activation(conv2d(x, kernel) + bias))`, pooled with `pool` windows every
/// `strides`: for inference, one pass over the input (`cpu::conv_pool`) that never stores the
/// convolution's output. When a gradient is wanted (grad mode on and an input requires grad)
/// and the activation is ReLU or linear, one recorded op with the pooling and the ReLU fused in
/// its backward (`run_max_pooled`). Otherwise (another activation with a gradient wanted, a
/// grouped convolution without, operands on the GPU) it runs `conv2d` then `pool2d`.
///
/// # Errors
/// As `conv2d`, and as `pool2d` for the pooling of the convolution's output.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_max_pool(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, spec: &ConvSpec, activation: Activation, pool: [usize; 2], strides: [usize; 2], padding: Padding) -> Result<Tensor> {
    let geo = geometry("conv2d", x.shape(), kernel.shape(), spec)?;
    check_bias("conv2d", bias, geo.out_c)?;
    let pool_geo = pool_geometry("max_pool", &[geo.batch, geo.out_h, geo.out_w, geo.out_c], pool, strides, padding)?;
    let operands = with_bias(x, kernel, bias);
    super::same_device("conv2d", &operands)?;
    let needs_grad = crate::autograd::is_grad_enabled() && operands.iter().any(|t| t.requires_grad());
    let on_gpu = super::on_gpu(&operands);
    if needs_grad && !on_gpu && matches!(activation, Activation::Relu | Activation::Linear) {
        return run_max_pooled(x, kernel, bias, activation, geo, pool_geo);
    }
    // The GPU runs its own kernels for the two ops (the fused pass is a CPU kernel).
    if needs_grad || geo.groups != 1 || on_gpu {
        let y = conv2d(x, kernel, bias, spec, DenseActivation::Elementwise(activation))?;
        return pool2d(&y, PoolKind::Max, pool, strides, padding);
    }
    let bias_values = bias.map(Tensor::to_vec);
    let values = conv2d_max_pool_values(&geo, x.cpu_values().as_slice(), kernel.cpu_values().as_slice(), bias_values.as_deref(), activation, &pool_geo);
    Tensor::from_vec(values, &[geo.batch, pool_geo.out_h, pool_geo.out_w, geo.out_c])
}

/// The training form of `conv2d_max_pool` (ReLU or no activation): one recorded op whose
/// forward is conv2d's then max pooling's, keeping the convolution's output for the backward,
/// and whose backward sends the pooled gradient through the pooling and the ReLU in one pass
/// (`cpu::pool::max_pool_backward` with `relu`) before the convolution's gradients. The values
/// and gradients are those of the two ops; what goes is a pass over the convolution's output and
/// its gradient (the largest tensors of an image model) and their allocations.
///
/// The convolution's output is computed only over the rows and columns the pooling windows read
/// (`pooled_extent`): a 'valid' 2x2 pooling of an odd-sized output leaves out the last row and
/// column, whose gradient is zero, so all three convolution passes skip them (W3's second
/// convolution: 100 of its 121 pixels per image).
fn run_max_pooled(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: Activation, geo: ConvGeometry, pool_geo: PoolGeometry) -> Result<Tensor> {
    let (out_h, out_w) = pooled_extent(&pool_geo);
    let geo = ConvGeometry { out_h, out_w, ..geo };
    let pool_geo = PoolGeometry { in_h: out_h, in_w: out_w, ..pool_geo };
    if conv_pool_training::applies(&geo, &pool_geo) {
        return run_max_pooled_by_images(x, kernel, bias, activation, geo, pool_geo);
    }
    let (rows, width) = (geo.batch * geo.out_h * geo.out_w, geo.out_c);
    let (y, _) = forward_values(&geo, x, kernel, bias, DenseActivation::Elementwise(activation), &CONV, false, rows, width);
    let pooled = max_pool(&pool_geo, &y);
    let shape = [geo.batch, pool_geo.out_h, pool_geo.out_w, geo.out_c];
    let (needs, has_bias, relu) = ([x.requires_grad(), kernel.requires_grad()], bias.is_some(), activation == Activation::Relu);
    Ok(record("conv2d_max_pool", pooled, &shape, &with_bias(x, kernel, bias), move |out| {
        let (x, kernel) = (x.detach(), kernel.detach());
        move |g: &Tensor| {
            let dz = max_pool_backward(&pool_geo, &y, out.cpu_values().as_slice(), g.cpu_values().as_slice(), relu);
            operand_grads(&geo, &CONV, &x, &kernel, &dz, needs, has_bias, rows, width)
        }
    }))
}

/// `run_max_pooled` on small images with disjoint windows (`cpu::conv_pool_training`): the
/// convolution's output and its gradient stay in each worker's cache; the op keeps the pooled
/// values and one byte per pooled value for its backward.
fn run_max_pooled_by_images(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: Activation, geo: ConvGeometry, pool_geo: PoolGeometry) -> Result<Tensor> {
    let relu = activation == Activation::Relu;
    let bias_values = bias.map(Tensor::to_vec);
    let pooled = conv_pool_training::forward(&geo, &pool_geo, x.cpu_values().as_slice(), kernel.cpu_values().as_slice(), bias_values.as_deref(), relu);
    let shape = [geo.batch, pool_geo.out_h, pool_geo.out_w, geo.out_c];
    let wants = [x.requires_grad(), kernel.requires_grad(), bias.is_some_and(Tensor::requires_grad)];
    let (has_bias, argmax) = (bias.is_some(), pooled.argmax);
    Ok(record("conv2d_max_pool", pooled.values, &shape, &with_bias(x, kernel, bias), move |out| {
        let (x, kernel) = (x.detach(), kernel.detach());
        move |g: &Tensor| {
            let (xv, kv, pooled) = (x.cpu_values(), kernel.cpu_values(), out.cpu_values());
            let grads = conv_pool_training::backward(&geo, &pool_geo, xv.as_slice(), kv.as_slice(), pooled.as_slice(), &argmax, g.cpu_values().as_slice(), relu, wants);
            let mut out = vec![grads.input.map(|d| Tensor::from_vec(d, x.shape())).transpose()?, grads.kernel.map(|d| Tensor::from_vec(d, kernel.shape())).transpose()?];
            if has_bias {
                out.push(grads.bias.map(|d| Tensor::from_vec(d, &[geo.out_c])).transpose()?);
            }
            Ok(out)
        }
    }))
}

/// The rows and columns `[0, h) x [0, w)` of the pooled input that hold every window (windows
/// are clipped to the input, so none reads past the last one's end).
fn pooled_extent(pool: &PoolGeometry) -> (usize, usize) {
    if pool.out_h == 0 || pool.out_w == 0 {
        return (0, 0);
    }
    let (_, rows, _, cols) = pool.window(pool.out_h - 1, pool.out_w - 1);
    (rows, cols)
}

/// Keras's output length of a transposed convolution along one axis.
pub fn transpose_length(input: usize, kernel: usize, stride: usize, dilation: usize, padding: Padding, output_padding: Option<usize>) -> usize {
    let span = dilation * (kernel - 1) + 1;
    match output_padding {
        None => match padding {
            Padding::Valid | Padding::Causal => input * stride + span.saturating_sub(stride),
            Padding::Same => input * stride,
        },
        Some(extra) => {
            let pad = if padding == Padding::Same { span / 2 } else { 0 };
            ((input.max(1) - 1) * stride + span + extra).saturating_sub(2 * pad)
        }
    }
}

/// Transposed convolution of NHWC `x` with a Keras (kh, kw, filters, C) kernel: the adjoint of
/// `conv2d` from (N, H', W', filters) to `x`'s shape, then bias and activation.
///
/// # Errors
/// As `conv2d`, and `Shape` when the requested output size does not map back onto `x`.
pub fn conv2d_transpose(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, spec: &ConvSpec, output_padding: Option<[usize; 2]>, activation: DenseActivation) -> Result<Tensor> {
    let op = "conv2d_transpose";
    let operands = with_bias(x, kernel, bias);
    super::same_device(op, &operands)?;
    if x.ndim() != 4 || kernel.ndim() != 4 || x.shape()[3] != kernel.shape()[3] {
        return Err(Error::shape(op, "a 4-D input whose channels match the kernel's last axis", format!("input {} and kernel {}", fmt_shape(x.shape()), fmt_shape(kernel.shape()))));
    }
    let (ks, xs) = (kernel.shape(), x.shape());
    if spec.strides.contains(&0) || spec.dilation.contains(&0) || ks[0] == 0 || ks[1] == 0 {
        return Err(Error::value(op, "kernel size, strides and dilation of at least 1", format!("kernel {}, strides {:?}, dilation {:?}", fmt_shape(ks), spec.strides, spec.dilation)));
    }
    // Keras's rule: the full transposed output ((in - 1) * stride + span) is cropped to the
    // output length, `max(0, full - out) / 2` from the start. As a convolution from the output
    // back to `x`, that crop is the padding before.
    let axis = |a: usize| {
        let span = spec.dilation[a] * (ks[a] - 1) + 1;
        let out = transpose_length(xs[a + 1], ks[a], spec.strides[a], spec.dilation[a], spec.padding, output_padding.map(|p| p[a]));
        let full = (xs[a + 1].max(1) - 1) * spec.strides[a] + span;
        (out, full.saturating_sub(out) / 2)
    };
    let ((out_h, pad_top), (out_w, pad_left)) = (axis(0), axis(1));
    let geo = ConvGeometry {
        batch: xs[0],
        in_h: out_h,
        in_w: out_w,
        in_c: ks[2],
        kernel_h: ks[0],
        kernel_w: ks[1],
        out_c: ks[3],
        groups: 1,
        stride_h: spec.strides[0],
        stride_w: spec.strides[1],
        dilation_h: spec.dilation[0],
        dilation_w: spec.dilation[1],
        pad_top,
        pad_left,
        out_h: xs[1],
        out_w: xs[2],
    };
    check_bias(op, bias, geo.in_c)?;
    let shape = [geo.batch, out_h, out_w, geo.in_c];
    if super::on_gpu(&operands) {
        return run_gpu(op, x, kernel, bias, activation, geo, shape, GPU_TRANSPOSED);
    }
    run(op, x, kernel, bias, activation, geo, shape, TRANSPOSED)
}
