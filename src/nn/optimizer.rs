//! Optimizers with Keras 3's update rules, applied in place to the weights in one fused pass per
//! weight (chunks in parallel for large weights). Per step, in Keras's order: clip the gradients,
//! apply decoupled weight decay (`w -= w * weight_decay * lr`), update, then `iterations += 1`.

use crate::cpu::{CHUNK, PARALLEL_MIN_ELEMENTS};
use super::schedule::Schedule;
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::gpu::kernels::optimizer::{apply_update, UpdateRule};
use crate::gpu::GpuBuffer;
use crate::ops;
use crate::tensor::{CpuValues, Device, Tensor};
use crate::cpu::parallel::{for_each_chunk_mut, SharedMut};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Sgd { momentum: f32, nesterov: bool },
    Adam { beta_1: f32, beta_2: f32, epsilon: f32, amsgrad: bool },
    RmsProp { rho: f32, momentum: f32, epsilon: f32, centered: bool },
    Adagrad { initial_accumulator_value: f32, epsilon: f32 },
}

impl Rule {
    /// Per-weight state vectors this rule keeps (Keras's optimizer variables).
    fn slot_count(&self) -> usize {
        match *self {
            Rule::Sgd { momentum, .. } => (momentum != 0.0) as usize,
            Rule::Adam { amsgrad, .. } => 2 + amsgrad as usize,
            Rule::RmsProp { momentum, centered, .. } => 1 + (momentum > 0.0) as usize + centered as usize,
            Rule::Adagrad { .. } => 1,
        }
    }

    fn initial_slot_value(&self, slot: usize) -> f32 {
        match *self {
            Rule::Adagrad { initial_accumulator_value, .. } if slot == 0 => initial_accumulator_value,
            _ => 0.0,
        }
    }
}

/// Gradient clipping: at most one kind, as Keras enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    None,
    /// Per-tensor L2 norm.
    Norm(f32),
    /// Elementwise.
    Value(f32),
    /// Over all gradients together.
    GlobalNorm(f32),
}

pub struct Optimizer {
    pub rule: Rule,
    pub learning_rate: f32,
    /// When set, the rate each step is `schedule.at(iterations)` (and `learning_rate` follows it).
    pub schedule: Option<Schedule>,
    /// Decoupled weight decay (0: none).
    pub weight_decay: f32,
    pub clip: Clip,
    pub iterations: u64,
    /// Weights (by tensor id) excluded from weight decay.
    pub no_decay: Vec<usize>,
    slots: HashMap<usize, Vec<Vec<f32>>>,
    /// The state of weights that live on the GPU, kept there (no host round trip per step).
    gpu_slots: HashMap<usize, Vec<GpuBuffer>>,
}

fn l2(values: &[f32]) -> f32 {
    values.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt() as f32
}

impl Optimizer {
    pub fn new(rule: Rule, learning_rate: f32, weight_decay: f32, clip: Clip) -> Self {
        Optimizer { rule, learning_rate, schedule: None, weight_decay, clip, iterations: 0, no_decay: Vec::new(), slots: HashMap::new(), gpu_slots: HashMap::new() }
    }

    /// Number of optimizer state values (Keras counts `iterations` and the learning rate too).
    pub fn variable_count(&self) -> usize {
        let host = self.slots.values().flat_map(|s| s.iter().map(|v| v.len())).sum::<usize>();
        let gpu = self.gpu_slots.values().flat_map(|s| s.iter().map(GpuBuffer::len)).sum::<usize>();
        host + gpu + if self.slots.is_empty() && self.gpu_slots.is_empty() { 0 } else { 2 }
    }

    /// The state vectors of one weight (for saving), by slot; GPU state is read back.
    ///
    /// # Errors
    /// `Device` when GPU state cannot be read.
    pub fn slots_of(&self, weight: &Tensor) -> Result<Option<Vec<Vec<f32>>>> {
        if let Some(slots) = self.gpu_slots.get(&weight.id()) {
            return Ok(Some(slots.iter().map(|s| s.download("optimizer state")).collect::<Result<_>>()?));
        }
        Ok(self.slots.get(&weight.id()).cloned())
    }

