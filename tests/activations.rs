//! The activations of issue 25 (ReLU6, SiLU, hardswish, hardsigmoid, GELU
//! exact and tanh) and `L2Normalize` through whole generated networks:
//! against PyTorch (`scripts/make_activations_fixture.py`: the training
//! pass's output and every gradient, the inference output, and PyTorch's
//! own ONNX export of the network), by central differences on the fused
//! training step, in the summary, and out to ONNX and back.

use std::path::PathBuf;

use cnn::ndarray::Array4;
use cnn::pass::Mode;
use cnn::prelude::*;

use crate::common::{images, labels};

network! {
    /// `Net` of make_activations_fixture.py, in our names: each new kind
    /// after a convolution, a batch norm or a dense layer (fused wherever
    /// the planner fuses), or on its own.
    struct Torch25 {
        input: [5, 4, 3],
        layers: [
            conv1: Conv2d { filters: 4, kernel: 3, padding: 1 },
            Relu6,
            conv2: Conv2d { filters: 4, kernel: 1 },
            bn: BatchNorm { epsilon: 0.001 },
            Hardswish,
            Gelu,
            conv3: Conv2d { filters: 6, kernel: 3, stride: 2, padding: 1 },
            Silu,
            L2Normalize,
            Flatten,
            fc1: Dense { units: 5 },
            Gelu { approximate: tanh },
            fc2: Dense { units: 4 },
            Hardsigmoid,
            fc3: Dense { units: 3 },
            L2Normalize,
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("activations", name)
}

/// `|ours - theirs| <= 2e-5 * (1 + |theirs|)`, element by element.
fn assert_matches(what: &str, ours: &[f32], theirs: &[f32]) {
    crate::common::assert_close(what, ours, theirs, 2e-5);
}

fn torch_net() -> Torch25 {
    let mut net = Torch25::new(1);
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), |k| Some(k.to_string()))
        .unwrap();
    assert!(report.is_complete(), "{report}");
    net
}

#[test]
fn training_gradients_and_inference_match_pytorch() {
    let mut net = torch_net();
    let file = cnn::io::load(&fixture("data.safetensors")).unwrap();
    let get = |name: &str| file.tensor(name).unwrap();
    let (shape, x) = get("x");
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    // Inference: conv1 + ReLU6, conv2 + batch norm (moving statistics) +
    // hardswish, conv3 + SiLU, fc1 + GELU and fc2 + hardsigmoid each one
    // fused kernel call.
    let predicted = net.predict(x.view()).unwrap();
    assert_matches(
        "output_eval",
        predicted.as_slice().unwrap(),
        &get("output_eval").1,
    );
    crate::common::assert_mse_pass(net.forward(x.view(), Mode::Train).unwrap(), &file, 2e-5);
    for t in Torch25::TENSORS.iter().filter(|t| t.trainable) {
        assert_matches(t.name, &net.grads()[t.range()], &get(t.name).1);
    }
}

network! {
    /// Every new kind in a classifier, fused and on its own, with a
    /// residual whose body starts with an activation that needs its input
    /// (the shared block input must survive), and frozen batch norm.
    struct Every {
        input: [6, 5, 2],
        layers: [
            c1: Conv2d { filters: 4, kernel: 3, padding: same },
            Silu,
            res: Residual {
                body: [Gelu, c2: Conv2d { filters: 4, kernel: 3, padding: 1 }, bn: BatchNorm, Hardswish],
            },
            Gelu { approximate: tanh },
            c3: Conv2d { filters: 5, kernel: 2, stride: 2 },
            bn2: BatchNorm { trainable: false },
            Gelu,
            L2Normalize,
            Relu6,
            c4: Conv2d { filters: 3, kernel: 1 },
            Hardsigmoid,
            Flatten,
            d1: Dense { units: 6 },
            Hardswish,
            d2: Dense { units: 5 },
            Silu,
            L2Normalize,
            d3: Dense { units: 3 },
            Softmax,
        ],
    }
}

