//! `_core.Layer`: the engine layers the Python layer classes build, one static constructor per
//! family (dense, conv, pool, normalization, noise, ...), with the config parsing they share.

use super::convert::to_tensor;
use super::tensor::{detached, PyTensor};
use crate::cpu::activation::Activation;
use crate::error::Error;
use crate::nn::layers::{
    ActivationKind, ActivationLayer, ActivityRegularization, BatchNormalization, Conv, ConvKind, Dense, Embedding, ForwardContext, Layer, LayerNormalization, Masking, Noise,
    NoiseKind, Pool, Reshape, Resize, Sequence, Spatial, TimeDistributed, Weights,
};
use crate::tensor::Tensor;
use crate::nn::regularizer::Regularizer;
use crate::nn::rng::Rng;
use crate::ops::conv::{ConvSpec, Padding};
use crate::ops::pool::PoolKind;
use crate::ops::DenseActivation;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

/// A configured layer the engine can run.
#[pyclass(name = "Layer", module = "ferronet._core", frozen)]
pub struct PyLayer {
    pub inner: Arc<dyn Layer>,
}

pub(crate) fn get<'py, T: FromPyObjectOwned<'py>>(cfg: &Bound<'py, PyDict>, key: &str, default: T) -> PyResult<T> {
    match cfg.get_item(key)? {
        Some(v) if !v.is_none() => v.extract().map_err(Into::into),
        _ => Ok(default),
    }
}

/// "valid" | "same" | "causal" under "padding".
fn padding_from(name: &str, cfg: &Bound<'_, PyDict>) -> PyResult<Padding> {
    Ok(match get(cfg, "padding", "valid".to_string())?.to_lowercase().as_str() {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        "causal" => Padding::Causal,
        other => return Err(Error::value(name, "padding 'valid', 'same' or 'causal'", format!("'{other}'")).into()),
    })
}

/// `{"l1": .., "l2": ..}` under `key` in `cfg`, or None.
pub(crate) fn regularizer(cfg: &Bound<'_, PyDict>, key: &str) -> PyResult<Option<Regularizer>> {
    match cfg.get_item(key)? {
        Some(v) if !v.is_none() => {
            let d = v.cast::<PyDict>()?;
            Ok(Some(Regularizer { l1: get(d, "l1", 0.0)?, l2: get(d, "l2", 0.0)? }))
        }
        _ => Ok(None),
    }
}

/// A layer's weights (those that exist) with the regularizers named in `cfg`.
fn weights(cfg: &Bound<'_, PyDict>, entries: [(Option<&Tensor>, &str); 2]) -> PyResult<Weights> {
    let mut list = Vec::with_capacity(entries.len());
    for (w, key) in entries {
        list.push((w.cloned(), regularizer(cfg, key)?));
    }
    Ok(Weights::new(list))
}

/// An elementwise activation by Keras name, with parameters from `cfg`.
pub fn activation_from(name: &str, cfg: &Bound<'_, PyDict>, who: &str) -> PyResult<Option<Activation>> {
    Ok(Some(match name {
        "linear" => Activation::Linear,
        "relu" => {
            let max_value: f32 = get(cfg, "max_value", f32::INFINITY)?;
            let negative_slope: f32 = get(cfg, "negative_slope", 0.0)?;
            let threshold: f32 = get(cfg, "threshold", 0.0)?;
            if max_value.is_infinite() && negative_slope == 0.0 && threshold == 0.0 {
                Activation::Relu
            } else {
                Activation::ReluGeneral { max_value, negative_slope, threshold }
            }
        }
        "relu6" => Activation::ReluGeneral { max_value: 6.0, negative_slope: 0.0, threshold: 0.0 },
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "leaky_relu" => Activation::LeakyRelu { negative_slope: get(cfg, "negative_slope", 0.2)? },
        "elu" => Activation::Elu { alpha: get(cfg, "alpha", 1.0)? },
        "selu" => Activation::Selu,
        "gelu" => Activation::Gelu { approximate: get(cfg, "approximate", false)? },
        "softplus" => Activation::Softplus,
        "silu" | "swish" => Activation::Silu,
        "hard_sigmoid" => Activation::HardSigmoid,
        "softmax" => return Ok(None),
        other => return Err(Error::value(who, "a known activation", format!("'{other}'")).into()),
    }))
}

