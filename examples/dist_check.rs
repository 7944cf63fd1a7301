//! The data-parallel checks over MPI, run by `.ci/run` under `mpirun`
//! (build with `--features mpi`). `tests/dist.rs` proves the same
//! arithmetic with ranks as threads; this proves it through Open MPI, and
//! what MPI does with ranks that fail.
//!
//!     mpirun -np 2 dist_check                  same weights as one process (also with another loss), etc.
//!     mpirun -np 2 dist_check checkpoint DIR   2 epochs, rank 0 writes DIR/ck.safetensors
//!     mpirun -np N dist_check resume DIR       resumes it on N ranks, checks the result
//!     mpirun -np 2 dist_check seed|data|die|panic    faults: every rank must stop
//!     mpirun -np 2 dist_check bench            the all-reduce of LeNet-5's gradients, timed
//!
//! Each rank computes the one-process reference itself (it has all the
//! data), so a check needs no second job. Rank 0 prints one line per
//! check and `dist_check: N passed, M failed`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cnn::dist::{self, Collective, Mpi, Ranks};
use cnn::network;
use cnn::optim::{Optimizer, Sgd};
use cnn::train::{Callback, Dataset, Fit, Model, Network};

network! {
    /// No batch norm; dropout, whose masks go by position in the global batch.
    struct Plain {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Relu, Dropout { rate: 0.3 }, Dense { units: 10 }, Softmax,
        ],
    }
}

network! {
    /// Batch norm after a convolution and after a dense layer.
    struct Normed {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, BatchNorm { momentum: 0.9 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, BatchNorm { momentum: 0.9 }, Relu, Dense { units: 10 }, Softmax,
        ],
    }
}

network! {
    /// Plain without its softmax: ten scores for a mean squared error.
    struct Scores {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Relu, Dropout { rate: 0.3 }, Dense { units: 10 },
        ],
    }
}

network! {
    /// LeNet-5's layout, for the size of its gradient buffer.
    struct LeNet5 {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 6, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            Conv2d { filters: 16, kernel: 5 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 120 }, Relu, Dense { units: 84 }, Relu, Dense { units: 10 }, Softmax,
        ],
    }
}

/// A separable 10-class problem: class k is a bright 6x6 square at one of
/// ten places on a dark, noisy 32x32 image (as `tests/common`).
fn squares(n: usize, seed: u64) -> Dataset {
    let mut rng = cnn::rng::Rng::new(seed);
    let labels: Vec<usize> = (0..n).map(|i| (i * 3 + seed as usize) % 10).collect();
    let mut x = Vec::with_capacity(n * 1024);
    for &k in &labels {
        let (top, left) = (2 + (k / 5) * 16, 1 + (k % 5) * 6);
        for h in 0..32 {
            for w in 0..32 {
                let inside = (top..top + 6).contains(&h) && (left..left + 6).contains(&w);
                let v = 0.1 * (rng.uniform() * 2.0 - 1.0) + if inside { 1.0 } else { 0.0 };
                x.push(v);
            }
        }
    }
    Dataset::new([32, 32, 1], x, labels, 10).expect("squares")
}

fn sgd() -> Sgd {
    Sgd::new(0.05).momentum(0.9)
}

/// `fit` on 104 examples in batches of `batch`, on one process (`None`)
/// or on the ranks; returns every parameter.
fn train<N: Network>(
    net: N,
    ranks: Option<&mut dyn Collective>,
    sync_bn: bool,
    batch: usize,
) -> cnn::Result<Vec<f32>> {
    let data = squares(104, 1);
    let mut model = Model::compile(net, sgd()).seed(7);
    let mut cfg = Fit::epochs(3).batch_size(batch).verbose(false);
    if let Some(r) = ranks {
        cfg = cfg.ranks(Ranks::new(r).sync_batch_norm(sync_bn));
    }
    model.fit(&data, cfg)?;
    Ok(model.network().params().to_vec())
}

/// [`train`] of [`Scores`] with the mean squared error against one-hot
/// rows (value targets, through the held pass on each rank's shard);
/// returns every parameter and the last epoch's mean absolute error.
fn train_mse(ranks: Option<&mut dyn Collective>, batch: usize) -> cnn::Result<(Vec<f32>, f32)> {
    let data = squares(104, 1);
    let onehot: Vec<f32> = data
        .labels()
        .iter()
        .flat_map(|&label| (0..10).map(move |k| f32::from(u8::from(k == label))))
        .collect();
    let x: Vec<f32> = (0..data.len())
        .flat_map(|i| data.example(i).0.to_vec())
        .collect();
    let data = Dataset::with_values([32, 32, 1], x, onehot, 10)?;
    let mut model = Model::compile(Scores::new(3), sgd())
        .loss(cnn::loss::Mse)
        .seed(7);
    let mut cfg = Fit::epochs(3).batch_size(batch).verbose(false);
    if let Some(r) = ranks {
        cfg = cfg.ranks(Ranks::new(r));
    }
    model.fit(&data, cfg)?;
    let mae = model
        .history()
        .epochs
        .last()
        .map_or(f32::NAN, |e| e.accuracy);
    Ok((model.network().params().to_vec(), mae))
}