/// Central differences of the fused training step's loss against its
/// gradient, on six elements of every trainable tensor (as
/// tests/gradcheck_network.rs), in f64 steps of 1e-3 with the tolerance
/// `|a - n| <= 1e-3 + 2e-2 max(|a|, |n|)`.
#[test]
fn gradcheck_every_new_kind() {
    let mut net = Every::new(25);
    let x = images(4, 6, 5, 2, 26);
    let y = labels(4, 3);
    let checked = crate::assert_param_grads!(net: Every, x, y, 1, &[]);
    assert!(checked >= 40, "{checked} elements checked");
}

/// The inference graph (what exporters read) runs as `predict` does.
#[test]
fn the_graph_runs_as_predict() {
    let net = Every::new(5);
    let x = images(3, 6, 5, 2, 6);
    let want = net.predict(x.view()).unwrap();
    let got = Every::GRAPH
        .run(Every::TENSORS, net.params(), 3, x.as_slice().unwrap())
        .unwrap();
    assert_eq!(got.as_slice(), want.as_slice().unwrap());
    assert!(Every::GRAPH
        .nodes
        .iter()
        .any(|n| matches!(n, cnn::net::graph::Node::L2Normalize { .. })));
}

#[test]
fn the_summary_counts_the_new_kinds() {
    let s = Torch25::summary();
    let text = s.to_string();
    for row in [
        "relu6_1 (Relu6)",
        "hardswish_1 (Hardswish)",
        "gelu_1 (Gelu)",
        "silu_1 (Silu)",
        "l2_normalize_1 (L2Normalize)",
        "gelu_2 (Gelu)",
        "hardsigmoid_1 (Hardsigmoid)",
        "l2_normalize_2 (L2Normalize)",
    ] {
        assert!(text.contains(row), "no `{row}` in\n{text}");
    }
    // 3*3*3*4+4 + 4*4+4 + 2*4 (+ 2*4 moving) + 3*3*4*6+6 + 36*5+5 + 5*4+4
    // + 4*3+3: no parameters in any of the new kinds.
    let trainable = 112 + 20 + 8 + 222 + 185 + 24 + 15;
    assert_eq!(Torch25::TRAINABLE_PARAMS, trainable);
    assert_eq!(Torch25::PARAMS, trainable + 8);
    let tensors: usize = Torch25::TENSORS.iter().map(|t| t.len).sum();
    assert_eq!(tensors, Torch25::PARAMS);
}

#[cfg(feature = "onnx")]
mod onnx {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("activations-{}-{name}", std::process::id()))
    }

    /// PyTorch's export (opset 17: GELU through `Erf`, SiLU as `Sigmoid`
    /// and `Mul`, `F.normalize` as `ReduceL2`, `Clip`, `Expand`, `Div`,
    /// batch norm folded into conv2) reads into the declaration and
    /// predicts PyTorch's outputs.
    #[test]
    fn pytorchs_onnx_export_loads() {
        let net = Torch25::from_onnx(fixture("net.onnx")).unwrap();
        let file = cnn::io::load(&fixture("data.safetensors")).unwrap();
        let (shape, x) = file.tensor("x").unwrap();
        let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
        let y = net.predict(x.view()).unwrap();
        assert_matches(
            "output_eval",
            y.as_slice().unwrap(),
            &file.tensor("output_eval").unwrap().1,
        );
    }

    /// Our export of every new kind comes back bit for bit.
    #[test]
    fn our_export_comes_back() {
        let net = Every::new(3);
        let path = temp("every.onnx");
        net.export_onnx(&path).unwrap();
        let back = Every::from_onnx(&path).unwrap();
        for t in Every::TENSORS {
            assert_eq!(back.tensor(t.name), net.tensor(t.name), "{}", t.name);
        }
        let x = images(3, 6, 5, 2, 9);
        assert_eq!(
            back.predict(x.view()).unwrap(),
            net.predict(x.view()).unwrap()
        );
        std::fs::remove_file(&path).ok();
    }
}
