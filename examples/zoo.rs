//! The model zoo (`cnn::models`) at a glance: every model declared in one
//! line, its torchvision parameter count asserted at compile time, and a
//! table of parameters, multiply-adds and measured batch-1 latency.
//!
//!     cargo run --release --example zoo                   # the table, timed
//!     cargo run --release --example zoo -- --no-time      # counts only
//!     cargo run --release --example zoo -- --runs 5 --threads 2 --out out/zoo
//!
//! Latency is the median of `--runs` `predict` calls (default 3, after one
//! that sizes the workspace) on one random image at the model's input size
//! (224x224x3; Inception v3 299x299x3), with random weights. The table is
//! printed and written as Markdown to `<out>/zoo.md` (default `out/zoo`).

#[path = "shared/cli.rs"]
mod cli;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::net::thousands;
use cnn::prelude::*;
use cnn::rng::Rng;

network! {
    /// The course's LeNet-5 (tanh, average pooling).
    pub struct LeNet5 { input: [32, 32, 1], layers: cnn::models::LeNet5 {} }
    /// torchvision's alexnet.
    pub struct AlexNet { input: [224, 224, 3], layers: cnn::models::AlexNet {} }
    /// torchvision's vgg11.
    pub struct Vgg11 { input: [224, 224, 3], layers: cnn::models::Vgg11 {} }
    /// torchvision's vgg16.
    pub struct Vgg16 { input: [224, 224, 3], layers: cnn::models::Vgg16 {} }
    /// torchvision's vgg19.
    pub struct Vgg19 { input: [224, 224, 3], layers: cnn::models::Vgg19 {} }
    /// torchvision's vgg16_bn.
    pub struct Vgg16Bn { input: [224, 224, 3], layers: cnn::models::Vgg16Bn {} }
}

network! {
    /// torchvision's resnet18.
    pub struct ResNet18 { input: [224, 224, 3], layers: cnn::models::ResNet18 {} }
    /// torchvision's resnet34.
    pub struct ResNet34 { input: [224, 224, 3], layers: cnn::models::ResNet34 {} }
    /// torchvision's resnet50.
    pub struct ResNet50 { input: [224, 224, 3], layers: cnn::models::ResNet50 {} }
    /// torchvision's resnet101.
    pub struct ResNet101 { input: [224, 224, 3], layers: cnn::models::ResNet101 {} }
    /// torchvision's resnet152.
    pub struct ResNet152 { input: [224, 224, 3], layers: cnn::models::ResNet152 {} }
    /// torchvision's resnext50_32x4d.
    pub struct ResNeXt50 { input: [224, 224, 3], layers: cnn::models::ResNeXt50 {} }
    /// torchvision's wide_resnet50_2.
    pub struct WideResNet50 { input: [224, 224, 3], layers: cnn::models::WideResNet50 {} }
}

network! {
    /// torchvision's googlenet, with its auxiliary heads.
    pub struct GoogLeNet { input: [224, 224, 3], layers: cnn::models::GoogLeNet {} }
    /// torchvision's inception_v3, with its auxiliary head.
    pub struct InceptionV3 { input: [299, 299, 3], layers: cnn::models::InceptionV3 {} }
    /// torchvision's densenet121.
    pub struct DenseNet121 { input: [224, 224, 3], layers: cnn::models::DenseNet121 {} }
    /// torchvision's squeezenet1_1.
    pub struct SqueezeNet11 { input: [224, 224, 3], layers: cnn::models::SqueezeNet11 {} }
}

