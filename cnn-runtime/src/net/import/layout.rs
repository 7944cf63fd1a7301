//! PyTorch's tensor layouts turned into ours. PyTorch stores a convolution's
//! weight `[c_out, c_in / groups, fh, fw]` and a `Linear`'s `[out, in]`;
//! ours are `[fh, fw, c_in / groups, c_out]` (the im2col GEMM's `K x N`
//! matrix) and `[in, out]`. A `Conv3d`'s `[c_out, c_in / groups, fd, fh,
//! fw]` is [`conv_weight`]'s case of `fd * fh` rows: ours `[fd, fh, fw,
//! c_in / groups, c_out]`. A `Linear` after `torch.flatten` of an image
//! reads its inputs in `(C, H, W)` order, ours after `Flatten` in
//! `(H, W, C)` order, so its rows are permuted as well. Each function is a
//! plain index formula; the tests check them against hand-written cases.
//! ONNX uses PyTorch's layouts (and NCHW), so the ONNX export runs the
//! same formulas backwards ([`conv_weight_to_torch`],
//! [`rows_to_channels_first`]) and its import runs them forwards.

/// PyTorch's `[c_out, c_in, fh, fw]` (`c_in` per group) as ours
/// `[fh, fw, c_in, c_out]`:
/// `ours[((y * fw + x) * c_in + i) * c_out + o] = torch[((o * c_in + i) * fh + y) * fw + x]`.
/// `torch.len()` must be `fh * fw * c_in * c_out`.
pub(crate) fn conv_weight(torch: &[f32], [fh, fw, c_in, c_out]: [usize; 4]) -> Vec<f32> {
    debug_assert_eq!(torch.len(), fh * fw * c_in * c_out);
    let mut ours = vec![0.0; torch.len()];
    for y in 0..fh {
        for x in 0..fw {
            for i in 0..c_in {
                let row = ((y * fw + x) * c_in + i) * c_out;
                for o in 0..c_out {
                    ours[row + o] = torch[((o * c_in + i) * fh + y) * fw + x];
                }
            }
        }
    }
    ours
}

/// PyTorch's `Linear` weight `[units, n_in]` as ours `[n_in, units]`. With
/// `image: Some([h, w, c])` (`h * w * c == n_in`) the layer follows a
/// flatten of an `h x w x c` image, and input `(y, x, ch)` sits at row
/// `(y * w + x) * c + ch` here but at column `ch * h * w + y * w + x` there:
/// `ours[((y * w + x) * c + ch) * units + o] = torch[o * n_in + ch * h * w + y * w + x]`.
pub(crate) fn linear_weight(
    torch: &[f32],
    n_in: usize,
    units: usize,
    image: Option<[usize; 3]>,
) -> Vec<f32> {
    debug_assert_eq!(torch.len(), n_in * units);
    let mut ours = vec![0.0; torch.len()];
    // The column of PyTorch's matrix that feeds our row `r`.
    let column = |r: usize| match image {
        Some([h, w, c]) => {
            let (pixel, ch) = (r / c, r % c);
            ch * h * w + pixel
        }
        None => r,
    };
    for r in 0..n_in {
        let col = column(r);
        for o in 0..units {
            ours[r * units + o] = torch[o * n_in + col];
        }
    }
    ours
}

/// Ours `[fh, fw, c_in, c_out]` as PyTorch's (and ONNX's) `[c_out, c_in,
/// fh, fw]`: [`conv_weight`] backwards,
/// `torch[((o * c_in + i) * fh + y) * fw + x] = ours[((y * fw + x) * c_in + i) * c_out + o]`.
// Only the ONNX export and import use the reverse formulas.
#[cfg_attr(not(feature = "onnx"), allow(dead_code))]
pub(crate) fn conv_weight_to_torch(ours: &[f32], [fh, fw, c_in, c_out]: [usize; 4]) -> Vec<f32> {
    debug_assert_eq!(ours.len(), fh * fw * c_in * c_out);
    let mut torch = vec![0.0; ours.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            for y in 0..fh {
                for x in 0..fw {
                    torch[((o * c_in + i) * fh + y) * fw + x] =
                        ours[((y * fw + x) * c_in + i) * c_out + o];
                }
            }
        }
    }
    torch
}

