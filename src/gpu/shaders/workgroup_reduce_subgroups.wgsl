// (is_nan and nan_max come from nan.wgsl, spliced in front.)
// Workgroup-wide sum and max with subgroup operations: each subgroup combines its lanes in
// registers, then every thread combines the subgroups' partials in the same order (two barriers
// instead of eight). Same functions as workgroup_reduce.wgsl; the entry point stores its subgroup
// builtins in the private variables below (the SUBGROUP_SETUP placeholder, kernels/variant.rs).
// No `enable subgroups;`: naga 30 rejects the directive and gates subgroup operations on the
// device's SUBGROUP feature instead.

var<private> sg_lane: u32;
var<private> sg_id: u32;
var<private> sg_count: u32;
var<workgroup> wg_partial: array<f32, 256>;

// Lane of the lowest set bit of a subgroup ballot (0 when none is set).
fn first_lane(ballot: vec4<u32>) -> u32 {
    for (var i = 0u; i < 4u; i++) {
        if (ballot[i] != 0u) { return i * 32u + firstTrailingBit(ballot[i]); }
    }
    return 0u;
}

fn workgroup_sum(v: f32, lid: u32) -> f32 {
    let s = subgroupAdd(v);
    if (sg_lane == 0u) { wg_partial[sg_id] = s; }
    workgroupBarrier();
    var total = wg_partial[0];
    for (var i = 1u; i < sg_count; i++) { total += wg_partial[i]; }
    workgroupBarrier();
    return total;
}

fn workgroup_max(v: f32, lid: u32) -> f32 {
    // subgroupMax's handling of NaN is the driver's: take the max of the numbers, and a NaN lane's
    // own value (shuffled from the first such lane) when the subgroup has one.
    let nan_lane = is_nan(v);
    let nans = subgroupBallot(nan_lane);
    let numbers = subgroupMax(select(v, bitcast<f32>(0xff800000u), nan_lane));
    let nan = subgroupShuffle(v, first_lane(nans));
    let m = select(numbers, nan, any(nans != vec4<u32>(0u)));
    if (sg_lane == 0u) { wg_partial[sg_id] = m; }
    workgroupBarrier();
    var total = wg_partial[0];
    for (var i = 1u; i < sg_count; i++) { total = nan_max(total, wg_partial[i]); }
    workgroupBarrier();
    return total;
}
