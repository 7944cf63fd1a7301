//! Sliding windows done convolutionally (the course's week 3): a `14x14x3`
//! crop classifier's dense layers, loaded with one call into convolutional
//! twins (`load_dense_as_conv`, no reordering: the layouts agree), give on
//! `14x14`, `16x16` and `28x28` pictures `1x1x4`, `2x2x4` and `8x8x4`
//! outputs whose every cell is the classifier run on its crop, within
//! 1e-5.

#[path = "../examples/shared/sliding.rs"]
mod sliding;

use cnn::ndarray::Array4;
use sliding::{crop, ConvOn14, ConvOn16, ConvOn28, CropClassifier, CROP, STRIDE};
use std::path::PathBuf;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cnn-sliding-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The classifier's outputs on each crop of a `side x side` picture, in
/// the twin's cell order, against the twin's output.
fn assert_cells_are_crops(classifier: &CropClassifier, picture: &[f32], side: usize, twin: &[f32]) {
    let k = (side - CROP) / STRIDE + 1;
    assert_eq!(twin.len(), k * k * 4, "{side}x{side}: a {k}x{k}x4 output");
    for i in 0..k {
        for j in 0..k {
            let c = crop(picture, side, STRIDE * i, STRIDE * j);
            let x = Array4::from_shape_vec((1, CROP, CROP, 3), c).unwrap();
            let want = classifier.predict(x.view()).unwrap();
            let got = &twin[(i * k + j) * 4..][..4];
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(
                    (g - w).abs() <= 1e-5,
                    "{side}x{side}, cell ({i}, {j}): {got:?} against the crop's {want:?}"
                );
            }
        }
    }
}

#[test]
fn every_cell_of_the_convolutional_twins_is_the_classifier_on_its_crop() {
    // Trained or not, the weights are the classifier's: random ones
    // exercise every path, and the outputs vary from cell to cell.
    let classifier = CropClassifier::new(7);
    let dir = scratch("cells");
    let path = dir.join("classifier.safetensors");
    classifier.save(&path).unwrap();

    let mut on14 = ConvOn14::new(0);
    let report = on14.load_dense_as_conv(&path).unwrap();
    assert_eq!(report.loaded.len(), CropClassifier::TENSORS.len());
    assert!(report.kept.is_empty() && report.unused.is_empty());
    let mut on16 = ConvOn16::new(0);
    on16.load_dense_as_conv(&path).unwrap();
    let mut on28 = ConvOn28::new(0);
    on28.load_dense_as_conv(&path).unwrap();
    // The same numbers in the same order: the twin's arena is the
    // classifier's.
    assert_eq!(on28.params(), classifier.params());

    let mut spread = 0.0f32;
    for (side, seed) in [(14, 1), (16, 2), (28, 3)] {
        let picture: Vec<f32> = crate::common::random(side * side * 3, seed)
            .iter()
            .map(|v| 3.0 * v)
            .collect();
        let x = Array4::from_shape_vec((1, side, side, 3), picture.clone()).unwrap();
        let out = match side {
            14 => on14.predict(x.view()).unwrap(),
            16 => on16.predict(x.view()).unwrap(),
            _ => on28.predict(x.view()).unwrap(),
        };
        let out = out.as_slice().unwrap();
        let (lo, hi) = out
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        spread = spread.max(hi - lo);
        assert_cells_are_crops(&classifier, &picture, side, out);
    }
    // The comparison means something only if the outputs differ.
    assert!(spread > 0.1, "outputs spread only {spread}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_batch_of_pictures_gives_each_picture_its_cells() {
    let classifier = CropClassifier::new(11);
    let dir = scratch("batch");
    let path = dir.join("classifier.safetensors");
    classifier.save(&path).unwrap();
    let mut on16 = ConvOn16::new(0);
    on16.load_dense_as_conv(&path).unwrap();
    let x = crate::common::images(3, 16, 16, 3, 12);
    let out = on16.predict(x.view()).unwrap();
    for n in 0..3 {
        let picture: Vec<f32> = x
            .index_axis(cnn::ndarray::Axis(0), n)
            .iter()
            .copied()
            .collect();
        assert_cells_are_crops(
            &classifier,
            &picture,
            16,
            &out.as_slice().unwrap()[n * 16..][..16],
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
