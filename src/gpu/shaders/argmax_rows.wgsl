// One workgroup per row of a (rows, cols) row-major matrix: the row's maximum and the index of its
// first occurrence (as the CPU: ties go to the lower index, and the first NaN wins over numbers).
// Indices are written as f32 (exact below 2^24 columns).

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> values: array<f32>;
@group(0) @binding(3) var<storage, read_write> indices: array<f32>;

var<workgroup> best_v: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;

// is_nan: nan.wgsl, spliced in front.

// Whether (v, i) beats (w, j).
fn beats(v: f32, i: u32, w: f32, j: u32) -> bool {
    if (is_nan(v) || is_nan(w)) {
        if (is_nan(v) && is_nan(w)) { return i < j; }
        return is_nan(v);
    }
    if (v != w) { return v > w; }
    return i < j;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = p[0];
    let cols = p[1];
    let row = wid.y * nwg.x + wid.x;
    if (row >= rows) { return; }
    var v = bitcast<f32>(0xff800000u);  // -inf
    var i = 0xffffffffu;
    for (var c = lid.x; c < cols; c += 256u) {
        let x_c = x[row * cols + c];
        if (beats(x_c, c, v, i)) { v = x_c; i = c; }
    }
    best_v[lid.x] = v;
    best_i[lid.x] = i;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid.x < s && beats(best_v[lid.x + s], best_i[lid.x + s], best_v[lid.x], best_i[lid.x])) {
            best_v[lid.x] = best_v[lid.x + s];
            best_i[lid.x] = best_i[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        values[row] = best_v[0];
        indices[row] = f32(best_i[0]);
    }
}
