//! Normalisation ops: batch normalisation (per channel along `axis`, statistics over every other
//! axis) and layer normalisation (per sample over the last axis), fused forward and backward.

use super::{record, record_gpu};
use crate::error::{Error, Result};
use crate::gpu::kernels::{self, ChannelSplit};
use crate::tensor::shape::{fmt_shape, normalize_axis};
use crate::tensor::{Device, Tensor};

/// `(outer, channels, inner)` around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

fn check_shape(op: &str, p: Option<&Tensor>, channels: usize, name: &str) -> Result<()> {
    match p {
        Some(t) if t.shape() != [channels] => Err(Error::shape(op, format!("{name} of shape ({channels},)"), fmt_shape(t.shape()))),
        _ => Ok(()),
    }
}

fn check_param(op: &str, p: Option<&Tensor>, channels: usize, name: &str) -> Result<Option<Vec<f32>>> {
    check_shape(op, p, channels, name)?;
    Ok(p.map(Tensor::to_vec))
}

/// Per-channel sums `(sum g, sum g * xhat)` over `[outer, channels, inner]` data.
fn channel_sums(g: &[f32], xhat: &[f32], outer: usize, channels: usize, inner: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut sg, mut sgx) = (vec![0f64; channels], vec![0f64; channels]);
    for o in 0..outer {
        for c in 0..channels {
            let base = (o * channels + c) * inner;
            for i in base..base + inner {
                sg[c] += g[i] as f64;
                sgx[c] += (g[i] * xhat[i]) as f64;
            }
        }
    }
    (sg, sgx)
}

/// Batch statistics of a training step: per-channel mean and biased variance, on the input's
/// device (so a GPU layer updates its moving statistics without a read-back).
pub struct BatchStats {
    pub mean: Tensor,
    pub variance: Tensor,
}

/// Batch normalisation. With `moving = Some((mean, variance))` it normalises with those (inference);
/// otherwise with the batch's own statistics, which it also returns (training).
///
/// # Errors
/// `Axis` for a bad axis; `Shape` when gamma, beta or the statistics do not have one value per
/// channel; `Device` when the operands are on different devices.
pub fn batch_norm(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    moving: Option<(&Tensor, &Tensor)>,
    axis: isize,
    epsilon: f32,
) -> Result<(Tensor, Option<BatchStats>)> {
    let mut operands = vec![x];
    operands.extend(gamma);
    operands.extend(beta);
    if let Some((m, v)) = moving {
        operands.extend([m, v]);
    }
    super::same_device("batch_normalization", &operands)?;
    if x.device() == Device::Gpu {
        return batch_norm_gpu(x, gamma, beta, moving, axis, epsilon);
    }
    let op = "batch_normalization";
    let axis = normalize_axis(op, axis, x.ndim())?;
    let (outer, channels, inner) = split(x.shape(), axis);
    let n = (outer * inner).max(1);
    let gamma_v = check_param(op, gamma, channels, "gamma")?;
    let beta_v = check_param(op, beta, channels, "beta")?;
    let xv = x.to_vec();
    let (mean, variance, stats) = match moving {
        Some((m, v)) => {
            let m = check_param(op, Some(m), channels, "moving_mean")?.unwrap_or_default();
            let v = check_param(op, Some(v), channels, "moving_variance")?.unwrap_or_default();
            (m, v, None)
        }
        None => {
            let (mut mean, mut var) = (vec![0f64; channels], vec![0f64; channels]);
            for o in 0..outer {
                for c in 0..channels {
                    let base = (o * channels + c) * inner;
                    mean[c] += xv[base..base + inner].iter().map(|&v| v as f64).sum::<f64>();
                }
            }
            mean.iter_mut().for_each(|m| *m /= n as f64);
            for o in 0..outer {
                for c in 0..channels {
                    let base = (o * channels + c) * inner;
                    var[c] += xv[base..base + inner].iter().map(|&v| (v as f64 - mean[c]).powi(2)).sum::<f64>();
                }
            }
            var.iter_mut().for_each(|v| *v /= n as f64);
            let mean: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
            let var: Vec<f32> = var.iter().map(|&v| v as f32).collect();
            let stats = BatchStats { mean: Tensor::from_vec(mean.clone(), &[channels])?, variance: Tensor::from_vec(var.clone(), &[channels])? };
            (mean, var, Some(stats))
        }
    };
    let inv: Vec<f32> = variance.iter().map(|&v| 1.0 / (v + epsilon).sqrt()).collect();
    let mut xhat = xv;
    let mut y = vec![0f32; xhat.len()];
    for o in 0..outer {
        for c in 0..channels {
            let (g, b) = (gamma_v.as_ref().map_or(1.0, |g| g[c]), beta_v.as_ref().map_or(0.0, |b| b[c]));
            let base = (o * channels + c) * inner;
            for i in base..base + inner {
                xhat[i] = (xhat[i] - mean[c]) * inv[c];
                y[i] = g * xhat[i] + b;
            }
        }
    }
    let training = stats.is_some();
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    let out = record(op, y, x.shape(), &inputs, move |_| {
        let shape = x.shape().to_vec();
        move |g: &Tensor| {
            let gv = g.to_vec();
            let (sg, sgx) = channel_sums(&gv, &xhat, outer, channels, inner);
            let mut dx = vec![0f32; gv.len()];
            for o in 0..outer {
                for c in 0..channels {
                    let scale = gamma_v.as_ref().map_or(1.0, |g| g[c]) * inv[c];
                    let base = (o * channels + c) * inner;
                    for i in base..base + inner {
                        dx[i] = if training {
                            // d/dx through the batch mean and variance as well.
                            scale * (gv[i] - (sg[c] / n as f64) as f32 - xhat[i] * (sgx[c] / n as f64) as f32)
                        } else {
                            scale * gv[i]
                        };
                    }
                }
            }
            let mut grads = vec![Some(Tensor::from_vec(dx, &shape)?)];
            if has_gamma {
                grads.push(Some(Tensor::from_vec(sgx.iter().map(|&v| v as f32).collect(), &[channels])?));
            }
            if has_beta {
                grads.push(Some(Tensor::from_vec(sg.iter().map(|&v| v as f32).collect(), &[channels])?));
            }
            Ok(grads)
        }
    });
    Ok((out, stats))
}

