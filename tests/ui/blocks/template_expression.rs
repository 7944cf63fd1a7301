//! Template arithmetic on a parameter the template does not have, and an
//! `if` on a number.
use cnn::prelude::*;

network! {
    block Unit(filters, project: 1) = [
        Conv2d { filters: filter * 4, kernel: 1 },
        Residual {
            body: [Conv2d { filters: filters, kernel: 1 }],
            shortcut: if project { [Conv2d { filters: filters, kernel: 1 }] } else { [] },
        },
    ];

    pub struct Net {
        input: [8, 8, 4],
        layers: [
            a: Unit { filters: 4 },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
