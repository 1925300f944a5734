//! Engine errors to Python exceptions, in one place. The classes subclass built-ins so code that
//! catches `ValueError` or `TypeError` (as Keras code does) keeps working.

use crate::error::Error;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;

create_exception!(ferronet.errors, ShapeError, PyValueError, "Operand shapes do not fit an op or layer.");
create_exception!(ferronet.errors, DTypeError, PyTypeError, "An input has the wrong element type.");
create_exception!(ferronet.errors, GradientError, PyValueError, "backward() cannot run as asked.");
create_exception!(ferronet.errors, BackwardNotSupported, PyNotImplementedError, "The op has no gradient rule.");
create_exception!(ferronet.errors, DeviceError, PyValueError, "A device is unknown, unavailable or mixed.");
create_exception!(ferronet.errors, FileFormatError, PyValueError, "A saved model or weights file is malformed or does not fit the model.");

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        let message = err.to_string();
        match err {
            Error::Shape { .. } | Error::Axis { .. } => ShapeError::new_err(message),
            Error::Value { .. } => PyValueError::new_err(message),
            Error::DType { .. } => DTypeError::new_err(message),
            Error::NonScalarBackward { .. } | Error::NoGradient | Error::GraphFreed { .. } => GradientError::new_err(message),
            Error::BackwardNotSupported { .. } => BackwardNotSupported::new_err(message),
            Error::Device { .. } => DeviceError::new_err(message),
            Error::Format { .. } => FileFormatError::new_err(message),
            Error::Interrupted => PyKeyboardInterrupt::new_err(message),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("DTypeError", py.get_type::<DTypeError>())?;
    m.add("GradientError", py.get_type::<GradientError>())?;
    m.add("BackwardNotSupported", py.get_type::<BackwardNotSupported>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("FileFormatError", py.get_type::<FileFormatError>())?;
    Ok(())
}
