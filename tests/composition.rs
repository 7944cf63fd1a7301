//! The composition constructs of the DSL against the same networks written
//! out by hand: a block template used with arguments, a stage of repeated
//! uses, a `Sequential`, and a network used as a layer of another give the
//! same parameters, the same predictions and the same training step, bit
//! for bit, as the layers they stand for; names follow the uses
//! (`layer1.0.conv1`), and a file saved by an inner network alone loads
//! into its part of the outer one.

use crate::common::{images, labels};
use cnn::network;
use cnn_runtime::optim::Sgd;

network! {
    /// A residual block with an optional projection, as torchvision's
    /// BasicBlock: the names inside are the block's own.
    block Basic(filters, stride: 1, project: false) = [
        Residual {
            body: [
                conv1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm { momentum: 0.9 },
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { momentum: 0.9 },
            ],
            shortcut: if project {
                [downsample: Sequential { layers: [
                    Conv2d { filters: filters, kernel: 1, stride: stride, bias: false },
                    BatchNorm { momentum: 0.9 },
                ] }]
            } else { [] },
        },
        Relu,
    ];

    /// Two stages of the template, the second with a projection.
    struct Templated {
        input: [12, 12, 2],
        layers: [
            stem: Conv2d { filters: 4, kernel: 3, padding: same },
            Relu,
            layer1: Stage { block: Basic { filters: 4 }, repeat: 2 },
            layer2: Stage { block: Basic { filters: 8 }, repeat: 2, first: { stride: 2, project: true } },
            GlobalAvgPool,
            fc: Dense { units: 3 * 2 - 1 },
            Softmax,
        ],
    }
}

