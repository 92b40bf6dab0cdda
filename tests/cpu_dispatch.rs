//! Which GEMM kernels the run-time CPU dispatch picks on this machine, and that they compute the
//! right product.
//!
//! The `gemm` crate (gemm-common 0.19, src/gemm.rs) takes its AVX-512 kernels when
//! `is_x86_feature_detected!("avx512f")` holds, else the FMA/AVX2 ones, else scalar code. valgrind
//! emulates no AVX-512 and its synthetic CPUID reports none, so under valgrind the FMA kernels run.
//! .ci/run runs this file with valgrind as the cargo runner and `INFER_EXPECT_NO_AVX512=1`: the
//! first test proves the dispatch saw no AVX-512, the second that the kernels it picked (also on
//! the thread pool) give the right numbers; an AVX-512 instruction would stop valgrind with SIGILL.

use infer::{creation, ops, DType};

#[test]
fn dispatch_reports_the_cpu_features_it_sees() {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512f = is_x86_feature_detected!("avx512f");
        let fma = is_x86_feature_detected!("fma");
        let avx2 = is_x86_feature_detected!("avx2");
        let kernels = if avx512f { "AVX-512" } else if fma { "FMA/AVX2" } else { "scalar" };
        println!("avx512f: {avx512f}, avx2: {avx2}, fma: {fma}; gemm picks its {kernels} kernels");
        if std::env::var_os("INFER_EXPECT_NO_AVX512").is_some() {
            assert!(!avx512f, "INFER_EXPECT_NO_AVX512 is set (valgrind) but avx512f is detected");
        }
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn matmul_matches_a_naive_product_across_kernel_edges() {
    // Sizes around the kernels' register-block edges, a GEMV, and sizes above the threshold at
    // which the product is split across the thread pool; the last operand pair is transposed.
    let shapes = [(1, 1, 1), (3, 5, 7), (17, 33, 9), (31, 1, 64), (64, 64, 64), (128, 96, 80), (2, 1000, 3), (70, 130, 50)];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        let a = values(m * k, 2 * i as u64);
        let b = values(k * n, 2 * i as u64 + 1);
        let ta = creation::from_slice(&a, &[m, k]).unwrap();
        let tb = if i + 1 == shapes.len() {
            let bt: Vec<f32> = (0..n * k).map(|j| b[(j % k) * n + j / k]).collect();
            ops::transpose(&creation::from_slice(&bt, &[n, k]).unwrap(), 0, 1).unwrap()
        } else {
            creation::from_slice(&b, &[k, n]).unwrap()
        };
        let got = ops::matmul(&ta, &tb).unwrap();
        assert_eq!(got.shape(), &[m, n]);
        assert_eq!(got.dtype(), DType::F32);
        let got = got.to_vec_f32();
        for r in 0..m {
            for c in 0..n {
                let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * n + c] as f64).sum();
                let g = got[r * n + c] as f64;
                assert!((g - want).abs() <= 1e-4 * (1.0 + k as f64), "({m}x{k})({k}x{n})[{r},{c}] = {g}, expected {want}");
            }
        }
    }
}
