// One workgroup per row of a (rows, cols) row-major matrix: out[r] = the row's sum or
// NaN-propagating max (IS_MAX), times p[2] (1 for sum and max, 1/cols for mean). Rows beyond
// 65535 spill into the second grid dimension. workgroup_sum/workgroup_max come from
// workgroup_reduce*.wgsl, spliced in front.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let rows = p[0];
    let cols = p[1];
    let row = wid.y * nwg.x + wid.x;
    if (row >= rows) { return; }   // uniform per workgroup: the barriers below stay uniform
    let is_max = {{IS_MAX}};
    var acc = 0.0;
    if (is_max) { acc = bitcast<f32>(0xff800000u); }
    for (var c = lid.x; c < cols; c += 256u) {
        let v = x[row * cols + c];
        if (is_max) { acc = nan_max(acc, v); } else { acc += v; }
    }
    var total: f32;
    if (is_max) { total = workgroup_max(acc, lid.x); } else { total = workgroup_sum(acc, lid.x); }
    if (lid.x == 0u) { out[row] = total * bitcast<f32>(p[2]); }
}
