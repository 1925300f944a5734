// out[i] = EXPR(x0, x1, x2, s0..s3) over up to three inputs, each read through its own offset and
// strides (broadcast axes have stride 0), so views, transposes and broadcasts need no copy.
// The input declarations (x0_buf, x1_buf, ... at bindings 1, 2, ...; the output after them) are
// spliced in below.
// Params: n, ndim, offsets[3], scalars s0..s3 (f32 bits), shape[8] at 16, strides[k][8] at 24+8k.

@group(0) @binding(0) var<storage, read> p: array<u32>;
{{INPUTS}}

fn scalar(k: u32) -> f32 { return bitcast<f32>(p[5u + k]); }

// Numerically careful helpers the activations use (the CPU's formulas, so results agree).
fn sigm(x: f32) -> f32 {
    if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
    let e = exp(x);
    return e / (1.0 + e);
}
fn expm1_(x: f32) -> f32 {
    if (abs(x) < 1e-3) { return x + 0.5 * x * x + x * x * x / 6.0; }
    return exp(x) - 1.0;
}
fn log1p_(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) { return x; }
    return log(u) * x / (u - 1.0);
}
// tanh saturates to +-1 in f32 past 15; clamping keeps exp from overflowing inside it.
fn tanh_(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
// erf to 1.5e-7 (Abramowitz and Stegun 7.1.26).
fn erf_(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
    return select(y, -y, x < 0.0);
}
// x^y as C's powf: negative bases with integral exponents keep their sign.
fn powf_(x: f32, y: f32) -> f32 {
    if (y == 0.0) { return 1.0; }
    if (x < 0.0 && y == floor(y)) {
        let m = pow(-x, y);
        return select(m, -m, (abs(y) % 2.0) == 1.0);
    }
    return pow(x, y);
}

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
