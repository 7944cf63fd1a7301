//! Checkpoints of generated networks: a round trip is bit-exact, a file of
//! another architecture and a truncated file are errors that say which
//! tensor or what is wrong.

use crate::common::{images, labels, LeNet5, TempDir};
use cnn::network;
use cnn::Error;
use cnn_runtime::optim::Sgd;

network! {
    struct Norm {
        input: [8, 8, 1],
        layers: [c: Conv2d { filters: 4, kernel: 3 }, bn: BatchNorm, Relu, GlobalAvgPool, d: Dense { units: 3 }, Softmax],
    }
}

network! {
    /// LeNet-5 with 8 filters in conv2 instead of 16.
    struct LeNet5Narrow {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            conv2: Conv2d { filters: 8, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            Flatten, fc3: Dense { units: 120 }, Relu, fc4: Dense { units: 84 }, Relu, fc5: Dense { units: 10 }, Softmax,
        ],
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn round_trip_is_bit_exact() {
    let mut net = Norm::new(5);
    // Train a little so the moving statistics are not at their start.
    for _ in 0..3 {
        net.train_step(
            images(4, 8, 8, 1, 2).view(),
            &labels(4, 3),
            &mut Sgd::new(0.1),
        )
        .unwrap();
    }
    let dir = TempDir::new("save-load-round-trip");
    let path = dir.join("norm.safetensors");
    net.save(&path).unwrap();
    let back = Norm::load(&path).unwrap();
    assert_eq!(bits(back.params()), bits(net.params()));
    let x = images(3, 8, 8, 1, 9);
    assert_eq!(
        back.predict(x.view()).unwrap(),
        net.predict(x.view()).unwrap()
    );
    assert_ne!(net.tensor("bn.moving_mean").unwrap(), &[0.0; 4]);
}

#[test]
fn tensor_names_and_shapes_in_the_file() {
    let net = LeNet5::new(1);
    let dir = TempDir::new("save-load-names");
    let path = dir.join("lenet.safetensors");
    net.save(&path).unwrap();
    let ckpt = cnn_runtime::io::load(&path).unwrap();
    let (shape, data) = ckpt.get("conv2.weight").unwrap();
    assert_eq!(shape, [5, 5, 6, 16]);
    assert_eq!(data, net.tensor("conv2.weight").unwrap());
    assert_eq!(ckpt.get("fc3.weight").unwrap().0, [400, 120]);
    assert_eq!(ckpt.names().len(), 10);
}

#[test]
fn another_architecture_names_the_tensor() {
    let dir = TempDir::new("save-load-architecture");
    let path = dir.join("narrow.safetensors");
    LeNet5Narrow::new(1).save(&path).unwrap();
    let err = match LeNet5::load(&path) {
        Err(e) => e,
        Ok(_) => panic!("loaded another architecture"),
    };
    assert!(
        matches!(&err, Error::Checkpoint { tensor, .. } if tensor == "conv2.weight"),
        "{err}"
    );
    // And into an existing network: nothing changes.
    let mut net = LeNet5::new(2);
    let before = net.params().to_vec();
    assert!(net.load_weights(&path).is_err());
    assert_eq!(net.params(), &before[..]);
    // A network with other layer names: the first missing tensor.
    let path = dir.join("norm-other.safetensors");
    Norm::new(1).save(&path).unwrap();
    let err = LeNet5::load(&path).err().unwrap();
    assert!(err.to_string().contains("conv1.weight"), "{err}");
}

#[test]
fn truncated_file_is_an_error() {
    let dir = TempDir::new("save-load-truncated");
    let path = dir.join("truncated.safetensors");
    LeNet5::new(1).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(LeNet5::load(&path).is_err());
    std::fs::write(&path, &bytes[..5]).unwrap();
    assert!(LeNet5::load(&path).is_err());
    let missing = dir.join("does-not-exist.safetensors");
    assert!(matches!(LeNet5::load(&missing), Err(Error::Io { .. })));
}
