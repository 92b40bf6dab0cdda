//! exp, ln, sigmoid, tanh, the exact (erf) and tanh GELUs, SiLU, rsqrt, sin and cos of f32,
//! written branch-free so that a loop over a slice compiles to vector code (see `simd::each` and
//! `simd::multiversion!`); libm's versions are calls LLVM cannot vectorise.
//!
//! Each function is the same sequence of IEEE operations in every lane. The exp family (exp,
//! sigmoid, tanh, the GELUs, SiLU and their derivatives) takes the kernel copy's `M: Fma`: its
//! polynomials and reductions are fused multiply-adds in the AVX2 and AVX-512 copies, a multiply
//! then an add in the portable one (see simd.rs). So for one CPU a scalar call inside a copy, an
//! 8-lane and a 16-lane loop give bit-identical results (the strided paths, the contiguous paths
//! and every thread count agree), while the portable and FMA paths differ by at most the sum of
//! their two error bounds, and each is within the bounds below of the f64 truth (tests below check
//! both modes; tests/vmath_isa.rs checks whichever path the CPU and `INFER_CPU` select). ln, rsqrt,
//! sin and cos use no FMA and are bit-identical on every path.
//! Accuracy (against f64): ln and rsqrt within 1 ulp, exp
//! within 2, sigmoid and tanh within 3, silu and gelu_tanh within 4, gelu within 8 (PyTorch's own
//! vectorised erf is accurate to 1e-7 absolute only, thousands of ulp in the negative tail), sin
//! and cos within 1 for |x| <= 1e5 (their reduction stays exact enough up to 2^28; beyond that
//! accuracy degrades, as there is no Payne-Hanek step); NaN propagates, ±inf give the limits.

use super::simd::{Fma, LaneFn, LaneFn2};

/// Adding then subtracting 1.5 * 2^23 rounds an f32 below 2^22 in magnitude to the nearest
/// integer, and leaves that integer in the low mantissa bits of the sum.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// 2^n for n in [-126, 127], built from its exponent bits.
#[inline(always)]
fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) << 23) as u32)
}

const LN2_HI: f32 = 0.693_359_4; // ln 2 split so that n * LN2_HI is exact
const LN2_LO: f32 = -2.121_944_4e-4;

/// The integer n nearest k x / ln 2 (|k x| < 2^21, k a power of 2, so that k x is exact and k
/// does not wait for it), as an f32 and as an i32.
#[inline(always)]
fn nearest_ln2_multiple<M: Fma>(x: f32, k: f32) -> (f32, i32) {
    let t = M::fma(x, k * std::f32::consts::LOG2_E, ROUND_MAGIC);
    (t - ROUND_MAGIC, (t.to_bits() as i32) - (ROUND_MAGIC.to_bits() as i32))
}

/// As `nearest_ln2_multiple`, with 2^n in place of n as an i32, for n in [-126, 128] (k x within
/// about [-87.3, 88.7]; n = 128 gives +inf's bits): rounding against 1.5 * 2^23 + 127 leaves n +
/// 127, 2^n's exponent field, in the sum's low 8 bits, so one shift builds 2^n (an integer add
/// fewer than `pow2i`). n is `nearest_ln2_multiple`'s except where k x is exactly halfway between
/// two integers, which may round the other way (either keeps |r| <= ln 2 / 2).
#[inline(always)]
fn nearest_ln2_multiple_pow2<M: Fma>(x: f32, k: f32) -> (f32, f32) {
    const MAGIC: f32 = ROUND_MAGIC + 127.0;
    let t = M::fma(x, k * std::f32::consts::LOG2_E, MAGIC);
    (t - MAGIC, f32::from_bits(t.to_bits() << 23))
}

/// e^r - 1 for |r| <= ln2/2, as r + r² p(r) with p of degree 4, fitted (minimax by Lawson's
/// iteration, in f64) to a relative error of 1.7e-8 (0.28 ulp) in e^r - 1 once its coefficients
/// are rounded to f32: the stricter of the two uses (tanh's d needs e^r - 1 itself, exp only 1 +
/// it). Cephes expf's degree-5 p (7.5e-9) was one FMA more per exp for no gain that shows once the
/// f32 steps around it round: over every f32 the worst e^x (|x| < 87.5, one scale factor) went
/// from 1.03 to 1.06 ulp and the worst tanh from 1.99 to 2.07 (without FMA; 1.96 to 1.94 with). p
/// is evaluated in Estrin's form (two independent pairs, then r²), a shorter chain than Horner's,
/// so more vectors are in flight; p's rounding is scaled by r² <= 0.12 in the result, so the order
/// does not show in the ulp bounds.
#[inline(always)]
fn expm1_reduced<M: Fma>(r: f32) -> f32 {
    let r2 = r * r;
    let a = M::fma(0.166_665_43, r, 0.499_999_97);
    let b = M::fma(0.008_366_534_5, r, 0.041_667_2);
    let p = M::fma(M::fma(0.001_388_248, r2, b), r2, a);
    M::fma(p, r2, r)
}

