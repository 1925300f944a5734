//! Data-parallel training: every process ("rank") trains on its shard of each global batch, and
//! one in-place sum across ranks per step turns the shard gradients into the global-batch
//! gradient, so every rank applies the same optimizer step and the weights stay identical.
//!
//! The engine knows nothing of MPI: a `Collective` (bound to mpi4py in `bindings/distribute.rs`)
//! provides the rank, the world size, a buffer, and a sum of that buffer across ranks.
//!
//! One step's buffer, in order:
//! - every trainable weight's gradient, flattened, times the local sample count `b_r`. The loss
//!   is a mean over the local shard, so `b_r * g_r` is the sum of per-sample gradients; summed
//!   over ranks and divided by `B = sum(b_r)` it is the mean over the global batch, which is what
//!   one process training on the whole batch computes. This weighting also makes an uneven last
//!   batch (or an empty shard) exact: nothing is dropped.
//! - `b_r`, then `b_r * loss_r` (the global batch loss after dividing by `B`);
//! - per metric, the (total, count) the batch added on this rank: summed, they advance every
//!   rank's running metric by the global batch, so per-batch logs are global figures too.
//! Riding on the gradient sum, the logs cost no second collective.

use super::metrics::Metric;
use super::rng::Rng;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A group of processes that can sum a float buffer in place (MPI's `Allreduce(IN_PLACE, SUM)`).
pub trait Collective: Send {
    /// This process's index in `0..world_size()`.
    fn rank(&self) -> usize;
    /// How many processes train together.
    fn world_size(&self) -> usize;
    /// A buffer of `len` floats: the same memory step after step while `len` does not change.
    ///
    /// # Errors
    /// When the buffer cannot be allocated.
    fn buffer(&mut self, len: usize) -> Result<&mut [f32]>;
    /// Replace the buffer, on every rank, by its sum over all ranks. Every rank must call this
    /// the same number of times with the same length.
    ///
    /// # Errors
    /// When the communication fails (a rank died, an MPI error).
    fn all_reduce(&mut self) -> Result<()>;
}

/// The data-parallel state of a compiled model: its collective.
pub struct DataParallel {
    collective: Box<dyn Collective>,
}

/// The part of a global batch that `rank` of `world` trains on: a contiguous slice, the sizes
/// differing by at most one (a batch smaller than `world` leaves some ranks empty).
pub fn shard(indices: &[usize], rank: usize, world: usize) -> &[usize] {
    let world = world.max(1);
    let start = indices.len() * rank / world;
    let end = indices.len() * (rank + 1) / world;
    &indices[start..end]
}

impl DataParallel {
    pub fn new(collective: Box<dyn Collective>) -> Self {
        DataParallel { collective }
    }

    /// This rank's part of a global batch.
    pub fn shard<'a>(&self, indices: &'a [usize]) -> &'a [usize] {
        shard(indices, self.collective.rank(), self.collective.world_size())
    }

    /// After the epoch's shuffle (which must agree across ranks), move this rank to its own
    /// random stream, so that dropout masks differ between ranks as they differ between the
    /// samples of one process's batch.
    pub fn split_stream(&self, rng: &mut Rng) {
        let rank = self.collective.rank() as u64;
        *rng = Rng::new(rng.next_u64() ^ rank.wrapping_mul(0xD1B5_4A32_D192_ED03));
    }

    /// Sum one step across ranks (see the module comment). `grads[i]` belongs to `weights[i]`
    /// (`None`: no gradient on this rank, counted as zero); `count` is this rank's sample count,
    /// `loss` its mean loss, and `metrics` already include this rank's batch, which started from
    /// `before` (the same on every rank). Returns one gradient per weight and the global loss;
    /// `metrics` are left holding the global running figures.
    ///
    /// # Errors
    /// When the collective fails.
    pub fn reduce_step(&mut self, weights: &[Tensor], grads: &[Option<Tensor>], count: usize, loss: f32, metrics: &mut [Metric], before: &[(f64, f64)]) -> Result<(Vec<(Tensor, Tensor)>, f32)> {
        let grad_len: usize = weights.iter().map(Tensor::numel).sum();
        let buf = self.collective.buffer(grad_len + 2 + 2 * metrics.len())?;
        let scale = count as f32;
        let mut offset = 0;
        for (w, g) in weights.iter().zip(grads) {
            let part = &mut buf[offset..offset + w.numel()];
            match g {
                // An empty shard's loss is a mean over nothing: contribute zeros, not NaN * 0.
                Some(g) if count > 0 => {
                    let values = g.cpu_values();
                    if values.as_slice().len() != part.len() {
                        return Err(Error::shape("data_parallel", format!("a gradient of {} values", part.len()), format!("{}", values.as_slice().len())));
                    }
                    part.iter_mut().zip(values.as_slice()).for_each(|(dst, &v)| *dst = v * scale);
                }
                _ => part.fill(0.0),
            }
            offset += part.len();
        }
        let stats = &mut buf[grad_len..];
        stats[0] = scale;
        stats[1] = if count > 0 { loss * scale } else { 0.0 };
        for (i, (m, &(total, n))) in metrics.iter().zip(before).enumerate() {
            let (now_total, now_n) = m.state();
            stats[2 + 2 * i] = (now_total - total) as f32;
            stats[3 + 2 * i] = (now_n - n) as f32;
        }

        self.collective.all_reduce()?;

        let buf = self.collective.buffer(grad_len + 2 + 2 * metrics.len())?;
        let global = buf[grad_len];
        let inverse = if global > 0.0 { 1.0 / global } else { 0.0 };
        let mut pairs = Vec::with_capacity(weights.len());
        let mut offset = 0;
        for w in weights {
            let values: Vec<f32> = buf[offset..offset + w.numel()].iter().map(|&v| v * inverse).collect();
            offset += w.numel();
            pairs.push((w.clone(), Tensor::from_vec(values, w.shape())?));
        }
        let stats = &buf[grad_len..];
        for (i, (m, &(total, n))) in metrics.iter_mut().zip(before).enumerate() {
            m.set_state(total + stats[2 + 2 * i] as f64, n + stats[3 + 2 * i] as f64);
        }
        Ok((pairs, stats[1] * inverse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::metrics::MetricKind;

    /// Two "ranks" in one process: the sum of the buffers both wrote.
    struct Pair {
        rank: usize,
        mine: Vec<f32>,
        other: Vec<f32>,
    }

    impl Collective for Pair {
        fn rank(&self) -> usize {
            self.rank
        }
        fn world_size(&self) -> usize {
            2
        }
        fn buffer(&mut self, len: usize) -> Result<&mut [f32]> {
            self.mine.resize(len, 0.0);
            Ok(&mut self.mine)
        }
        fn all_reduce(&mut self) -> Result<()> {
            self.mine.iter_mut().zip(&self.other).for_each(|(a, b)| *a += b);
            Ok(())
        }
    }

    #[test]
    fn shard_splits_contiguously_with_sizes_differing_by_one() {
        let idx: Vec<usize> = (0..6).collect();
        let parts: Vec<&[usize]> = (0..4).map(|r| shard(&idx, r, 4)).collect();
        assert_eq!(parts, vec![&[0][..], &[1, 2][..], &[3][..], &[4, 5][..]]);
        assert_eq!(shard(&idx[..1], 0, 2), &[] as &[usize]);
        assert_eq!(shard(&idx[..1], 1, 2), &[0]);
    }

    #[test]
    fn reduce_step_weights_gradients_by_shard_size() {
        // Rank 0 saw 3 samples with mean gradient 1.0 and loss 2.0; rank 1 (simulated by `other`)
        // saw 1 sample with gradient 5.0 and loss 6.0 and one metric hit. Global mean gradient:
        // (3*1 + 1*5) / 4 = 2; global loss (3*2 + 6) / 4 = 3.
        let w = Tensor::zeros(&[2]);
        let g = Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap();
        let other = vec![5.0, 5.0, 1.0, 6.0, 1.0, 1.0];
        let mut dp = DataParallel::new(Box::new(Pair { rank: 0, mine: Vec::new(), other }));
        let mut metrics = vec![Metric::new("acc".into(), MetricKind::SparseCategoricalAccuracy)];
        metrics[0].set_state(2.0, 3.0);
        let (pairs, loss) = dp.reduce_step(&[w], &[Some(g)], 3, 2.0, &mut metrics, &[(0.0, 0.0)]).unwrap();
        assert_eq!(pairs[0].1.cpu_values().as_slice(), &[2.0, 2.0]);
        assert_eq!(loss, 3.0);
        assert_eq!(metrics[0].state(), (3.0, 4.0));
    }

    #[test]
    fn empty_shard_contributes_zeros() {
        let w = Tensor::zeros(&[1]);
        let nan = Tensor::from_vec(vec![f32::NAN], &[1]).unwrap();
        let other = vec![4.0, 2.0, 2.0];
        let mut dp = DataParallel::new(Box::new(Pair { rank: 1, mine: Vec::new(), other }));
        let (pairs, loss) = dp.reduce_step(&[w], &[Some(nan)], 0, f32::NAN, &mut [], &[]).unwrap();
        assert_eq!(pairs[0].1.cpu_values().as_slice(), &[2.0]);
        assert_eq!(loss, 1.0);
    }
}
