//! "Did you mean": the closest known name to a misspelt one. A name that
//! differs only in case wins (`Conv2D` -> `Conv2d`), then a name known from
//! Keras or PyTorch (`Linear` -> `Dense`), then the smallest edit distance
//! (insertions, deletions, substitutions and swaps of neighbours) within a
//! third of the length.

/// Names other libraries use for the same thing, lower case, with ours.
const ALIASES: &[(&str, &str)] = &[
    ("linear", "Dense"),
    ("fullyconnected", "Dense"),
    ("fc", "Dense"),
    ("convolution2d", "Conv2d"),
    ("conv", "Conv2d"),
    ("maxpooling2d", "MaxPool2d"),
    ("maxpool", "MaxPool2d"),
    ("averagepooling2d", "AvgPool2d"),
    ("avgpool", "AvgPool2d"),
    ("globalaveragepooling2d", "GlobalAvgPool"),
    ("adaptiveavgpool2d", "GlobalAvgPool"),
    ("batchnormalization", "BatchNorm"),
    ("batchnorm2d", "BatchNorm"),
    ("batchnorm1d", "BatchNorm"),
    ("add", "Residual"),
    ("layernormalization", "LayerNorm"),
    ("groupnormalization", "GroupNorm"),
    ("squeezeexcitation", "Gate"),
    ("layerscale", "Scale"),
    ("multiply", "Gate"),
    ("concatenate", "Concat"),
    ("cat", "Concat"),
    ("activation", "Relu"),
    ("swish", "Silu"),
    ("hard_swish", "Hardswish"),
    ("hard_sigmoid", "Hardsigmoid"),
    ("normalize", "L2Normalize"),
    ("l2normalization", "L2Normalize"),
    ("l2norm", "L2Normalize"),
    ("kernel_size", "kernel"),
    ("pool_size", "size"),
    ("strides", "stride"),
    ("out_channels", "filters"),
    ("out_features", "units"),
    ("use_bias", "bias"),
    ("eps", "epsilon"),
    ("p", "rate"),
    ("negative_slope", "alpha"),
    ("shape", "input"),
    ("input_shape", "input"),
];

/// The closest of `known` to `written`, if any is close enough to be a
/// likely typo.
pub fn closest<'a>(written: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = written.to_lowercase();
    if let Some(hit) = known.iter().find(|k| k.to_lowercase() == lower) {
        return Some(hit);
    }
    if let Some(&(_, ours)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        if let Some(hit) = known.iter().find(|k| **k == ours) {
            return Some(hit);
        }
    }
    let limit = (written.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_lowercase()), *k))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Optimal-string-alignment distance: edits to turn `a` into `b`, where
/// swapping two neighbours counts as one edit (`kenrel` -> `kernel`).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the dynamic-programming table.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// `a, b or c`, each in backticks, for "expected one of" help lines.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `a, b and c`, each in backticks, for "needs" messages.
pub fn all_of(names: &[&str]) -> String {
    one_of(names).replacen(" or ", " and ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &[&str] = &["Conv2d", "MaxPool2d", "Dense", "BatchNorm", "Relu"];

    #[test]
    fn distances() {
        assert_eq!(distance("kernel", "kernel"), 0);
        assert_eq!(distance("kenrel", "kernel"), 1);
        assert_eq!(distance("strides", "stride"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("filter", "filters"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("Conv2D", KINDS), Some("Conv2d"));
        assert_eq!(closest("ReLU", KINDS), Some("Relu"));
        assert_eq!(closest("Linear", KINDS), Some("Dense"));
        assert_eq!(closest("BatchNormalization", KINDS), Some("BatchNorm"));
        assert_eq!(closest("MaxPool", KINDS), Some("MaxPool2d"));
        assert_eq!(closest("Conv2", KINDS), Some("Conv2d"));
        assert_eq!(closest("Transformer", KINDS), None);
        assert_eq!(
            closest("kernel_size", &["filters", "kernel"]),
            Some("kernel")
        );
    }

    #[test]
    fn lists() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(all_of(&["a", "b"]), "`a` and `b`");
    }
}
