// Shape-op kernels. Entry point: main (scatter_f32 in the op's terms), the backward of getitem
// (ops::shape::slice): out[dst(i)] = g[g_off + i] for every element i of the (row-major)
// gradient g, dst(i) = dst_off + sum over axes of coord_d(i) * stride_d: the slice's view over
// a zeroed, row-major buffer of the input's shape (strides may be negative: reversed slices).
// A slice's view never maps two elements to one place, so plain stores suffice. Matches the CPU
// scatter in ops::shape::slice.
// Bindings: 0 params (read), 1 g (read), 2 out (read_write, zeroed by the launcher).
// Params: 0 n, 1 ndim (at most 8), 2 g_off, 3 dst_off, 8..16 the view's shape, 16..24 its
// strides (i32 bits). Workgroup 256, one invocation per element of g, ceil(n / 256) groups
// folded into 2-D past the per-dimension limit (flat group id = wid.y * nwg.x + wid.x).

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    var rem = i;
    var dst = i32(p[3]);
    for (var d = i32(p[1]) - 1; d >= 0; d--) {
        let len = p[8u + u32(d)];
        dst += i32(rem % len) * bitcast<i32>(p[16u + u32(d)]);
        rem = rem / len;
    }
    out[u32(dst)] = g[p[2] + i];
}
