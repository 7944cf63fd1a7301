//! The rows of `summary()`: every layer depth first (a block's layers one
//! level deeper, so they print indented under it), with the output shape,
//! parameters and multiply-adds the checker worked out, and the activation
//! memory of one example. The receptive-field column reads
//! `RECEPTIVE_FIELDS`, whose rows are these rows.

use proc_macro2::TokenStream;
use quote::quote;

use super::{rt, walk};
use crate::ir::{LayerKind, Net};

/// The body of `summary()`.
pub fn body(net: &Net) -> TokenStream {
    let rt = rt();
    let mut all = Vec::new();
    walk(&net.layers, 0, &mut all);
    let rows = all.iter().map(|(depth, l)| {
        let name = if l.name.is_empty() { l.kind.auto_stem() } else { &l.name };
        let kind = l.label();
        // An aux head passes its input on; its row shows what the head gives.
        let shown = match &l.kind {
            LayerKind::AuxHead { layers, .. } => layers.last().and_then(|h| h.output),
            _ => l.output,
        };
        let output = shown.map_or_else(|| "?".to_string(), |s| s.to_string());
        let (params, macs) = (l.params, l.macs);
        quote! {
            #rt::net::SummaryRow { depth: #depth, name: #name, kind: #kind, output: #output, params: #params, macs: #macs }
        }
    });
    let (params, trainable, macs) = (net.params, net.trainable, net.macs);
    let bytes = activation_bytes(net);
    let (name, input) = (&net.name, net.input.to_string());
    quote! {
        const ROWS: &[#rt::net::SummaryRow] = &[#(#rows),*];
        #rt::net::Summary {
            name: #name, input: #input, rows: ROWS, params: #params, trainable: #trainable,
            macs: #macs, activation_bytes: #bytes, fields: Self::RECEPTIVE_FIELDS,
        }
    }
}

/// `f32` bytes of every layer's output for one example; `Flatten` is a
/// view and blocks are counted through their layers (plus their own
/// output, which a merge writes).
pub fn activation_bytes(net: &Net) -> usize {
    let mut all = Vec::new();
    walk(&net.layers, 0, &mut all);
    all.iter()
        .filter(|(_, l)| {
            !matches!(
                l.kind,
                LayerKind::Flatten | LayerKind::AuxHead { .. } | LayerKind::Sequential { .. }
            )
        })
        .map(|(_, l)| 4 * l.output.map_or(0, |s| s.len()))
        .sum()
}
