// Spatial resizing of NHWC tensors. Nearest upsampling needs no kernel (ops::spatial builds it
// from a broadcast view and a copy); cropping is a slice.
//
//   zero_pad2d_f32   one thread per output element: x's element when inside, else 0
//
// Bindings: 0 p (read, params), 1 x (read, row-major from element p[8]), 2 out (read_write).
// Params (u32): 0 element count of out, 1 in_h, 2 in_w, 3 channels, 4 out_h, 5 out_w, 6 top,
// 7 left, 8 x offset.
// @workgroup_size(256); dispatch grid(ceil(count / 256)), flat id wid.y * nwg.x + wid.x;
// threads past the count return at once.
// Must match: ops::spatial::zero_pad2d's CPU path.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn zero_pad2d_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let c = p[3];
    let ch = i % c;
    let ox = (i / c) % p[5];
    let oy = (i / (c * p[5])) % p[4];
    let n = i / (c * p[5] * p[4]);
    let iy = i32(oy) - i32(p[6]);
    let ix = i32(ox) - i32(p[7]);
    var v = 0.0;
    if (iy >= 0 && ix >= 0 && iy < i32(p[1]) && ix < i32(p[2])) {
        v = x[p[8] + ((n * p[1] + u32(iy)) * p[2] + u32(ix)) * c + ch];
    }
    out[i] = v;
}
