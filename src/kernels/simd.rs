//! Loops compiled for the best instruction set of the CPU at hand. The library is built for
//! baseline x86-64 (SSE2, 4 lanes; never target-cpu=native), so a plain loop cannot use AVX2 or
//! AVX-512. `multiversion!` instantiates a function's body inside copies with
//! `#[target_feature(enable = "avx512f")]`, `"avx2,fma"` and none, and runs the copy for this CPU
//! (`isa()`, which linear_nt's kernels also follow, capped by `INFER_CPU`); LLVM vectorises each copy at its width.
//!
//! The body is an `#[inline(always)]` function, and so must be whatever it calls in its loops
//! (vmath's functions are): a closure or plain function called from the three copies is compiled
//! once, for the baseline, and merely called from each.
//!
//! Rust never fuses a * b + c into an FMA by itself. Bodies that want one write `M::fma(a, b, c)`:
//! the macro gives every body a type parameter `M: Fma`, `Fused` (one vfmadd, one rounding) in the
//! AVX2 and AVX-512 copies and `Separate` (a multiply then an add) in the portable copy, where a
//! fused one would be a libm call per operation. So for a given CPU every element goes through the
//! same instructions whatever the split, thread count or contiguity, and across instruction sets
//! the results differ only by those roundings (vmath states the bounds).

use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// The instruction set the kernels use on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2Fma,
    Portable,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "AVX-512",
            Isa::Avx2Fma => "AVX2+FMA",
            Isa::Portable => "portable",
        }
    }
}

/// The kernel set every run-time dispatch uses: the best this CPU has, lowered to the cap that
/// the environment variable `INFER_CPU` names (`avx512`, `avx2` or `baseline`), read once. The
/// cap only lowers (AVX2 on an AVX-512 CPU, to measure and test that path there); any other
/// value is ignored, as is a cap above what the CPU has.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let cap = std::env::var("INFER_CPU").ok().and_then(|v| parse_cap(&v));
        capped(detected(), cap)
    })
}

/// The best kernel set this CPU runs, whatever the cap (tests may call kernels for any of these).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    })
}

/// True when this CPU can run `isa`'s kernels.
pub fn supports(isa: Isa) -> bool {
    isa.rank() <= detected().rank()
}

/// The kernel set an `INFER_CPU` value names; None (no cap) for anything else, so a typo costs
/// speed at most, never a failure.
pub fn parse_cap(value: &str) -> Option<Isa> {
    match value.trim().to_ascii_lowercase().as_str() {
        "avx512" => Some(Isa::Avx512),
        "avx2" => Some(Isa::Avx2Fma),
        "baseline" => Some(Isa::Portable),
        _ => None,
    }
}

/// `detected` lowered to `cap`.
pub fn capped(detected: Isa, cap: Option<Isa>) -> Isa {
    match cap {
        Some(c) if c.rank() < detected.rank() => c,
        _ => detected,
    }
}

impl Isa {
    fn rank(self) -> u8 {
        match self {
            Isa::Portable => 0,
            Isa::Avx2Fma => 1,
            Isa::Avx512 => 2,
        }
    }
}

