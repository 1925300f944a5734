//! A layer's trainable weights with their regularizers and the frozen flag: what Dense, the
//! convolutions and the normalization layers share (Keras regularizes trainable weights only).

use crate::error::Result;
use crate::nn::regularizer::{total_penalty, Regularizer};
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Weights {
    entries: Vec<(Tensor, Option<Regularizer>)>,
    trainable: AtomicBool,
}

impl Weights {
    /// The weights that exist (None entries are skipped: no bias, no gamma), in Keras order.
    pub fn new(entries: Vec<(Option<Tensor>, Option<Regularizer>)>) -> Self {
        Weights { entries: entries.into_iter().filter_map(|(w, r)| w.map(|w| (w, r))).collect(), trainable: AtomicBool::new(true) }
    }

    pub fn tensors(&self) -> Vec<Tensor> {
        self.entries.iter().map(|(w, _)| w.clone()).collect()
    }

    /// The weight penalty, none while frozen.
    pub fn penalty(&self) -> Result<Option<Tensor>> {
        if !self.is_trainable() {
            return Ok(None);
        }
        let pairs: Vec<(Option<Regularizer>, Option<&Tensor>)> = self.entries.iter().map(|(w, r)| (*r, Some(w))).collect();
        total_penalty(&pairs)
    }

    pub fn set_trainable(&self, trainable: bool) {
        self.trainable.store(trainable, Ordering::Relaxed);
    }

    pub fn is_trainable(&self) -> bool {
        self.trainable.load(Ordering::Relaxed)
    }
}
