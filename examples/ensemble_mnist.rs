//! The course's two tips for the last point of accuracy, measured: five
//! LeNet-5s trained from different seeds (each exactly as
//! `lenet5 --seed S` with the same flags would train it; affine + elastic
//! distortions by default), then tested alone, with multi-crop (the four
//! corners and the centre of the test digits padded by 2 more pixels, no
//! mirrors: a mirrored digit is another symbol), as an ensemble (their
//! probabilities averaged), and as both. Prints the error of each with
//! its time and memory, and ends with `test accuracy: NN.NN%` of the
//! ensemble.
//!
//!     cargo run --release --example ensemble_mnist -- [--epochs N] [--seed N]
//!         [--augment KIND] [--data DIR] [--batch-size N] [--threads N] [--out DIR] [--lr X]
//!
//! Member k (from 0) is trained with seed `--seed + k` in `--out/member_k`.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/train_args.rs"]
mod train_args;

#[path = "shared/lenet5_net.rs"]
mod lenet5_net;

use std::time::Instant;

use cnn::prelude::*;
use cnn::train::{evaluate, Classifier, Ensemble, TenCrop};
use lenet5_net::{prepare, LeNet5, MNIST_MEAN, MNIST_STD};

const MEMBERS: usize = 5;

fn main() {
    let mut args = train_args::parse_or_exit(&train_args::Defaults {
        program: "ensemble_mnist",
        epochs: 40,
        batch_size: 64,
        out: "out/ensemble_mnist",
        learning_rate: 1e-3,
        lr_help: "Adam's peak learning rate (warm-up, then cosine to 0)",
    });
    // Distortions unless asked otherwise (the command line's default is `shift`).
    if !std::env::args().any(|a| a.starts_with("--augment")) {
        args.augment = "elastic".into();
    }
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Test error in percent, and the seconds the whole test set took.
fn score(c: &impl Classifier, test: &Dataset) -> Result<(f64, f64), cnn::Error> {
    let t = Instant::now();
    let e = evaluate(c, test, 500)?;
    Ok((100.0 * (1.0 - e.accuracy as f64), t.elapsed().as_secs_f64()))
}

fn run(args: &train_args::Args) -> Result<(), cnn::Error> {
    let (train, val, test) = train_args::load_mnist(args, prepare)?;
    let background = -MNIST_MEAN / MNIST_STD;
    // 36x36 test digits: the 32x32 crops at the corners are the digit moved
    // by 2 pixels, the centre crop is the usual test image.
    let test36 = test.pad([2, 2, 2, 2], background);

    let start = Instant::now();
    let mut nets = Vec::with_capacity(MEMBERS);
    for k in 0..MEMBERS {
        let mut a = args.clone();
        a.seed = args.seed + k as u64;
        a.out = args.out.join(format!("member_{k}"));
        std::fs::create_dir_all(&a.out).map_err(|e| cnn::Error::io(&a.out, e))?;
        println!("\n== member {} of {MEMBERS}: seed {} ==", k + 1, a.seed);
        let model = Model::compile(LeNet5::new(a.seed), Adam::new(a.learning_rate)).seed(a.seed);
        let model = train_args::fit_and_report(
            &a,
            model,
            (&train, &val, &test),
            "lenet5",
            "LeNet-5 on MNIST",
            background,
        )?;
        // fit_and_report leaves the best-on-validation weights loaded; the
        // figures here are for the final ones, as `lenet5` reports them.
        let mut net = model.into_network();
        cnn::train::checkpoint::load_weights(&a.out.join("lenet5.safetensors"), &mut net)?;
        nets.push(net);
    }
    let train_seconds = start.elapsed().as_secs_f64();

    println!("\n== test set: {} images ==", test.len());
    let mut single = Vec::new();
    let mut cropped = Vec::new();
    for (k, net) in nets.iter().enumerate() {
        let (e1, t1) = score(net, &test)?;
        let crops = TenCrop::new(net, test36.shape())?.mirrors(false);
        let (e5, t5) = score(&crops, &test36)?;
        println!(
            "member {}: {e1:.2}% error ({t1:.2} s); 5 crops: {e5:.2}% ({t5:.2} s)",
            k + 1
        );
        single.push((e1, t1));
        cropped.push((e5, t5));
    }
    let mean = |v: &[(f64, f64)]| {
        let n = v.len() as f64;
        (
            v.iter().map(|x| x.0).sum::<f64>() / n,
            v.iter().map(|x| x.1).sum::<f64>() / n,
        )
    };
    let (e1, t1) = mean(&single);
    let (e5, t5) = mean(&cropped);
    let ensemble = Ensemble::new(nets)?;
    let (ee, te) = score(&ensemble, &test)?;
    let both = TenCrop::new(&ensemble, test36.shape())?.mirrors(false);
    let (eb, tb) = score(&both, &test36)?;

    let param_bytes = LeNet5::PARAMS * 4;
    println!("\n| test-time method | error | time for 10,000 images | parameters in memory |");
    println!("|---|---|---|---|");
    let kib = |b: usize| b as f64 / 1024.0;
    println!(
        "| one network (mean of {MEMBERS}) | {e1:.2}% | {t1:.2} s | {:.0} KiB |",
        kib(param_bytes)
    );
    println!(
        "| one network, 5 crops (mean of {MEMBERS}) | {e5:.2}% | {t5:.2} s | {:.0} KiB |",
        kib(param_bytes)
    );
    println!(
        "| ensemble of {MEMBERS} | {ee:.2}% | {te:.2} s | {:.0} KiB |",
        kib(MEMBERS * param_bytes)
    );
    println!(
        "| ensemble of {MEMBERS}, 5 crops | {eb:.2}% | {tb:.2} s | {:.0} KiB |",
        kib(MEMBERS * param_bytes)
    );
    println!(
        "gain over one network: 5 crops {:+.2} points, ensemble {:+.2}, both {:+.2}",
        e1 - e5,
        e1 - ee,
        e1 - eb
    );
    println!(
        "peak memory of this process: {}; training took {:.1} min",
        peak_memory(),
        train_seconds / 60.0
    );
    println!("test accuracy: {:.2}%", 100.0 - ee);
    Ok(())
}

/// The resident-set high-water mark (Linux), or "unknown".
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
