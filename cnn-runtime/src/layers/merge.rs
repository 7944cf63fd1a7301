//! Joining and splitting activations: channel concatenation for Inception
//! modules (each branch writes its channels straight into the shared
//! output, and its gradient is read back out of the shared gradient) and
//! element-wise addition for residual shortcuts. All of it is copies and
//! adds over NHWC rows, so the only thing to get right is the offsets.

use crate::error::{check_len, Error, Result};
use crate::layers::activation::par_rows;

/// Checks a channel range inside rows of `c_total` channels; returns the
/// lengths of the part and of the whole.
fn part_sizes(
    what: &str,
    m: usize,
    c_total: usize,
    offset: usize,
    c_part: usize,
) -> Result<(usize, usize)> {
    if c_part == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: c_part must be positive"
        )));
    }
    match offset.checked_add(c_part) {
        Some(end) if end <= c_total => {}
        _ => {
            return Err(Error::InvalidArgument(format!(
                "{what}: channels {offset}..{offset}+{c_part} do not fit in {c_total}"
            )))
        }
    }
    let overflow = || {
        Error::InvalidArgument(format!(
            "{what}: m * c_total overflows (m = {m}, c_total = {c_total})"
        ))
    };
    let total = m.checked_mul(c_total).ok_or_else(overflow)?;
    Ok((m * c_part, total))
}

/// Writes one branch into its channels of a concatenation:
/// `y[r, offset..offset + c_part] = x_part[r, ..]` for every row r.
/// Other channels of y are left as they are.
/// x_part: [m, c_part]  y: [m, c_total]
pub fn concat_part(
    m: usize,
    c_total: usize,
    offset: usize,
    c_part: usize,
    x_part: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let (part_len, total) = part_sizes("concat", m, c_total, offset, c_part)?;
    check_len("concat x_part", x_part.len(), part_len)?;
    check_len("concat y", y.len(), total)?;
    par_rows(y, m, part_len, |r0, y| {
        for (yr, xr) in y
            .chunks_exact_mut(c_total)
            .zip(x_part[r0 * c_part..].chunks_exact(c_part))
        {
            yr[offset..offset + c_part].copy_from_slice(xr);
        }
    });
    Ok(())
}

/// Reads one branch's gradient out of a concatenation's:
/// `dx_part[r, ..] = dy[r, offset..offset + c_part]`. Overwrites dx_part.
/// dy: [m, c_total]  dx_part: [m, c_part]
pub fn split_part(
    m: usize,
    c_total: usize,
    offset: usize,
    c_part: usize,
    dy: &[f32],
    dx_part: &mut [f32],
) -> Result<()> {
    let (part_len, total) = part_sizes("split", m, c_total, offset, c_part)?;
    check_len("split dy", dy.len(), total)?;
    check_len("split dx_part", dx_part.len(), part_len)?;
    par_rows(dx_part, m, part_len, |r0, dx| {
        for (dr, yr) in dx
            .chunks_exact_mut(c_part)
            .zip(dy[r0 * c_total..].chunks_exact(c_total))
        {
            dr.copy_from_slice(&yr[offset..offset + c_part]);
        }
    });
    Ok(())
}

/// `y = a + b`, element-wise. Overwrites y.
/// a, b, y: same length
pub fn add(a: &[f32], b: &[f32], y: &mut [f32]) -> Result<()> {
    check_len("add b", b.len(), a.len())?;
    check_len("add y", y.len(), a.len())?;
    par_rows(y, a.len(), a.len(), |start, y| {
        let (a, b) = (&a[start..start + y.len()], &b[start..start + y.len()]);
        y.iter_mut()
            .zip(a)
            .zip(b)
            .for_each(|((o, &p), &q)| *o = p + q);
    });
    Ok(())
}

/// `y += x`, element-wise (a residual shortcut's output, or a gradient
/// arriving from a second path).
/// y, x: same length
pub fn add_into(y: &mut [f32], x: &[f32]) -> Result<()> {
    check_len("add_into x", x.len(), y.len())?;
    let len = y.len();
    par_rows(y, len, len, |start, y| {
        let x = &x[start..start + y.len()];
        y.iter_mut().zip(x).for_each(|(o, &v)| *o += v);
    });
    Ok(())
}

