// Row-wise softmax (or log-softmax) of a (rows, cols) row-major matrix, one workgroup per row:
// the row's max, then the sum of exp(x - max), then the outputs. LOG = {{LOG}}.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

fn row_reduce(v: f32, lid: u32, is_max: bool) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            if (is_max) { partial[lid] = max(partial[lid], partial[lid + s]); }
            else { partial[lid] = partial[lid] + partial[lid + s]; }
        }
        workgroupBarrier();
    }
    let r = partial[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = p[0];
    let cols = p[1];
    let row = wid.y * nwg.x + wid.x;
    if (row >= rows) { return; }
    let base = row * cols;
    var m = -3.4028235e38;
    for (var c = lid.x; c < cols; c += 256u) { m = max(m, x[base + c]); }
    m = row_reduce(m, lid.x, true);
    var s = 0.0;
    for (var c = lid.x; c < cols; c += 256u) { s += exp(x[base + c] - m); }
    s = row_reduce(s, lid.x, false);
    for (var c = lid.x; c < cols; c += 256u) {
        if ({{LOG}}) { out[base + c] = x[base + c] - m - log(s); }
        else { out[base + c] = exp(x[base + c] - m) / s; }
    }
}
