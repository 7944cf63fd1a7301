//! A network used as a layer takes the input it was declared for.
use cnn::prelude::*;

network! {
    pub struct Trunk {
        input: [28, 28, 1],
        layers: [conv: Conv2d { filters: 8, kernel: 5 }, Relu],
    }
}

network! {
    pub struct Classifier {
        input: [32, 32, 1],
        layers: [
            trunk: Trunk,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
