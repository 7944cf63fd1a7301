//! A dilation is at least 1 (the step between kernel taps).
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [20, 3],
        layers: [
            conv1: Conv1d { filters: 8, kernel: 3, dilation: 0 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
