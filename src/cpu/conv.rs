//! 2-D convolution on NHWC data (1-D convolutions are the H = 1 case): forward, backward to the
//! input and backward to the weights, by im2col + GEMM over tiles of output pixels, so the extra
//! memory is bounded by `TILE_VALUES` whatever the input size. A 1x1, stride-1, unpadded
//! convolution is a plain GEMM on the input. Kernel layout: Keras's (kh, kw, cin/groups, cout),
//! which read row-major is already the (kh*kw*cin/groups) x cout GEMM operand.

use super::gemm::{gemm_into, gemm_into_serial, MatRef};
use super::parallel::{for_each_chunk_mut, SharedMut};

/// Upper bound on one im2col tile (values): 4 MiB of f32.
const TILE_VALUES: usize = 1 << 20;

/// About the values of one part's patch tile when a pass runs by whole images (`ImageParts`):
/// small enough to stay in a core's L2 cache beside the GEMM's packed operands, so the GEMM
/// (forward, kernel gradient) or col2im (input gradient) reads the tile from there instead of
/// from memory.
const PART_VALUES: usize = 1 << 17;
/// A pass by images splits the batch into at least this many parts (when it has the images),
/// so that the workers, claiming parts as they go, end together.
const MIN_PARTS: usize = 16;
/// The kernel gradient by images sums this many partial gradients (fixed, so the result does
/// not depend on the thread count), each the sum over a fixed run of parts.
const KERNEL_PARTIALS: usize = 8;
/// Largest kernel (values) whose gradient runs by images: the partials stay under 16 MiB.
const MAX_KERNEL_BY_IMAGES: usize = (1 << 22) / KERNEL_PARTIALS;

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
    pub(crate) fn patch_len(&self) -> usize {
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

    /// im2col of pixels `[start, start + rows)` for group `g` into `patches` (rows x patch_len),
    /// across the workers when `parallel` and large.
    fn im2col(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &mut [f32], parallel: bool) {
        let k = self.patch_len();
        let parallel = parallel && rows * k >= super::PARALLEL_MIN_ELEMENTS;
        let rows_per_chunk = (super::CHUNK / k.max(1)).max(1);
        for_each_chunk_mut(&mut patches[..rows * k], rows_per_chunk * k, parallel, |chunk, block| {
            let first = start + chunk * rows_per_chunk;
            #[cfg(target_arch = "x86_64")]
            if super::fastmath::has_avx2() {
                // SAFETY: the CPU has AVX2 (checked above).
                return unsafe { self.im2col_rows_avx2(x, g, first, block) };
            }
            self.im2col_rows::<false>(x, g, first, block);
        });
    }

    /// The im2col rows of pixels `first..` into `block` (whole rows of patch_len values). The
    /// pixel's position advances by counters; with `AVX2` (only inside `im2col_rows_avx2`) a
    /// channel run is copied 8 values per instruction (a `memcpy` call per tap cost more than
    /// the copy at 32 channels).
    #[inline(always)]
    fn im2col_rows<const AVX2: bool>(&self, x: &[f32], g: usize, first: usize, block: &mut [f32]) {
        let (cg, k) = (self.group_in(), self.patch_len());
        if k == 0 || self.out_w == 0 || self.out_h == 0 {
            return;
        }
        let (mut ox, mut oy, mut b) = (first % self.out_w, (first / self.out_w) % self.out_h, first / (self.out_w * self.out_h));
        for row in block.chunks_exact_mut(k) {
            let y0 = (oy * self.stride_h) as isize - self.pad_top as isize;
            let x0 = (ox * self.stride_w) as isize - self.pad_left as isize;
            let mut taps = row.chunks_exact_mut(cg);
            for ky in 0..self.kernel_h {
                let iy = y0 + (ky * self.dilation_h) as isize;
                let row_ok = iy >= 0 && (iy as usize) < self.in_h;
                for kx in 0..self.kernel_w {
                    let ix = x0 + (kx * self.dilation_w) as isize;
                    let Some(dst) = taps.next() else { return };
                    if row_ok && ix >= 0 && (ix as usize) < self.in_w {
                        let src = ((b * self.in_h + iy as usize) * self.in_w + ix as usize) * self.in_c + g * cg;
                        let src = &x[src..src + cg];
                        #[cfg(target_arch = "x86_64")]
                        if AVX2 {
                            // SAFETY: AVX2 is enabled where `AVX2` is set; equal lengths.
                            unsafe { copy_avx2(dst, src) };
                            continue;
                        }
                        dst.copy_from_slice(src);
                    } else {
                        dst.fill(0.0);
                    }
                }
            }
            ox += 1;
            if ox == self.out_w {
                ox = 0;
                oy += 1;
                if oy == self.out_h {
                    (oy, b) = (0, b + 1);
                }
            }
        }
    }

    /// `im2col_rows` compiled for AVX2 (its copies 8 wide).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn im2col_rows_avx2(&self, x: &[f32], g: usize, first: usize, block: &mut [f32]) {
        self.im2col_rows::<true>(x, g, first, block)
    }

    /// im2col in tap-major order: `patches[t * rows + r]` for patch entry t of pixel start + r.
    /// For few input channels (the first layer of an image model) this writes long contiguous
    /// runs, where the pixel-major layout writes a handful of floats per pixel and tap.
    fn im2col_tap_major(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &mut [f32], parallel: bool) {
        let cg = self.group_in();
        let taps = self.kernel_h * self.kernel_w;
        let parallel = parallel && rows * taps * cg >= super::PARALLEL_MIN_ELEMENTS;
        let (out_w, out_h) = (self.out_w.max(1), self.out_h.max(1));
        for_each_chunk_mut(&mut patches[..rows * taps * cg], rows, parallel, |entry, dst| {
            let (tap, ci) = (entry / cg, entry % cg);
            let (dy, dx) = ((tap / self.kernel_w) * self.dilation_h, (tap % self.kernel_w) * self.dilation_w);
            // Along one output row at a time: the pixels' sources lie on one input row, a
            // contiguous run for one channel at stride 1 (the first layer of an image model).
            let (mut ox, mut oy, mut b) = (start % out_w, (start / out_w) % out_h, start / (out_w * out_h));
            let mut r = 0;
            while r < rows {
                let run = (out_w - ox).min(rows - r);
                let dst = &mut dst[r..r + run];
                let iy = (oy * self.stride_h + dy) as isize - self.pad_top as isize;
                let x0 = (ox * self.stride_w + dx) as isize - self.pad_left as isize;
                let x_last = x0 + ((run - 1) * self.stride_w) as isize;
                if iy < 0 || iy as usize >= self.in_h {
                    dst.fill(0.0);
                } else {
                    let row = ((b * self.in_h + iy as usize) * self.in_w) as isize;
                    let at = |ix: isize| ((row + ix) as usize) * self.in_c + g * cg + ci;
                    if x0 >= 0 && (x_last as usize) < self.in_w && self.stride_w == 1 && self.in_c == 1 {
                        dst.copy_from_slice(&x[at(x0)..at(x0) + run]);
                    } else {
                        for (j, d) in dst.iter_mut().enumerate() {
                            let ix = x0 + (j * self.stride_w) as isize;
                            *d = if ix >= 0 && (ix as usize) < self.in_w { x[at(ix)] } else { 0.0 };
                        }
                    }
                }
                r += run;
                ox = 0;
                oy += 1;
                if oy == out_h {
                    (oy, b) = (0, b + 1);
                }
            }
        });
    }

    /// Few input channels per group: use the tap-major im2col.
    fn tap_major(&self) -> bool {
        self.group_in() < 8
    }

    /// The patch tile as a GEMM operand (rows x patch_len), in whichever layout im2col wrote.
    pub(crate) fn fill_patches<'a>(&self, x: &[f32], g: usize, start: usize, rows: usize, patches: &'a mut [f32], parallel: bool) -> MatRef<'a> {
        let k = self.patch_len();
        if self.tap_major() {
            self.im2col_tap_major(x, g, start, rows, patches, parallel);
            MatRef { data: patches, offset: 0, row_stride: 1, col_stride: rows as isize }
        } else {
            self.im2col(x, g, start, rows, patches, parallel);
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

    /// Scatter-add `patches` (rows x patch_len) of group `g` back into `dx` (the adjoint of
    /// im2col), images across the workers when `parallel` and large.
    pub(crate) fn col2im(&self, patches: &[f32], g: usize, start: usize, rows: usize, dx: &mut [f32], parallel: bool) {
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
            let (rows, dx_image) = (&patches[(lo - start) * k..(hi - start) * k], &mut dx_image[g * cg..]);
            #[cfg(target_arch = "x86_64")]
            if super::fastmath::has_avx2() {
                // SAFETY: the CPU has AVX2 (checked above).
                return unsafe { self.col2im_image_avx2(rows, lo - image * per_image, dx_image) };
            }
            self.col2im_image::<false>(rows, lo - image * per_image, dx_image);
        };
        if parallel && rows * k >= super::PARALLEL_MIN_ELEMENTS && last - first > 1 {
            super::workers::run_parts(last - first, &run_image);
        } else {
            (0..last - first).for_each(run_image);
        }
    }

    /// col2im of `rows` (whole patch rows) for one image's pixels from `first` on (numbered
    /// within the image) into `dx_image` (the image's gradient from the group's first channel).
    /// The pixel's position advances by counters (no division per tap), and a window inside the
    /// image (always, for 'valid' padding) takes no bounds tests. With `AVX2` (only inside
    /// `col2im_image_avx2`) the additions run 8 wide.
    #[inline(always)]
    fn col2im_image<const AVX2: bool>(&self, rows: &[f32], first: usize, dx_image: &mut [f32]) {
        let (cg, k) = (self.group_in(), self.patch_len());
        if k == 0 || rows.is_empty() {
            return;
        }
        let (mut oy, mut ox) = (first / self.out_w, first % self.out_w);
        let (span_h, span_w) = ((self.kernel_h - 1) * self.dilation_h, (self.kernel_w - 1) * self.dilation_w);
        for row in rows.chunks_exact(k) {
            let y0 = (oy * self.stride_h) as isize - self.pad_top as isize;
            let x0 = (ox * self.stride_w) as isize - self.pad_left as isize;
            let inside = y0 >= 0 && x0 >= 0 && y0 as usize + span_h < self.in_h && x0 as usize + span_w < self.in_w;
            let mut taps = row.chunks_exact(cg);
            for ky in 0..self.kernel_h {
                let iy = y0 + (ky * self.dilation_h) as isize;
                for kx in 0..self.kernel_w {
                    let ix = x0 + (kx * self.dilation_w) as isize;
                    let tap = taps.next().unwrap_or_default();
                    if inside || (iy >= 0 && ix >= 0 && (iy as usize) < self.in_h && (ix as usize) < self.in_w) {
                        let at = (iy as usize * self.in_w + ix as usize) * self.in_c;
                        let dst = &mut dx_image[at..at + cg];
                        #[cfg(target_arch = "x86_64")]
                        if AVX2 {
                            // SAFETY: AVX2 is enabled where `AVX2` is set; equal lengths.
                            unsafe { add_avx2(dst, tap) };
                            continue;
                        }
                        dst.iter_mut().zip(tap).for_each(|(d, v)| *d += v);
                    }
                }
            }
            ox += 1;
            if ox == self.out_w {
                (oy, ox) = (oy + 1, 0);
            }
        }
    }

    /// `col2im_image` compiled for AVX2 (its additions 8 wide).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn col2im_image_avx2(&self, rows: &[f32], first: usize, dx_image: &mut [f32]) {
        self.col2im_image::<true>(rows, first, dx_image)
    }
}

