//! Resampling with the triangle (bilinear) filter, widened when shrinking
//! so that every source pixel counts (no aliasing on large photographs),
//! and "resize to fill": scale so the picture covers the target with its
//! aspect ratio kept, then crop the centre.
//!
//! The arithmetic is the `image` crate's (0.25, `FilterType::Triangle`),
//! which this library used before it read PNG and JPEG itself: the same
//! sizes, the same weights, columns then rows in `f32`, so a folder of
//! photographs gives the data set it gave then. Pixels are HWC, any
//! number of channels.

/// The size `w x h` scales to so that it covers `nw x nh` with its aspect
/// ratio kept (the larger of the two ratios, rounded, at least 1).
pub(crate) fn fill_size(w: usize, h: usize, nw: usize, nh: usize) -> (usize, usize) {
    let ratio = f64::max(nw as f64 / w as f64, nh as f64 / h as f64);
    let scaled = |n: usize| ((n as f64 * ratio).round() as usize).max(1);
    (scaled(w), scaled(h))
}

/// Where the filter reads for each output position along one axis: the
/// first source index and its normalised weights.
fn taps(n: usize, new_n: usize) -> Vec<(usize, Vec<f32>)> {
    let ratio = n as f32 / new_n as f32;
    let sratio = ratio.max(1.0);
    // The triangle's support is 1, widened by the shrink ratio.
    let support = sratio;
    (0..new_n)
        .map(|out| {
            // The centre of the output pixel, in source coordinates.
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, n as i64 - 1) as usize;
            let right =
                ((centre + support).ceil() as i64).clamp(left as i64 + 1, n as i64) as usize;
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| {
                    let x = ((i as f32 - centre) / sratio).abs();
                    if x < 1.0 {
                        1.0 - x
                    } else {
                        0.0
                    }
                })
                .collect();
            let sum: f32 = weights.iter().sum();
            weights.iter_mut().for_each(|w| *w /= sum);
            (left, weights)
        })
        .collect()
}

/// `src` (`h x w x c`) resampled to `new_h x new_w x c`: rows first, then
/// columns, each output clamped to `0..=max` and, with `round`, rounded
/// to the nearest integer (8-bit pixels held as floats).
pub(crate) fn resize(
    src: &[f32],
    [h, w, c]: [usize; 3],
    [new_h, new_w]: [usize; 2],
    max: f32,
    round: bool,
) -> Vec<f32> {
    debug_assert_eq!(src.len(), h * w * c);
    if (new_h, new_w) == (h, w) {
        return src.to_vec();
    }
    // Along the height: h x w x c -> new_h x w x c, unclamped.
    let mut tall = vec![0.0f32; new_h * w * c];
    for (oy, (top, weights)) in taps(h, new_h).into_iter().enumerate() {
        let out = &mut tall[oy * w * c..(oy + 1) * w * c];
        for (k, &wt) in weights.iter().enumerate() {
            let row = &src[(top + k) * w * c..(top + k + 1) * w * c];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v * wt;
            }
        }
    }
    // Along the width: new_h x w x c -> new_h x new_w x c.
    let columns = taps(w, new_w);
    let mut out = vec![0.0f32; new_h * new_w * c];
    for y in 0..new_h {
        let row = &tall[y * w * c..(y + 1) * w * c];
        for (ox, (left, weights)) in columns.iter().enumerate() {
            let pixel = &mut out[(y * new_w + ox) * c..(y * new_w + ox + 1) * c];
            for (k, &wt) in weights.iter().enumerate() {
                let from = &row[(left + k) * c..(left + k + 1) * c];
                for (o, &v) in pixel.iter_mut().zip(from) {
                    *o += v * wt;
                }
            }
            for o in pixel.iter_mut() {
                let v = o.clamp(0.0, max);
                *o = if round { v.round() } else { v };
            }
        }
    }
    out
}

