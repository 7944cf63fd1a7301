//! A network used as a layer whose stated output is not what it gives.
use cnn::prelude::*;

network! {
    pub struct Trunk {
        input: [28, 28, 1],
        layers: [
            conv: Conv2d { filters: 8, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
        ],
    }
}

network! {
    pub struct Classifier {
        input: [28, 28, 1],
        layers: [
            trunk: Trunk { output: [14, 14, 8] },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
