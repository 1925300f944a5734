// Random tensors for the noise layers (src/nn/layers/noise.rs), generated on the GPU from a
// counter-based generator: Philox-4x32-10 (Salmon et al., SC 2011) with key = the 64-bit seed
// and counter = (element index, 0, 0, 0). Element i's value depends only on (seed, i), so a seed
// gives the same tensor on any adapter and nothing is uploaded per step. The CPU draws from its
// own SplitMix64 stream (`Noise::sample`): same distributions, different numbers.
//
// Entry points (kernels/noise.rs compiles each as the `main` of its own pipeline):
//   dropout_mask_f32   p = [n, seed_lo, seed_hi, rate (f32), keep_scale (f32)]; 1 out (write):
//                      out[i] = keep_scale when u >= rate else 0, u uniform in [0, 1) with 24 bits
//                      (the CPU's test: `next_f32() >= rate`)
//   normal_f32         p = [n, seed_lo, seed_hi, mean (f32), stddev (f32)]; 1 out (write):
//                      out[i] = mean + stddev * z, z standard normal (Box-Muller on two words,
//                      u1 in (0, 1] so log(u1) is finite)
// @workgroup_size(256), one thread per element; grid = ceil(n / 256) groups (2-D past 65535:
// flat id = wid.y * nwg.x + wid.x); threads past n return at once. No input is read, so there is
// no strided case.

@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// The high 32 bits of the 64-bit product a * b (WGSL has no 64-bit integers).
fn mul_high(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu; let ah = a >> 16u;
    let bl = b & 0xffffu; let bh = b >> 16u;
    let ll = al * bl; let lh = al * bh; let hl = ah * bl; let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        let hi0 = mul_high(0xD2511F53u, c.x); let lo0 = 0xD2511F53u * c.x;
        let hi1 = mul_high(0xCD9E8D57u, c.z); let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

// Uniform in [0, 1) from the top 24 bits (exact in f32).
fn uniform(word: u32) -> f32 { return f32(word >> 8u) * (1.0 / 16777216.0); }

fn element(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

@compute @workgroup_size(256)
fn dropout_mask_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(wid, lid, nwg);
    if (i >= p[0]) { return; }
    let r = philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(p[1], p[2]));
    out[i] = select(0.0, bitcast<f32>(p[4]), uniform(r.x) >= bitcast<f32>(p[3]));
}

@compute @workgroup_size(256)
fn normal_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = element(wid, lid, nwg);
    if (i >= p[0]) { return; }
    let r = philox(vec4<u32>(i, 0u, 0u, 0u), vec2<u32>(p[1], p[2]));
    let u1 = f32((r.x >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = uniform(r.y);
    let z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    out[i] = bitcast<f32>(p[3]) + bitcast<f32>(p[4]) * z;
}
