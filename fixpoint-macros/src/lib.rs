//! Procedural macros of [`fixpoint`](https://docs.rs/fixpoint). Depend on `fixpoint`, which
//! re-exports them together with the runtime items their generated code uses.

mod ctxt;
mod invariant;
mod lock_scope;
mod names;
mod private;
mod terminal_state;

use proc_macro::TokenStream;

/// Turns an enum into a lifecycle: a type-state machine in which only the declared transitions
/// compile, and a machine dropped before a terminal state records its fallback.
///
/// ```
/// use fixpoint::{terminal_state, Terminal, Tracked};
///
/// # pub struct FollowUpId(u64);
/// #[terminal_state]
/// pub enum ProjectStatus {
///     #[initial] #[to(Running, Failed)]     Initialized,
///     #[to(InputNeeded, Completed, Failed)] Running,
///     #[to(Running, Failed)]                InputNeeded(FollowUpId),
///     #[terminal]                           Completed,
///     #[terminal] #[abandoned]              Failed,
/// }
///
/// fn run(project: Tracked<ProjectStatus, project_status::Initialized, String>)
///     -> Terminal<ProjectStatus, String>
/// {
///     let running = project.to_running();
///     let waiting = running.to_input_needed(FollowUpId(7)); // the state needs its data
///     waiting.to_running().to_completed()
/// }
/// # fn main() {
/// let done = run(Tracked::new("site".to_owned()));
/// assert_eq!(done.state().name(), "Completed");
/// # }
/// ```
///
/// # Variant attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `#[initial]` | the state a machine starts in; exactly one, not terminal |
/// | `#[to(A, B, ..)]` | the states this one may go to |
/// | `#[terminal]` | a final state: entering it yields a [`Terminal`] proof; no `#[to]` |
/// | `#[abandoned]` | the terminal state recorded when an owner is lost; exactly one, a unit variant |
///
/// A variant's fields are the data that must be supplied to enter it.
///
/// # Generated items
///
/// For `enum ProjectStatus`, beside the enum (whose variant attributes are removed):
///
/// - `mod project_status` (rename with `#[terminal_state(module = name)]`): one zero-sized
///   marker per state (`project_status::Running`), with the enum's visibility. A marker is a
///   type, never a value: it implements fixpoint's marker traits and nothing else (every trait
///   impl is paid for at every build of the crate); implement others on it where you need them.
///   Each declared edge is `impl Edge<Running> for Initialized`: the bound of every transition,
///   and the one generic code writes (`S: Edge<project_status::Failed>` for "any state that may
///   fail"). An undeclared transition fails on it, and rustc lists the edges the state has.
/// - `trait ProjectStatusTransitions`: the transition methods `to_running()`,
///   `to_input_needed(follow_up_id)`, … of [`Tracked`]; each exists only in the states that
///   declare the edge. Import it where transitions are taken. On a finished machine
///   (`Terminal<ProjectStatus, T>`) every one of them is a compile error that says so: a
///   finished machine has no transitions (the runtime's `Unfinished` bound carries the message).
/// - With `#[terminal_state(resume)]` only, for a lifecycle read back from storage:
///   `enum ProjectStatusResumed<T, R>`, one variant per typed state, returned by
///   [`Resume::resume`], and `impl Resume for ProjectStatus`. `Supervisor::reconcile` and the
///   compile-time transition suites need it; a lifecycle without it compiles faster.
/// - `impl Lifecycle for ProjectStatus`: the runtime view (states, transitions, Mermaid
///   diagram).
/// - On the enum's rustdoc page, its state diagram (inline SVG) and table, drawn only when
///   rustdoc reads it (`#[cfg_attr(doc, ..)]`), so that a check or a build does not pay for it.
///
/// Every rule is checked at expansion, and each broken one is a spanned error that says how to
/// fix it: one `#[initial]`, at least one `#[terminal]`, one unit `#[abandoned]` that is
/// terminal, known and distinct `#[to]` targets, no edge out of a terminal state, and a terminal
/// state reachable from every state.
///
/// ```compile_fail
/// use fixpoint::terminal_state;
///
/// #[terminal_state]
/// enum Job {
///     #[initial] #[to(Running, Failed)] Queued,
///     #[to(Retrying)] Running,   // error: state `Running` cannot reach a terminal state
///     #[to(Running)] Retrying,   // error: state `Retrying` cannot reach a terminal state
///     #[terminal] #[abandoned] Failed,
/// }
/// ```
///
/// [`Tracked`]: ../fixpoint/struct.Tracked.html
/// [`Terminal`]: ../fixpoint/struct.Terminal.html
/// [`Resume::resume`]: ../fixpoint/trait.Resume.html#method.resume
#[proc_macro_attribute]
pub fn terminal_state(args: TokenStream, input: TokenStream) -> TokenStream {
    terminal_state::expand(args.into(), input.into()).into()
}

