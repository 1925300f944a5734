//! Branch-free `exp`, `sigmoid` and `tanh` over slices, for the recurrent cells, where the gate
//! nonlinearities are as much work as the recurrent GEMM: libm's scalar `tanhf`/`expf` cost
//! 5-20 ns each and do not vectorise. These are Cephes's single-precision polynomials (about
//! 2 ulp), written without branches so LLVM vectorises them, and compiled a second time with
//! AVX2 + FMA intrinsics, picked at run time: the crate itself targets baseline x86-64.

// Cephes's constants as published (they round to the same f32s as shorter literals).
#![allow(clippy::excessive_precision)]

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds a float to an integer in its low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    // Clamp so 2^k stays a normal float; exp(-87.3) ~ 1e-38 is zero for every use here.
    let x = x.clamp(-87.3, 88.3);
    let t = x * LOG2E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1) * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    // 2^k from k's bits in t's mantissa (t = 1.5 * 2^23 + k): integer adds and a shift, which
    // vectorise; `k as i32` is a saturating conversion LLVM leaves scalar.
    e * f32::from_bits(t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()).wrapping_add(127) << 23)
}

#[inline(always)]
fn sigmoid_approx(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

#[inline(always)]
fn tanh_approx(x: f32) -> f32 {
    // Near zero `1 - 2 / (1 + e^2x)` cancels; Cephes's odd polynomial is exact to 1 ulp there.
    let z = x * x;
    let small = ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z - 3.333_328_2e-1) * z * x + x;
    let large = 1.0 - 2.0 / (1.0 + exp_approx(2.0 * x));
    if x.abs() < 0.625 {
        small
    } else {
        large
    }
}

macro_rules! slice_kernel {
    ($name:ident, $in_place:ident, $generic:ident, $avx2:path, $f:ident) => {
        /// The portable loop (vectorised by LLVM for the target it is compiled for).
        #[inline(always)]
        pub(crate) fn $generic(x: &[f32], out: &mut [f32]) {
            out.iter_mut().zip(x).for_each(|(o, &v)| *o = $f(v));
        }

        /// `out[i] = f(x[i])` (see the module docs for the accuracy).
        pub fn $name(x: &[f32], out: &mut [f32]) {
            assert_eq!(x.len(), out.len());
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: the CPU supports AVX2 and FMA (checked at run time); both buffers
                // hold `x.len()` values.
                return unsafe { $avx2(x.as_ptr(), out.as_mut_ptr(), x.len()) };
            }
            $generic(x, out)
        }

        /// `v[i] = f(v[i])`.
        pub fn $in_place(v: &mut [f32]) {
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: as above; reading and writing the same element is fine.
                return unsafe { $avx2(v.as_ptr(), v.as_mut_ptr(), v.len()) };
            }
            v.iter_mut().for_each(|v| *v = $f(*v));
        }
    };
}

slice_kernel!(sigmoid, sigmoid_in_place, sigmoid_generic, avx2::sigmoid, sigmoid_approx);
slice_kernel!(tanh, tanh_in_place, tanh_generic, avx2::tanh, tanh_approx);

/// The same functions with AVX2 + FMA intrinsics: the divisions become a reciprocal estimate
/// refined by one Newton step (`vrcpps` + 2 FMAs; `vdivps` alone bounded the LSTM's gate pass).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{sigmoid_approx, tanh_approx, LN2_HI, LN2_LO, LOG2E, ROUND_MAGIC};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn exp8(x: __m256) -> __m256 {
        let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3)), _mm256_set1_ps(88.3));
        let magic = _mm256_set1_ps(ROUND_MAGIC);
        let t = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), magic);
        let k = _mm256_sub_ps(t, magic);
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), x));
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0));
        let bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(bits, _mm256_set1_epi32(127))));
        _mm256_mul_ps(e, scale)
    }

    /// 1 / d to about 1 ulp: the 12-bit estimate and one Newton step.
    #[inline(always)]
    unsafe fn recip8(d: __m256) -> __m256 {
        let r = _mm256_rcp_ps(d);
        _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0)))
    }

    /// # Safety
    /// AVX2 + FMA available; `x` readable and `out` writable for `n` values (they may be the
    /// same buffer).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn sigmoid(x: *const f32, out: *mut f32, n: usize) {
        let mut i = 0;
        while i + 8 <= n {
            let v = _mm256_loadu_ps(x.add(i));
            let e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
            _mm256_storeu_ps(out.add(i), recip8(_mm256_add_ps(_mm256_set1_ps(1.0), e)));
            i += 8;
        }
        for j in i..n {
            *out.add(j) = sigmoid_approx(*x.add(j));
        }
    }

    /// # Safety
    /// As `sigmoid`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tanh(x: *const f32, out: *mut f32, n: usize) {
        let mut i = 0;
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        while i + 8 <= n {
            let v = _mm256_loadu_ps(x.add(i));
            let z = _mm256_mul_ps(v, v);
            let mut p = _mm256_set1_ps(-5.704_988_7e-3);
            for c in [2.063_908_9e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328_2e-1] {
                p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(c));
            }
            let small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), v, v);
            let e = exp8(_mm256_add_ps(v, v));
            let large = _mm256_fnmadd_ps(_mm256_set1_ps(2.0), recip8(_mm256_add_ps(_mm256_set1_ps(1.0), e)), _mm256_set1_ps(1.0));
            let is_small = _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(v, abs_mask), _mm256_set1_ps(0.625));
            _mm256_storeu_ps(out.add(i), _mm256_blendv_ps(large, small, is_small));
            i += 8;
        }
        for j in i..n {
            *out.add(j) = tanh_approx(*x.add(j));
        }
    }
}

/// Run `f` compiled for AVX2 + FMA when the CPU has them (and as is otherwise): code that
/// `f` inlines (the `#[inline(always)]` loops here) then vectorises 8 wide.
#[inline(always)]
pub fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { with_avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Whether the AVX2 + FMA kernels can run on this CPU.
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx2();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    // `is_x86_feature_detected!` caches its answer in an atomic: cheap per call.
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sigmoid_and_tanh_match_f64_to_a_few_ulp() {
        let xs: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 * 0.005).chain([-100.0, -88.0, 88.0, 100.0, 1e-8, -1e-8, 0.0]).collect();
        // The dispatched kernels (AVX2 intrinsics on most x86 CPUs) and the portable loops.
        let mut s = vec![0.0; xs.len()];
        let mut t = vec![0.0; xs.len()];
        super::sigmoid(&xs, &mut s);
        super::tanh(&xs, &mut t);
        let mut s2 = vec![0.0; xs.len()];
        let mut t2 = vec![0.0; xs.len()];
        super::sigmoid_generic(&xs, &mut s2);
        super::tanh_generic(&xs, &mut t2);
        for ((&x, &s), &t) in xs.iter().chain(&xs).zip(s.iter().chain(&s2)).zip(t.iter().chain(&t2)) {
            let xs64 = 1.0 / (1.0 + (-(x as f64)).exp());
            let xt64 = (x as f64).tanh();
            assert!((s as f64 - xs64).abs() <= 4e-7 * xs64.abs().max(1e-30) + 1e-38, "sigmoid({x}) = {s}, want {xs64}");
            assert!((t as f64 - xt64).abs() <= 4e-7 * xt64.abs() + 1e-38, "tanh({x}) = {t}, want {xt64}");
        }
    }
}