/// The largest difference, and whether every rank holds the same bits.
fn compare(ranks: &mut dyn Collective, got: &[f32], want: &[f32]) -> (f32, bool) {
    let diff = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let bits = got.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut all = vec![0u64; ranks.size()];
    ranks.gather_u64(&[bits], &mut all);
    (diff, all.iter().all(|&b| b == all[0]))
}

struct Report {
    root: bool,
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        if self.root {
            println!("{} {name}: {detail}", if ok { "ok  " } else { "FAIL" });
        }
    }
    fn same(&mut self, name: &str, (diff, equal): (f32, bool)) {
        // Only the order of additions differs from one process.
        let ok = diff < 1e-5 && equal;
        let detail = format!(
            "max difference from one process {diff:.1e}, every rank the same bits: {equal}"
        );
        self.check(name, ok, detail);
    }
}

fn checks(mpi: &mut Mpi) -> cnn::Result<Report> {
    let size = mpi.size();
    let mut rep = Report {
        root: mpi.rank() == 0,
        passed: 0,
        failed: 0,
    };
    let one = train(Plain::new(3), None, false, 24)?;
    let got = train(Plain::new(3), Some(mpi), false, 24)?;
    let cmp = compare(mpi, &got, &one);
    rep.same(&format!("no batch norm, dropout, {size} ranks"), cmp);

    let one = train(Plain::new(3), None, false, 25)?;
    let got = train(Plain::new(3), Some(mpi), false, 25)?;
    let cmp = compare(mpi, &got, &one);
    rep.same("uneven shards (batch 25)", cmp);

    let one = train(Normed::new(3), None, false, 24)?;
    let got = train(Normed::new(3), Some(mpi), true, 24)?;
    let cmp = compare(mpi, &got, &one);
    rep.same("synchronised batch norm", cmp);

    let (one, one_mae) = train_mse(None, 25)?;
    let (got, mae) = train_mse(Some(mpi), 25)?;
    let cmp = compare(mpi, &got, &one);
    rep.same("mean squared error on value targets (uneven shards)", cmp);
    rep.check(
        "its metric is the global batch's",
        (mae - one_mae).abs() <= 1e-4 * one_mae.abs() + 1e-6,
        format!("mean absolute error {mae:.6} on the ranks, {one_mae:.6} in one process"),
    );

    // Per-rank statistics: another result by design, which must still learn.
    let got = train(Normed::new(3), Some(mpi), false, 24)?;
    let (diff, equal) = compare(mpi, &got, &one);
    let mut net = Normed::new(0);
    net.params_mut().copy_from_slice(&got);
    let acc = Model::compile(net, sgd())
        .evaluate(&squares(60, 2), 60)?
        .accuracy;
    rep.check(
        "per-rank batch norm",
        acc >= 0.9 && equal,
        format!("test accuracy {:.1}% after 3 epochs, {diff:.1e} from one process (by design), every rank the same bits: {equal}", 100.0 * acc),
    );
    Ok(rep)
}

fn checkpoint(mpi: &mut Mpi, dir: &Path) -> cnn::Result<Report> {
    std::fs::create_dir_all(dir).map_err(|e| cnn::Error::io(dir, e))?;
    let mut m = Model::compile(Normed::new(3), sgd()).seed(7);
    let cfg = Fit::epochs(2)
        .batch_size(24)
        .verbose(false)
        .checkpoint(dir.join("ck.safetensors"));
    m.fit(
        &squares(104, 1),
        cfg.ranks(Ranks::new(mpi).sync_batch_norm(true)),
    )?;
    let mut rep = Report {
        root: mpi.rank() == 0,
        passed: 0,
        failed: 0,
    };
    rep.check(
        "checkpoint written by rank 0",
        dir.join("ck.safetensors").exists() || mpi.rank() != 0,
        format!("{}", dir.display()),
    );
    Ok(rep)
}

