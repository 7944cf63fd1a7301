//! A path that names no block or network is rustc's "cannot find macro",
//! at the name.

use cnn::prelude::*;

network! {
    pub struct Lost {
        input: [16, 16, 1],
        layers: [trunk: cnn_lender::Trunc, Dense { units: 2 }],
    }
}

fn main() {}
