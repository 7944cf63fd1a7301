//! The `visualize` example's pictures: the Zeiler-Fergus grid of a
//! layer's top patches, each cut to the unit's receptive field, and the
//! rows of gradient-ascent pictures; rows of cells written as one PNG.

use std::path::Path;

use cnn::ndarray::Array4;
use cnn::net::ReceptiveField;

use super::{centre, Top, SIDE};
use crate::lenet5_net::{MNIST_MEAN, MNIST_STD};

/// A picture, `rgb` `h x w x 3` in 0..1.
pub struct Cell {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<f32>,
}

/// The background of what lies outside the picture (padding).
const OUTSIDE: [f32; 3] = [0.25, 0.1, 0.1];

/// A normalised MNIST pixel in 0..1.
fn pixel(v: f32) -> f32 {
    (v * MNIST_STD + MNIST_MEAN).clamp(0.0, 1.0)
}

/// The cell of one top patch: the field's square (clipped to the picture's
/// size), the patch placed where it sits in the field, the part of the
/// field outside the picture dark red; scaled `z` times.
fn patch_cell(images: &[f32], top: &Top, field: &ReceptiveField, z: usize) -> Cell {
    let ch = field.size[0].min(SIDE);
    let cw = field.size[1].min(SIDE);
    let origin = field.origin(top.at[0], top.at[1]);
    let p = top.patch;
    // Where the patch starts inside the cell: how far the field reaches
    // into the padding, at most what leaves the patch inside the cell.
    let dy = ((p.top as isize - origin[0]).max(0) as usize).min(ch - p.height);
    let dx = ((p.left as isize - origin[1]).max(0) as usize).min(cw - p.width);
    let (w, h) = (cw * z, ch * z);
    let mut rgb = Vec::with_capacity(w * h * 3);
    let img = &images[top.image * SIDE * SIDE..(top.image + 1) * SIDE * SIDE];
    for y in 0..h {
        for x in 0..w {
            let (fy, fx) = (y / z, x / z);
            let inside = (dy..dy + p.height).contains(&fy) && (dx..dx + p.width).contains(&fx);
            if inside {
                let v = pixel(img[(p.top + fy - dy) * SIDE + p.left + fx - dx]);
                rgb.extend([v, v, v]);
            } else {
                rgb.extend(OUTSIDE);
            }
        }
    }
    Cell { w, h, rgb }
}

/// The Zeiler-Fergus figure of one layer: a row per unit, its top patches
/// left to right, each scaled to about 60 pixels.
pub fn write_top_grid(
    path: &Path,
    images: &[f32],
    tops: &[Vec<Top>],
    field: &ReceptiveField,
) -> Result<(), cnn::Error> {
    let z = (60 / field.size[0].clamp(1, SIDE)).max(1);
    let rows: Vec<Vec<Cell>> = tops
        .iter()
        .map(|unit| {
            unit.iter()
                .map(|t| patch_cell(images, t, field, z))
                .collect()
        })
        .collect();
    write_rows(path, &rows)
}

/// Rows of cells on a dark background, 3 pixels apart, 8 between rows.
pub fn write_rows(path: &Path, rows: &[Vec<Cell>]) -> Result<(), cnn::Error> {
    const GAP: usize = 3;
    const ROW_GAP: usize = 8;
    let width = rows
        .iter()
        .map(|r| r.iter().map(|c| c.w + GAP).sum::<usize>() + GAP)
        .max()
        .unwrap_or(1);
    let heights: Vec<usize> = rows
        .iter()
        .map(|r| r.iter().map(|c| c.h).max().unwrap_or(0))
        .collect();
    let height = heights.iter().map(|h| h + ROW_GAP).sum::<usize>() + ROW_GAP;
    let mut rgb = vec![0.12f32; width * height * 3];
    let mut y0 = ROW_GAP;
    for (row, h) in rows.iter().zip(&heights) {
        let mut x0 = GAP;
        for cell in row {
            for y in 0..cell.h {
                let src = &cell.rgb[y * cell.w * 3..(y + 1) * cell.w * 3];
                let at = ((y0 + y) * width + x0) * 3;
                rgb[at..at + cell.w * 3].copy_from_slice(src);
            }
            x0 += cell.w + GAP;
        }
        y0 += h + ROW_GAP;
    }
    cnn::io::image::write_png_rgb(path, width, height, &rgb, false)
}

/// One row of the ascent figure: each picture cut to the receptive field
/// of the unit it maximises (the centre of the map; the whole picture for
/// the dense layers), scaled to about 96 pixels, its darkest pixel black
/// and its brightest white.
pub fn ascent_row(x: &Array4<f32>, field: &ReceptiveField) -> Vec<Cell> {
    let n = x.dim().0;
    let xs = x.as_slice().expect("standard order");
    let [i, j] = centre(field.name);
    let p = field
        .patch(i, j, [SIDE, SIDE])
        .expect("the centre's field holds pixels of the picture");
    let z = (96 / p.height.max(p.width)).max(1);
    (0..n)
        .map(|b| {
            let img = &xs[b * SIDE * SIDE..(b + 1) * SIDE * SIDE];
            let at = |y: usize, x: usize| img[(p.top + y) * SIDE + p.left + x];
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for y in 0..p.height {
                for x in 0..p.width {
                    (lo, hi) = (lo.min(at(y, x)), hi.max(at(y, x)));
                }
            }
            let (w, h) = (p.width * z, p.height * z);
            let mut rgb = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for x in 0..w {
                    let v = (at(y / z, x / z) - lo) / (hi - lo).max(1e-6);
                    rgb.extend([v, v, v]);
                }
            }
            Cell { w, h, rgb }
        })
        .collect()
}
