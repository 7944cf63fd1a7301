//! Pure shape arithmetic along one axis, with checked operations: the
//! course formula `floor((n + 2p - f) / s) + 1` for explicit padding, and
//! TensorFlow's `same` (`ceil(n / s)`, the total padding split with the odd
//! row or column at the bottom or right). A kernel of `f` taps dilated by
//! `d` (taps `d` apart) is a window of `d (f - 1) + 1` in both rules. Errors carry the numbers the
//! message will show. `cnn-runtime`'s `geom::axis` is the run-time twin.

use crate::ir::Pad;

/// One axis of a convolution or pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    pub out: usize,
    /// Zero rows (or columns) before the input.
    pub pad_before: usize,
    /// Zero rows (or columns) in all, before and after.
    pub pad_total: usize,
}

/// Why an axis has no valid output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisError {
    /// `n + 2p < d (f - 1) + 1`: the window does not fit even once.
    DoesNotFit {
        n: usize,
        f: usize,
        d: usize,
        p: usize,
    },
    /// `n + 2p`, the window `d (f - 1) + 1` or `same`'s padding does not
    /// fit in `usize`.
    Overflow {
        n: usize,
        f: usize,
        d: usize,
        p: usize,
    },
    /// The output has no rows: `n = 0`, or `f` or `s` is 0 (the checker
    /// reports a zero window or stride first; this keeps the arithmetic
    /// total).
    Empty { n: usize, f: usize, s: usize },
}

/// The output size along one axis of input size `n`, a window of `f` taps
/// `d` apart (`d = 1` for a plain window), stride `s` and padding `pad`.
/// A dilation of 0 is reported by the checker first; here it is an empty
/// output, like a zero window.
pub fn axis(n: usize, f: usize, s: usize, d: usize, pad: Pad) -> Result<Axis, AxisError> {
    if n == 0 || f == 0 || s == 0 || d == 0 {
        return Err(AxisError::Empty { n, f, s });
    }
    let p = match pad {
        Pad::Explicit(p) => p,
        Pad::Valid | Pad::Same => 0,
    };
    // The window's span: `d (f - 1) + 1` inputs.
    let span = (f - 1)
        .checked_mul(d)
        .and_then(|x| x.checked_add(1))
        .ok_or(AxisError::Overflow { n, f, d, p })?;
    match pad {
        Pad::Explicit(_) | Pad::Valid => explicit(n, f, span, s, d, p),
        Pad::Same => same(n, f, span, s, d),
    }
}

/// `floor((n + 2p - span) / s) + 1`, `span = d (f - 1) + 1`.
fn explicit(
    n: usize,
    f: usize,
    span: usize,
    s: usize,
    d: usize,
    p: usize,
) -> Result<Axis, AxisError> {
    let padded = p
        .checked_mul(2)
        .and_then(|two_p| n.checked_add(two_p))
        .ok_or(AxisError::Overflow { n, f, d, p })?;
    if padded < span {
        return Err(AxisError::DoesNotFit { n, f, d, p });
    }
    Ok(Axis {
        out: (padded - span) / s + 1,
        pad_before: p,
        pad_total: 2 * p,
    })
}

