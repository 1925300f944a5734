//! Layers that add noise in training only: Dropout (inverted: kept values scaled by 1/(1-rate)),
//! GaussianNoise (additive) and GaussianDropout (multiplicative, mean 1). A layer given a seed
//! draws from its own generator, so the same seed gives the same masks. On the GPU the noise is
//! generated there (`shaders/noise.wgsl`) from one seed per call drawn from that generator.

use super::{ForwardContext, Layer};
use crate::error::{Error, Result};
use crate::gpu::{kernels, GpuBuffer};
use crate::nn::rng::Rng;
use crate::ops;
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};
use parking_lot::Mutex;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseKind {
    Dropout { rate: f32 },
    GaussianNoise { stddev: f32 },
    GaussianDropout { rate: f32 },
}

pub struct Noise {
    pub name: String,
    pub kind: NoiseKind,
    /// Dropout's `noise_shape` (None entries take the input's size): the mask broadcasts over
    /// axes of size 1.
    pub noise_shape: Option<Vec<Option<usize>>>,
    seeded: Option<Mutex<Rng>>,
}

impl Noise {
    pub fn new(name: String, kind: NoiseKind, noise_shape: Option<Vec<Option<usize>>>, seed: Option<u64>) -> Self {
        Noise { name, kind, noise_shape, seeded: seed.map(|s| Mutex::new(Rng::new(s))) }
    }

    fn mask_shape(&self, x: &Tensor) -> Result<Vec<usize>> {
        match &self.noise_shape {
            None => Ok(x.shape().to_vec()),
            Some(ns) => {
                if ns.len() != x.ndim() {
                    return Err(Error::shape(&self.name, format!("noise_shape of rank {}", x.ndim()), format!("{ns:?} for input {}", fmt_shape(x.shape()))));
                }
                let shape: Vec<usize> = ns.iter().zip(x.shape()).map(|(n, &d)| n.unwrap_or(d)).collect();
                for (&m, &d) in shape.iter().zip(x.shape()) {
                    if m != 1 && m != d {
                        return Err(Error::shape(&self.name, format!("noise_shape that broadcasts to {}", fmt_shape(x.shape())), fmt_shape(&shape)));
                    }
                }
                Ok(shape)
            }
        }
    }

    fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        let draw = |rng: &mut Rng| -> Vec<f32> {
            match self.kind {
                NoiseKind::Dropout { rate } => {
                    let keep = 1.0 / (1.0 - rate);
                    (0..n).map(|_| if rng.next_f32() >= rate { keep } else { 0.0 }).collect()
                }
                NoiseKind::GaussianNoise { stddev } => (0..n).map(|_| stddev * rng.normal()).collect(),
                NoiseKind::GaussianDropout { rate } => {
                    let stddev = (rate / (1.0 - rate)).sqrt();
                    (0..n).map(|_| 1.0 + stddev * rng.normal()).collect()
                }
            }
        };
        match &self.seeded {
            Some(own) => draw(&mut own.lock()),
            None => draw(rng),
        }
    }

    /// The same distributions made on the GPU from one seed drawn here (Philox keyed by it, one
    /// counter per element): nothing is uploaded, and the layer's seed still fixes the masks.
    fn sample_gpu(&self, n: usize, rng: &mut Rng) -> Result<GpuBuffer> {
        let seed = match &self.seeded {
            Some(own) => own.lock().next_u64(),
            None => rng.next_u64(),
        };
        match self.kind {
            NoiseKind::Dropout { rate } => kernels::dropout_mask(&self.name, n, seed, rate, 1.0 / (1.0 - rate)),
            NoiseKind::GaussianNoise { stddev } => kernels::normal(&self.name, n, seed, 0.0, stddev),
            NoiseKind::GaussianDropout { rate } => kernels::normal(&self.name, n, seed, 1.0, (rate / (1.0 - rate)).sqrt()),
        }
    }
}

impl Layer for Noise {
    fn generators(&self) -> Vec<&Mutex<Rng>> {
        self.seeded.iter().collect()
    }

    fn name(&self) -> &str {
        &self.name
    }

    crate::passes_mask!();

    fn forward(&self, x: &Tensor, ctx: &mut ForwardContext<'_>) -> Result<Tensor> {
        let inactive = match self.kind {
            NoiseKind::Dropout { rate } | NoiseKind::GaussianDropout { rate } => rate == 0.0,
            NoiseKind::GaussianNoise { stddev } => stddev == 0.0,
        };
        if !ctx.training || inactive {
            return Ok(x.clone());
        }
        let shape = self.mask_shape(x)?;
        let n = shape.iter().product();
        let noise = match x.device() {
            Device::Gpu => Tensor::from_gpu(self.sample_gpu(n, ctx.rng)?, &shape),
            Device::Cpu => Tensor::from_vec(self.sample(n, ctx.rng), &shape)?,
        };
        match self.kind {
            NoiseKind::GaussianNoise { .. } => ops::add(x, &noise),
            _ => ops::mul(x, &noise),
        }
    }
}
