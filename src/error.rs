//! The one error type of the engine. Every variant names the op or layer it came from, what was
//! expected and what arrived, so a Python user reads `matmul: expected ..., got ...` instead of a
//! panic. `bindings/error.rs` maps each variant to a Python exception class.

use thiserror::Error;

/// Engine errors, grouped by theme.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    // --- shapes ----------------------------------------------------------------------------
    /// Operand shapes do not fit the op's shape rule (broadcasting, inner dimensions, ...).
    #[error("{op}: expected {expected}, got {got}")]
    Shape { op: String, expected: String, got: String },

    /// An axis argument is outside `[-ndim, ndim)`.
    #[error("{op}: expected axis in [-{ndim}, {ndim}), got axis={axis}")]
    Axis { op: String, axis: isize, ndim: usize },

    // --- values and arguments -----------------------------------------------------------------
    /// An argument value is out of its domain (a non-finite scalar, a negative size, ...).
    #[error("{op}: expected {expected}, got {got}")]
    Value { op: String, expected: String, got: String },

    /// An input has the wrong element type (e.g. fractional class labels).
    #[error("{op}: expected {expected}, got {got}")]
    DType { op: String, expected: String, got: String },

    // --- autograd ---------------------------------------------------------------------------
    /// `backward()` was called on a non-scalar tensor without an explicit output gradient.
    #[error("backward: expected a scalar output or an explicit gradient, got shape {shape}")]
    NonScalarBackward { shape: String },

    /// `backward()` was called on a tensor that does not require grad.
    #[error("backward: expected a tensor that requires grad, got one with requires_grad=False")]
    NoGradient,

    /// The graph behind a tensor was already freed by an earlier `backward()`.
    #[error("backward: the graph through {op} was already freed by an earlier backward(); pass retain_graph=True the first time")]
    GraphFreed { op: String },

    /// The op has no gradient rule.
    #[error("{op}: backward is not supported")]
    BackwardNotSupported { op: String },

    // --- devices ----------------------------------------------------------------------------
    /// Operands live on different devices, or a device is unknown or unavailable.
    #[error("{op}: expected {expected}, got {got}")]
    Device { op: String, expected: String, got: String },

    // --- files ------------------------------------------------------------------------------
    /// A saved file (weights, optimizer state) is malformed or does not fit the model: raised
    /// before any tensor is allocated from it.
    #[error("{what}: expected {expected}, got {got}")]
    Format { what: String, expected: String, got: String },

    // --- runtime ----------------------------------------------------------------------------
    /// Training was interrupted (Ctrl-C); the model is left usable at the last finished batch.
    #[error("interrupted")]
    Interrupted,
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn shape(op: &str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape { op: op.to_string(), expected: expected.into(), got: got.into() }
    }
    pub fn value(op: &str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Value { op: op.to_string(), expected: expected.into(), got: got.into() }
    }
    pub fn format(what: &str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Format { what: what.to_string(), expected: expected.into(), got: got.into() }
    }
    pub fn dtype(op: &str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::DType { op: op.to_string(), expected: expected.into(), got: got.into() }
    }
}

/// Return early with an error unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr) => {
        if !$cond {
            return Err($err);
        }
    };
}
