//! ferronet: a deep learning engine with a Keras-shaped Python API.
//!
//! Layers of the crate, each depending only on those below it:
//! `bindings` (PyO3) -> `ops` (+ `autograd`) -> `tensor`, and `ops` -> `cpu` and `gpu` kernels.

pub mod autograd;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod io;
pub mod nn;
pub mod ops;
pub mod tensor;

#[cfg(feature = "python")]
mod bindings;

pub use error::{Error, Result};

/// mimalloc keeps freed pages for reuse: with the system allocator every step's large buffers
/// (activations, im2col tiles, gradients) were fresh mmaps, and page faults plus zeroing took
/// about 15% of a convnet training step (perf, W3).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub use tensor::Tensor;
