//! Tests of loading by name and from PyTorch on a small table: what is
//! loaded, kept and unused; each conversion against index loops written
//! out here; each error's text; and robustness: truncated, bit-flipped,
//! foreign and mismatched files give an `Err` naming the file, never a
//! panic, and leave the parameters as they were.

use super::*;
use crate::io::test_dir;
use crate::net::Init;
use ::safetensors::tensor::{Dtype, TensorView};
use std::fs;
use std::path::PathBuf;

/// conv `c` (2x2 kernel, 1 -> 3 channels, bias), batch norm `bn` (3
/// channels), dense `fc` (a flattened 2x2x3 image -> 2 units, bias).
const TABLE: &[TensorInfo] = &[
    info("c.weight", "c", &[2, 2, 1, 3], 0),
    info("c.bias", "c", &[3], 12),
    info("bn.gamma", "bn", &[3], 15),
    info("bn.beta", "bn", &[3], 18),
    info("fc.weight", "fc", &[12, 2], 21),
    info("fc.bias", "fc", &[2], 45),
    info("bn.moving_mean", "bn", &[3], 47),
    info("bn.moving_variance", "bn", &[3], 50),
];
const TOTAL: usize = 53;
const FLATTENED: &[(&str, [usize; 3])] = &[("fc", [2, 2, 3])];

const fn info(
    name: &'static str,
    layer: &'static str,
    shape: &'static [usize],
    offset: usize,
) -> TensorInfo {
    let mut len = 1;
    let mut i = 0;
    while i < shape.len() {
        len *= shape[i];
        i += 1;
    }
    TensorInfo {
        name,
        layer,
        shape,
        offset,
        len,
        trainable: true,
        init: Init::Zeros,
    }
}

/// A tensor to write: name, dtype, shape, little-endian bytes.
type Raw = (String, Dtype, Vec<usize>, Vec<u8>);

fn f32s(name: &str, shape: &[usize], values: &[f32]) -> Raw {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    (name.to_string(), Dtype::F32, shape.to_vec(), bytes)
}

/// `n` distinct values: `start, start + 1, ..`.
fn ramp(start: f32, n: usize) -> Vec<f32> {
    (0..n).map(|i| start + i as f32).collect()
}

fn write(dir: &Path, file: &str, tensors: &[Raw]) -> PathBuf {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bytes = ::safetensors::serialize(views, &None).unwrap();
    let path = dir.join(file);
    fs::write(&path, bytes).unwrap();
    path
}

fn identity(key: &str) -> Option<String> {
    Some(key.to_string())
}

/// A state_dict for TABLE as PyTorch would save it: `c` a Conv2d(1, 3, 2),
/// `bn` a BatchNorm (with its int64 counter), `fc` a Linear(12, 2) after
/// `torch.flatten`; every value distinct.
fn torch_dict() -> Vec<Raw> {
    vec![
        f32s("c.weight", &[3, 1, 2, 2], &ramp(100.0, 12)),
        f32s("c.bias", &[3], &ramp(200.0, 3)),
        f32s("bn.weight", &[3], &ramp(300.0, 3)),
        f32s("bn.bias", &[3], &ramp(400.0, 3)),
        f32s("bn.running_mean", &[3], &ramp(500.0, 3)),
        f32s("bn.running_var", &[3], &ramp(600.0, 3)),
        (
            "bn.num_batches_tracked".to_string(),
            Dtype::I64,
            vec![],
            7i64.to_le_bytes().to_vec(),
        ),
        f32s("fc.weight", &[2, 12], &ramp(700.0, 24)),
        f32s("fc.bias", &[2], &ramp(800.0, 2)),
    ]
}

