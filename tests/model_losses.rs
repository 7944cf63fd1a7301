//! `Model` with any loss and any targets: regression on value rows (mean
//! squared error, reported with the mean absolute error), segmentation on
//! label maps (a softmax per position, its cross-entropy fused), and the
//! rules: values need a loss, augmentation that moves pixels moves label
//! maps with them (and is refused for values, which may be boxes), the
//! history and checkpoint carry the metric.

use cnn::data::Dataset;
use cnn::loss::Mse;
use cnn::prelude::*;
use cnn::train::{Metric, RandomShift};

network! {
    /// Two numbers of an 6x6 image: its mean and the mean of its left half.
    struct Regressor {
        input: [6, 6, 1],
        layers: [
            c: Conv2d { filters: 4, kernel: 3, padding: same },
            Relu,
            Flatten,
            h: Dense { units: 16 },
            Relu,
            out: Dense { units: 2 },
        ],
    }
}

network! {
    /// A label per pixel: whether it is bright.
    struct Segmenter {
        input: [6, 6, 1],
        layers: [
            c1: Conv2d { filters: 8, kernel: 3, padding: same },
            Relu,
            c2: Conv2d { filters: 2, kernel: 1 },
            Softmax,
        ],
    }
}

fn regression(n: usize, seed: u64) -> Dataset {
    let x = crate::common::random(n * 36, seed);
    let mut v = Vec::new();
    for img in x.chunks_exact(36) {
        let mean: f32 = img.iter().sum::<f32>() / 36.0;
        let left: f32 = img.chunks_exact(6).flat_map(|row| &row[..3]).sum::<f32>() / 18.0;
        v.extend([mean, left]);
    }
    Dataset::with_values([6, 6, 1], x, v, 2).unwrap()
}

fn segmentation(n: usize, seed: u64) -> Dataset {
    let x = crate::common::random(n * 36, seed);
    let maps = x.iter().map(|&p| usize::from(p > 0.2)).collect();
    Dataset::with_label_maps([6, 6, 1], x, maps, 36, 2).unwrap()
}

#[test]
fn regression_with_mse_learns_and_reports_the_mean_absolute_error() {
    let train = regression(256, 1);
    let val = regression(64, 2);
    let mut model = Model::compile(Regressor::new(3), Adam::new(3e-3)).loss(Mse);
    let before = model.evaluate(&val, 64).unwrap();
    let history = model
        .fit(
            &train,
            Fit::epochs(30)
                .batch_size(32)
                .validation_data(&val)
                .verbose(false),
        )
        .unwrap()
        .clone();
    assert_eq!(history.metric, Metric::MeanAbsoluteError);
    let last = history.last().unwrap();
    let after = model.evaluate(&val, 64).unwrap();
    assert!(
        after.loss < 0.2 * before.loss,
        "mse {} -> {}",
        before.loss,
        after.loss
    );
    // The metric is the mean absolute error, lower after training.
    assert!(after.accuracy < before.accuracy);
    assert!((last.val_accuracy.unwrap() - after.accuracy).abs() < 1e-5);
    assert!(history
        .to_csv()
        .starts_with("epoch,loss,mae,val_loss,val_mae"));
}

#[test]
fn segmentation_with_a_softmax_per_position() {
    let train = segmentation(128, 4);
    let val = segmentation(32, 5);
    let mut model = Model::compile(Segmenter::new(6), Adam::new(1e-2));
    model
        .fit(&train, Fit::epochs(15).batch_size(16).verbose(false))
        .unwrap();
    let eval = model.evaluate(&val, 32).unwrap();
    // Pixel accuracy: a threshold at 0.2 is easy to learn per pixel.
    assert!(eval.accuracy > 0.95, "{eval:?}");
    // predict gives a probability per pixel and class.
    let x = cnn::ndarray::Array4::from_shape_vec((1, 6, 6, 1), val.image(0).to_vec()).unwrap();
    let p = model.network().predict(x.view()).unwrap();
    assert_eq!(p.shape(), &[1, 72]);
    for pair in p.as_slice().unwrap().chunks_exact(2) {
        assert!((pair[0] + pair[1] - 1.0).abs() < 1e-5);
    }
}

#[test]
fn label_maps_move_with_mirrored_pixels() {
    use cnn::augment::{Affine, Mirror, Pipeline};
    let train = segmentation(128, 4);
    let val = segmentation(32, 5);
    // Mirrors move whole pixels: a label that stayed would disagree with
    // its mirrored pixel (a fifth of the pixels are below the threshold),
    // and the network could not reach the accuracy of an unaugmented run.
    let flips = Pipeline::new()
        .then(Mirror::horizontal(0.5))
        .then(Mirror::vertical(0.5))
        .label_border(0);
    let mut model = Model::compile(Segmenter::new(6), Adam::new(1e-2));
    model
        .fit(
            &train,
            Fit::epochs(15)
                .batch_size(16)
                .augment(&flips)
                .verbose(false),
        )
        .unwrap();
    let eval = model.evaluate(&val, 32).unwrap();
    assert!(eval.accuracy > 0.95, "{eval:?}");
    // A constant border leaves positions without a class unless told.
    let turn = Pipeline::new().then(Affine::rotation(10.0));
    let err = model
        .fit(&train, Fit::epochs(1).augment(&turn).verbose(false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("label_border(class)"), "{err}");
}

#[test]
fn targets_that_do_not_fit_are_errors() {
    let values = regression(8, 7);
    let mut model = Model::compile(Regressor::new(8), Sgd::new(0.1));
    let err = model
        .fit(&values, Fit::epochs(1).verbose(false))
        .unwrap_err();
    assert!(err.to_string().contains("need a loss"), "{err}");
    let shift = RandomShift { max: 1, fill: 0.0 };
    let mut model = Model::compile(Regressor::new(8), Sgd::new(0.1)).loss(Mse);
    let err = model
        .fit(&values, Fit::epochs(1).augment(&shift).verbose(false))
        .unwrap_err();
    assert!(
        err.to_string().contains("random shift moves pixels"),
        "{err}"
    );
    // Value rows of another length: the loss says so.
    let short = Dataset::with_values([6, 6, 1], vec![0.0; 36 * 4], vec![0.0; 4], 1).unwrap();
    assert!(model.fit(&short, Fit::epochs(1).verbose(false)).is_err());
}
