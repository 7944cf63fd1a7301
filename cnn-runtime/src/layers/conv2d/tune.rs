//! Which algorithm runs each pass of a convolution of a given shape:
//! measured once per process on the call's own data and kept, as cuDNN's
//! benchmark mode and oneDNN's primitive cache do.
//!
//! No fixed rule holds on every CPU: the hand-written micro-kernels were
//! blocked on one machine, and on another the portable im2col +
//! matrixmultiply path wins some layers (on an AMD EPYC at AVX2, most of
//! ResNet-50's 1x1 backward passes, by up to 2x) while losing LeNet-5's
//! by 3x. So the first call of each pass (forward, weight gradient, input
//! gradient) for a shape times every candidate path twice, interleaved,
//! and keeps the fastest by its best time if it beats the fixed rule's
//! pick (the first candidate) by 10%, that pick otherwise; every later
//! call of that shape runs it. The call that measures still returns the chosen path's
//! result, so a process's results do not depend on which call measured.
//!
//! The key is the geometry, the batch rounded up to a power of two, the
//! pass and the instruction set in use; not the thread count, so that a
//! shape runs the same algorithm (and gives the same bits) on 1 or 2
//! threads.
//!
//! Measuring is opt-in, `CNN_CONV=auto` in the environment (read once), as
//! PyTorch's `cudnn.benchmark` is: two processes may measure differently,
//! and the paths sum in different orders, so a seeded run would no longer
//! give the same weights from one process to the next (a 40-epoch UCR test
//! moved from 0.8 to 0.51 test accuracy). By default the fixed rules run
//! (`CNN_CONV=implicit` names them); `CNN_CONV=gemm` pins the im2col paths. `CNN_CONV_LOG=1` prints each choice to stderr as it
//! is made; [`choices`] lists them.

use crate::geom::Conv2dGeom;
use crate::isa::{self, Isa};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// How much faster than the first candidate (the fixed rule's pick)
/// another must measure to replace it.
const MARGIN: f64 = 0.9;

/// What `CNN_CONV` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Measure the candidates (`CNN_CONV=auto`).
    Auto,
    /// Only the im2col paths.
    Gemm,
    /// The fixed rules, nothing measured (the default): the micro-kernel
    /// paths where they run.
    Implicit,
}

/// `CNN_CONV`, read once.
pub(super) fn mode() -> Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    *MODE.get_or_init(|| match std::env::var("CNN_CONV").as_deref() {
        Ok("gemm") => Mode::Gemm,
        Ok("auto") => Mode::Auto,
        _ => Mode::Implicit,
    })
}

/// The pass a choice is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    /// `y = conv(x, w)` with its epilogue.
    Forward,
    /// `dw += x^T dY` (and the bias gradient).
    WeightGrad,
    /// `dx = dY` through the transposed convolution.
    InputGrad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    g: Conv2dGeom,
    groups: usize,
    batch: usize,
    pass: Pass,
    isa: Isa,
}

/// One measured choice, as [`choices`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The convolution.
    pub geom: Conv2dGeom,
    /// Its groups (1 for a dense convolution).
    pub groups: usize,
    /// The batch size, rounded up to a power of two.
    pub batch: usize,
    /// The pass.
    pub pass: Pass,
    /// The instruction set in use when it was measured.
    pub isa: Isa,
    /// Each candidate's name and best time in seconds, in the order tried.
    pub times: Vec<(&'static str, f64)>,
    /// The index in `times` of the path that runs.
    pub chosen: usize,
}

fn table() -> &'static Mutex<HashMap<Key, Choice>> {
    static TABLE: OnceLock<Mutex<HashMap<Key, Choice>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Every choice this process has measured so far, in no particular order.
pub fn choices() -> Vec<Choice> {
    let t = table().lock().unwrap_or_else(|e| e.into_inner());
    t.values().cloned().collect()
}

/// The candidate of `candidates` (name, path) that runs `pass` of `g`
/// (in `groups` groups) at `batch`: the only one, the one measured before,
/// or the fastest of `run(path)` timed now (the first, the fixed rule's
/// pick, unless another is 10% faster). `run` must compute the pass into buffers the
/// caller overwrites afterwards (it is called only while measuring).
pub(super) fn choose<P: Copy>(
    g: &Conv2dGeom,
    groups: usize,
    batch: usize,
    pass: Pass,
    candidates: &[(&'static str, P)],
    mut run: impl FnMut(P),
) -> P {
    assert!(!candidates.is_empty(), "conv2d: no path for {pass:?}");
    if candidates.len() == 1 {
        return candidates[0].1;
    }
    let key = Key {
        g: *g,
        groups,
        batch: batch.next_power_of_two(),
        pass,
        isa: isa::current(),
    };
    if let Some(c) = table().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return candidates[c.chosen].1;
    }
    // Two rounds, interleaved, best of each: the first call of a path may
    // grow its scratch buffers and fault their pages in.
    let mut best = vec![f64::INFINITY; candidates.len()];
    for _ in 0..2 {
        for (b, &(_, p)) in best.iter_mut().zip(candidates) {
            let start = Instant::now();
            run(p);
            *b = b.min(start.elapsed().as_secs_f64());
        }
    }
    // The first candidate is the fixed rule's pick; another replaces it
    // only when clearly faster, so that timing noise does not flip a
    // choice (at AVX-512 choices won by 1-10% lost 12% of a ResNet-50 step
    // in context).
    let fastest = (0..best.len())
        .min_by(|&a, &b| best[a].total_cmp(&best[b]))
        .unwrap_or(0);
    let chosen = if best[fastest] < MARGIN * best[0] {
        fastest
    } else {
        0
    };
    let choice = Choice {
        geom: *g,
        groups,
        batch: key.batch,
        pass,
        isa: key.isa,
        times: candidates.iter().map(|c| c.0).zip(best).collect(),
        chosen,
    };
    // Another thread may have measured the same key meanwhile: the first
    // entry stands, so every call agrees.
    if log() {
        eprintln!("{choice}");
    }
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    candidates[t.entry(key).or_insert(choice).chosen].1
}

/// `CNN_CONV_LOG` set (to anything but `0`), read once.
fn log() -> bool {
    static LOG: OnceLock<bool> = OnceLock::new();
    *LOG.get_or_init(|| std::env::var("CNN_CONV_LOG").is_ok_and(|v| v != "0"))
}

impl std::fmt::Display for Choice {
    /// `conv2d 56x56x64 k3x3 s1 -> 56x56x64, batch 8, forward (avx2): gemm (implicit 4.10 ms, gemm 3.20 ms)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = &self.geom;
        write!(
            f,
            "conv2d {}x{}x{} k{}x{} s{} -> {}x{}x{}{}, batch {}, {:?} ({}): {} (",
            g.in_h,
            g.in_w,
            g.c_in,
            g.fh,
            g.fw,
            g.sh,
            g.out_h,
            g.out_w,
            g.c_out,
            match self.groups {
                1 => String::new(),
                n => format!(" in {n} groups"),
            },
            self.batch,
            self.pass,
            self.isa.name(),
            self.times[self.chosen].0,
        )?;
        for (i, (name, t)) in self.times.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {:.3} ms", t * 1e3)?;
        }
        write!(f, ")")
    }
}