/// A dense weight `[n_in, units]` whose rows are in our flatten order
/// `(h, w, c)` with its rows moved to the channels-first order `(c, h, w)`
/// of a flatten of an NCHW image, still `[n_in, units]` (ONNX `Gemm`'s B):
/// `out[(ch * h * w + y * w + x) * units + o] = ours[((y * w + x) * c + ch) * units + o]`.
// Only the ONNX export and import use the reverse formulas.
#[cfg_attr(not(feature = "onnx"), allow(dead_code))]
pub(crate) fn rows_to_channels_first(
    ours: &[f32],
    units: usize,
    [h, w, c]: [usize; 3],
) -> Vec<f32> {
    debug_assert_eq!(ours.len(), h * w * c * units);
    let mut out = vec![0.0; ours.len()];
    for (r, row) in ours.chunks_exact(units.max(1)).enumerate() {
        let (pixel, ch) = (r / c, r % c);
        let to = (ch * h * w + pixel) * units;
        out[to..to + units].copy_from_slice(row);
    }
    out
}

/// [`rows_to_channels_first`] backwards: rows in `(c, h, w)` order to ours
/// `(h, w, c)`, `out[((y * w + x) * c + ch) * units + o] = theirs[(ch * h * w + y * w + x) * units + o]`.
// Only the ONNX export and import use the reverse formulas.
#[cfg_attr(not(feature = "onnx"), allow(dead_code))]
pub(crate) fn rows_from_channels_first(
    theirs: &[f32],
    units: usize,
    [h, w, c]: [usize; 3],
) -> Vec<f32> {
    debug_assert_eq!(theirs.len(), h * w * c * units);
    let mut out = vec![0.0; theirs.len()];
    for (r, row) in out.chunks_exact_mut(units.max(1)).enumerate() {
        let (pixel, ch) = (r / c, r % c);
        let from = (ch * h * w + pixel) * units;
        row.copy_from_slice(&theirs[from..from + units]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_weight_moves_each_element_to_its_place() {
        // torch[o][i][y][x] = 1000 o + 100 i + 10 y + x, shape [3, 2, 2, 4].
        let (co, ci, fh, fw) = (3, 2, 2, 4);
        let mut torch = Vec::new();
        for o in 0..co {
            for i in 0..ci {
                for y in 0..fh {
                    for x in 0..fw {
                        torch.push((1000 * o + 100 * i + 10 * y + x) as f32);
                    }
                }
            }
        }
        let ours = conv_weight(&torch, [fh, fw, ci, co]);
        // ours[y][x][i][o], row-major over [2, 4, 2, 3].
        assert_eq!(ours[0], 0.0);
        assert_eq!(ours[1], 1000.0); // o = 1
        assert_eq!(ours[3], 100.0); // i = 1
        assert_eq!(ours[6], 1.0); // x = 1
        assert_eq!(ours[4 * 6], 10.0); // y = 1
        assert_eq!(*ours.last().unwrap(), 2000.0 + 100.0 + 10.0 + 3.0);
    }

    #[test]
    fn linear_weight_transposes_and_permutes_a_flattened_image() {
        // An image 2 (h) x 3 (w) x 2 (c), one output unit that reads
        // torch column k with weight k: torch flattens (c, h, w).
        let (h, w, c) = (2, 3, 2);
        let torch: Vec<f32> = (0..h * w * c).map(|k| k as f32).collect();
        let ours = linear_weight(&torch, h * w * c, 1, Some([h, w, c]));
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let expected = (ch * h * w + y * w + x) as f32;
                    assert_eq!(ours[(y * w + x) * c + ch], expected, "y {y} x {x} ch {ch}");
                }
            }
        }
        // Without the image it is a plain transpose: [2, 3] -> [3, 2].
        let torch = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            linear_weight(&torch, 3, 2, None),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }

    #[test]
    fn the_reverse_formulas_undo_the_forward_ones() {
        let (fh, fw, ci, co) = (3, 2, 4, 5);
        let torch: Vec<f32> = (0..fh * fw * ci * co).map(|k| k as f32).collect();
        let ours = conv_weight(&torch, [fh, fw, ci, co]);
        assert_eq!(conv_weight_to_torch(&ours, [fh, fw, ci, co]), torch);

        // A flatten of 2 x 3 x 2 into 4 units: PyTorch's [4, 12] in
        // (c, h, w) columns gives ours with linear_weight; moving our rows
        // to channels-first gives PyTorch's matrix transposed.
        let (h, w, c, units) = (2, 3, 2, 4);
        let n_in = h * w * c;
        let torch: Vec<f32> = (0..n_in * units).map(|k| k as f32).collect();
        let ours = linear_weight(&torch, n_in, units, Some([h, w, c]));
        let theirs = rows_to_channels_first(&ours, units, [h, w, c]);
        for r in 0..n_in {
            for o in 0..units {
                assert_eq!(
                    theirs[r * units + o],
                    torch[o * n_in + r],
                    "row {r} unit {o}"
                );
            }
        }
        assert_eq!(rows_from_channels_first(&theirs, units, [h, w, c]), ours);
    }
}
