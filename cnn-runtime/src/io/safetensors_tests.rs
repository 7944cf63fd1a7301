//! Tests of checkpoint save/load: round trips, atomicity, and one test per
//! error (missing file, garbage, truncation, missing / mis-shaped / non-F32 /
//! unexpected tensor).

use super::*;
use crate::io::test_dir;
use ::safetensors::tensor::TensorView;

fn owned(v: &[(&str, &[usize], &[f32])]) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    v.iter()
        .map(|(n, s, d)| (n.to_string(), s.to_vec(), d.to_vec()))
        .collect()
}

fn save_all(
    path: &Path,
    t: &[(String, Vec<usize>, Vec<f32>)],
    meta: &[(&str, &str)],
) -> Result<()> {
    let refs: Vec<(String, Vec<usize>, &[f32])> = t
        .iter()
        .map(|(n, s, d)| (n.clone(), s.clone(), d.as_slice()))
        .collect();
    let meta: Vec<(String, String)> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    save(path, &refs, &meta)
}

/// A small net's worth of tensors: conv1.weight [2, 2, 1, 3], conv1.bias [3].
fn sample() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    owned(&[
        ("conv1.weight", &[2, 2, 1, 3], &w),
        ("conv1.bias", &[3], &[0.5, -0.0, f32::MIN_POSITIVE / 2.0]),
    ])
}

fn checkpoint_tensor(err: &Error) -> &str {
    match err {
        Error::Checkpoint { tensor, .. } => tensor,
        other => panic!("expected Error::Checkpoint, got {other:?}"),
    }
}

