//! Compiled metrics as Keras computes them: each a running mean over the epoch of a per-sample
//! value (unweighted, as `metrics=` in Keras 3 is; `weighted_metrics` is not supported yet).

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricKind {
    BinaryAccuracy { threshold: f32 },
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy { k: usize },
    SparseTopKCategoricalAccuracy { k: usize },
    MeanSquaredError,
    MeanAbsoluteError,
}

/// A metric's running mean.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    total: f64,
    count: f64,
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Whether `class` is among the k largest of `row` (ties counted in the class's favour, as
/// `in_top_k` does).
fn in_top_k(row: &[f32], class: usize, k: usize) -> bool {
    let target = row[class];
    row.iter().filter(|&&v| v > target).count() < k
}

impl Metric {
    pub fn new(name: String, kind: MetricKind) -> Self {
        Metric { name, kind, total: 0.0, count: 0.0 }
    }

    pub fn reset(&mut self) {
        self.total = 0.0;
        self.count = 0.0;
    }

    pub fn result(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }

    /// The running (total, count); data-parallel training sums what a batch added across ranks.
    pub fn state(&self) -> (f64, f64) {
        (self.total, self.count)
    }

    pub fn set_state(&mut self, total: f64, count: f64) {
        self.total = total;
        self.count = count;
    }

    /// Add a batch: `y_true` and `y_pred` row-major, `width` = last axis of `y_pred`;
    /// `row_mask` (one value per row, as a sequence output's timestep mask) skips rows at 0.
    pub fn update(&mut self, y_true: &[f32], y_pred: &[f32], width: usize, row_mask: Option<&[f32]>) -> Result<()> {
        let rows = if width == 0 { 0 } else { y_pred.len() / width };
        let sparse = matches!(self.kind, MetricKind::SparseCategoricalAccuracy | MetricKind::SparseTopKCategoricalAccuracy { .. });
        let expected = if sparse { rows } else { y_pred.len() };
        if y_true.len() != expected {
            return Err(Error::shape(&self.name, format!("{expected} target values"), format!("{}", y_true.len())));
        }
        for r in 0..rows {
            if row_mask.is_some_and(|m| m[r] <= 0.5) {
                continue;
            }
            let p = &y_pred[r * width..(r + 1) * width];
            let value = match self.kind {
                MetricKind::BinaryAccuracy { threshold } => {
                    let t = &y_true[r * width..(r + 1) * width];
                    let hits = p.iter().zip(t).filter(|(&p, &t)| ((p > threshold) as u8 as f32) == t).count();
                    hits as f64 / width as f64
                }
                MetricKind::CategoricalAccuracy => {
                    let t = &y_true[r * width..(r + 1) * width];
                    (argmax(p) == argmax(t)) as u8 as f64
                }
                MetricKind::SparseCategoricalAccuracy => (argmax(p) as f32 == y_true[r]) as u8 as f64,
                MetricKind::TopKCategoricalAccuracy { k } => in_top_k(p, argmax(&y_true[r * width..(r + 1) * width]), k) as u8 as f64,
                MetricKind::SparseTopKCategoricalAccuracy { k } => {
                    let c = y_true[r];
                    (c >= 0.0 && (c as usize) < width && in_top_k(p, c as usize, k)) as u8 as f64
                }
                MetricKind::MeanSquaredError => {
                    let t = &y_true[r * width..(r + 1) * width];
                    p.iter().zip(t).map(|(&p, &t)| ((p - t) as f64).powi(2)).sum::<f64>() / width as f64
                }
                MetricKind::MeanAbsoluteError => {
                    let t = &y_true[r * width..(r + 1) * width];
                    p.iter().zip(t).map(|(&p, &t)| ((p - t) as f64).abs()).sum::<f64>() / width as f64
                }
            };
            self.total += value;
            self.count += 1.0;
        }
        Ok(())
    }
}

/// The loss tracker: a mean weighted by batch size, as Keras logs `loss`.
#[derive(Debug, Clone, Default)]
pub struct MeanTracker {
    total: f64,
    count: f64,
}

impl MeanTracker {
    pub fn update(&mut self, value: f64, weight: f64) {
        self.total += value * weight;
        self.count += weight;
    }
    pub fn result(&self) -> f64 {
        if self.count == 0.0 {
            0.0
        } else {
            self.total / self.count
        }
    }
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}