/// `src` (`h x w x c`) scaled to cover `new_h x new_w` ([`fill_size`],
/// [`resize`]) and cropped to it around the centre.
pub(crate) fn resize_to_fill(
    src: &[f32],
    [h, w, c]: [usize; 3],
    [new_h, new_w]: [usize; 2],
    max: f32,
    round: bool,
) -> Vec<f32> {
    let (fw, fh) = fill_size(w, h, new_w, new_h);
    let scaled = resize(src, [h, w, c], [fh, fw], max, round);
    // The crop keeps the centre of the axis that overflows.
    let (x0, y0) = if new_w * fh > fw * new_h {
        (0, (fh - new_h) / 2)
    } else {
        ((fw - new_w) / 2, 0)
    };
    let mut out = Vec::with_capacity(new_h * new_w * c);
    for y in y0..y0 + new_h {
        out.extend_from_slice(&scaled[(y * fw + x0) * c..(y * fw + x0 + new_w) * c]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The triangle filter loop by loop: each output pixel is the weighted
    /// sum over the whole source, with the two axes' weights multiplied.
    fn reference(src: &[f32], [h, w, c]: [usize; 3], [nh, nw]: [usize; 2]) -> Vec<f32> {
        let weight = |i: usize, out: usize, n: usize, new_n: usize| {
            let ratio = n as f32 / new_n as f32;
            let sratio = ratio.max(1.0);
            let centre = (out as f32 + 0.5) * ratio - 0.5;
            let x = ((i as f32 - centre) / sratio).abs();
            if x < 1.0 {
                1.0 - x
            } else {
                0.0
            }
        };
        let mut out = vec![0.0; nh * nw * c];
        for oy in 0..nh {
            for ox in 0..nw {
                for ch in 0..c {
                    let (mut sum, mut norm) = (0.0, 0.0);
                    for y in 0..h {
                        for x in 0..w {
                            let wt = weight(y, oy, h, nh) * weight(x, ox, w, nw);
                            sum += wt * src[(y * w + x) * c + ch];
                            norm += wt;
                        }
                    }
                    out[(oy * nw + ox) * c + ch] = sum / norm;
                }
            }
        }
        out
    }

    #[test]
    fn resize_matches_the_loop_by_loop_filter() {
        let (h, w, c) = (7, 11, 3);
        let src: Vec<f32> = (0..h * w * c)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        for (nh, nw) in [(3, 4), (7, 5), (14, 23), (2, 11), (1, 1), (13, 3)] {
            let fast = resize(&src, [h, w, c], [nh, nw], f32::INFINITY, false);
            let slow = reference(&src, [h, w, c], [nh, nw]);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() < 1e-5, "{nh}x{nw} at {i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn doubling_a_ramp_interpolates_between_its_pixels() {
        // Two pixels, 0 and 1, to four: the output centres sit at source
        // positions -0.25, 0.25, 0.75 and 1.25 (clamped at the edges).
        let out = resize(&[0.0, 1.0], [1, 2, 1], [1, 4], 1.0, false);
        assert_eq!(out, [0.0, 0.25, 0.75, 1.0]);
        // Rounded to 8 bits.
        let out = resize(&[0.0, 255.0], [1, 2, 1], [1, 4], 255.0, true);
        assert_eq!(out, [0.0, 64.0, 191.0, 255.0]);
    }

    #[test]
    fn fill_covers_then_crops_the_centre() {
        assert_eq!(fill_size(640, 480, 224, 224), (299, 224));
        assert_eq!(fill_size(480, 640, 224, 224), (224, 299));
        assert_eq!(fill_size(3, 1000, 1, 1), (1, 333));
        // 4 wide, 1 high, 0 1 2 3: filling 1x2 keeps the height and the
        // middle columns.
        let out = resize_to_fill(&[0.0, 1.0, 2.0, 3.0], [1, 4, 1], [1, 2], 9.0, false);
        assert_eq!(out, [1.0, 2.0]);
        // 1 wide, 4 high: the middle rows.
        let out = resize_to_fill(&[0.0, 1.0, 2.0, 3.0], [4, 1, 1], [2, 1], 9.0, false);
        assert_eq!(out, [1.0, 2.0]);
    }
}
