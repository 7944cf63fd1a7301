//! A mistake inside a block declared in another crate is shown at the use,
//! and the second message names the block by the path it was used with.

use cnn::prelude::*;

network! {
    pub struct TooSmall {
        input: [4, 4, 1],
        layers: [w: cnn_lender::Wide { filters: 2 }, Flatten, Dense { units: 2 }],
    }
}

fn main() {}
