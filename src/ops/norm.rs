//! Normalisation ops: batch normalisation (per channel along `axis`, statistics over every other
//! axis) and layer normalisation (per sample over the last axis), fused forward and backward.

use super::record;
use crate::error::{Error, Result};
use crate::tensor::shape::{fmt_shape, normalize_axis};
use crate::tensor::{Device, Tensor};

/// `(outer, channels, inner)` around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

fn check_param(op: &str, p: Option<&Tensor>, channels: usize, name: &str) -> Result<Option<Vec<f32>>> {
    match p {
        None => Ok(None),
        Some(t) if t.shape() == [channels] => Ok(Some(t.to_vec())),
        Some(t) => Err(Error::shape(op, format!("{name} of shape ({channels},)"), fmt_shape(t.shape()))),
    }
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

/// Batch statistics of a training step: per-channel mean and biased variance.
pub struct BatchStats {
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

/// Batch normalisation. With `moving = Some((mean, variance))` it normalises with those (inference);
/// otherwise with the batch's own statistics, which it also returns (training).
///
/// # Errors
/// `Axis` for a bad axis; `Shape` when gamma, beta or the statistics do not have one value per
/// channel.
pub fn batch_norm(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    moving: Option<(&Tensor, &Tensor)>,
    axis: isize,
    epsilon: f32,
) -> Result<(Tensor, Option<BatchStats>)> {
    if super::on_gpu(&[x]) {
        // No GPU kernel yet: the operands visit the CPU (differentiably), the output returns.
        let cpu = |t: &Tensor| t.to_device(Device::Cpu);
        let (xc, gc, bc) = (cpu(x)?, gamma.map(cpu).transpose()?, beta.map(cpu).transpose()?);
        let mc = match moving {
            Some((m, v)) => Some((cpu(m)?, cpu(v)?)),
            None => None,
        };
        super::count_fallback("batch_normalization");
        let (y, stats) = batch_norm(&xc, gc.as_ref(), bc.as_ref(), mc.as_ref().map(|(m, v)| (m, v)), axis, epsilon)?;
        return Ok((y.to_device(Device::Gpu)?, stats));
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
            (mean.clone(), var.clone(), Some(BatchStats { mean, variance: var }))
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
    if let Some(out) = super::via_cpu("layer_normalization", &operands, |t| {
        let mut rest = t[1..].iter();
        layer_norm(&t[0], gamma.and_then(|_| rest.next()), beta.and_then(|_| rest.next()), epsilon)
    })? {
        return Ok(out);
    }
    let op = "layer_normalization";
    if x.ndim() == 0 {
        return Err(Error::shape(op, "an input with at least one axis", "()"));
    }
    let width = x.shape()[x.ndim() - 1];
    let rows = if width == 0 { 0 } else { x.numel() / width };
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
