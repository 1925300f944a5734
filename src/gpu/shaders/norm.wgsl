// Normalisation kernels: batch normalisation (per channel) and layer normalisation (per row),
// forward and backward. CPU twins: the loops of `batch_norm` and `layer_norm` in src/ops/norm.rs.
//
// Entry points (kernels/norm.rs compiles each as the `main` of its own pipeline). Several
// variables share a binding number: each entry point uses one of them, and uses every binding it
// declares, so auto layout keeps them all. Grids past 65535 groups fold into 2-D: the flat group
// id is wid.y * nwg.x + wid.x.
//   batch_norm_partial_stats_f32    one workgroup per (channel c, chunk k of `chunk` elements of
//                                   that channel); group id = k * channels + c
//     p = [outer, channels, inner, chunk, chunks]; 1 bn_x (read), 2 bn_partial_out (write,
//     3 * channels * chunks: count, mean, M2 of the chunk; two passes over it)
//   batch_norm_stats_f32            one thread per channel: Chan et al.'s pairwise combination
//                                   of the chunks, in chunk order
//     p = [channels, chunks]; 1 bn_partial (read), 2 bn_stats_out (write, 2 * channels: means,
//     then biased variances)
//   batch_norm_apply_f32            one thread per element
//     p = [n, channels, inner, epsilon]; 1 bn_x, 2 bn_stats, 3 bn_gamma, 4 bn_beta (read),
//     5 bn_out (write): out = gamma[c] * (x - mean[c]) / sqrt(var[c] + eps) + beta[c]
//   batch_norm_backward_partial_f32 one workgroup per (channel, chunk), as the partial stats
//     p = [outer, channels, inner, chunk, chunks, epsilon]; 1 bn_g, 2 bn_gx (x), 3 bn_gstats
//     (read), 4 bn_partial_sums_out (write, 2 * channels * chunks: sum g, sum g * xhat)
//   batch_norm_backward_sums_f32    one thread per channel: the chunks' sums in chunk order
//     p = [channels, chunks]; 1 bn_partial_sums (read), 2 bn_sum_g_out, 3 bn_sum_gx_out (write)
//   batch_norm_backward_input_f32   one thread per element
//     p = [n, channels, inner, epsilon, count (f32), training]; 1 bn_g, 2 bn_gx (x),
//     3 bn_dstats, 4 bn_dgamma_in (gamma), 5 bn_sum_g, 6 bn_sum_gx (read), 7 bn_dx (write):
//     dx = gamma * inv * (g - [training] (sum_g + xhat * sum_gx) / count)
//   layer_norm_forward_f32          one workgroup per row
//     p = [rows, width, epsilon]; 1 ln_x, 2 ln_gamma, 3 ln_beta (read), 4 ln_out,
//     5 ln_stats_out (write, 2 * rows: means, then 1 / sqrt(var + eps))
//   layer_norm_backward_input_f32   one workgroup per row
//     p = [rows, width]; 1 ln_g, 2 ln_gx (x), 3 ln_stats, 4 ln_dgamma_in (gamma) (read),
//     5 ln_dx (write): dx = inv * (d - mean(d) - xhat * mean(d * xhat)), d = g * gamma
//   layer_norm_backward_partial_f32 one workgroup per (64-column tile t, chunk k of `chunk_rows`
//                                   rows); group id = k * tiles + t; threads 64 columns x 4 rows
//     p = [rows, width, chunk_rows, tiles]; 1 ln_g, 2 ln_gx (x), 3 ln_stats (read),
//     4 ln_partial_out (write, 2 * width per chunk: sum g * xhat, then sum g)
//   layer_norm_backward_params_f32  one thread per column: the chunks' sums in chunk order
//     p = [width, chunks]; 1 ln_partial (read), 2 ln_dgamma, 3 ln_dbeta (write)
//
// Layout: every tensor is row-major from element 0 (kernels/norm.rs copies views first). Batch
// norm data is (outer, channels, inner): channel of flat element i is (i / inner) % channels.
// @workgroup_size(256) everywhere; entry points return early past their element, channel, row
// or chunk count (a whole workgroup at once where barriers follow, so barriers stay uniform).
// Two-level reductions (partial, then combine) keep every multiprocessor busy when there are few
// channels or columns, and sum in a fixed order, so results do not vary between runs.

@group(0) @binding(0) var<storage, read> p: array<u32>;

@group(0) @binding(1) var<storage, read> bn_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> bn_partial_out: array<f32>;

@group(0) @binding(1) var<storage, read> bn_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> bn_stats_out: array<f32>;

@group(0) @binding(2) var<storage, read> bn_stats: array<f32>;
@group(0) @binding(3) var<storage, read> bn_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> bn_beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> bn_out: array<f32>;

@group(0) @binding(1) var<storage, read> bn_g: array<f32>;
@group(0) @binding(2) var<storage, read> bn_gx: array<f32>;
@group(0) @binding(3) var<storage, read> bn_gstats: array<f32>;
@group(0) @binding(4) var<storage, read_write> bn_partial_sums_out: array<f32>;

