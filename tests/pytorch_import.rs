//! A network trained in PyTorch, imported: `tests/fixtures/pytorch/`
//! holds a small PyTorch network's `state_dict` (a conv with bias under
//! `stem.0`, one without, batch norm with running statistics, a residual
//! block with a `downsample` projection, `torch.flatten` then a `Linear`)
//! and PyTorch's eval-mode outputs on four inputs; `make_fixture.py` made
//! them. The same network declared here reproduces those outputs after
//! `load_pytorch`, and does not without the flatten permutation.

use std::path::PathBuf;

use cnn::ndarray::{Array2, Array4};
use cnn::network;

network! {
    /// make_fixture.py's `Net`, with PyTorch's names except `stem.0`,
    /// which is `conv1` here, and PyTorch's batch norm epsilon.
    struct TorchFixture {
        input: [10, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 8, kernel: 3, padding: 1, bias: false },
            bn2: BatchNorm { epsilon: 0.00001 },
            Relu,
            layer1: Residual {
                body: [
                    conv1: Conv2d { filters: 12, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 12, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [downsample: Sequential { layers: [
                    Conv2d { filters: 12, kernel: 1, stride: 2, bias: false },
                    BatchNorm { epsilon: 0.00001 },
                ] }],
            },
            Relu,
            Flatten,
            Dropout { rate: 0.5 },
            fc: Dense { units: 10 },
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("pytorch", name)
}

/// PyTorch's `stem.0` is our `conv1`; every other name is the same.
fn map(key: &str) -> Option<String> {
    Some(match key.strip_prefix("stem.0.") {
        Some(rest) => format!("conv1.{rest}"),
        None => key.to_string(),
    })
}

/// The inputs (NHWC) and PyTorch's outputs.
fn inputs_outputs() -> (Array4<f32>, Array2<f32>) {
    let file = cnn::io::load(&fixture("inputs_outputs.safetensors")).unwrap();
    let (shape, x) = file.tensor("x").unwrap();
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    let (shape, y) = file.tensor("logits").unwrap();
    let y = Array2::from_shape_vec((shape[0], shape[1]), y).unwrap();
    (x, y)
}

/// The largest `|ours - theirs|`.
fn max_diff(ours: &Array2<f32>, theirs: &Array2<f32>) -> f32 {
    assert_eq!(ours.shape(), theirs.shape());
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_flattened_layer_is_known_to_the_network() {
    // flatten of the residual block's 5x4x12 output, through a dropout.
    assert_eq!(TorchFixture::FLATTENED, &[("fc", [5, 4, 12])]);
}

#[test]
fn imported_weights_reproduce_pytorch() {
    let (x, expected) = inputs_outputs();
    let mut net = TorchFixture::new(1);
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), map)
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.loaded.len(), TorchFixture::TENSORS.len());
    assert_eq!(
        report.unused,
        [
            "bn2.num_batches_tracked",
            "layer1.bn1.num_batches_tracked",
            "layer1.bn2.num_batches_tracked",
            "layer1.downsample.1.num_batches_tracked",
        ]
    );
    let ours = net.predict(x.view()).unwrap();
    // make_fixture.py prints how far float32 rounding alone moves
    // PyTorch's outputs from float64 (3e-7, outputs of size about 1).
    let diff = max_diff(&ours, &expected);
    assert!(
        diff < 1e-5,
        "max |ours - pytorch| = {diff}\nours {ours}\npytorch {expected}"
    );
}

#[test]
fn without_the_flatten_permutation_the_outputs_are_wrong() {
    let (x, expected) = inputs_outputs();
    let mut net = TorchFixture::new(1);
    // The runtime function with an empty FLATTENED: the Linear's rows are
    // transposed but left in PyTorch's (C, H, W) order.
    cnn::net::load_state_dict(
        &fixture("state_dict.safetensors"),
        net.params_mut(),
        TorchFixture::TENSORS,
        &[],
        &map,
    )
    .unwrap();
    let diff = max_diff(&net.predict(x.view()).unwrap(), &expected);
    assert!(
        diff > 0.1,
        "max |ours - pytorch| = {diff}: the permutation made no difference"
    );
}

#[test]
fn a_state_dict_loaded_by_name_is_refused_with_both_shapes() {
    let mut net = TorchFixture::new(1);
    let before = net.params().to_vec();
    let err = net
        .load_by_name(fixture("state_dict.safetensors"))
        .unwrap_err()
        .to_string();
    // bn2.* are loaded as they are named in the file (bias and weight do not
    // exist here by these names); conv2.weight is the first that does not fit.
    assert!(
        err.ends_with(
            "tensor `conv2.weight`: the file's 8x8x3x3 does not fit the network's conv2.weight, which takes 3x3x8x8 \
             (this is PyTorch's layout: load a state_dict with load_pytorch, which converts it)"
        ),
        "{err}"
    );
    assert_eq!(net.params(), &before[..]);
}

#[test]
fn without_the_map_the_stem_is_kept_and_reported() {
    let mut net = TorchFixture::new(1);
    let before = net.tensor("conv1.weight").unwrap().to_vec();
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), |k| Some(k.to_string()))
        .unwrap();
    assert_eq!(report.kept, ["conv1.weight", "conv1.bias"]);
    assert!(report.unused.contains(&"stem.0.weight".to_string()));
    assert_eq!(net.tensor("conv1.weight").unwrap(), &before[..]);
    let text = report.to_string();
    assert!(
        text.starts_with("loaded 22 tensors, kept 2, unused 6"),
        "{text}"
    );
    assert!(
        text.contains("\n  kept: conv1.weight, conv1.bias"),
        "{text}"
    );
}

#[test]
fn broken_files_are_errors_naming_the_file_and_change_nothing() {
    let dir = std::env::temp_dir().join(format!("cnn-pytorch-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(fixture("state_dict.safetensors")).unwrap();
    // One bit of the header's length (256 bytes off), one of its JSON (the
    // opening `{` becomes `;`). A flip inside a name can leave a valid file
    // that loads all but that tensor, which the report then lists as kept.
    let flip = |byte: usize, mask: u8| {
        let mut bytes = good.clone();
        bytes[byte] ^= mask;
        bytes
    };
    let cases = [
        ("truncated.safetensors", good[..good.len() - 100].to_vec()),
        ("length-flipped.safetensors", flip(1, 0x01)),
        ("json-flipped.safetensors", flip(8, 0x40)),
        (
            "model.pt",
            b"PK\x03\x04 torch.save writes a zip archive".to_vec(),
        ),
    ];
    let mut net = TorchFixture::new(1);
    let before = net.params().to_vec();
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        for err in [
            net.load_pytorch(&path, map).unwrap_err(),
            net.load_by_name(&path).unwrap_err(),
        ] {
            assert!(err.to_string().contains(name), "{err}");
        }
        assert_eq!(net.params(), &before[..], "{name}");
    }
    // A file in our layout (what `save` writes) is not a state_dict: the
    // first convolution's shape says so, and nothing is loaded.
    let other = dir.join("other.safetensors");
    TorchFixture::new(2).save(&other).unwrap();
    let err = net.load_pytorch(&other, map).unwrap_err().to_string();
    assert!(
        err.contains("other.safetensors") && err.contains("does not fit"),
        "{err}"
    );
    assert_eq!(net.params(), &before[..]);
    std::fs::remove_dir_all(&dir).unwrap();
}
