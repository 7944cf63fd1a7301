//! A 3D kernel must fit the padded depth as well as the height and width.
use cnn::prelude::*;

network! {
    pub struct Clips {
        input: [2, 32, 32, 1],
        layers: [
            conv: Conv3d { filters: 8, kernel: 3 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
