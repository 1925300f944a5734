// out[view(i)] = g[i]: the gradient of a basic-indexing view written back into zeros of the
// source's shape. A view's elements are distinct positions (no step is 0), so each thread owns
// its destination. Params: n, ndim, view offset, shape[8] at 4, strides (i32)[8] at 12.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    var rem = i;
    var at = i32(p[2]);
    for (var d = i32(p[1]) - 1; d >= 0; d--) {
        let len = p[4u + u32(d)];
        at += i32(rem % len) * bitcast<i32>(p[12u + u32(d)]);
        rem = rem / len;
    }
    out[u32(at)] = g[i];
}
