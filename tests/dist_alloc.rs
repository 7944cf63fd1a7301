//! "A training step at a batch size already seen allocates nothing"
//! (docs/design.md), for a rank's step on its shard (`Network::train_shard`):
//! the shard's weight, its dropout offset, synchronised batch norm and the
//! step's one collective add no allocation to the generated step. The
//! collective here is a stand-in for one rank that allocates nothing
//! either, as `dist::Mpi` does once its buffers have grown; the thread
//! group of the other tests allocates, and MPI allocates inside its C
//! library, which no Rust allocator sees.

use crate::counting::{self, allocations};

use cnn::dist::Collective;
use cnn::net::Shard;
use cnn::network;
use cnn::train::Network;
use cnn_runtime::optim::Sgd;

network! {
    /// Batch norm (synchronised below) and dropout: all the shard's hooks.
    struct Net {
        input: [16, 16, 1],
        layers: [
            Conv2d { filters: 4, kernel: 3 }, BatchNorm, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Dropout { rate: 0.2 }, Relu, Dense { units: 10 }, Softmax,
        ],
    }
}

/// One rank of one: the sums are the values themselves.
struct Alone;

impl Collective for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&mut self, _: &mut [f32]) {}
    fn sum_f64(&mut self, _: &mut [f64]) {}
    fn gather_u64(&mut self, mine: &[u64], all: &mut [u64]) {
        all.copy_from_slice(mine);
    }
    fn broadcast_bytes(&mut self, _: usize, _: &mut Vec<u8>) {}
}

#[test]
fn a_rank_s_steps_at_seen_shard_sizes_allocate_nothing() {
    let _alone = counting::alone();
    let mut net = Net::new(7);
    let mut sgd = Sgd::new(0.01).momentum(0.9);
    let x = cnn_runtime::testing::random(20 * 256, 1);
    let y: Vec<usize> = (0..20).map(|i| i % 10).collect();
    let mut ranks = Alone;
    let mut step = |net: &mut Net, n: usize, sync: bool| {
        // Examples 3.. of a global batch of 3 + n, say.
        let mut shard = Shard::of(&mut ranks, 3, n, 3 + n, sync);
        net.train_shard(&x[..n * 256], &y[..n], &mut sgd, &mut shard)
            .unwrap();
    };
    for sync in [false, true] {
        step(&mut net, 12, sync);
        step(&mut net, 5, sync);
    }
    // matrixmultiply's packing buffers (align 16 and more) are counted
    // apart, as in tests/alloc.rs, which holds them to zero on AVX-512.
    let (n, _gemm) = allocations(|| {
        for sync in [false, true, false] {
            step(&mut net, 12, sync);
            step(&mut net, 5, sync);
        }
    });
    assert_eq!(n, 0, "allocations in sharded steps");
    // The counter works: a larger shard than any seen allocates.
    let (n, _) = allocations(|| step(&mut net, 20, true));
    assert!(n > 0);
}
