//! Malformed input thrown at the whole macro: truncated declarations,
//! wrong delimiters, extreme numbers in every position, and token soup from
//! a seeded generator. The macro must answer with errors, never a panic (a
//! panicking proc macro shows the user a stack trace, not our message).

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

use super::course::{resnet50, LENET5};
use crate::{front, network2};

/// What the front end said: `None` for a panic, else whether it found
/// mistakes (a syntax error or diagnostics).
fn outcome(tokens: &TokenStream) -> Option<bool> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // The whole macro too, back end stub included.
        let _ = network2(tokens.clone());
        match front(tokens.clone()) {
            Err(_) => true,
            Ok(front) => !front.diags.is_empty(),
        }
    }));
    result.ok()
}

fn assert_rejected(src: &str) {
    let Ok(tokens) = src.parse::<TokenStream>() else {
        return; // rustc would not even lex it
    };
    match outcome(&tokens) {
        None => panic!("the front end panicked on:\n{src}"),
        Some(found) => assert!(found, "no error for:\n{src}"),
    }
}

/// `tokens` cut after its first `keep` tokens (counted in preorder, a
/// group as one token before its contents), with every open group closed:
/// a declaration as an editor with auto-closing brackets shows it mid-way.
fn truncate(tokens: TokenStream, keep: &mut usize) -> TokenStream {
    let mut out = Vec::new();
    for tree in tokens {
        if *keep == 0 {
            break;
        }
        *keep -= 1;
        out.push(match tree {
            TokenTree::Group(group) => {
                let mut cut = Group::new(group.delimiter(), truncate(group.stream(), keep));
                cut.set_span(group.span());
                TokenTree::Group(cut)
            }
            other => other,
        });
    }
    out.into_iter().collect()
}

/// `tokens` with the `n`th group (preorder) given another delimiter.
fn redelimit(tokens: TokenStream, n: &mut usize, delimiter: Delimiter) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let hit = *n == 0;
                *n = n.wrapping_sub(1);
                let inner = redelimit(group.stream(), n, delimiter);
                TokenTree::Group(Group::new(
                    if hit { delimiter } else { group.delimiter() },
                    inner,
                ))
            }
            other => other,
        })
        .collect()
}

fn count_tokens(tokens: TokenStream) -> (usize, usize) {
    let (mut all, mut groups) = (0, 0);
    for tree in tokens {
        all += 1;
        if let TokenTree::Group(group) = tree {
            groups += 1;
            let (a, g) = count_tokens(group.stream());
            all += a;
            groups += g;
        }
    }
    (all, groups)
}

#[test]
fn every_truncation_of_a_declaration_is_handled() {
    let full: TokenStream = LENET5.parse().unwrap();
    let (total, _) = count_tokens(full.clone());
    let mut rejected = 0;
    for k in 0..total {
        let cut = truncate(full.clone(), &mut { k });
        let found =
            outcome(&cut).unwrap_or_else(|| panic!("panic on the first {k} tokens:\n{cut}"));
        rejected += usize::from(found);
    }
    // A cut after a whole layer is a valid (shorter) network; a cut inside
    // the header, the input or a layer is an error.
    assert!(total > 100 && rejected > total / 2, "{rejected} of {total}");
    for mid_way in [
        "struct N { input: [32, 32, 1], layers: [conv1: Conv2d { filters: 6, kernel: }] }",
        "struct N { input: [32, 32, 1], layers: [conv1: Conv2d { filters: 6, }] }",
        "struct N { input: [32, 32, 1], layers: [conv1:] }",
        "struct N { input: [32, 32, 1], layers: [conv1: Conv2d { filters }] }",
        "struct N { input: [32, 32, 1], layers: }",
        "struct N { input: [32, 32, ], }",
        "struct N { input: [32, 32, 1], layers: [Residual { body: [Conv2d { filters: 6, kernel: 3 }], shortcut: }] }",
    ] {
        assert_rejected(mid_way);
    }
}

#[test]
fn wrong_delimiters_are_errors() {
    let full: TokenStream = LENET5.parse().unwrap();
    let (_, groups) = count_tokens(full.clone());
    for n in 0..groups {
        for delimiter in [Delimiter::Parenthesis, Delimiter::Bracket, Delimiter::Brace] {
            let changed = redelimit(full.clone(), &mut { n }, delimiter);
            if changed.to_string() == full.to_string() {
                continue;
            }
            assert_eq!(outcome(&changed), Some(true), "{changed}");
        }
    }
    assert_rejected("struct N ( input: [3], layers: [Relu] )");
    assert_rejected("struct N { input: (3), layers: [Relu] }");
    assert_rejected("struct N { input: [3], layers: { Relu } }");
    assert_rejected("struct N { input: [3], layers: [Dense [ units: 3 ]] }");
}

#[test]
fn layers_cut_out_of_a_declaration_never_panic() {
    // Drop a run of characters inside the layer list (keeping what still
    // lexes): any outcome is fine, but no panic.
    let full = LENET5;
    let start = full.find("layers: [").unwrap() + 9;
    let end = full.rfind(']').unwrap();
    for a in (start..end).step_by(3) {
        for len in [1, 2, 5, 9, 20] {
            let b = (a + len).min(end);
            let src = format!("{}{}", &full[..a], &full[b..]);
            if let Ok(tokens) = src.parse::<TokenStream>() {
                assert!(outcome(&tokens).is_some(), "panic on:\n{src}");
            }
        }
    }
}

