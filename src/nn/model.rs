//! The Sequential model and its loops: a training epoch, evaluation and prediction, batch by
//! batch, entirely in Rust. The caller passes a `Hook` that hears about finished batches and may
//! stop the loop (callbacks, progress bar, Ctrl-C).

use super::data_parallel::DataParallel;
use super::layers::{ForwardContext, Layer};
use super::loss::LossKind;
use super::metrics::{MeanTracker, Metric};
use super::grad_norms::GradNorms;
use super::optimizer::Optimizer;
use super::rng::Rng;
use crate::autograd::{self, NoGradGuard};
use crate::error::{Error, Result};
use crate::ops;
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};
use std::sync::Arc;

pub struct Sequential {
    pub layers: Vec<Arc<dyn Layer>>,
    /// Where batches are placed; whoever sets it moves the weights there too.
    pub device: parking_lot::Mutex<Device>,
}

impl Sequential {
    pub fn new(layers: Vec<Arc<dyn Layer>>) -> Self {
        Sequential { layers, device: parking_lot::Mutex::new(Device::Cpu) }
    }

    /// Where batches go.
    pub fn device(&self) -> Device {
        *self.device.lock()
    }

    /// Where the inputs of a batch go: the model's device, or the host when the first layer
    /// reads its input there anyway (an Embedding's indices), which saves a GPU model a
    /// read-back per step.
    pub fn input_device(&self) -> Device {
        match self.layers.first() {
            Some(first) if first.reads_input_on_host() => Device::Cpu,
            _ => self.device(),
        }
    }

    pub fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let (y, _mask) = super::layers::run_chain(&self.layers, x, ctx)?;
        Ok(y)
    }

    pub fn trainable_weights(&self) -> Vec<Tensor> {
        self.layers.iter().flat_map(|l| l.trainable_weights()).collect()
    }

    /// The loss terms beyond the data loss: every layer's weight penalty plus the activity
    /// penalties the forward pass collected in `ctx`.
    fn extra_losses(&self, ctx: &mut ForwardContext<'_>) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        let mut add = |t: Tensor| -> Result<()> {
            total = Some(match total.take() {
                Some(prev) => ops::add(&prev, &t)?,
                None => t,
            });
            Ok(())
        };
        for layer in &self.layers {
            if let Some(p) = layer.penalty()? {
                add(p)?;
            }
        }
        for l in ctx.losses.drain(..) {
            add(l)?;
        }
        Ok(total)
    }

    /// Forward pass plus the loss Keras reports: data loss + regularization losses.
    /// Returns the predictions, their timestep mask (a sequence output over padded inputs) and
    /// the loss.
    fn loss(&self, loss: &LossKind, x: &Tensor, y: &Tensor, w: Option<&Tensor>, ctx: &mut ForwardContext<'_>) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        // The output's timestep mask (a sequence model over padded inputs) masks the loss.
        let (y_pred, mask) = super::layers::run_chain(&self.layers, x, ctx)?;
        let data_loss = loss.reduce(y, &y_pred, w, mask.as_ref())?;
        let total = match self.extra_losses(ctx)? {
            Some(extra) => ops::add(&data_loss, &extra)?,
            None => data_loss,
        };
        Ok((y_pred, mask, total))
    }
}

/// Loss, metrics and optimizer, as `compile` set them.
pub struct Compiled {
    pub loss: LossKind,
    pub metrics: Vec<Metric>,
    pub optimizer: Arc<parking_lot::Mutex<Optimizer>>,
    /// Set while training across processes: shards batches and sums each step across ranks.
    pub data_parallel: Option<DataParallel>,
    /// Set while a GradientMonitor listens: each step's gradient norms, per weight. Shared, so
    /// a callback can read them between batches while the loop holds the model.
    pub grad_norms: Option<Arc<parking_lot::Mutex<GradNorms>>>,
}

impl Compiled {
    pub fn new(loss: LossKind, metrics: Vec<Metric>, optimizer: Arc<parking_lot::Mutex<Optimizer>>) -> Self {
        Compiled { loss, metrics, optimizer, data_parallel: None, grad_norms: None }
    }
}

