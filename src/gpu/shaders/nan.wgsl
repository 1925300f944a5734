// NaN by its bits: compilers may fold `v != v` to false (WGSL lets them assume no NaNs), and
// lavapipe's did. Spliced in front of the shaders that test for NaN (kernels/variant.rs `NAN`).
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// NaN-propagating max (NumPy's): a NaN operand is returned as it is.
fn nan_max(a: f32, b: f32) -> f32 { return select(select(max(a, b), b, is_nan(b)), a, is_nan(a)); }
