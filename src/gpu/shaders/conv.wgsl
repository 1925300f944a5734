// Convolution on NHWC tensors as an implicit GEMM: no im2col buffer, the GEMM's A (and for
// the kernel gradient, B) tiles are gathered from the image as they are loaded. The three passes
// are GEMMs over one group each (workgroup z = group * splits + split):
//
//   conv2d_f32                  out[p, g*ng + n]  = sum_k patch_value(p, k) * kernel[k, g*ng + n]
//                               M = pixels out, N = ng, K = kh*kw*cg; a = x, b = kernel
//   conv2d_backward_input_f32   dx[q, g*cg + c]   = sum_k dyview(q, k) * kernel[(ky,kx,c), g*ng + n]
//                               M = pixels in, N = cg, K = kh*kw*ng (k = (ky, kx, n)); a = dy,
//                               b = kernel; dyview(q, (ky,kx,n)) is dy at the output pixel whose
//                               tap (ky, kx) reads input pixel q, or 0 where none does (stride)
//   conv2d_backward_kernel_f32  dk[(ky,kx,c), g*ng + n] = sum_p patch_value(p, (ky,kx,c)) * dy[p, g*ng + n]
//                               M = kh*kw*cg, N = ng, K = pixels out; a = x, b = dy; split over K
//                               into `splits` chunks, partial sums at [index * splits + split]
//                               (summed by the caller)
//   conv2d_backward_kernel_reduce_f32  the same product for small M x N: one workgroup per
//                               element (see its comment)
// where cg = in_c / groups, ng = out_c / groups, patch_value(p, (ky,kx,c)) = x at output pixel p's tap
// (ky, kx), channel g*cg + c, 0 in the padding. Each output element is written once (no zeroing).
//
// Bindings: 0 p (read, params below), 1 a (read), 2 b (read), 3 out (read_write). a and b are
// row-major, read from element offsets p[19] and p[20] (the caller makes strided tensors
// row-major first).
// Params (u32): 0 batch, 1 in_h, 2 in_w, 3 in_c, 4 kernel_h, 5 kernel_w, 6 out_c, 7 groups,
// 8 stride_h, 9 stride_w, 10 dilation_h, 11 dilation_w, 12 pad_top, 13 pad_left, 14 out_h,
// 15 out_w, 16 M, 17 N, 18 K, 19 a offset, 20 b offset, 21 first row tile, 22 splits,
// 23 K per split, 24-26 the epilogue's activation scalars (f32 bits).
// @workgroup_size(256): a TM x TN output tile per workgroup, RM x RN per thread, K in steps of
// KSTEP through workgroup memory (as gemm.wgsl). The tile is chosen by the caller for N, which
// is small for depthwise and narrow groups: the line `const TM ...` below is replaced by one of
// kernels::conv::TILES (the values written here are the widest). Dispatch: (ceil(N/TN), row
// tiles, groups * splits); row tiles past the adapter's per-dimension limit are split into
// several dispatches, each starting at tile p[21]. Out-of-range rows and columns load zeros and
// store nothing.
// Must match: cpu::conv::{conv2d_forward, conv2d_backward_input, conv2d_backward_kernel}.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const TM: u32 = 64u; const TN: u32 = 64u; const RM: u32 = 4u; const RN: u32 = 4u; const KSTEP: u32 = 16u;
// Threads per tile row and per tile column.
const COL_THREADS: u32 = TN / RN;
const ROW_THREADS: u32 = 256u / COL_THREADS;

var<workgroup> partial: array<f32, 256>;  // conv2d_backward_kernel_reduce_f32's tree
var<workgroup> a_tile: array<f32, TM * KSTEP>;  // [k][m]
var<workgroup> b_tile: array<f32, KSTEP * TN>;  // [k][n]

const FORWARD: u32 = 0u;
const BACKWARD_INPUT: u32 = 1u;
const BACKWARD_KERNEL: u32 = 2u;

fn group_in() -> u32 { return p[3] / p[7]; }
fn group_out() -> u32 { return p[6] / p[7]; }

// x at output pixel `pixel`'s tap k = (ky, kx, c) of group g, 0 in the padding.
fn patch_value(pixel: u32, k: u32, g: u32) -> f32 {
    let cg = group_in();
    let c = k % cg;
    let tap = k / cg;
    let kx = tap % p[5];
    let ky = tap / p[5];
    let ox = pixel % p[15];
    let rest = pixel / p[15];
    let oy = rest % p[14];
    let n = rest / p[14];
    let iy = i32(oy * p[8] + ky * p[10]) - i32(p[12]);
    let ix = i32(ox * p[9] + kx * p[11]) - i32(p[13]);
    if (iy < 0 || ix < 0 || iy >= i32(p[1]) || ix >= i32(p[2])) { return 0.0; }
    return a[p[19] + ((n * p[1] + u32(iy)) * p[2] + u32(ix)) * p[3] + g * cg + c];
}

// dy at the output pixel whose tap (ky, kx) reads input pixel `pixel`, channel n of group g
// (k = (ky, kx, n)); 0 when no output pixel does.
fn dy_view(pixel: u32, k: u32, g: u32) -> f32 {
    let ng = group_out();
    let o = k % ng;
    let tap = k / ng;
    let kx = tap % p[5];
    let ky = tap / p[5];
    let ix = pixel % p[2];
    let rest = pixel / p[2];
    let iy = rest % p[1];
    let n = rest / p[1];
    let ty = i32(iy + p[12]) - i32(ky * p[10]);
    let tx = i32(ix + p[13]) - i32(kx * p[11]);
    if (ty < 0 || tx < 0) { return 0.0; }
    let uy = u32(ty);
    let ux = u32(tx);
    if (uy % p[8] != 0u || ux % p[9] != 0u) { return 0.0; }
    let oy = uy / p[8];
    let ox = ux / p[9];
    if (oy >= p[14] || ox >= p[15]) { return 0.0; }
    return a[p[19] + ((n * p[14] + oy) * p[15] + ox) * p[6] + g * ng + o];
}