/// v 2^n for v in [0.7, 1.42] and n in [-150, 128]: two factors, so that results that are
/// subnormal, and the overflow to infinity, come out right without branches. The first,
/// 2^(n/2), goes straight into v's exponent bits (exact, as the product stays normal).
#[inline(always)]
fn scale2(v: f32, n: i32) -> f32 {
    let half = n >> 1;
    f32::from_bits((v.to_bits() as i32 + (half << 23)) as u32) * pow2i(n - half)
}

/// e^x (Cephes expf: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r, summed as
/// 1 + (r + r² p(r)) so that the small terms are added first).
#[inline(always)]
pub fn exp<M: Fma>(x: f32) -> f32 {
    // Beyond these bounds e^x is 0 or infinity in f32 anyway; clamp keeps NaN.
    let x = x.clamp(-104.0, 89.0);
    let (n, ni) = nearest_ln2_multiple::<M>(x, 1.0);
    // n * LN2_HI is exact, so fused or not the first step rounds the same
    let r = M::fma(n, -LN2_LO, M::fma(n, -LN2_HI, x));
    scale2(expm1_reduced::<M>(r) + 1.0, ni)
}

/// e^x for x <= 0 (softmax's terms, x - max), with one scale factor: bit-identical to `exp` from
/// x = -87.68 up (down to there 2^n is normal, and one rounding of e^r 2^n is all `exp` does too),
/// and 0 below, where e^x < 1.2e-38 is subnormal. NaN propagates.
#[inline(always)]
pub fn exp_nonpositive<M: Fma>(x: f32) -> f32 {
    let (n, ni) = nearest_ln2_multiple::<M>(x, 1.0);
    let r = M::fma(n, -LN2_LO, M::fma(n, -LN2_HI, x));
    let v = (expm1_reduced::<M>(r) + 1.0) * pow2i(ni);
    // below the bound 2^n is not a normal number (and for large |x| n is not even an integer);
    // a NaN x compares false and keeps its NaN
    if x < -87.68 {
        0.0
    } else {
        v
    }
}

/// e^(hi + lo) = (1 + m) 2^n for |hi + lo| < 2^20, as (m, n), with lo entering only the reduced
/// argument, so a sum that would round in f32 keeps its low part (GELU's exponent is -x²/2 split
/// that way).
#[inline(always)]
fn exp_of_sum<M: Fma>(hi: f32, lo: f32) -> (f32, i32) {
    let (n, ni) = nearest_ln2_multiple::<M>(hi + lo, 1.0);
    // the two halves side by side: a chain of two steps, not three
    let r = M::fma(n, -LN2_HI, hi) + M::fma(n, -LN2_LO, lo);
    (expm1_reduced::<M>(r), ni)
}