/// What `torch_dict` must become, by the index formulas of the brief
/// written out as loops over our layout.
fn expected_from_torch() -> Vec<f32> {
    let mut p = vec![0.0; TOTAL];
    // ours[y][x][i][o] = torch[o][i][y][x], kernel 2x2, c_in 1, c_out 3.
    for y in 0..2 {
        for x in 0..2 {
            for o in 0..3 {
                p[(y * 2 + x) * 3 + o] = 100.0 + (o * 4 + y * 2 + x) as f32;
            }
        }
    }
    p[12..15].copy_from_slice(&ramp(200.0, 3));
    p[15..18].copy_from_slice(&ramp(300.0, 3));
    p[18..21].copy_from_slice(&ramp(400.0, 3));
    // ours[(y * w + x) * c + ch][o] = torch[o][ch * h * w + y * w + x], h = w = 2, c = 3.
    for y in 0..2 {
        for x in 0..2 {
            for ch in 0..3 {
                for o in 0..2 {
                    let row = (y * 2 + x) * 3 + ch;
                    p[21 + row * 2 + o] = 700.0 + (o * 12 + ch * 4 + y * 2 + x) as f32;
                }
            }
        }
    }
    p[45..47].copy_from_slice(&ramp(800.0, 2));
    p[47..50].copy_from_slice(&ramp(500.0, 3));
    p[50..53].copy_from_slice(&ramp(600.0, 3));
    p
}

fn message(err: &Error) -> String {
    err.to_string()
}

