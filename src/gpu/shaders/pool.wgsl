// Max and average pooling on NHWC tensors, forward and backward, one thread per element:
//
//   max_pool_f32                one per output: the window's max -> dst, and the flat spatial
//                               index (iy * in_w + ix, as an exact f32) of the input that takes
//                               its gradient -> aux (-1 for none)
//   average_pool_f32            one per output: mean of the window's real (unpadded) values -> dst
//   max_pool_backward_f32       one per input: sum of g over the windows whose aux names it -> dst
//   average_pool_backward_f32   one per input: sum of g / window count over its windows -> dst
//
// Bindings: 0 p (read, params), 1 src (read: x forward, g backward, row-major from element
// p[13]), 2 dst (read_write: the output or dx), 3 aux (read_write: the argmax, written by
// max_pool_f32 and read by max_pool_backward_f32; the average entry points do not bind it).
// Params (u32): 0 batch, 1 in_h, 2 in_w, 3 channels, 4 pool_h, 5 pool_w, 6 stride_h, 7 stride_w,
// 8 pad_top, 9 pad_left, 10 out_h, 11 out_w, 12 element count (outputs forward, inputs
// backward), 13 src offset. A window holding NaN outputs NaN and gives no gradient, as
// cpu::pool::max_pool_backward.
// @workgroup_size(256); dispatch grid(ceil(count / 256)), flat id wid.y * nwg.x + wid.x; threads
// past the count return at once. Windows are clipped to the input, as PoolGeometry::window.
// Must match: cpu::pool::{max_pool, avg_pool, max_pool_backward, avg_pool_backward}.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> aux: array<f32>;

struct Window { y0: u32, y1: u32, x0: u32, x1: u32 }

// Output pixel (oy, ox)'s window clipped to the input: rows [y0, y1), columns [x0, x1).
fn window(oy: u32, ox: u32) -> Window {
    let y = i32(oy * p[6]) - i32(p[8]);
    let x = i32(ox * p[7]) - i32(p[9]);
    let y1 = min(u32(max(y + i32(p[4]), 0)), p[1]);
    let x1 = min(u32(max(x + i32(p[5]), 0)), p[2]);
    return Window(u32(max(y, 0)), y1, u32(max(x, 0)), x1);
}

fn thread_index(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// The outputs (oy in [oy0, oy1), ox in [ox0, ox1)) whose windows cover input pixel (iy, ix).
fn covering(iy: u32, ix: u32) -> vec4<u32> {
    let ty = i32(iy + p[8]);
    let tx = i32(ix + p[9]);
    // oy * stride <= iy + pad < oy * stride + pool
    let oy0 = u32(max(ty - i32(p[4]) + i32(p[6]), 0)) / p[6];
    let ox0 = u32(max(tx - i32(p[5]) + i32(p[7]), 0)) / p[7];
    let oy1 = min(u32(ty) / p[6] + 1u, p[10]);
    let ox1 = min(u32(tx) / p[7] + 1u, p[11]);
    return vec4<u32>(oy0, oy1, ox0, ox1);
}

@compute @workgroup_size(256)
fn max_pool_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(wid, lid, nwg);
    if (i >= p[12]) { return; }
    let c = p[3];
    let ch = i % c;
    let ox = (i / c) % p[11];
    let oy = (i / (c * p[11])) % p[10];
    let n = i / (c * p[11] * p[10]);
    let w = window(oy, ox);
    var best = bitcast<f32>(0xff800000u);  // -inf
    var arg = -1.0;
    var saw_nan = false;
    for (var iy = w.y0; iy < w.y1; iy++) {
        for (var ix = w.x0; ix < w.x1; ix++) {
            let v = src[p[13] + ((n * p[1] + iy) * p[2] + ix) * c + ch];
            let at = f32(iy * p[2] + ix);
            if (is_nan(v)) {  // nan.wgsl, spliced in front
                saw_nan = true;
                best = v;
            } else if (!saw_nan && (v > best || (arg < 0.0 && v == best))) {
                // Strictly larger: ties keep the first maximum. A NaN best stays.
                best = v;
                arg = at;
            }
        }
    }
    if (saw_nan) { arg = -1.0; }
    dst[i] = best;
    aux[i] = arg;
}

@compute @workgroup_size(256)
fn average_pool_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(wid, lid, nwg);
    if (i >= p[12]) { return; }
    let c = p[3];
    let ch = i % c;
    let ox = (i / c) % p[11];
    let oy = (i / (c * p[11])) % p[10];
    let n = i / (c * p[11] * p[10]);
    let w = window(oy, ox);
    var total = 0.0;
    for (var iy = w.y0; iy < w.y1; iy++) {
        for (var ix = w.x0; ix < w.x1; ix++) {
            total += src[p[13] + ((n * p[1] + iy) * p[2] + ix) * c + ch];
        }
    }
    dst[i] = total / f32(max((w.y1 - w.y0) * (w.x1 - w.x0), 1u));
}

@compute @workgroup_size(256)
fn max_pool_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(wid, lid, nwg);
    if (i >= p[12]) { return; }
    let c = p[3];
    let ch = i % c;
    let ix = (i / c) % p[2];
    let iy = (i / (c * p[2])) % p[1];
    let n = i / (c * p[2] * p[1]);
    let me = f32(iy * p[2] + ix);
    let r = covering(iy, ix);
    var total = 0.0;
    for (var oy = r.x; oy < r.y; oy++) {
        for (var ox = r.z; ox < r.w; ox++) {
            let o = ((n * p[10] + oy) * p[11] + ox) * c + ch;
            if (aux[o] == me) { total += src[p[13] + o]; }
        }
    }
    dst[i] = total;
}

@compute @workgroup_size(256)
fn average_pool_backward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = thread_index(wid, lid, nwg);
    if (i >= p[12]) { return; }
    let c = p[3];
    let ch = i % c;
    let ix = (i / c) % p[2];
    let iy = (i / (c * p[2])) % p[1];
    let n = i / (c * p[2] * p[1]);
    let r = covering(iy, ix);
    var total = 0.0;
    for (var oy = r.x; oy < r.y; oy++) {
        for (var ox = r.z; ox < r.w; ox++) {
            let w = window(oy, ox);
            let scale = 1.0 / f32(max((w.y1 - w.y0) * (w.x1 - w.x0), 1u));
            total += src[p[13] + ((n * p[10] + oy) * p[11] + ox) * c + ch] * scale;
        }
    }
    dst[i] = total;
}
