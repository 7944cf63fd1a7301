//! What a load by name or from PyTorch did, tensor by tensor, so that a
//! user sees at once whether the file fitted: which of the network's
//! tensors were loaded, which kept their values, and which of the file's
//! were not used.

use std::fmt;

/// What [`load_by_name`](super::load_by_name) or
/// [`load_state_dict`](super::load_state_dict) did. `Display` prints the
/// counts and the names (the first few of each list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The network's tensors that were loaded, in table order.
    pub loaded: Vec<String>,
    /// The network's tensors the file did not provide, left as they were.
    pub kept: Vec<String>,
    /// The file's tensors that were not loaded, by their name in the file
    /// (sorted): names the network does not have, keys `map` left out,
    /// batch norm's `num_batches_tracked`.
    pub unused: Vec<String>,
}

impl LoadReport {
    /// Whether every tensor of the network came from the file.
    pub fn is_complete(&self) -> bool {
        self.kept.is_empty()
    }
}

/// Names shown per list before "and N more".
const SHOWN: usize = 6;

impl fmt::Display for LoadReport {
    /// ```text
    /// loaded 3 tensors, kept 1, unused 2
    ///   loaded: conv.weight, conv.bias, fc.weight
    ///   kept: fc.bias
    ///   unused: bn.num_batches_tracked, extra.weight
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.loaded.len() == 1 { "" } else { "s" };
        write!(
            f,
            "loaded {} tensor{plural}, kept {}, unused {}",
            self.loaded.len(),
            self.kept.len(),
            self.unused.len()
        )?;
        for (label, names) in [
            ("loaded", &self.loaded),
            ("kept", &self.kept),
            ("unused", &self.unused),
        ] {
            if names.is_empty() {
                continue;
            }
            write!(
                f,
                "\n  {label}: {}",
                names[..names.len().min(SHOWN)].join(", ")
            )?;
            if names.len() > SHOWN {
                write!(f, ", and {} more", names.len() - SHOWN)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn display_counts_and_abbreviates() {
        let report = LoadReport {
            loaded: names("l", 8),
            kept: vec![],
            unused: names("u", 1),
        };
        assert_eq!(
            report.to_string(),
            "loaded 8 tensors, kept 0, unused 1\n  loaded: l0, l1, l2, l3, l4, l5, and 2 more\n  unused: u0"
        );
        assert!(report.is_complete());
        let one = LoadReport {
            loaded: names("w", 1),
            kept: names("k", 1),
            ..LoadReport::default()
        };
        assert_eq!(
            one.to_string(),
            "loaded 1 tensor, kept 1, unused 0\n  loaded: w0\n  kept: k0"
        );
        assert!(!one.is_complete());
    }
}