/// Row-major samples: `x` is `n` rows of `x_row` shape, `y` likewise, `weights` one per sample.
pub struct Dataset<'a> {
    pub x: &'a [f32],
    pub x_row: Vec<usize>,
    pub y: &'a [f32],
    pub y_row: Vec<usize>,
    pub weights: Option<&'a [f32]>,
    pub n: usize,
}

fn gather(src: &[f32], row: usize, indices: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(row * indices.len());
    for &i in indices {
        out.extend_from_slice(&src[i * row..(i + 1) * row]);
    }
    out
}

fn with_batch(rows: usize, row_shape: &[usize]) -> Vec<usize> {
    let mut s = vec![rows];
    s.extend_from_slice(row_shape);
    s
}

impl<'a> Dataset<'a> {
    /// Check sizes once, before any batch runs.
    pub fn new(x: &'a [f32], x_shape: &[usize], y: &'a [f32], y_shape: &[usize], weights: Option<&'a [f32]>) -> Result<Self> {
        let n = *x_shape.first().ok_or_else(|| Error::shape("fit", "x with a batch axis", "a scalar"))?;
        if y_shape.first() != Some(&n) {
            return Err(Error::shape("fit", format!("y with {n} samples like x {}", fmt_shape(x_shape)), format!("y {}", fmt_shape(y_shape))));
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(Error::shape("fit", format!("sample_weight with {n} values"), format!("{}", w.len())));
            }
        }
        Ok(Dataset { x, x_row: x_shape[1..].to_vec(), y, y_row: y_shape[1..].to_vec(), weights, n })
    }

    /// The samples at `indices`: the inputs where `model` takes them, the targets and weights on
    /// its device.
    fn batch(&self, indices: &[usize], model: &Sequential) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let device = model.device();
        let xr: usize = self.x_row.iter().product();
        let yr: usize = self.y_row.iter().product();
        let x = Tensor::from_vec_on(gather(self.x, xr, indices), &with_batch(indices.len(), &self.x_row), model.input_device())?;
        let y = Tensor::from_vec_on(gather(self.y, yr, indices), &with_batch(indices.len(), &self.y_row), device)?;
        let w = match self.weights {
            Some(w) => Some(Tensor::from_vec_on(indices.iter().map(|&i| w[i]).collect(), &[indices.len()], device)?),
            None => None,
        };
        Ok((x, y, w))
    }
}

/// Log values by key, sorted as Keras's `pythonify_logs` sorts them.
pub type Logs = Vec<(String, f64)>;

/// Hears about each finished batch (`step`, running logs); returns true to stop the loop.
pub trait Hook {
    fn batch_end(&mut self, step: usize, logs: &Logs, last: bool) -> Result<bool>;

    /// Whether `batch_end` would use this step's logs. A GPU loop reads its losses and
    /// predictions back only when they are wanted.
    fn wants_logs(&mut self, _step: usize, _last: bool) -> bool {
        true
    }
}

/// A GPU step's loss and predictions, still on the GPU: the loop reads a stretch of them back
/// with one submit when the logs are wanted (the progress bar, a callback, the epoch's end).
struct Pending {
    loss: Tensor,
    samples: f64,
    y: Tensor,
    y_pred: Tensor,
    mask: Option<Tensor>,
}

/// Steps kept on the GPU before they are read back regardless (bounds the memory they hold).
const MAX_PENDING: usize = 256;

/// What a batch step gives the loop: its loss read back, or its results still on the device.
enum Step {
    Read(f32),
    OnDevice { loss: Tensor, y_pred: Tensor, mask: Option<Tensor> },
}

fn logs_of(loss: &MeanTracker, metrics: &[Metric]) -> Logs {
    let mut logs: Logs = vec![("loss".to_string(), loss.result())];
    logs.extend(metrics.iter().map(|m| (m.name.clone(), m.result())));
    logs.sort_by(|a, b| a.0.cmp(&b.0));
    logs
}

impl Compiled {
    pub fn reset_metrics(&mut self) {
        self.metrics.iter_mut().for_each(|m| m.reset());
    }

