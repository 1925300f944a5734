// One workgroup per row of a (rows, cols) row-major matrix: out[r] = REDUCE over the row
// (sum or max), then multiplied by p[2] (1 for sum, 1/cols for mean). Tree reduction in
// workgroup memory; rows beyond 65535 spill into the second grid dimension.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn combine(a: f32, b: f32) -> f32 { return {{COMBINE}}; }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = p[0];
    let cols = p[1];
    let row = wid.y * nwg.x + wid.x;
    if (row >= rows) { return; }   // uniform per workgroup: the barriers below stay uniform
    var acc = {{IDENTITY}};
    for (var c = lid.x; c < cols; c += 256u) {
        acc = combine(acc, x[row * cols + c]);
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid.x < s) { partial[lid.x] = combine(partial[lid.x], partial[lid.x + s]); }
        workgroupBarrier();
    }
    if (lid.x == 0u) { out[row] = partial[0] * bitcast<f32>(p[2]); }
}
