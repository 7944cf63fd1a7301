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
    /// For a site inside a template or network used by name: the use it
    /// came through and the template's name.
    via: Vec<Option<(SpanRange, String)>>,
}

impl Default for Sites {
    fn default() -> Sites {
        Sites {
            spans: vec![SpanRange::single(Span::call_site())],
            via: vec![None],
        }
    }
}

impl Sites {
    pub fn add(&mut self, span: SpanRange) -> Site {
        self.spans.push(span);
        self.via.push(None);
        Site(self.spans.len() - 1)
    }

    /// A site in the body of `what` (a template or network), reached
    /// through the use at `via`.
    pub fn add_via(&mut self, span: SpanRange, via: SpanRange, what: String) -> Site {
        self.spans.push(span);
        self.via.push(Some((via, what)));
        Site(self.spans.len() - 1)
    }

    pub fn get(&self, site: Site) -> SpanRange {
        self.spans.get(site.0).copied().unwrap_or(self.spans[0])
    }

    /// The use a site was reached through, if any.
    pub fn via(&self, site: Site) -> Option<&(SpanRange, String)> {
        self.via.get(site.0).and_then(Option::as_ref)
    }
}

/// One `syn::Error` holding every diagnostic, each spanning its site from
/// the first token to the last. A mistake inside a template or a network
/// used by name is shown at the use (where the arguments are) with the
/// whole message, and again at the line of the template it comes from.
pub fn combine(diags: &[Diag], sites: &Sites) -> Option<syn::Error> {
    let mut combined: Option<syn::Error> = None;
    let mut add = |error: syn::Error| match &mut combined {
        Some(all) => all.combine(error),
        None => combined = Some(error),
    };
    for diag in diags {
        let here = sites.get(diag.site);
        match sites.via(diag.site) {
            Some((via, what)) => {
                add(spanned(*via, &diag.text()));
                let subject = diag.message.split(": ").next().unwrap_or_default();
                add(spanned(
                    here,
                    &format!("{subject}: the line of `{what}` the mistake above comes from"),
                ));
            }
            None => add(spanned(here, &diag.text())),
        }
    }
    combined
}

/// An error underlining a range: `new_spanned` takes the span of the
/// first and the last token, so two marker tokens carrying the two ends
/// underline everything between them.
fn spanned(range: SpanRange, text: &str) -> syn::Error {
    let SpanRange(start, end) = range;
    let mut first = Punct::new('#', Spacing::Alone);
    first.set_span(start);
    let mut last = Punct::new('#', Spacing::Alone);
    last.set_span(end);
    let marker: TokenStream = [TokenTree::Punct(first), TokenTree::Punct(last)]
        .into_iter()
        .collect();
    syn::Error::new_spanned(marker, text)
}
