//! Training losses: Keras 3 loss classes with the default `sum_over_batch_size` reduction, i.e.
//! `sum(per_sample_loss * sample_weight) / number_of_per_sample_values`.

use crate::error::{Error, Result};
use crate::ops::{self, loss};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossKind {
    MeanSquaredError,
    MeanAbsoluteError,
    Huber { delta: f32 },
    BinaryCrossentropy { from_logits: bool, label_smoothing: f32 },
    CategoricalCrossentropy { from_logits: bool, label_smoothing: f32 },
    SparseCategoricalCrossentropy { from_logits: bool },
}

impl LossKind {
    /// Whether targets are class indices (one per row of predictions).
    pub fn sparse(&self) -> bool {
        matches!(self, LossKind::SparseCategoricalCrossentropy { .. })
    }

    /// The per-sample losses of a batch.
    pub fn per_sample(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<Tensor> {
        match *self {
            LossKind::MeanSquaredError => loss::mean_squared_error(y_true, y_pred),
            LossKind::MeanAbsoluteError => loss::mean_absolute_error(y_true, y_pred),
            LossKind::Huber { delta } => loss::huber(y_true, y_pred, delta),
            LossKind::BinaryCrossentropy { from_logits, label_smoothing } => loss::binary_crossentropy(y_true, y_pred, from_logits, label_smoothing),
            LossKind::CategoricalCrossentropy { from_logits, label_smoothing } => {
                loss::categorical_crossentropy(y_true, y_pred, from_logits, label_smoothing)
            }
            LossKind::SparseCategoricalCrossentropy { from_logits } => loss::sparse_categorical_crossentropy_tensor(y_true, y_pred, from_logits),
        }
    }

    /// The scalar loss of a batch: per-sample losses, weighted, summed, over their count.
    /// `mask` (the prediction's timestep mask, shaped like the per-step losses) leaves padded
    /// steps out, as Keras's `apply_mask`: the sum over real steps, over their count.
    pub fn reduce(&self, y_true: &Tensor, y_pred: &Tensor, sample_weight: Option<&Tensor>, mask: Option<&Tensor>) -> Result<Tensor> {
        let per_sample = self.per_sample(y_true, y_pred)?;
        let count = per_sample.numel().max(1) as f32;
        let per_sample = match mask {
            Some(m) if m.shape() == per_sample.shape() => {
                let values = m.to_vec();
                let valid: f32 = values.iter().sum();
                let scale = count / (valid + 1e-7);
                ops::mul(&per_sample, &Tensor::from_vec_on(values.iter().map(|v| v * scale).collect(), m.shape(), per_sample.device())?)?
            }
            _ => per_sample,
        };
        let weighted = match sample_weight {
            None => per_sample,
            Some(w) => {
                // Per-sample weights of shape (batch,) broadcast over any further loss axes.
                let mut shape = w.shape().to_vec();
                shape.resize(per_sample.ndim(), 1);
                ops::mul(&per_sample, &ops::reshape(w, &shape)?)?
            }
        };
        ops::mul(&ops::sum(&weighted, None, false)?, &Tensor::scalar(1.0 / count))
    }
}

/// Class indices from float targets (integral by contract; checked).
pub fn labels_of(y_true: &Tensor) -> Result<Vec<i64>> {
    y_true
        .cpu_values()
        .as_slice()
        .iter()
        .map(|&v| {
            if v.fract() == 0.0 && v.is_finite() {
                Ok(v as i64)
            } else {
                Err(Error::dtype("sparse_categorical_crossentropy", "integer class labels", format!("{v}")))
            }
        })
        .collect()
}