    /// Replace one weight's state vectors (loading a saved optimizer).
    ///
    /// # Errors
    /// `Format` when the number of slots or a slot's length does not fit the rule and the weight.
    pub fn set_slots(&mut self, weight: &Tensor, slots: Vec<Vec<f32>>) -> Result<()> {
        let count = self.rule.slot_count();
        if slots.len() != count {
            return Err(Error::format("optimizer state", format!("{count} state arrays per weight for {:?}", self.rule), slots.len().to_string()));
        }
        if let Some(bad) = slots.iter().find(|s| s.len() != weight.numel()) {
            return Err(Error::format("optimizer state", format!("arrays of {} values for weight {}", weight.numel(), fmt_shape(weight.shape())), bad.len().to_string()));
        }
        if weight.device() == Device::Gpu {
            let uploaded = slots.iter().map(|s| GpuBuffer::upload("optimizer state", s)).collect::<Result<_>>()?;
            self.gpu_slots.insert(weight.id(), uploaded);
            self.slots.remove(&weight.id());
        } else {
            self.gpu_slots.remove(&weight.id());
            self.slots.insert(weight.id(), slots);
        }
        Ok(())
    }

    /// One step for weights that all live on the GPU: gradients clipped with GPU ops, then one
    /// update kernel per weight on state kept on the GPU.
    fn apply_on_gpu(&mut self, pairs: &[(Tensor, Tensor)]) -> Result<()> {
        let mut grads = pairs.iter().map(|(w, g)| {
            if g.numel() != w.numel() {
                return Err(Error::shape("optimizer", format!("a gradient with {} values for weight {}", w.numel(), fmt_shape(w.shape())), g.numel().to_string()));
            }
            ops::contiguous(&g.to_device(Device::Gpu)?)
        })
        .collect::<Result<Vec<_>>>()?;
        self.clip_on_gpu(&mut grads)?;
        if let Some(schedule) = &self.schedule {
            self.learning_rate = schedule.at(self.iterations);
        }
        let (lr, t) = (self.learning_rate, (self.iterations + 1) as i32);
        let rule = gpu_rule(self.rule, lr, t);
        for ((w, _), g) in pairs.iter().zip(&grads) {
            if !self.gpu_slots.contains_key(&w.id()) {
                // State from CPU steps (or a loaded file) moves over once; else the rule's start.
                let host = self.slots.remove(&w.id()).unwrap_or_else(|| (0..rule.slots).map(|s| vec![self.rule.initial_slot_value(s); w.numel()]).collect());
                let uploaded = host.iter().map(|s| GpuBuffer::upload("optimizer state", s)).collect::<Result<_>>()?;
                self.gpu_slots.insert(w.id(), uploaded);
            }
            let slots = &self.gpu_slots[&w.id()];
            let decay = if self.weight_decay > 0.0 && !self.no_decay.contains(&w.id()) { self.weight_decay * lr } else { 0.0 };
            let gs = g.storage();
            w.update_on_gpu(|ws| apply_update("optimizer", ws, &gs, slots, &rule, lr, decay))?;
        }
        self.iterations += 1;
        Ok(())
    }

