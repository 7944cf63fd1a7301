//! `cnn::models` against torchvision: each model of the zoo (the
//! `network!` calls in the facade's `src/models/`, read from the source
//! here, so no network is compiled) is checked and counted by the front
//! end, and its trainable parameters must be torchvision's published
//! count. Its tensors, after PyTorch's layout conversion (what
//! `load_pytorch` does), must be torchvision's `state_dict` one to one:
//! `tests/fixtures/models/<name>.txt`, made by
//! `scripts/make_model_keys.py` with torchvision (no weights needed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::expand::layout;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The tokens of every `network!` call in `src/models/`, one program.
fn zoo() -> String {
    let dir = repo().join("src/models");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("src/models exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut out = String::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a model file reads");
        let file = syn::parse_file(&text).expect("a model file parses");
        for item in file.items {
            if let syn::Item::Macro(m) = item {
                if m.mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "network")
                {
                    out.push_str(&m.mac.tokens.to_string());
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// torchvision's keys and shapes (`running_*` and counters included),
/// and its trainable count.
fn torchvision(name: &str) -> (usize, BTreeMap<String, Vec<usize>>) {
    let path = repo().join(format!("tests/fixtures/models/{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let head = lines.next().expect("a count line");
    let trainable = head
        .strip_prefix("# trainable ")
        .and_then(|n| n.parse().ok())
        .expect("`# trainable N`");
    let mut keys = BTreeMap::new();
    for line in lines {
        let (key, shape) = line.split_once(' ').expect("`key shape`");
        if key.ends_with(".num_batches_tracked") {
            continue;
        }
        let shape = if shape == "-" {
            Vec::new()
        } else {
            shape
                .split('x')
                .map(|d| d.parse().expect("a dimension"))
                .collect()
        };
        keys.insert(key.to_string(), shape);
    }
    (trainable, keys)
}

/// Our tensor's name and shape as PyTorch has them: batch norm's
/// `gamma`, `beta`, `moving_mean`, `moving_variance` are `weight`, `bias`,
/// `running_mean`, `running_var`; a convolution's `[fh, fw, c_in, c_out]`
/// is `[c_out, c_in, fh, fw]`, a dense layer's `[in, out]` is `[out, in]`;
/// a scale's factors (the tensor named after its layer) `[c]` are
/// `[c, 1, 1]`, as torchvision's `layer_scale`.
fn as_torch(t: &layout::Tensor) -> (String, Vec<usize>) {
    if t.name == t.layer {
        let shape = match *t.shape.as_slice() {
            [c] => vec![c, 1, 1],
            ref other => other.to_vec(),
        };
        return (t.name.clone(), shape);
    }
    let (layer, suffix) = t.name.rsplit_once('.').expect("layer.tensor");
    let suffix = match suffix {
        "gamma" => "weight",
        "beta" => "bias",
        "moving_mean" => "running_mean",
        "moving_variance" => "running_var",
        other => other,
    };
    let shape = match *t.shape.as_slice() {
        [fh, fw, c_in, c_out] => vec![c_out, c_in, fh, fw],
        [n_in, units] => vec![units, n_in],
        ref other => other.to_vec(),
    };
    (format!("{layer}.{suffix}"), shape)
}

/// Declares `layers: <model>` on `input` with the zoo and checks it
/// against torchvision's `fixture`; returns the checked net.
fn matches(model: &str, input: &str, fixture: &str) -> crate::ir::Net {
    let src = format!(
        "{}\nstruct Net {{ input: {input}, layers: {model} }}",
        zoo()
    );
    let net = super::good(&src);
    let (trainable, keys) = torchvision(fixture);
    let ours: BTreeMap<String, Vec<usize>> = layout::params(&net.layers)
        .tensors
        .iter()
        .map(as_torch)
        .collect();
    let missing: Vec<_> = keys.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<_> = ours.keys().filter(|k| !keys.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{model}: torchvision's keys we lack: {missing:?}\nours torchvision lacks: {extra:?}"
    );
    for (key, shape) in &keys {
        // A 1x1 convolution on a pooled map (squeeze-and-excitation) is a
        // dense layer here; `load_pytorch` takes its `[out, in, 1, 1]`.
        let pointwise = matches!((ours[key].as_slice(), shape.as_slice()),
            ([o, i], [o2, i2, 1, 1]) if o == o2 && i == i2);
        // A `Linear` on every position of a channels-last map (ConvNeXt's)
        // is a 1x1 convolution here; `load_pytorch` takes its `[out, in]`.
        let linear = matches!((ours[key].as_slice(), shape.as_slice()),
            ([o, i, 1, 1], [o2, i2]) if o == o2 && i == i2);
        assert!(
            ours[key] == *shape || pointwise || linear,
            "{model}: the shape of {key}: ours {:?}, torchvision's {shape:?}",
            ours[key]
        );
    }
    assert_eq!(net.trainable, trainable, "{model}: trainable parameters");
    net
}

#[test]
fn alexnet_and_vgg_are_torchvisions() {
    matches("AlexNet {}", "[224, 224, 3]", "alexnet");
    matches("Vgg11 {}", "[224, 224, 3]", "vgg11");
    matches("Vgg16 {}", "[224, 224, 3]", "vgg16");
    matches("Vgg19 {}", "[224, 224, 3]", "vgg19");
    matches("Vgg16Bn {}", "[224, 224, 3]", "vgg16_bn");
}

#[test]
fn resnets_are_torchvisions() {
    for (model, fixture) in [
        ("ResNet18", "resnet18"),
        ("ResNet34", "resnet34"),
        ("ResNet50", "resnet50"),
        ("ResNet101", "resnet101"),
        ("ResNet152", "resnet152"),
        ("ResNeXt50", "resnext50_32x4d"),
        ("WideResNet50", "wide_resnet50_2"),
    ] {
        matches(&format!("{model} {{}}"), "[224, 224, 3]", fixture);
    }
}

#[test]
fn googlenet_is_torchvisions_with_and_without_its_aux_heads() {
    let net = matches("GoogLeNet {}", "[224, 224, 3]", "googlenet_aux");
    let (without_aux, _) = torchvision("googlenet");
    let params = layout::params(&net.layers);
    let (predict, _) = crate::count::without_aux_heads(&net.layers);
    let moving: usize = params
        .tensors
        .iter()
        .filter(|t| !t.trainable)
        .map(layout::Tensor::len)
        .sum();
    // What predict runs, less the moving statistics: torchvision's count
    // without aux_logits.
    let aux_moving: usize = params
        .tensors
        .iter()
        .filter(|t| !t.trainable && t.name.starts_with("aux"))
        .map(layout::Tensor::len)
        .sum();
    assert_eq!(predict - (moving - aux_moving), without_aux);
}

#[test]
fn densenet_and_squeezenet_are_torchvisions() {
    matches("DenseNet121 {}", "[224, 224, 3]", "densenet121");
    matches("SqueezeNet11 {}", "[224, 224, 3]", "squeezenet1_1");
}

#[test]
fn lenet5_is_the_courses() {
    let net = super::good(&format!(
        "{}\nstruct Net {{ input: [32, 32, 1], layers: LeNet5 {{}} }}",
        zoo()
    ));
    assert_eq!(net.trainable, 61_706);
}

#[test]
fn inception_v3_is_torchvisions_with_and_without_its_aux_head() {
    let net = matches("InceptionV3 {}", "[299, 299, 3]", "inception_v3_aux");
    let (without_aux, _) = torchvision("inception_v3");
    let params = layout::params(&net.layers);
    let (predict, _) = crate::count::without_aux_heads(&net.layers);
    let moving = |aux: bool| -> usize {
        params
            .tensors
            .iter()
            .filter(|t| !t.trainable && t.name.starts_with("AuxLogits") == aux)
            .map(layout::Tensor::len)
            .sum()
    };
    assert_eq!(predict - moving(false), without_aux);
}

#[test]
fn regnet_is_torchvisions_with_its_hyphenated_names() {
    matches("RegNetY400MF {}", "[224, 224, 3]", "regnet_y_400mf");
}

#[test]
fn mobilenets_are_torchvisions() {
    matches("MobileNetV2 {}", "[224, 224, 3]", "mobilenet_v2");
    matches("MobileNetV3Small {}", "[224, 224, 3]", "mobilenet_v3_small");
    matches("MobileNetV3Large {}", "[224, 224, 3]", "mobilenet_v3_large");
}

#[test]
fn efficientnet_b0_is_torchvisions() {
    matches("EfficientNetB0 {}", "[224, 224, 3]", "efficientnet_b0");
}

#[test]
fn convnext_tiny_is_torchvisions() {
    matches("ConvNextTiny {}", "[224, 224, 3]", "convnext_tiny");
}