/// `dst[i] += src[i]` for a short run (one pixel's channels) with AVX2.
///
/// # Safety
/// As `copy_avx2`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn add_avx2(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::{_mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps};
    let n = dst.len().min(src.len());
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let mut i = 0;
    while i + 8 <= n {
        _mm256_storeu_ps(d.add(i), _mm256_add_ps(_mm256_loadu_ps(d.add(i)), _mm256_loadu_ps(s.add(i))));
        i += 8;
    }
    while i < n {
        *d.add(i) += *s.add(i);
        i += 1;
    }
}

/// `dst.copy_from_slice(src)` for a short run (one pixel's channels) with AVX2 moves, not a
/// `memcpy` call.
///
/// # Safety
/// Only inlined into code compiled with AVX2; `dst` and `src` have the same length.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_avx2(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::{_mm256_loadu_ps, _mm256_storeu_ps};
    let n = dst.len().min(src.len());
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let mut i = 0;
    while i + 8 <= n {
        _mm256_storeu_ps(d.add(i), _mm256_loadu_ps(s.add(i)));
        i += 8;
    }
    while i < n {
        *d.add(i) = *s.add(i);
        i += 1;
    }
}

/// A pass split by whole images: part `i` covers images `[i * per_part, (i + 1) * per_part)`.
/// Each part runs on one worker from patches to result (im2col, a single-threaded GEMM,
/// col2im), so a pass is one fork-join whose tiles stay in that worker's cache, where the tiled
/// passes fork and join around every im2col, GEMM and col2im of a 4 MiB tile. Parts depend on
/// the geometry only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImageParts {
    pub(crate) per_part: usize,
    pub(crate) count: usize,
}