/// The "Lifecycle" section of a `#[terminal_state]` enum's documentation: its state diagram and
/// table, as a string literal. Generated code calls it as
/// `#[cfg_attr(doc, doc = ::fixpoint::__private::lifecycle_doc!("enum .."))]`, so that only
/// rustdoc pays for the drawing. Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn lifecycle_doc(input: TokenStream) -> TokenStream {
    terminal_state::lifecycle_doc(input.into()).into()
}

/// Rejects, at compile time, a `fixpoint::lock::Permit` held across an await that has no bound.
///
/// On an `async fn`, or on an `impl` block (each async method is checked). The function gets a
/// local `lock_scope`; acquire permits through it (`pool.acquire(&lock_scope)`), and the borrow
/// checker decides, exactly, whether a permit is alive at each await:
///
/// ```compile_fail,E0502
/// use fixpoint::{lock_scope, lock::Semaphore};
///
/// async fn user_reply() -> String { String::new() }
///
/// #[lock_scope(no_unbounded_await)]
/// async fn ask(pool: &Semaphore) -> String {
///     let permit = pool.acquire(&lock_scope).await;
///     // error[E0502]: cannot borrow
///     // `lock_scope.permit_held_across_unbounded_await_release_it_or_use_bounded_or_allow_unbounded`
///     // as mutable because it is also borrowed as immutable
///     let reply = user_reply().await;
///     drop(permit);
///     reply
/// }
/// ```
///
/// Three ways to fix it, each of which compiles:
///
/// ```
/// use std::time::Duration;
/// use fixpoint::{lock::{allow_unbounded, bounded, Semaphore}, lock_scope};
///
/// async fn user_reply() -> String { String::new() }
///
/// #[lock_scope(no_unbounded_await)]
/// async fn ask(pool: &Semaphore) -> String {
///     // 1. give the permit back before the wait
///     let permit = pool.acquire(&lock_scope).await;
///     drop(permit);
///     let first = user_reply().await;
///
///     // 2. bound the wait
///     let permit = pool.acquire(&lock_scope).await;
///     let second = bounded(Duration::from_secs(30), user_reply()).await.unwrap_or_default();
///     drop(permit);
///
///     // 3. declare the exception, with its reason, where it is made
///     let permit = pool.acquire(&lock_scope).await;
///     let third = allow_unbounded("the reply is cached, never a user wait", user_reply()).await;
///     drop(permit);
///     first + &second + &third
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # assert_eq!(ask(&Semaphore::new("pool", 1)).await, "");
/// # }
/// ```
///
/// An await counts as bounded when its future is `fixpoint::lock::bounded(..)`, `.bounded(..)`,
/// `tokio::time::timeout(..)`, a tokio `sleep`, `Semaphore::acquire_timeout(..)`, a lock's
/// `lock_timeout`, `read_timeout`, `write_timeout` or `_owned_timeout` given `&lock_scope`, or
/// an `allow_unbounded("reason", ..)` exception; the type of each is checked, so a look-alike
/// does not pass. Every other await is unbounded, including `select!`/`join!` and awaits inside
/// an async block that the function awaits. A `fixpoint::lock::Mutex` or `RwLock` guard
/// (`lock(&lock_scope)`, `read`, `write`, their `_owned` forms) is checked like a permit; a
/// `lock()` or `read()` that takes no `&lock_scope`, such as tokio's, is an ordinary await.
///
/// The attribute checks the body as written whatever wraps it: above or below
/// `#[tracing::instrument]`, on a method of an `#[async_trait]` impl or on the impl block, and
/// with `#[tokio::main]`/`#[tokio::test]`. A fn that returns `Box::pin(async move { .. })` is
/// checked as the async fn it is.
///
/// The function's own scope is the only one it opens: a `LockScope::unchecked(..)` anywhere in
/// its body (a nested async block, a closure, a macro call, or through a `use .. as` or `type`
/// alias made in the body) is an error, because a permit acquired through it could cross any
/// await unseen. Outside checked functions, `unchecked` stays the explicit, greppable escape.
///
/// A permit moves into another task only through `permit.spawn(serve)`, where `serve` is a
/// checked fn that takes a `fixpoint::lock::HandOff`: the attribute enters the hand-off into
/// `serve`'s own scope on its first line, and makes `serve` return its future as a
/// `fixpoint::lock::Entered`, the only task `Permit::spawn` accepts (a closure may pass more
/// arguments: `permit.spawn(move |permit| serve(permit, socket))`). A permit or guard moved into
/// `tokio::spawn`, `spawn_blocking`, `spawn_local` or `JoinSet::spawn`, itself or inside a
/// closure or future that owns it, is an error at the spawn that names this fix.
///
/// What the borrow checker cannot see: an await hidden inside a macro whose invocation shows no
/// `.await` (other than `select!`/`join!`), and an unchecked scope reached through an alias made
/// outside the function.
#[proc_macro_attribute]
pub fn lock_scope(args: TokenStream, input: TokenStream) -> TokenStream {
    lock_scope::expand(args.into(), input.into()).into()
}

