//! Per-weight gradient norms accumulated over training steps, for gradient-flow diagnostics
//! (`ferronet.callbacks.GradientMonitor`): the L2 norm of each weight's gradient, averaged over
//! the steps since the last read. Costs one pass over the gradients per step, only when on.

use crate::tensor::Tensor;

#[derive(Default)]
pub struct GradNorms {
    /// Sum over steps of each weight's gradient norm, in the model's trainable-weight order.
    sums: Vec<f64>,
    steps: usize,
}

impl GradNorms {
    /// Add one step: `weights` in model order, `grads` the (weight, gradient) pairs the optimizer
    /// receives (a weight without a gradient counts as zero).
    pub fn record(&mut self, weights: &[Tensor], grads: &[(Tensor, Tensor)]) {
        if self.sums.len() != weights.len() {
            self.sums = vec![0.0; weights.len()];
            self.steps = 0;
        }
        for (sum, w) in self.sums.iter_mut().zip(weights) {
            if let Some((_, g)) = grads.iter().find(|(gw, _)| gw.id() == w.id()) {
                let values = g.cpu_values();
                *sum += values.as_slice().iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt();
            }
        }
        self.steps += 1;
    }

    /// The mean norm of each weight's gradient since the last call, and the step count; resets.
    pub fn take(&mut self) -> (Vec<f64>, usize) {
        let steps = self.steps;
        let means = self.sums.iter().map(|s| if steps > 0 { s / steps as f64 } else { 0.0 }).collect();
        self.sums.iter_mut().for_each(|s| *s = 0.0);
        self.steps = 0;
        (means, steps)
    }
}
