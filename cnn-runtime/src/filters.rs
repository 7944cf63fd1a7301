//! Hand-made edge filters from the course, applied with the library's own
//! convolution kernel: the "before deep learning" version of what a first
//! convolutional layer learns.
//!
//! The filters are the course's numbers, written as they are printed (row
//! `i` of the array is row `i` of the filter). Like every deep-learning
//! "convolution", [`apply`] computes a cross-correlation: the filter is not
//! flipped. So [`VERTICAL`] (`1 0 -1` on every row) gives a positive response
//! where a bright region is left of a dark one, and a negative one for dark
//! to bright; take the absolute value for both (course, "Edge detection
//! example"). A *vertical* filter finds vertical edges, that is changes
//! along x (the image gradient `-d/dx`); a *horizontal* one finds changes
//! along y (`-d/dy`, bright above dark is positive).
//!
//! Sobel weights the middle row (or column) by 2, Scharr by 10/3 (3, 10, 3),
//! which makes its response closer to rotation invariant.

use crate::error::{check_len, Error, Result};
use crate::geom::{Act, Conv2dGeom, Padding};
use crate::layers::conv2d::{self, Epilogue};

/// A 3x3 filter, `[row][column]`.
pub type Filter3 = [[f32; 3]; 3];

/// The course's vertical edge detector (bright-left, dark-right is positive).
pub const VERTICAL: Filter3 = [[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]];
/// The course's horizontal edge detector (bright-top, dark-bottom is positive).
pub const HORIZONTAL: Filter3 = [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]];
/// Sobel, vertical edges (x direction): the course's `1 0 -1 / 2 0 -2 / 1 0 -1`.
pub const SOBEL_VERTICAL: Filter3 = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]];
/// Sobel, horizontal edges (y direction): the transpose of [`SOBEL_VERTICAL`].
pub const SOBEL_HORIZONTAL: Filter3 = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]];
/// Scharr, vertical edges (x direction): the course's `3 0 -3 / 10 0 -10 / 3 0 -3`.
pub const SCHARR_VERTICAL: Filter3 = [[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]];
/// Scharr, horizontal edges (y direction): the transpose of [`SCHARR_VERTICAL`].
pub const SCHARR_HORIZONTAL: Filter3 = [[3.0, 10.0, 3.0], [0.0, 0.0, 0.0], [-3.0, -10.0, -3.0]];

/// The filters above with short names, in a fixed order (for examples).
pub const NAMED: [(&str, Filter3); 6] = [
    ("vertical", VERTICAL),
    ("horizontal", HORIZONTAL),
    ("sobel_x", SOBEL_VERTICAL),
    ("sobel_y", SOBEL_HORIZONTAL),
    ("scharr_x", SCHARR_VERTICAL),
    ("scharr_y", SCHARR_HORIZONTAL),
];

/// A single-channel image or filter response, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height * width` values, row after row.
    pub data: Vec<f32>,
}

/// Convolves (cross-correlates) a grey image `[height, width]` with one
/// filter. `Padding::Valid` gives the course's `(n - f + 1)` output
/// (`(height - 2) x (width - 2)`); `Padding::Same` keeps the size, with
/// zeros outside the image (which shows up as edges along the border).
pub fn apply(
    image: &[f32],
    height: usize,
    width: usize,
    filter: &Filter3,
    padding: Padding,
) -> Result<Plane> {
    let mut planes = apply_many(image, height, width, std::slice::from_ref(filter), padding)?;
    Ok(planes.remove(0))
}

/// Convolves a grey image with several filters in one call of the conv2d
/// kernel (one output channel per filter, as a convolutional layer with
/// `filters.len()` filters does), and returns one plane per filter.
pub fn apply_many(
    image: &[f32],
    height: usize,
    width: usize,
    filters: &[Filter3],
    padding: Padding,
) -> Result<Vec<Plane>> {
    if filters.is_empty() {
        return Err(Error::InvalidArgument(
            "filters: at least one filter is needed".into(),
        ));
    }
    let g = Conv2dGeom::new([height, width, 1], filters.len(), [3, 3], [1, 1], padding)?;
    check_len("filters: image", image.len(), g.in_len())?;
    let n = filters.len();
    // w: [fh, fw, c_in = 1, c_out = n].
    let mut w = vec![0.0f32; 9 * n];
    for (k, f) in filters.iter().enumerate() {
        for i in 0..3 {
            for j in 0..3 {
                w[(i * 3 + j) * n + k] = f[i][j];
            }
        }
    }
    let mut y = vec![0.0f32; g.out_len()];
    conv2d::forward(
        &g,
        1,
        1,
        image,
        &w,
        &Epilogue::new(None, Act::Identity),
        &mut y,
    )?;
    // y is [out_h, out_w, n]: split the channels.
    Ok((0..n)
        .map(|k| Plane {
            height: g.out_h,
            width: g.out_w,
            data: y.iter().skip(k).step_by(n).copied().collect(),
        })
        .collect())
}

/// `sqrt(gx^2 + gy^2)` element by element: the edge strength whatever its
/// direction, from a vertical and a horizontal response of the same size.
pub fn gradient_magnitude(gx: &[f32], gy: &[f32]) -> Result<Vec<f32>> {
    check_len("gradient magnitude: gy", gy.len(), gx.len())?;
    Ok(gx.iter().zip(gy).map(|(&a, &b)| a.hypot(b)).collect())
}

