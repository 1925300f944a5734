//! 2-D pooling on NHWC data (1-D pooling is the H = 1 case). Max pooling keeps the argmax of each
//! window for its backward pass; average pooling divides by the number of real (unpadded)
//! values in the window, as Keras does.

/// Window geometry (padding already resolved).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub pool_h: usize,
    pub pool_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl PoolGeometry {
    /// The window of output pixel (oy, ox), clipped to the input: (y0, y1, x0, x1).
    pub(crate) fn window(&self, oy: usize, ox: usize) -> (usize, usize, usize, usize) {
        let y = (oy * self.stride_h) as isize - self.pad_top as isize;
        let x = (ox * self.stride_w) as isize - self.pad_left as isize;
        let y0 = y.max(0) as usize;
        let x0 = x.max(0) as usize;
        let y1 = ((y + self.pool_h as isize).max(0) as usize).min(self.in_h);
        let x1 = ((x + self.pool_w as isize).max(0) as usize).min(self.in_w);
        (y0, y1, x0, x1)
    }

    pub fn out_len(&self) -> usize {
        self.batch * self.out_h * self.out_w * self.channels
    }
}

/// Max pooling values (NaN propagates, as in NumPy).
pub fn max_pool(geo: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut out = vec![f32::NEG_INFINITY; geo.out_len()];
    let per_image = geo.out_h * geo.out_w * c;
    super::parallel::for_each_chunk_mut(&mut out, per_image.max(1), geo.out_len() >= super::PARALLEL_MIN_ELEMENTS, |b, image| {
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = (oy * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                let dst = &mut image[o..o + c];
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = ((b * geo.in_h + iy) * geo.in_w + ix) * c;
                        // Larger or NaN replaces; a NaN already there stays (v > NaN is false).
                        dst.iter_mut().zip(&x[i..i + c]).for_each(|(d, &v)| *d = if v > *d || v.is_nan() { v } else { *d });
                    }
                }
            }
        }
    });
    out
}

/// Max pooling backward: each output gradient goes to the first input of its window that equals
/// the window's maximum (the forward's output). Written as float masks over the contiguous
/// channels so it vectorises; no argmax is stored by the forward pass.
pub fn max_pool_backward(geo: &PoolGeometry, x: &[f32], out: &[f32], g: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut dx = vec![0.0f32; geo.batch * geo.in_h * geo.in_w * c];
    let image_in = geo.in_h * geo.in_w * c;
    let parallel = dx.len() >= super::PARALLEL_MIN_ELEMENTS;
    super::parallel::for_each_chunk_mut(&mut dx, image_in.max(1), parallel, |b, dx_image| {
        let mut remaining = vec![0.0f32; c];
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                remaining.fill(1.0);
                let (best, grad) = (&out[o..o + c], &g[o..o + c]);
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = (iy * geo.in_w + ix) * c;
                        let xs = &x[b * image_in + i..b * image_in + i + c];
                        let d = &mut dx_image[i..i + c];
                        // Zipped (no index checks) so the loop vectorises.
                        for (((d, r), (&xv, &bv)), &gv) in d.iter_mut().zip(remaining.iter_mut()).zip(xs.iter().zip(best)).zip(grad) {
                            let hit = if xv == bv { *r } else { 0.0 };
                            *d += gv * hit;
                            *r -= hit;
                        }
                    }
                }
            }
        }
    });
    dx
}

/// Average pooling over the real values of each window.
pub fn avg_pool(geo: &PoolGeometry, x: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut out = vec![0.0f32; geo.out_len()];
    for b in 0..geo.batch {
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                let count = ((y1 - y0) * (x1 - x0)).max(1) as f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = ((b * geo.in_h + iy) * geo.in_w + ix) * c;
                        for ch in 0..c {
                            out[o + ch] += x[i + ch];
                        }
                    }
                }
                out[o..o + c].iter_mut().for_each(|v| *v /= count);
            }
        }
    }
    out
}

/// Average pooling backward: each output gradient spread evenly over its window's real values.
pub fn avg_pool_backward(geo: &PoolGeometry, g: &[f32]) -> Vec<f32> {
    let c = geo.channels;
    let mut dx = vec![0.0f32; geo.batch * geo.in_h * geo.in_w * c];
    for b in 0..geo.batch {
        for oy in 0..geo.out_h {
            for ox in 0..geo.out_w {
                let o = ((b * geo.out_h + oy) * geo.out_w + ox) * c;
                let (y0, y1, x0, x1) = geo.window(oy, ox);
                let scale = 1.0 / ((y1 - y0) * (x1 - x0)).max(1) as f32;
                for iy in y0..y1 {
                    for ix in x0..x1 {
                        let i = ((b * geo.in_h + iy) * geo.in_w + ix) * c;
                        for ch in 0..c {
                            dx[i + ch] += g[o + ch] * scale;
                        }
                    }
                }
            }
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five_by_five(pool: usize, stride: usize, pad: usize, out: usize) -> PoolGeometry {
        PoolGeometry { batch: 1, in_h: 5, in_w: 5, channels: 1, pool_h: pool, pool_w: pool, stride_h: stride, stride_w: stride, pad_top: pad, pad_left: pad, out_h: out, out_w: out }
    }

    #[test]
    fn keras_reference_values() {
        let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
        // MaxPooling2D() valid: [[6,8],[16,18]]; AvgPool2D(2, padding="same"): padding after.
        assert_eq!(max_pool(&five_by_five(2, 2, 0, 2), &x), vec![6.0, 8.0, 16.0, 18.0]);
        // Ties: the gradient goes to the first maximum only.
        let geo = five_by_five(2, 2, 0, 2);
        let flat = vec![1.0f32; 25];
        let dx = max_pool_backward(&geo, &flat, &max_pool(&geo, &flat), &[1.0; 4]);
        assert_eq!((dx[0], dx[1], dx[5], dx[6], dx.iter().sum::<f32>()), (1.0, 0.0, 0.0, 0.0, 4.0));
        assert_eq!(avg_pool(&five_by_five(2, 2, 0, 3), &x), vec![3.0, 5.0, 6.5, 13.0, 15.0, 16.5, 20.5, 22.5, 24.0]);
    }
}
