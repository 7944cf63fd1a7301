//! A 2D transposed convolution on a volume and a 3D one on an image: each
//! is an error that names the kind to use.
use cnn::prelude::*;

network! {
    pub struct DecoderOnVolume {
        input: [4, 8, 8, 16],
        layers: [
            up: ConvTranspose2d { filters: 8, kernel: 2, stride: 2 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

network! {
    pub struct DecoderOnImage {
        input: [8, 8, 16],
        layers: [
            up: ConvTranspose3d { filters: 8, kernel: 2, stride: 2 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
