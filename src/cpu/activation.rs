//! Elementwise activations, forward and derivative, in the form Keras 3 defines them. One enum so
//! the fused dense op and the standalone ops share every formula.

/// An elementwise activation with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    LeakyRelu { negative_slope: f32 },
    Elu { alpha: f32 },
    Selu,
    Gelu { approximate: bool },
    Softplus,
    Silu,
    HardSigmoid,
    /// Keras `ReLU(max_value, negative_slope, threshold)`: `max_value` above it, `x` from
    /// `threshold` up, `negative_slope * (x - threshold)` below.
    ReluGeneral { max_value: f32, negative_slope: f32, threshold: f32 },
}

const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_SCALE: f32 = 1.050_701;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;

#[inline]
pub fn sigmoid(x: f32) -> f32 {
    // Split by sign so exp never overflows.
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[inline]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Activation {
    /// The Python name (`"leaky_relu"`), used in op names and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Gelu { .. } => "gelu",
            Activation::Softplus => "softplus",
            Activation::Silu => "silu",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::ReluGeneral { .. } => "relu",
        }
    }

    #[inline]
    pub fn forward(&self, x: f32) -> f32 {
        match *self {
            Activation::Linear => x,
            // Not `x.max(0.0)`: that turns NaN into 0 and hides a diverged model.
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::LeakyRelu { negative_slope } => {
                if x >= 0.0 {
                    x
                } else {
                    negative_slope * x
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Selu => {
                if x > 0.0 {
                    SELU_SCALE * x
                } else {
                    SELU_SCALE * SELU_ALPHA * x.exp_m1()
                }
            }
            Activation::Gelu { approximate: false } => {
                (0.5 * x as f64 * (1.0 + libm::erf(x as f64 * FRAC_1_SQRT_2))) as f32
            }
            Activation::Gelu { approximate: true } => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
            }
            Activation::Softplus => softplus(x),
            Activation::Silu => x * sigmoid(x),
            Activation::HardSigmoid => ((x + 3.0).clamp(0.0, 6.0)) / 6.0,
            Activation::ReluGeneral { max_value, negative_slope, threshold } => {
                if x >= max_value {
                    max_value
                } else if x >= threshold {
                    x
                } else if negative_slope == 0.0 {
                    0.0 // not -0.0, which 0 * (negative) would give
                } else {
                    negative_slope * (x - threshold)
                }
            }
        }
    }

    /// d forward / dx, given the input `x` and the output `y = forward(x)`.
    #[inline]
    pub fn derivative(&self, x: f32, y: f32) -> f32 {
        match *self {
            Activation::Linear => 1.0,
            // From the output: y > 0 exactly where x > 0, so the op need not keep its input.
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
            Activation::LeakyRelu { negative_slope } => {
                if x >= 0.0 {
                    1.0
                } else {
                    negative_slope
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    y + alpha
                }
            }
            Activation::Selu => {
                if x > 0.0 {
                    SELU_SCALE
                } else {
                    y + SELU_SCALE * SELU_ALPHA
                }
            }
            Activation::Gelu { approximate: false } => {
                let xf = x as f64;
                let cdf = 0.5 * (1.0 + libm::erf(xf * FRAC_1_SQRT_2));
                let pdf = (-0.5 * xf * xf).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (cdf + xf * pdf) as f32
            }
            Activation::Gelu { approximate: true } => {
                let inner = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
                let t = inner.tanh();
                let dinner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044_715 * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner
            }
            Activation::Softplus => sigmoid(x),
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Activation::HardSigmoid => {
                if x > -3.0 && x < 3.0 {
                    1.0 / 6.0
                } else {
                    0.0
                }
            }
            Activation::ReluGeneral { max_value, negative_slope, threshold } => {
                if x >= max_value {
                    0.0
                } else if x >= threshold {
                    1.0
                } else {
                    negative_slope
                }
            }
        }
    }

    /// Apply the activation to every value of `values` in place, with the match hoisted out of
    /// the loop so the common cases vectorise.
    pub fn apply_in_place(&self, values: &mut [f32]) {
        match *self {
            Activation::Linear => {}
            // `x < 0` keeps NaN (a NaN compares false), unlike `max`.
            Activation::Relu => values.iter_mut().for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v }),
            Activation::LeakyRelu { negative_slope } => values.iter_mut().for_each(|v| *v = if *v >= 0.0 { *v } else { negative_slope * *v }),
            Activation::HardSigmoid => values.iter_mut().for_each(|v| *v = (*v + 3.0).clamp(0.0, 6.0) / 6.0),
            other => values.iter_mut().for_each(|v| *v = other.forward(*v)),
        }
    }

    /// Whether `derivative` needs the input `x` (else the output `y` suffices).
    pub fn derivative_needs_input(&self) -> bool {
        !matches!(self, Activation::Linear | Activation::Relu | Activation::Sigmoid | Activation::Tanh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn keras_reference_values() {
        // keras-api.md 3.1, measured on z = [-2, -0.5, 0, 0.5, 2].
        let z = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
        let apply = |a: Activation| z.iter().map(|&x| a.forward(x)).collect::<Vec<_>>();
        close(&apply(Activation::HardSigmoid), &[0.166667, 0.416667, 0.5, 0.583333, 0.833333]);
        close(&apply(Activation::Gelu { approximate: false }), &[-0.0455, -0.154269, 0.0, 0.345731, 1.9545]);
        close(&apply(Activation::Selu), &[-1.520166, -0.691758, 0.0, 0.52535, 2.101402]);
        close(&apply(Activation::LeakyRelu { negative_slope: 0.2 }), &[-0.4, -0.1, 0.0, 0.5, 2.0]);
    }

    #[test]
    fn sigmoid_never_overflows() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }
}
