//! 2-D convolution on NHWC data (1-D convolutions are the H = 1 case): forward, backward to the
//! input and backward to the weights, by im2col + GEMM over tiles of output pixels, so the extra
//! memory is bounded by `TILE_VALUES` whatever the input size. A 1x1, stride-1, unpadded
//! convolution is a plain GEMM on the input. Kernel layout: Keras's (kh, kw, cin/groups, cout),
//! which read row-major is already the (kh*kw*cin/groups) x cout GEMM operand.

use super::gemm::{gemm_into, MatRef};
use super::parallel::for_each_chunk_mut;

/// Upper bound on one im2col tile (values): 4 MiB of f32.
const TILE_VALUES: usize = 1 << 20;

/// Everything about a convolution's shapes, checked once by the op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub out_c: usize,
    pub groups: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl ConvGeometry {
    fn group_in(&self) -> usize {
        self.in_c / self.groups
    }
    fn group_out(&self) -> usize {
        self.out_c / self.groups
    }
    /// Rows of one group's GEMM operand: kh * kw * cin/groups.
    fn patch_len(&self) -> usize {
        self.kernel_h * self.kernel_w * self.group_in()
    }
    fn pixels(&self) -> usize {
        self.batch * self.out_h * self.out_w
    }
    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1 && self.kernel_w == 1 && self.stride_h == 1 && self.stride_w == 1 && self.pad_top == 0 && self.pad_left == 0 && self.groups == 1
    }
    fn tile_rows(&self) -> usize {
        (TILE_VALUES / self.patch_len().max(1)).clamp(16, 1 << 16)
    }

    /// Input position of output pixel `p`'s tap (ky, kx), or None in the padding.
    #[inline]
    fn source(&self, p: usize, ky: usize, kx: usize) -> Option<usize> {
        let ox = p % self.out_w;
        let oy = (p / self.out_w) % self.out_h;
        let b = p / (self.out_w * self.out_h);
        let iy = (oy * self.stride_h + ky * self.dilation_h) as isize - self.pad_top as isize;
        let ix = (ox * self.stride_w + kx * self.dilation_w) as isize - self.pad_left as isize;
        if iy < 0 || ix < 0 || iy as usize >= self.in_h || ix as usize >= self.in_w {
            return None;
        }
        Some(((b * self.in_h + iy as usize) * self.in_w + ix as usize) * self.in_c)
    }

    /// im2col of pixels `[start, start + rows)` for group `g` into `patches` (rows x patch_len).
    fn im2col(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &mut [f32]) {
        let (cg, k) = (self.group_in(), self.patch_len());
        let parallel = rows * k >= super::PARALLEL_MIN_ELEMENTS;
        let rows_per_chunk = (super::CHUNK / k.max(1)).max(1);
        for_each_chunk_mut(&mut patches[..rows * k], rows_per_chunk * k, parallel, |chunk, block| {
            for (r, row) in block.chunks_mut(k).enumerate() {
                let p = start + chunk * rows_per_chunk + r;
                let ox = p % self.out_w;
                let oy = (p / self.out_w) % self.out_h;
                let b = p / (self.out_w * self.out_h);
                let y0 = (oy * self.stride_h) as isize - self.pad_top as isize;
                let x0 = (ox * self.stride_w) as isize - self.pad_left as isize;
                let mut at = 0;
                for ky in 0..self.kernel_h {
                    let iy = y0 + (ky * self.dilation_h) as isize;
                    let row_ok = iy >= 0 && (iy as usize) < self.in_h;
                    for kx in 0..self.kernel_w {
                        let ix = x0 + (kx * self.dilation_w) as isize;
                        let dst = &mut row[at..at + cg];
                        if row_ok && ix >= 0 && (ix as usize) < self.in_w {
                            let src = ((b * self.in_h + iy as usize) * self.in_w + ix as usize) * self.in_c + g * cg;
                            if cg == 1 {
                                dst[0] = x[src];
                            } else {
                                dst.copy_from_slice(&x[src..src + cg]);
                            }
                        } else {
                            dst.fill(0.0);
                        }
                        at += cg;
                    }
                }
            }
        });
    }

    /// im2col in tap-major order: `patches[t * rows + r]` for patch entry t of pixel start + r.
    /// For few input channels (the first layer of an image model) this writes long contiguous
    /// runs, where the pixel-major layout writes a handful of floats per pixel and tap.
    fn im2col_tap_major(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &mut [f32]) {
        let cg = self.group_in();
        // Per pixel: its window's first input row and column, and whether the whole window lies
        // inside the image (always, for 'valid' padding): then no bounds checks are needed.
        let mut origin = Vec::with_capacity(rows);
        for r in 0..rows {
            let p = start + r;
            let ox = p % self.out_w;
            let oy = (p / self.out_w) % self.out_h;
            let b = p / (self.out_w * self.out_h);
            let y0 = (oy * self.stride_h) as isize - self.pad_top as isize;
            let x0 = (ox * self.stride_w) as isize - self.pad_left as isize;
            let inside = y0 >= 0
                && x0 >= 0
                && (y0 as usize) + (self.kernel_h - 1) * self.dilation_h < self.in_h
                && (x0 as usize) + (self.kernel_w - 1) * self.dilation_w < self.in_w;
            let base = if inside { ((b * self.in_h + y0 as usize) * self.in_w + x0 as usize) * self.in_c + g * cg } else { usize::MAX };
            origin.push((base, b * self.in_h, y0, x0));
        }
        let taps = self.kernel_h * self.kernel_w;
        let parallel = rows * taps * cg >= super::PARALLEL_MIN_ELEMENTS;
        for_each_chunk_mut(&mut patches[..rows * taps * cg], rows, parallel, |entry, dst| {
            let (tap, ci) = (entry / cg, entry % cg);
            let (ky, kx) = (tap / self.kernel_w, tap % self.kernel_w);
            let (dy, dx) = (ky * self.dilation_h, kx * self.dilation_w);
            let shift = (dy * self.in_w + dx) * self.in_c + ci;
            for (d, &(base, image, y0, x0)) in dst.iter_mut().zip(&origin) {
                *d = if base != usize::MAX {
                    x[base + shift]
                } else {
                    let (iy, ix) = (y0 + dy as isize, x0 + dx as isize);
                    if iy >= 0 && ix >= 0 && (iy as usize) < self.in_h && (ix as usize) < self.in_w {
                        x[((image + iy as usize) * self.in_w + ix as usize) * self.in_c + g * cg + ci]
                    } else {
                        0.0
                    }
                };
            }
        });
    }

    /// Few input channels per group: use the tap-major im2col.
    fn tap_major(&self) -> bool {
        self.group_in() < 8
    }

    /// The patch tile as a GEMM operand (rows x patch_len), in whichever layout im2col wrote.
    fn fill_patches<'a>(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &'a mut [f32]) -> MatRef<'a> {
        let k = self.patch_len();
        if self.tap_major() {
            self.im2col_tap_major(x, g, start, rows, patches);
            MatRef { data: patches, offset: 0, row_stride: 1, col_stride: rows as isize }
        } else {
            self.im2col(x, g, start, rows, patches);
            MatRef::row_major(patches, k)
        }
    }

    /// Visit each group's output pixels in tiles: `f(group, first pixel, rows, patch buffer)`,
    /// with one patch buffer of at most `TILE_VALUES` reused by every tile.
    fn for_each_tile(&self, mut f: impl FnMut(usize, usize, usize, &mut [f32])) {
        let tile = self.tile_rows().min(self.pixels());
        let mut patches = super::uninit(tile * self.patch_len()); // im2col / the GEMM writes every element
        for g in 0..self.groups {
            let mut start = 0;
            while start < self.pixels() {
                let rows = tile.min(self.pixels() - start);
                f(g, start, rows, &mut patches);
                start += rows;
            }
        }
    }

    /// Rows `[start, start + rows)` and group `g`'s channels of an NHWC output (or its gradient).
    fn output_block<'a>(&self, data: &'a [f32], start: usize, g: usize) -> MatRef<'a> {
        MatRef { data, offset: start * self.out_c + g * self.group_out(), row_stride: self.out_c as isize, col_stride: 1 }
    }

    /// Scatter-add `patches` (rows x patch_len) of group `g` back into `dx` (the adjoint of im2col).
    fn col2im(&self, patches: &[f32], g: usize, start: usize, rows: usize, dx: &mut [f32]) {
        let (cg, k) = (self.group_in(), self.patch_len());
        let per_image = (self.out_h * self.out_w).max(1);
        let image_len = self.in_h * self.in_w * self.in_c;
        // Each image's pixels only touch that image's part of `dx`: images run in parallel.
        let first = start / per_image;
        let last = (start + rows).div_ceil(per_image);
        let base = super::parallel::SharedMut(dx.as_mut_ptr());
        let base = &base;
        let run_image = |i: usize| {
            let image = first + i;
            let lo = (image * per_image).max(start);
            let hi = ((image + 1) * per_image).min(start + rows);
            // SAFETY: image `image`'s slice of `dx` is touched by this part only.
            let dx_image = unsafe { std::slice::from_raw_parts_mut(base.0.add(image * image_len), image_len) };
            for p in lo..hi {
                let row = &patches[(p - start) * k..(p - start + 1) * k];
                let mut at = 0;
                for ky in 0..self.kernel_h {
                    for kx in 0..self.kernel_w {
                        if let Some(src) = self.source(p, ky, kx) {
                            let src = src - image * image_len;
                            let dst = &mut dx_image[src + g * cg..src + (g + 1) * cg];
                            dst.iter_mut().zip(&row[at..at + cg]).for_each(|(d, v)| *d += v);
                        }
                        at += cg;
                    }
                }
            }
        };
        if rows * k >= super::PARALLEL_MIN_ELEMENTS && last - first > 1 {
            super::workers::run_parts(last - first, &run_image);
        } else {
            (0..last - first).for_each(run_image);
        }
    }
}

