//! Fused loss ops with Keras 3 semantics. Each returns the per-sample loss, the mean over the last
//! axis (shape `y_pred.shape[:-1]`); the `Loss` classes apply the reduction. Probabilities are
//! clipped to `[EPSILON, 1 - EPSILON]` as Keras does, and categorical probabilities are first
//! renormalised to sum to one. Class labels for the sparse loss are integers.

use super::{loss_gpu, record, same_device};
use crate::cpu::activation::sigmoid;
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};

/// Keras's `backend.epsilon()`.
pub const EPSILON: f32 = 1e-7;

fn check_same(op: &str, y_true: &Tensor, y_pred: &Tensor) -> Result<(usize, usize)> {
    same_device(op, &[y_true, y_pred])?;
    if y_true.shape() != y_pred.shape() {
        return Err(Error::shape(op, format!("y_true with the shape of y_pred {}", fmt_shape(y_pred.shape())), fmt_shape(y_true.shape())));
    }
    if y_pred.ndim() == 0 {
        return Err(Error::shape(op, "y_pred with at least one axis", "()"));
    }
    let width = y_pred.shape()[y_pred.ndim() - 1];
    Ok((per_sample_shape(y_pred).iter().product(), width))
}

fn per_sample_shape(y_pred: &Tensor) -> Vec<usize> {
    y_pred.shape()[..y_pred.ndim() - 1].to_vec()
}

/// A per-row loss from a per-element term `f(t, p) -> (loss, dloss/dt, dloss/dp)`, averaged over
/// the last axis.
fn elementwise_loss(
    op: &'static str,
    y_true: &Tensor,
    y_pred: &Tensor,
    gpu_term: impl FnOnce() -> loss_gpu::Term,
    f: impl Fn(f32, f32) -> (f32, f32, f32) + Send + Sync + Copy + 'static,
) -> Result<Tensor> {
    let (rows, width) = check_same(op, y_true, y_pred)?;
    if y_pred.device() == Device::Gpu {
        return loss_gpu::elementwise(op, y_true, y_pred, rows, width, &per_sample_shape(y_pred), gpu_term());
    }
    let (tv, pv) = (y_true.cpu_values(), y_pred.cpu_values());
    let (t, p) = (tv.as_slice(), pv.as_slice());
    // An empty last axis gives NaN, as NumPy's and Keras's mean over it.
    let inv = 1.0 / width as f32;
    let losses: Vec<f32> = (0..rows).map(|r| (r * width..(r + 1) * width).map(|i| f(t[i], p[i]).0).sum::<f32>() * inv).collect();
    Ok(record(op, losses, &per_sample_shape(y_pred), &[y_true, y_pred], |_| {
        let (y_true, y_pred) = (y_true.detach(), y_pred.detach());
        move |g: &Tensor| {
            let (tv, pv, gv) = (y_true.cpu_values(), y_pred.cpu_values(), g.cpu_values());
            let (t, p, g) = (tv.as_slice(), pv.as_slice(), gv.as_slice());
            let mut dt = vec![0.0f32; t.len()];
            let mut dp = vec![0.0f32; p.len()];
            for i in 0..p.len() {
                let (_, lt, lp) = f(t[i], p[i]);
                let scale = g[i / width] * inv;
                dt[i] = lt * scale;
                dp[i] = lp * scale;
            }
            Ok(vec![Some(Tensor::from_vec(dt, y_true.shape())?), Some(Tensor::from_vec(dp, y_pred.shape())?)])
        }
    }))
}

/// `mean((y_true - y_pred)^2, axis=-1)`.
pub fn mean_squared_error(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    elementwise_loss("mean_squared_error", y_true, y_pred, loss_gpu::mse, |t, p| {
        let e = p - t;
        (e * e, -2.0 * e, 2.0 * e)
    })
}

/// `mean(|y_true - y_pred|, axis=-1)`.
pub fn mean_absolute_error(y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
    elementwise_loss("mean_absolute_error", y_true, y_pred, loss_gpu::mae, |t, p| {
        let e = p - t;
        let s = if e > 0.0 { 1.0 } else if e < 0.0 { -1.0 } else { 0.0 };
        (e.abs(), -s, s)
    })
}