    /// Add a batch to the metrics; `mask` (the predictions' timestep mask) leaves padded steps
    /// out, as Keras does.
    fn update_metrics(&mut self, y: &Tensor, y_pred: &Tensor, mask: Option<&Tensor>) -> Result<()> {
        if self.metrics.is_empty() {
            return Ok(());
        }
        let width = *y_pred.shape().last().unwrap_or(&1);
        let (yv, pv) = (y.try_cpu_values()?, y_pred.try_cpu_values()?);
        // One mask value per row of predictions, or none.
        let rows = mask.filter(|m| m.numel() * width == y_pred.numel()).map(|m| m.to_vec());
        for m in &mut self.metrics {
            m.update(yv.as_slice(), pv.as_slice(), width, rows.as_deref())?;
        }
        Ok(())
    }

    /// One optimizer step on a batch; returns the batch loss.
    pub fn train_step(&mut self, model: &Sequential, x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng) -> Result<f32> {
        let weights = model.trainable_weights();
        if self.data_parallel.is_some() && x.shape().first() == Some(&0) {
            // A global batch smaller than the ranks leaves this shard empty: no forward pass (a
            // reshape of zero samples is ambiguous), but the rank still takes part in the sum.
            return self.apply_across_ranks(&weights, 0, 0.0, y, y, None);
        }
        if self.data_parallel.is_some() {
            let previous = autograd::set_grad_enabled(true);
            let result = (|| {
                let (y_pred, mask, loss) = self.forward_backward(model, &weights, x, y, w, rng)?;
                let value = loss.item()?;
                self.apply_across_ranks(&weights, x.shape().first().copied().unwrap_or(0), value, y, &y_pred.detach(), mask.as_ref())
            })();
            autograd::set_grad_enabled(previous);
            return result;
        }
        let (loss, y_pred, mask) = self.train_step_on_device(model, x, y, w, rng)?;
        let value = loss.item()?;
        let _no_grad = NoGradGuard::new();
        self.update_metrics(y, &y_pred, mask.as_ref())?;
        Ok(value)
    }

    /// Forward and backward on a batch; the gradients are left on the weights.
    fn forward_backward(&mut self, model: &Sequential, weights: &[Tensor], x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        let (y_pred, mask, loss) = model.loss(&self.loss, x, y, w, &mut ForwardContext::new(true, rng))?;
        // Gradients left on the weights by an earlier manual backward() must not be added in.
        weights.iter().for_each(|w| drop(w.take_grad()));
        if loss.requires_grad() {
            autograd::backward(&loss, None, false)?;
        }
        Ok((y_pred, mask, loss))
    }

    /// A whole optimizer step without reading anything back: returns the loss, the predictions
    /// and their mask where they were computed (on a GPU model, still on the GPU).
    fn train_step_on_device(&mut self, model: &Sequential, x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let weights = model.trainable_weights();
        let previous = autograd::set_grad_enabled(true);
        let result = (|| {
            let (y_pred, mask, loss) = self.forward_backward(model, &weights, x, y, w, rng)?;
            let pairs: Vec<(Tensor, Tensor)> = weights.iter().filter_map(|w| w.take_grad().map(|g| (w.clone(), g))).collect();
            if let Some(norms) = &self.grad_norms {
                norms.lock().record(&weights, &pairs);
            }
            self.optimizer.lock().apply(&pairs)?;
            Ok((loss.detach(), y_pred.detach(), mask))
        })();
        autograd::set_grad_enabled(previous);
        result
    }