network! {
    /// torchvision's mobilenet_v2.
    pub struct MobileNetV2 { input: [224, 224, 3], layers: cnn::models::MobileNetV2 {} }
    /// torchvision's mobilenet_v3_small.
    pub struct MobileNetV3Small { input: [224, 224, 3], layers: cnn::models::MobileNetV3Small {} }
    /// torchvision's mobilenet_v3_large.
    pub struct MobileNetV3Large { input: [224, 224, 3], layers: cnn::models::MobileNetV3Large {} }
    /// torchvision's efficientnet_b0.
    pub struct EfficientNetB0 { input: [224, 224, 3], layers: cnn::models::EfficientNetB0 {} }
    /// torchvision's regnet_y_400mf.
    pub struct RegNetY400MF { input: [224, 224, 3], layers: cnn::models::RegNetY400MF {} }
    /// torchvision's convnext_tiny.
    pub struct ConvNextTiny { input: [224, 224, 3], layers: cnn::models::ConvNextTiny {} }
}

// torchvision's published trainable parameters (its model table;
// `sum(p.numel() for p in model.parameters())`), as compile-time checks:
// a wrong layer in the zoo does not compile. GoogLeNet's and Inception
// v3's counts are given with their auxiliary heads (which train) and
// without (what `predict` runs).
const _: () = assert!(LeNet5::TRAINABLE_PARAMS == 61_706);
const _: () = assert!(AlexNet::TRAINABLE_PARAMS == 61_100_840);
const _: () = assert!(Vgg11::TRAINABLE_PARAMS == 132_863_336);
const _: () = assert!(Vgg16::TRAINABLE_PARAMS == 138_357_544);
const _: () = assert!(Vgg19::TRAINABLE_PARAMS == 143_667_240);
const _: () = assert!(Vgg16Bn::TRAINABLE_PARAMS == 138_365_992);
const _: () = assert!(ResNet18::TRAINABLE_PARAMS == 11_689_512);
const _: () = assert!(ResNet34::TRAINABLE_PARAMS == 21_797_672);
const _: () = assert!(ResNet50::TRAINABLE_PARAMS == 25_557_032);
const _: () = assert!(ResNet101::TRAINABLE_PARAMS == 44_549_160);
const _: () = assert!(ResNet152::TRAINABLE_PARAMS == 60_192_808);
const _: () = assert!(ResNeXt50::TRAINABLE_PARAMS == 25_028_904);
const _: () = assert!(WideResNet50::TRAINABLE_PARAMS == 68_883_240);
const _: () = assert!(GoogLeNet::TRAINABLE_PARAMS == 13_004_888);
const _: () = assert!(predict_trainable(GoogLeNet::TENSORS) == 6_624_904);
const _: () = assert!(InceptionV3::TRAINABLE_PARAMS == 27_161_264);
const _: () = assert!(predict_trainable(InceptionV3::TENSORS) == 23_834_568);
const _: () = assert!(DenseNet121::TRAINABLE_PARAMS == 7_978_856);
const _: () = assert!(SqueezeNet11::TRAINABLE_PARAMS == 1_235_496);
const _: () = assert!(MobileNetV2::TRAINABLE_PARAMS == 3_504_872);
const _: () = assert!(MobileNetV3Small::TRAINABLE_PARAMS == 2_542_856);
const _: () = assert!(MobileNetV3Large::TRAINABLE_PARAMS == 5_483_032);
const _: () = assert!(EfficientNetB0::TRAINABLE_PARAMS == 5_288_548);
const _: () = assert!(RegNetY400MF::TRAINABLE_PARAMS == 4_344_144);
const _: () = assert!(ConvNextTiny::TRAINABLE_PARAMS == 28_589_128);

/// Trainable parameters outside the auxiliary heads (layers named `aux*`
/// or `AuxLogits*`): torchvision's count without `aux_logits`.
const fn predict_trainable(tensors: &[cnn::net::TensorInfo]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < tensors.len() {
        let t = &tensors[i];
        let name = t.layer.as_bytes();
        let aux = name.len() >= 3 && (name[0] == b'a' || name[0] == b'A') && {
            let (u, x) = (name[1], name[2]);
            (u == b'u' || u == b'U') && (x == b'x' || x == b'X')
        };
        if t.trainable && !aux {
            total += t.len;
        }
        i += 1;
    }
    total
}

