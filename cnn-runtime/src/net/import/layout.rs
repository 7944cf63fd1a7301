//! PyTorch's tensor layouts turned into ours. PyTorch stores a convolution's
//! weight `[c_out, c_in / groups, fh, fw]` and a `Linear`'s `[out, in]`;
//! ours are `[fh, fw, c_in / groups, c_out]` (the im2col GEMM's `K x N`
//! matrix) and `[in, out]`. A `Linear` after `torch.flatten` of an image
//! reads its inputs in `(C, H, W)` order, ours after `Flatten` in
//! `(H, W, C)` order, so its rows are permuted as well. Each function is a
//! plain index formula; the tests check them against hand-written cases.

/// PyTorch's `[c_out, c_in, fh, fw]` (`c_in` per group) as ours
/// `[fh, fw, c_in, c_out]`:
/// `ours[((y * fw + x) * c_in + i) * c_out + o] = torch[((o * c_in + i) * fh + y) * fw + x]`.
/// `torch.len()` must be `fh * fw * c_in * c_out`.
pub(super) fn conv_weight(torch: &[f32], [fh, fw, c_in, c_out]: [usize; 4]) -> Vec<f32> {
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
pub(super) fn linear_weight(
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
}
