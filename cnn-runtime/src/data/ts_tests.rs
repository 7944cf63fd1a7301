//! The `.ts` reader on the vendored archive files (their sizes as
//! data/README.md states them), on small hand-written files for each rule,
//! and on real files mutated and truncated byte by byte: every outcome is
//! a value or an `Err` naming the file and line, never a panic.

use super::*;
use std::path::PathBuf;

fn ucr(name: &str, split: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/ucr")
        .join(name)
        .join(format!("{name}_{split}.ts"))
}

fn parse(text: &str) -> Result<Series> {
    parse_ts(text.as_bytes(), Path::new("t.ts"), Padding::LastValue)
}

fn error(text: &str) -> String {
    parse(text).expect_err("malformed").to_string()
}

const HEAD: &str = "#c\n@problemName T\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n";

#[test]
fn vendored_sets_have_their_stated_sizes() {
    // data/README.md's `ucr/` section: classes, channels, length, train / test.
    let sets = [
        ("GunPoint", 2, 1, 150, 50, 150),
        ("ItalyPowerDemand", 2, 1, 24, 67, 1029),
        ("ArrowHead", 3, 1, 251, 36, 175),
        ("OSULeaf", 6, 1, 427, 200, 242),
        ("BasicMotions", 4, 6, 100, 40, 40),
        ("JapaneseVowels", 9, 12, 29, 270, 370),
    ];
    for (name, classes, channels, length, n_train, n_test) in sets {
        let train = read_ts(&ucr(name, "TRAIN")).unwrap();
        let test = read_ts(&ucr(name, "TEST")).unwrap();
        assert_eq!(train.problem, name);
        assert_eq!(train.classes.len(), classes, "{name}");
        assert_eq!(train.classes, test.classes, "{name}");
        assert_eq!(train.channels, channels, "{name}");
        assert_eq!((train.len(), test.len()), (n_train, n_test), "{name}");
        assert!(train.length <= length && test.length <= length, "{name}");
        assert_eq!(train.length.max(test.length), length, "{name}");
        assert_eq!(train.missing, 0);
    }
    let gun = read_ts(&ucr("GunPoint", "TRAIN")).unwrap();
    // The first value of the first case, and its class `2`.
    assert_eq!(gun.values[0], -0.647_885_4);
    assert_eq!(gun.classes[gun.labels[0]], "2");
    let vowels = read_ts(&ucr("JapaneseVowels", "TRAIN")).unwrap();
    assert_eq!(*vowels.lengths.iter().min().unwrap(), 7);
}

#[test]
fn unequal_lengths_pad_with_the_last_value_or_zeros() {
    let text = format!("{HEAD}1,2,3:4,5,6:a\n7,8:9,?:b\n");
    let s = parse(&text).unwrap();
    assert_eq!(
        (s.channels, s.length, s.lengths.clone()),
        (2, 3, vec![3, 2])
    );
    // Case 2, time-major: (7, 9), (8, 9 for the missing value), padded with (8, 9).
    assert_eq!(s.case(1), &[7.0, 9.0, 8.0, 9.0, 8.0, 9.0]);
    assert_eq!(s.labels, [0, 1]);
    assert_eq!(s.missing, 1);
    let z = parse_ts(text.as_bytes(), Path::new("t.ts"), Padding::Zeros).unwrap();
    assert_eq!(z.case(1), &[7.0, 9.0, 8.0, 9.0, 0.0, 0.0]);
    let d = s.to_dataset().unwrap();
    assert_eq!(d.shape(), [1, 3, 2]);
    assert_eq!(
        s.with_length(4, Padding::Zeros).case(0),
        &[1., 4., 2., 5., 3., 6., 0., 0.]
    );
    // Missing values at the start take the first present value.
    let s = parse(&format!("{HEAD}NaN,?,3:?,?,?:a\n")).unwrap();
    assert_eq!(s.case(0), &[3.0, 0.0, 3.0, 0.0, 3.0, 0.0]);
}

#[test]
fn z_normalise_each_channel_of_each_case() {
    let mut s = parse(&format!("{HEAD}1,2,3:5,5,5:a\n")).unwrap();
    s.z_normalise();
    let sd = (2.0f32 / 3.0).sqrt();
    let want = [-1.0 / sd, 0.0, 0.0, 0.0, 1.0 / sd, 0.0];
    for (a, b) in s.case(0).iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{:?}", s.case(0));
    }
}

