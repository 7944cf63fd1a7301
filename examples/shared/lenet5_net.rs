//! LeNet-5 as the examples declare it (docs/design.md's network), shared by
//! `lenet5` (which trains it) and `predict` (which loads what it saved), and
//! the MNIST preprocessing both use.

// Each example that includes this file uses part of it.
#![allow(dead_code)]

use cnn::prelude::*;

network! {
    /// LeNet-5's layers up to its ten class scores, before the softmax.
    block LeNet5Layers() = [
        conv1: Conv2d { filters: 6, kernel: 5 },
        Relu,
        MaxPool2d { size: 2, stride: 2 },
        conv2: Conv2d { filters: 16, kernel: 5 },
        Relu,
        MaxPool2d { size: 2, stride: 2 },
        Flatten,
        fc3: Dense { units: 120 },
        Relu,
        fc4: Dense { units: 84 },
        Relu,
        fc5: Dense { units: 10 },
    ];

    /// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling.
    pub struct LeNet5 {
        input: [32, 32, 1],
        layers: [..LeNet5Layers {}, Softmax],
    }

    /// LeNet-5 without its softmax: ten scores, for the mean squared error
    /// (`bench`'s `lenet5_mse_b64`).
    pub struct LeNet5Scores {
        input: [32, 32, 1],
        layers: LeNet5Layers {},
    }
}

// LeCun et al. (1998) count 60,000 trainable parameters for their LeNet-5;
// this ReLU/max-pool variant with a 120-84-10 head has 61,706.
const _: () = assert!(LeNet5::PARAMS == 61_706);

/// MNIST's pixel mean and standard deviation over the training set, in
/// 0..1 units (data/README.md: 33.3184 / 255 and 78.5675 / 255).
pub const MNIST_MEAN: f32 = 0.1307;
pub const MNIST_STD: f32 = 0.3081;

/// MNIST's 28x28 digits padded to LeNet-5's 32x32 with background and
/// normalised with the training set's mean and deviation.
pub fn prepare(set: &cnn::data::LabelledImages) -> Result<Dataset, cnn::Error> {
    let mut d = Dataset::from_labelled(set)?.pad([2, 2, 2, 2], 0.0);
    d.normalise(MNIST_MEAN, MNIST_STD);
    Ok(d)
}