    /// Read back the pending GPU steps (one submit) into the loss tracker and the metrics.
    fn settle(&mut self, pending: &mut Vec<Pending>, loss: &mut MeanTracker) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut tensors: Vec<&Tensor> = Vec::new();
        for p in pending.iter() {
            tensors.push(&p.loss);
            if !self.metrics.is_empty() {
                tensors.extend([&p.y, &p.y_pred]);
                tensors.extend(p.mask.as_ref());
            }
        }
        let mut values = Tensor::read_all(&tensors)?.into_iter();
        for p in pending.drain(..) {
            let value = values.next().and_then(|v| v.first().copied()).unwrap_or(f32::NAN);
            loss.update(value as f64, p.samples);
            if !self.metrics.is_empty() {
                let (yv, pv) = (values.next().unwrap_or_default(), values.next().unwrap_or_default());
                let mv = p.mask.as_ref().map(|_| values.next().unwrap_or_default());
                let width = *p.y_pred.shape().last().unwrap_or(&1);
                let rows = mv.filter(|m| m.len() * width == pv.len());
                for m in &mut self.metrics {
                    m.update(&yv, &pv, width, rows.as_deref())?;
                }
            }
        }
        Ok(())
    }

    /// Whether this loop keeps step results on the device until the logs are wanted.
    fn defers(&self, model: &Sequential) -> bool {
        model.device() == Device::Gpu && self.data_parallel.is_none() && self.grad_norms.is_none()
    }

    /// The data-parallel end of a train step: this rank's gradients, loss and metric updates are
    /// summed across ranks (weighted by `count`, the rank's samples), then the optimizer applies
    /// the global-batch gradient. Returns the global batch loss.
    fn apply_across_ranks(&mut self, weights: &[Tensor], count: usize, value: f32, y: &Tensor, y_pred: &Tensor, mask: Option<&Tensor>) -> Result<f32> {
        let before: Vec<(f64, f64)> = self.metrics.iter().map(Metric::state).collect();
        {
            let _no_grad = NoGradGuard::new();
            self.update_metrics(y, y_pred, mask)?;
        }
        let grads: Vec<Option<Tensor>> = weights.iter().map(Tensor::take_grad).collect();
        let Some(dp) = self.data_parallel.as_mut() else { return Err(Error::value("fit", "a data-parallel model", "none")) };
        let (pairs, global_loss) = dp.reduce_step(weights, &grads, count, value, &mut self.metrics, &before)?;
        if let Some(norms) = &self.grad_norms {
            norms.lock().record(weights, &pairs);
        }
        self.optimizer.lock().apply(&pairs)?;
        Ok(global_loss)
    }

    /// Loss on a batch without updating anything.
    pub fn test_step(&mut self, model: &Sequential, x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng) -> Result<f32> {
        let _no_grad = NoGradGuard::new();
        let (y_pred, mask, loss) = model.loss(&self.loss, x, y, w, &mut ForwardContext::new(false, rng))?;
        let value = loss.item()?;
        self.update_metrics(y, &y_pred, mask.as_ref())?;
        Ok(value)
    }

    /// One training epoch over `data` in batches of `batch_size` (the last one may be smaller).
    pub fn fit_epoch(&mut self, model: &Sequential, data: &Dataset<'_>, batch_size: usize, shuffle: bool, rng: &mut Rng, hook: &mut dyn Hook) -> Result<Logs> {
        self.reset_metrics();
        let mut order: Vec<usize> = (0..data.n).collect();
        if shuffle {
            rng.shuffle(&mut order);
        }
        if let Some(dp) = &self.data_parallel {
            dp.split_stream(rng);
        }
        let train = |c: &mut Self, x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng| {
            if c.defers(model) {
                let (loss, y_pred, mask) = c.train_step_on_device(model, x, y, w, rng)?;
                Ok(Step::OnDevice { loss, y_pred, mask })
            } else {
                c.train_step(model, x, y, w, rng).map(Step::Read)
            }
        };
        // Across ranks each global batch's indices select this rank's shard of it.
        self.run_batches(model, data, &order, batch_size, true, rng, hook, train)
    }

    /// Loss and metrics over `data`, in inference mode.
    pub fn evaluate(&mut self, model: &Sequential, data: &Dataset<'_>, batch_size: usize, rng: &mut Rng, hook: &mut dyn Hook) -> Result<Logs> {
        self.reset_metrics();
        let order: Vec<usize> = (0..data.n).collect();
        let test = |c: &mut Self, x: &Tensor, y: &Tensor, w: Option<&Tensor>, rng: &mut Rng| {
            if c.defers(model) {
                let _no_grad = NoGradGuard::new();
                let (y_pred, mask, loss) = model.loss(&c.loss, x, y, w, &mut ForwardContext::new(false, rng))?;
                Ok(Step::OnDevice { loss, y_pred, mask })
            } else {
                c.test_step(model, x, y, w, rng).map(Step::Read)
            }
        };
        self.run_batches(model, data, &order, batch_size, false, rng, hook, test)
    }

    /// The batch loop of fit and evaluate: `step` runs each batch; a result still on the device
    /// waits with the others until the hook wants logs (then one read-back settles them all).
    #[allow(clippy::too_many_arguments)]
    fn run_batches(
        &mut self,
        model: &Sequential,
        data: &Dataset<'_>,
        order: &[usize],
        batch_size: usize,
        shard: bool,
        rng: &mut Rng,
        hook: &mut dyn Hook,
        mut step: impl FnMut(&mut Self, &Tensor, &Tensor, Option<&Tensor>, &mut Rng) -> Result<Step>,
    ) -> Result<Logs> {
        let mut loss = MeanTracker::default();
        let steps = data.n.div_ceil(batch_size.max(1));
        let mut pending: Vec<Pending> = Vec::new();
        for (i, indices) in order.chunks(batch_size.max(1)).enumerate() {
            let picked = if shard { self.data_parallel.as_ref().map_or(indices, |dp| dp.shard(indices)) } else { indices };
            let (x, y, w) = data.batch(picked, model)?;
            let last = i + 1 == steps;
            match step(self, &x, &y, w.as_ref(), rng)? {
                Step::Read(value) => loss.update(value as f64, indices.len() as f64),
                Step::OnDevice { loss: value, y_pred, mask } => {
                    pending.push(Pending { loss: value, samples: indices.len() as f64, y, y_pred, mask });
                    if hook.wants_logs(i, last) || pending.len() >= MAX_PENDING {
                        self.settle(&mut pending, &mut loss)?;
                    }
                    // Else the hook still runs (Ctrl-C, stop requests) with the logs of the last
                    // read-back.
                }
            }
            if hook.batch_end(i, &logs_of(&loss, &self.metrics), last)? {
                break;
            }
        }
        self.settle(&mut pending, &mut loss)?;
        Ok(logs_of(&loss, &self.metrics))
    }

    /// Logs of a single batch step (train or test), metrics reset first, as `*_on_batch` reports.
    pub fn single_batch(&mut self, model: &Sequential, data: &Dataset<'_>, train: bool, rng: &mut Rng) -> Result<Logs> {
        self.reset_metrics();
        let indices: Vec<usize> = (0..data.n).collect();
        let (x, y, w) = data.batch(&indices, model)?;
        let value = if train { self.train_step(model, &x, &y, w.as_ref(), rng)? } else { self.test_step(model, &x, &y, w.as_ref(), rng)? };
        let mut loss = MeanTracker::default();
        loss.update(value as f64, 1.0);
        Ok(logs_of(&loss, &self.metrics))
    }
}

