//! Spatial resizing of NHWC tensors: zero padding and nearest-neighbour upsampling (cropping is
//! a slice).

use super::record;
use crate::error::{Error, Result};
use crate::tensor::shape::fmt_shape;
use crate::tensor::Tensor;

fn check_4d(op: &str, x: &Tensor) -> Result<[usize; 4]> {
    match *x.shape() {
        [n, h, w, c] => Ok([n, h, w, c]),
        _ => Err(Error::shape(op, "a 4-D input (batch, height, width, channels)", fmt_shape(x.shape()))),
    }
}

/// Pad height by (top, bottom) and width by (left, right) zeros.
pub fn zero_pad2d(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    if let Some(out) = super::via_cpu("zero_pad2d", &[x], |t| zero_pad2d(&t[0], top, bottom, left, right))? {
        return Ok(out);
    }
    let [n, h, w, c] = check_4d("zero_padding", x)?;
    let (oh, ow) = (h + top + bottom, w + left + right);
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
    if let Some(out) = super::via_cpu("upsample_nearest2d", &[x], |t| upsample_nearest2d(&t[0], sh, sw))? {
        return Ok(out);
    }
    let [n, h, w, c] = check_4d("upsampling", x)?;
    if sh == 0 || sw == 0 {
        return Err(Error::value("upsampling", "sizes of at least 1", format!("({sh}, {sw})")));
    }
    let (oh, ow) = (h * sh, w * sw);
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