/// Huber loss: `0.5 e^2` where `|e| <= delta`, else `delta |e| - 0.5 delta^2`, averaged.
///
/// # Errors
/// `Value` when `delta` is not a positive finite number.
pub fn huber(y_true: &Tensor, y_pred: &Tensor, delta: f32) -> Result<Tensor> {
    if !(delta.is_finite() && delta > 0.0) {
        return Err(Error::value("huber", "a positive finite delta", format!("{delta}")));
    }
    elementwise_loss("huber", y_true, y_pred, || loss_gpu::huber(delta), move |t, p| {
        let e = p - t;
        if e.abs() <= delta {
            (0.5 * e * e, -e, e)
        } else {
            let s = e.signum() * delta;
            (delta * e.abs() - 0.5 * delta * delta, -s, s)
        }
    })
}

/// Binary crossentropy, from probabilities (clipped) or logits; `label_smoothing` pulls targets
/// towards 0.5.
///
/// # Errors
/// `Value` when `label_smoothing` is outside [0, 1].
pub fn binary_crossentropy(y_true: &Tensor, y_pred: &Tensor, from_logits: bool, label_smoothing: f32) -> Result<Tensor> {
    check_smoothing("binary_crossentropy", label_smoothing)?;
    let ls = label_smoothing;
    if from_logits {
        elementwise_loss("binary_crossentropy", y_true, y_pred, || loss_gpu::binary_crossentropy(true, ls), move |t, x| {
            let t = t * (1.0 - ls) + 0.5 * ls;
            let loss = x.max(0.0) - x * t + (-x.abs()).exp().ln_1p();
            (loss, -x * (1.0 - ls), sigmoid(x) - t)
        })
    } else {
        elementwise_loss("binary_crossentropy", y_true, y_pred, || loss_gpu::binary_crossentropy(false, ls), move |t, p| {
            let t = t * (1.0 - ls) + 0.5 * ls;
            let c = p.clamp(EPSILON, 1.0 - EPSILON);
            let inside = if (EPSILON..=1.0 - EPSILON).contains(&p) { 1.0 } else { 0.0 };
            let loss = -(t * c.ln() + (1.0 - t) * (1.0 - c).ln());
            let dt = -(c.ln() - (1.0 - c).ln()) * (1.0 - ls);
            (loss, dt, inside * (-(t / c) + (1.0 - t) / (1.0 - c)))
        })
    }
}

fn check_smoothing(op: &str, ls: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&ls) {
        return Err(Error::value(op, "label_smoothing in [0, 1]", format!("{ls}")));
    }
    Ok(())
}

/// Row-wise categorical crossentropy against target rows `t`. Returns (losses, dL/dt, dL/dp)
/// per row, with `dL/dp` for logits or for (renormalised, clipped) probabilities.
fn categorical_rows(t: &[f32], p: &[f32], rows: usize, width: usize, from_logits: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut losses = vec![0.0f32; rows];
    let mut dt = vec![0.0f32; t.len()];
    let mut dp = vec![0.0f32; p.len()];
    for r in 0..rows {
        let (tr, pr) = (&t[r * width..(r + 1) * width], &p[r * width..(r + 1) * width]);
        let (dtr, dpr) = (&mut dt[r * width..(r + 1) * width], &mut dp[r * width..(r + 1) * width]);
        if from_logits {
            let max = pr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = max + pr.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
            let t_total: f32 = tr.iter().sum();
            let mut loss = 0.0;
            for j in 0..width {
                let log_p = pr[j] - lse;
                loss -= tr[j] * log_p;
                dtr[j] = -log_p;
                dpr[j] = log_p.exp() * t_total - tr[j];
            }
            losses[r] = loss;
        } else {
            let total: f32 = pr.iter().sum();
            let mut loss = 0.0;
            let mut weighted = 0.0; // sum_j a_j p_j, a_j = dL/dp_j after the clip
            for j in 0..width {
                let q = pr[j] / total;
                let c = q.clamp(EPSILON, 1.0 - EPSILON);
                loss -= tr[j] * c.ln();
                dtr[j] = -c.ln();
                let a = if (EPSILON..=1.0 - EPSILON).contains(&q) { -tr[j] / c } else { 0.0 };
                dpr[j] = a;
                weighted += a * q;
            }
            for v in dpr.iter_mut() {
                *v = (*v - weighted) / total;
            }
            losses[r] = loss;
        }
    }
    (losses, dt, dp)
}

