// Row-wise softmax (or log-softmax) of a (rows, cols) row-major matrix, one workgroup per row:
// the row's max, then the sum of exp(x - max), then the outputs. LOG = {{LOG}}.
// workgroup_sum/workgroup_max come from workgroup_reduce*.wgsl, spliced in front.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let rows = p[0];
    let cols = p[1];
    let row = wid.y * nwg.x + wid.x;
    if (row >= rows) { return; }
    let base = row * cols;
    var m = -3.4028235e38;
    for (var c = lid.x; c < cols; c += 256u) { m = max(m, x[base + c]); }
    m = workgroup_max(m, lid.x);
    var s = 0.0;
    for (var c = lid.x; c < cols; c += 256u) { s += exp(x[base + c] - m); }
    s = workgroup_sum(s, lid.x);
    for (var c = lid.x; c < cols; c += 256u) {
        if ({{LOG}}) { out[base + c] = x[base + c] - m - log(s); }
        else { out[base + c] = exp(x[base + c] - m) / s; }
    }
}
