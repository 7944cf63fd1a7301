//! LeNet-5 learns real MNIST in a CI-sized run: 3 epochs on the first 12,000
//! training images, tested on all 10,000 test images (96.2-96.6% over four
//! seeds; the first 2,000 test images are harder, about 95%). The full run,
//! 99%+, is the `lenet5` example.

use cnn::prelude::*;

use crate::common::LeNet5;

fn prepare(set: &cnn::data::LabelledImages, n: usize) -> Dataset {
    let subset = set.slice(0, n).unwrap();
    let mut d = Dataset::from_labelled(&subset)
        .unwrap()
        .pad([2, 2, 2, 2], 0.0);
    // MNIST's training mean and deviation (data/README.md).
    d.normalise(0.1307, 0.3081);
    d
}

#[test]
fn lenet5_passes_95_percent_on_an_mnist_subset() {
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir()).unwrap();
    let train = prepare(&mnist.train, 12_000);
    let test = prepare(&mnist.test, 10_000);
    let mut model = Model::compile(LeNet5::new(1), Adam::new(1e-3)).seed(1);
    let history = model
        .fit(&train, Fit::epochs(3).batch_size(32).verbose(false))
        .unwrap()
        .clone();
    assert!(
        history.epochs[2].loss < history.epochs[0].loss,
        "{history:?}"
    );
    let eval = model.evaluate(&test, 500).unwrap();
    assert!(
        eval.accuracy > 0.95,
        "test accuracy {:.4} after 3 epochs on 12,000 images",
        eval.accuracy
    );
}