#[test]
fn by_name_loads_what_fits_and_reports_the_rest() {
    let dir = test_dir("import-by-name");
    let path = write(
        &dir,
        "part.safetensors",
        &[
            f32s("c.weight", &[2, 2, 1, 3], &ramp(1.0, 12)),
            f32s("c.bias", &[3], &ramp(20.0, 3)),
            f32s("head.weight", &[4], &ramp(0.0, 4)),
        ],
    );
    let mut p = vec![-1.0; TOTAL];
    let report = load_by_name(&path, &mut p, TABLE).unwrap();
    assert_eq!(report.loaded, ["c.weight", "c.bias"]);
    assert_eq!(report.kept.len(), TABLE.len() - 2);
    assert_eq!(report.kept[0], "bn.gamma");
    assert_eq!(report.unused, ["head.weight"]);
    assert_eq!(&p[..12], &ramp(1.0, 12)[..]);
    assert_eq!(&p[12..15], &[20.0, 21.0, 22.0]);
    assert!(p[15..].iter().all(|&v| v == -1.0));
    let text = report.to_string();
    assert!(
        text.starts_with("loaded 2 tensors, kept 6, unused 1"),
        "{text}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn by_name_refuses_a_shape_that_does_not_fit_and_writes_nothing() {
    let dir = test_dir("import-by-name-shape");
    // The first tensor fits; the second, in PyTorch's layout, does not.
    let path = write(
        &dir,
        "torch.safetensors",
        &[
            f32s("c.bias", &[3], &ramp(20.0, 3)),
            f32s("c.weight", &[3, 1, 2, 2], &ramp(1.0, 12)),
        ],
    );
    let mut p = vec![-1.0; TOTAL];
    let err = load_by_name(&path, &mut p, TABLE).unwrap_err();
    assert_eq!(
        message(&err),
        format!(
            "{}: tensor `c.weight`: the file's 3x1x2x2 does not fit the network's c.weight, which takes 2x2x1x3 \
             (this is PyTorch's layout: load a state_dict with load_pytorch, which converts it)",
            path.display()
        )
    );
    assert!(p.iter().all(|&v| v == -1.0));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn state_dict_converts_every_layout() {
    let dir = test_dir("import-torch");
    let path = write(&dir, "sd.safetensors", &torch_dict());
    let mut p = vec![f32::NAN; TOTAL];
    let report = load_state_dict(&path, &mut p, TABLE, FLATTENED, &identity).unwrap();
    assert_eq!(p, expected_from_torch());
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.loaded.len(), TABLE.len());
    assert_eq!(report.unused, ["bn.num_batches_tracked"]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_flattened_the_dense_rows_are_only_transposed() {
    let dir = test_dir("import-torch-noflat");
    let path = write(&dir, "sd.safetensors", &torch_dict());
    let mut p = vec![f32::NAN; TOTAL];
    load_state_dict(&path, &mut p, TABLE, &[], &identity).unwrap();
    let expected = expected_from_torch();
    assert_eq!(&p[..21], &expected[..21]);
    for row in 0..12 {
        for o in 0..2 {
            assert_eq!(p[21 + row * 2 + o], 700.0 + (o * 12 + row) as f32);
        }
    }
    assert_ne!(&p[21..45], &expected[21..45]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_pointwise_conv_weight_loads_into_a_dense_layer() {
    // torchvision's squeeze-and-excitation `fc1`: Conv2d(12, 2, 1) on a
    // pooled 1x1 map, `[2, 12, 1, 1]`, is our dense `[12, 2]`.
    let dir = test_dir("import-torch-pointwise");
    let mut dict = torch_dict();
    let fc = dict.iter_mut().find(|t| t.0 == "fc.weight").unwrap();
    fc.2 = vec![2, 12, 1, 1];
    let path = write(&dir, "sd.safetensors", &dict);
    let mut p = vec![f32::NAN; TOTAL];
    load_state_dict(&path, &mut p, TABLE, &[], &identity).unwrap();
    for row in 0..12 {
        for o in 0..2 {
            assert_eq!(p[21 + row * 2 + o], 700.0 + (o * 12 + row) as f32);
        }
    }
    // A 3x3 kernel is not a dense layer's.
    let fc = dict.iter_mut().find(|t| t.0 == "fc.weight").unwrap();
    fc.2 = vec![2, 12, 1, 1];
    fc.2[2] = 3;
    fc.3 = fc.3.repeat(3);
    let path = write(&dir, "sd3.safetensors", &dict);
    let err = load_state_dict(&path, &mut p, TABLE, &[], &identity).unwrap_err();
    assert!(
        message(&err).contains("does not fit fc.weight"),
        "{}",
        message(&err)
    );
    fs::remove_dir_all(dir).unwrap();
}

/// A 1x1 convolution `pw` (4 -> 3, bias) and a scale `blk.layer_scale`
/// (3 channels): ConvNeXt's per-position `Linear` and its layer scale.
const CONVNEXT: &[TensorInfo] = &[
    info("pw.weight", "pw", &[1, 1, 4, 3], 0),
    info("pw.bias", "pw", &[3], 12),
    info("blk.layer_scale", "blk.layer_scale", &[3], 15),
    info("bn.gamma", "bn", &[3], 18),
];

#[test]
fn a_linear_weight_loads_into_a_pointwise_conv_and_a_layer_scale_into_a_scale() {
    let dir = test_dir("import-torch-convnext");
    // nn.Linear(4, 3).weight is [out, in]: value 100 + o * 4 + i.
    let linear: Vec<f32> = (0..12).map(|k| 100.0 + k as f32).collect();
    let dict = vec![
        f32s("pw.weight", &[3, 4], &linear),
        f32s("pw.bias", &[3], &[1.0, 2.0, 3.0]),
        f32s("blk.layer_scale", &[3, 1, 1], &[0.5, 0.25, 0.125]),
        f32s("bn.weight", &[3], &[7.0, 8.0, 9.0]),
    ];
    let path = write(&dir, "sd.safetensors", &dict);
    let mut p = vec![f32::NAN; 21];
    load_state_dict(&path, &mut p, CONVNEXT, &[], &identity).unwrap();
    // Ours [1, 1, in, out]: element (i, o) at i * 3 + o.
    for i in 0..4 {
        for o in 0..3 {
            assert_eq!(p[i * 3 + o], 100.0 + (o * 4 + i) as f32);
        }
    }
    assert_eq!(p[12..18], [1.0, 2.0, 3.0, 0.5, 0.25, 0.125]);
    assert_eq!(p[18..21], [7.0, 8.0, 9.0]);
    // [c, 1, 1] fits a scale's tensor only: not batch norm's gamma, and
    // not with another channel count.
    for (key, shape) in [("bn.weight", [3, 1, 1]), ("blk.layer_scale", [4, 1, 1])] {
        let mut bad = dict.clone();
        let t = bad.iter_mut().find(|t| t.0 == key).unwrap();
        *t = f32s(key, &shape, &ramp(0.0, shape.iter().product()));
        let path = write(&dir, "bad.safetensors", &bad);
        let mut q = vec![-1.0; 21];
        let err = load_state_dict(&path, &mut q, CONVNEXT, &[], &identity).unwrap_err();
        assert!(message(&err).contains("does not fit"), "{}", message(&err));
        assert!(q.iter().all(|&v| v == -1.0));
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn state_dict_maps_names_skips_and_converts_half_precision() {
    let dir = test_dir("import-torch-map");
    let mut dict = torch_dict();
    // PyTorch's names: `features.0` for `c`, `classifier` for `fc`; the
    // conv bias in half precision (1.5, -2, 2^-24), plus a key to skip.
    for (name, ..) in dict.iter_mut() {
        if let Some(rest) = name.strip_prefix("c.") {
            *name = format!("features.0.{rest}");
        } else if let Some(rest) = name.strip_prefix("fc.") {
            *name = format!("classifier.{rest}");
        }
    }
    dict.retain(|(name, ..)| name != "features.0.bias");
    let half: Vec<u8> = [0x3e00u16, 0xc000, 0x0001]
        .iter()
        .flat_map(|h| h.to_le_bytes())
        .collect();
    dict.push(("features.0.bias".to_string(), Dtype::F16, vec![3], half));
    dict.push(f32s("aux.weight", &[1], &[0.0]));
    let path = write(&dir, "sd.safetensors", &dict);
    let map = |key: &str| -> Option<String> {
        if key.starts_with("aux.") {
            return None;
        }
        Some(
            key.replace("features.0.", "c.")
                .replace("classifier.", "fc."),
        )
    };
    let mut p = vec![f32::NAN; TOTAL];
    let report = load_state_dict(&path, &mut p, TABLE, FLATTENED, &map).unwrap();
    let mut expected = expected_from_torch();
    expected[12..15].copy_from_slice(&[1.5, -2.0, f32::powi(2.0, -24)]);
    assert_eq!(p, expected);
    assert_eq!(report.unused, ["aux.weight", "bn.num_batches_tracked"]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn state_dict_shape_errors_name_the_key_our_tensor_and_both_shapes() {
    let dir = test_dir("import-torch-shape");
    let mut dict = torch_dict();
    dict[0] = f32s("c.weight", &[3, 2, 2, 2], &ramp(0.0, 24));
    let path = write(&dir, "sd.safetensors", &dict);
    let mut p = vec![-1.0; TOTAL];
    let err = load_state_dict(&path, &mut p, TABLE, FLATTENED, &identity).unwrap_err();
    assert_eq!(
        message(&err),
        format!(
            "{}: tensor `c.weight`: the file's 3x2x2x2 does not fit c.weight, which takes 2x2x1x3 (3x1x2x2 in PyTorch's layout)",
            path.display()
        )
    );
    assert!(p.iter().all(|&v| v == -1.0));
    // A batch norm vector of the wrong length names PyTorch's key.
    let mut dict = torch_dict();
    dict[4] = f32s("bn.running_mean", &[4], &ramp(0.0, 4));
    let path = write(&dir, "bn.safetensors", &dict);
    let err = load_state_dict(&path, &mut p, TABLE, FLATTENED, &identity).unwrap_err();
    assert!(
        message(&err).ends_with(
            "tensor `bn.running_mean`: the file's 4 does not fit bn.moving_mean, which takes 3"
        ),
        "{err}"
    );
    assert!(p.iter().all(|&v| v == -1.0));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn state_dict_refuses_integers_for_our_tensors_and_two_keys_for_one() {
    let dir = test_dir("import-torch-refuse");
    let mut dict = torch_dict();
    dict[1] = ("c.bias".to_string(), Dtype::I32, vec![3], vec![0; 12]);
    let path = write(&dir, "ints.safetensors", &dict);
    let mut p = vec![-1.0; TOTAL];
    let err = load_state_dict(&path, &mut p, TABLE, FLATTENED, &identity).unwrap_err();
    assert!(
        message(&err).contains("`c.bias`: stored as I32, which is not a floating-point type"),
        "{err}"
    );
    let path = write(&dir, "sd.safetensors", &torch_dict());
    let both = |key: &str| Some(key.replace("bn.bias", "c.bias"));
    let err = load_state_dict(&path, &mut p, TABLE, FLATTENED, &both).unwrap_err();
    assert!(
        message(&err).contains("`c.bias`: goes to the same tensor as `bn.bias`"),
        "{err}"
    );
    assert!(p.iter().all(|&v| v == -1.0));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn flattened_entries_are_checked_against_the_table() {
    let dir = test_dir("import-flattened");
    let path = write(&dir, "sd.safetensors", &torch_dict());
    let mut p = vec![-1.0; TOTAL];
    let err = load_state_dict(&path, &mut p, TABLE, &[("head", [2, 2, 3])], &identity)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no dense layer `head`"), "{err}");
    let err = load_state_dict(&path, &mut p, TABLE, &[("fc", [3, 2, 3])], &identity)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`fc` follows a flattened 3x2x3 image, but its weight is 12x2"),
        "{err}"
    );
    let err = load_state_dict(&path, &mut p, TABLE, &[("c", [2, 2, 3])], &identity)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`c` follows"), "{err}");
    // A table that does not fit the arena is refused before the file is read.
    let err = load_by_name(&path, &mut p[..40], TABLE)
        .unwrap_err()
        .to_string();
    assert!(err.contains("arena of 40"), "{err}");
    assert!(p.iter().all(|&v| v == -1.0));
    fs::remove_dir_all(dir).unwrap();
}

/// Runs both loaders on `path`; each must return `Err` mentioning the
/// file's name and leave `p` untouched. Returns the two messages.
fn both_fail(path: &Path) -> [String; 2] {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut p = vec![-1.0; TOTAL];
    let a = load_by_name(path, &mut p, TABLE);
    let b = load_state_dict(path, &mut p, TABLE, FLATTENED, &identity);
    let [a, b] = [a, b].map(|r| match r {
        Err(e) => e.to_string(),
        Ok(report) => panic!("{name}: loaded a bad file: {report}"),
    });
    assert!(a.contains(&name) && b.contains(&name), "{a}\n{b}");
    assert!(p.iter().all(|&v| v == -1.0), "{name}: params changed");
    [a, b]
}

#[test]
fn truncated_foreign_and_missing_files_are_errors_naming_the_file() {
    let dir = test_dir("import-robust");
    let good = write(&dir, "good.safetensors", &torch_dict());
    let bytes = fs::read(&good).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.safetensors", vec![], "too short"),
        ("four-bytes.safetensors", bytes[..4].to_vec(), "too short"),
        (
            "header-cut.safetensors",
            bytes[..8 + header_len / 2].to_vec(),
            "header length runs past",
        ),
        (
            "data-cut.safetensors",
            bytes[..bytes.len() - 3].to_vec(),
            "truncated",
        ),
        (
            "readme.safetensors",
            b"# Model card\n\nThese weights are...\n".to_vec(),
            "not a safetensors file",
        ),
        (
            "weights.pt",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00 a zip from torch.save".to_vec(),
            "not a safetensors file",
        ),
        (
            "json.safetensors",
            [&8u64.to_le_bytes()[..], b"[1,2,3] "].concat(),
            "not valid JSON",
        ),
    ];
    for (file, data, what) in cases {
        let path = dir.join(file);
        fs::write(&path, &data).unwrap();
        for msg in both_fail(&path) {
            assert!(msg.contains(what), "{file}: {msg}");
        }
    }
    let [missing, _] = both_fail(&dir.join("absent.safetensors"));
    assert!(
        missing.contains("No such file") || missing.contains("cannot find"),
        "{missing}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_of_another_network_is_an_error_that_changes_nothing() {
    let dir = test_dir("import-other");
    // Our own checkpoint format, for a net whose conv has 4 filters: by
    // name it does not fit, and as a state_dict the layouts differ too.
    let path = write(
        &dir,
        "other.safetensors",
        &[
            f32s("c.weight", &[2, 2, 1, 4], &ramp(0.0, 16)),
            f32s("c.bias", &[4], &ramp(0.0, 4)),
        ],
    );
    let [by_name, torch] = both_fail(&path);
    // Tensors are read in name order: the bias comes first.
    assert!(
        by_name
            .ends_with("`c.bias`: the file's 4 does not fit the network's c.bias, which takes 3"),
        "{by_name}"
    );
    assert!(
        torch.ends_with("`c.bias`: the file's 4 does not fit c.bias, which takes 3"),
        "{torch}"
    );
    fs::remove_dir_all(dir).unwrap();
}

/// Single-bit flips in the header (every bit of the length, one bit per
/// byte of the JSON, cycling through the eight) either still parse to a
/// file that fits, or are an `Err` naming the file with the parameters
/// untouched; none panics.
#[test]
fn every_bit_flip_in_the_header_is_handled() {
    let dir = test_dir("import-flips");
    let good = write(&dir, "good.safetensors", &torch_dict());
    let bytes = fs::read(&good).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let path = dir.join("flipped.safetensors");
    let (mut errors, mut loaded) = (0, 0);
    for byte in 0..header_end {
        let bits = if byte < 8 {
            0..8
        } else {
            byte % 8..byte % 8 + 1
        };
        for bit in bits {
            let mut data = bytes.clone();
            data[byte] ^= 1 << bit;
            fs::write(&path, &data).unwrap();
            for which in 0..2 {
                let mut p = vec![-1.0; TOTAL];
                let result = if which == 0 {
                    load_by_name(&path, &mut p, TABLE)
                } else {
                    load_state_dict(&path, &mut p, TABLE, FLATTENED, &identity)
                };
                match result {
                    Ok(_) => loaded += 1,
                    Err(e) => {
                        errors += 1;
                        let msg = e.to_string();
                        assert!(
                            msg.contains("flipped.safetensors"),
                            "byte {byte} bit {bit}: {msg}"
                        );
                        assert!(
                            p.iter().all(|&v| v == -1.0),
                            "byte {byte} bit {bit}: params changed"
                        );
                    }
                }
            }
        }
    }
    // Most flips break the JSON or a number; a few only rename a tensor.
    assert!(errors > 10 * loaded, "{errors} errors, {loaded} loads");
    fs::remove_dir_all(dir).unwrap();
}

/// The convolutional twin of `TABLE`'s `fc` (a 2x2 window over 3
/// channels, 2 filters) and of a dense layer after it (a 1x1 conv).
const CONV_TWIN: &[TensorInfo] = &[
    info("fc.weight", "fc", &[2, 2, 3, 2], 0),
    info("fc.bias", "fc", &[2], 24),
    info("out.weight", "out", &[1, 1, 2, 5], 26),
];

#[test]
fn dense_weights_load_into_their_convolutional_twin_unchanged() {
    let dir = test_dir("import-dense-as-conv");
    let path = write(
        &dir,
        "dense.safetensors",
        &[
            f32s("fc.weight", &[12, 2], &ramp(1.0, 24)),
            f32s("fc.bias", &[2], &[30.0, 31.0]),
            f32s("out.weight", &[2, 5], &ramp(40.0, 10)),
        ],
    );
    let mut p = vec![-1.0; 36];
    // By name alone the shapes differ.
    let err = load_by_name(&path, &mut p, CONV_TWIN).unwrap_err();
    assert!(
        message(&err).contains("the file's 12x2 does not fit"),
        "{err}"
    );
    let report = load_dense_as_conv(&path, &mut p, CONV_TWIN).unwrap();
    assert_eq!(report.loaded, ["fc.weight", "fc.bias", "out.weight"]);
    // The same numbers in the same order: row (y * 2 + x) * 3 + k of the
    // dense weight is tap (y, x, k) of the window.
    assert_eq!(&p[..24], &ramp(1.0, 24)[..]);
    assert_eq!(&p[24..26], &[30.0, 31.0]);
    assert_eq!(&p[26..], &ramp(40.0, 10)[..]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dense_as_conv_refuses_a_window_of_another_size_and_writes_nothing() {
    let dir = test_dir("import-dense-as-conv-size");
    let path = write(
        &dir,
        "dense.safetensors",
        &[
            f32s("fc.bias", &[2], &[30.0, 31.0]),
            f32s("fc.weight", &[10, 2], &ramp(1.0, 20)),
        ],
    );
    let mut p = vec![-1.0; 36];
    let err = load_dense_as_conv(&path, &mut p, CONV_TWIN).unwrap_err();
    assert_eq!(
        message(&err),
        format!(
            "{}: tensor `fc.weight`: the file's 10x2 does not fit the network's fc.weight, which takes 2x2x3x2 \
             (a dense weight [in, units] loads into a convolution [fh, fw, c, filters] when fh * fw * c = in \
             and units = filters: here 2 * 2 * 3 = 12 against 10 inputs, 2 filters against 2 units)",
            path.display()
        )
    );
    assert!(p.iter().all(|&v| v == -1.0));
    fs::remove_dir_all(dir).unwrap();
}

/// A `Conv3d`'s weight `[out, in / groups, kd, kh, kw]` and bias, as
/// PyTorch saved them (`scripts/make_volume_kernel_fixture.py`, a grouped
/// 3x2x3 kernel), load into our `[kd, kh, kw, in / groups, out]` as the
/// fixture's own permutation of them (`conv_a.w`, made by PyTorch's
/// `permute(2, 3, 4, 1, 0)`); a file in our layout is refused with the
/// shape PyTorch would have.
#[test]
fn state_dict_converts_a_conv3d_weight() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/volume/kernels.safetensors"
    );
    let fixture = crate::io::load(Path::new(path)).unwrap();
    let get = |name: &str| {
        let (shape, values) = fixture.tensor(name).unwrap();
        (shape.to_vec(), values)
    };
    let ((torch_shape, torch_w), (_, ours_w), (_, b)) =
        (get("conv_a.weight"), get("conv_a.w"), get("conv_a.b"));
    assert_eq!(torch_shape, [6, 2, 3, 2, 3]);
    const VOLUME: &[TensorInfo] = &[
        info("v.weight", "v", &[3, 2, 3, 2, 6], 0),
        info("v.bias", "v", &[6], 216),
    ];
    let dir = test_dir("import_conv3d");
    let file = write(
        &dir,
        "state_dict.safetensors",
        &[
            f32s("v.weight", &torch_shape, &torch_w),
            f32s("v.bias", &[6], &b),
        ],
    );
    let mut params = vec![f32::NAN; 222];
    let report = load_state_dict(&file, &mut params, VOLUME, &[], &identity).unwrap();
    assert_eq!(report.loaded.len(), 2, "{report:?}");
    assert_eq!(&params[..216], &ours_w[..]);
    assert_eq!(&params[216..], &b[..]);
    // Our own layout is not PyTorch's: the error gives the shape it wants.
    let wrong = write(
        &dir,
        "ours.safetensors",
        &[f32s("v.weight", &[3, 2, 3, 2, 6], &ours_w)],
    );
    let err = load_state_dict(&wrong, &mut params, VOLUME, &[], &identity).unwrap_err();
    assert!(
        message(&err).contains("6x2x3x2x3 in PyTorch's layout"),
        "{}",
        message(&err)
    );
    fs::remove_dir_all(dir).unwrap();
}