fn load_a(which: u32, row: u32, k: u32, g: u32) -> f32 {
    if (which == FORWARD) { return patch_value(row, k, g); }
    if (which == BACKWARD_INPUT) { return dy_view(row, k, g); }
    return patch_value(k, row, g);
}

fn load_b(which: u32, k: u32, col: u32, g: u32) -> f32 {
    let ng = group_out();
    if (which == BACKWARD_INPUT) { return b[p[20] + ((k / ng) * group_in() + col) * p[6] + g * ng + k % ng]; }
    // kernel[k, g*ng + col] (forward) and dy[pixel k, g*ng + col] (kernel gradient).
    return b[p[20] + k * p[6] + g * ng + col];
}

// fn epilogue(v: f32, channel: u32) -> f32, applied to the forward pass's results (and to a
// transposed convolution's, which is the backward-input pass): the identity, or the layer's bias
// (binding 4) and activation, scalars from p[24..27] (kernels/variant.rs `epilogue_source`).
{{EPILOGUE}}

fn store(which: u32, row: u32, col: u32, g: u32, split: u32, v: f32) {
    if (which == FORWARD) {
        out[row * p[6] + g * group_out() + col] = epilogue(v, g * group_out() + col);
    } else if (which == BACKWARD_INPUT) {
        out[row * p[3] + g * group_in() + col] = epilogue(v, g * group_in() + col);
    } else {
        out[(row * p[6] + g * group_out() + col) * p[22] + split] = v;
    }
}

fn implicit_gemm(which: u32, wid: vec3<u32>, li: u32) {
    let M = p[16];
    let N = p[17];
    let g = wid.z / p[22];
    let split = wid.z % p[22];
    let k_begin = split * p[23];
    let k_end = min(p[18], k_begin + p[23]);
    let row0 = (wid.y + p[21]) * TM;
    let col0 = wid.x * TN;
    let ty = li / COL_THREADS;
    let tx = li % COL_THREADS;
    var acc: array<f32, RM * RN>;
    for (var i = 0u; i < RM * RN; i++) { acc[i] = 0.0; }
    for (var k0 = k_begin; k0 < k_end; k0 += KSTEP) {
        // A tile: consecutive threads walk k (the channels, contiguous in x and dy).
        for (var idx = li; idx < TM * KSTEP; idx += 256u) {
            let ar = idx / KSTEP;
            let ak = idx % KSTEP;
            var av = 0.0;
            if (row0 + ar < M && k0 + ak < k_end) { av = load_a(which, row0 + ar, k0 + ak, g); }
            a_tile[ak * TM + ar] = av;
        }
        for (var idx = li; idx < KSTEP * TN; idx += 256u) {
            let bk = idx / TN;
            let bc = idx % TN;
            var bv = 0.0;
            if (k0 + bk < k_end && col0 + bc < N) { bv = load_b(which, k0 + bk, col0 + bc, g); }
            b_tile[bk * TN + bc] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KSTEP; kk++) {
            var av: array<f32, RM>;
            var bv: array<f32, RN>;
            for (var i = 0u; i < RM; i++) { av[i] = a_tile[kk * TM + ty * RM + i]; }
            for (var j = 0u; j < RN; j++) { bv[j] = b_tile[kk * TN + tx * RN + j]; }
            for (var i = 0u; i < RM; i++) {
                for (var j = 0u; j < RN; j++) {
                    acc[i * RN + j] = fma(av[i], bv[j], acc[i * RN + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < RM; i++) {
        let r = row0 + ty * RM + i;
        if (r >= M) { continue; }
        for (var j = 0u; j < RN; j++) {
            let c = col0 + tx * RN + j;
            if (c < N) { store(which, r, c, g, split, acc[i * RN + j]); }
        }
    }
}

@compute @workgroup_size(256)
fn conv2d_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(FORWARD, wid, li);
}

@compute @workgroup_size(256)
fn conv2d_backward_input_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(BACKWARD_INPUT, wid, li);
}

@compute @workgroup_size(256)
fn conv2d_backward_kernel_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(BACKWARD_KERNEL, wid, li);
}

// The kernel gradient when it has few elements (depthwise, thin inputs): one workgroup per
// element and split, its 256 threads striding over the split's pixels, then a tree sum. No
// output tile to fill, so no work wasted on columns or rows that do not exist.
// Dispatch: (M * N, 1, groups * splits); element e = wid.x is (row e / N, column e % N).
@compute @workgroup_size(256)
fn conv2d_backward_kernel_reduce_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let N = p[17];
    let row = wid.x / N;
    let col = wid.x % N;
    let g = wid.z / p[22];
    let split = wid.z % p[22];
    let k_begin = split * p[23];
    let k_end = min(p[18], k_begin + p[23]);
    var acc = 0.0;
    for (var k = k_begin + li; k < k_end; k += 256u) {
        acc = fma(load_a(BACKWARD_KERNEL, row, k, g), load_b(BACKWARD_KERNEL, k, col, g), acc);
    }
    partial[li] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (li < s) { partial[li] = partial[li] + partial[li + s]; }
        workgroupBarrier();
    }
    if (li == 0u) { store(BACKWARD_KERNEL, row, col, g, split, partial[0]); }
}
