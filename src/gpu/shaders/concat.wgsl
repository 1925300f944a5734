// Concatenation: one dispatch per input, copying it into its block of the output.
//
//   concatenate_f32   one thread per element of the input, viewed as (outer, width):
//                     out[o * total + at + j] = x[offset + o * width + j]
//
// Bindings: 0 p (read, params), 1 x (read, row-major from element p[4]), 2 out (read_write; the
// other inputs' dispatches write the rest of it).
// Params (u32): 0 element count of x, 1 width (x's length along the axis times the inner size),
// 2 total (the output's width), 3 at (this input's first column in the output), 4 x offset.
// @workgroup_size(256); dispatch grid(ceil(count / 256)), flat id wid.y * nwg.x + wid.x;
// threads past the count return at once.
// Must match: ops::concat::concat's CPU path.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn concatenate_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    out[(i / p[1]) * p[2] + p[3] + i % p[1]] = x[p[4] + i];
}
