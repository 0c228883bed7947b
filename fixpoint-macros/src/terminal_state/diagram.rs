//! The lifecycle's documentation on the enum: its state diagram as inline SVG, drawn at compile
//! time (rustdoc renders it with no script), and the same table as text beside it.

use std::collections::VecDeque;
use std::fmt::Write as _;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use syn::{
    AttrStyle, Attribute, DeriveInput, LitStr, MacroDelimiter, Meta, MetaList, Path, Token, token,
};

use super::attr::Args;
use super::emit::lex_or_error;
use super::model::{Machine, StateDecl};
use crate::ctxt::Errors;

/// Height of a state's box, and the vertical gap between layers.
const BOX_HEIGHT: usize = 30;
const LAYER_GAP: usize = 56;
/// Horizontal gap between boxes of one layer, and the margin around the drawing.
const BOX_GAP: usize = 36;
const MARGIN: usize = 16;
/// Room above the first layer for the start dot, and beside the drawing for back edges.
const TOP: usize = 44;
const SIDE: usize = 72;
/// Width of one character of the 13px monospace label, rounded up.
const CHAR_WIDTH: usize = 8;

/// The attribute appended to the enum:
/// `#[cfg_attr(doc, doc = ::fixpoint::__private::lifecycle_doc!("enum Job { .. }"))]`.
///
/// The "Lifecycle" section (the diagram and the table of states and transitions) is drawn only
/// when rustdoc reads the enum: `cargo check` and `cargo build` drop the attribute unread, so
/// they neither draw a kilobyte of SVG per lifecycle nor lex it. The macro gets the states as
/// the enum's source text in one string literal, written from the validated model (names,
/// flags and edges, the only things the diagram draws), and draws them with the same model:
/// one token to carry, where the enum's own tokens were a hundred, each crossing the
/// proc-macro bridge at every build.
pub(crate) fn expand_doc(machine: &Machine<'_>) -> Attribute {
    let span = Span::call_site();
    let tokens = format!(
        "doc, doc = ::fixpoint::__private::lifecycle_doc!({:?})",
        doc_source(machine)
    );
    Attribute {
        pound_token: Token![#](span),
        style: AttrStyle::Outer,
        bracket_token: token::Bracket(span),
        meta: Meta::List(MetaList {
            path: Path::from(Ident::new("cfg_attr", span)),
            delimiter: MacroDelimiter::Paren(token::Paren(span)),
            tokens: lex_or_error(&tokens, machine.ident),
        }),
    }
}

/// `enum Job { #[initial] #[to(Running, Failed)] Queued, .. }`: what [`lifecycle_doc`] draws.
fn doc_source(machine: &Machine<'_>) -> String {
    let mut source = format!("enum {} {{", machine.ident);
    for state in &machine.states {
        let flags = [
            (state.initial.is_some(), "#[initial] "),
            (state.is_terminal(), "#[terminal] "),
            (state.abandoned.is_some(), "#[abandoned] "),
        ];
        for (_, flag) in flags.iter().filter(|(on, _)| *on) {
            source.push_str(flag);
        }
        let targets: Vec<&str> = machine
            .successors(state)
            .into_iter()
            .map(|target| machine.states[target].name.as_str())
            .collect();
        if !targets.is_empty() {
            source.push_str("#[to(");
            source.push_str(&targets.join(", "));
            source.push_str(")] ");
        }
        source.push_str(&state.name);
        source.push_str(", ");
    }
    source.push('}');
    source
}

/// `lifecycle_doc!("enum Job { .. }")`: the "Lifecycle" section of the enum's documentation,
/// as a string literal. Only `#[terminal_state]` calls it, on an enum it has already validated
/// (see [`expand_doc`]).
pub(crate) fn lifecycle_doc(input: TokenStream) -> TokenStream {
    let item = match syn::parse2::<LitStr>(input).and_then(|source| source.parse::<DeriveInput>()) {
        Ok(item) => item,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let machine = Machine::from_syn(&item, Args::default(), &mut errors);
    if let Err(error) = errors.finish() {
        return error.to_compile_error();
    }
    let Some(machine) = machine else {
        return quote!("");
    };
    let doc = format!(
        "\n\n# Lifecycle\n\nDeclared with `#[terminal_state]`: a transition missing from this \
         diagram does not compile.\n\n{}\n\n{}",
        svg(&machine),
        text_table(&machine)
    );
    let doc = Literal::string(&doc);
    quote!(#doc)
}

/// The table in Markdown: each state, its markers and where it may go.
fn text_table(machine: &Machine<'_>) -> String {
    let mut out = String::from("| state | may go to |\n|---|---|\n");
    for state in &machine.states {
        let targets: Vec<String> = machine
            .successors(state)
            .into_iter()
            .map(|t| format!("`{}`", label(&machine.states[t])))
            .collect();
        let targets = if targets.is_empty() {
            "nothing: terminal".to_owned()
        } else {
            targets.join(", ")
        };
        let _ = writeln!(out, "| `{}`{} | {targets} |", label(state), markers(state));
    }
    out
}

/// The state's name as written, without the `r#` of a raw identifier.
fn label(state: &StateDecl<'_>) -> String {
    state.name.trim_start_matches("r#").to_owned()
}

fn markers(state: &StateDecl<'_>) -> String {
    let marks: Vec<&str> = [
        (state.initial.is_some(), "initial"),
        (state.is_terminal(), "terminal"),
        (state.abandoned.is_some(), "abandoned"),
    ]
    .into_iter()
    .filter_map(|(on, mark)| on.then_some(mark))
    .collect();
    if marks.is_empty() {
        String::new()
    } else {
        format!(" ({})", marks.join(", "))
    }
}

/// A state's box: its top-left corner and width.
#[derive(Clone, Copy)]
struct Placed {
    x: usize,
    y: usize,
    width: usize,
    layer: usize,
}

impl Placed {
    fn center(self) -> usize {
        self.x + self.width / 2
    }

    fn right(self) -> usize {
        self.x + self.width
    }

    fn middle(self) -> usize {
        self.y + BOX_HEIGHT / 2
    }
}

/// The layer of each state: its distance from the initial state; states it cannot reach go
/// last.
fn layers(machine: &Machine<'_>) -> Vec<usize> {
    let mut layer = vec![usize::MAX; machine.states.len()];
    let mut queue = VecDeque::new();
    if let Some(initial) = machine.initial() {
        layer[initial] = 0;
        queue.push_back(initial);
    }
    while let Some(index) = queue.pop_front() {
        for next in machine.successors(&machine.states[index]) {
            if layer[next] == usize::MAX {
                layer[next] = layer[index] + 1;
                queue.push_back(next);
            }
        }
    }
    let unreached = layer
        .iter()
        .filter(|&&l| l != usize::MAX)
        .max()
        .map_or(0, |l| l + 1);
    layer
        .into_iter()
        .map(|l| if l == usize::MAX { unreached } else { l })
        .collect()
}

/// Every box, laid out in rows by layer, each row centered, in declaration order.
fn place(machine: &Machine<'_>) -> (Vec<Placed>, usize, usize) {
    let layer = layers(machine);
    let rows = layer.iter().max().map_or(0, |l| l + 1);
    let width_of = |i: usize| label(&machine.states[i]).len() * CHAR_WIDTH + 24;
    let row_width = |row: usize| {
        let members: Vec<usize> = (0..layer.len()).filter(|&i| layer[i] == row).collect();
        members.iter().map(|&i| width_of(i)).sum::<usize>()
            + BOX_GAP * members.len().saturating_sub(1)
    };
    let widest = (0..rows).map(row_width).max().unwrap_or_default();
    let mut next_x: Vec<usize> = (0..rows)
        .map(|row| MARGIN + (widest - row_width(row)) / 2)
        .collect();
    let placed = (0..layer.len())
        .map(|i| {
            let (row, width) = (layer[i], width_of(i));
            let x = next_x[row];
            next_x[row] += width + BOX_GAP;
            let y = TOP + row * (BOX_HEIGHT + LAYER_GAP);
            Placed {
                x,
                y,
                width,
                layer: row,
            }
        })
        .collect();
    let height = TOP + rows * (BOX_HEIGHT + LAYER_GAP) - LAYER_GAP + MARGIN + 18;
    (placed, (widest + 2 * MARGIN + SIDE).max(300), height)
}

/// The machine as one inline `<svg>` element, on one line so that Markdown keeps it whole.
pub(crate) fn svg(machine: &Machine<'_>) -> String {
    let (placed, width, height) = place(machine);
    let name = machine.ident;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"state diagram of lifecycle \
         {name}\" font-family=\"monospace\" font-size=\"13\">\
         <defs><marker id=\"fixpoint-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8b949e\"/></marker></defs>"
    );
    if let Some(initial) = machine.initial() {
        let p = placed[initial];
        let _ = write!(
            out,
            "<circle cx=\"{x}\" cy=\"{cy}\" r=\"6\" fill=\"#8b949e\"/>{line}",
            x = p.center(),
            cy = p.y - 26,
            line = line(p.center(), p.y - 20, p.center(), p.y)
        );
    }
    for (from, state) in machine.states.iter().enumerate() {
        for to in machine.successors(state) {
            let back = machine.successors(&machine.states[to]).contains(&from);
            out += &edge(placed[from], placed[to], back);
        }
    }
    for (state, p) in machine.states.iter().zip(&placed) {
        out += &state_box(state, *p);
    }
    let _ = write!(
        out,
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"11\" fill=\"#8b949e\">double border: \
         terminal; dashed: abandoned</text></svg>",
        height - 6
    );
    out
}

fn line(x1: usize, y1: usize, x2: usize, y2: usize) -> String {
    format!(
        "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#8b949e\" \
         stroke-width=\"1.5\" marker-end=\"url(#fixpoint-arrow)\"/>"
    )
}

fn path(d: &str) -> String {
    format!(
        "<path d=\"{d}\" fill=\"none\" stroke=\"#8b949e\" stroke-width=\"1.5\" \
         marker-end=\"url(#fixpoint-arrow)\"/>"
    )
}

/// One arrow: straight between neighbouring layers (the two arrows of a pair that goes both
/// ways side by side), straight down to a later layer, around the right side back up to an
/// earlier one, over the top within a layer.
fn edge(from: Placed, to: Placed, two_way: bool) -> String {
    let shift = if two_way { 8 } else { 0 };
    if from.layer < to.layer {
        return line(
            from.center() - shift,
            from.y + BOX_HEIGHT,
            to.center() - shift,
            to.y,
        );
    }
    if from.layer == to.layer + 1 {
        return line(
            from.center() + shift,
            from.y,
            to.center() + shift,
            to.y + BOX_HEIGHT,
        );
    }
    if from.layer > to.layer {
        let bulge = from.right().max(to.right()) + SIDE - 8;
        return path(&format!(
            "M{},{} C{bulge},{} {bulge},{} {},{}",
            from.right(),
            from.middle(),
            from.middle(),
            to.middle(),
            to.right(),
            to.middle()
        ));
    }
    let top = from.y.saturating_sub(22);
    let lift = if from.x < to.x { 0 } else { 10 };
    path(&format!(
        "M{},{} C{},{} {},{} {},{}",
        from.center(),
        from.y,
        from.center(),
        top - lift,
        to.center(),
        top - lift,
        to.center(),
        from.y
    ))
}

/// A state: a rounded box with its name; a double border when terminal, dashed when abandoned.
fn state_box(state: &StateDecl<'_>, p: Placed) -> String {
    let mut out = String::new();
    let dash = if state.abandoned.is_some() {
        " stroke-dasharray=\"5,3\""
    } else {
        ""
    };
    if state.is_terminal() {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"9\" fill=\"none\" \
             stroke=\"#57606a\" stroke-width=\"1.5\"{dash}/>",
            p.x - 4,
            p.y - 4,
            p.width + 8,
            BOX_HEIGHT + 8
        );
    }
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BOX_HEIGHT}\" rx=\"6\" fill=\"#f6f8fa\" \
         stroke=\"#57606a\" stroke-width=\"1.5\"{dash}/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#1f2328\">{}</text>",
        p.x,
        p.y,
        p.width,
        p.center(),
        p.middle() + 4,
        label(state)
    );
    out
}

