//! The engine side of `ferronet.distribute`: a `Collective` whose sum is a Python object's
//! `allreduce(buffer)` (mpi4py's in-place `Allreduce`, which releases the GIL while it waits),
//! attaching it to a model, and the per-process thread count.
//!
//! Why a Python callback and not MPI linked into the engine: the wheel stays free of any MPI
//! library (mpi4py finds the one installed), and the callback costs one GIL round trip per
//! step (a few microseconds against milliseconds of compute). The batch loop stays in Rust.

use super::model::PyModel;
use crate::cpu::parallel;
use crate::error::{Error, Result};
use crate::nn::data_parallel::{Collective, DataParallel};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// The Python exception a collective raised, until the loop that called it returns it. The
    /// loop runs on the calling thread (the GIL is released, the thread stays), so a
    /// thread-local hands it over.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// The exception raised inside the last failed `allreduce`, if any.
pub fn take_error() -> Option<PyErr> {
    PENDING.with(|p| p.borrow_mut().take())
}

/// A collective backed by a Python object with `rank`, `world_size` and `allreduce(array)`.
struct PyCollective {
    target: Py<PyAny>,
    rank: usize,
    world: usize,
    /// The step buffer: a NumPy array Python owns, so `allreduce` gets it without a copy and it
    /// can never dangle.
    array: Option<Py<PyArray1<f32>>>,
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `ptr` points into `array`, which this struct keeps alive; only the training thread
// that owns the collective touches it, and Python only inside `allreduce`, which that same
// thread calls and waits for.
unsafe impl Send for PyCollective {}

impl Collective for PyCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn buffer(&mut self, len: usize) -> Result<&mut [f32]> {
        if self.array.is_none() || self.len != len {
            Python::attach(|py| {
                let array = PyArray1::<f32>::zeros(py, len, false);
                self.ptr = array.data();
                self.array = Some(array.unbind());
            });
            self.len = len;
        }
        if len == 0 {
            return Ok(&mut []);
        }
        // SAFETY: see the Send impl; `len` floats were allocated for this pointer.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr, len) })
    }

    fn all_reduce(&mut self) -> Result<()> {
        let outcome = Python::attach(|py| -> PyResult<()> {
            let array = self.array.as_ref().map(|a| a.bind(py).clone());
            self.target.call_method1(py, "allreduce", (array,))?;
            Ok(())
        });
        outcome.map_err(|e| {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            // Stands in for the Python exception, which `take_error` hands to the caller.
            Error::Interrupted
        })
    }
}

/// Train `model` across processes with `collective` (an object with `rank`, `world_size` and
/// `allreduce(float32 array)` summing in place), or alone again with None.
#[pyfunction]
#[pyo3(signature = (model, collective = None))]
fn set_data_parallel(model: PyRef<'_, PyModel>, collective: Option<Bound<'_, PyAny>>) -> PyResult<()> {
    let data_parallel = match collective {
        None => None,
        Some(c) => {
            let rank: usize = c.getattr("rank")?.extract()?;
            let world: usize = c.getattr("world_size")?.extract()?;
            if rank >= world {
                return Err(Error::value("set_data_parallel", format!("rank in [0, {world})"), format!("rank={rank}")).into());
            }
            let target = c.unbind();
            Some(DataParallel::new(Box::new(PyCollective { target, rank, world, array: None, ptr: std::ptr::null_mut(), len: 0 })))
        }
    };
    model.with_compiled(|c| {
        c.data_parallel = data_parallel;
        Ok(())
    })?;
    Ok(())
}

/// Fix the engine's thread count before its worker pool starts; returns the count in force
/// (the earlier one when kernels already ran).
#[pyfunction]
fn set_num_threads(n: usize) -> usize {
    parallel::set_threads(n)
}

/// The engine's thread count (fixing it from the environment if nothing has yet).
#[pyfunction]
fn num_threads() -> usize {
    parallel::threads()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_data_parallel, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    Ok(())
}
