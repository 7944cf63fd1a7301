//! Pure shape arithmetic along one axis, with checked operations: the
//! course formula `floor((n + 2p - f) / s) + 1` for explicit padding, and
//! TensorFlow's `same` (`ceil(n / s)`, the total padding split with the odd
//! row or column at the bottom or right). Errors carry the numbers the
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
    /// `n + 2p < f`: the window does not fit even once.
    DoesNotFit { n: usize, f: usize, p: usize },
    /// `n + 2p` (or `same`'s padding) does not fit in `usize`.
    Overflow { n: usize, f: usize, p: usize },
    /// The output has no rows: `n = 0`, or `f` or `s` is 0 (the checker
    /// reports a zero window or stride first; this keeps the arithmetic
    /// total).
    Empty { n: usize, f: usize, s: usize },
}

/// The output size along one axis of input size `n`, window `f`, stride
/// `s` and padding `pad`.
pub fn axis(n: usize, f: usize, s: usize, pad: Pad) -> Result<Axis, AxisError> {
    if n == 0 || f == 0 || s == 0 {
        return Err(AxisError::Empty { n, f, s });
    }
    match pad {
        Pad::Explicit(p) => explicit(n, f, s, p),
        Pad::Valid => explicit(n, f, s, 0),
        Pad::Same => same(n, f, s),
    }
}

/// `floor((n + 2p - f) / s) + 1`.
fn explicit(n: usize, f: usize, s: usize, p: usize) -> Result<Axis, AxisError> {
    let padded = p
        .checked_mul(2)
        .and_then(|two_p| n.checked_add(two_p))
        .ok_or(AxisError::Overflow { n, f, p })?;
    if padded < f {
        return Err(AxisError::DoesNotFit { n, f, p });
    }
    Ok(Axis {
        out: (padded - f) / s + 1,
        pad_before: p,
        pad_total: 2 * p,
    })
}

/// TensorFlow's `same`: `out = ceil(n / s)`, total padding
/// `max((out - 1) * s + f - n, 0)`, of which `floor(total / 2)` before.
fn same(n: usize, f: usize, s: usize) -> Result<Axis, AxisError> {
    let out = n.div_ceil(s);
    let reach = (out - 1)
        .checked_mul(s)
        .and_then(|x| x.checked_add(f))
        .ok_or(AxisError::Overflow { n, f, p: 0 })?;
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
        axis(n, f, s, pad).unwrap().out
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
            axis(5, 3, 2, Pad::Same),
            Ok(Axis {
                out: 3,
                pad_before: 1,
                pad_total: 2
            })
        );
        assert_eq!(
            axis(224, 7, 2, Pad::Same),
            Ok(Axis {
                out: 112,
                pad_before: 2,
                pad_total: 5
            })
        );
        assert_eq!(
            axis(6, 2, 2, Pad::Same),
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
                    let a = axis(n, f, s, Pad::Same).unwrap();
                    assert_eq!(a.out, n.div_ceil(s));
                    // The padded input holds exactly the windows it needs.
                    assert!((a.out - 1) * s + f <= n + a.pad_total);
                }
            }
        }
    }

    #[test]
    fn errors_carry_the_numbers() {
        assert_eq!(
            axis(5, 7, 1, Pad::Explicit(0)),
            Err(AxisError::DoesNotFit { n: 5, f: 7, p: 0 })
        );
        assert_eq!(
            axis(10, 3, 1, Pad::Explicit(usize::MAX)),
            Err(AxisError::Overflow {
                n: 10,
                f: 3,
                p: usize::MAX
            })
        );
        assert_eq!(
            axis(usize::MAX, usize::MAX, 1, Pad::Same),
            Err(AxisError::Overflow {
                n: usize::MAX,
                f: usize::MAX,
                p: 0
            })
        );
        assert_eq!(
            axis(0, 3, 1, Pad::Same),
            Err(AxisError::Empty { n: 0, f: 3, s: 1 })
        );
        assert_eq!(
            axis(4, 3, 0, Pad::Valid),
            Err(AxisError::Empty { n: 4, f: 3, s: 0 })
        );
    }
}