#[cfg(test)]
mod tests {
    use syn::{DeriveInput, parse_quote};

    use super::super::model::Machine;
    use crate::ctxt::Errors;

    fn job() -> DeriveInput {
        parse_quote! {
            enum Job {
                #[initial] #[to(Running, Failed)] Queued,
                #[to(Done, Failed, Queued)] Running,
                #[terminal] Done,
                #[terminal] #[abandoned] Failed,
            }
        }
    }

    /// One box per state (two for a terminal one), one arrow per edge plus the start arrow, all
    /// on one line so that Markdown keeps the element whole.
    #[test]
    fn draws_every_state_and_edge() {
        let item = job();
        let mut errors = Errors::default();
        let machine = Machine::from_syn(&item, Default::default(), &mut errors).unwrap();
        let svg = super::svg(&machine);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains('\n'), "{svg}");
        assert_eq!(svg.matches("<rect ").count(), 4 + 2, "{svg}");
        assert_eq!(svg.matches("marker-end=").count(), 5 + 1, "{svg}");
        assert_eq!(svg.matches("stroke-dasharray").count(), 2, "{svg}");
        for state in ["Queued", "Running", "Done", "Failed"] {
            assert!(
                svg.contains(&format!(">{state}</text>")),
                "{state} in {svg}"
            );
        }
        assert!(errors.finish().is_ok());
    }

    /// The enum's source that the attribute hands to `lifecycle_doc!` draws the same section as
    /// the enum itself: same states, flags and edges.
    #[test]
    fn doc_source_draws_the_same_section() {
        let item = job();
        let mut errors = Errors::default();
        let machine = Machine::from_syn(&item, Default::default(), &mut errors).unwrap();
        let source = super::doc_source(&machine);
        let literal = proc_macro2::Literal::string(&source);
        let drawn = super::lifecycle_doc(quote::quote!(#literal)).to_string();
        for expected in [super::svg(&machine), super::text_table(&machine)] {
            let expected = proc_macro2::Literal::string(&expected).to_string();
            let expected = &expected[1..expected.len() - 1];
            assert!(drawn.contains(expected), "{expected} in {drawn}");
        }
        // Anything but the string literal is refused with an error, never a panic.
        let refused = super::lifecycle_doc(quote::quote!(
            enum Job {}
        ))
        .to_string();
        assert!(refused.contains("compile_error"), "{refused}");
    }

    /// The text table beside the drawing lists the markers and the targets of each state.
    #[test]
    fn text_table_lists_every_state() {
        let item = job();
        let mut errors = Errors::default();
        let machine = Machine::from_syn(&item, Default::default(), &mut errors).unwrap();
        let table = super::text_table(&machine);
        assert!(
            table.contains("| `Queued` (initial) | `Running`, `Failed` |"),
            "{table}"
        );
        assert!(
            table.contains("| `Running` | `Done`, `Failed`, `Queued` |"),
            "{table}"
        );
        assert!(
            table.contains("| `Failed` (terminal, abandoned) | nothing: terminal |"),
            "{table}"
        );
    }
}
