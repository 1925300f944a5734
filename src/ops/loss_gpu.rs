//! The losses on the GPU, with the CPU's formulas (`ops::loss`). The elementwise losses are one
//! kernel for the per-element term and a row mean, with a backward of two kernels; the
//! crossentropies are composed from GPU ops (softmax, clip, log, sums), whose own backward rules
//! give the CPU's gradients.

use super::loss::EPSILON;
use super::{clip, div, log, log_softmax, mul, neg, record_gpu, reshape, sum};
use crate::error::Result;
use crate::gpu::kernels::{self, RowReduce};
use crate::tensor::{Device, Tensor};

/// A per-element loss term `f(t, p)` and its partial derivatives, as WGSL expressions in `x0`
/// (the target) and `x1` (the prediction) with scalars `s0..s2`.
pub(super) struct Term {
    pub key: &'static str,
    pub loss: String,
    pub dt: String,
    pub dp: String,
    pub scalars: [f32; 3],
}

/// Mean over the last axis of `term(y_true, y_pred)`, recorded with its backward.
pub(super) fn elementwise(op: &'static str, y_true: &Tensor, y_pred: &Tensor, rows: usize, width: usize, per_sample: &[usize], term: Term) -> Result<Tensor> {
    let inv = 1.0 / width as f32;
    let [a, b, c] = term.scalars;
    let scalars = [a, b, c, inv];
    let values = kernels::elementwise(op, &format!("{}/loss", term.key), &term.loss, &[y_true, y_pred], y_pred.shape(), scalars)?;
    let losses = kernels::reduce_rows(op, &Tensor::from_gpu(values, y_pred.shape()), rows, width, RowReduce::Mean)?;
    let (dt, dp, key) = (term.dt, term.dp, term.key);
    let mut column = per_sample.to_vec();
    column.push(1);
    Ok(record_gpu(op, losses, per_sample, &[y_true, y_pred], move |_| {
        let (y_true, y_pred) = (y_true.detach(), y_pred.detach());
        move |g: &Tensor| {
            // The row's gradient reaches each element of the row (a stride-0 read), over width.
            let g = reshape(g, &column)?;
            let grad = |k: &str, e: &str| -> Result<Tensor> {
                let b = kernels::elementwise(op, &format!("{key}/{k}"), &format!("x2 * s3 * ({e})"), &[&y_true, &y_pred, &g], y_pred.shape(), scalars)?;
                Ok(Tensor::from_gpu(b, y_pred.shape()))
            };
            Ok(vec![Some(grad("dt", &dt)?), Some(grad("dp", &dp)?)])
        }
    }))
}

pub(super) fn mse() -> Term {
    let s = |e: &str| e.to_string();
    Term { key: "mse", loss: s("(x1 - x0) * (x1 - x0)"), dt: s("-2.0 * (x1 - x0)"), dp: s("2.0 * (x1 - x0)"), scalars: [0.0; 3] }
}

pub(super) fn mae() -> Term {
    let s = |e: &str| e.to_string();
    Term { key: "mae", loss: s("abs(x1 - x0)"), dt: s("-sign(x1 - x0)"), dp: s("sign(x1 - x0)"), scalars: [0.0; 3] }
}

pub(super) fn huber(delta: f32) -> Term {
    let e = "(x1 - x0)";
    Term {
        key: "huber",
        loss: format!("select(s0 * abs({e}) - 0.5 * s0 * s0, 0.5 * {e} * {e}, abs({e}) <= s0)"),
        dt: format!("-select(sign({e}) * s0, {e}, abs({e}) <= s0)"),
        dp: format!("select(sign({e}) * s0, {e}, abs({e}) <= s0)"),
        scalars: [delta, 0.0, 0.0],
    }
}

/// Binary crossentropy (s0 = epsilon, s1 = label smoothing).
pub(super) fn binary_crossentropy(from_logits: bool, label_smoothing: f32) -> Term {
    let t = "(x0 * (1.0 - s1) + 0.5 * s1)";
    if from_logits {
        Term {
            key: "bce_logits",
            loss: format!("max(x1, 0.0) - x1 * {t} + log1p_(exp(-abs(x1)))"),
            dt: "-x1 * (1.0 - s1)".to_string(),
            dp: format!("sigm(x1) - {t}"),
            scalars: [EPSILON, label_smoothing, 0.0],
        }
    } else {
        let c = "clamp(x1, s0, 1.0 - s0)";
        Term {
            key: "bce",
            loss: format!("-({t} * log({c}) + (1.0 - {t}) * log(1.0 - {c}))"),
            dt: format!("-(log({c}) - log(1.0 - {c})) * (1.0 - s1)"),
            dp: format!("select(0.0, -({t} / {c}) + (1.0 - {t}) / (1.0 - {c}), x1 >= s0 && x1 <= 1.0 - s0)"),
            scalars: [EPSILON, label_smoothing, 0.0],
        }
    }
}

/// Categorical crossentropy per row: `-sum(t * log p)` with Keras's renormalise-and-clip of
/// probabilities, or log-softmax of logits; smoothing pulls targets towards uniform.
pub(super) fn categorical(y_true: &Tensor, y_pred: &Tensor, from_logits: bool, label_smoothing: f32) -> Result<Tensor> {
    let width = y_pred.shape()[y_pred.ndim() - 1];
    let t = if label_smoothing > 0.0 {
        super::add(&mul(y_true, &Tensor::scalar(1.0 - label_smoothing))?, &Tensor::scalar(label_smoothing / width as f32))?
    } else {
        y_true.clone()
    };
    let last = [y_pred.ndim() as isize - 1];
    let log_p = if from_logits {
        log_softmax(y_pred, -1)?
    } else {
        let q = div(y_pred, &sum(y_pred, Some(&last), true)?)?;
        log(&clip(&q, EPSILON, 1.0 - EPSILON)?)?
    };
    neg(&sum(&mul(&t, &log_p)?, Some(&last), false)?)
}

/// Sparse categorical crossentropy: one-hot targets made on the GPU from the label tensor (class
/// indices as floats, one per row; `fit` checks them before training).
pub(super) fn sparse_categorical(labels: &Tensor, y_pred: &Tensor, from_logits: bool) -> Result<Tensor> {
    let width = y_pred.shape()[y_pred.ndim() - 1];
    let mut column = y_pred.shape()[..y_pred.ndim() - 1].to_vec();
    column.push(1);
    let labels = reshape(&labels.to_device(Device::Gpu)?, &column)?;
    let classes = Tensor::from_vec_on((0..width).map(|c| c as f32).collect(), &[width], Device::Gpu)?;
    let one_hot = kernels::elementwise("sparse_categorical_crossentropy", "one_hot", "select(0.0, 1.0, x0 == x1)", &[&labels, &classes], y_pred.shape(), [0.0; 4])?;
    categorical(&Tensor::from_gpu(one_hot, y_pred.shape()), y_pred, from_logits, 0.0)
}
