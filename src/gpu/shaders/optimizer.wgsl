// One optimizer step for one weight, one thread per element: decoupled weight decay, then the
// rule's update of the weight and its state slots ({{RULE}} below), the CPU's formulas in f32.
// Params: n, lr, decay, a, b, c, d (f32 bits; rule-specific: Adam's step size and betas, ...).

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
{{SLOTS}}

fn f(k: u32) -> f32 { return bitcast<f32>(p[k]); }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let lr = f(1u);
    let decay = f(2u);
    let a = f(3u); let b = f(4u); let c = f(5u); let d = f(6u);
    var wi = w[i];
    if (decay != 0.0) { wi -= wi * decay; }
    let gi = g[i];
    {{RULE}}
    w[i] = wi;
}