/// One row of the table.
struct Row {
    model: &'static str,
    input: String,
    trainable: usize,
    predict_macs: u64,
    /// Median batch-1 `predict` time in milliseconds, if timed.
    latency_ms: Option<f64>,
}

/// Median milliseconds of `runs` calls of `predict` on one random image of
/// `shape`, after one call that sizes the workspace.
fn latency<T>(
    shape: [usize; 3],
    runs: usize,
    mut predict: impl FnMut(cnn::ndarray::ArrayView4<f32>) -> Result<T, cnn::Error>,
) -> Result<f64, cnn::Error> {
    let mut rng = Rng::new(2);
    let [h, w, c] = shape;
    let x = Array4::from_shape_simple_fn((1, h, w, c), || rng.normal());
    predict(x.view())?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        predict(x.view())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "zoo",
    about = "Every model of cnn::models: parameters, multiply-adds and batch-1 latency"
)]
struct Args {
    /// Counts only, no timing
    #[arg(long)]
    no_time: bool,
    /// Timed predict calls per model (the median is reported)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = cli::positive)]
    runs: usize,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
    /// Where zoo.md goes
    #[arg(long, value_name = "DIR", default_value = "out/zoo")]
    out: PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = <Args as clap::Parser>::parse();
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    let runs = if args.no_time { 0 } else { args.runs };
    let out = args.out;
    std::fs::create_dir_all(&out)?;
    macro_rules! rows {
        ($($net:ident $name:literal),* $(,)?) => {{
            let mut rows = Vec::new();
            $(
                let [h, w, c] = $net::INPUT_SHAPE;
                let latency_ms = if runs == 0 {
                    None
                } else {
                    let net = $net::new(1);
                    Some(latency([h, w, c], runs, |x| net.predict(x))?)
                };
                let r = Row {
                    model: $name,
                    input: format!("{h}x{w}x{c}"),
                    trainable: predict_trainable($net::TENSORS),
                    predict_macs: $net::PREDICT_MACS,
                    latency_ms,
                };
                eprintln!("{}: done", r.model);
                rows.push(r);
            )*
            rows
        }};
    }
    let rows = rows!(
        LeNet5 "LeNet-5 (course)",
        AlexNet "AlexNet",
        Vgg11 "VGG-11",
        Vgg16 "VGG-16",
        Vgg19 "VGG-19",
        Vgg16Bn "VGG-16-BN",
        ResNet18 "ResNet-18",
        ResNet34 "ResNet-34",
        ResNet50 "ResNet-50",
        ResNet101 "ResNet-101",
        ResNet152 "ResNet-152",
        ResNeXt50 "ResNeXt-50 32x4d",
        WideResNet50 "Wide ResNet-50-2",
        GoogLeNet "GoogLeNet",
        InceptionV3 "Inception v3",
        DenseNet121 "DenseNet-121",
        SqueezeNet11 "SqueezeNet 1.1",
        MobileNetV2 "MobileNet v2",
        MobileNetV3Small "MobileNet v3 small",
        MobileNetV3Large "MobileNet v3 large",
        EfficientNetB0 "EfficientNet-B0",
        RegNetY400MF "RegNetY-400MF",
        ConvNextTiny "ConvNeXt-Tiny",
    );
    let mut table = String::from(
        "| model | input | parameters (predict) | multiply-adds | batch-1 latency |\n|---|---|---:|---:|---:|\n",
    );
    for r in &rows {
        let latency = r
            .latency_ms
            .map_or("-".to_string(), |ms| format!("{ms:.1} ms"));
        writeln!(
            table,
            "| {} | {} | {} | {:.2} G | {} |",
            r.model,
            r.input,
            thousands(r.trainable as u64),
            r.predict_macs as f64 / 1e9,
            latency
        )
        .expect("writing to a String");
    }
    print!("{table}");
    println!(
        "threads: {}; latency: median of {runs} predict calls on one image, random weights",
        cnn::parallel::threads()
    );
    let path = out.join("zoo.md");
    std::fs::write(&path, &table)?;
    println!("table -> {}", path.display());
    Ok(())
}
