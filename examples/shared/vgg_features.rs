//! VGG-19 and VGG-16's convolutional features (Simonyan and Zisserman
//! 2014) up to conv5_1, with torchvision's layer names (`features.0` is
//! conv1_1, `features.1` its ReLU, ..), so that torchvision's `state_dict`
//! loads onto them by name; and the random multi-scale layer of
//! Ustyuzhaninov et al. (2016). The input is fixed at 256x256x3 (any size
//! works: change `input`). Taps are the ReLU outputs that Gatys et al.
//! and the course read, under the course's names in [`VGG19_LAYERS`] and
//! [`VGG16_LAYERS`]. Shared by `style_transfer` and `bench` (`#[path]`).

// Each example that includes this file uses part of it.
#![allow(dead_code)]

use cnn::prelude::*;

network! {
    /// VGG-19's `features` up to relu5_1 (torchvision's `features.0` to
    /// `features.29`): 3x3 convolutions with padding 1, ReLU, 2x2 max
    /// pooling.
    pub struct Vgg19Features {
        input: [256, 256, 3],
        layers: [
            features: Sequential { layers: [
                Conv2d { filters: 64, kernel: 3, padding: 1 }, Relu,      // 0 conv1_1
                Conv2d { filters: 64, kernel: 3, padding: 1 }, Relu,      // 2 conv1_2
                MaxPool2d { size: 2 },                                    // 4
                Conv2d { filters: 128, kernel: 3, padding: 1 }, Relu,     // 5 conv2_1
                Conv2d { filters: 128, kernel: 3, padding: 1 }, Relu,     // 7 conv2_2
                MaxPool2d { size: 2 },                                    // 9
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 10 conv3_1
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 12 conv3_2
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 14 conv3_3
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 16 conv3_4
                MaxPool2d { size: 2 },                                    // 18
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 19 conv4_1
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 21 conv4_2
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 23 conv4_3
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 25 conv4_4
                MaxPool2d { size: 2 },                                    // 27
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 28 conv5_1
            ] },
        ],
        taps: [features.1, features.6, features.11, features.20, features.22, features.29],
    }
}
cnn::style_extractor!(Vgg19Features);

network! {
    /// VGG-16's `features` up to relu5_1 (torchvision's `features.0` to
    /// `features.25`).
    pub struct Vgg16Features {
        input: [256, 256, 3],
        layers: [
            features: Sequential { layers: [
                Conv2d { filters: 64, kernel: 3, padding: 1 }, Relu,      // 0 conv1_1
                Conv2d { filters: 64, kernel: 3, padding: 1 }, Relu,      // 2 conv1_2
                MaxPool2d { size: 2 },                                    // 4
                Conv2d { filters: 128, kernel: 3, padding: 1 }, Relu,     // 5 conv2_1
                Conv2d { filters: 128, kernel: 3, padding: 1 }, Relu,     // 7 conv2_2
                MaxPool2d { size: 2 },                                    // 9
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 10 conv3_1
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 12 conv3_2
                Conv2d { filters: 256, kernel: 3, padding: 1 }, Relu,     // 14 conv3_3
                MaxPool2d { size: 2 },                                    // 16
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 17 conv4_1
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 19 conv4_2
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 21 conv4_3
                MaxPool2d { size: 2 },                                    // 23
                Conv2d { filters: 512, kernel: 3, padding: 1 }, Relu,     // 24 conv5_1
            ] },
        ],
        taps: [features.1, features.6, features.11, features.18, features.20, features.25],
    }
}
cnn::style_extractor!(Vgg16Features);

/// The course's layer names (the ReLU outputs of those convolutions) to
/// VGG-19's torchvision names.
pub const VGG19_LAYERS: [(&str, &str); 6] = [
    ("conv1_1", "features.1"),
    ("conv2_1", "features.6"),
    ("conv3_1", "features.11"),
    ("conv4_1", "features.20"),
    ("conv4_2", "features.22"),
    ("conv5_1", "features.29"),
];

/// The same for VGG-16.
pub const VGG16_LAYERS: [(&str, &str); 6] = [
    ("conv1_1", "features.1"),
    ("conv2_1", "features.6"),
    ("conv3_1", "features.11"),
    ("conv4_1", "features.18"),
    ("conv4_2", "features.20"),
    ("conv5_1", "features.25"),
];

/// The torchvision name of a course name in `table`.
pub fn torchvision_name(table: &[(&str, &'static str)], course: &str) -> &'static str {
    table
        .iter()
        .find(|(c, _)| *c == course)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no layer {course} in the table"))
}

/// torchvision's keys that our features hold (`features.N.weight` and
/// `.bias` up to the last layer declared): the classifier and the
/// deeper convolutions of a full `state_dict` are left out.
pub fn features_key(key: &str, last: usize) -> Option<String> {
    let rest = key.strip_prefix("features.")?;
    let index: usize = rest.split('.').next()?.parse().ok()?;
    (index <= last).then(|| key.to_string())
}

network! {
    /// One convolutional layer with random filters at several scales
    /// (Ustyuzhaninov et al. 2016, "Texture synthesis using shallow
    /// convolutional networks with random filters": their best model is a
    /// single multi-scale layer of random filters, sizes 3 to 55). Here
    /// 64 filters each of sizes 3, 5, 7, 11 and 15, `same` padding, ReLU,
    /// on 128x128 pictures: sized for a CPU. Its weights are the seeded
    /// He initialisation; nothing is trained.
    pub struct RandomScales {
        input: [128, 128, 3],
        layers: [
            scales: Concat { branches: [
                [s3: Conv2d { filters: 64, kernel: 3, padding: same }],
                [s5: Conv2d { filters: 64, kernel: 5, padding: same }],
                [s7: Conv2d { filters: 64, kernel: 7, padding: same }],
                [s11: Conv2d { filters: 64, kernel: 11, padding: same }],
                [s15: Conv2d { filters: 64, kernel: 15, padding: same }],
            ] },
            act: Relu,
        ],
        taps: [act],
    }
}
cnn::style_extractor!(RandomScales);
