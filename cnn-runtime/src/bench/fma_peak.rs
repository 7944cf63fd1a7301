//! The CPU's fp32 FMA throughput, the ceiling a kernel's GFLOP/s is read
//! against: `CHAINS` independent chains of vector FMAs (`acc = acc * a + b`),
//! nothing else in the loop, on AVX-512 (16 lanes) or AVX2 (8 lanes), on
//! one thread or several at once.
//!
//! An FMA's result is ready about 4 cycles after it starts (Intel since
//! Skylake; 4-5 on AMD Zen), and a core starts up to 2 per cycle, so
//! 8-10 chains keep every FMA unit busy; 12 leave margin and still fit
//! AVX2's 16 registers beside the two constants. GFLOP/s counts 2 per
//! lane per FMA.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

use crate::isa::Isa;

/// Independent accumulator chains per thread.
pub const CHAINS: usize = 12;

/// Floating-point operations of one loop iteration on `isa`: one FMA per
/// chain, 2 operations per lane.
fn flops_per_iter(isa: Isa) -> f64 {
    let lanes = match isa {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
        Isa::Portable => 0,
    };
    (2 * lanes * CHAINS) as f64
}

/// Runs `iters` iterations of the chains on `isa` (which the CPU runs);
/// returns their sum, so that none of the work can be left out.
fn run_chains(isa: Isa, iters: u64) -> f32 {
    // acc -> acc * a + b converges to b / (1 - a) = 1: no overflow and no
    // subnormals, whatever the iteration count.
    let (a, b) = (black_box(0.999f32), black_box(0.001f32));
    #[cfg(target_arch = "x86_64")]
    match isa {
        // SAFETY: the caller checked that the CPU runs `isa`, which has
        // the features of the clone.
        Isa::Avx512 => return unsafe { chains_avx512(iters, a, b) },
        // SAFETY: as above.
        Isa::Avx2 => return unsafe { chains_avx2(iters, a, b) },
        Isa::Portable => {}
    }
    let _ = (isa, iters, a, b);
    0.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chains_avx512(iters: u64, a: f32, b: f32) -> f32 {
    use std::arch::x86_64::*;
    let (va, vb) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    let mut acc = [_mm512_setzero_ps(); CHAINS];
    for (i, c) in acc.iter_mut().enumerate() {
        *c = _mm512_set1_ps(i as f32 / CHAINS as f32);
    }
    for _ in 0..iters {
        for c in &mut acc {
            *c = _mm512_fmadd_ps(*c, va, vb);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for c in acc {
        sum = _mm512_add_ps(sum, c);
    }
    _mm512_reduce_add_ps(sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chains_avx2(iters: u64, a: f32, b: f32) -> f32 {
    use std::arch::x86_64::*;
    let (va, vb) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
    let mut acc = [_mm256_setzero_ps(); CHAINS];
    for (i, c) in acc.iter_mut().enumerate() {
        *c = _mm256_set1_ps(i as f32 / CHAINS as f32);
    }
    for _ in 0..iters {
        for c in &mut acc {
            *c = _mm256_fmadd_ps(*c, va, vb);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for c in acc {
        sum = _mm256_add_ps(sum, c);
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 floats, what an unaligned 256-bit store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

/// GFLOP/s of the FMA chains on `isa` with `threads` threads running at
/// once, `repeats` blocks of about `target_s` seconds each; `None` when
/// `isa` has no FMA (portable) or this CPU does not run it. A block's
/// figure is the sum over the threads of each one's operations over its
/// own time, so that a thread that starts late does not count as idle.
/// Plain threads, not the kernels' pool: the pool lets its caller run a
/// task itself when a worker is slow to wake, which would time one thread
/// doing two threads' work.
pub fn fma_peak_samples(
    isa: Isa,
    threads: usize,
    repeats: usize,
    target_s: f64,
) -> Option<Vec<f64>> {
    if isa == Isa::Portable || !isa.supported() {
        return None;
    }
    let threads = threads.max(1);
    // Size the blocks from one thread's speed, after a warm-up that also
    // lets the clock settle at its AVX frequency.
    black_box(run_chains(isa, 1 << 20));
    let probe = 1u64 << 22;
    let start = Instant::now();
    black_box(run_chains(isa, probe));
    let per_iter = start.elapsed().as_secs_f64().max(1e-9) / probe as f64;
    let iters = ((target_s / per_iter) as u64).max(1 << 16);
    let flops = flops_per_iter(isa) * iters as f64;
    let samples = (0..repeats.max(1))
        .map(|_| {
            let barrier = Barrier::new(threads);
            let rates: Vec<f64> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            black_box(run_chains(isa, iters));
                            flops / start.elapsed().as_secs_f64()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("an FMA thread panicked"))
                    .collect()
            });
            rates.iter().sum::<f64>() / 1e9
        })
        .collect();
    Some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fma_isa_here_gives_a_positive_figure_and_portable_none() {
        assert!(fma_peak_samples(Isa::Portable, 1, 1, 0.001).is_none());
        for isa in Isa::supported_here() {
            if isa == Isa::Portable {
                continue;
            }
            let s = fma_peak_samples(isa, 2, 2, 0.001).expect("a figure");
            assert_eq!(s.len(), 2);
            assert!(s.iter().all(|g| g.is_finite() && *g > 0.0), "{isa}: {s:?}");
        }
    }

    #[test]
    fn the_chains_converge_instead_of_overflowing() {
        for isa in Isa::supported_here() {
            if isa == Isa::Portable {
                continue;
            }
            // Each lane tends to 1: the sum over chains and lanes to their count.
            let lanes = flops_per_iter(isa) / 2.0 / CHAINS as f64;
            let sum = run_chains(isa, 100_000) as f64;
            let want = lanes * CHAINS as f64;
            assert!((sum - want).abs() < 1e-3 * want, "{isa}: {sum} vs {want}");
        }
    }
}
