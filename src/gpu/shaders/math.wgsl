// Numerically careful math shared by the kernels that evaluate activations (elementwise.wgsl,
// recurrent.wgsl; prepended to their source): the CPU's formulas, so both devices agree.
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