/// A rule over a struct's values, checked at construction, on every mutation and on
/// deserialization, so that it cannot live only in a comment.
///
/// ```
/// use fixpoint::{invariant, invariant::Checked};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// pub enum Status { Running, InputNeeded }
///
/// #[invariant(
///     name = follow_up_exists,
///     self.status != Status::InputNeeded || self.follow_up.is_some(),
///     "a project waiting for input has a follow-up row"
/// )]
/// #[invariant(self.budget > 0, "a project has a budget")]
/// #[derive(Debug, Clone)]
/// pub struct Project { status: Status, follow_up: Option<u64>, budget: u32 }
///
/// let project = Checked::new(Project { status: Status::InputNeeded, follow_up: None, budget: 1 });
/// let refused = project.unwrap_err();
/// assert_eq!(
///     refused.violation().to_string(),
///     "Project breaks invariant `follow_up_exists`: a project waiting for input has a follow-up \
///      row; `self.status != Status::InputNeeded || self.follow_up.is_some()` is false for \
///      Project { status: InputNeeded, follow_up: None, budget: 1 }"
/// );
/// ```
///
/// The forms:
///
/// - `#[invariant(predicate, "why")]`, any number per struct, each optionally named
///   (`name = follow_up_exists, ..`). The predicate reads `self`.
/// - `#[invariant(const predicate, "why")]`: a rule over constants and sizes, proven at
///   compile time (`#[invariant(const core::mem::size_of::<Self>() <= 64, "fits a line")]`).
/// - `#[invariant(exempt)]` on a field that no rule reads, to let it be `pub`. Every other field
///   must be private: a `pub` field could be written around the check.
/// - `#[invariant(allow_interior_mutability = "why the rule still holds")]` on a field that a
///   rule reads although it can change behind `&` (see [Interior mutability](#interior-mutability)).
///
/// Generated: `impl Invariants` (the rules, kept as data: name, message, source), and
/// `trait <Struct>Checked` for `Checked<Struct>`, with a getter and a checked `set_<field>` per
/// field (rollback by swapping the old value back, no clone).
///
/// A false `const` rule fails the build:
///
/// ```compile_fail,E0080
/// use fixpoint::invariant;
///
/// #[invariant(const Self::SLOTS <= 8, "a table fits one cache line")]
/// pub struct Table { slots: [u64; 16] }
///
/// impl Table { const SLOTS: usize = 16; }
/// ```
///
/// # Interior mutability
///
/// `Checked<T>` hands out `&T`, and a `Cell`, `RefCell`, `Mutex` or atomic can be changed
/// through `&` without any check running. So a field that a rule reads must be plain data. A
/// rule *reads* a field when its predicate names it (`self.hits`, `self.0`), and reads every
/// field when it uses `self` whole: a method call (`self.is_fresh()`) or `self` as an argument.
/// Fields no rule reads may be anything.
///
/// ```compile_fail
/// use std::cell::Cell;
/// use fixpoint::invariant;
///
/// #[invariant(self.hits.get() <= self.limit, "a cache is hit at most `limit` times")]
/// pub struct Cache { hits: Cell<u32>, limit: u32 } // error: the type of field `hits` holds `Cell`, ..
/// ```
///
/// When the rule holds anyway, the field says why, and the checks skip it (the reason cannot be
/// empty, and an allowance on a field that no rule reads is an error, so none goes stale):
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use fixpoint::{invariant, invariant::Checked};
///
/// #[invariant(self.generation.load(Ordering::Acquire) >= self.first, "generations only grow")]
/// pub struct Epoch {
///     #[invariant(allow_interior_mutability = "only `fetch_add` writes it, so `>=` stays true")]
///     generation: AtomicU64,
///     first: u64,
/// }
///
/// let epoch = Checked::new(Epoch { generation: AtomicU64::new(3), first: 3 }).unwrap();
/// epoch.generation.fetch_add(1, Ordering::AcqRel);
/// ```
///
/// What is caught, for each field a rule reads that has no such exemption:
///
/// - **By name**, by the macro, with a message naming the field, the rule and the fix: a type
///   whose path ends in `Cell`, `RefCell`, `UnsafeCell`, `SyncUnsafeCell`, `OnceCell`,
///   `OnceLock`, `LazyCell`, `LazyLock`, `Once`, `Mutex`, `RwLock`, `ReentrantMutex`,
///   `FairMutex`, `Semaphore`, `Atomic{Bool, I8..I128, Isize, U8..U128, Usize, Ptr}`,
///   `AtomicCell`, `ArcSwap` or `ArcSwapOption` (std, tokio, parking_lot, crossbeam, arc-swap
///   and fixpoint spell them so), anywhere in the field's type: behind `&`, `Arc`, `Rc`, `Box`,
///   inside `Option`, `Vec`, a map, an array, a tuple or any generic argument. Not inside
///   `PhantomData<..>` or a function signature (`fn(Cell<u8>)`, `dyn Fn(Cell<u8>)`), which
///   hold no value.
/// - **By type**, for what a name cannot show (an alias, a user type that wraps a cell):
///   - a field type that is not `RefUnwindSafe`: it holds a `Cell`, `RefCell`, `OnceCell`,
///     `LazyCell` or `UnsafeCell`, inline or behind any pointer (`Rc<RefCell<..>>` through an
///     alias, a user struct with a `Cell` field), or a trait object without
///     `+ RefUnwindSafe`. Error E0277 with fixpoint's message, at the field's type; for a type
///     parameter, at the code that instantiates it with such a type (`Checked::new(..)`).
///   - a field type, without type parameters, that holds an `UnsafeCell` inline: a `Mutex`,
///     `RwLock`, atomic, `OnceLock` or `LazyLock` held by value in a user type. The compiler
///     reports it as E0492 ("interior mutable shared borrows of temporaries .. are not
///     allowed") at the field's type: read it as "this field's type can change behind `&`".
///
/// What is not caught:
///
/// - A `Mutex`, `RwLock`, atomic, `OnceLock` or `LazyLock` behind a pointer inside a type the
///   macro cannot see into: an alias (`type Shared = Arc<Mutex<u8>>`) or a user type with an
///   `Arc<AtomicU64>` field. std declares these `RefUnwindSafe`, and a pointer hides them from
///   the inline check.
/// - The same types, inline or not, as the value of a type parameter (`Slot<AtomicU64>`).
/// - A type that implements `RefUnwindSafe` by hand, or wraps a cell in `AssertUnwindSafe`
///   behind a pointer.
/// - State outside the value: a rule that reads a global, a thread-local, the clock or a file.
///
/// Refused although the rule may hold (exempt the field with its reason): a trait object
/// without `+ RefUnwindSafe` (`Box<dyn Error + Send + Sync>`), a type that keeps an atomic
/// inline as a detail of an immutable value (`bytes::Bytes`), a user type whose own name is
/// one of the names above, a user type holding `PhantomData<Cell<..>>`, and a cell field next
/// to a rule that calls a method on `self` that does not read it.
#[proc_macro_attribute]
pub fn invariant(args: TokenStream, input: TokenStream) -> TokenStream {
    invariant::expand(args.into(), input.into()).into()
}