/// Layer normalisation over the last axis: each sample's features to zero mean and unit variance,
/// then `gamma * xhat + beta`.
///
/// # Errors
/// `Shape` when gamma or beta do not match the last axis.
pub fn layer_norm(x: &Tensor, gamma: Option<&Tensor>, beta: Option<&Tensor>, epsilon: f32) -> Result<Tensor> {
    let mut operands = vec![x];
    operands.extend(gamma);
    operands.extend(beta);
    super::same_device("layer_normalization", &operands)?;
    let op = "layer_normalization";
    if x.ndim() == 0 {
        return Err(Error::shape(op, "an input with at least one axis", "()"));
    }
    let width = x.shape()[x.ndim() - 1];
    let rows = if width == 0 { 0 } else { x.numel() / width };
    if x.device() == Device::Gpu {
        return layer_norm_gpu(x, gamma, beta, epsilon, rows, width);
    }
    let gamma_v = check_param(op, gamma, width, "gamma")?;
    let beta_v = check_param(op, beta, width, "beta")?;
    let mut xhat = x.to_vec();
    let mut inv = vec![0f32; rows];
    let mut y = vec![0f32; xhat.len()];
    for r in 0..rows {
        let row = &mut xhat[r * width..(r + 1) * width];
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / width as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / width as f64;
        inv[r] = 1.0 / ((var as f32) + epsilon).sqrt();
        for (j, v) in row.iter_mut().enumerate() {
            *v = (*v - mean as f32) * inv[r];
            y[r * width + j] = gamma_v.as_ref().map_or(1.0, |g| g[j]) * *v + beta_v.as_ref().map_or(0.0, |b| b[j]);
        }
    }
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    Ok(record(op, y, x.shape(), &inputs, move |_| {
        let shape = x.shape().to_vec();
        move |g: &Tensor| {
            let gv = g.to_vec();
            let mut dx = vec![0f32; gv.len()];
            let (mut dgamma, mut dbeta) = (vec![0f64; width], vec![0f64; width]);
            for r in 0..rows {
                let (gr, xr) = (&gv[r * width..(r + 1) * width], &xhat[r * width..(r + 1) * width]);
                let dxhat: Vec<f32> = (0..width).map(|j| gr[j] * gamma_v.as_ref().map_or(1.0, |g| g[j])).collect();
                let sum: f32 = dxhat.iter().sum();
                let dot: f32 = dxhat.iter().zip(xr).map(|(a, b)| a * b).sum();
                for j in 0..width {
                    dx[r * width + j] = inv[r] * (dxhat[j] - sum / width as f32 - xr[j] * dot / width as f32);
                    dgamma[j] += (gr[j] * xr[j]) as f64;
                    dbeta[j] += gr[j] as f64;
                }
            }
            let mut grads = vec![Some(Tensor::from_vec(dx, &shape)?)];
            if has_gamma {
                grads.push(Some(Tensor::from_vec(dgamma.iter().map(|&v| v as f32).collect(), &[width])?));
            }
            if has_beta {
                grads.push(Some(Tensor::from_vec(dbeta.iter().map(|&v| v as f32).collect(), &[width])?));
            }
            Ok(grads)
        }
    }))
}

