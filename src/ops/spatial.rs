//! Spatial resizing of NHWC tensors: zero padding and nearest-neighbour upsampling (cropping is
//! a slice).

use super::{broadcast_to, contiguous, record, record_gpu, reshape, slice, SliceSpec};
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::tensor::{Device, Tensor};

fn check_4d(op: &str, x: &Tensor) -> Result<[usize; 4]> {
    match *x.shape() {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(Error::shape(op, "a 4-D input (batch, height, width, channels)", fmt_shape(x.shape()))),
    }
}

/// Pad height by (top, bottom) and width by (left, right) zeros.
pub fn zero_pad2d(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    let [n, h, w, c] = check_4d("zero_padding", x)?;
    let (oh, ow) = (h + top + bottom, w + left + right);
    if x.device() == Device::Gpu {
        let buffer = crate::gpu::kernels::zero_pad2d("zero_padding", x, [n, h, w, c], top, left, oh, ow)?;
        // The gradient is the padded gradient cropped back: a slice view, copied on the GPU.
        return Ok(record_gpu("zero_padding", buffer, &[n, oh, ow, c], &[x], move |_| {
            move |g: &Tensor| {
                let specs = [SliceSpec::Range { start: 0, step: 1, len: n }, SliceSpec::Range { start: top as isize, step: 1, len: h }, SliceSpec::Range { start: left as isize, step: 1, len: w }];
                Ok(vec![Some(contiguous(&slice(g, &specs)?)?)])
            }
        }));
    }
    let xv = x.to_vec();
    let mut out = vec![0.0f32; n * oh * ow * c];
    for b in 0..n {
        for y in 0..h {
            let src = ((b * h + y) * w) * c;
            let dst = ((b * oh + y + top) * ow + left) * c;
            out[dst..dst + w * c].copy_from_slice(&xv[src..src + w * c]);
        }
    }
    Ok(record("zero_padding", out, &[n, oh, ow, c], &[x], move |_| {
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let mut dx = vec![0.0f32; n * h * w * c];
            for b in 0..n {
                for y in 0..h {
                    let dst = ((b * h + y) * w) * c;
                    let src = ((b * oh + y + top) * ow + left) * c;
                    dx[dst..dst + w * c].copy_from_slice(&gv.as_slice()[src..src + w * c]);
                }
            }
            Ok(vec![Some(Tensor::from_vec(dx, &[n, h, w, c])?)])
        }
    }))
}

/// Repeat every pixel `sh` times down and `sw` times across.
pub fn upsample_nearest2d(x: &Tensor, sh: usize, sw: usize) -> Result<Tensor> {
    let [n, h, w, c] = check_4d("upsampling", x)?;
    if sh == 0 || sw == 0 {
        return Err(Error::value("upsampling", "sizes of at least 1", format!("({sh}, {sw})")));
    }
    let (oh, ow) = (h * sh, w * sw);
    if x.device() == Device::Gpu {
        // Each pixel repeated: a broadcast view (n, h, sh, w, sw, c) copied to row-major; the
        // gradient (broadcast_to's) sums each block on the GPU.
        let repeated = broadcast_to(&reshape(x, &[n, h, 1, w, 1, c])?, &[n, h, sh, w, sw, c])?;
        return reshape(&contiguous(&repeated)?, &[n, oh, ow, c]);
    }
    let xv = x.to_vec();
    let mut out = vec![0.0f32; n * oh * ow * c];
    for b in 0..n {
        for y in 0..oh {
            for xo in 0..ow {
                let src = ((b * h + y / sh) * w + xo / sw) * c;
                let dst = ((b * oh + y) * ow + xo) * c;
                out[dst..dst + c].copy_from_slice(&xv[src..src + c]);
            }
        }
    }
    Ok(record("upsampling", out, &[n, oh, ow, c], &[x], move |_| {
        move |g: &Tensor| {
            let gv = g.cpu_values();
            let mut dx = vec![0.0f32; n * h * w * c];
            for b in 0..n {
                for y in 0..oh {
                    for xo in 0..ow {
                        let dst = ((b * h + y / sh) * w + xo / sw) * c;
                        let src = ((b * oh + y) * ow + xo) * c;
                        dx[dst..dst + c].iter_mut().zip(&gv.as_slice()[src..src + c]).for_each(|(d, v)| *d += v);
                    }
                }
            }
            Ok(vec![Some(Tensor::from_vec(dx, &[n, h, w, c])?)])
        }
    }))
}
