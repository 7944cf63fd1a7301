//! A transposed 3D convolution whose padding cuts every frame: the rule
//! `(n - 1) s - 2p + d (f - 1) + output_padding + 1` with the depth's
//! numbers.
use cnn::prelude::*;

network! {
    pub struct Decoder {
        input: [2, 8, 8, 4],
        layers: [
            up: ConvTranspose3d { filters: 4, kernel: 3, stride: [1, 2, 2], padding: [2, 1, 1], output_padding: [0, 1, 1] },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
