//! The course's sliding windows done convolutionally (week 3; Sermanet et
//! al. 2014, OverFeat), shared by `examples/sliding_windows.rs` and
//! `tests/sliding_windows.rs`: a classifier of `14x14x3` crops into four
//! classes (the course's network: a `5x5` convolution of 16 filters, a
//! `2x2` max pool, dense layers of 400 and 400 units, a softmax of 4) and
//! its convolutional twins, the dense layers written as convolutions
//! (`5x5` filters for the first, `1x1` after), declared once per picture
//! size because a network's shapes are fixed at compile time. The twins'
//! layers have the classifier's names, so `twin.load_dense_as_conv(path)`
//! loads a trained classifier's file as it is: `Flatten` keeps the
//! `(h, w, c)` order that a convolution's `[fh, fw, c, filters]` weight
//! has, so the numbers need no reordering.
//!
//! On a `14 + 2k` picture a twin outputs `(k + 1) x (k + 1) x 4`: the
//! windows of `14x14` at stride 2 (the max pool's), cell `(i, j)` being the
//! classifier on the crop at `(2i, 2j)`.

// Each includer uses part of this file.
#![allow(dead_code)]

use cnn::prelude::*;

network! {
    /// The classifier as it is trained, on `14x14x3` crops.
    pub struct CropClassifier {
        input: [14, 14, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            Flatten,
            fc1: Dense { units: 400 },
            Relu,
            fc2: Dense { units: 400 },
            Relu,
            fc3: Dense { units: 4 },
            Softmax,
        ],
    }

    /// Its twin on a crop: `1x1x4`.
    pub struct ConvOn14 {
        input: [14, 14, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            fc1: Conv2d { filters: 400, kernel: 5 },
            Relu,
            fc2: Conv2d { filters: 400, kernel: 1 },
            Relu,
            fc3: Conv2d { filters: 4, kernel: 1 },
            Softmax,
        ],
    }

    /// The course's `16x16x3` picture: `2x2x4`.
    pub struct ConvOn16 {
        input: [16, 16, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            fc1: Conv2d { filters: 400, kernel: 5 },
            Relu,
            fc2: Conv2d { filters: 400, kernel: 1 },
            Relu,
            fc3: Conv2d { filters: 4, kernel: 1 },
            Softmax,
        ],
    }

    /// The course's `28x28x3` picture: `8x8x4`.
    pub struct ConvOn28 {
        input: [28, 28, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            fc1: Conv2d { filters: 400, kernel: 5 },
            Relu,
            fc2: Conv2d { filters: 400, kernel: 1 },
            Relu,
            fc3: Conv2d { filters: 4, kernel: 1 },
            Softmax,
        ],
    }

    /// A larger picture for timing, `96x96x3`: `42x42x4`, 1,764 windows.
    pub struct ConvOn96 {
        input: [96, 96, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            fc1: Conv2d { filters: 400, kernel: 5 },
            Relu,
            fc2: Conv2d { filters: 400, kernel: 1 },
            Relu,
            fc3: Conv2d { filters: 4, kernel: 1 },
            Softmax,
        ],
    }
}

/// The side of a crop.
pub const CROP: usize = 14;
/// The windows' stride: the max pool's.
pub const STRIDE: usize = 2;
/// The four classes, in output order (the course's background is last).
pub const CLASSES: [&str; 4] = ["zero", "one", "two", "background"];

// The twins' outputs, as the course gives them.
const _: () = assert!(matches!(ConvOn14::OUTPUT_SHAPE, [1, 1, 4]));
const _: () = assert!(matches!(ConvOn16::OUTPUT_SHAPE, [2, 2, 4]));
const _: () = assert!(matches!(ConvOn28::OUTPUT_SHAPE, [8, 8, 4]));
const _: () = assert!(matches!(ConvOn96::OUTPUT_SHAPE, [42, 42, 4]));

