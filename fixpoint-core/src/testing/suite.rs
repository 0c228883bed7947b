//! Exhaustive compile-time suites of a lifecycle: generated trybuild cases that take every
//! declared edge and try every undeclared one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::lifecycle::{Lifecycle, Resume, State};

/// Builds and runs the exhaustive transition suite of `L` (see [`TransitionSuite`]); `path` is
/// the lifecycle enum's path as another crate names it, `"my_crate::jobs::Job"`.
///
/// # Panics
///
/// When a case does not behave as the table says (trybuild prints which one and why), when
/// `path` does not end in the lifecycle's name, or when a state carries data: use
/// [`TransitionSuite::data`] for those.
///
/// ```no_run
/// # mod my_crate { pub mod jobs {
/// # use fixpoint::terminal_state;
/// # #[terminal_state(resume)]
/// # pub enum Job { #[initial] #[to(Done, Failed)] Queued, #[terminal] Done, #[terminal] #[abandoned] Failed }
/// # } }
/// // In `tests/transitions.rs` of `my_crate`, with the `testing` feature of `fixpoint` on
/// // the dev-dependency:
/// #[test]
/// fn job_transitions() {
///     fixpoint::testing::transition_suite::<my_crate::jobs::Job>("my_crate::jobs::Job");
/// }
/// ```
#[track_caller]
pub fn transition_suite<L: Resume>(path: &str) {
    TransitionSuite::<L>::new(path).run();
}

/// The exhaustive transition suite of lifecycle `L`, run through trybuild: one must-compile
/// case that takes every declared edge through its transition method, and one must-fail case
/// in which every ordered pair of states that `#[to(..)]` does not list (every edge out of a
/// terminal state among them) is one error.
///
/// The cases are written under the target directory (`target/<profile>/fixpoint-suites/<path>/`),
/// never into the crate's tree, and compiled as trybuild compiles any case: against the crate's
/// library and its dependencies, so `L` must be reachable from the library by `path`.
///
/// The must-fail case asks the compiler, for each undeclared pair, whether the marker of the
/// source state implements [`Edge`](crate::Edge) toward the target: the bound every transition
/// method requires (a local probe rather than the method call, because only then is rustc's
/// whole message known in advance: a method's error quotes the enum's own source). Its expected
/// stderr is generated with the case, one error per edge, each quoting its line
/// (`undeclared::<0, 3>(); // Queued -> Done`); the text is rustc 1.95's rendering, so another
/// compiler version may word it differently and fail the case. When the batched case fails, the
/// suite reruns the undeclared edges one case per edge (`job-undeclared-queued-to-done.rs`), so
/// that trybuild's report names the edge that compiles although the table does not list it (an
/// `Edge` implemented by hand, a change in the macro).
///
/// Cost, measured on this repository (2 cores, warm trybuild project): the undeclared edges
/// share one compile, so a suite is two trybuild builds whatever the number of states: 0.8 s
/// for the 5-state sample (7 declared, 18 undeclared edges), 1.1 s for a 12-state chain
/// (124 undeclared edges); about 3 s when the crate itself changed. Only a failing suite pays
/// for the per-edge rerun: one binary per undeclared edge.
///
/// A state whose variant carries data is entered with the arguments its transition method
/// takes; give them as Rust source with [`data`](TransitionSuite::data):
///
/// ```no_run
/// # mod my_crate { pub mod jobs {
/// # use fixpoint::terminal_state;
/// # pub struct FollowUpId(pub u64);
/// # #[terminal_state(resume)]
/// # pub enum Job { #[initial] #[to(Waiting, Failed)] Queued, #[to(Done, Failed)] Waiting(FollowUpId), #[terminal] Done, #[terminal] #[abandoned] Failed }
/// # } }
/// use fixpoint::testing::TransitionSuite;
///
/// TransitionSuite::<my_crate::jobs::Job>::new("my_crate::jobs::Job")
///     .data("Waiting", "my_crate::jobs::FollowUpId(7)")
///     .run();
/// ```
#[derive(Debug)]
pub struct TransitionSuite<L> {
    path: String,
    data: BTreeMap<String, String>,
    lifecycle: PhantomData<fn() -> L>,
}