#[test]
fn round_trip_is_bit_exact_with_metadata() {
    let dir = test_dir("st-round");
    let path = dir.join("net.safetensors");
    let t = sample();
    save_all(&path, &t, &[("network", "LeNet5"), ("epoch", "3")]).unwrap();
    let ck = load(&path).unwrap();
    assert_eq!(ck.names(), vec!["conv1.bias", "conv1.weight"]);
    assert_eq!(ck.metadata("network"), Some("LeNet5"));
    assert_eq!(ck.metadata("epoch"), Some("3"));
    assert_eq!(ck.metadata("absent"), None);
    assert_eq!(ck.dtype("conv1.bias").as_deref(), Some("F32"));
    for (name, shape, data) in &t {
        let (s, d) = ck.get(name).unwrap();
        assert_eq!(s, shape.as_slice());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&d), bits(data), "{name}");
    }
    assert!(ck.get("nope").is_none());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_into_fills_destinations() {
    let dir = test_dir("st-into");
    let path = dir.join("net.safetensors");
    let t = sample();
    save_all(&path, &t, &[]).unwrap();
    let (mut w, mut b) = (vec![f32::NAN; 12], vec![f32::NAN; 3]);
    let mut expected = vec![
        (
            "conv1.weight".to_string(),
            vec![2, 2, 1, 3],
            w.as_mut_slice(),
        ),
        ("conv1.bias".to_string(), vec![3], b.as_mut_slice()),
    ];
    load_into(&path, &mut expected).unwrap();
    assert_eq!(w, t[0].2);
    assert_eq!(b[0], 0.5);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn empty_checkpoint_round_trips() {
    let dir = test_dir("st-empty");
    let path = dir.join("empty.safetensors");
    save(&path, &[], &[]).unwrap();
    let ck = load(&path).unwrap();
    assert!(ck.names().is_empty());
    load_into(&path, &mut []).unwrap();
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_file_is_io_with_the_path() {
    let dir = test_dir("st-missing");
    let path = dir.join("absent.safetensors");
    let err = load(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn garbage_and_truncated_files_are_format_errors() {
    let dir = test_dir("st-garbage");
    let good = dir.join("good.safetensors");
    save_all(&good, &sample(), &[("k", "v")]).unwrap();
    let bytes = fs::read(&good).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "too short"),
        ("short", vec![1, 2, 3], "too short"),
        (
            "text",
            b"hello, this is not a checkpoint at all".to_vec(),
            "not a safetensors",
        ),
        (
            "header-cut",
            bytes[..8 + header_len / 2].to_vec(),
            "header length runs past",
        ),
        ("data-cut", bytes[..bytes.len() - 5].to_vec(), "truncated"),
        (
            "json-garbage",
            {
                let mut b = bytes.clone();
                b[8] = b'#';
                b
            },
            "not valid JSON",
        ),
    ];
    for (tag, data, want) in cases {
        let path = dir.join(format!("{tag}.safetensors"));
        fs::write(&path, &data).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{tag}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(want) && msg.contains(tag), "{tag}: {msg}");
        let err = load_into(&path, &mut []).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{tag}: {err:?}");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_into_names_the_missing_tensor_and_writes_nothing() {
    let dir = test_dir("st-missing-tensor");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[]).unwrap();
    let (mut w, mut b, mut w2) = (vec![7.0; 12], vec![7.0; 3], vec![7.0; 4]);
    let mut expected = vec![
        (
            "conv1.weight".to_string(),
            vec![2, 2, 1, 3],
            w.as_mut_slice(),
        ),
        ("conv1.bias".to_string(), vec![3], b.as_mut_slice()),
        ("conv2.weight".to_string(), vec![4], w2.as_mut_slice()),
    ];
    let err = load_into(&path, &mut expected).unwrap_err();
    assert_eq!(checkpoint_tensor(&err), "conv2.weight");
    let msg = err.to_string();
    assert!(
        msg.contains("missing") && msg.contains("conv1.bias, conv1.weight"),
        "{msg}"
    );
    assert!(
        w.iter().chain(&b).all(|&x| x == 7.0),
        "nothing written on error"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_into_names_the_misshaped_tensor() {
    let dir = test_dir("st-shape");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[]).unwrap();
    let (mut w, mut b) = (vec![0.0; 12], vec![0.0; 3]);
    let mut expected = vec![
        ("conv1.bias".to_string(), vec![3], b.as_mut_slice()),
        (
            "conv1.weight".to_string(),
            vec![2, 2, 3, 1],
            w.as_mut_slice(),
        ),
    ];
    let err = load_into(&path, &mut expected).unwrap_err();
    assert_eq!(checkpoint_tensor(&err), "conv1.weight");
    let msg = err.to_string();
    assert!(
        msg.contains("[2, 2, 1, 3] in the file, expected [2, 2, 3, 1]"),
        "{msg}"
    );
    assert_eq!(b, vec![0.0; 3]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_into_rejects_tensors_of_another_dtype() {
    let dir = test_dir("st-dtype");
    let path = dir.join("ints.safetensors");
    let raw: Vec<u8> = [1i32, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::I32, vec![3], &raw).unwrap();
    let bytes = ::safetensors::serialize([("counts", view)], &None).unwrap();
    fs::write(&path, bytes).unwrap();
    let ck = load(&path).unwrap();
    assert_eq!(ck.dtype("counts").as_deref(), Some("I32"));
    assert!(ck.get("counts").is_none());
    let mut dest = vec![0.0; 3];
    let err = load_into(
        &path,
        &mut [("counts".to_string(), vec![3], dest.as_mut_slice())],
    )
    .unwrap_err();
    assert_eq!(checkpoint_tensor(&err), "counts");
    assert!(
        err.to_string().contains("stored as I32, expected F32"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_into_rejects_unexpected_tensors_but_copy_into_ignores_them() {
    let dir = test_dir("st-extra");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[]).unwrap();
    let mut w = vec![0.0; 12];
    let mut expected = vec![(
        "conv1.weight".to_string(),
        vec![2, 2, 1, 3],
        w.as_mut_slice(),
    )];
    let err = load_into(&path, &mut expected).unwrap_err();
    assert_eq!(checkpoint_tensor(&err), "conv1.bias");
    assert!(
        err.to_string().contains("not part of this network"),
        "{err}"
    );
    assert_eq!(expected[0].2, &[0.0; 12][..], "nothing written on error");
    load(&path).unwrap().copy_into(&mut expected).unwrap();
    assert_eq!(w[1], -0.75);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_destination_length_is_a_shape_error() {
    let dir = test_dir("st-dest");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[]).unwrap();
    let mut b = vec![0.0; 2];
    let err = load(&path)
        .unwrap()
        .copy_into(&mut [("conv1.bias".to_string(), vec![3], b.as_mut_slice())])
        .unwrap_err();
    assert!(
        matches!(err, Error::Shape { .. }) && err.to_string().contains("conv1.bias"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_tensor_fails_before_anything_is_written() {
    let dir = test_dir("st-bad-save");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[("version", "good")]).unwrap();
    let good = fs::read(&path).unwrap();
    // 5 values for a [2, 3] tensor.
    let mut bad = sample();
    bad.push(("fc.weight".into(), vec![2, 3], vec![1.0; 5]));
    let err = save_all(&path, &bad, &[("version", "bad")]).unwrap_err();
    assert_eq!(checkpoint_tensor(&err), "fc.weight");
    assert!(
        err.to_string().contains("holds 6 values but 5 were given"),
        "{err}"
    );
    // A duplicate name is refused the same way.
    let mut dup = sample();
    dup.push(dup[0].clone());
    let err = save_all(&path, &dup, &[]).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
    assert_eq!(
        fs::read(&path).unwrap(),
        good,
        "the old checkpoint survives"
    );
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn save_replaces_an_existing_checkpoint_and_reports_a_missing_directory() {
    let dir = test_dir("st-replace");
    let path = dir.join("net.safetensors");
    save_all(&path, &sample(), &[("epoch", "1")]).unwrap();
    save_all(&path, &sample(), &[("epoch", "2")]).unwrap();
    assert_eq!(load(&path).unwrap().metadata("epoch"), Some("2"));
    let nowhere = dir.join("no-such-dir").join("net.safetensors");
    let err = save_all(&nowhere, &sample(), &[]).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("no-such-dir"),
        "{err}"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn half_precision_widens_exactly() {
    // Bit patterns and values from the IEEE 754 binary16 definition.
    let cases = [
        (0x3c00u16, 1.0f32),
        (0xc000, -2.0),
        (0x3e00, 1.5),
        (0x7bff, 65504.0),
        (0x0400, f32::powi(2.0, -14)),
        (0x0001, f32::powi(2.0, -24)),
        (0x03ff, 1023.0 * f32::powi(2.0, -24)),
        (0x3555, 0.333_251_95),
        (0x7c00, f32::INFINITY),
        (0xfc00, f32::NEG_INFINITY),
    ];
    for (bits, value) in cases {
        assert_eq!(f16_to_f32(bits), value, "{bits:#06x}");
    }
    assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    assert!(f16_to_f32(0x7e00).is_nan());
}

#[test]
fn tensor_f32_converts_floating_dtypes_and_refuses_integers() {
    let dir = test_dir("st-f32");
    let path = dir.join("mixed.safetensors");
    let f64s: Vec<u8> = [0.1f64, -3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    // bfloat16 1.0 and -0.5: the top halves of the f32 bit patterns.
    let bf16s: Vec<u8> = [0x3f80u16, 0xbf00]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i64s = 7i64.to_le_bytes();
    let views = [
        ("a", TensorView::new(Dtype::F64, vec![2], &f64s).unwrap()),
        (
            "b",
            TensorView::new(Dtype::BF16, vec![1, 2], &bf16s).unwrap(),
        ),
        ("n", TensorView::new(Dtype::I64, vec![], &i64s).unwrap()),
    ];
    fs::write(&path, ::safetensors::serialize(views, &None).unwrap()).unwrap();
    let ck = load(&path).unwrap();
    assert_eq!(
        ck.tensor_f32("a").unwrap(),
        (&[2usize][..], vec![0.1f32, -3.0])
    );
    assert_eq!(
        ck.tensor_f32("b").unwrap(),
        (&[1usize, 2][..], vec![1.0f32, -0.5])
    );
    assert_eq!(ck.shape("n"), Some(&[][..]));
    assert!(ck.is_float("a") && ck.is_float("b") && !ck.is_float("n") && !ck.is_float("zz"));
    let err = ck.tensor_f32("n").unwrap_err().to_string();
    assert!(
        err.ends_with("tensor `n`: stored as I64, which is not a floating-point type"),
        "{err}"
    );
    assert!(ck
        .tensor_f32("zz")
        .unwrap_err()
        .to_string()
        .contains("missing"));
    fs::remove_dir_all(dir).unwrap();
}