#[pymethods]
impl PyLayer {
    /// `Dense(name, kernel, bias, activation, config)`.
    #[staticmethod]
    #[pyo3(signature = (name, kernel, bias, activation, config))]
    fn dense(name: String, kernel: &Bound<'_, PyAny>, bias: Option<&Bound<'_, PyAny>>, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let act = match activation_from(activation, config, &name)? {
            Some(a) => DenseActivation::Elementwise(a),
            None => DenseActivation::Softmax,
        };
        let kernel = to_tensor(kernel, &name)?;
        let bias = match bias {
            Some(b) if !b.is_none() => Some(to_tensor(b, &name)?),
            _ => None,
        };
        let weights = weights(config, [(Some(&kernel), "kernel_regularizer"), (bias.as_ref(), "bias_regularizer")])?;
        Ok(PyLayer { inner: Arc::new(Dense { name, kernel, bias, activation: act, activity_regularizer: regularizer(config, "activity_regularizer")?, weights }) })
    }

    /// A convolution (`kind`: conv, depthwise, transpose) of `rank` 1 or 2; see layers/conv.py.
    #[staticmethod]
    fn conv(name: String, kernel: PyRef<'_, PyTensor>, bias: Option<PyRef<'_, PyTensor>>, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let act = match activation_from(activation, config, &name)? {
            Some(a) => DenseActivation::Elementwise(a),
            None => DenseActivation::Softmax,
        };
        let rank: usize = get(config, "rank", 2)?;
        if !(1..=2).contains(&rank) {
            return Err(Error::value(&name, "rank 1 or 2", format!("{rank}")).into());
        }
        let pair = |key: &str| -> PyResult<[usize; 2]> {
            let v: Vec<usize> = get(config, key, vec![1; rank])?;
            if v.len() != rank {
                return Err(Error::value(&name, format!("{rank} values for {key}"), format!("{v:?}")).into());
            }
            Ok(if rank == 1 { [1, v[0]] } else { [v[0], v[1]] })
        };
        let spec = ConvSpec { strides: pair("strides")?, dilation: pair("dilation")?, padding: padding_from(&name, config)?, groups: get(config, "groups", 1)? };
        let kind_name: String = get(config, "kind", "conv".to_string())?;
        let kind = match kind_name.as_str() {
            "conv" => ConvKind::Conv,
            "depthwise" => ConvKind::Depthwise,
            "transpose" => {
                let op: Option<Vec<usize>> = get(config, "output_padding", None)?;
                ConvKind::Transpose { output_padding: op.map(|v| if rank == 1 { [0, v[0]] } else { [v[0], v[1]] }) }
            }
            other => return Err(Error::value(&name, "conv, depthwise or transpose", format!("'{other}'")).into()),
        };
        let expected_kernel_rank = if kind == ConvKind::Depthwise { 4 } else { rank + 2 };
        if kernel.inner.ndim() != expected_kernel_rank {
            return Err(Error::shape(&name, format!("a kernel of rank {expected_kernel_rank}"), crate::tensor::shape::fmt_shape(kernel.inner.shape())).into());
        }
        let (kernel, bias) = (kernel.inner.clone(), bias.map(|b| b.inner.clone()));
        let weights = weights(config, [(Some(&kernel), "kernel_regularizer"), (bias.as_ref(), "bias_regularizer")])?;
        Ok(PyLayer {
            inner: Arc::new(Conv {
                name,
                rank,
                kind,
                kernel,
                bias,
                spec,
                channels_first: get(config, "channels_first", false)?,
                activation: act,
                activity_regularizer: regularizer(config, "activity_regularizer")?,
                weights,
            }),
        })
    }

    /// Max or average pooling, windowed or global.
    #[staticmethod]
    fn pool(name: String, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let rank: usize = get(config, "rank", 2)?;
        let kind = match get(config, "kind", "max".to_string())?.as_str() {
            "max" => PoolKind::Max,
            "avg" | "average" => PoolKind::Average,
            other => return Err(Error::value(&name, "max or avg", format!("'{other}'")).into()),
        };
        let global: bool = get(config, "global", false)?;
        let pair = |key: &str| -> PyResult<[usize; 2]> {
            let v: Vec<usize> = get(config, key, vec![1; rank])?;
            if v.len() != rank {
                return Err(Error::value(&name, format!("{rank} values for {key}"), format!("{v:?}")).into());
            }
            Ok(if rank == 1 { [1, v[0]] } else { [v[0], v[1]] })
        };
        let (pool, strides) = if global { ([1, 1], [1, 1]) } else { (pair("pool_size")?, pair("strides")?) };
        Ok(PyLayer {
            inner: Arc::new(Pool {
                rank,
                kind,
                pool,
                strides,
                padding: padding_from(&name, config)?,
                channels_first: get(config, "channels_first", false)?,
                global,
                keepdims: get(config, "keepdims", false)?,
                name,
            }),
        })
    }