@group(0) @binding(1) var<storage, read> bn_partial_sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> bn_sum_g_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> bn_sum_gx_out: array<f32>;

@group(0) @binding(3) var<storage, read> bn_dstats: array<f32>;
@group(0) @binding(4) var<storage, read> bn_dgamma_in: array<f32>;
@group(0) @binding(5) var<storage, read> bn_sum_g: array<f32>;
@group(0) @binding(6) var<storage, read> bn_sum_gx: array<f32>;
@group(0) @binding(7) var<storage, read_write> bn_dx: array<f32>;

@group(0) @binding(1) var<storage, read> ln_x: array<f32>;
@group(0) @binding(2) var<storage, read> ln_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> ln_beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> ln_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> ln_stats_out: array<f32>;

@group(0) @binding(1) var<storage, read> ln_g: array<f32>;
@group(0) @binding(2) var<storage, read> ln_gx: array<f32>;
@group(0) @binding(3) var<storage, read> ln_stats: array<f32>;
@group(0) @binding(4) var<storage, read> ln_dgamma_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> ln_dx: array<f32>;

@group(0) @binding(4) var<storage, read_write> ln_partial_out: array<f32>;

@group(0) @binding(1) var<storage, read> ln_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> ln_dgamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> ln_dbeta: array<f32>;

var<workgroup> partial: array<f32, 256>;
var<workgroup> partial2: array<f32, 256>;

// workgroup_sum (every thread gets the workgroup's total) comes from workgroup_reduce*.wgsl,
// spliced in front.

fn flat_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }

// Flat index of the j-th element of channel c in (outer, channels, inner) data.
fn channel_element(j: u32, c: u32, channels: u32, inner: u32) -> u32 {
    return ((j / inner) * channels + c) * inner + j % inner;
}

@compute @workgroup_size(256)
fn batch_norm_partial_stats_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let channels = p[1]; let inner = p[2]; let chunk = p[3];
    let count = p[0] * inner;
    let group = flat_group(wid, nwg);
    if (group >= channels * p[4]) { return; }
    let c = group % channels;
    let start = (group / channels) * chunk;
    let end = min(start + chunk, count);
    let n = f32(end - start);
    var s = 0.0;
    for (var j = start + lid.x; j < end; j += 256u) { s += bn_x[channel_element(j, c, channels, inner)]; }
    let mean = workgroup_sum(s, lid.x) / n;
    var q = 0.0;
    for (var j = start + lid.x; j < end; j += 256u) {
        let d = bn_x[channel_element(j, c, channels, inner)] - mean;
        q += d * d;
    }
    let m2 = workgroup_sum(q, lid.x);
    if (lid.x == 0u) {
        bn_partial_out[3u * group] = n;
        bn_partial_out[3u * group + 1u] = mean;
        bn_partial_out[3u * group + 2u] = m2;
    }
}

@compute @workgroup_size(256)
fn batch_norm_stats_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let channels = p[0];
    let c = flat_group(wid, nwg) * 256u + lid.x;
    if (c >= channels) { return; }
    var n = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var k = 0u; k < p[1]; k++) {
        let at = 3u * (k * channels + c);
        let nb = bn_partial[at];
        let delta = bn_partial[at + 1u] - mean;
        let total = n + nb;
        mean += delta * (nb / total);
        m2 += bn_partial[at + 2u] + delta * delta * (n * nb / total);
        n = total;
    }
    bn_stats_out[c] = mean;
    bn_stats_out[channels + c] = m2 / max(n, 1.0);
}

@compute @workgroup_size(256)
fn batch_norm_apply_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_group(wid, nwg) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let channels = p[1];
    let c = (i / p[2]) % channels;
    let inv = 1.0 / sqrt(bn_stats[channels + c] + bitcast<f32>(p[3]));
    bn_out[i] = bn_gamma[c] * ((bn_x[i] - bn_stats[c]) * inv) + bn_beta[c];
}

@compute @workgroup_size(256)
fn batch_norm_backward_partial_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let channels = p[1]; let inner = p[2]; let chunk = p[3];
    let count = p[0] * inner;
    let group = flat_group(wid, nwg);
    if (group >= channels * p[4]) { return; }
    let c = group % channels;
    let start = (group / channels) * chunk;
    let end = min(start + chunk, count);
    let mean = bn_gstats[c];
    let inv = 1.0 / sqrt(bn_gstats[channels + c] + bitcast<f32>(p[5]));
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = start + lid.x; j < end; j += 256u) {
        let at = channel_element(j, c, channels, inner);
        let g = bn_g[at];
        sg += g;
        sgx += g * ((bn_gx[at] - mean) * inv);
    }
    sg = workgroup_sum(sg, lid.x);
    sgx = workgroup_sum(sgx, lid.x);
    if (lid.x == 0u) {
        bn_partial_sums_out[2u * group] = sg;
        bn_partial_sums_out[2u * group + 1u] = sgx;
    }
}

