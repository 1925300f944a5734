//! Embedding lookup: rows of a table picked by integer indices (held as floats, as every
//! input is), with a backward that adds each output row's gradient into its table row.

use super::{record, record_gpu};
use crate::cpu::for_each_row;
use crate::error::{Error, Result};
use crate::gpu;
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};

/// `table[indices]`: output shape `indices.shape + (dim,)`. `op` names the layer in errors.
///
/// # Errors
/// `Shape` when the table is not 2-D; `Value` when an index is not a whole number in
/// `[0, table rows)`.
pub fn embedding(op: &str, indices: &Tensor, table: &Tensor) -> Result<Tensor> {
    if table.ndim() != 2 {
        return Err(Error::shape(op, "a 2-D embedding table (input_dim, output_dim)", fmt_shape(table.shape())));
    }
    let (rows, dim) = (table.shape()[0], table.shape()[1]);
    let idx: Vec<usize> = {
        // GPU indices are read back to check them (a wait for the GPU): a bad index must raise
        // here, naming the value, not read past the table.
        let v = indices.try_cpu_values()?;
        let mut out = Vec::with_capacity(v.as_slice().len());
        for &x in v.as_slice() {
            if !(x >= 0.0 && x < rows as f32 && x.fract() == 0.0) {
                return Err(Error::value(op, format!("indices that are whole numbers in [0, {rows}) (input_dim={rows})"), format!("{x} in an input of shape {}", fmt_shape(indices.shape()))));
            }
            out.push(x as usize);
        }
        out
    };
    let mut shape = indices.shape().to_vec();
    shape.push(dim);
    if table.device() == Device::Gpu {
        let indices_gpu = indices.to_device(Device::Gpu)?.detach();
        let buffer = gpu::kernels::embedding_gather(op, &indices_gpu, table, dim)?;
        return Ok(record_gpu("embedding", buffer, &shape, &[indices, table], move |_| {
            move |g: &Tensor| {
                let dtable = gpu::kernels::embedding_backward("embedding", g, &idx, rows, dim)?;
                Ok(vec![None, Some(Tensor::from_gpu(dtable, &[rows, dim]))])
            }
        }));
    }
    super::same_device(op, &[indices, table])?;
    let tv = table.cpu_values();
    let mut out = crate::cpu::uninit(idx.len() * dim);
    for_each_row(&mut out, dim, |r, row| row.copy_from_slice(&tv.as_slice()[idx[r] * dim..(idx[r] + 1) * dim]));
    Ok(record("embedding", out, &shape, &[indices, table], move |_| {
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let mut dtable = vec![0.0f32; rows * dim];
            for (r, &i) in idx.iter().enumerate() {
                dtable[i * dim..(i + 1) * dim].iter_mut().zip(&gv.as_slice()[r * dim..(r + 1) * dim]).for_each(|(d, g)| *d += g);
            }
            Ok(vec![None, Some(Tensor::from_vec(dtable, &[rows, dim])?)])
        }
    }))
}
