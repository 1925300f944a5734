//! The activations as WGSL expressions for the elementwise kernel: the same formulas as
//! `cpu::activation`, so GPU and CPU agree to float32 rounding. Parameters travel as the
//! kernel's scalars s0..s2.

use crate::cpu::activation::Activation;

const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_SCALE: f32 = 1.050_701;

/// `act(v)` as a WGSL expression in the variable `v`, with its scalars.
pub fn forward(act: Activation, v: &str) -> (String, [f32; 4]) {
    let mut s = [0.0f32; 4];
    let e = match act {
        Activation::Linear => v.to_string(),
        // `select(v, 0, v < 0)` keeps NaN, as the CPU's ReLU does.
        Activation::Relu => format!("select({v}, 0.0, {v} < 0.0)"),
        Activation::Sigmoid => format!("sigm({v})"),
        Activation::Tanh => format!("tanh_({v})"),
        Activation::LeakyRelu { negative_slope } => {
            s[0] = negative_slope;
            format!("select(s0 * {v}, {v}, {v} >= 0.0)")
        }
        Activation::Elu { alpha } => {
            s[0] = alpha;
            format!("select(s0 * expm1_({v}), {v}, {v} > 0.0)")
        }
        Activation::Selu => format!("select({} * expm1_({v}), {SELU_SCALE:?} * {v}, {v} > 0.0)", fmt(SELU_SCALE * SELU_ALPHA)),
        Activation::Gelu { approximate: false } => format!("0.5 * {v} * (1.0 + erf_({v} * 0.70710678))"),
        Activation::Gelu { approximate: true } => format!("0.5 * {v} * (1.0 + tanh_(0.7978846 * ({v} + 0.044715 * {v} * {v} * {v})))"),
        Activation::Softplus => format!("max({v}, 0.0) + log1p_(exp(-abs({v})))"),
        Activation::Silu => format!("{v} * sigm({v})"),
        Activation::HardSigmoid => format!("clamp({v} + 3.0, 0.0, 6.0) / 6.0"),
        Activation::ReluGeneral { max_value, negative_slope, threshold } => {
            s[0] = max_value;
            s[1] = negative_slope;
            s[2] = threshold;
            format!("select(select(select(s1 * ({v} - s2), 0.0, s1 == 0.0), {v}, {v} >= s2), s0, {v} >= s0)")
        }
    };
    (e, s)
}

/// `act'(x)` as a WGSL expression in `x` (the input) and `y` (the output), with its scalars.
pub fn derivative(act: Activation, x: &str, y: &str) -> (String, [f32; 4]) {
    let mut s = [0.0f32; 4];
    let e = match act {
        Activation::Linear => "1.0".to_string(),
        Activation::Relu => format!("select(0.0, 1.0, {y} > 0.0)"),
        Activation::Sigmoid => format!("{y} * (1.0 - {y})"),
        Activation::Tanh => format!("1.0 - {y} * {y}"),
        Activation::LeakyRelu { negative_slope } => {
            s[0] = negative_slope;
            format!("select(s0, 1.0, {x} >= 0.0)")
        }
        Activation::Elu { alpha } => {
            s[0] = alpha;
            format!("select({y} + s0, 1.0, {x} > 0.0)")
        }
        Activation::Selu => format!("select({y} + {}, {}, {x} > 0.0)", fmt(SELU_SCALE * SELU_ALPHA), fmt(SELU_SCALE)),
        Activation::Gelu { approximate: false } => {
            format!("0.5 * (1.0 + erf_({x} * 0.70710678)) + {x} * exp(-0.5 * {x} * {x}) * 0.39894228")
        }
        Activation::Gelu { approximate: true } => format!(
            "0.5 * (1.0 + tanh_(0.7978846 * ({x} + 0.044715 * {x} * {x} * {x}))) + 0.5 * {x} * (1.0 - tanh_(0.7978846 * ({x} + 0.044715 * {x} * {x} * {x})) * tanh_(0.7978846 * ({x} + 0.044715 * {x} * {x} * {x}))) * 0.7978846 * (1.0 + 0.134145 * {x} * {x})"
        ),
        Activation::Softplus => format!("sigm({x})"),
        Activation::Silu => format!("sigm({x}) * (1.0 + {x} * (1.0 - sigm({x})))"),
        Activation::HardSigmoid => format!("select(0.0, 1.0 / 6.0, {x} > -3.0 && {x} < 3.0)"),
        Activation::ReluGeneral { max_value, negative_slope, threshold } => {
            s[0] = max_value;
            s[1] = negative_slope;
            s[2] = threshold;
            format!("select(select(s1, 1.0, {x} >= s2), 0.0, {x} >= s0)")
        }
    };
    (e, s)
}

/// A float literal WGSL parses (always with a decimal point).
fn fmt(v: f32) -> String {
    format!("{v:?}")
}

/// A key naming the activation and its parameters for the pipeline cache (parameters travel as
/// scalars, so only the variant matters).
pub fn key(act: Activation) -> &'static str {
    match act {
        Activation::Gelu { approximate: true } => "gelu_tanh",
        other => other.name(),
    }
}