    /// Keras's clipping with GPU ops (no read-back: the scale stays a GPU scalar).
    fn clip_on_gpu(&self, grads: &mut [Tensor]) -> Result<()> {
        let norm = |g: &Tensor| ops::sqrt(&ops::sum(&ops::square(g)?, None, false)?);
        // min(1, c / norm) as a GPU scalar: `c / max(norm, c)`.
        let scale = |n: &Tensor, c: f32| ops::div(&Tensor::scalar(c), &ops::clip(n, c, f32::INFINITY)?);
        match self.clip {
            Clip::None => {}
            Clip::Value(c) => {
                for g in grads.iter_mut() {
                    *g = ops::clip(g, -c, c)?;
                }
            }
            Clip::Norm(c) => {
                for g in grads.iter_mut() {
                    *g = ops::mul(g, &scale(&norm(g)?, c)?)?;
                }
            }
            Clip::GlobalNorm(c) => {
                let mut total: Option<Tensor> = None;
                for g in grads.iter() {
                    let sq = ops::sum(&ops::square(g)?, None, false)?;
                    total = Some(match total {
                        Some(t) => ops::add(&t, &sq)?,
                        None => sq,
                    });
                }
                if let Some(total) = total {
                    let s = scale(&ops::sqrt(&total)?, c)?;
                    for g in grads.iter_mut() {
                        *g = ops::mul(g, &s)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Apply one step given `(weight, gradient)` pairs.
    ///
    /// # Errors
    /// `Shape` when a gradient's size differs from its weight's.
    pub fn apply(&mut self, pairs: &[(Tensor, Tensor)]) -> Result<()> {
        if !pairs.is_empty() && pairs.iter().all(|(w, _)| w.device() == Device::Gpu) {
            return self.apply_on_gpu(pairs);
        }
        // Host path (CPU weights; a GPU weight mixed in goes through a round trip): state that
        // lived on the GPU comes back first.
        for (w, _) in pairs {
            if let Some(slots) = self.gpu_slots.remove(&w.id()) {
                self.slots.insert(w.id(), slots.iter().map(|s| s.download("optimizer state")).collect::<Result<_>>()?);
            }
        }
        let values: Vec<CpuValues> = pairs.iter().map(|(_, g)| g.cpu_values()).collect();
        for ((w, _), g) in pairs.iter().zip(&values) {
            if g.as_slice().len() != w.numel() {
                return Err(Error::shape(
                    "optimizer",
                    format!("a gradient with {} values for weight {}", w.numel(), fmt_shape(w.shape())),
                    format!("{}", g.as_slice().len()),
                ));
            }
        }
        // Clipping needs its own copy of the gradients; the plain path reads them in place.
        let clipped = if self.clip == Clip::None {
            None
        } else {
            let mut owned: Vec<Vec<f32>> = values.iter().map(|g| g.as_slice().to_vec()).collect();
            self.clip_gradients(&mut owned);
            Some(owned)
        };
        if let Some(schedule) = &self.schedule {
            self.learning_rate = schedule.at(self.iterations);
        }
        let lr = self.learning_rate;
        let t = (self.iterations + 1) as i32;
        for (i, (w, _)) in pairs.iter().enumerate() {
            let g: &[f32] = match &clipped {
                Some(c) => &c[i],
                None => values[i].as_slice(),
            };
            let rule = self.rule;
            let count = rule.slot_count();
            let slots = self
                .slots
                .entry(w.id())
                .or_insert_with(|| (0..count).map(|s| vec![rule.initial_slot_value(s); w.numel()]).collect());
            let decay = if self.weight_decay > 0.0 && !self.no_decay.contains(&w.id()) { self.weight_decay * lr } else { 0.0 };
            w.update_in_place(|values| {
                for_chunks(values, g, slots, |w, g, s| {
                    if decay != 0.0 {
                        w.iter_mut().for_each(|v| *v -= *v * decay);
                    }
                    update_chunk(rule, lr, t, w, g, s)
                })
            })?;
        }
        self.iterations += 1;
        Ok(())
    }

    fn clip_gradients(&self, grads: &mut [Vec<f32>]) {
        match self.clip {
            Clip::None => {}
            Clip::Value(c) => grads.iter_mut().for_each(|g| g.iter_mut().for_each(|v| *v = v.clamp(-c, c))),
            Clip::Norm(c) => grads.iter_mut().for_each(|g| {
                let n = l2(g);
                if n > c {
                    let s = c / n;
                    g.iter_mut().for_each(|v| *v *= s);
                }
            }),
            Clip::GlobalNorm(c) => {
                let total = grads.iter().map(|g| (l2(g) as f64).powi(2)).sum::<f64>().sqrt() as f32;
                if total > c {
                    let s = c / total;
                    grads.iter_mut().for_each(|g| g.iter_mut().for_each(|v| *v *= s));
                }
            }
        }
    }
}

/// The rule as the GPU update kernel runs it (the CPU's `update_chunk`, element by element).
fn gpu_rule(rule: Rule, lr: f32, t: i32) -> UpdateRule {
    let count = rule.slot_count();
    let (key, body, scalars) = match rule {
        Rule::Sgd { momentum: 0.0, .. } => ("sgd".to_string(), "wi -= lr * gi;".to_string(), [0.0; 4]),
        Rule::Sgd { momentum, nesterov } => (
            format!("sgd_momentum/{nesterov}"),
            format!("let m = a * s0[i] - lr * gi; s0[i] = m; wi += {};", if nesterov { "a * m - lr * gi" } else { "m" }),
            [momentum, 0.0, 0.0, 0.0],
        ),
        Rule::Adam { beta_1, beta_2, epsilon, amsgrad } => {
            let alpha = lr * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
            let update = if amsgrad { "let vh = max(s2[i], v); s2[i] = vh; wi -= a * m / (sqrt(vh) + d);" } else { "wi -= a * m / (sqrt(v) + d);" };
            (
                format!("adam/{amsgrad}"),
                format!("let m = s0[i] + (gi - s0[i]) * (1.0 - b); let v = s1[i] + (gi * gi - s1[i]) * (1.0 - c); s0[i] = m; s1[i] = v; {update}"),
                [alpha, beta_1, beta_2, epsilon],
            )
        }
        Rule::RmsProp { rho, momentum, epsilon, centered } => {
            // Slots in the CPU's order: velocity, then momentum (if any), then the average (if centered).
            let avg = if momentum > 0.0 { "s2" } else { "s1" };
            let denominator = if centered { format!("let av = a * {avg}[i] + (1.0 - a) * gi; {avg}[i] = av; let den = vel - av * av + c;") } else { "let den = vel + c;".to_string() };
            let step = if momentum > 0.0 { "let mo = b * s1[i] + inc; s1[i] = mo; wi -= mo;" } else { "wi -= inc;" };
            (
                format!("rmsprop/{}/{centered}", momentum > 0.0),
                format!("let vel = a * s0[i] + (1.0 - a) * gi * gi; s0[i] = vel; {denominator} let inc = lr * gi / sqrt(den); {step}"),
                [rho, momentum, epsilon, 0.0],
            )
        }
        Rule::Adagrad { epsilon, .. } => ("adagrad".to_string(), "let acc = s0[i] + gi * gi; s0[i] = acc; wi -= lr * gi / sqrt(acc + a);".to_string(), [epsilon, 0.0, 0.0, 0.0]),
    };
    UpdateRule { key, body, slots: count, scalars }
}

/// Run `f` over aligned chunks of a weight, its gradient and its slots (in parallel when large).
fn for_chunks(w: &mut [f32], g: &[f32], slots: &mut [Vec<f32>], f: impl Fn(&mut [f32], &[f32], &mut [&mut [f32]]) + Sync) {
    let n = w.len();
    let slot_ptrs: Vec<SharedMut<f32>> = slots.iter_mut().map(|s| SharedMut(s.as_mut_ptr())).collect();
    for_each_chunk_mut(w, CHUNK, n >= PARALLEL_MIN_ELEMENTS, |c, w| {
        let start = c * CHUNK;
        // SAFETY: every slot has the weight's length; chunk `c` of each is touched by this part only.
        let mut views: Vec<&mut [f32]> = slot_ptrs.iter().map(|p| unsafe { std::slice::from_raw_parts_mut(p.0.add(start), w.len()) }).collect();
        f(w, &g[start..start + w.len()], &mut views)
    });
}

/// One rule's update over a chunk, in f32 like Keras.
fn update_chunk(rule: Rule, lr: f32, t: i32, w: &mut [f32], g: &[f32], s: &mut [&mut [f32]]) {
    match rule {
        Rule::Sgd { momentum, nesterov } => {
            if momentum == 0.0 {
                for i in 0..w.len() {
                    w[i] -= lr * g[i];
                }
            } else {
                let m = &mut *s[0];
                for i in 0..w.len() {
                    m[i] = momentum * m[i] - lr * g[i];
                    w[i] += if nesterov { momentum * m[i] - lr * g[i] } else { m[i] };
                }
            }
        }
        Rule::Adam { beta_1, beta_2, epsilon, amsgrad } => {
            let alpha = lr * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
            let (m, rest) = s.split_at_mut(1);
            let (v, rest) = rest.split_at_mut(1);
            let (m, v) = (&mut *m[0], &mut *v[0]);
            for i in 0..w.len() {
                m[i] += (g[i] - m[i]) * (1.0 - beta_1);
                v[i] += (g[i] * g[i] - v[i]) * (1.0 - beta_2);
            }
            if amsgrad {
                let vhat = &mut *rest[0];
                for i in 0..w.len() {
                    vhat[i] = vhat[i].max(v[i]);
                    w[i] -= alpha * m[i] / (vhat[i].sqrt() + epsilon);
                }
            } else {
                for i in 0..w.len() {
                    w[i] -= alpha * m[i] / (v[i].sqrt() + epsilon);
                }
            }
        }
        Rule::RmsProp { rho, momentum, epsilon, centered } => {
            let (vel, rest) = s.split_at_mut(1);
            let vel = &mut *vel[0];
            let (mom, rest) = if momentum > 0.0 { let (a, b) = rest.split_at_mut(1); (Some(a), b) } else { (None, rest) };
            let mut avg = if centered { Some(&mut *rest[0]) } else { None };
            let mut mom = mom.map(|m| &mut *m[0]);
            for i in 0..w.len() {
                vel[i] = rho * vel[i] + (1.0 - rho) * g[i] * g[i];
                let denominator = match avg.as_deref_mut() {
                    Some(a) => {
                        a[i] = rho * a[i] + (1.0 - rho) * g[i];
                        vel[i] - a[i] * a[i] + epsilon
                    }
                    None => vel[i] + epsilon,
                };
                let increment = lr * g[i] / denominator.sqrt();
                match mom.as_deref_mut() {
                    Some(m) => {
                        m[i] = momentum * m[i] + increment;
                        w[i] -= m[i];
                    }
                    None => w[i] -= increment,
                }
            }
        }
        Rule::Adagrad { epsilon, .. } => {
            let acc = &mut *s[0];
            for i in 0..w.len() {
                acc[i] += g[i] * g[i];
                w[i] -= lr * g[i] / (acc[i] + epsilon).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keras-api.md 3.4: three steps from w=[1,-2] with constant g=[0.5,-1].
    fn run(rule: Rule, lr: f32, wd: f32) -> Vec<Vec<f32>> {
        let w = Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap();
        let mut opt = Optimizer::new(rule, lr, wd, Clip::None);
        (0..3)
            .map(|_| {
                opt.apply(&[(w.clone(), Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap())]).unwrap();
                w.to_vec()
            })
            .collect()
    }

    fn close(got: &[Vec<f32>], want: &[[f32; 2]]) {
        for (g, w) in got.iter().zip(want) {
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 1e-5, "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn keras_reference_steps() {
        close(&run(Rule::Sgd { momentum: 0.0, nesterov: false }, 0.1, 0.0), &[[0.95, -1.9], [0.9, -1.8], [0.85, -1.7]]);
        close(&run(Rule::Sgd { momentum: 0.9, nesterov: false }, 0.1, 0.0)[1..], &[[0.855, -1.71], [0.7195, -1.439]]);
        close(&run(Rule::Sgd { momentum: 0.9, nesterov: true }, 0.1, 0.0), &[[0.905, -1.81], [0.7695, -1.539], [0.59755, -1.1951]]);
        let adam = Rule::Adam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false };
        close(&run(adam, 0.1, 0.0), &[[0.900001, -1.900001], [0.800003, -1.800002], [0.700004, -1.700003]]);
        close(&run(adam, 0.1, 0.004)[..1], &[[0.899601, -1.899201]]);
        close(&run(adam, 0.1, 0.004)[2..], &[[0.698924, -1.697724]]);
        let rms = Rule::RmsProp { rho: 0.9, momentum: 0.0, epsilon: 1e-7, centered: false };
        close(&run(rms, 0.1, 0.0), &[[0.683773, -1.683772], [0.454357, -1.454357], [0.262263, -1.262262]]);
        let ada = Rule::Adagrad { initial_accumulator_value: 0.1, epsilon: 1e-7 };
        close(&run(ada, 0.1, 0.0), &[[0.915485, -1.904654], [0.850935, -1.835647], [0.796702, -1.778851]]);
    }
}