impl ImageParts {
    /// The parts of `geo`'s batch, or None when one image's patches overflow a part (large
    /// images: the tiled passes bound the memory instead) or the batch is a single image.
    pub(crate) fn of(geo: &ConvGeometry) -> Option<Self> {
        let per_image = geo.out_h * geo.out_w * geo.patch_len();
        if geo.batch < 2 || per_image == 0 || per_image > PART_VALUES {
            return None;
        }
        let per_part = (PART_VALUES / per_image).min(geo.batch.div_ceil(MIN_PARTS)).max(1);
        Some(ImageParts { per_part, count: geo.batch.div_ceil(per_part) })
    }

    /// Images `[first, end)` of part `i`.
    pub(crate) fn images(&self, geo: &ConvGeometry, i: usize) -> (usize, usize) {
        (i * self.per_part, ((i + 1) * self.per_part).min(geo.batch))
    }

    /// `f(part)` for every part, across the workers when there is enough work for two.
    pub(crate) fn run(&self, geo: &ConvGeometry, f: &(dyn Fn(usize) + Sync)) {
        run_split(geo, self.count, f);
    }

    /// How many partial sums a gradient summed over the parts keeps: `KERNEL_PARTIALS`, or one
    /// per part when there are fewer.
    pub(crate) fn partials(&self) -> usize {
        KERNEL_PARTIALS.min(self.count)
    }