#[test]
fn each_malformed_input_names_the_file_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "@data\n1:a\n",
            "t.ts: line 1: @data before `@classLabel true <labels>`",
        ),
        ("@classLabel true a\n", "t.ts: line 1: no @data line"),
        (
            "@classLabel true a\n@data\n",
            "t.ts: line 2: no cases after @data",
        ),
        (
            "@classLabel true a\n@bogus 1\n@data\n",
            "t.ts: line 2: unknown header `@bogus`",
        ),
        (
            "@classLabel true a a\n",
            "t.ts: line 1: @classLabel lists `a` twice",
        ),
        (
            "@dimensions x\n",
            "t.ts: line 1: `@dimensions` takes a positive whole number, got `x`",
        ),
        (
            "@timeStamps true\n",
            "t.ts: line 1: @timeStamps true is not supported",
        ),
        (
            "@classLabel true a\n@data\n1,x:a\n",
            "t.ts: line 3: channel 1, value 2: `x` is not a number",
        ),
        (
            "@classLabel true a\n@data\n1,2:c\n",
            "t.ts: line 3: class label `c` is not among",
        ),
        (
            "@classLabel true a\n@data\n1,2\n",
            "t.ts: line 3: a case needs its values",
        ),
        (
            "@classLabel true a\n@data\n1:2:a\n1:a\n",
            "t.ts: line 4: 1 channels, but the first case has 2",
        ),
        (
            "@dimensions 2\n@classLabel true a\n@data\n1:a\n",
            "t.ts: line 4: 1 channels, but @dimensions says 2",
        ),
        (
            "@equalLength true\n@seriesLength 2\n@classLabel true a\n@data\n1,2,3:a\n",
            "t.ts: line 5: a channel of length 3",
        ),
        (
            "@classLabel true a\n@data\n1,,2:a\n",
            "t.ts: line 3: channel 1, value 2: `` is not a number",
        ),
        (
            "@classLabel true a\n@data\n1,inf:a\n",
            "t.ts: line 3: channel 1, value 2: `inf`",
        ),
        (
            "@classLabel true a\n@data\n1:a\n@dimensions 1\n",
            "t.ts: line 4: header `@dimensions` after @data",
        ),
        ("hello\n", "t.ts: line 1: `hello` before @data"),
    ];
    for (text, want) in cases {
        let got = error(text);
        assert!(got.starts_with(want), "{text:?}:\n got {got}\nwant {want}");
    }
    let bytes = b"@classLabel true a\n@data\n1,\xff:a\n";
    let got = parse_ts(bytes, Path::new("t.ts"), Padding::Zeros)
        .unwrap_err()
        .to_string();
    assert_eq!(got, "t.ts: line 3: not UTF-8 text");
    let missing = read_ts(Path::new("no/such.ts")).unwrap_err().to_string();
    assert!(missing.starts_with("no/such.ts: "), "{missing}");
}

/// Every mutation of `bytes` at each position: reads, or fails naming the
/// file and a line.
fn fuzz(bytes: &[u8], path: &Path) -> usize {
    let mut errors = 0;
    let mut check = |b: &[u8]| match parse_ts(b, path, Padding::LastValue) {
        Ok(s) => {
            assert_eq!(s.values.len(), s.len() * s.length * s.channels);
            assert!(s.values.iter().all(|v| v.is_finite()));
            assert!(s.labels.iter().all(|&l| l < s.classes.len()));
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("{}: line ", path.display())),
                "{text}"
            );
            errors += 1;
        }
    };
    let mut buf = bytes.to_vec();
    for i in 0..bytes.len() {
        check(&bytes[..i]);
        for replacement in [
            b':',
            b',',
            b'?',
            b'@',
            b'\n',
            b'#',
            b' ',
            0xff,
            bytes[i] ^ 0x10,
        ] {
            buf[i] = replacement;
            check(&buf);
        }
        buf[i] = bytes[i];
        let mut dropped = bytes.to_vec();
        dropped.remove(i);
        check(&dropped);
    }
    errors
}

/// The headers and the first cases of a file (its first `cut` bytes, to the
/// end of a line): small enough to mutate at every byte in a second.
fn head_of(path: &Path, cut: usize) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let data = bytes.windows(6).position(|w| w == b"@data\n").unwrap();
    let end = bytes[(data + cut).min(bytes.len() - 1)..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| data + cut + p + 1);
    // Skip the long comment block: keep the headers from `@problemName`.
    let start = bytes
        .windows(12)
        .position(|w| w == b"@problemName")
        .unwrap();
    bytes[start..end.min(bytes.len())].to_vec()
}

#[test]
fn mutated_and_truncated_real_files_never_panic() {
    // ItalyPowerDemand: short univariate cases; JapaneseVowels: 12
    // channels of unequal lengths; BasicMotions: 6 equal channels.
    let mut total = 0;
    for (name, cut) in [
        ("ItalyPowerDemand", 600),
        ("JapaneseVowels", 300),
        ("BasicMotions", 200),
    ] {
        let path = ucr(name, "TRAIN");
        let bytes = head_of(&path, cut);
        assert!(
            parse_ts(&bytes, &path, Padding::LastValue).is_ok(),
            "{name}"
        );
        let errors = fuzz(&bytes, &path);
        assert!(
            errors > bytes.len(),
            "{name}: only {errors} mutations failed"
        );
        total += bytes.len();
    }
    assert!(total > 1500, "{total} bytes mutated");
}

#[test]
fn channel_statistics_skip_padding_and_standardise_both_splits() {
    // Two channels; the second case is shorter and padded with its last values.
    let text = format!("{HEAD}1,2,3:10,10,10:a\n5,7:10,10:b\n");
    let mut s = parse(&text).unwrap();
    let stats = s.channel_statistics();
    // Channel 0 over 1, 2, 3, 5, 7 (not the padding 7): mean 3.6.
    let var0: f32 = [1.0f32, 2.0, 3.0, 5.0, 7.0]
        .iter()
        .map(|v| (v - 3.6) * (v - 3.6))
        .sum::<f32>()
        / 5.0;
    assert!(
        (stats[0].0 - 3.6).abs() < 1e-6 && (stats[0].1 - var0.sqrt()).abs() < 1e-5,
        "{stats:?}"
    );
    // A constant channel keeps a deviation of 1.
    assert_eq!(stats[1], (10.0, 1.0));
    s.standardise(&stats).unwrap();
    assert!((s.case(0)[0] - (1.0 - 3.6) / var0.sqrt()).abs() < 1e-5);
    assert_eq!(s.case(1)[5], 0.0); // padding of channel 1: (10 - 10) / 1
    let err = s.standardise(&stats[..1]).unwrap_err().to_string();
    assert!(
        err.contains("1 channel statistics for a series of 2 channels"),
        "{err}"
    );
}
