"""Tensor ops, by their `keras.ops` names, with short aliases (`sub`, `mul`, `div`, `neg`, `pow`).

Every function takes `Tensor`s, NumPy arrays or Python numbers, returns a `Tensor`, and records
itself for `backward()` when an input requires grad. Binary ops broadcast as NumPy does.

Example:
>>> import ferronet as fn
>>> fn.ops.softmax(fn.tensor([[0.0, 0.0]])).numpy().tolist()
[[0.5, 0.5]]

Losses return the per-sample loss (the mean over the last axis), as `keras.losses` functions do:
`mean_squared_error`, `mean_absolute_error`, `huber`, `binary_crossentropy`,
`categorical_crossentropy`, `sparse_categorical_crossentropy` (integer labels).

`dense(x, kernel, bias=None, activation="linear")` is the fused `activation(x @ kernel + bias)`
with a Keras-layout kernel `(in, out)`.
"""

from ferronet._core import (
    absolute,
    add,
    binary_crossentropy,
    categorical_crossentropy,
    clip,
    concatenate,
    conv,
    dense,
    divide,
    elu,
    exp,
    gelu,
    hard_sigmoid,
    huber,
    leaky_relu,
    log,
    log_softmax,
    matmul,
    max,
    mean,
    mean_absolute_error,
    mean_squared_error,
    multiply,
    negative,
    power,
    relu,
    reshape,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    sparse_categorical_crossentropy,
    sqrt,
    square,
    subtract,
    sum,
    tanh,
    transpose,
)

sub = subtract
mul = multiply
div = divide
neg = negative
pow = power
abs = absolute
swish = silu

__all__ = [
    "absolute", "abs", "add", "binary_crossentropy", "categorical_crossentropy", "clip", "concatenate", "conv", "dense",
    "divide", "div", "elu", "exp", "gelu", "hard_sigmoid", "huber", "leaky_relu", "log",
    "log_softmax", "matmul", "max", "mean", "mean_absolute_error", "mean_squared_error",
    "multiply", "mul", "negative", "neg", "power", "pow", "relu", "reshape", "selu", "sigmoid",
    "silu", "swish", "softmax", "softplus", "sparse_categorical_crossentropy", "sqrt", "square",
    "subtract", "sub", "sum", "tanh", "transpose",
]