/// The crop of `picture` (`[side, side, 3]`, NHWC) at `(y, x)`.
pub fn crop(picture: &[f32], side: usize, y: usize, x: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(CROP * CROP * 3);
    for r in y..y + CROP {
        out.extend_from_slice(&picture[(r * side + x) * 3..(r * side + x + CROP) * 3]);
    }
    out
}

/// Every window of a `side x side` picture, row by row: `k * k` crops
/// with `k = (side - 14) / 2 + 1`, as one `[k * k, 14, 14, 3]` batch.
pub fn all_crops(picture: &[f32], side: usize) -> Vec<f32> {
    let k = (side - CROP) / STRIDE + 1;
    let mut out = Vec::with_capacity(k * k * CROP * CROP * 3);
    for i in 0..k {
        for j in 0..k {
            out.extend(crop(picture, side, STRIDE * i, STRIDE * j));
        }
    }
    out
}

/// The class of an MNIST label: digits 0, 1 and 2 are themselves, every
/// other digit is background (something that is none of our objects).
pub fn class_of(label: u8) -> usize {
    if label <= 2 {
        label as usize
    } else {
        3
    }
}

/// MNIST image `i` halved to `14x14` (means of `2x2` blocks), in 0..=1.
pub fn half_digit(set: &cnn::data::LabelledImages, i: usize) -> Vec<f32> {
    let img = set.image(i).unwrap_or(&[]);
    let max = set.max_value.max(1) as f32;
    let w = set.width;
    let mut out = vec![0.0; CROP * CROP];
    for y in 0..CROP {
        for x in 0..CROP {
            let at = |dy: usize, dx: usize| img[(2 * y + dy) * w + 2 * x + dx] as f32;
            out[y * CROP + x] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / (4.0 * max);
        }
    }
    out
}

/// Paints `digit` (`14x14` grey) at `(y, x)` of a `side x side x 3`
/// picture in `colour`, keeping the brighter value.
pub fn paint(
    picture: &mut [f32],
    side: usize,
    digit: &[f32],
    y: usize,
    x: usize,
    colour: [f32; 3],
) {
    for r in 0..CROP {
        for c in 0..CROP {
            let v = digit[r * CROP + c];
            let at = ((y + r) * side + x + c) * 3;
            for (k, &col) in colour.iter().enumerate() {
                picture[at + k] = picture[at + k].max(v * col);
            }
        }
    }
}

/// A bright random colour for a digit.
pub fn colour(rng: &mut cnn::rng::Rng) -> [f32; 3] {
    [
        rng.uniform_in(0.4, 1.0),
        rng.uniform_in(0.4, 1.0),
        rng.uniform_in(0.4, 1.0),
    ]
}

/// A dark background of a random tint with a little noise.
pub fn background(side: usize, rng: &mut cnn::rng::Rng) -> Vec<f32> {
    let tint = [
        rng.uniform_in(0.0, 0.2),
        rng.uniform_in(0.0, 0.2),
        rng.uniform_in(0.0, 0.2),
    ];
    (0..side * side * 3)
        .map(|i| tint[i % 3] + rng.uniform_in(0.0, 0.05))
        .collect()
}

/// `n` labelled crops from `set` (MNIST): a coloured digit halved to
/// `14x14` on a dark background, its class by [`class_of`]; one crop in
/// eight has no digit at all (background too).
pub fn crops(set: &cnn::data::LabelledImages, n: usize, seed: u64) -> Result<Dataset, cnn::Error> {
    let mut rng = cnn::rng::Rng::new(seed);
    let mut x = Vec::with_capacity(n * CROP * CROP * 3);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let mut pic = background(CROP, &mut rng);
        if rng.below(8) == 0 {
            labels.push(3);
        } else {
            let i = rng.below(set.len());
            let c = colour(&mut rng);
            paint(&mut pic, CROP, &half_digit(set, i), 0, 0, c);
            labels.push(class_of(set.labels[i]));
        }
        x.extend(pic);
    }
    Dataset::new([CROP, CROP, 3], x, labels, 4)
}
