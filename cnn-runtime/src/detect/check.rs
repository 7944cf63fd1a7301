//! The compile-time check that a detector's network ends in its grid: an
//! `S x S` grid with `A` anchors and `K` classes needs an output of
//! `S x S x A(5 + K)`. [`assert_grid`] is a `const fn`, so
//!
//! ```compile_fail,E0080
//! # use cnn_runtime::detect::assert_grid;
//! // A 19x19 grid with 5 anchors and 80 classes needs 425 channels.
//! const _: () = assert_grid([19, 19, 400], 19, 5, 80);
//! ```
//!
//! fails to build with the sum in the message, pointing at that line:
//!
//! ```text
//! error[E0080]: evaluation panicked: detect: the network ends in 19x19x400 but a 19x19
//!               grid with 5 anchors and 80 classes needs 19x19x425 (A(5 + K) = 5*(5 + 80) = 425)
//!                 = help: end the network in a 19x19 map with 425 channels (a 1x1 Conv2d with 425 filters)
//! ```
//!
//! The message is written into a fixed buffer by `const` code, since
//! `format!` cannot run at compile time.

/// Room for the longest message: numbers of up to 20 digits each.
const CAPACITY: usize = 512;

/// Why an output shape does not fit a grid, as text built at compile time
/// (see [`check_grid`]).
#[derive(Clone, Copy)]
pub struct GridMismatch {
    buf: [u8; CAPACITY],
    len: usize,
}

impl GridMismatch {
    const fn new() -> Self {
        GridMismatch {
            buf: [0; CAPACITY],
            len: 0,
        }
    }

    const fn push(mut self, s: &str) -> Self {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() && self.len < CAPACITY {
            self.buf[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    const fn num(mut self, mut n: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut d = 0;
        loop {
            digits[d] = b'0' + (n % 10) as u8;
            d += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while d > 0 && self.len < CAPACITY {
            d -= 1;
            self.buf[self.len] = digits[d];
            self.len += 1;
        }
        self
    }

    /// The message: what the network ends in, what the grid needs, the
    /// sum, and a `help:` line.
    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => "detect: the output shape does not fit the grid",
        }
    }
}

impl core::fmt::Debug for GridMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for GridMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `A(5 + K)`, or `None` on overflow.
pub const fn grid_channels(anchors: usize, classes: usize) -> Option<usize> {
    match classes.checked_add(5) {
        Some(per_anchor) => anchors.checked_mul(per_anchor),
        None => None,
    }
}

/// " a 19x19 grid with 5 anchors and 80 classes needs "
const fn grid_words(m: GridMismatch, s: usize, a: usize, k: usize) -> GridMismatch {
    m.push(" a ")
        .num(s)
        .push("x")
        .num(s)
        .push(" grid with ")
        .num(a)
        .push(" anchors and ")
        .num(k)
        .push(" classes needs ")
}

/// Whether an output of shape `shape` (one example's, as the generated
/// `OUTPUT_SHAPE`) is the volume of an `s x s` grid with `a` anchors and
/// `k` classes: `[s, s, a(5 + k)]`, or a flat `s*s*a(5 + k)` (a dense head,
/// read in that row-major order). A grid needs `s, a, k >= 1`.
// The message is built in place by const code, which cannot allocate; it
// is made once, on the error path or at compile time, so its size costs
// nothing that matters.
#[allow(clippy::result_large_err)]
pub const fn check_grid(shape: &[usize], s: usize, a: usize, k: usize) -> Result<(), GridMismatch> {
    let m = GridMismatch::new();
    if s == 0 || a == 0 || k == 0 {
        return Err(m
            .push("detect: a grid needs S, A and K of at least 1, got S = ")
            .num(s)
            .push(", A = ")
            .num(a)
            .push(", K = ")
            .num(k));
    }
    let c = match grid_channels(a, k) {
        Some(c) => c,
        None => return Err(m.push("detect: A(5 + K) overflows usize")),
    };
    let total = match s.checked_mul(s) {
        Some(ss) => ss.checked_mul(c),
        None => None,
    };
    let Some(total) = total else {
        return Err(m.push("detect: S*S*A(5 + K) overflows usize"));
    };
    match *shape {
        [h, w, ch] if h == s && w == s && ch == c => Ok(()),
        [h, w, ch] => {
            let m = m
                .push("detect: the network ends in ")
                .num(h)
                .push("x")
                .num(w)
                .push("x")
                .num(ch)
                .push(" but");
            Err(grid_words(m, s, a, k)
                .num(s)
                .push("x")
                .num(s)
                .push("x")
                .num(c)
                .push(" (A(5 + K) = ")
                .num(a)
                .push("*(5 + ")
                .num(k)
                .push(") = ")
                .num(c)
                .push(")\n  = help: end the network in a ")
                .num(s)
                .push("x")
                .num(s)
                .push(" map with ")
                .num(c)
                .push(" channels (a 1x1 Conv2d with ")
                .num(c)
                .push(" filters)"))
        }
        [n] if n == total => Ok(()),
        [n] => {
            let m = m
                .push("detect: the network ends in a flat ")
                .num(n)
                .push(" but");
            Err(grid_words(m, s, a, k)
                .num(total)
                .push(" (S*S*A(5 + K) = ")
                .num(s)
                .push("*")
                .num(s)
                .push("*")
                .num(a)
                .push("*(5 + ")
                .num(k)
                .push(") = ")
                .num(total)
                .push(")\n  = help: end the network in Dense { units: ")
                .num(total)
                .push(" }, or in a ")
                .num(s)
                .push("x")
                .num(s)
                .push(" map with ")
                .num(c)
                .push(" channels"))
        }
        _ => Err(m
            .push("detect: the network's output has rank ")
            .num(shape.len())
            .push(" but a YOLO grid needs [S, S, A(5 + K)]")),
    }
}

/// Panics (at compile time, when called in a `const`) unless `shape` is
/// the output of an `s x s` grid with `a` anchors and `k` classes (see
/// [`check_grid`]); the message shows the sum with these numbers:
///
/// ```
/// # use cnn_runtime::detect::assert_grid;
/// // The course's assignment: 19x19 grid, 5 anchors, 80 classes.
/// const _: () = assert_grid([19, 19, 425], 19, 5, 80);
/// ```
///
/// With a generated network: `const _: () =
/// cnn::detect::assert_grid(Net::OUTPUT_SHAPE, S, A, K);`.
#[track_caller]
pub const fn assert_grid<const R: usize>(shape: [usize; R], s: usize, a: usize, k: usize) {
    if let Err(m) = check_grid(&shape, s, a, k) {
        panic!("{}", m.as_str());
    }
}