/// For tests: concatenation of whole branches along channels.
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    /// `[m, c_1] ++ [m, c_2] ++ ...` along channels.
    pub fn concat(m: usize, parts: &[(&[f32], usize)]) -> Vec<f32> {
        let mut y = Vec::new();
        for r in 0..m {
            for &(x, c) in parts {
                for ch in 0..c {
                    y.push(x[r * c + ch]);
                }
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{dot, gradcheck, nan_filled, random};

    #[test]
    fn concat_matches_reference_and_split_round_trips() {
        crate::parallel::set_threads(2);
        // An Inception-like module (64, 128, 32, 32 channels at 7x7, batch 3) and small odd ones.
        for (m, widths) in [
            (1, vec![1]),
            (5, vec![3, 1, 2]),
            (3 * 7 * 7, vec![64, 128, 32, 32]),
            (7, vec![2, 5]),
        ] {
            let c_total: usize = widths.iter().sum();
            let parts: Vec<Vec<f32>> = widths
                .iter()
                .enumerate()
                .map(|(i, &c)| random(m * c, i as u64))
                .collect();
            let mut y = nan_filled(m * c_total);
            let mut offset = 0;
            for (x, &c) in parts.iter().zip(&widths) {
                concat_part(m, c_total, offset, c, x, &mut y).unwrap();
                offset += c;
            }
            let refs: Vec<(&[f32], usize)> = parts
                .iter()
                .map(|p| &p[..])
                .zip(widths.iter().copied())
                .collect();
            assert_eq!(y, reference::concat(m, &refs));
            let mut offset = 0;
            for (x, &c) in parts.iter().zip(&widths) {
                let mut back = nan_filled(m * c);
                split_part(m, c_total, offset, c, &y, &mut back).unwrap();
                assert_eq!(&back, x);
                offset += c;
            }
        }
    }

    /// Concatenation is a permutation: its gradient check through split.
    #[test]
    fn gradcheck_concat() {
        let (m, c1, c2) = (4, 2, 3);
        let (mut a, mut b) = (random(m * c1, 1), random(m * c2, 2));
        let r = random(m * (c1 + c2), 3);
        let (mut da, mut db) = (nan_filled(a.len()), nan_filled(b.len()));
        split_part(m, c1 + c2, 0, c1, &r, &mut da).unwrap();
        split_part(m, c1 + c2, c1, c2, &r, &mut db).unwrap();
        let loss = |a: &[f32], b: &[f32]| {
            let mut y = vec![0.0; m * (c1 + c2)];
            concat_part(m, c1 + c2, 0, c1, a, &mut y).unwrap();
            concat_part(m, c1 + c2, c1, c2, b, &mut y).unwrap();
            dot(&y, &r)
        };
        gradcheck(&mut a, &da, 1e-3, 1e-3, None, |a| loss(a, &b));
        gradcheck(&mut b, &db, 1e-3, 1e-3, None, |b| loss(&a, b));
    }

    #[test]
    fn add_and_add_into() {
        for len in [0, 1, 37, 300_000] {
            let (a, b) = (random(len, 4), random(len, 5));
            let want: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p + q).collect();
            let mut y = nan_filled(len);
            add(&a, &b, &mut y).unwrap();
            assert_eq!(y, want);
            let mut y = a.clone();
            add_into(&mut y, &b).unwrap();
            assert_eq!(y, want);
        }
        let (mut a, b, r) = (random(10, 6), random(10, 7), random(10, 8));
        // d(sum((a + b) r))/da = r.
        gradcheck(&mut a, &r, 1e-3, 1e-3, None, |a| {
            let mut y = vec![0.0; 10];
            add(a, &b, &mut y).unwrap();
            dot(&y, &r)
        });
    }

    #[test]
    fn bad_shapes_are_errors() {
        let (x, mut y) = (vec![0.0; 6], vec![0.0; 15]);
        let msg = |r: Result<()>| r.unwrap_err().to_string();
        assert!(msg(concat_part(3, 5, 0, 2, &x[1..], &mut y)).contains("concat x_part"));
        assert!(msg(concat_part(3, 5, 0, 2, &x, &mut y[1..])).contains("concat y"));
        assert!(msg(concat_part(3, 5, 4, 2, &x, &mut y)).contains("do not fit"));
        assert!(msg(concat_part(3, 5, usize::MAX, 2, &x, &mut y)).contains("do not fit"));
        assert!(msg(concat_part(3, 5, 0, 0, &[], &mut y)).contains("c_part"));
        assert!(msg(concat_part(usize::MAX, 5, 0, 2, &x, &mut y)).contains("overflow"));
        let mut dx = vec![0.0; 6];
        assert!(msg(split_part(3, 5, 0, 2, &y[1..], &mut dx)).contains("split dy"));
        assert!(msg(split_part(3, 5, 0, 2, &y, &mut dx[1..])).contains("split dx_part"));
        assert!(msg(split_part(3, 5, 3, 3, &y, &mut dx)).contains("do not fit"));
        assert!(msg(add(&x, &x[1..], &mut dx)).contains("add b"));
        assert!(msg(add(&x, &x, &mut dx[1..])).contains("add y"));
        assert!(msg(add_into(&mut dx, &x[1..])).contains("add_into x"));
        // No rows is nothing to do.
        concat_part(0, 5, 0, 2, &[], &mut []).unwrap();
    }
}
