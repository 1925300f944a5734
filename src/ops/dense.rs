//! The fused dense op: `activation(x @ kernel + bias)` in one GEMM and one pass over the output,
//! and a backward of one pass plus two GEMMs. Keras layout: kernel is (in, out).

use super::{record, record_gpu};
use crate::cpu::activation::Activation;
use crate::cpu::gemm::{gemm, MatRef};
use crate::cpu::{self, for_each_row};
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Storage, Tensor};

/// The activation fused into a dense op: elementwise, or softmax over the units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DenseActivation {
    Elementwise(Activation),
    Softmax,
}

/// `t` readable as a `rows x cols` matrix (a transposed 2-D tensor is read without a copy), and
/// its number of rows.
fn as_matrix(t: &Tensor) -> (Tensor, usize) {
    let t = if t.ndim() == 2 || t.layout().is_contiguous() { t.clone() } else { super::contiguous(t).expect("copy of a valid tensor") };
    // The leading axes, not numel / cols: that is 0 for an input with no features (cols = 0).
    let rows = t.shape()[..t.ndim().saturating_sub(1)].iter().product();
    (t, rows)
}

fn mat<'a>(t: &Tensor, buf: &'a [f32], cols: usize) -> MatRef<'a> {
    let l = t.layout();
    if l.ndim() == 2 {
        MatRef { data: buf, offset: l.offset, row_stride: l.strides[0], col_stride: l.strides[1] }
    } else {
        MatRef { data: buf, offset: l.offset, row_stride: cols as isize, col_stride: 1 }
    }
}

/// `activation(x @ kernel + bias)` for `x` of shape (..., in), `kernel` (in, out), `bias` (out,).
///
/// # Errors
/// `Shape` when the kernel is not 2-D, `x`'s last axis differs from the kernel's rows, or the
/// bias length differs from the kernel's columns.
pub fn dense(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation) -> Result<Tensor> {
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    super::same_device("dense", &inputs)?;
    if kernel.ndim() != 2 {
        return Err(Error::shape("dense", "a 2-D kernel (in, out)", fmt_shape(kernel.shape())));
    }
    let (n_in, n_out) = (kernel.shape()[0], kernel.shape()[1]);
    if x.ndim() == 0 || x.shape()[x.ndim() - 1] != n_in {
        return Err(Error::shape("dense", format!("input with last axis {n_in}"), format!("shape {}", fmt_shape(x.shape()))));
    }
    if let Some(b) = bias {
        if b.shape() != [n_out] {
            return Err(Error::shape("dense", format!("bias of shape ({n_out},)"), fmt_shape(b.shape())));
        }
    }
    if super::on_gpu(&inputs) {
        return dense_on_gpu(x, kernel, bias, activation, n_in, n_out);
    }
    let (xm, rows) = as_matrix(x);
    let mut z = vec![0.0f32; rows * n_out];
    {
        let (sx, sk) = (xm.storage(), kernel.storage());
        let (Storage::Cpu(bx), Storage::Cpu(bk)) = (&*sx, &*sk) else { unreachable!("GPU operands took dense_on_gpu") };
        gemm(rows, n_out, n_in, mat(&xm, bx.as_slice(), n_in), mat(kernel, bk.as_slice(), n_out), &mut z, false);
    }
    let needs_grad = crate::autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let (y, pre) = bias_activation(z, n_out, bias, activation, needs_grad);
    let mut out_shape = x.shape().to_vec();
    *out_shape.last_mut().expect("x has an axis") = n_out;
    let has_bias = bias.is_some();
    // Gradients only for inputs that need them: the first layer's dx is a whole GEMM of waste.
    let (x_needs, kernel_needs) = (x.requires_grad(), kernel.requires_grad());
    Ok(record("dense", y, &out_shape, &inputs, move |out| {
        let (xm, kernel) = (xm.detach(), kernel.detach());
        move |g: &Tensor| {
            let dz = activation_backward(g, &out, pre.as_deref(), activation, rows, n_out);
            let (sx, sk) = (xm.storage(), kernel.storage());
            let (Storage::Cpu(bx), Storage::Cpu(bk)) = (&*sx, &*sk) else { unreachable!("GPU operands took dense_on_gpu") };
            let dzm = MatRef::row_major(&dz, n_out);
            // dW = x^T dz: x read transposed through its strides.
            let dw = if kernel_needs {
                let mut dw = vec![0.0f32; n_in * n_out];
                gemm(n_in, n_out, rows, mat(&xm, bx.as_slice(), n_in).t(), dzm, &mut dw, false);
                Some(Tensor::from_vec(dw, kernel.shape())?)
            } else {
                None
            };
            // dx = dz W^T.
            let dx = if x_needs {
                let mut dx = vec![0.0f32; rows * n_in];
                gemm(rows, n_in, n_out, dzm, mat(&kernel, bk.as_slice(), n_out).t(), &mut dx, false);
                Some(Tensor::from_vec(dx, xm.shape())?)
            } else {
                None
            };
            let mut grads = vec![dx, dw];
            if has_bias {
                grads.push(Some(bias_grad(&dz, rows, n_out)?));
            }
            Ok(grads)
        }
    }))
}