/// The kernel columns of group `g` as a GEMM operand (patch_len x cout/groups).
fn kernel_block<'a>(geo: &ConvGeometry, kernel: &'a [f32], g: usize) -> MatRef<'a> {
    MatRef { data: kernel, offset: g * geo.group_out(), row_stride: geo.out_c as isize, col_stride: 1 }
}

/// `out` (pixels x out_c, NHWC) = conv(x, kernel). `out` is overwritten.
pub fn conv2d_forward(geo: &ConvGeometry, x: &[f32], kernel: &[f32], out: &mut [f32]) {
    let (k, ng) = (geo.patch_len(), geo.group_out());
    if geo.is_pointwise() {
        gemm_into(geo.pixels(), geo.out_c, geo.in_c, MatRef::row_major(x, geo.in_c), kernel_block(geo, kernel, 0), out, 0, geo.out_c, false);
        return;
    }
    geo.for_each_tile(|g, start, rows, patches| {
        let a = geo.fill_patches(x, g, start, rows, patches);
        gemm_into(rows, ng, k, a, kernel_block(geo, kernel, g), out, start * geo.out_c + g * ng, geo.out_c, false);
    });
}

/// `dx` (NHWC, zeroed by the caller or accumulated into) += conv's adjoint applied to `dy`.
pub fn conv2d_backward_input(geo: &ConvGeometry, dy: &[f32], kernel: &[f32], dx: &mut [f32]) {
    let (k, ng) = (geo.patch_len(), geo.group_out());
    if geo.is_pointwise() {
        gemm_into(geo.pixels(), geo.in_c, geo.out_c, MatRef::row_major(dy, geo.out_c), MatRef::row_major(kernel, geo.out_c).t(), dx, 0, geo.in_c, true);
        return;
    }
    geo.for_each_tile(|g, start, rows, patches| {
        gemm_into(rows, k, ng, geo.output_block(dy, start, g), kernel_block(geo, kernel, g).t(), patches, 0, k, false);
        geo.col2im(patches, g, start, rows, dx);
    });
}