/// TensorFlow's `same`: `out = ceil(n / s)`, total padding
/// `max((out - 1) * s + span - n, 0)`, of which `floor(total / 2)` before.
fn same(n: usize, f: usize, span: usize, s: usize, d: usize) -> Result<Axis, AxisError> {
    let out = n.div_ceil(s);
    let reach = (out - 1)
        .checked_mul(s)
        .and_then(|x| x.checked_add(span))
        .ok_or(AxisError::Overflow { n, f, d, p: 0 })?;
    let pad_total = reach.saturating_sub(n);
    Ok(Axis {
        out,
        pad_before: pad_total / 2,
        pad_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(n: usize, f: usize, s: usize, pad: Pad) -> usize {
        axis(n, f, s, 1, pad).unwrap().out
    }

    #[test]
    fn course_formula() {
        // Course notes: 6x6 with a 3x3 filter gives 4x4; with p = 1, 6x6.
        assert_eq!(out(6, 3, 1, Pad::Valid), 4);
        assert_eq!(out(6, 3, 1, Pad::Explicit(1)), 6);
        // Course notes, strided convolution: n = 7, f = 3, s = 2 gives 3.
        assert_eq!(out(7, 3, 2, Pad::Explicit(0)), 3);
        // 39x39x3 example: f3 s1 -> 37; f5 s2 -> 17; f5 s2 -> 7.
        assert_eq!(out(39, 3, 1, Pad::Valid), 37);
        assert_eq!(out(37, 5, 2, Pad::Valid), 17);
        assert_eq!(out(17, 5, 2, Pad::Valid), 7);
    }

    #[test]
    fn same_follows_tensorflow() {
        // ceil(n / s); the odd padding row goes after.
        assert_eq!(
            axis(5, 3, 2, 1, Pad::Same),
            Ok(Axis {
                out: 3,
                pad_before: 1,
                pad_total: 2
            })
        );
        assert_eq!(
            axis(224, 7, 2, 1, Pad::Same),
            Ok(Axis {
                out: 112,
                pad_before: 2,
                pad_total: 5
            })
        );
        assert_eq!(
            axis(6, 2, 2, 1, Pad::Same),
            Ok(Axis {
                out: 3,
                pad_before: 0,
                pad_total: 0
            })
        );
        // A window larger than the input still gives ceil(n / s) outputs.
        assert_eq!(out(2, 5, 1, Pad::Same), 2);
        for n in 1..40 {
            for s in 1..5 {
                for f in 1..8 {
                    let a = axis(n, f, s, 1, Pad::Same).unwrap();
                    assert_eq!(a.out, n.div_ceil(s));
                    // The padded input holds exactly the windows it needs.
                    assert!((a.out - 1) * s + f <= n + a.pad_total);
                }
            }
        }
    }

    // PyTorch's Conv2d docs: out = floor((n + 2p - d (f - 1) - 1) / s) + 1.
    #[test]
    fn dilation_widens_the_window() {
        // n = 10, f = 3, d = 2, p = 0, s = 1: (10 - 4 - 1) + 1 = 6.
        assert_eq!(axis(10, 3, 1, 2, Pad::Valid).unwrap().out, 6);
        // n = 9, f = 3, d = 3, p = 1, s = 2: floor((11 - 7) / 2) + 1 = 3.
        assert_eq!(axis(9, 3, 2, 3, Pad::Explicit(1)).unwrap().out, 3);
        // same: n = 7, s = 1, span 5: total (7 - 1) + 5 - 7 = 4, two before.
        assert_eq!(
            axis(7, 3, 1, 2, Pad::Same),
            Ok(Axis {
                out: 7,
                pad_before: 2,
                pad_total: 4
            })
        );
        // The span is what must fit: 3 taps 2 apart need 5 inputs.
        assert_eq!(
            axis(4, 3, 1, 2, Pad::Valid),
            Err(AxisError::DoesNotFit {
                n: 4,
                f: 3,
                d: 2,
                p: 0
            })
        );
        assert_eq!(
            axis(4, 3, 1, usize::MAX, Pad::Same),
            Err(AxisError::Overflow {
                n: 4,
                f: 3,
                d: usize::MAX,
                p: 0
            })
        );
        // A single tap spans one input whatever its dilation.
        assert_eq!(axis(4, 1, 1, 5, Pad::Valid).unwrap().out, 4);
    }

    #[test]
    fn errors_carry_the_numbers() {
        assert_eq!(
            axis(5, 7, 1, 1, Pad::Explicit(0)),
            Err(AxisError::DoesNotFit {
                n: 5,
                f: 7,
                d: 1,
                p: 0
            })
        );
        assert_eq!(
            axis(10, 3, 1, 1, Pad::Explicit(usize::MAX)),
            Err(AxisError::Overflow {
                n: 10,
                f: 3,
                d: 1,
                p: usize::MAX
            })
        );
        assert_eq!(
            axis(usize::MAX, usize::MAX, 1, 1, Pad::Same),
            Err(AxisError::Overflow {
                n: usize::MAX,
                f: usize::MAX,
                d: 1,
                p: 0
            })
        );
        assert_eq!(
            axis(0, 3, 1, 1, Pad::Same),
            Err(AxisError::Empty { n: 0, f: 3, s: 1 })
        );
        assert_eq!(
            axis(4, 3, 0, 1, Pad::Valid),
            Err(AxisError::Empty { n: 4, f: 3, s: 0 })
        );
    }
}