impl<L: Resume> TransitionSuite<L> {
    /// The suite of `L`, named by `path` as another crate names it (`"my_crate::jobs::Job"`).
    ///
    /// ```
    /// # use fixpoint::terminal_state;
    /// # #[terminal_state(resume)]
    /// # pub enum Job { #[initial] #[to(Done, Failed)] Queued, #[terminal] Done, #[terminal] #[abandoned] Failed }
    /// let suite = fixpoint::testing::TransitionSuite::<Job>::new("my_crate::Job");
    /// # drop(suite);
    /// ```
    #[must_use]
    pub fn new(path: &str) -> Self {
        TransitionSuite {
            path: path.to_owned(),
            data: BTreeMap::new(),
            lifecycle: PhantomData,
        }
    }

    /// The arguments that enter `state` (its transition method's, comma-separated, as Rust
    /// source): needed for every state whose variant carries data.
    ///
    /// ```
    /// # use fixpoint::terminal_state;
    /// # pub struct FollowUpId(pub u64);
    /// # #[terminal_state(resume)]
    /// # pub enum Job { #[initial] #[to(Waiting, Failed)] Queued, #[to(Done, Failed)] Waiting(FollowUpId), #[terminal] Done, #[terminal] #[abandoned] Failed }
    /// let suite = fixpoint::testing::TransitionSuite::<Job>::new("my_crate::Job")
    ///     .data("Waiting", "my_crate::FollowUpId(7)");
    /// # drop(suite);
    /// ```
    #[must_use]
    pub fn data(mut self, state: &str, arguments: &str) -> Self {
        self.data.insert(state.to_owned(), arguments.to_owned());
        self
    }