/// Dense on the GPU: one GEMM whose epilogue adds the bias and, for the activations whose
/// derivative needs only the output (ReLU, sigmoid, tanh), applies the activation too; the others
/// and softmax run as their own op on the GEMM's result. Backward: the activation's derivative
/// from the output, then two GEMMs and a column sum (GPU ops).
fn dense_on_gpu(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation, n_in: usize, n_out: usize) -> Result<Tensor> {
    let (xm, rows) = as_matrix(x);
    let mut out_shape = x.shape().to_vec();
    *out_shape.last_mut().expect("x has an axis") = n_out;
    if rows * n_in * n_out == 0 {
        return dense_composed(x, kernel, bias, activation, rows, n_in, out_shape);
    }
    // The GEMM reads its operands through non-negative strides.
    let readable = |t: Tensor| if t.layout().strides.iter().all(|&s| s >= 0) { Ok(t) } else { super::contiguous(&t) };
    let (xm, km) = (readable(xm)?, readable(kernel.clone())?);
    let fused = match activation {
        DenseActivation::Elementwise(a) if !a.derivative_needs_input() => a,
        _ => Activation::Linear,
    };
    let buffer = crate::gpu::kernels::dense("dense", rows, n_in, n_out, &matrix_view(&xm, n_in), &matrix_view(&km, n_out), bias, fused)?;
    let mut inputs = vec![x, kernel];
    inputs.extend(bias);
    let (x_needs, kernel_needs, has_bias) = (x.requires_grad(), kernel.requires_grad(), bias.is_some());
    let x_shape = x.shape().to_vec();
    let z = record_gpu("dense", buffer, &out_shape, &inputs, move |out| {
        let (xm, km) = (xm.detach(), km.detach());
        move |g: &Tensor| {
            let g = super::reshape(g, &[rows, n_out])?;
            let dz = if fused == Activation::Linear {
                g
            } else {
                // ReLU, sigmoid and tanh: the derivative reads only the output.
                let y = super::reshape(&out, &[rows, n_out])?;
                super::unary::activation_grad(fused, &y, &y, &g)?
            };
            let dx = if x_needs { Some(super::reshape(&super::matmul(&dz, &super::transpose(&km, None)?)?, &x_shape)?) } else { None };
            let dw = if kernel_needs { Some(super::matmul(&super::transpose(&super::reshape(&xm, &[rows, n_in])?, None)?, &dz)?) } else { None };
            let mut grads = vec![dx, dw];
            if has_bias {
                grads.push(Some(super::sum(&dz, Some(&[0]), false)?));
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

/// `t` (2-D, or contiguous with `cols` columns) as the GEMM kernel reads a matrix.
fn matrix_view(t: &Tensor, cols: usize) -> crate::gpu::kernels::MatView<'_> {
    let l = t.layout();
    let (row_stride, col_stride) = if l.ndim() == 2 { (l.strides[0], l.strides[1]) } else { (cols as isize, 1) };
    crate::gpu::kernels::MatView { tensor: t, offset: l.offset, row_stride, col_stride, batch_stride: 0 }
}

/// Dense from separate GPU ops (GEMM, broadcast add, activation), for the empty cases the fused
/// GEMM does not take (no rows, inputs or units).
fn dense_composed(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, activation: DenseActivation, rows: usize, n_in: usize, out_shape: Vec<usize>) -> Result<Tensor> {
    let x2 = if x.ndim() == 2 { x.clone() } else { super::reshape(x, &[rows, n_in])? };
    let mut z = super::matmul(&x2, kernel)?;
    if let Some(b) = bias {
        z = super::add(&z, b)?;
    }
    let y = match activation {
        DenseActivation::Elementwise(Activation::Linear) => z,
        DenseActivation::Elementwise(a) => super::activation(&z, a)?,
        DenseActivation::Softmax => super::softmax(&z, -1)?,
    };
    if y.shape() == out_shape.as_slice() {
        Ok(y)
    } else {
        super::reshape(&y, &out_shape)
    }
}

/// The epilogue shared by dense and convolution: add the bias to each row of `z` (rows x width),
/// apply the activation in place. Returns the output and, when a backward will need it, the
/// pre-activation.
pub(crate) fn bias_activation(mut z: Vec<f32>, width: usize, bias: Option<&Tensor>, activation: DenseActivation, needs_grad: bool) -> (Vec<f32>, Option<Vec<f32>>) {
    let bias = bias.map(|b| b.to_vec());
    let keep_z = matches!(activation, DenseActivation::Elementwise(a) if a.derivative_needs_input());
    let add_bias = |row: &mut [f32]| {
        if let Some(b) = &bias {
            row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
        }
    };
    let pre = if keep_z && needs_grad {
        for_each_row(&mut z, width, |_, row| add_bias(row));
        Some(z.clone())
    } else {
        None
    };
    let bias_done = pre.is_some();
    // One pass over the output: bias (unless done above) and activation together, the
    // activation over whole blocks of rows (per row, its dispatch cost more than the work on
    // narrow outputs: a 32-channel convolution's rows are 32 values).
    let rows_per_block = (crate::cpu::CHUNK / width.max(1)).max(1);
    let parallel = z.len() >= crate::cpu::PARALLEL_MIN_ELEMENTS;
    crate::cpu::parallel::for_each_chunk_mut(&mut z, rows_per_block * width.max(1), parallel, |_, block| {
        if !bias_done {
            block.chunks_mut(width.max(1)).for_each(add_bias);
        }
        match activation {
            DenseActivation::Elementwise(Activation::Linear) => {}
            DenseActivation::Elementwise(a) => a.apply_in_place(block),
            DenseActivation::Softmax => {
                for row in block.chunks_mut(width.max(1)) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut total = 0.0;
                    row.iter_mut().for_each(|v| {
                        *v = (*v - max).exp();
                        total += *v;
                    });
                    row.iter_mut().for_each(|v| *v /= total);
                }
            }
        }
    });
    (z, pre)
}

/// Gradient before the activation, from the output gradient `g`, the output and (when the
/// activation needs it) the pre-activation.
pub(crate) fn activation_backward(g: &Tensor, out: &Tensor, pre: Option<&[f32]>, activation: DenseActivation, rows: usize, width: usize) -> Vec<f32> {
    let (gv, yv) = (g.cpu_values(), out.cpu_values());
    match activation {
        DenseActivation::Elementwise(Activation::Linear) => gv.as_slice().to_vec(),
        // The common cases get their own closures, so the loops vectorise.
        DenseActivation::Elementwise(Activation::Relu) => cpu::zip_map(gv.as_slice(), yv.as_slice(), |g, y| if y > 0.0 { g } else { 0.0 }),
        DenseActivation::Elementwise(Activation::Sigmoid) => cpu::zip_map(gv.as_slice(), yv.as_slice(), |g, y| g * y * (1.0 - y)),
        DenseActivation::Elementwise(Activation::Tanh) => cpu::zip_map(gv.as_slice(), yv.as_slice(), |g, y| g * (1.0 - y * y)),
        DenseActivation::Elementwise(a) => match pre {
            Some(z) => cpu::zip3_map(gv.as_slice(), z, yv.as_slice(), |g, x, y| g * a.derivative(x, y)),
            None => cpu::zip_map(gv.as_slice(), yv.as_slice(), |g, y| g * a.derivative(0.0, y)),
        },
        DenseActivation::Softmax => cpu::softmax::softmax_backward(yv.as_slice(), gv.as_slice(), rows, width, 1),
    }
}

/// A bias gradient: column sums of `dz` (rows x width).
pub(crate) fn bias_grad(dz: &[f32], rows: usize, width: usize) -> crate::Result<Tensor> {
    Tensor::from_vec(cpu::reduce::sum_axis(dz, 1, rows, width), &[width])
}
