//! PyO3 bindings: the `ferronet._core` extension module. Thin by design: convert arguments, call
//! the engine, map errors. Every op call on tensors goes through `convert::to_tensor`.

mod convert;
mod device;
mod distribute;
mod error;
mod io;
mod layer;
mod model;
mod optimizer;
mod ops;
mod recurrent;
mod tensor;

use pyo3::prelude::*;

/// The native module behind the `ferronet` Python package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    tensor::register(m)?;
    device::register(m)?;
    ops::register(m)?;
    layer::register(m)?;
    recurrent::register(m)?;
    optimizer::register(m)?;
    model::register(m)?;
    distribute::register(m)?;
    io::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
