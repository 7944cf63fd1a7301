//! The ResNet-50 of docs/classic-nets.md's "Blocks, stages and networks
//! inside networks", as written there.
use cnn::prelude::*;

network! {
    block Bottleneck(filters, stride: 1, project: false) = [
        Residual {
            body: [
                conv1: Conv2d { filters: filters, kernel: 1, bias: false },
                bn1: BatchNorm,
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn2: BatchNorm,
                Relu,
                conv3: Conv2d { filters: filters * 4, kernel: 1, bias: false },
                bn3: BatchNorm,
            ],
            shortcut: if project {
                [downsample: Sequential { layers: [
                    Conv2d { filters: filters * 4, kernel: 1, stride: stride, bias: false },
                    BatchNorm,
                ] }]
            } else { [] },
        },
        Relu,
    ];

    pub struct ResNet50 {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
            bn1: BatchNorm,
            Relu,
            maxpool: MaxPool2d { size: 3, stride: 2, padding: 1 },
            layer1: Stage { block: Bottleneck { filters: 64 }, repeat: 3, first: { project: true } },
            layer2: Stage { block: Bottleneck { filters: 128 }, repeat: 4, first: { stride: 2, project: true } },
            layer3: Stage { block: Bottleneck { filters: 256 }, repeat: 6, first: { stride: 2, project: true } },
            layer4: Stage { block: Bottleneck { filters: 512 }, repeat: 3, first: { stride: 2, project: true } },
            avgpool: GlobalAvgPool,
            fc: Dense { units: 1000 },
            Softmax,
        ],
    }
}
const _: () = assert!(ResNet50::TRAINABLE_PARAMS == 25_557_032); // torchvision's figure

#[test]
fn tensors_have_torchvision_names() {
    let names: Vec<&str> = ResNet50::TENSORS.iter().map(|t| t.name).collect();
    assert!(names.contains(&"layer2.0.downsample.0.weight"));
}