network! {
    /// The same network, every block written out.
    struct ByHand {
        input: [12, 12, 2],
        layers: [
            stem: Conv2d { filters: 4, kernel: 3, padding: same },
            Relu,
            a: Residual { body: [
                conv1: Conv2d { filters: 4, kernel: 3, stride: 1, padding: 1, bias: false },
                bn1: BatchNorm { momentum: 0.9 }, Relu,
                conv2: Conv2d { filters: 4, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { momentum: 0.9 },
            ] },
            Relu,
            b: Residual { body: [
                conv1: Conv2d { filters: 4, kernel: 3, stride: 1, padding: 1, bias: false },
                bn1: BatchNorm { momentum: 0.9 }, Relu,
                conv2: Conv2d { filters: 4, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { momentum: 0.9 },
            ] },
            Relu,
            c: Residual {
                body: [
                    conv1: Conv2d { filters: 8, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { momentum: 0.9 }, Relu,
                    conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { momentum: 0.9 },
                ],
                shortcut: [
                    d0: Conv2d { filters: 8, kernel: 1, stride: 2, bias: false },
                    d1: BatchNorm { momentum: 0.9 },
                ],
            },
            Relu,
            d: Residual { body: [
                conv1: Conv2d { filters: 8, kernel: 3, stride: 1, padding: 1, bias: false },
                bn1: BatchNorm { momentum: 0.9 }, Relu,
                conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { momentum: 0.9 },
            ] },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 5 },
            Softmax,
        ],
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn a_template_and_its_stages_are_the_layers_written_out() {
    assert_eq!(Templated::PARAMS, ByHand::PARAMS);
    assert_eq!(Templated::TRAINABLE_PARAMS, ByHand::TRAINABLE_PARAMS);
    assert_eq!(Templated::MACS, ByHand::MACS);
    assert_eq!(Templated::OUTPUT_SIZE, 5);
    let names: Vec<&str> = Templated::TENSORS.iter().map(|t| t.name).collect();
    for want in [
        "layer1.0.conv1.weight",
        "layer1.1.bn2.gamma",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.moving_variance",
        "layer2.1.conv2.weight",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    // Same tensors in the same order: the same weights from one seed.
    let shapes = |t: &[cnn::net::TensorInfo]| {
        t.iter()
            .map(|t| (t.shape.to_vec(), t.offset, t.init))
            .collect::<Vec<_>>()
    };
    assert_eq!(shapes(Templated::TENSORS), shapes(ByHand::TENSORS));
    let mut a = Templated::new(7);
    let mut b = ByHand::new(7);
    assert_eq!(bits(a.params()), bits(b.params()));
    let x = images(5, 12, 12, 2, 3);
    let y = labels(5, 5);
    assert_eq!(
        bits(a.predict(x.view()).unwrap().as_slice().unwrap()),
        bits(b.predict(x.view()).unwrap().as_slice().unwrap())
    );
    let mut oa = Sgd::new(0.1).momentum(0.9);
    let mut ob = Sgd::new(0.1).momentum(0.9);
    for _ in 0..3 {
        let la = a.train_step(x.view(), &y, &mut oa).unwrap();
        let lb = b.train_step(x.view(), &y, &mut ob).unwrap();
        assert_eq!(la.to_bits(), lb.to_bits());
    }
    assert_eq!(bits(a.params()), bits(b.params()));
    let summary = Templated::summary().to_string();
    assert!(summary.contains("layer2.0.downsample.0"), "{summary}");
    assert!(summary.contains("Basic"), "{summary}");
    assert!(summary.contains("2 x Basic"), "{summary}");
}

network! {
    /// A trunk declared on its own.
    pub struct Trunk {
        input: [10, 10, 1],
        layers: [
            conv: Conv2d { filters: 3, kernel: 3 },
            bn: BatchNorm,
            Relu,
            MaxPool2d { size: 2 },
        ],
    }
}

network! {
    /// The trunk used as a layer, with a new head.
    struct WithTrunk {
        input: [10, 10, 1],
        layers: [
            trunk: Trunk { output: [4, 4, 3] },
            Flatten,
            head: Dense { units: 4 },
            Softmax,
        ],
    }

    /// The same, written out.
    struct TrunkByHand {
        input: [10, 10, 1],
        layers: [
            conv: Conv2d { filters: 3, kernel: 3 },
            bn: BatchNorm,
            Relu,
            MaxPool2d { size: 2 },
            Flatten,
            head: Dense { units: 4 },
            Softmax,
        ],
    }
}

#[test]
fn a_network_used_as_a_layer_is_its_layers_under_its_name() {
    assert_eq!(WithTrunk::PARAMS, TrunkByHand::PARAMS);
    assert_eq!(WithTrunk::PARAMS, Trunk::PARAMS + 4 * 4 * 3 * 4 + 4);
    let names: Vec<&str> = WithTrunk::TENSORS.iter().map(|t| t.name).collect();
    assert!(names.contains(&"trunk.conv.weight"), "{names:?}");
    assert!(names.contains(&"trunk.bn.moving_mean"), "{names:?}");
    let mut a = WithTrunk::new(11);
    let mut b = TrunkByHand::new(11);
    assert_eq!(bits(a.params()), bits(b.params()));
    let x = images(4, 10, 10, 1, 5);
    let y = labels(4, 4);
    let (mut oa, mut ob) = (Sgd::new(0.05), Sgd::new(0.05));
    for _ in 0..2 {
        a.train_step(x.view(), &y, &mut oa).unwrap();
        b.train_step(x.view(), &y, &mut ob).unwrap();
    }
    assert_eq!(bits(a.params()), bits(b.params()));
    assert_eq!(
        bits(a.predict(x.view()).unwrap().as_slice().unwrap()),
        bits(b.predict(x.view()).unwrap().as_slice().unwrap())
    );

    // A trunk trained (here: initialised) on its own loads into the outer net.
    let dir = std::env::temp_dir().join(format!("cnn-composition-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trunk.safetensors");
    let trunk = Trunk::new(99);
    trunk.save(&path).unwrap();
    let head_before = a.tensor("head.weight").unwrap().to_vec();
    a.load_part("trunk", &path).unwrap();
    assert_eq!(
        a.tensor("trunk.conv.weight").unwrap(),
        trunk.tensor("conv.weight").unwrap()
    );
    assert_eq!(
        a.tensor("trunk.bn.gamma").unwrap(),
        trunk.tensor("bn.gamma").unwrap()
    );
    assert_eq!(a.tensor("head.weight").unwrap(), &head_before[..]);
    // The whole outer file does not load as the part.
    let outer = dir.join("outer.safetensors");
    a.save(&outer).unwrap();
    let err = a.load_part("trunk", &outer).unwrap_err().to_string();
    assert!(err.contains("head"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

network! {
    /// On one input channel a depthwise convolution with multiplier 4 is an
    /// ordinary convolution with 4 filters; batch norm follows, folded into
    /// the convolution by `predict`.
    struct Depthwise {
        input: [9, 9, 1],
        layers: [
            c: DepthwiseConv2d { kernel: 3, multiplier: 4, stride: 2, padding: same },
            bn: BatchNorm,
            Relu,
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }

    struct DepthwiseByHand {
        input: [9, 9, 1],
        layers: [
            c: Conv2d { filters: 4, kernel: 3, stride: 2, padding: same },
            bn: BatchNorm,
            Relu,
            Flatten,
            d: Dense { units: 3 },
            Softmax,
        ],
    }
}

#[test]
fn a_depthwise_convolution_on_one_channel_is_an_ordinary_one() {
    assert_eq!(Depthwise::PARAMS, DepthwiseByHand::PARAMS);
    assert_eq!(Depthwise::MACS, DepthwiseByHand::MACS);
    let mut a = Depthwise::new(3);
    let mut b = DepthwiseByHand::new(3);
    assert_eq!(bits(a.params()), bits(b.params()));
    let x = images(6, 9, 9, 1, 8);
    let y = labels(6, 3);
    let (mut oa, mut ob) = (Sgd::new(0.1), Sgd::new(0.1));
    for _ in 0..3 {
        let (la, lb) = (
            a.train_step(x.view(), &y, &mut oa).unwrap(),
            b.train_step(x.view(), &y, &mut ob).unwrap(),
        );
        assert!((la - lb).abs() <= 1e-6 * la.abs().max(1.0), "{la} {lb}");
    }
    let (pa, pb) = (a.predict(x.view()).unwrap(), b.predict(x.view()).unwrap());
    for (p, q) in pa.iter().zip(pb.iter()) {
        assert!((p - q).abs() <= 1e-6, "{p} {q}");
    }
    for (p, q) in a.params().iter().zip(b.params()) {
        assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "{p} {q}");
    }
}

network! {
    /// A frozen trunk (conv, batch norm) under a trainable head, and a
    /// frozen layer between two trainable ones.
    struct Frozen {
        input: [8, 8, 2],
        layers: [
            trunk: Trunk2 { trainable: false },
            mid: Conv2d { filters: 3, kernel: 1, trainable: false },
            Relu,
            top: Conv2d { filters: 4, kernel: 3 },
            Flatten,
            head: Dense { units: 3 },
            Softmax,
        ],
    }

    struct Trunk2 {
        input: [8, 8, 2],
        layers: [c: Conv2d { filters: 3, kernel: 3, padding: same }, bn: BatchNorm, Relu],
    }
}

#[test]
fn frozen_layers_keep_their_weights_and_statistics() {
    // Trainable: top (3*3*3*4 + 4) and head (6*6*4*3 + 3); the rest frozen.
    assert_eq!(
        Frozen::TRAINABLE_PARAMS,
        3 * 3 * 3 * 4 + 4 + 6 * 6 * 4 * 3 + 3
    );
    assert_eq!(
        Frozen::PARAMS,
        Frozen::TRAINABLE_PARAMS + Trunk2::PARAMS + 3 * 3 + 3
    );
    for t in Frozen::TENSORS {
        assert_eq!(
            t.trainable,
            t.name.starts_with("top") || t.name.starts_with("head"),
            "{}",
            t.name
        );
    }
    let mut net = Frozen::new(4);
    // Moving statistics that are not the initial ones, to see them used.
    net.tensor_mut("trunk.bn.moving_mean")
        .unwrap()
        .copy_from_slice(&[0.1, -0.2, 0.3]);
    net.tensor_mut("trunk.bn.moving_variance")
        .unwrap()
        .copy_from_slice(&[0.5, 2.0, 1.5]);
    let frozen_before: Vec<f32> = net.params()[Frozen::TRAINABLE_PARAMS..].to_vec();
    let trainable_before: Vec<f32> = net.params()[..Frozen::TRAINABLE_PARAMS].to_vec();
    let x = images(4, 8, 8, 2, 1);
    let y = labels(4, 3);
    let mut opt = Sgd::new(0.1).momentum(0.9).weight_decay(0.01);
    for _ in 0..3 {
        net.train_step(x.view(), &y, &mut opt).unwrap();
    }
    // Nothing frozen moved: not the weights, not the moving statistics.
    assert_eq!(
        bits(&net.params()[Frozen::TRAINABLE_PARAMS..]),
        bits(&frozen_before)
    );
    assert_ne!(
        bits(&net.params()[..Frozen::TRAINABLE_PARAMS]),
        bits(&trainable_before)
    );
    // The gradient of the trainable part matches finite differences
    // through the frozen layers (batch norm in inference mode).
    let (_, grads) = net.loss_and_grads(x.view(), &y).unwrap();
    let grads = grads.to_vec();
    let t = Frozen::TENSORS
        .iter()
        .find(|t| t.name == "top.weight")
        .unwrap();
    for i in [0, 7, 50, 100] {
        let at = t.offset + i;
        let orig = net.params()[at];
        let mut loss = |v: f32| {
            net.params_mut()[at] = v;
            net.loss_and_grads(x.view(), &y).unwrap().0 as f64
        };
        let numeric = ((loss(orig + 1e-3) - loss(orig - 1e-3)) / 2e-3) as f32;
        loss(orig);
        let a = grads[at];
        assert!(
            (a - numeric).abs() <= 1e-3 + 2e-2 * a.abs().max(numeric.abs()),
            "{i}: {a} vs {numeric}"
        );
    }
    let summary = Frozen::summary().to_string();
    assert!(summary.contains("Non-trainable params"), "{summary}");
}

network! {
    /// WithTrunk's layers with the trunk frozen in the declaration.
    struct WithFrozenTrunk {
        input: [10, 10, 1],
        layers: [
            trunk: Trunk { trainable: false },
            Flatten,
            head: Dense { units: 4 },
            Softmax,
        ],
    }
}

#[test]
fn freezing_at_run_time_is_freezing_in_the_declaration() {
    let mut a = WithTrunk::new(21);
    let mut b = WithFrozenTrunk::new(0);
    // Same weights by name, and moving statistics that are not the initial
    // ones so that inference-mode batch norm shows.
    for t in WithTrunk::TENSORS {
        let v: Vec<f32> = a
            .tensor(t.name)
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, w)| w + 0.01 * (i % 3) as f32)
            .collect();
        a.tensor_mut(t.name).unwrap().copy_from_slice(&v);
        b.tensor_mut(t.name).unwrap().copy_from_slice(&v);
    }
    assert_eq!(a.trainable_params(), WithTrunk::TRAINABLE_PARAMS);
    assert_eq!(a.freeze("trunk").unwrap(), 3 * 3 * 3 + 3 + 2 * 3);
    assert_eq!(a.trainable_params(), WithFrozenTrunk::TRAINABLE_PARAMS);
    assert!(a.freeze("trunk2").is_err() && a.freeze("trun").is_err());
    let trunk_before: Vec<Vec<f32>> = WithTrunk::TENSORS
        .iter()
        .filter(|t| t.name.starts_with("trunk."))
        .map(|t| a.tensor(t.name).unwrap().to_vec())
        .collect();
    let x = images(6, 10, 10, 1, 2);
    let y = labels(6, 4);
    let (mut oa, mut ob) = (
        Sgd::new(0.1).momentum(0.9).weight_decay(0.01),
        Sgd::new(0.1).momentum(0.9).weight_decay(0.01),
    );
    for _ in 0..3 {
        let (la, lb) = (
            a.train_step(x.view(), &y, &mut oa).unwrap(),
            b.train_step(x.view(), &y, &mut ob).unwrap(),
        );
        assert_eq!(la.to_bits(), lb.to_bits());
    }
    for t in WithTrunk::TENSORS {
        assert_eq!(
            bits(a.tensor(t.name).unwrap()),
            bits(b.tensor(t.name).unwrap()),
            "{}",
            t.name
        );
    }
    let trunk_after: Vec<Vec<f32>> = WithTrunk::TENSORS
        .iter()
        .filter(|t| t.name.starts_with("trunk."))
        .map(|t| a.tensor(t.name).unwrap().to_vec())
        .collect();
    assert_eq!(
        trunk_before, trunk_after,
        "weights and moving statistics of the frozen trunk"
    );
    // Unfrozen, the trunk trains again (and its batch norm on batch statistics).
    assert_eq!(a.unfreeze("").unwrap(), 3 * 3 * 3 + 3 + 2 * 3);
    a.train_step(x.view(), &y, &mut oa).unwrap();
    assert_ne!(
        bits(a.tensor("trunk.conv.weight").unwrap()),
        bits(&trunk_before[0])
    );
    assert_ne!(
        bits(a.tensor("trunk.bn.moving_mean").unwrap()),
        bits(b.tensor("trunk.bn.moving_mean").unwrap())
    );
}
