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
// where cg = in_c / groups, ng = out_c / groups, patch_value(p, (ky,kx,c)) = x at output pixel p's tap
// (ky, kx), channel g*cg + c, 0 in the padding. Each output element is written once (no zeroing).
//
// Bindings: 0 p (read, params below), 1 a (read), 2 b (read), 3 out (read_write). a and b are
// row-major, read from element offsets p[19] and p[20] (the caller makes strided tensors
// row-major first).
// Params (u32): 0 batch, 1 in_h, 2 in_w, 3 in_c, 4 kernel_h, 5 kernel_w, 6 out_c, 7 groups,
// 8 stride_h, 9 stride_w, 10 dilation_h, 11 dilation_w, 12 pad_top, 13 pad_left, 14 out_h,
// 15 out_w, 16 M, 17 N, 18 K, 19 a offset, 20 b offset, 21 first row tile, 22 splits,
// 23 K per split.
// @workgroup_size(16, 16): a 64x64 output tile per workgroup, 4x4 per thread, K in steps of 16
// through workgroup memory (as gemm.wgsl). Dispatch: (ceil(N/64), row tiles, groups * splits);
// row tiles past the adapter's per-dimension limit are split into several dispatches, each
// starting at tile p[21]. Out-of-range rows and columns load zeros and store nothing.
// Must match: cpu::conv::{conv2d_forward, conv2d_backward_input, conv2d_backward_kernel}.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> a_tile: array<f32, 1024>;  // [k][m], 16 x 64
var<workgroup> b_tile: array<f32, 1024>;  // [k][n], 16 x 64

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

fn store(which: u32, row: u32, col: u32, g: u32, split: u32, v: f32) {
    if (which == FORWARD) {
        out[row * p[6] + g * group_out() + col] = v;
    } else if (which == BACKWARD_INPUT) {
        out[row * p[3] + g * group_in() + col] = v;
    } else {
        out[(row * p[6] + g * group_out() + col) * p[22] + split] = v;
    }
}

fn implicit_gemm(which: u32, wid: vec3<u32>, lid: vec3<u32>, li: u32) {
    let M = p[16];
    let N = p[17];
    let g = wid.z / p[22];
    let split = wid.z % p[22];
    let k_begin = split * p[23];
    let k_end = min(p[18], k_begin + p[23]);
    let row0 = (wid.y + p[21]) * 64u;
    let col0 = wid.x * 64u;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
    for (var k0 = k_begin; k0 < k_end; k0 += 16u) {
        for (var e = 0u; e < 4u; e++) {
            let idx = li + e * 256u;
            let ar = idx / 16u;
            let ak = idx % 16u;
            var av = 0.0;
            if (row0 + ar < M && k0 + ak < k_end) { av = load_a(which, row0 + ar, k0 + ak, g); }
            a_tile[ak * 64u + ar] = av;
            let bk = idx / 64u;
            let bc = idx % 64u;
            var bv = 0.0;
            if (k0 + bk < k_end && col0 + bc < N) { bv = load_b(which, k0 + bk, col0 + bc, g); }
            b_tile[bk * 64u + bc] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * 64u + lid.y * 4u + i];
                bv[i] = b_tile[kk * 64u + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y * 4u + i;
        if (r >= M) { continue; }
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + lid.x * 4u + j;
            if (c < N) { store(which, r, c, g, split, acc[i * 4u + j]); }
        }
    }
}

@compute @workgroup_size(16, 16)
fn conv2d_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(FORWARD, wid, lid, li);
}

@compute @workgroup_size(16, 16)
fn conv2d_backward_input_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(BACKWARD_INPUT, wid, lid, li);
}

@compute @workgroup_size(16, 16)
fn conv2d_backward_kernel_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    implicit_gemm(BACKWARD_KERNEL, wid, lid, li);
}
