//! The full expansion of a sample lifecycle, kept in `snapshots/` and compared on every test
//! run: a change to what `#[terminal_state]` generates shows as a diff to review, as trybuild's
//! `.stderr` files show a change to its messages.
//!
//! The expansion is printed one item or statement per line, indented by brace depth: enough to
//! read a diff, with no formatter to depend on. Bless a reviewed change with
//! `FIXPOINT_BLESS=1 cargo test -p fixpoint-macros snapshot`.

use std::path::Path;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::quote;

/// Writes `stream` one statement per line: a line ends after `;`, and after an opening or a
/// closing brace; each line is indented by its depth in braces.
fn layout(stream: TokenStream) -> String {
    let mut out = String::new();
    let mut line = Line::default();
    write(stream, 0, &mut line, &mut out);
    line.flush(0, &mut out);
    out
}

/// The line being written, and whether the next token joins the last one (`::`, `->`, `'a`).
#[derive(Default)]
struct Line {
    text: String,
    glue: bool,
}

impl Line {
    fn push(&mut self, token: &str, glue_after: bool) {
        let joins = self.glue
            || self.text.is_empty()
            || self.text.ends_with(['(', '[', '&', '#', '!'])
            || token.starts_with([',', ';', '.', ')', ']', '?', '(']);
        if !joins {
            self.text.push(' ');
        }
        self.text.push_str(token);
        self.glue = glue_after;
    }

    fn flush(&mut self, depth: usize, out: &mut String) {
        let text = self.text.trim();
        if !text.is_empty() {
            out.push_str(&"    ".repeat(depth));
            out.push_str(text);
            out.push('\n');
        }
        self.text.clear();
        self.glue = false;
    }
}

fn write(stream: TokenStream, depth: usize, line: &mut Line, out: &mut String) {
    for tree in stream {
        match tree {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                line.push("{", false);
                line.flush(depth, out);
                write(group.stream(), depth + 1, line, out);
                line.flush(depth + 1, out);
                line.push("}", false);
                line.flush(depth, out);
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    _ => ("", ""),
                };
                line.push(open, true);
                let mut inner = Line::default();
                let mut nested = String::new();
                write(group.stream(), 0, &mut inner, &mut nested);
                inner.flush(0, &mut nested);
                line.push(nested.trim_end().replace('\n', " ").trim(), true);
                line.glue = true;
                line.push(close, false);
            }
            TokenTree::Punct(punct) if punct.as_char() == ';' => {
                line.push(";", false);
                line.flush(depth, out);
            }
            TokenTree::Punct(punct) => {
                let joint = punct.spacing() == proc_macro2::Spacing::Joint;
                line.push(&punct.as_char().to_string(), joint);
            }
            other => line.push(&other.to_string(), false),
        }
    }
}

/// Compares `actual` with the snapshot `name`, or writes it when `FIXPOINT_BLESS` is set.
fn assert_snapshot(name: &str, actual: &str) {
    // The macro crate's directory: its own, or the workspace's when `tests/ui` compiles this
    // module by path.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let krate = if manifest.ends_with("fixpoint-macros") {
        manifest.to_path_buf()
    } else {
        manifest.join("fixpoint-macros")
    };
    let path = krate.join("src/terminal_state/snapshots").join(name);
    if std::env::var_os("FIXPOINT_BLESS").is_some() {
        std::fs::write(&path, actual).expect("the snapshot is writable");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the expansion of `{name}` changed, first at line {} (expected {} lines, got {}):\n\
             - {}\n+ {}\n\
             review the whole change, then bless it: FIXPOINT_BLESS=1 cargo test -p \
             fixpoint-macros snapshot",
            first + 1,
            expected.lines().count(),
            actual.lines().count(),
            expected.lines().nth(first).unwrap_or("(end)"),
            actual.lines().nth(first).unwrap_or("(end)"),
        );
    }
}

/// A lifecycle with every kind of state: initial, one carrying data, a cycle back, two
/// terminal ones, the abandoned one.
fn sample() -> TokenStream {
    quote! {
        #[derive(Debug, PartialEq)]
        pub enum ProjectStatus {
            #[initial] #[to(Running, Failed)] Initialized,
            #[to(InputNeeded, Completed, Failed)] Running,
            #[to(Running, Failed)] InputNeeded(u64),
            #[terminal] Completed,
            #[terminal] #[abandoned] Failed,
        }
    }
}

#[test]
fn snapshot_of_a_lifecycle() {
    let expanded = super::expand(TokenStream::new(), sample());
    assert_snapshot("project_status.rs.txt", &layout(expanded));
}

#[test]
fn snapshot_of_a_resumable_lifecycle() {
    let expanded = super::expand(quote!(resume), sample());
    assert_snapshot("project_status_resume.rs.txt", &layout(expanded));
}
