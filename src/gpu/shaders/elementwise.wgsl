// out[i] = EXPR(x0, x1, x2, s0..s3) over up to three inputs, each read through its own offset and
// strides (broadcast axes have stride 0), so views, transposes and broadcasts need no copy.
// The input declarations (x0_buf, x1_buf, ... at bindings 1, 2, ...; the output after them) are
// spliced in below.
// Params: n, ndim, offsets[3], scalars s0..s3 (f32 bits), shape[8] at 16, strides[k][8] at 24+8k.

@group(0) @binding(0) var<storage, read> p: array<u32>;
{{INPUTS}}

fn scalar(k: u32) -> f32 { return bitcast<f32>(p[5u + k]); }

// The math helpers (sigm, expm1_, log1p_, tanh_, erf_, powf_) come from math.wgsl, prepended.

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    let n = p[0];
    if (i >= n) { return; }
    let s0 = scalar(0u); let s1 = scalar(1u); let s2 = scalar(2u); let s3 = scalar(3u);
    var offs = array<i32, 3>(i32(p[2]), i32(p[3]), i32(p[4]));
    {{INDEX}}
    {{LOADS}}
    out[i] = {{EXPR}};
}