#[test]
fn huge_and_odd_numbers_in_every_position_are_errors() {
    // Replace each number of LeNet-5 and of ResNet-50, one at a time.
    let extremes = [
        "18446744073709551615",
        "18446744073709551616",
        "340282366920938463463374607431768211456",
        "0",
        "-1",
        "1e309",
        "-0.0",
        "2.5",
        "same",
        "[1, 2, 3]",
        "[]",
        "true",
    ];
    for base in [LENET5.to_string(), resnet50()] {
        let numbers: Vec<(usize, usize)> = number_spans(&base);
        for &(a, b) in numbers
            .iter()
            .step_by(if base.len() > 4000 { 5 } else { 1 })
        {
            for value in extremes {
                let src = format!("{}{value}{}", &base[..a], &base[b..]);
                let tokens: TokenStream = src.parse().unwrap();
                // Some replacements are valid (a 0 padding, a 1e309 alpha
                // is not): only panics are failures here.
                assert!(
                    outcome(&tokens).is_some(),
                    "panic on {value} at {a}:\n{src}"
                );
            }
        }
    }
    // Every dimension or count at the top of the range.
    let max = usize::MAX;
    for src in [
        format!("struct N {{ input: [{max}, {max}, {max}], layers: [Relu] }}"),
        format!("struct N {{ input: [{max}], layers: [Dense {{ units: {max} }}] }}"),
        format!("struct N {{ input: [2, 2, 1], layers: [Conv2d {{ filters: {max}, kernel: 1 }}, Flatten, Dense {{ units: 2 }}] }}"),
        format!("struct N {{ input: [8, 8, 1], layers: [Conv2d {{ filters: 2, kernel: {max}, padding: same }}] }}"),
        format!("struct N {{ input: [8, 8, 1], layers: [MaxPool2d {{ size: 2, padding: {max} }}] }}"),
        format!("struct N {{ input: [{max}, 1, 1], layers: [Conv2d {{ filters: 2, kernel: 1, padding: same }}] }}"),
        "struct N { input: [4], layers: [Dense { units: 4294967296 }, Dense { units: 4294967296 }] }".to_string(),
        format!("struct N {{ input: [1, 1, 4294967296], layers: [c: Concat {{ branches: [[], [Conv2d {{ filters: {max}, kernel: 1 }}]] }}] }}"),
        format!("struct N {{ input: [1, 1, {max}], layers: [c: Concat {{ branches: [[], []] }}] }}"),
        // The projection shortcut's stride is solved for, not searched.
        format!("struct N {{ input: [{}, 1, 1], layers: [r: Residual {{ body: [MaxPool2d {{ size: 1, stride: 1000 }}] }}] }}", max / 2),
    ] {
        assert_rejected(&src);
    }
    // A huge stride is fine: one window, ceil(8 / s) = 1.
    let src = format!("struct N {{ input: [8, 8, 1], layers: [Conv2d {{ filters: 2, kernel: 3, stride: {max}, padding: same }}] }}");
    assert_eq!(outcome(&src.parse().unwrap()), Some(false));
}

/// Byte ranges of the integer and float literals in `src`.
fn number_spans(src: &str) -> Vec<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'_');
        if starts {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_ascii_digit() || bytes[j] == b'.' || bytes[j] == b'_')
            {
                j += 1;
            }
            spans.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    spans
}

/// A small seeded generator (splitmix64), so a failure is reproducible.
struct Soup(u64);

impl Soup {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// Tokens biased towards the DSL's own, nested up to `depth`.
    fn tokens(&mut self, depth: u32, out: &mut String) {
        const WORDS: &[&str] = &[
            "Conv2d",
            "MaxPool2d",
            "AvgPool2d",
            "GlobalAvgPool",
            "Flatten",
            "Dense",
            "BatchNorm",
            "Dropout",
            "Relu",
            "LeakyRelu",
            "Softmax",
            "Residual",
            "Concat",
            "AuxHead",
            "filters",
            "kernel",
            "stride",
            "padding",
            "size",
            "units",
            "rate",
            "body",
            "shortcut",
            "branches",
            "layers",
            "weight",
            "input",
            "same",
            "valid",
            "true",
            "false",
            "x",
            "struct",
            "pub",
            "0",
            "1",
            "3",
            "7",
            "-2",
            "0.5",
            "1e-3",
            "18446744073709551615",
            "99999999999999999999999",
            ":",
            ",",
            ",",
            ":",
            "-",
            ";",
            "#",
            "::",
            "'a",
            "\"s\"",
            "'c'",
        ];
        let n = self.next() % 8;
        for _ in 0..n {
            let roll = self.next() % 10;
            if depth > 0 && roll < 3 {
                let (open, close) = match self.next() % 3 {
                    0 => ("[", "]"),
                    1 => ("{", "}"),
                    _ => ("(", ")"),
                };
                out.push_str(open);
                self.tokens(depth - 1, out);
                out.push_str(close);
            } else {
                out.push_str(self.pick(WORDS));
            }
            out.push(' ');
        }
    }
}

#[test]
fn token_soup_never_panics() {
    let mut soup = Soup(0x5eed);
    let mut errors = 0;
    for i in 0..3000 {
        let mut body = String::new();
        soup.tokens(4, &mut body);
        // Half inside a plausible frame, half bare.
        let src = if i % 2 == 0 {
            format!("pub struct N {{ input: [8, 8, 3], layers: [{body}] }}")
        } else {
            body
        };
        let tokens: TokenStream = src.parse().expect("the soup lexes");
        let found = outcome(&tokens).unwrap_or_else(|| panic!("panic on soup #{i}:\n{src}"));
        errors += usize::from(found);
    }
    // Soup is almost never a valid network.
    assert!(errors > 2900, "{errors}");
}