/// Gamma (ones when absent) and beta (zeros when absent) as GPU tensors of `len` values.
fn gpu_affine(op: &str, gamma: Option<&Tensor>, beta: Option<&Tensor>, len: usize) -> Result<(Tensor, Tensor)> {
    let gamma = match gamma {
        Some(g) => g.detach(),
        None => kernels::filled(op, len, 1.0)?,
    };
    let beta = match beta {
        Some(b) => b.detach(),
        None => kernels::filled(op, len, 0.0)?,
    };
    Ok((gamma, beta))
}

/// `batch_norm` on the GPU: statistics, output and backward are kernels (`shaders/norm.wgsl`);
/// the statistics stay packed in one buffer (means, then variances) that the backward reads.
fn batch_norm_gpu(x: &Tensor, gamma: Option<&Tensor>, beta: Option<&Tensor>, moving: Option<(&Tensor, &Tensor)>, axis: isize, epsilon: f32) -> Result<(Tensor, Option<BatchStats>)> {
    let op = "batch_normalization";
    let axis = normalize_axis(op, axis, x.ndim())?;
    let (outer, channels, inner) = split(x.shape(), axis);
    let shape = ChannelSplit { outer, channels, inner };
    check_shape(op, gamma, channels, "gamma")?;
    check_shape(op, beta, channels, "beta")?;
    let (stats, training) = match moving {
        Some((m, v)) => {
            check_shape(op, Some(m), channels, "moving_mean")?;
            check_shape(op, Some(v), channels, "moving_variance")?;
            (kernels::concat_flat(op, &[m, v])?, false)
        }
        None => (kernels::batch_norm_stats(op, x, shape)?, true),
    };
    let (gamma_t, beta_t) = gpu_affine(op, gamma, beta, channels)?;
    let y = kernels::batch_norm_apply(op, x, &stats, &gamma_t, &beta_t, shape, epsilon)?;
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    let saved = (x.detach(), stats.clone());
    let out = record_gpu(op, y, x.shape(), &inputs, move |_| {
        move |g: &Tensor| {
            let (x, stats) = (&saved.0, &saved.1);
            let (dx, sum_g, sum_gx) = kernels::batch_norm_backward(op, g, x, stats, &gamma_t, shape, epsilon, training)?;
            let mut grads = vec![Some(Tensor::from_gpu(dx, x.shape()))];
            if has_gamma {
                grads.push(Some(Tensor::from_gpu(sum_gx, &[channels])));
            }
            if has_beta {
                grads.push(Some(Tensor::from_gpu(sum_g, &[channels])));
            }
            Ok(grads)
        }
    });
    let stats = training.then(|| BatchStats { mean: kernels::part(&stats, 0, channels), variance: kernels::part(&stats, channels, channels) });
    Ok((out, stats))
}

/// `layer_norm` on the GPU: one workgroup per row forward and for the input gradient, one per
/// column for gamma's and beta's (`shaders/norm.wgsl`).
fn layer_norm_gpu(x: &Tensor, gamma: Option<&Tensor>, beta: Option<&Tensor>, epsilon: f32, rows: usize, width: usize) -> Result<Tensor> {
    let op = "layer_normalization";
    check_shape(op, gamma, width, "gamma")?;
    check_shape(op, beta, width, "beta")?;
    let (gamma_t, beta_t) = gpu_affine(op, gamma, beta, width)?;
    let (y, stats) = kernels::layer_norm_forward(op, x, &gamma_t, &beta_t, rows, width, epsilon)?;
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
    let saved = x.detach();
    Ok(record_gpu(op, y, x.shape(), &inputs, move |_| {
        move |g: &Tensor| {
            let (dx, dgamma, dbeta) = kernels::layer_norm_backward(op, g, &saved, &stats, &gamma_t, rows, width)?;
            let mut grads = vec![Some(Tensor::from_gpu(dx, saved.shape()))];
            if has_gamma {
                grads.push(Some(Tensor::from_gpu(dgamma, &[width])));
            }
            if has_beta {
                grads.push(Some(Tensor::from_gpu(dbeta, &[width])));
            }
            Ok(grads)
        }
    }))
}
