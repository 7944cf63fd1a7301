//! Diagnostics: every check pushes a `Diag` (where, what, what would fix
//! it) into one list, so that every independent mistake shows up in one
//! build; at the end the list becomes one combined `syn::Error`, each part
//! with its own span. `Sites` maps the IR's `Site` handles to source spans.

use proc_macro2::{Punct, Spacing, Span, TokenStream, TokenTree};

use crate::ast::SpanRange;
use crate::ir::Site;

/// One compile error: `message` reads "layer: what is wrong (the sum with
/// the user's numbers)", lower case and without a full stop; `help` is one
/// line saying what would fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Diag {
    pub site: Site,
    pub message: String,
    pub help: Option<String>,
}

impl Diag {
    pub fn new(site: Site, message: impl Into<String>) -> Diag {
        Diag {
            site,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }

    /// The text the user reads: the message, then the help on its own line
    /// in rustc's `= help:` form (a stable proc macro cannot attach a real
    /// help note, so it goes into the message).
    pub fn text(&self) -> String {
        match &self.help {
            Some(help) => format!("{}\n= help: {help}", self.message),
            None => self.message.clone(),
        }
    }
}

/// The collector the passes push into.
#[derive(Default, Debug)]
pub struct Diags {
    list: Vec<Diag>,
}

impl Diags {
    pub fn push(&mut self, diag: Diag) {
        self.list.push(diag);
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The diagnostics in source order (sites are handed out in source
    /// order), ties in the order they were found.
    pub fn into_sorted(mut self) -> Vec<Diag> {
        self.list.sort_by_key(|d| d.site.0);
        self.list
    }
}

/// The span table behind `Site` handles. `Site::CALL` (0) is the macro
/// call; the lowering registers every layer and key it sees.
pub struct Sites {
    spans: Vec<SpanRange>,
}

impl Default for Sites {
    fn default() -> Sites {
        Sites {
            spans: vec![SpanRange::single(Span::call_site())],
        }
    }
}

impl Sites {
    pub fn add(&mut self, span: SpanRange) -> Site {
        self.spans.push(span);
        Site(self.spans.len() - 1)
    }

    pub fn get(&self, site: Site) -> SpanRange {
        self.spans.get(site.0).copied().unwrap_or(self.spans[0])
    }
}

/// One `syn::Error` holding every diagnostic, each spanning its site from
/// the first token to the last.
pub fn combine(diags: &[Diag], sites: &Sites) -> Option<syn::Error> {
    let mut combined: Option<syn::Error> = None;
    for diag in diags {
        let SpanRange(start, end) = sites.get(diag.site);
        // `new_spanned` takes the span of the first and the last token, so
        // two marker tokens carrying the two ends underline the range.
        let mut ends = Punct::new('#', Spacing::Alone);
        ends.set_span(start);
        let mut last = Punct::new('#', Spacing::Alone);
        last.set_span(end);
        let marker: TokenStream = [TokenTree::Punct(ends), TokenTree::Punct(last)]
            .into_iter()
            .collect();
        let error = syn::Error::new_spanned(marker, diag.text());
        match &mut combined {
            Some(all) => all.combine(error),
            None => combined = Some(error),
        }
    }
    combined
}
