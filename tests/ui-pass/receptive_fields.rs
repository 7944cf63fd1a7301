//! Receptive fields as consts: VGG-16's and AlexNet's convolutional parts
//! against Araujo, Norris and Sim, "Computing receptive fields of
//! convolutional neural networks" (Distill, 2019), table 1 (VGG-16 pool5:
//! 212 pixels, effective stride 32, effective padding 90; AlexNet pool5:
//! 195, 32, 64), layers inside templates and stages by their full names,
//! and `patch` on LeNet-5's conv2.
use cnn::net::{Patch, ReceptiveField};
use cnn::prelude::*;

network! {
    block VggConv(filters) = [conv: Conv2d { filters: filters, kernel: 3, padding: same }, Relu];
    block VggBlock(filters, convs) = [
        convs: Stage { block: VggConv { filters: filters }, repeat: convs },
        pool: MaxPool2d { size: 2 },
    ];

    /// VGG-16's convolutions (configuration D) on 224x224x3.
    pub struct Vgg16Convs {
        input: [224, 224, 3],
        layers: [
            block1: VggBlock { filters: 64, convs: 2 },
            block2: VggBlock { filters: 128, convs: 2 },
            block3: VggBlock { filters: 256, convs: 3 },
            block4: VggBlock { filters: 512, convs: 3 },
            block5: VggBlock { filters: 512, convs: 3 },
        ],
    }

    /// AlexNet's convolutions as published (227x227x3).
    pub struct AlexNetConvs {
        input: [227, 227, 3],
        layers: [
            conv1: Conv2d { filters: 96, kernel: 11, stride: 4 }, Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv2: Conv2d { filters: 256, kernel: 5, padding: same, groups: 2 }, Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv3: Conv2d { filters: 384, kernel: 3, padding: same }, Relu,
            conv4: Conv2d { filters: 384, kernel: 3, padding: same, groups: 2 }, Relu,
            conv5: Conv2d { filters: 256, kernel: 3, padding: same, groups: 2 }, Relu,
            pool5: MaxPool2d { size: 3, stride: 2 },
        ],
    }

    pub struct LeNet5Features {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            Flatten, fc: Dense { units: 10 },
        ],
    }
}

const fn field(fields: &'static [ReceptiveField], name: &str) -> ReceptiveField {
    match ReceptiveField::find(fields, name) {
        Some(f) => *f,
        None => panic!("no such layer"),
    }
}

// VGG-16 conv5_3: 196 pixels, jump 16, first pixel 90 into the padding;
// pool5 one pool further: 196 + 16 = 212, jump 32.
const CONV5_3: ReceptiveField = field(Vgg16Convs::RECEPTIVE_FIELDS, "block5.convs.2.conv");
const _: () = assert!(CONV5_3.size[0] == 196 && CONV5_3.size[1] == 196);
const _: () = assert!(CONV5_3.jump[0] == 16 && CONV5_3.start[0] == -90);
const POOL5: ReceptiveField = field(Vgg16Convs::RECEPTIVE_FIELDS, "block5.pool");
const _: () = assert!(POOL5.size[0] == 212 && POOL5.jump[0] == 32 && POOL5.start[1] == -90);
// AlexNet conv5: 163 pixels (by hand: 11, 19, 51, 67, 99, 131, 163), jump
// 16; pool5 195, jump 32, start -64.
const _: () = assert!(AlexNetConvs::receptive_field("conv5").unwrap().size[0] == 163);
const _: () = assert!(AlexNetConvs::receptive_field("pool5").unwrap().size[1] == 195);
const _: () = assert!(AlexNetConvs::receptive_field("pool5").unwrap().start[0] == -64);
// One row per summary row.
const _: () = assert!(LeNet5Features::RECEPTIVE_FIELDS.len() == 8);

#[test]
fn rows_follow_the_summary_and_patches_are_clipped() {
    let summary = Vgg16Convs::summary();
    assert_eq!(summary.rows.len(), Vgg16Convs::RECEPTIVE_FIELDS.len());
    for (row, field) in summary.rows.iter().zip(Vgg16Convs::RECEPTIVE_FIELDS) {
        assert_eq!(row.name, field.name);
    }
    let text = summary.to_string();
    assert!(text.contains("Receptive field"), "{text}");
    assert!(text.contains("196x196"), "{text}");

    // LeNet-5's conv2 is 10x10 with 14x14 fields two pixels apart.
    let conv2 = LeNet5Features::receptive_field("conv2").unwrap();
    assert_eq!(
        (conv2.size, conv2.jump, conv2.start),
        ([14, 14], [2, 2], [0, 0])
    );
    let at = |i, j| conv2.patch(i, j, [32, 32]).unwrap();
    assert_eq!(
        at(0, 0),
        Patch {
            top: 0,
            left: 0,
            height: 14,
            width: 14
        }
    );
    assert_eq!(
        at(9, 3),
        Patch {
            top: 18,
            left: 6,
            height: 14,
            width: 14
        }
    );
    // The dense layer sees the whole picture.
    let fc = LeNet5Features::receptive_field("fc").unwrap();
    assert_eq!(fc.patch(0, 0, [32, 32]).unwrap().height, 32);
    // VGG's corner positions reach into the padding: clipped.
    let corner = CONV5_3.patch(13, 0, [224, 224]).unwrap();
    assert_eq!(
        corner,
        Patch {
            top: 118,
            left: 0,
            height: 106,
            width: 106
        }
    );
}
