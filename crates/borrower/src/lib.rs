//! Networks built from another crate's blocks (`cnn_lender::Trunk`, by
//! path), its network (`Small`, by `use`) and the model zoo (`cnn::models`).

use cnn::prelude::*;
use cnn_lender::Small;

network! {
    /// The lender's trunk by path, with another width, and a new head.
    pub struct Wider {
        input: [16, 16, 1],
        layers: [trunk: cnn_lender::Trunk { width: 4 }, head: Dense { units: 3 }, Softmax],
    }
}

// A call of its own: the call above already holds `Small` (it came with
// `Trunk`, which the lender declares in the same call).
network! {
    /// The lender's whole network as a layer (imported with `use`).
    pub struct Twice {
        input: [16, 16, 1],
        layers: [small: Small, Dense { units: 2 }, Softmax],
    }
}

network! {
    /// ResNet-18 from the zoo, for ten classes of 32x32 colour images.
    pub struct Tiny18 {
        input: [32, 32, 3],
        layers: cnn::models::ResNet18 { classes: 10 },
    }
}
