//! Front-end tests without a compiler: networks written as strings go
//! through `front` and the tests compare shapes, counts and message text.
//! `course.rs` holds the course's and the papers' numbers, `messages.rs`
//! one test per rule, `robust.rs` malformed input thrown at the front end.

pub(crate) mod course;
mod dilation;
mod messages;
mod models;
mod names;
mod norms;
mod robust;
mod sequences;
mod templates;
mod transpose;
mod volumes;
mod volumes_grow;

use crate::ir::{Layer, Net, Shape};
use crate::{front, Front};

/// The front end on `src`; panics on a syntax error.
pub(crate) fn run(src: &str) -> Front {
    let tokens: proc_macro2::TokenStream = src.parse().expect("the test source lexes");
    match front(tokens) {
        Ok(front) => front,
        Err(e) => panic!("syntax error: {e}"),
    }
}

/// A net that must pass every check.
pub(crate) fn good(src: &str) -> Net {
    let front = run(src);
    let texts: Vec<String> = front.diags.iter().map(|d| d.text()).collect();
    assert!(texts.is_empty(), "unexpected errors:\n{}", texts.join("\n"));
    front.net
}

/// The text of each error, message and help line.
pub(crate) fn errors(src: &str) -> Vec<String> {
    run(src).diags.iter().map(|d| d.text()).collect()
}

/// `struct Net { input: [..], layers: [..] }` around a layer list.
pub(crate) fn net_src(input: &str, layers: &str) -> String {
    format!("struct Net {{ input: {input}, layers: [{layers}] }}")
}

/// The one error of a net, message and help.
pub(crate) fn one_error(input: &str, layers: &str) -> String {
    let all = errors(&net_src(input, layers));
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.into_iter().next().unwrap()
}

/// Every layer, blocks before the layers they hold.
pub(crate) fn all_layers(layers: &[Layer]) -> Vec<&Layer> {
    let mut out = Vec::new();
    for layer in layers {
        out.push(layer);
        for list in layer.children() {
            out.extend(all_layers(list));
        }
    }
    out
}

/// The layer with this full name.
pub(crate) fn find<'a>(net: &'a Net, name: &str) -> &'a Layer {
    all_layers(&net.layers)
        .into_iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no layer {name}"))
}

pub(crate) fn image(h: usize, w: usize, c: usize) -> Option<Shape> {
    Some(Shape::Image {
        h,
        w,
        c,
        seq: false,
        depth: None,
    })
}

pub(crate) fn volume(d: usize, h: usize, w: usize, c: usize) -> Option<Shape> {
    Some(Shape::Image {
        h,
        w,
        c,
        seq: false,
        depth: Some(d),
    })
}

pub(crate) fn sequence(l: usize, c: usize) -> Option<Shape> {
    Some(Shape::Image {
        h: 1,
        w: l,
        c,
        seq: true,
        depth: None,
    })
}