/// How a kernel copy evaluates a * b + c (see the module doc).
pub trait Fma {
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

/// a * b + c rounded once: the AVX2 and AVX-512 copies, where it is one instruction.
#[derive(Clone, Copy, Debug)]
pub struct Fused;

impl Fma for Fused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// a * b, rounded, plus c: the portable copy (and scalar code outside any copy).
#[derive(Clone, Copy, Debug)]
pub struct Separate;

impl Fma for Separate {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `multiversion! { fn name<T: Bound>(args) -> ret { body } }` defines `name`, running `body` in
/// the copy compiled for this CPU; `body` may name `M`, the copy's `Fma`.
macro_rules! multiversion {
    ($(#[$attr:meta])* $vis:vis fn $name:ident $(<$($g:ident: $bound:path),*>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])*
        $vis fn $name $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::extra_unused_type_parameters)]
            fn body<M: $crate::kernels::simd::Fma $(, $($g: $bound),*)?>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                use $crate::kernels::simd::{isa, Fused, Isa};
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512 $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    body::<Fused $(, $($g),*)?>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2 $(<$($g: $bound),*>)? ($($arg: $ty),*) $(-> $ret)? {
                    body::<Fused $(, $($g),*)?>($($arg),*)
                }
                // SAFETY: isa() reports these features only when the CPU has them.
                match isa() {
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    Isa::Avx2Fma => return unsafe { avx2($($arg),*) },
                    Isa::Portable => {}
                }
            }
            body::<$crate::kernels::simd::Separate $(, $($g),*)?>($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// A function of one f32 applied lane by lane. Closures are ones; the heavy functions of vmath are
/// zero-sized types whose `apply` is inline(always), because a closure or fn item as large as
/// GELU is compiled once for the baseline and called from every copy instead of being inlined.
pub trait LaneFn {
    fn apply<M: Fma>(&self, x: f32) -> f32;
}

impl<F: Fn(f32) -> f32> LaneFn for F {
    #[inline(always)]
    fn apply<M: Fma>(&self, x: f32) -> f32 {
        self(x)
    }
}

/// A function of two f32s applied lane by lane, as `LaneFn`.
pub trait LaneFn2 {
    fn apply<M: Fma>(&self, a: f32, b: f32) -> f32;
}

impl<F: Fn(f32, f32) -> f32> LaneFn2 for F {
    #[inline(always)]
    fn apply<M: Fma>(&self, a: f32, b: f32) -> f32 {
        self(a, b)
    }
}

multiversion! {
    /// out\[i\] = f(x\[i\]) for equal-length slices, into room that need not be initialised (a fresh
    /// Vec's spare capacity: no zero fill first). Every element is written.
    pub fn map<F: LaneFn>(out: &mut [MaybeUninit<f32>], x: &[f32], f: &F) {
        assert_eq!(out.len(), x.len(), "simd::map: lengths differ");
        for (y, &v) in out.iter_mut().zip(x) {
            y.write(f.apply::<M>(v));
        }
    }
}

multiversion! {
    /// out\[i\] = f(a\[i\], b\[i\]), as `map`.
    pub fn zip<F: LaneFn2>(out: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], f: &F) {
        assert!(out.len() == a.len() && a.len() == b.len(), "simd::zip: lengths differ");
        for ((y, &u), &v) in out.iter_mut().zip(a).zip(b) {
            y.write(f.apply::<M>(u, v));
        }
    }
}

multiversion! {
    /// xs\[i\] = f(xs\[i\]).
    pub fn update<F: LaneFn>(xs: &mut [f32], f: &F) {
        for x in xs.iter_mut() {
            *x = f.apply::<M>(*x);
        }
    }
}

/// Σ f(x\[i\]) in f64, over 8 lanes LLVM keeps in vector registers (a single running sum would be a
/// chain of dependent adds). Inline(always), for the loops of multiversioned bodies.
#[inline(always)]
pub fn lane_sum(x: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (s, &v) in lanes.iter_mut().zip(c) {
            *s += f(v);
        }
    }
    for (s, &v) in lanes.iter_mut().zip(rest) {
        *s += f(v);
    }
    lanes.iter().sum()
}

/// out\[i\] = f(x\[i\]) over an initialised output.
pub fn map_init(out: &mut [f32], x: &[f32], f: &impl LaneFn) {
    map(as_uninit(out), x, f)
}

/// out\[i\] = f(a\[i\], b\[i\]) over an initialised output.
pub fn zip_init(out: &mut [f32], a: &[f32], b: &[f32], f: &impl LaneFn2) {
    zip(as_uninit(out), a, b, f)
}

/// An initialised slice seen as room to write into, for the kernels that write into room
/// (`map`, `zip`, softmax, norms, pooling, rotary, attention, convolution's forward): they write
/// nothing but initialised values through it (writing an uninitialised one would be unsound).
pub fn as_uninit<T: Copy>(xs: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: MaybeUninit<T> has T's layout, and every write through the result is a T.
    unsafe { &mut *(xs as *mut [T] as *mut [MaybeUninit<T>]) }
}

/// Room once a kernel has written every element of it, to read back (or accumulate into).
///
/// # Safety
/// Every element of `room` is initialised.
pub unsafe fn assume_init<T: Copy>(room: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: MaybeUninit<T> has T's layout; the caller promises every element is written.
    unsafe { &mut *(room as *mut [MaybeUninit<T>] as *mut [T]) }
}