    /// The parts partial `j` sums: the parts dealt out in order, as evenly as they go (every
    /// partial gets at least one).
    pub(crate) fn of_partial(&self, j: usize) -> std::ops::Range<usize> {
        let partials = self.partials();
        j * self.count / partials..(j + 1) * self.count / partials
    }

    /// `f(j)` for every partial `j` (each run by one worker), across the workers as `run`.
    pub(crate) fn run_partials(&self, geo: &ConvGeometry, f: &(dyn Fn(usize) + Sync)) {
        run_split(geo, self.partials(), f);
    }
}

/// `f(0..count)` for a pass of `geo` split `count` ways, across the workers when there is
/// enough work for two.
fn run_split(geo: &ConvGeometry, count: usize, f: &(dyn Fn(usize) + Sync)) {
    let fmas = geo.pixels() * geo.patch_len() * geo.group_out() * geo.groups;
    if fmas >= super::gemm::PARALLEL_MIN_FMAS && count > 1 && super::parallel::threads() > 1 {
        super::workers::run_parts(count, f);
    } else {
        (0..count).for_each(f);
    }
}

/// `slice[start..start + len]` of a slice shared with `SharedMut`.
///
/// # Safety
/// The range is inside the slice, and no other part touches it while the result lives.
pub(crate) unsafe fn part_of<'a, T>(base: &SharedMut<T>, start: usize, len: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(base.0.add(start), len)
}

