//! A 2D kind on a volume and a 3D kind on an image: each is an error that
//! names the kind to use.
use cnn::prelude::*;

network! {
    pub struct OnVolume {
        input: [16, 32, 32, 1],
        layers: [
            conv: Conv2d { filters: 8, kernel: 3 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

network! {
    pub struct OnImage {
        input: [28, 28, 1],
        layers: [
            conv: Conv3d { filters: 8, kernel: 3 },
            pool: AvgPool3d { size: 2 },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