/// Predictions for `x` (n rows of `x_row`), in batches, inference mode. Returns values and shape.
pub fn predict(model: &Sequential, x: &[f32], x_shape: &[usize], batch_size: usize, rng: &mut Rng, hook: &mut dyn Hook) -> Result<(Vec<f32>, Vec<usize>)> {
    let _no_grad = NoGradGuard::new();
    let n = *x_shape.first().ok_or_else(|| Error::shape("predict", "x with a batch axis", "a scalar"))?;
    let row: usize = x_shape[1..].iter().product();
    let mut out: Vec<f32> = Vec::new();
    let mut out_row: Option<Vec<usize>> = None;
    let steps = n.div_ceil(batch_size.max(1));
    // On the GPU the batches' outputs wait there and are read back together (one submit).
    let mut pending: Vec<Tensor> = Vec::new();
    let flush = |pending: &mut Vec<Tensor>, out: &mut Vec<f32>| -> Result<()> {
        for values in Tensor::read_all(&pending.iter().collect::<Vec<_>>())? {
            out.extend_from_slice(&values);
        }
        pending.clear();
        Ok(())
    };
    for step in 0..steps {
        let start = step * batch_size;
        let end = (start + batch_size).min(n);
        let xb = Tensor::from_vec_on(x[start * row..end * row].to_vec(), &with_batch(end - start, &x_shape[1..]), model.input_device())?;
        let y = model.forward(&xb, &mut ForwardContext::new(false, rng))?;
        out_row.get_or_insert_with(|| y.shape()[1..].to_vec());
        pending.push(y);
        if pending.len() >= MAX_PENDING || model.device() == Device::Cpu {
            flush(&mut pending, &mut out)?;
        }
        if hook.batch_end(step, &Vec::new(), step + 1 == steps)? {
            break;
        }
    }
    flush(&mut pending, &mut out)?;
    let row_shape = out_row.unwrap_or_default();
    let rows = if row_shape.iter().product::<usize>() == 0 { 0 } else { out.len() / row_shape.iter().product::<usize>() };
    Ok((out, with_batch(rows, &row_shape)))
}