fn forward_by_images(geo: &ConvGeometry, parts: ImageParts, x: &[f32], kernel: &[f32], out: &mut [f32]) {
    let (k, ng, per_image) = (geo.patch_len(), geo.group_out(), geo.out_h * geo.out_w);
    let base = SharedMut(out.as_mut_ptr());
    parts.run(geo, &|i| {
        let (first, end) = parts.images(geo, i);
        let (start, rows) = (first * per_image, (end - first) * per_image);
        // SAFETY: part `i` alone writes the output rows of its images.
        let out = unsafe { part_of(&base, start * geo.out_c, rows * geo.out_c) };
        let mut patches = super::uninit(rows * k); // im2col writes every element
        for g in 0..geo.groups {
            let a = geo.fill_patches(x, g, start, rows, &mut patches, false);
            gemm_into_serial(rows, ng, k, a, kernel_block(geo, kernel, g), out, g * ng, geo.out_c, false);
        }
    });
}

fn backward_input_by_images(geo: &ConvGeometry, parts: ImageParts, dy: &[f32], kernel: &[f32], dx: &mut [f32]) {
    let (k, ng, per_image) = (geo.patch_len(), geo.group_out(), geo.out_h * geo.out_w);
    let image_len = geo.in_h * geo.in_w * geo.in_c;
    let base = SharedMut(dx.as_mut_ptr());
    parts.run(geo, &|i| {
        let (first, end) = parts.images(geo, i);
        let (start, rows) = (first * per_image, (end - first) * per_image);
        // SAFETY: part `i`'s pixels scatter into its own images of `dx` only.
        let dx = unsafe { part_of(&base, first * image_len, (end - first) * image_len) };
        let mut patches = super::uninit(rows * k); // the GEMM writes every element
        for g in 0..geo.groups {
            gemm_into_serial(rows, k, ng, geo.output_block(dy, start, g), kernel_block(geo, kernel, g).t(), &mut patches, 0, k, false);
            // Pixels numbered from the part's first image, as `dx` starts there.
            geo.col2im(&patches, g, 0, rows, dx, false);
        }
    });
}

/// The kernel gradient as `KERNEL_PARTIALS` partial sums, each over a fixed run of parts
/// (`ImageParts::of_partial`) and accumulated by one worker, then added into `dkernel` in their order: the same result for any
/// thread count.
fn backward_kernel_by_images(geo: &ConvGeometry, parts: ImageParts, x: &[f32], dy: &[f32], dkernel: &mut [f32]) {
    let (k, ng, per_image) = (geo.patch_len(), geo.group_out(), geo.out_h * geo.out_w);
    let len = k * geo.out_c;
    let mut sums = super::uninit(parts.partials() * len); // each partial's first GEMM overwrites it
    let base = SharedMut(sums.as_mut_ptr());
    let run = |j: usize| {
        // SAFETY: partial `j` is written by this part only.
        let sum = unsafe { part_of(&base, j * len, len) };
        let mut patches = super::uninit(parts.per_part * per_image * k);
        for (n, i) in parts.of_partial(j).enumerate() {
            let (first, end) = parts.images(geo, i);
            let (start, rows) = (first * per_image, (end - first) * per_image);
            for g in 0..geo.groups {
                let a = geo.fill_patches(x, g, start, rows, &mut patches, false);
                gemm_into_serial(k, ng, rows, a.t(), geo.output_block(dy, start, g), sum, g * ng, geo.out_c, n > 0);
            }
        }
    };
    parts.run_partials(geo, &run);
    let sums: Vec<&[f32]> = sums.chunks(len.max(1)).collect();
    for_each_chunk_mut(dkernel, super::CHUNK, len >= super::PARALLEL_MIN_ELEMENTS, |c, out| {
        let at = c * super::CHUNK;
        for (e, d) in out.iter_mut().enumerate() {
            *d += sums.iter().fold(0.0, |total, sum| total + sum[at + e]);
        }
    });
}