    /// ZeroPadding2D with [[top, bottom], [left, right]].
    #[staticmethod]
    fn zero_padding(name: String, padding: [[usize; 2]; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::ZeroPadding(padding), channels_first }) }
    }

    /// UpSampling2D (nearest) with [rows, columns].
    #[staticmethod]
    fn upsampling(name: String, size: [usize; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::UpSampling(size), channels_first }) }
    }

    /// Cropping2D with [[top, bottom], [left, right]].
    #[staticmethod]
    fn cropping(name: String, cropping: [[usize; 2]; 2], channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Spatial { name, resize: Resize::Cropping(cropping), channels_first }) }
    }

    /// The identity plus an activity penalty `{"l1": .., "l2": ..}` on its input.
    #[staticmethod]
    fn activity_regularization(name: String, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let regularizer = Regularizer { l1: get(config, "l1", 0.0)?, l2: get(config, "l2", 0.0)? };
        Ok(PyLayer { inner: Arc::new(ActivityRegularization { name, regularizer }) })
    }

    /// Engine layers run in order, as one layer.
    #[staticmethod]
    fn sequence(name: String, layers: Vec<PyRef<'_, PyLayer>>) -> Self {
        PyLayer { inner: Arc::new(Sequence { name, layers: layers.iter().map(|l| l.inner.clone()).collect() }) }
    }

    /// Dropout, GaussianNoise or GaussianDropout (`kind`), active in training only.
    #[staticmethod]
    #[pyo3(signature = (name, kind, value, noise_shape = None, seed = None))]
    fn noise(name: String, kind: &str, value: f32, noise_shape: Option<Vec<Option<usize>>>, seed: Option<u64>) -> PyResult<Self> {
        let kind = match kind {
            "dropout" => NoiseKind::Dropout { rate: value },
            "gaussian_noise" => NoiseKind::GaussianNoise { stddev: value },
            "gaussian_dropout" => NoiseKind::GaussianDropout { rate: value },
            other => return Err(Error::value(&name, "dropout, gaussian_noise or gaussian_dropout", format!("'{other}'")).into()),
        };
        Ok(PyLayer { inner: Arc::new(Noise::new(name, kind, noise_shape, seed)) })
    }

    /// BatchNormalization over `axis` with its four weights (gamma/beta may be None).
    #[staticmethod]
    #[pyo3(signature = (name, axis, momentum, epsilon, gamma, beta, moving_mean, moving_variance, trainable, config))]
    #[allow(clippy::too_many_arguments)]
    fn batch_normalization(
        name: String,
        axis: isize,
        momentum: f32,
        epsilon: f32,
        gamma: Option<PyRef<'_, PyTensor>>,
        beta: Option<PyRef<'_, PyTensor>>,
        moving_mean: PyRef<'_, PyTensor>,
        moving_variance: PyRef<'_, PyTensor>,
        trainable: bool,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let (gamma, beta) = (gamma.map(|g| g.inner.clone()), beta.map(|b| b.inner.clone()));
        let weights = weights(config, [(gamma.as_ref(), "gamma_regularizer"), (beta.as_ref(), "beta_regularizer")])?;
        weights.set_trainable(trainable);
        Ok(PyLayer {
            inner: Arc::new(BatchNormalization {
                name,
                axis,
                momentum,
                epsilon,
                gamma,
                beta,
                moving_mean: moving_mean.inner.clone(),
                moving_variance: moving_variance.inner.clone(),
                weights,
            }),
        })
    }

    /// LayerNormalization over the last axis.
    #[staticmethod]
    #[pyo3(signature = (name, epsilon, gamma, beta, config))]
    fn layer_normalization(name: String, epsilon: f32, gamma: Option<PyRef<'_, PyTensor>>, beta: Option<PyRef<'_, PyTensor>>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let (gamma, beta) = (gamma.map(|g| g.inner.clone()), beta.map(|b| b.inner.clone()));
        let weights = weights(config, [(gamma.as_ref(), "gamma_regularizer"), (beta.as_ref(), "beta_regularizer")])?;
        Ok(PyLayer { inner: Arc::new(LayerNormalization { name, epsilon, gamma, beta, weights }) })
    }

    /// Reshape each sample to `target` (Flatten: `[-1]`).
    #[staticmethod]
    #[pyo3(signature = (name, target, channels_first = false))]
    fn reshape(name: String, target: Vec<isize>, channels_first: bool) -> Self {
        PyLayer { inner: Arc::new(Reshape { name, target, channels_first }) }
    }

    /// Tell the engine layer whether it is frozen (BatchNormalization then runs in inference mode).
    fn set_trainable(&self, trainable: bool) {
        self.inner.set_trainable(trainable);
    }

    /// An activation layer (`Activation`, `ReLU`, `LeakyReLU`, `ELU`, `Softmax`).
    #[staticmethod]
    fn activation(name: String, activation: &str, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let kind = match activation_from(activation, config, &name)? {
            Some(a) => ActivationKind::Elementwise(a),
            None => ActivationKind::Softmax { axis: get(config, "axis", -1)? },
        };
        Ok(PyLayer { inner: Arc::new(ActivationLayer { name, kind }) })
    }

    /// Embedding with its table (input_dim, output_dim); `mask_zero` makes index 0 padding.
    #[staticmethod]
    fn embedding(name: String, embeddings: PyRef<'_, PyTensor>, mask_zero: bool, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let embeddings = embeddings.inner.clone();
        let weights = weights(config, [(Some(&embeddings), "embeddings_regularizer"), (None, "")])?;
        Ok(PyLayer { inner: Arc::new(Embedding { name, embeddings, mask_zero, activity_regularizer: regularizer(config, "activity_regularizer")?, weights }) })
    }

    /// Masking: timesteps whose features all equal `mask_value` become padding.
    #[staticmethod]
    fn masking(name: String, mask_value: f32) -> Self {
        PyLayer { inner: Arc::new(Masking { name, mask_value }) }
    }

    /// TimeDistributed: `inner` applied to every timestep.
    #[staticmethod]
    fn time_distributed(name: String, inner: PyRef<'_, PyLayer>) -> Self {
        PyLayer { inner: Arc::new(TimeDistributed { name, inner: inner.inner.clone() }) }
    }

    /// The positions of the layer's own random generators (empty for most layers).
    fn generator_state(&self) -> Vec<u64> {
        self.inner.generators().iter().map(|g| g.lock().state()).collect()
    }

    /// Resume the layer's own generators at saved positions (as `generator_state` gives them).
    fn set_generator_state(&self, state: Vec<u64>) -> PyResult<()> {
        let generators = self.inner.generators();
        if generators.len() != state.len() {
            return Err(Error::format(self.inner.name(), format!("{} generator states", generators.len()), state.len().to_string()).into());
        }
        for (g, s) in generators.iter().zip(state) {
            *g.lock() = Rng::from_state(s);
        }
        Ok(())
    }

    /// Run the layer on a tensor (records the tape when grad mode is on); `mask` is the
    /// input's timestep mask (batch, timesteps), if any.
    #[pyo3(signature = (x, training = false, seed = 0, mask = None))]
    fn __call__(&self, py: Python<'_>, x: &Bound<'_, PyAny>, training: bool, seed: u64, mask: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let x = to_tensor(x, self.inner.name())?;
        let mask = mask.filter(|m| !m.is_none()).map(|m| to_tensor(m, self.inner.name())).transpose()?;
        let layer = self.inner.clone();
        Ok(PyTensor::wrap(detached(py, move || {
            let mut rng = Rng::new(seed);
            let mut ctx = ForwardContext::new(training, &mut rng);
            ctx.mask = mask;
            layer.forward(&x, &mut ctx)
        })?))
    }

    /// The mask of this layer's output for input `x` with input mask `mask` (None if none).
    #[pyo3(signature = (x, mask = None))]
    fn compute_mask(&self, x: &Bound<'_, PyAny>, mask: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PyTensor>> {
        let x = to_tensor(x, self.inner.name())?;
        let mask = mask.filter(|m| !m.is_none()).map(|m| to_tensor(m, self.inner.name())).transpose()?;
        Ok(self.inner.compute_mask(&x, mask.as_ref())?.map(PyTensor::wrap))
    }
}


pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLayer>()
}
