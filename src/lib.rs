//! ferronet: a deep learning engine with a Keras-shaped Python API.
//!
//! Layers of the crate, each depending only on those below it:
//! `bindings` (PyO3) -> `ops` (+ `autograd`) -> `tensor`, and `ops` -> `cpu` kernels.

pub mod autograd;
pub mod cpu;
pub mod error;
pub mod nn;
pub mod ops;
pub mod tensor;

#[cfg(feature = "python")]
mod bindings;

pub use error::{Error, Result};
pub use tensor::Tensor;
