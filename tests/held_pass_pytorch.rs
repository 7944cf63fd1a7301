//! The held pass against PyTorch: the gradients of a mean squared error
//! with respect to every parameter and to the input, through convolutions,
//! batch norm in training mode, a residual block and a flatten, as
//! `scripts/make_held_pass_fixture.py` computed them (in float64, from the
//! same float32 weights and inputs).

use std::path::PathBuf;

use cnn::ndarray::Array4;
use cnn::pass::Mode;
use cnn::prelude::*;

network! {
    /// `Net` of make_held_pass_fixture.py, in our names.
    struct Small {
        input: [6, 5, 3],
        layers: [
            conv1: Conv2d { filters: 4, kernel: 3, padding: 1 },
            bn1: BatchNorm { epsilon: 0.001 },
            Relu,
            res: Residual { body: [
                a: Conv2d { filters: 4, kernel: 3, padding: 1 },
                Relu,
                b: Conv2d { filters: 4, kernel: 1, bias: false },
            ] },
            Relu,
            Flatten,
            fc: Dense { units: 4 },
        ],
    }
}

fn fixture(name: &str) -> PathBuf {
    crate::common::fixture("held_pass", name)
}

/// `|ours - theirs| <= 1e-5 * (1 + |theirs|)`, element by element.
fn assert_matches(what: &str, ours: &[f32], theirs: &[f32]) {
    crate::common::assert_close(what, ours, theirs, 1e-5);
}

#[test]
fn mse_gradients_of_every_parameter_and_the_input_match_pytorch() {
    let mut net = Small::new(1);
    let report = net
        .load_pytorch(fixture("state_dict.safetensors"), |k| {
            Some(match k.split_once('.') {
                Some(("a" | "b", _)) => format!("res.{k}"),
                _ => k.to_string(),
            })
        })
        .unwrap();
    assert!(report.is_complete(), "{report}");
    let file = cnn::io::load(&fixture("grads.safetensors")).unwrap();
    let get = |name: &str| file.tensor(name).unwrap();
    let (shape, x) = get("x");
    let x = Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), x).unwrap();
    crate::common::assert_mse_pass(net.forward(x.view(), Mode::Train).unwrap(), &file, 1e-5);
    for t in Small::TENSORS.iter().filter(|t| t.trainable) {
        assert_matches(t.name, &net.grads()[t.range()], &get(t.name).1);
    }
}