/// `dkernel` (Keras layout, zeroed by the caller or accumulated into) += patches^T @ dy.
pub fn conv2d_backward_kernel(geo: &ConvGeometry, x: &[f32], dy: &[f32], dkernel: &mut [f32]) {
    let (k, ng) = (geo.patch_len(), geo.group_out());
    if geo.is_pointwise() {
        gemm_into(geo.in_c, geo.out_c, geo.pixels(), MatRef::row_major(x, geo.in_c).t(), MatRef::row_major(dy, geo.out_c), dkernel, 0, geo.out_c, true);
        return;
    }
    geo.for_each_tile(|g, start, rows, patches| {
        let a = geo.fill_patches(x, g, start, rows, patches);
        gemm_into(k, ng, rows, a.t(), geo.output_block(dy, start, g), dkernel, g * ng, geo.out_c, true);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(h: usize, w: usize, cin: usize, k: usize, cout: usize, stride: usize, pad: usize) -> ConvGeometry {
        let out_h = (h + 2 * pad - k) / stride + 1;
        let out_w = (w + 2 * pad - k) / stride + 1;
        ConvGeometry {
            batch: 1, in_h: h, in_w: w, in_c: cin, kernel_h: k, kernel_w: k, out_c: cout, groups: 1,
            stride_h: stride, stride_w: stride, dilation_h: 1, dilation_w: 1, pad_top: pad, pad_left: pad, out_h, out_w,
        }
    }

    #[test]
    fn keras_same_padding_stride_two_with_ones() {
        // keras-api.md: Conv2D(1, 3, strides=2, padding="same", ones) on a 5x5 arange image.
        let geo = geometry(5, 5, 1, 3, 1, 2, 1);
        let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
        let mut out = vec![0.0; 9];
        conv2d_forward(&geo, &x, &[1.0; 9], &mut out);
        assert_eq!(out, vec![12.0, 27.0, 24.0, 63.0, 108.0, 81.0, 72.0, 117.0, 84.0]);
    }

    #[test]
    fn backward_input_is_the_adjoint_of_forward() {
        // <conv(x), y> == <x, conv^T(y)> for random x, y.
        let geo = geometry(6, 5, 3, 3, 4, 2, 1);
        let x: Vec<f32> = (0..6 * 5 * 3).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let w: Vec<f32> = (0..9 * 3 * 4).map(|i| ((i * 104729) % 11) as f32 - 5.0).collect();
        let y: Vec<f32> = (0..geo.out_h * geo.out_w * 4).map(|i| ((i * 31) % 7) as f32 - 3.0).collect();
        let mut out = vec![0.0; y.len()];
        conv2d_forward(&geo, &x, &w, &mut out);
        let mut dx = vec![0.0; x.len()];
        conv2d_backward_input(&geo, &y, &w, &mut dx);
        let lhs: f64 = out.iter().zip(&y).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        assert!((lhs - rhs).abs() < 1e-6 * lhs.abs().max(1.0));
        let mut dw = vec![0.0; w.len()];
        conv2d_backward_kernel(&geo, &x, &y, &mut dw);
        let rhs_w: f64 = w.iter().zip(&dw).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        assert!((lhs - rhs_w).abs() < 1e-6 * lhs.abs().max(1.0));
    }
}
