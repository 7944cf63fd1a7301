//! `bilinear` on a volume says to use `trilinear` (PyTorch's name on 5-D
//! input), `trilinear` on an image says `bilinear`, and a pair of scales
//! on a volume says how to write three.
use cnn::prelude::*;

network! {
    pub struct BilinearVolume {
        input: [4, 8, 8, 2],
        layers: [
            up: Upsample { scale: 2, mode: bilinear },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

network! {
    pub struct TrilinearImage {
        input: [8, 8, 2],
        layers: [
            up: Upsample { scale: 2, mode: trilinear },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

network! {
    pub struct PairOnVolume {
        input: [4, 8, 8, 2],
        layers: [
            up: Upsample { scale: [2, 2] },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
