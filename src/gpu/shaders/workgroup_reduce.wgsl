// (is_nan and nan_max come from nan.wgsl, spliced in front.)
// Workgroup-wide sum and max of one f32 per thread (workgroups of 256), returned to every thread:
// a tree in workgroup memory, eight barriers. workgroup_reduce_subgroups.wgsl defines the same
// functions with subgroup operations for adapters that have them. Entry points that call these
// carry the SUBGROUP_ARGS and SUBGROUP_SETUP placeholders (see kernels/variant.rs), empty here.

var<workgroup> wg_partial: array<f32, 256>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
    wg_partial[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { wg_partial[lid] = wg_partial[lid] + wg_partial[lid + s]; }
        workgroupBarrier();
    }
    let total = wg_partial[0];
    workgroupBarrier();
    return total;
}

fn workgroup_max(v: f32, lid: u32) -> f32 {
    wg_partial[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { wg_partial[lid] = nan_max(wg_partial[lid], wg_partial[lid + s]); }
        workgroupBarrier();
    }
    let total = wg_partial[0];
    workgroupBarrier();
    return total;
}