@compute @workgroup_size(256)
fn batch_norm_backward_sums_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let channels = p[0];
    let c = flat_group(wid, nwg) * 256u + lid.x;
    if (c >= channels) { return; }
    var sg = 0.0;
    var sgx = 0.0;
    for (var k = 0u; k < p[1]; k++) {
        sg += bn_partial_sums[2u * (k * channels + c)];
        sgx += bn_partial_sums[2u * (k * channels + c) + 1u];
    }
    bn_sum_g_out[c] = sg;
    bn_sum_gx_out[c] = sgx;
}

@compute @workgroup_size(256)
fn batch_norm_backward_input_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_group(wid, nwg) * 256u + lid.x;
    if (i >= p[0]) { return; }
    let channels = p[1];
    let c = (i / p[2]) % channels;
    let inv = 1.0 / sqrt(bn_dstats[channels + c] + bitcast<f32>(p[3]));
    let scale = bn_dgamma_in[c] * inv;
    let g = bn_g[i];
    if (p[5] != 0u) {
        let count = bitcast<f32>(p[4]);
        let xhat = (bn_gx[i] - bn_dstats[c]) * inv;
        bn_dx[i] = scale * (g - bn_sum_g[c] / count - xhat * (bn_sum_gx[c] / count));
    } else {
        // Inference statistics are constants: only the scale remains.
        bn_dx[i] = scale * g;
    }
}

@compute @workgroup_size(256)
fn layer_norm_forward_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let rows = p[0]; let width = p[1];
    let r = flat_group(wid, nwg);
    if (r >= rows) { return; }
    let base = r * width;
    var s = 0.0;
    for (var j = lid.x; j < width; j += 256u) { s += ln_x[base + j]; }
    let mean = workgroup_sum(s, lid.x) / f32(max(width, 1u));
    var q = 0.0;
    for (var j = lid.x; j < width; j += 256u) {
        let d = ln_x[base + j] - mean;
        q += d * d;
    }
    let inv = 1.0 / sqrt(workgroup_sum(q, lid.x) / f32(max(width, 1u)) + bitcast<f32>(p[2]));
    for (var j = lid.x; j < width; j += 256u) {
        ln_out[base + j] = ln_gamma[j] * ((ln_x[base + j] - mean) * inv) + ln_beta[j];
    }
    if (lid.x == 0u) {
        ln_stats_out[r] = mean;
        ln_stats_out[rows + r] = inv;
    }
}

@compute @workgroup_size(256)
fn layer_norm_backward_input_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SUBGROUP_ARGS}}) {
    {{SUBGROUP_SETUP}}
    let rows = p[0]; let width = p[1];
    let r = flat_group(wid, nwg);
    if (r >= rows) { return; }
    let base = r * width;
    let mean = ln_stats[r];
    let inv = ln_stats[rows + r];
    var s = 0.0;
    var dot = 0.0;
    for (var j = lid.x; j < width; j += 256u) {
        let d = ln_g[base + j] * ln_dgamma_in[j];
        s += d;
        dot += d * ((ln_gx[base + j] - mean) * inv);
    }
    s = workgroup_sum(s, lid.x) / f32(width);
    dot = workgroup_sum(dot, lid.x) / f32(width);
    for (var j = lid.x; j < width; j += 256u) {
        let d = ln_g[base + j] * ln_dgamma_in[j];
        let xhat = (ln_gx[base + j] - mean) * inv;
        ln_dx[base + j] = inv * (d - s - xhat * dot);
    }
}

@compute @workgroup_size(256)
fn layer_norm_backward_partial_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let rows = p[0]; let width = p[1]; let chunk_rows = p[2]; let tiles = p[3];
    let group = flat_group(wid, nwg);
    let k = group / tiles;
    if (k * chunk_rows >= rows) { return; }
    let j = (group % tiles) * 64u + lid.x % 64u;
    let end = min(k * chunk_rows + chunk_rows, rows);
    var sg = 0.0;
    var sgx = 0.0;
    if (j < width) {
        for (var r = k * chunk_rows + lid.x / 64u; r < end; r += 4u) {
            let g = ln_g[r * width + j];
            sg += g;
            sgx += g * ((ln_gx[r * width + j] - ln_stats[r]) * ln_stats[rows + r]);
        }
    }
    // The four row lanes of each column, summed in lane order.
    partial[lid.x] = sg;
    partial2[lid.x] = sgx;
    workgroupBarrier();
    if (lid.x < 64u && j < width) {
        let at = k * 2u * width + j;
        ln_partial_out[at] = ((partial2[lid.x] + partial2[lid.x + 64u]) + partial2[lid.x + 128u]) + partial2[lid.x + 192u];
        ln_partial_out[at + width] = ((partial[lid.x] + partial[lid.x + 64u]) + partial[lid.x + 128u]) + partial[lid.x + 192u];
    }
}

@compute @workgroup_size(256)
fn layer_norm_backward_params_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let width = p[0];
    let j = flat_group(wid, nwg) * 256u + lid.x;
    if (j >= width) { return; }
    var sgx = 0.0;
    var sg = 0.0;
    for (var k = 0u; k < p[1]; k++) {
        sgx += ln_partial[k * 2u * width + j];
        sg += ln_partial[k * 2u * width + width + j];
    }
    ln_dgamma[j] = sgx;
    ln_dbeta[j] = sg;
}