    /// Writes the cases and runs them through trybuild.
    ///
    /// # Panics
    ///
    /// As [`transition_suite`] does.
    #[track_caller]
    pub fn run(self) {
        // One folder per path, so that two lifecycles of the same name never share files.
        let dir = suites_dir().join(self.path.replace("::", "-"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let stem = L::snake_name().replace('_', "-");
        let pass = dir.join(format!("{stem}-declared-edges.rs"));
        write(&pass, &self.declared_case());
        let undeclared = undeclared_edges::<L>();
        let fail = self.write_undeclared(
            &dir.join(format!("{stem}-undeclared-edges.rs")),
            &undeclared,
        );
        let batched = std::panic::catch_unwind(|| {
            let cases = trybuild::TestCases::new();
            cases.pass(&pass);
            cases.compile_fail(&fail);
        });
        if batched.is_ok() {
            return;
        }
        // One case per undeclared edge, so that trybuild's report names the edge that compiles.
        let cases = trybuild::TestCases::new();
        for &(from, to) in &undeclared {
            let (source, target) = (&method_name(from.name())[3..], &method_name(to.name())[3..]);
            let name = format!("{stem}-undeclared-{source}-to-{target}.rs").replace('_', "-");
            cases.compile_fail(self.write_undeclared(&dir.join(name), &[(from, to)]));
        }
        drop(cases);
        panic!(
            "the transition suite of lifecycle `{}` failed: trybuild's report above names the \
             case, and each case's line names its edge (`// Queued -> Done`)",
            L::name()
        );
    }

    /// Writes the must-fail case for `edges` at `path`, and its expected stderr beside it.
    fn write_undeclared(&self, path: &Path, edges: &[(State<L>, State<L>)]) -> PathBuf {
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let (source, stderr) = undeclared_case::<L>(&self.path, &file.unwrap_or_default(), edges);
        write(path, &source);
        write(&path.with_extension("stderr"), &stderr);
        path.to_owned()
    }

    /// The must-compile case: each declared edge, from its source state resumed from a status
    /// value, through the generated transition method.
    fn declared_case(&self) -> String {
        let (parent, name) = split_path::<L>(&self.path);
        let module = L::SPEC.module;
        let mut out = format!(
            "//! Generated by `fixpoint::testing::transition_suite`: every declared edge of \
             `{name}`, taken\n//! through its transition method.\n\
             // A one-field state's data is `(a)`, as several fields make the tuple `(a, b)`.\n\
             #![allow(unused_parens)]\n\
             use ::fixpoint::{{Resume, StateMarker}};\n\
             use {parent}::{{{module}, {name}Resumed, {name}Transitions}};\n\nfn main() {{\n"
        );
        for (from, to) in L::transitions() {
            let (source, method) = (from.name(), method_name(to.name()));
            let _ = write!(
                out,
                "    // {source} -> {target}\n    \
                 match <{module}::{source} as StateMarker>::into_status(({data})).resume(()) {{\n        \
                 {name}Resumed::{source}(machine) => drop(machine.{method}({arguments})),\n        \
                 _ => unreachable!(\"resumed in another state\"),\n    }}\n",
                target = to.name(),
                data = self.arguments(from),
                arguments = self.arguments(to),
            );
        }
        out + "}\n"
    }

    /// The arguments that enter `state`: none for a unit variant.
    #[track_caller]
    fn arguments(&self, state: State<L>) -> &str {
        if !state.carries_data() {
            return "";
        }
        self.data.get(state.name()).map_or_else(
            || {
                panic!(
                    "state `{state}` of lifecycle `{lifecycle}` carries data: give the arguments \
                     of its transition method with `.data(\"{state}\", \"..\")` on \
                     `TransitionSuite::<{lifecycle}>::new(..)`",
                    lifecycle = L::name()
                )
            },
            String::as_str,
        )
    }
}

/// `to_input_needed` for `InputNeeded`: `#[terminal_state]`'s name of the method (the same
/// snake case as its `names::snake_case`).
fn method_name(state: &str) -> String {
    let chars: Vec<char> = state.chars().collect();
    let mut out = String::from("to_");
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The enum's parent module path and its name, checked against the lifecycle.
#[track_caller]
fn split_path<L: Lifecycle>(path: &str) -> (&str, &str) {
    match path.rsplit_once("::") {
        Some((parent, name)) if name == L::name() => (parent, name),
        _ => panic!(
            "`{path}` does not name lifecycle `{name}`; give its path as another crate names \
             it, e.g. `my_crate::jobs::{name}`",
            name = L::name()
        ),
    }
}

/// `target/<profile>/fixpoint-suites`, beside the running test binary (`target/<profile>/deps`).
#[track_caller]
fn suites_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test binary");
    match exe.parent().and_then(Path::parent) {
        Some(profile) => profile.join("fixpoint-suites"),
        None => panic!(
            "the test binary `{}` is not under a target directory; run the suite with `cargo test`",
            exe.display()
        ),
    }
}

#[track_caller]
fn write(path: &Path, text: &str) {
    // Unchanged files keep their modification time, so trybuild does not rebuild them.
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Lines of the must-fail case before the first probe; the expected stderr quotes them.
const PROBE_HEADER: [&str; 3] = ["struct Probe;", "", "trait State<const I: u16> {"];

/// The must-fail case and its expected stderr: one call per undeclared ordered pair, each
/// rejected because the source's marker does not implement `Edge` toward the target.
fn undeclared_case<L: Lifecycle>(
    path: &str,
    file: &str,
    edges: &[(State<L>, State<L>)],
) -> (String, String) {
    let (parent, name) = split_path::<L>(path);
    let module = L::SPEC.module;
    let mut lines: Vec<String> = vec![
        format!(
            "//! Generated by `fixpoint::testing::transition_suite`: every edge `{name}` does not declare."
        ),
        format!("use {parent}::{module};"),
        String::new(),
    ];
    let probe_line = lines.len() + 1;
    lines.extend(PROBE_HEADER.iter().map(ToString::to_string));
    lines.push("    type Marker;".to_owned());
    lines.push("}".to_owned());
    for state in L::states() {
        lines.push(format!(
            "impl State<{}> for Probe {{ type Marker = {module}::{}; }}",
            state.index(),
            state.name()
        ));
    }
    lines.extend([
        "".to_owned(),
        "#[diagnostic::on_unimplemented(".to_owned(),
        format!(
            "    message = \"illegal transition: lifecycle `{name}` does not declare this edge\","
        ),
        "    label = \"undeclared edge\"".to_owned(),
        ")]".to_owned(),
        "trait Transition<const FROM: u16, const TO: u16> {}".to_owned(),
        "".to_owned(),
        "#[diagnostic::do_not_recommend]".to_owned(),
        "impl<const FROM: u16, const TO: u16> Transition<FROM, TO> for Probe".to_owned(),
        "where".to_owned(),
        "    Probe: State<FROM> + State<TO>,".to_owned(),
        "    <Probe as State<FROM>>::Marker: ::fixpoint::Edge<<Probe as State<TO>>::Marker>,"
            .to_owned(),
        "    <Probe as State<TO>>::Marker: ::fixpoint::StateMarker,".to_owned(),
        "{".to_owned(),
        "}".to_owned(),
        "".to_owned(),
    ]);
    let fn_line = lines.len() + 1;
    lines.extend(
        [
            "fn undeclared<const FROM: u16, const TO: u16>()",
            "where",
            "    Probe: Transition<FROM, TO>,",
            "{",
            "}",
            "",
            "fn main() {",
        ]
        .map(ToString::to_string),
    );
    let mut errors = Vec::new();
    for &(from, to) in edges {
        {
            lines.push(format!(
                "    undeclared::<{}, {}>(); // {from} -> {to}",
                from.index(),
                to.index()
            ));
            let at = Lines {
                file,
                call: lines.len(),
                probe: probe_line,
                undeclared: fn_line,
            };
            errors.push(expected_error(name, &at, from, to));
        }
    }
    lines.push("}".to_owned());
    (lines.join("\n") + "\n", errors.join("\n"))
}

/// Every ordered pair of states that `#[to(..)]` does not list, edges out of terminal states
/// and a state to itself included.
fn undeclared_edges<L: Lifecycle>() -> Vec<(State<L>, State<L>)> {
    L::states()
        .flat_map(|from| L::states().map(move |to| (from, to)))
        .filter(|&(from, to)| !from.can_transition_to(to))
        .collect()
}

/// Where the must-fail case declares what its errors quote.
struct Lines<'a> {
    file: &'a str,
    call: usize,
    probe: usize,
    undeclared: usize,
}

/// rustc's rendering of one rejected probe.
fn expected_error<L: Lifecycle>(
    name: &str,
    at: &Lines<'_>,
    from: State<L>,
    to: State<L>,
) -> String {
    let (file, line, probe_line, fn_line) = (
        format!("$DIR/{}", at.file),
        at.call,
        at.probe,
        at.undeclared,
    );
    let width = line.to_string().len();
    let pad = " ".repeat(width);
    let num = |n: usize| format!("{n:>width$}");
    let (f, t) = (from.index(), to.index());
    let carets = "^".repeat(f.to_string().len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "error[E0277]: illegal transition: lifecycle `{name}` does not declare this edge"
    );
    let _ = writeln!(out, "{pad}--> {file}:{line}:18");
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(
        out,
        "{} |     undeclared::<{f}, {t}>(); // {from} -> {to}",
        num(line)
    );
    let _ = writeln!(out, "{pad} |                  {carets} undeclared edge");
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(
        out,
        "help: the trait `Transition<{f}, {t}>` is not implemented for `Probe`"
    );
    let _ = writeln!(out, "{pad}--> {file}:{probe_line}:1");
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | struct Probe;", num(probe_line));
    let _ = writeln!(out, "{pad} | ^^^^^^^^^^^^");
    let _ = writeln!(out, "note: required by a bound in `undeclared`");
    let _ = writeln!(out, "{pad}--> {file}:{}:12", fn_line + 2);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(
        out,
        "{} | fn undeclared<const FROM: u16, const TO: u16>()",
        num(fn_line)
    );
    let _ = writeln!(
        out,
        "{pad} |    ---------- required by a bound in this function"
    );
    let _ = writeln!(out, "{} | where", num(fn_line + 1));
    let _ = writeln!(
        out,
        "{} |     Probe: Transition<FROM, TO>,",
        num(fn_line + 2)
    );
    let _ = writeln!(
        out,
        "{pad} |            ^^^^^^^^^^^^^^^^^^^^ required by this bound in `undeclared`"
    );
    out
}
