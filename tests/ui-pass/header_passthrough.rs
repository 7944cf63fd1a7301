//! Doc comments, attributes and any visibility pass through to the struct.
mod nets {
    use cnn::prelude::*;

    network! {
        /// A tiny classifier.
        ///
        /// Its docs are the struct's docs.
        #[allow(dead_code)]
        #[doc(alias = "tiny")]
        pub(crate) struct Tiny {
            input: [16],
            layers: [Dense { units: 4 }, Tanh, Dense { units: 2 }, Sigmoid, LeakyRelu { alpha: 0.2 }],
        }
    }

    network! {
        struct Private {
            input: [4, 4, 1],
            layers: [Flatten, Dense { units: 2 }]
        }
    }

    pub(crate) const PRIVATE_OUTPUT: usize = Private::OUTPUT_SIZE;
}

const _: () = assert!(nets::Tiny::PARAMS == 16 * 4 + 4 + 4 * 2 + 2);
const _: () = assert!(nets::PRIVATE_OUTPUT == 2);
