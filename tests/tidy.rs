//! The repository's tidiness, read from its files in a few milliseconds:
//! every `.rs` file opens with a `//!` line saying what lives there, every
//! relative link in the markdown files resolves (the file, and the heading
//! after `#` in a markdown file), every example the markdown files run
//! with `--example` exists, and every file in `tests/` belongs to a test
//! binary (with `autotests = false` a file no binary names would silently
//! never run), and every example requires the `examples` feature (so that
//! the README's `cargo test --workspace --no-default-features` leaves the
//! examples' binaries out).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's files ending in `.{ext}`, without build output (top
/// level `target/` and `out/`, any directory holding Cargo's
/// `CACHEDIR.TAG`) and hidden directories.
fn files(ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        if dir.join("CACHEDIR.TAG").exists() {
            continue;
        }
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                let build_output = dir == root() && (name == "target" || name == "out");
                if !name.starts_with('.') && !build_output {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let bare: Vec<String> = files("rs")
        .into_iter()
        .filter(|p| !read(p).starts_with("//!"))
        .map(|p| shown(&p))
        .collect();
    assert!(
        bare.is_empty(),
        "these files do not open with a `//!` line saying what lives in them:\n  {}",
        bare.join("\n  ")
    );
}

/// The lines of a markdown file outside fenced code blocks, numbered from
/// 1, with inline code spans blanked out.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut prose = String::with_capacity(line.len());
        for (k, part) in line.split('`').enumerate() {
            if k % 2 == 0 {
                prose.push_str(part);
            }
        }
        lines.push((i + 1, prose));
    }
    lines
}

/// Link targets on a line: `[text](target)`, `![alt](target)` and a
/// reference definition `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let end = rest.find([')', ' ']).unwrap_or(rest.len());
        targets.push(rest[..end].to_string());
    }
    let definition = line.trim_start();
    if definition.starts_with('[') {
        if let Some(at) = definition.find("]: ") {
            let target = definition[at + 3..].split_whitespace().next();
            targets.extend(target.map(str::to_string));
        }
    }
    targets
}

/// GitHub's anchor for a heading: the text without markup, lower case,
/// with spaces as hyphens and punctuation other than `-` and `_` dropped.
fn anchor(heading: &str) -> String {
    // A link in a heading keeps its text: drop `](target)`.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(at) = rest.find("](") {
        text.push_str(&rest[..at]);
        rest = &rest[at + 2..];
        rest = &rest[rest.find(')').map_or(rest.len(), |e| e + 1)..];
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file's headings; a repeated heading gets
/// `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") || line.starts_with("~~~") {
            fenced = !fenced;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let base = anchor(&heading.trim_start_matches('#').replace('`', ""));
        let mut name = base.clone();
        let mut n = 0;
        while !seen.insert(name.clone()) {
            n += 1;
            name = format!("{base}-{n}");
        }
    }
    seen
}

#[test]
fn every_relative_link_in_the_markdown_files_resolves() {
    let mut broken = Vec::new();
    for md in files("md") {
        let text = read(&md);
        for (line_no, line) in prose_lines(&text) {
            for target in link_targets(&line) {
                let external = target.contains("://") || target.starts_with("mailto:");
                // `crate::network`: rustdoc's link to an item (docs/dsl.md
                // is the crate's documentation too).
                let item = target.contains("::");
                if external || item || target.is_empty() {
                    continue;
                }
                let (file, heading) = target.split_once('#').unwrap_or((&target, ""));
                let path = if file.is_empty() {
                    md.clone()
                } else {
                    md.parent().unwrap().join(file)
                };
                let at = format!("{}:{line_no}: ({target})", shown(&md));
                if !path.exists() {
                    broken.push(format!("{at}: no such file"));
                } else if !heading.is_empty()
                    && path.extension().is_some_and(|e| e == "md")
                    && !anchors(&read(&path)).contains(heading)
                {
                    broken.push(format!("{at}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn every_example_the_markdown_files_run_exists() {
    let mut missing = Vec::new();
    let mut named = 0;
    for md in files("md") {
        for (line_no, line) in read(&md).lines().enumerate() {
            for after in line.split("--example ").skip(1) {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // `--example NAME` stands for any example.
                if name.is_empty() || name.chars().all(|c| c.is_ascii_uppercase()) {
                    continue;
                }
                named += 1;
                let examples = root().join("examples");
                let exists = examples.join(format!("{name}.rs")).exists()
                    || examples.join(&name).join("main.rs").exists();
                if !exists {
                    missing.push(format!("{}:{}: {name}", shown(&md), line_no + 1));
                }
            }
        }
    }
    assert!(named > 0, "no `--example` found in the markdown files");
    assert!(
        missing.is_empty(),
        "examples named but not in examples/:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_file_in_tests_belongs_to_a_test_binary() {
    // The binaries' roots, from the `[[test]]` sections of Cargo.toml ...
    let manifest = read(&root().join("Cargo.toml"));
    let roots: Vec<String> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path = \"tests/"))
        .filter_map(|l| l.strip_suffix(".rs\""))
        .map(str::to_string)
        .collect();
    assert!(
        roots.iter().any(|r| r == "main"),
        "no tests/main.rs in Cargo.toml"
    );
    // ... and the modules they declare.
    let mut members: HashSet<String> = roots.iter().cloned().collect();
    for name in &roots {
        let text = read(&root().join("tests").join(format!("{name}.rs")));
        for line in text.lines() {
            if let Some(module) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) {
                members.insert(module.to_string());
            }
        }
    }
    let strays: Vec<String> = fs::read_dir(root().join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|stem| !members.contains(stem))
        .collect();
    assert!(
        strays.is_empty(),
        "files in tests/ that no test binary compiles (add `mod NAME;` to tests/main.rs): {strays:?}"
    );
}

#[test]
fn every_example_needs_the_examples_feature() {
    // Cargo.toml's `[[example]]` sections: name, then required-features.
    let manifest = read(&root().join("Cargo.toml"));
    let mut gated = HashSet::new();
    let mut name = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            name = None;
            if line == "[[example]]" {
                name = Some(String::new());
            }
        } else if let Some(n) = line.strip_prefix("name = \"") {
            if name.is_some() {
                name = Some(n.trim_end_matches('"').to_string());
            }
        } else if let Some(features) = line.strip_prefix("required-features = ") {
            if let Some(n) = &name {
                if features.contains("\"examples\"") {
                    gated.insert(n.clone());
                }
            }
        }
    }
    let ungated: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|stem| !gated.contains(stem))
        .collect();
    assert!(
        ungated.is_empty(),
        "examples without an `[[example]]` entry requiring the `examples` feature in \
         Cargo.toml (the README's test command would build them): {ungated:?}"
    );
}