fn resume(mpi: &mut Mpi, dir: &Path) -> cnn::Result<Report> {
    let data = squares(104, 1);
    let mut whole = Model::compile(Normed::new(3), sgd()).seed(7);
    whole.fit(&data, Fit::epochs(3).batch_size(24).verbose(false))?;
    let mut m = dist::resume(mpi, Normed::new(0), sgd(), &dir.join("ck.safetensors"))?;
    let from = m.epoch();
    m.fit(
        &data,
        Fit::epochs(3)
            .batch_size(24)
            .verbose(false)
            .ranks(Ranks::new(mpi).sync_batch_norm(true)),
    )?;
    let cmp = compare(mpi, m.network().params(), whole.network().params());
    let mut rep = Report {
        root: mpi.rank() == 0,
        passed: 0,
        failed: 0,
    };
    rep.same(
        &format!("resumed from epoch {from} on {} ranks", mpi.size()),
        cmp,
    );
    Ok(rep)
}

/// Rank 1 fails in the way `mode` names; every rank must stop.
fn fault(mpi: &mut Mpi, mode: &str) -> cnn::Result<Report> {
    let rank = mpi.rank();
    let seed = if mode == "seed" && rank == 1 { 4 } else { 3 };
    let data = match (mode, rank) {
        ("data", 1) => {
            cnn::data::mnist::load(Path::new("/nonexistent/mnist")).map(|_| squares(104, 1))
        }
        _ => Ok(squares(104, 1)),
    };
    let data = dist::agree(mpi, data)?;
    struct Fail(&'static str);
    impl Callback for Fail {
        fn on_epoch_begin(&mut self, epoch: usize, _: &mut dyn Optimizer) -> cnn::Result<()> {
            match (self.0, epoch) {
                ("die", 2) => {
                    // Killed from outside, as the out-of-memory killer would.
                    let pid = std::process::id().to_string();
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid])
                        .status();
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
                ("panic", 2) => panic!("rank 1 panics in epoch 2"),
                _ => {}
            }
            Ok(())
        }
    }
    let mut fail = Fail(if rank == 1 {
        match mode {
            "die" => "die",
            "panic" => "panic",
            _ => "",
        }
    } else {
        ""
    });
    let mut m = Model::compile(Plain::new(seed), sgd()).seed(7);
    let cfg = Fit::epochs(3)
        .batch_size(24)
        .verbose(false)
        .callback(&mut fail);
    m.fit(&data, cfg.ranks(Ranks::new(mpi)))?;
    Err(cnn::Error::Ranks(format!(
        "fault `{mode}` did not stop the job"
    )))
}

/// The all-reduce of LeNet-5's gradient buffer alone, after a barrier.
fn bench(mpi: &mut Mpi) -> cnn::Result<Report> {
    let n = LeNet5::TRAINABLE_PARAMS;
    let mut buf = vec![1.0f32; n];
    let mut extra = [0.0f32; 3];
    for _ in 0..20 {
        mpi.sum_f32_with(&mut buf, &mut extra);
    }
    let reps = 500;
    mpi.barrier();
    let start = std::time::Instant::now();
    for _ in 0..reps {
        mpi.sum_f32_with(&mut buf, &mut extra);
    }
    let us = 1e6 * start.elapsed().as_secs_f64() / reps as f64;
    let mut rep = Report {
        root: mpi.rank() == 0,
        passed: 0,
        failed: 0,
    };
    rep.check(
        "all-reduce of LeNet-5's gradients",
        true,
        format!(
            "{n} floats ({} bytes) + 3: {us:.0} us per all-reduce over {} ranks ({reps} in a row)",
            4 * (n + 3),
            mpi.size()
        ),
    );
    Ok(rep)
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "dist_check",
    about = "Data-parallel training over MPI, checked: run under mpirun with 1 to 3 ranks"
)]
struct Args {
    /// check: ranks give one process's weights; checkpoint / resume: a
    /// checkpoint of 2 ranks written, then resumed; bench: the all-reduce's
    /// cost; seed, data, die, panic: faults every rank must stop on
    #[arg(value_name = "MODE", default_value = "check", value_parser = [
        "check", "checkpoint", "resume", "bench", "seed", "data", "die", "panic",
    ])]
    mode: String,
    /// The checkpoint's directory (checkpoint and resume)
    #[arg(value_name = "DIR", default_value = "target/dist_check")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let mut mpi = match Mpi::init() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    cnn::parallel::set_threads(1);
    let result = match args.mode.as_str() {
        "checkpoint" => checkpoint(&mut mpi, &args.dir),
        "resume" => resume(&mut mpi, &args.dir),
        "bench" => bench(&mut mpi),
        m @ ("seed" | "data" | "die" | "panic") => fault(&mut mpi, m),
        // clap admits the modes above and `check`.
        _ => checks(&mut mpi),
    };
    let result = result.and_then(|rep| {
        if rep.root {
            println!("dist_check: {} passed, {} failed", rep.passed, rep.failed);
        }
        match rep.failed {
            0 => Ok(()),
            n => Err(cnn::Error::Ranks(format!("{n} check(s) failed"))),
        }
    });
    mpi.finish(result)
}
