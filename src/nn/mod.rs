//! Training: layers, losses, metrics, optimizers and the Sequential model with its batch loop.
//! Everything a `fit` step does runs here, in Rust; Python only configures it and hears back
//! between batches (callbacks, the progress bar).

pub mod data_parallel;
pub mod grad_norms;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod optimizer;
pub mod regularizer;
pub mod rng;
pub mod schedule;