/// ln x (Cephes logf: x = m 2^e with m in [√½, √2), ln(m) from a degree-9 polynomial in m - 1,
/// e ln 2 added in two parts). Subnormals are scaled by 2^23 first; x < 0 and NaN give NaN,
/// ±0 gives -inf, +inf gives +inf.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 8_388_608.0 } else { x };
    let bits = scaled.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 126 - if subnormal { 23 } else { 0 };
    // the mantissa as a value in [0.5, 1)
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let (e, m) = if m < SQRT_HALF { ((e - 1) as f32, m + m - 1.0) } else { (e as f32, m - 1.0) };
    let z = m * m;
    let p = 7.037_683_6e-2;
    let p = p * m - 1.151_461e-1;
    let p = p * m + 1.167_699_9e-1;
    let p = p * m - 1.242_014_1e-1;
    let p = p * m + 1.424_932_3e-1;
    let p = p * m - 1.666_805_8e-1;
    let p = p * m + 2.000_071_4e-1;
    let p = p * m - 2.499_999_4e-1;
    let p = p * m + 3.333_333e-1;
    let y = m * z * p + e * -2.121_944_4e-4 - 0.5 * z;
    let r = m + y + e * 0.693_359_4;
    if x > 0.0 && x < f32::INFINITY {
        r
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// 1 / (1 + e^-x), with e^-x scaled by 2^n in one factor: `exp`'s result wherever it is normal.
/// From x = 87 on, 1 + e^-x rounds to 1 anyway; from x = -88.38 on, 2^n is 2^128, whose bits are
/// +inf's, so the result is 0 (the true values there are subnormal, below 4e-39).
#[inline(always)]
pub fn sigmoid<M: Fma>(x: f32) -> f32 {
    // clamp keeps NaN
    let z = (-x).clamp(-87.0, 89.0);
    let (n, s) = nearest_ln2_multiple_pow2::<M>(z, 1.0);
    let r = M::fma(n, -LN2_LO, M::fma(n, -LN2_HI, z));
    // e^r 2^n is exact (or +inf), so the fused 1 + e^r 2^n rounds as 1 + e^-x does
    1.0 / M::fma(expm1_reduced::<M>(r) + 1.0, s, 1.0)
}

/// tanh |x| = d / (2 - d) with d = 1 - e^(-2|x|), the sign of x put back. One path for every
/// argument: d is formed as (1 - 2^n) - 2^n (e^r - 1) from the reduced r, so it keeps its relative
/// accuracy near 0 where 1 - e^(-2|x|) would cancel; 2^n is exact, so fused or not that step
/// rounds once.
#[inline(always)]
pub fn tanh<M: Fma>(x: f32) -> f32 {
    // tanh is 1 in f32 from 9.1 on; the bound keeps 2^n normal and NaN (a > 10 is false)
    let a = x.abs();
    let a = if a > 10.0 { 10.0 } else { a };
    let (n, s) = nearest_ln2_multiple_pow2::<M>(a, -2.0);
    // one step with ln 2 rounded to f32: its error, 2e-9 per unit of n (n >= -29), costs at most
    // 4e-9 relative where e^(-2|x|) matters (n >= -2), and goes with e^(-2|x|) beyond. a + a (the
    // same exact 2|x| as 2 * a) is an add, off the two FMA ports that bound this loop.
    let r = M::fma(n, -std::f32::consts::LN_2, -(a + a));
    let m = expm1_reduced::<M>(r);
    // 2 - d = 1 + e^(-2|x|) formed alongside d, not after it
    let (d, e) = (M::fma(-s, m, 1.0 - s), M::fma(s, m, 1.0 + s));
    // d is +0 or positive, so or-ing in x's sign bit is its copysign, done before the division
    // (beside e) rather than after it
    f32::from_bits(d.to_bits() | (x.to_bits() & 0x8000_0000)) / e
}

/// Φ(-|x|) = erfc(z) / 2 with z = |x| / √2, as u g(u) e^(-z²) / 2: u = 1 / (1 + z / 2) (the
/// variable of Numerical Recipes' erfcc) and g(u) = erfc(z) e^(z²) / u, smooth on u in (0.14, 1]
/// (|x| <= 16), a degree-10 polynomial fitted to a relative error of 4.4e-9 (in f64; the tests
/// below bound the f32 result), so the far negative tail of GELU keeps its relative accuracy.
/// e^(-z²) does not wait for the division and g (erfcc's exponent did), so the two run side by
/// side. Its exponent -x²/2 is passed as -h²/2 plus -(x - h)(x + h)/2, with h = |x| cut to 12
/// significant bits so that h² is exact in f32: a rounded x / √2 or x² would cost up to
/// x² * 2^-24 of relative error (1e-5 at x = -13).
#[inline(always)]
fn normal_tail<M: Fma>(x: f32) -> f32 {
    // erfc(16 / √2) is far below f32's range; the bound keeps inf - inf out of (a - h)
    let a = x.abs().min(16.0);
    let u = 1.0 / (1.0 + 0.5 * std::f32::consts::FRAC_1_SQRT_2 * a);
    // g(u) = erfc(z) e^(z²) / u, z = a / √2: a degree-10 fit in u, in Estrin's form
    let (u2, u4) = (u * u, (u * u) * (u * u));
    let q0 = M::fma(2.821_748e-1, u, 2.820_917_7e-1);
    let q1 = M::fma(1.809_631_1e-1, u, 2.459_763_3e-1);
    let q2 = M::fma(-5.165_550_4e-3, u, 7.177_731_4e-2);
    let q3 = M::fma(-3.587_359_5e-1, u, 4.314_066_5e-2);
    let q4 = M::fma(-2.091_372_2e-1, u, 4.280_718e-1);
    let q4 = M::fma(3.884_294_3e-2, u2, q4);
    let g = M::fma(M::fma(q4, u4, M::fma(q3, u2, q2)), u4, M::fma(q1, u2, q0));
    let h = f32::from_bits(a.to_bits() & 0xffff_f000);
    // the exponent is in [-128, 0] here, so w = u g 2^(n + 63) is normal, exact once u g has
    // rounded, and ready before e^r - 1 = m: w + w m rounds once, and the constant 2^-64 is exact
    // unless the result is subnormal (three instructions fewer than scale2's split and 1 + m)
    let (m, n) = exp_of_sum::<M>(-0.5 * (h * h), -0.5 * (a - h) * (a + h));
    let w = (u * g) * pow2i(n + 63);
    M::fma(w, m, w) * f32::from_bits(63 << 23)
}

/// Φ(x), the standard normal CDF, as erfc(-x / √2) / 2 taken on whichever side keeps it
/// accurate.
#[inline(always)]
pub fn normal_cdf<M: Fma>(x: f32) -> f32 {
    let tail = normal_tail::<M>(x);
    if x >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// GELU in PyTorch's default exact form, x Φ(x).
#[inline(always)]
pub fn gelu<M: Fma>(x: f32) -> f32 {
    x * normal_cdf::<M>(x)
}

/// d gelu / dx = Φ(x) + x φ(x).
#[inline(always)]
pub fn gelu_derivative<M: Fma>(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    M::fma(x * INV_SQRT_2PI, exp::<M>(-0.5 * x * x), normal_cdf::<M>(x))
}

/// SiLU, x σ(x), as x / (1 + e^-x): one rounding fewer than the product.
#[inline(always)]
pub fn silu<M: Fma>(x: f32) -> f32 {
    x / (1.0 + exp::<M>(-x))
}

/// d silu / dx = σ(x) (1 + x σ(-x)); σ(-x) rather than 1 - σ(x), which cancels for large x.
#[inline(always)]
pub fn silu_derivative<M: Fma>(x: f32) -> f32 {
    sigmoid::<M>(x) * M::fma(x, sigmoid::<M>(-x), 1.0)
}

const GELU_TANH_BETA: f64 = 0.797_884_560_802_865_4; // √(2/π)
const GELU_TANH_KAPPA: f64 = 0.044_715;

/// GELU's tanh approximation, x (1 + tanh u) / 2 with u = √(2/π) (x + 0.044715 x³), computed as
/// x σ(2u) (the same function: 1 + tanh u = 2 σ(2u)), which does not cancel for negative x. The
/// exponent -2u is formed in f64 and passed to exp as a sum of two f32s: rounded in f32, its
/// error (up to |2u| 2^-24) would cost hundreds of ulp in the negative tail.
#[inline(always)]
pub fn gelu_tanh<M: Fma>(x: f32) -> f32 {
    let xd = x as f64;
    let e = -2.0 * GELU_TANH_BETA * (xd + GELU_TANH_KAPPA * (xd * xd * xd));
    // beyond these bounds e^e is infinite or 0 in f32 anyway; clamp keeps NaN
    let hi = (e as f32).clamp(-104.0, 89.0);
    let lo = (e - hi as f64) as f32;
    let (m, n) = exp_of_sum::<M>(hi, lo.clamp(-1.0, 1.0));
    x / (1.0 + scale2(m + 1.0, n))
}

/// d gelu_tanh / dx = σ(2u) + x σ(2u) σ(-2u) 2√(2/π) (1 + 3 0.044715 x²): the derivative of
/// PyTorch's formula, with 1 - tanh²u = 4 σ(2u) σ(-2u).
#[inline(always)]
pub fn gelu_tanh_derivative<M: Fma>(x: f32) -> f32 {
    const BETA: f32 = GELU_TANH_BETA as f32;
    const KAPPA: f32 = GELU_TANH_KAPPA as f32;
    let x2 = x * x;
    let u2 = 2.0 * BETA * M::fma(KAPPA, x2 * x, x);
    let (s, sn) = (sigmoid::<M>(u2), sigmoid::<M>(-u2));
    M::fma(x * (s * sn) * (2.0 * BETA), M::fma(3.0 * KAPPA, x2, 1.0), s)
}

/// 1 / √x, in f64 and rounded once (1 / sqrt in f32 rounds twice: 1.5 ulp).
#[inline(always)]
pub fn rsqrt(x: f32) -> f32 {
    (1.0 / (x as f64).sqrt()) as f32
}

/// x reduced to r = x - n π/2 in [-π/4, π/4] (in f64, musl's __rem_pio2f medium case: n π/2 as
/// two parts, the first of 25 bits so that n * PIO2_1 is exact for |n| < 2^28), with n mod 4.
#[inline(always)]
fn reduce_half_pi(x: f32) -> (f64, i32) {
    const TOINT: f64 = 1.5 / f64::EPSILON;
    const INV_PIO2: f64 = std::f64::consts::FRAC_2_PI;
    const PIO2_1: f64 = 1.570_796_310_901_641_8;
    const PIO2_1T: f64 = 1.589_325_477_352_819_7e-8;
    let xd = x as f64;
    let t = xd * INV_PIO2 + TOINT;
    let n = t - TOINT;
    // t's low mantissa bits hold n in two's complement
    let quadrant = (t.to_bits() as i32) & 3;
    ((xd - n * PIO2_1) - n * PIO2_1T, quadrant)
}

/// sin r for |r| <= π/4 (musl's __sindf: relative error below 2^-37 before rounding to f32).
#[inline(always)]
fn sin_kernel(r: f64) -> f64 {
    const S1: f64 = -0.166_666_666_416_265_23;
    const S2: f64 = 0.008_333_329_385_889_463;
    const S3: f64 = -0.000_198_393_348_360_966_3;
    const S4: f64 = 0.000_002_718_311_493_989_822;
    let z = r * r;
    let w = z * z;
    let s = z * r;
    (r + s * (S1 + z * S2)) + s * w * (S3 + z * S4)
}

/// cos r for |r| <= π/4 (musl's __cosdf).
#[inline(always)]
fn cos_kernel(r: f64) -> f64 {
    const C0: f64 = -0.499_999_997_251_031;
    const C1: f64 = 0.041_666_623_323_739_06;
    const C2: f64 = -0.001_388_676_377_460_993;
    const C3: f64 = 0.000_024_390_448_796_277_41;
    let z = r * r;
    let w = z * z;
    ((1.0 + z * C0) + w * C1) + (w * z) * (C2 + z * C3)
}

/// sin x: quadrant n picks ±sin r or ±cos r. ±inf and NaN give NaN, as PyTorch.
#[inline(always)]
pub fn sin(x: f32) -> f32 {
    let (r, n) = reduce_half_pi(x);
    let (s, c) = (sin_kernel(r), cos_kernel(r));
    let v = if n & 1 == 0 { s } else { c };
    let v = (if n & 2 == 0 { v } else { -v }) as f32;
    // the kernel turns -0 into +0; sin(±0) is x itself
    if x == 0.0 {
        x
    } else {
        v
    }
}

/// cos x = sin(x + π/2): quadrant n + 1.
#[inline(always)]
pub fn cos(x: f32) -> f32 {
    let (r, n) = reduce_half_pi(x);
    let (s, c) = (sin_kernel(r), cos_kernel(r));
    let v = if n & 1 == 0 { c } else { s };
    (if (n + 1) & 2 == 0 { v } else { -v }) as f32
}

/// d|x|/dx = sign(x), 0 at 0 (PyTorch's sgn; NaN gives 0 too, as its comparison-based sign).
#[inline(always)]
fn sign(x: f32) -> f32 {
    (x > 0.0) as i32 as f32 - (x < 0.0) as i32 as f32
}

/// Zero-sized handles on the functions above for `simd`'s loops (see `simd::LaneFn`).
macro_rules! lane_fns {
    ($($(#[$doc:meta])* $ty:ident => $f:expr),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $ty;

        impl LaneFn for $ty {
            #[inline(always)]
            fn apply<M: Fma>(&self, x: f32) -> f32 {
                ($f)(x)
            }
        }
    )*};
}

lane_fns! {
    /// e^x
    Exp => exp::<M>,
    /// ln x
    Ln => ln,
    /// 1 / (1 + e^-x)
    Sigmoid => sigmoid::<M>,
    /// tanh x
    Tanh => tanh::<M>,
    /// x Φ(x)
    Gelu => gelu::<M>,
    /// x σ(x)
    Silu => silu::<M>,
    /// x σ(2u), GELU's tanh approximation
    GeluTanh => gelu_tanh::<M>,
    /// 1 / √x
    Rsqrt => rsqrt,
    /// sin x
    Sin => sin,
    /// cos x
    Cos => cos,
    /// |x|
    Abs => abs,
}

#[inline(always)]
fn abs(x: f32) -> f32 {
    x.abs()
}

/// e^(x - shift): softmax's terms, as a `LaneFn` so that a caller outside any kernel copy (the
/// cross-entropy's probabilities) gets the copy's rounding through `simd::map`.
#[derive(Clone, Copy, Debug)]
pub struct ExpShifted(pub f32);

impl LaneFn for ExpShifted {
    #[inline(always)]
    fn apply<M: Fma>(&self, x: f32) -> f32 {
        exp::<M>(x - self.0)
    }
}

/// Zero-sized handles on derivatives, (g, saved) -> g f'(x), for the backward loops.
macro_rules! lane_fns2 {
    ($($(#[$doc:meta])* $ty:ident => |$g:ident, $v:ident| $e:expr),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $ty;

        impl LaneFn2 for $ty {
            #[inline(always)]
            fn apply<M: Fma>(&self, $g: f32, $v: f32) -> f32 {
                $e
            }
        }
    )*};
}

lane_fns2! {
    /// (g, x) -> g gelu'(x): GELU's backward.
    GeluBackward => |g, x| g * gelu_derivative::<M>(x),
    /// (g, x) -> g silu'(x)
    SiluBackward => |g, x| g * silu_derivative::<M>(x),
    /// (g, x) -> g gelu_tanh'(x)
    GeluTanhBackward => |g, x| g * gelu_tanh_derivative::<M>(x),
    /// (g, y) -> g (-y³ / 2), y = 1/√x: rsqrt' = -x^(-3/2) / 2
    RsqrtBackward => |g, y| g * (-0.5 * (y * y * y)),
    /// (g, x) -> g cos x
    SinBackward => |g, x| g * cos(x),
    /// (g, x) -> -g sin x
    CosBackward => |g, x| -(g * sin(x)),
    /// (g, x) -> g sign(x)
    AbsBackward => |g, x| g * sign(x),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{Fused, Separate};

    /// Distance in units in the last place between an f32 and the f64 truth.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w {
            return 0.0;
        }
        let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
        (got as f64 - want).abs() / ulp
    }

    /// Every 997th f32 bit pattern in [lo, hi], both signs as the range says.
    fn sweep(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
        (0..u32::MAX / 997)
            .map(|i| f32::from_bits(i * 997))
            .chain((0..u32::MAX / 997).map(|i| -f32::from_bits(i * 997)))
            .filter(move |x| (lo..=hi).contains(x))
    }

    fn erfc64(x: f64) -> f64 {
        libm::erfc(x)
    }

    #[test]
    fn exp_is_within_2_ulp_and_handles_the_edges() {
        exp_is_within_2_ulp_and_handles_the_edges_in::<Separate>();
        exp_is_within_2_ulp_and_handles_the_edges_in::<Fused>();
    }

    fn exp_is_within_2_ulp_and_handles_the_edges_in<M: Fma>() {
        let worst = sweep(-103.0, 88.7).map(|x| ulps(exp::<M>(x), (x as f64).exp())).fold(0.0, f64::max);
        assert!(worst <= 2.0, "exp: {worst} ulp");
        assert_eq!(exp::<M>(0.0), 1.0);
        assert_eq!(exp::<M>(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp::<M>(89.0), f32::INFINITY);
        assert_eq!(exp::<M>(f32::NEG_INFINITY), 0.0);
        assert!(exp::<M>(f32::NAN).is_nan());
        // subnormal results keep their value
        let sub = exp::<M>(-100.0);
        assert!(sub > 0.0 && ((sub as f64) - (-100f64).exp()).abs() <= 1.5e-45);
    }

    #[test]
    fn exp_nonpositive_is_exp_down_to_its_bound_and_0_below() {
        exp_nonpositive_is_exp_down_to_its_bound_and_0_below_in::<Separate>();
        exp_nonpositive_is_exp_down_to_its_bound_and_0_below_in::<Fused>();
    }

    fn exp_nonpositive_is_exp_down_to_its_bound_and_0_below_in<M: Fma>() {
        for x in sweep(-200.0, 0.0) {
            let want = if x < -87.68 { 0.0 } else { exp::<M>(x) };
            assert_eq!(exp_nonpositive::<M>(x).to_bits(), want.to_bits(), "{x}");
        }
        assert_eq!((exp_nonpositive::<M>(0.0), exp_nonpositive::<M>(f32::NEG_INFINITY)), (1.0, 0.0));
        assert!(exp_nonpositive::<M>(f32::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_1_ulp_and_handles_the_edges() {
        let worst = sweep(0.0, f32::MAX).filter(|&x| x > 0.0).map(|x| ulps(ln(x), (x as f64).ln())).fold(0.0, f64::max);
        assert!(worst <= 1.0, "ln: {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!((ln(0.0), ln(-0.0)), (f32::NEG_INFINITY, f32::NEG_INFINITY));
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f32::NEG_INFINITY).is_nan() && ln(f32::NAN).is_nan());
        // the smallest subnormal
        assert!(ulps(ln(f32::from_bits(1)), (f32::from_bits(1) as f64).ln()) <= 1.0);
    }

    #[test]
    fn sigmoid_and_tanh_are_within_3_ulp() {
        sigmoid_and_tanh_are_within_3_ulp_in::<Separate>();
        sigmoid_and_tanh_are_within_3_ulp_in::<Fused>();
    }

    fn sigmoid_and_tanh_are_within_3_ulp_in<M: Fma>() {
        let worst = sweep(-80.0, 80.0).map(|x| ulps(sigmoid::<M>(x), 1.0 / (1.0 + (-(x as f64)).exp()))).fold(0.0, f64::max);
        assert!(worst <= 3.0, "sigmoid: {worst} ulp");
        let worst = sweep(-20.0, 20.0).map(|x| ulps(tanh::<M>(x), (x as f64).tanh())).fold(0.0, f64::max);
        assert!(worst <= 3.0, "tanh: {worst} ulp");
        assert_eq!((tanh::<M>(f32::INFINITY), tanh::<M>(f32::NEG_INFINITY), sigmoid::<M>(f32::NEG_INFINITY)), (1.0, -1.0, 0.0));
        assert!(tanh::<M>(f32::NAN).is_nan() && sigmoid::<M>(f32::NAN).is_nan());
        assert_eq!(tanh::<M>(-0.0).to_bits(), (-0.0f32).to_bits());
        // sigmoid's single scale: subnormal results down to -88.38, 0 from there on
        assert!(sigmoid::<M>(-88.3) > 0.0 && sigmoid::<M>(-88.3) < 5e-39);
        assert_eq!(sigmoid::<M>(-88.4), 0.0);
    }

    #[test]
    fn gelu_is_within_8_ulp_including_the_negative_tail() {
        gelu_is_within_8_ulp_including_the_negative_tail_in::<Separate>();
        gelu_is_within_8_ulp_including_the_negative_tail_in::<Fused>();
    }

    fn gelu_is_within_8_ulp_including_the_negative_tail_in<M: Fma>() {
        let truth = |x: f64| if x >= 0.0 { x * (1.0 - 0.5 * erfc64(x / 2f64.sqrt())) } else { x * 0.5 * erfc64(-x / 2f64.sqrt()) };
        let worst =
            sweep(-13.0, 50.0).filter(|&x| truth(x as f64).abs() > 1e-38).map(|x| ulps(gelu::<M>(x), truth(x as f64))).fold(0.0, f64::max);
        assert!(worst <= 8.0, "gelu: {worst} ulp");
        assert_eq!(gelu::<M>(f32::INFINITY), f32::INFINITY);
        assert_eq!(gelu::<M>(-0.0).to_bits(), (-0.0f32).to_bits());
        // x Φ(x) at -inf is -inf * 0: NaN, as in PyTorch
        assert!(gelu::<M>(f32::NEG_INFINITY).is_nan());
        assert!(gelu::<M>(f32::NAN).is_nan());
        assert_eq!(gelu::<M>(0.0), 0.0);
    }

    #[test]
    fn gelu_derivative_is_close_to_the_f64_formula() {
        gelu_derivative_is_close_to_the_f64_formula_in::<Separate>();
        gelu_derivative_is_close_to_the_f64_formula_in::<Fused>();
    }

    fn gelu_derivative_is_close_to_the_f64_formula_in<M: Fma>() {
        let d = |x: f64| 0.5 * libm::erfc(-x / 2f64.sqrt()) + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        for i in -600..=600 {
            let x = i as f32 / 50.0;
            let want = d(x as f64);
            // its two terms are up to ~0.5 and cancel near x = -0.75: an f32 sum of them is good
            // to about 2^-24 of 0.5 in absolute terms there
            let err = (gelu_derivative::<M>(x) as f64 - want).abs();
            assert!(err <= 2e-7 * (want.abs() + 0.5), "gelu'({x}): {err:e} off {want}");
        }
    }

    #[test]
    fn silu_and_gelu_tanh_are_within_4_ulp() {
        silu_and_gelu_tanh_are_within_4_ulp_in::<Separate>();
        silu_and_gelu_tanh_are_within_4_ulp_in::<Fused>();
    }

    fn silu_and_gelu_tanh_are_within_4_ulp_in<M: Fma>() {
        let silu64 = |x: f64| x / (1.0 + (-x).exp());
        let worst = sweep(-80.0, 80.0)
            .filter(|&x| silu64(x as f64).abs() > 1e-37)
            .map(|x| ulps(silu::<M>(x), silu64(x as f64)))
            .fold(0.0, f64::max);
        assert!(worst <= 4.0, "silu: {worst} ulp");
        let gt64 = |x: f64| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
        let gt64 = |x: f64| {
            if x < -3.0 {
                x / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).exp())
            } else {
                gt64(x)
            }
        };
        let worst = sweep(-12.0, 50.0)
            .filter(|&x| gt64(x as f64).abs() > 1e-37)
            .map(|x| ulps(gelu_tanh::<M>(x), gt64(x as f64)))
            .fold(0.0, f64::max);
        assert!(worst <= 4.0, "gelu_tanh: {worst} ulp");
        assert_eq!((silu::<M>(f32::INFINITY), gelu_tanh::<M>(f32::INFINITY)), (f32::INFINITY, f32::INFINITY));
        assert_eq!((silu::<M>(0.0), gelu_tanh::<M>(0.0)), (0.0, 0.0));
        // x σ(x) at -inf is -inf * 0, NaN, as PyTorch's; so is 0.5 x (1 + tanh::<M>(-inf))
        assert!(gelu_tanh::<M>(f32::NEG_INFINITY).is_nan() && silu::<M>(f32::NEG_INFINITY).is_nan());
        assert!(silu::<M>(f32::NAN).is_nan() && gelu_tanh::<M>(f32::NAN).is_nan());
    }

    #[test]
    fn sin_and_cos_are_within_1_ulp_up_to_1e5() {
        for (name, f, truth) in [("sin", sin as fn(f32) -> f32, f64::sin as fn(f64) -> f64), ("cos", cos, f64::cos)] {
            let worst = sweep(-1e5, 1e5).map(|x| ulps(f(x), truth(x as f64))).fold(0.0, f64::max);
            assert!(worst <= 1.0, "{name}: {worst} ulp");
            assert!(f(f32::INFINITY).is_nan() && f(f32::NEG_INFINITY).is_nan() && f(f32::NAN).is_nan());
        }
        assert_eq!(sin(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!((sin(0.0), cos(0.0)), (0.0, 1.0));
    }

    #[test]
    fn rsqrt_is_within_1_ulp() {
        let worst = sweep(0.0, f32::MAX).filter(|&x| x > 0.0).map(|x| ulps(rsqrt(x), 1.0 / (x as f64).sqrt())).fold(0.0, f64::max);
        assert!(worst <= 1.0, "rsqrt: {worst} ulp");
        assert_eq!((rsqrt(0.0), rsqrt(f32::INFINITY)), (f32::INFINITY, 0.0));
        assert!(rsqrt(-1.0).is_nan());
    }

    #[test]
    fn new_derivatives_are_close_to_the_f64_formulas() {
        new_derivatives_are_close_to_the_f64_formulas_in::<Separate>();
        new_derivatives_are_close_to_the_f64_formulas_in::<Fused>();
    }

    fn new_derivatives_are_close_to_the_f64_formulas_in<M: Fma>() {
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let dsilu = |x: f64| sig(x) * (1.0 + x * (1.0 - sig(x)));
        let b = (2.0 / std::f64::consts::PI).sqrt();
        let dgt = |x: f64| {
            let t = (b * (x + 0.044715 * x * x * x)).tanh();
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * b * (1.0 + 3.0 * 0.044715 * x * x)
        };
        for i in -600..=600 {
            let x = i as f32 / 50.0;
            let xd = x as f64;
            for (name, got, want) in [("silu'", silu_derivative::<M>(x), dsilu(xd)), ("gelu_tanh'", gelu_tanh_derivative::<M>(x), dgt(xd))]
            {
                let err = (got as f64 - want).abs();
                // sums of terms up to ~1 that cancel: good to a few 2^-24 in absolute terms
                assert!(err <= 4e-7 * (want.abs() + 1.0), "{name}({x}): {err:e} off {want}");
            }
            assert_eq!(SinBackward.apply::<M>(2.0, x), 2.0 * cos(x));
            assert_eq!(CosBackward.apply::<M>(2.0, x), -2.0 * sin(x));
        }
        assert_eq!(
            (AbsBackward.apply::<M>(3.0, -2.0), AbsBackward.apply::<M>(3.0, 0.0), AbsBackward.apply::<M>(3.0, 0.5)),
            (-3.0, 0.0, 3.0)
        );
        assert_eq!(RsqrtBackward.apply::<M>(1.0, 0.5), -0.0625);
    }
}