/// Luma of an RGB image `[height, width, 3]` (values in any range), with
/// the ITU-R BT.601 weights `0.299 R + 0.587 G + 0.114 B` that PIL's
/// `convert("L")` and OpenCV's `cvtColor` use.
pub fn grey_from_rgb(rgb: &[f32], height: usize, width: usize) -> Result<Vec<f32>> {
    let pixels = height
        .checked_mul(width)
        .ok_or_else(|| Error::InvalidArgument(format!("image {height}x{width} is too large")))?;
    check_len(
        &format!("grey_from_rgb: pixels of a {height}x{width}x3 image"),
        rgb.len(),
        pixels.saturating_mul(3),
    )?;
    Ok(rgb
        .chunks_exact(3)
        .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, random};

    /// The course's 6x6 example: three columns of 10 then three of 0.
    fn course_image() -> Vec<f32> {
        (0..36)
            .map(|i| if i % 6 < 3 { 10.0 } else { 0.0 })
            .collect()
    }

    /// The slow definition: out[y][x] = sum_ij f[i][j] * in[y + i][x + j] (valid).
    fn reference(image: &[f32], h: usize, w: usize, f: &Filter3) -> Vec<f32> {
        let mut out = Vec::new();
        for y in 0..h - 2 {
            for x in 0..w - 2 {
                let mut acc = 0.0f64;
                for (i, row) in f.iter().enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        acc += v as f64 * image[(y + i) * w + x + j] as f64;
                    }
                }
                out.push(acc as f32);
            }
        }
        out
    }

    #[test]
    fn course_vertical_edge_example() {
        // Course, "Edge detection example": 6x6 * 3x3 -> 4x4, every row 0 30 30 0.
        let out = apply(&course_image(), 6, 6, &VERTICAL, Padding::Valid).unwrap();
        assert_eq!((out.height, out.width), (4, 4));
        assert_eq!(out.data, [0.0, 30.0, 30.0, 0.0].repeat(4));
        // Dark to bright gives the same edge with a negative sign.
        let flipped: Vec<f32> = course_image().iter().map(|v| 10.0 - v).collect();
        let out = apply(&flipped, 6, 6, &VERTICAL, Padding::Valid).unwrap();
        assert_eq!(out.data, [0.0, -30.0, -30.0, 0.0].repeat(4));
    }

    #[test]
    fn horizontal_filter_finds_the_transposed_edge() {
        // The course image transposed: three rows of 10 above three of 0.
        let image: Vec<f32> = (0..36)
            .map(|i| if i / 6 < 3 { 10.0 } else { 0.0 })
            .collect();
        let out = apply(&image, 6, 6, &HORIZONTAL, Padding::Valid).unwrap();
        let want: Vec<f32> = [0.0, 30.0, 30.0, 0.0]
            .iter()
            .flat_map(|&v| [v; 4])
            .collect();
        assert_eq!(out.data, want);
        assert_eq!(
            apply(&image, 6, 6, &VERTICAL, Padding::Valid).unwrap().data,
            vec![0.0; 16]
        );
    }

    #[test]
    fn sobel_and_scharr_on_a_ramp() {
        // in[y][x] = x: each row of SOBEL_VERTICAL gives 1*(x-1) - 1*(x+1) = -2,
        // weighted 1, 2, 1: -8. Scharr: -2 * (3 + 10 + 3) = -32. The horizontal
        // versions see no change along y: 0.
        let (h, w) = (5, 7);
        let ramp: Vec<f32> = (0..h * w).map(|i| (i % w) as f32).collect();
        let planes = apply_many(&ramp, h, w, &NAMED.map(|(_, f)| f), Padding::Valid).unwrap();
        let wants = [-6.0, 0.0, -8.0, 0.0, -32.0, 0.0];
        for ((name, _), (plane, want)) in NAMED.iter().zip(planes.iter().zip(wants)) {
            assert_eq!((plane.height, plane.width), (3, 5), "{name}");
            assert!(
                plane.data.iter().all(|&v| v == want),
                "{name}: {:?}",
                plane.data
            );
        }
    }

    #[test]
    fn matches_the_reference_on_random_images() {
        let (h, w) = (9, 13);
        let image = random(h * w, 11);
        for (name, f) in NAMED {
            let got = apply(&image, h, w, &f, Padding::Valid).unwrap();
            assert_close(&got.data, &reference(&image, h, w, &f), 1e-5, 1e-5);
            let same = apply(&image, h, w, &f, Padding::Same).unwrap();
            assert_eq!((same.height, same.width), (h, w), "{name}");
            // The interior of `same` is the `valid` result.
            assert_close(
                &same.data[w + 1..w + 1 + (w - 2)],
                &got.data[..w - 2],
                1e-5,
                1e-5,
            );
        }
    }

    #[test]
    fn magnitude_and_grey() {
        assert_eq!(
            gradient_magnitude(&[3.0, 0.0], &[4.0, -2.0]).unwrap(),
            vec![5.0, 2.0]
        );
        assert!(gradient_magnitude(&[1.0], &[]).is_err());
        let grey = grey_from_rgb(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0], 1, 3).unwrap();
        assert_close(&grey, &[0.299, 0.587, 1.0], 1e-6, 1e-7);
        assert!(grey_from_rgb(&[0.0; 8], 1, 3).is_err());
    }

    #[test]
    fn bad_sizes_are_errors() {
        // A 2x2 image is smaller than the filter.
        assert!(apply(&[0.0; 4], 2, 2, &VERTICAL, Padding::Valid).is_err());
        assert!(apply(&[0.0; 5], 3, 2, &VERTICAL, Padding::Same).is_err());
        assert!(apply_many(&[0.0; 9], 3, 3, &[], Padding::Valid).is_err());
    }
}