/// Categorical crossentropy with one-hot (or soft) targets.
///
/// # Errors
/// `Shape` when the shapes differ; `Value` for a bad `label_smoothing`.
pub fn categorical_crossentropy(y_true: &Tensor, y_pred: &Tensor, from_logits: bool, label_smoothing: f32) -> Result<Tensor> {
    check_smoothing("categorical_crossentropy", label_smoothing)?;
    let (rows, width) = check_same("categorical_crossentropy", y_true, y_pred)?;
    if y_pred.device() == Device::Gpu {
        return loss_gpu::categorical(y_true, y_pred, from_logits, label_smoothing);
    }
    let mut t = y_true.to_vec();
    if label_smoothing > 0.0 {
        t.iter_mut().for_each(|v| *v = *v * (1.0 - label_smoothing) + label_smoothing / width as f32);
    }
    let (losses, dt, dp) = categorical_rows(&t, y_pred.cpu_values().as_slice(), rows, width, from_logits);
    let dt_scale = 1.0 - label_smoothing;
    Ok(record("categorical_crossentropy", losses, &per_sample_shape(y_pred), &[y_true, y_pred], |_| {
        let shape = y_pred.shape().to_vec();
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let scale = |d: &[f32], extra: f32| d.iter().enumerate().map(|(i, v)| v * gv.as_slice()[i / width] * extra).collect::<Vec<_>>();
            Ok(vec![Some(Tensor::from_vec(scale(&dt, dt_scale), &shape)?), Some(Tensor::from_vec(scale(&dp, 1.0), &shape)?)])
        }
    }))
}

/// Sparse categorical crossentropy: `labels` holds one class index per row of `y_pred`.
///
/// # Errors
/// `Shape` when the label count differs from the number of rows; `Value` for a label outside
/// `[0, classes)`.
pub fn sparse_categorical_crossentropy(labels: &[i64], y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    if let Some(out) = super::via_cpu("sparse_categorical_crossentropy", &[y_pred], |t| sparse_categorical_crossentropy(labels, &t[0], from_logits))? {
        return Ok(out);
    }
    let op = "sparse_categorical_crossentropy";
    if y_pred.ndim() == 0 {
        return Err(Error::shape(op, "y_pred with a class axis", "()"));
    }
    let width = y_pred.shape()[y_pred.ndim() - 1];
    let rows: usize = per_sample_shape(y_pred).iter().product();
    if labels.len() != rows {
        return Err(Error::shape(op, format!("{rows} labels for y_pred {}", fmt_shape(y_pred.shape())), format!("{} labels", labels.len())));
    }
    if let Some(bad) = labels.iter().find(|&&l| l < 0 || l as usize >= width) {
        return Err(Error::value(op, format!("labels in [0, {width}) for y_pred {}", fmt_shape(y_pred.shape())), format!("label {bad}")));
    }
    let mut t = vec![0.0f32; rows * width];
    for (r, &l) in labels.iter().enumerate() {
        t[r * width + l as usize] = 1.0;
    }
    let (losses, _, dp) = categorical_rows(&t, y_pred.cpu_values().as_slice(), rows, width, from_logits);
    Ok(record(op, losses, &per_sample_shape(y_pred), &[y_pred], |_| {
        let shape = y_pred.shape().to_vec();
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let d = dp.iter().enumerate().map(|(i, v)| v * gv.as_slice()[i / width]).collect::<Vec<_>>();
            Ok(vec![Some(Tensor::from_vec(d, &shape)?)])
        }
    }))
}

/// Sparse categorical crossentropy with the labels as a tensor (floats holding class indices, one
/// per row of `y_pred`). On the GPU the labels stay there (no read-back); `fit` has checked them.
///
/// # Errors
/// As `sparse_categorical_crossentropy`; `DType` for a non-integer label (CPU path).
pub fn sparse_categorical_crossentropy_tensor(y_true: &Tensor, y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    let op = "sparse_categorical_crossentropy";
    if y_pred.device() == Device::Gpu {
        if y_pred.ndim() == 0 {
            return Err(Error::shape(op, "y_pred with a class axis", "()"));
        }
        let rows: usize = per_sample_shape(y_pred).iter().product();
        if y_true.numel() != rows {
            return Err(Error::shape(op, format!("{rows} labels for y_pred {}", fmt_shape(y_pred.shape())), format!("{} labels", y_true.numel())));
        }
        return loss_gpu::sparse_categorical(y_true, y_pred, from_logits);
    }
    let labels = y_true
        .cpu_values()
        .as_slice()
        .iter()
        .map(|&v| if v.fract() == 0.0 && v.is_finite() { Ok(v as i64) } else { Err(Error::dtype(op, "integer class labels", format!("{v}"))) })
        .collect::<Result<Vec<i64>>>()?;
    sparse_categorical_crossentropy(&labels, y_pred, from_logits)
}