/// The kernel columns of group `g` as a GEMM operand (patch_len x cout/groups).
pub(crate) fn kernel_block<'a>(geo: &ConvGeometry, kernel: &'a [f32], g: usize) -> MatRef<'a> {
    MatRef { data: kernel, offset: g * geo.group_out(), row_stride: geo.out_c as isize, col_stride: 1 }
}

/// `out` (pixels x out_c, NHWC) = conv(x, kernel). `out` is overwritten.
pub fn conv2d_forward(geo: &ConvGeometry, x: &[f32], kernel: &[f32], out: &mut [f32]) {
    let (k, ng) = (geo.patch_len(), geo.group_out());
    if geo.is_pointwise() {
        gemm_into(geo.pixels(), geo.out_c, geo.in_c, MatRef::row_major(x, geo.in_c), kernel_block(geo, kernel, 0), out, 0, geo.out_c, false);
        return;
    }
    if let Some(parts) = ImageParts::of(geo) {
        return forward_by_images(geo, parts, x, kernel, out);
    }
    geo.for_each_tile(|g, start, rows, patches| {
        let a = geo.fill_patches(x, g, start, rows, patches, true);
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
    if let Some(parts) = ImageParts::of(geo) {
        return backward_input_by_images(geo, parts, dy, kernel, dx);
    }
    geo.for_each_tile(|g, start, rows, patches| {
        gemm_into(rows, k, ng, geo.output_block(dy, start, g), kernel_block(geo, kernel, g).t(), patches, 0, k, false);
        geo.col2im(patches, g, start, rows, dx, true);
    });
}

/// `dkernel` (Keras layout, zeroed by the caller or accumulated into) += patches^T @ dy.
pub fn conv2d_backward_kernel(geo: &ConvGeometry, x: &[f32], dy: &[f32], dkernel: &mut [f32]) {
    let (k, ng) = (geo.patch_len(), geo.group_out());
    if geo.is_pointwise() {
        gemm_into(geo.in_c, geo.out_c, geo.pixels(), MatRef::row_major(x, geo.in_c).t(), MatRef::row_major(dy, geo.out_c), dkernel, 0, geo.out_c, true);
        return;
    }
    if let Some(parts) = ImageParts::of(geo).filter(|_| k * geo.out_c <= MAX_KERNEL_BY_IMAGES) {
        return backward_kernel_by_images(geo, parts, x, dy, dkernel);
    }
    geo.for_each_tile(|g, start, rows, patches| {
        let a = geo.fill_patches(x, g, start, rows, patches, true);
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

    /// The three passes by the definition, in float64: forward, then for `dy` the input and
    /// kernel gradients.
    fn reference(geo: &ConvGeometry, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (cg, ng) = (geo.group_in(), geo.group_out());
        let mut out = vec![0.0f64; geo.pixels() * geo.out_c];
        let (mut dx, mut dw) = (vec![0.0f64; x.len()], vec![0.0f64; w.len()]);
        for b in 0..geo.batch {
            for oy in 0..geo.out_h {
                for ox in 0..geo.out_w {
                    let o = ((b * geo.out_h + oy) * geo.out_w + ox) * geo.out_c;
                    for ky in 0..geo.kernel_h {
                        for kx in 0..geo.kernel_w {
                            let iy = (oy * geo.stride_h + ky * geo.dilation_h) as isize - geo.pad_top as isize;
                            let ix = (ox * geo.stride_w + kx * geo.dilation_w) as isize - geo.pad_left as isize;
                            if iy < 0 || ix < 0 || iy as usize >= geo.in_h || ix as usize >= geo.in_w {
                                continue;
                            }
                            let i = ((b * geo.in_h + iy as usize) * geo.in_w + ix as usize) * geo.in_c;
                            for co in 0..geo.out_c {
                                let g = co / ng;
                                for ci in 0..cg {
                                    let wi = ((ky * geo.kernel_w + kx) * cg + ci) * geo.out_c + co;
                                    out[o + co] += x[i + g * cg + ci] as f64 * w[wi] as f64;
                                    dx[i + g * cg + ci] += dy[o + co] as f64 * w[wi] as f64;
                                    dw[wi] += x[i + g * cg + ci] as f64 * dy[o + co] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        (out, dx, dw)
    }

    #[test]
    fn every_path_matches_the_reference() {
        // By whole images (small images, batch >= 2: grouped, strided, dilated, padded, odd
        // sizes, one input channel with its tap-major im2col), and the tiled passes (a single
        // image; an image whose patches span several tiles).
        let cases = [
            // (batch, h, w, cin, k, cout, groups, stride, dilation, pad)
            (5, 7, 6, 3, 3, 5, 1, 1, 1, 0),
            (3, 9, 8, 6, 3, 4, 2, 2, 1, 1),
            (4, 11, 10, 1, 3, 9, 1, 1, 2, 2),
            (2, 6, 7, 16, 2, 19, 1, 1, 1, 0),
            (1, 8, 9, 5, 3, 7, 1, 1, 1, 1),
            (1, 120, 97, 16, 3, 8, 1, 1, 1, 1),
        ];
        for (n, &(batch, h, w, cin, k, cout, groups, stride, dilation, pad)) in cases.iter().enumerate() {
            let span = dilation * (k - 1) + 1;
            let (out_h, out_w) = ((h + 2 * pad - span) / stride + 1, (w + 2 * pad - span) / stride + 1);
            let geo = ConvGeometry {
                batch, in_h: h, in_w: w, in_c: cin, kernel_h: k, kernel_w: k, out_c: cout, groups,
                stride_h: stride, stride_w: stride, dilation_h: dilation, dilation_w: dilation, pad_top: pad, pad_left: pad, out_h, out_w,
            };
            assert_eq!(ImageParts::of(&geo).is_some(), n < 4, "case {n}: the path under test");
            assert!(n < 5 || geo.pixels() > geo.tile_rows(), "case {n}: several tiles");
            let x: Vec<f32> = (0..batch * h * w * cin).map(|i| ((i * 7919) % 13) as f32 * 0.25 - 1.5).collect();
            let wt: Vec<f32> = (0..k * k * (cin / groups) * cout).map(|i| ((i * 104729) % 11) as f32 * 0.2 - 1.0).collect();
            let dy: Vec<f32> = (0..geo.pixels() * cout).map(|i| ((i * 31) % 7) as f32 * 0.5 - 1.5).collect();
            let (want_out, want_dx, want_dw) = reference(&geo, &x, &wt, &dy);
            let mut out = vec![f32::NAN; want_out.len()];
            conv2d_forward(&geo, &x, &wt, &mut out);
            let mut dx = vec![1.0f32; x.len()]; // accumulated into
            conv2d_backward_input(&geo, &dy, &wt, &mut dx);
            let mut dw = vec![0.0f32; wt.len()];
            conv2d_backward_kernel(&geo, &x, &dy, &mut dw);
            let close = |got: &[f32], want: &[f64], base: f64, what: &str| {
                for (i, (g, w)) in got.iter().zip(want).enumerate() {
                    assert!((*g as f64 - base - w).abs() <= 1e-4 * w.abs().max(1.0), "case {n} {what}[{i}]: {g} vs {}", w + base);
                }
            };
            close(&out, &want_out, 0.0, "forward");
            close(&dx, &want_dx, 1.0, "input gradient");
            close(&dw, &want_dw, 0.0, "kernel gradient");
        }
    }
}
