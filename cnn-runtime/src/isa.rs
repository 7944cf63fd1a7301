//! Which instruction set the kernels use, and how to override it.
//!
//! Every kernel with hand-vectorised code has up to three versions: one
//! for AVX-512, one for AVX2 + FMA (most x86-64 CPUs in use: AMD before
//! Zen 4, many Intel client parts), and a portable one in plain Rust. By
//! default the best one the CPU runs is used. The environment variable
//! `CNN_ISA=avx512|avx2|portable` (read once, on first use) or [`set`]
//! picks a lower one for the whole process, so that every path can be
//! tested and timed on one machine; [`scoped`] does it for one closure on
//! the calling thread (and on the pool threads that serve its parallel
//! calls), which is how the kernel tests run each version side by side.
//!
//! A request the CPU cannot honour (`avx512` on an AVX2 machine) falls back
//! to the best version it runs, with one line on stderr; [`set`] and
//! [`scoped`] return an error instead.
//!
//! `portable` covers this crate's kernels only: products that go to
//! matrixmultiply (large dense layers, the convolutions' im2col path) use
//! its own run-time choice of kernel.

use crate::{Error, Result};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust, compiled for the crate's target (SSE2 on x86-64): no FMA.
    Portable,
    /// AVX2 and FMA: 8-lane vectors, 16 registers.
    Avx2,
    /// AVX-512F (with AVX2 and FMA): 16-lane vectors, masks, 32 registers.
    Avx512,
}

impl Isa {
    /// Every instruction set, best first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The best one this CPU runs.
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.supported())
            .unwrap_or(Isa::Portable)
    }

    /// Every one this CPU runs, best first.
    pub fn supported_here() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.supported()).collect()
    }

    /// True when this CPU runs code compiled for `self`.
    #[inline]
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The name `CNN_ISA` takes: `avx512`, `avx2` or `portable`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// Reads a name as `CNN_ISA` takes it (case-insensitive).
    pub fn parse(name: &str) -> Result<Isa> {
        let n = name.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|i| i.name() == n || (n == "avx-512" && *i == Isa::Avx512))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown instruction set `{name}`: write avx512, avx2 or portable"
                ))
            })
    }

    fn code(self) -> u8 {
        match self {
            Isa::Portable => 1,
            Isa::Avx2 => 2,
            Isa::Avx512 => 3,
        }
    }

    #[inline]
    fn from_code(c: u8) -> Option<Isa> {
        match c {
            1 => Some(Isa::Portable),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Avx512),
            _ => None,
        }
    }

    fn check(self) -> Result<Isa> {
        if self.supported() {
            Ok(self)
        } else {
            Err(Error::InvalidArgument(format!(
                "this CPU does not run {self}; it runs {}",
                Isa::supported_here()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The process-wide choice; 0 means "not read yet".
static DEFAULT: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// A [`scoped`] override on this thread.
    static OVERRIDE: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// The instruction set kernels called from this thread use now.
// Inlined: kernels ask on every call (LeNet-5's convolutions make one
// call per output row, a few hundred nanoseconds of work each).
#[inline]
pub fn current() -> Isa {
    if let Some(isa) = OVERRIDE.with(Cell::get) {
        return isa;
    }
    if let Some(isa) = Isa::from_code(DEFAULT.load(Ordering::Relaxed)) {
        return isa;
    }
    first_read()
}

/// [`current`]'s first call in the process: reads `CNN_ISA`.
#[cold]
#[inline(never)]
fn first_read() -> Isa {
    let isa = from_env(std::env::var("CNN_ISA").ok().as_deref());
    DEFAULT.store(isa.code(), Ordering::Relaxed);
    isa
}

/// What `CNN_ISA` asks for, held to what the CPU runs.
fn from_env(value: Option<&str>) -> Isa {
    let best = Isa::detect();
    let Some(v) = value.filter(|v| !v.trim().is_empty()) else {
        return best;
    };
    match Isa::parse(v).and_then(Isa::check) {
        Ok(isa) => isa,
        Err(e) => {
            eprintln!("cnn: CNN_ISA={v}: {e}; using {best}");
            best
        }
    }
}

/// Sets the instruction set for the whole process (as `CNN_ISA` does).
/// Errors if this CPU does not run it.
pub fn set(isa: Isa) -> Result<()> {
    DEFAULT.store(isa.check()?.code(), Ordering::Relaxed);
    Ok(())
}

/// Runs `f` with the kernels on `isa`: on this thread, and on the pool's
/// threads while they run tasks of this thread's parallel calls. Errors
/// (without running `f`) if this CPU does not run `isa`.
pub fn scoped<R>(isa: Isa, f: impl FnOnce() -> R) -> Result<R> {
    isa.check()?;
    Ok(with_override(Some(isa), f))
}

/// This thread's [`scoped`] override, if any: what a parallel call hands
/// to the threads that run its tasks.
pub(crate) fn override_here() -> Option<Isa> {
    OVERRIDE.with(Cell::get)
}

/// Runs `f` with this thread's override set to `isa`, then restores it
/// (also when `f` panics).
pub(crate) fn with_override<R>(isa: Option<Isa>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(isa)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_say_what_to_write() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_code(isa.code()), Some(isa));
            assert_eq!(Isa::parse(isa.name()).unwrap(), isa);
        }
        assert_eq!(Isa::parse(" AVX2 ").unwrap(), Isa::Avx2);
        let e = Isa::parse("sse9").unwrap_err().to_string();
        assert!(
            e.contains("sse9") && e.contains("avx512, avx2 or portable"),
            "{e}"
        );
    }

    #[test]
    fn the_environment_is_held_to_what_the_cpu_runs() {
        assert_eq!(from_env(None), Isa::detect());
        assert_eq!(from_env(Some("")), Isa::detect());
        assert_eq!(from_env(Some("portable")), Isa::Portable);
        assert_eq!(from_env(Some("nonsense")), Isa::detect());
        if !Isa::Avx512.supported() {
            assert_eq!(from_env(Some("avx512")), Isa::detect());
        }
    }

    #[test]
    fn scoped_sets_this_thread_and_the_pool_threads_and_restores() {
        let before = current();
        let seen = scoped(Isa::Portable, || {
            assert_eq!(current(), Isa::Portable);
            let seen: Vec<AtomicU8> = (0..16).map(|_| AtomicU8::new(0)).collect();
            crate::parallel::for_each(16, &|t| {
                seen[t].store(current().code(), Ordering::Relaxed);
            });
            seen.iter()
                .all(|s| s.load(Ordering::Relaxed) == Isa::Portable.code())
        })
        .unwrap();
        assert!(seen, "a pool thread ran a task on another instruction set");
        assert_eq!(current(), before);
        // A panic inside restores too.
        let _ = std::panic::catch_unwind(|| scoped(Isa::Portable, || panic!("inside")));
        assert_eq!(current(), before);
    }
}

/// Every unit test of this crate (the kernels' oracle tests and gradient
/// checks among them) again under each other instruction set this CPU runs.
#[cfg(test)]
#[test]
fn every_unit_test_passes_under_every_instruction_set() {
    crate::testing::rerun_under_other_isas(&["--skip", "every_unit_test_passes_under"]);
}
