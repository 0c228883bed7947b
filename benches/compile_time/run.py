#!/usr/bin/env python3
"""Compile-time cost of fixpoint's attributes beside the same code written with peers and by hand.

Generates one cargo workspace per variant under `target/compile-time/<variant>/`, each with a
crate per category and a `total` crate holding all three:

  lifecycles   100 lifecycles of 10 states, each created, driven along its chain and finished
  async_fns    100 async fns that hold a semaphore permit over bounded work
  rules        100 structs with three rules, constructed and written through their setters

Variants: `fixpoint` (path dependency on this checkout), `statum`, `typestate` (lifecycles only:
they have nothing like the other two categories) and `hand` (the same code written by hand,
tokio's `Semaphore` for the async fns).

Dependencies are built once, unmeasured. Then, for each crate, the source file is touched and
`cargo check` (then `cargo build`) is run and timed N times; the table shows the minimum and the
median, and the ratio of each to the hand-written code's.

Every cargo call holds `/tmp/fixpoint-cargo.lock` (shared with every other cargo user on the
machine), so no other build runs while one is timed; other processes may. Nothing here is a
`[[bench]]` target: `cargo bench` does not run it.

    python3 benches/compile_time/run.py                 # every variant, 5 runs
    python3 benches/compile_time/run.py --runs 3 --variants fixpoint,hand
    python3 benches/compile_time/run.py --generate-only # write the crates, time nothing
    python3 benches/compile_time/run.py --instructions  # rustc's instructions (callgrind)
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "compile-time"
LOCK = "/tmp/fixpoint-cargo.lock"

MACHINES = 100
STATES = 10  # S0 (initial) .. S7, Done (terminal), Failed (terminal, abandoned)
ASYNC_FNS = 100
RULE_STRUCTS = 100

VARIANTS = ["fixpoint", "statum", "typestate", "hand"]
CATEGORIES = ["lifecycles", "async_fns", "rules"]
# Peers have no equivalent of the async-fn and rule categories.
SUPPORTED = {
    "fixpoint": CATEGORIES,
    "statum": ["lifecycles"],
    "typestate": ["lifecycles"],
    "hand": CATEGORIES,
}

ACTIVE = [f"S{i}" for i in range(STATES - 2)]  # non-terminal states, in chain order
CHAIN = ACTIVE + ["Done"]  # the path each machine is driven along
ALL_STATES = ACTIVE + ["Done", "Failed"]


def snake(state: str) -> str:
    return state.lower()


def successors(state: str) -> list[str]:
    """Each active state goes to the next one in the chain, or fails."""
    if state not in ACTIVE:
        return []
    return [CHAIN[CHAIN.index(state) + 1], "Failed"]


# ---------------------------------------------------------------------------------------------
# Lifecycles
# ---------------------------------------------------------------------------------------------


def drive(start: str, finish: str, tail: str = "") -> str:
    """`start.to_s1().to_s2() ... .to_done()` then `finish`."""
    steps = "".join(f"\n            .to_{snake(s)}()" for s in CHAIN[1:])
    return f"{start}{steps}{tail}{finish}"


def lifecycle_fixpoint(i: int) -> str:
    variants = []
    for state in ALL_STATES:
        attrs = []
        if state == "S0":
            attrs.append("#[initial]")
        if state in ("Done", "Failed"):
            attrs.append("#[terminal]")
        if state == "Failed":
            attrs.append("#[abandoned]")
        to = successors(state)
        if to:
            attrs.append(f"#[to({', '.join(to)})]")
        variants.append(f"        {' '.join(attrs)} {state},")
    body = drive("Tracked::<Machine, _, _>::new(value)", "\n            .into_value()")
    return f"""pub mod m{i} {{
    use fixpoint::{{terminal_state, Tracked}};

    #[terminal_state]
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Machine {{
{chr(10).join(variants)}
    }}

    pub fn run(value: String) -> String {{
        {body}
    }}

    pub fn fail(value: String) -> String {{
        Tracked::<Machine, _, _>::new(value).to_s1().to_failed().into_value()
    }}
}}
"""


def lifecycle_statum(i: int) -> str:
    states = "\n".join(f"        {s}," for s in ALL_STATES)
    impls = []
    for state in ACTIVE:
        methods = "\n".join(
            f"""        pub fn to_{snake(t)}(self) -> Machine<{t}> {{
            self.transition()
        }}"""
            for t in successors(state)
        )
        impls.append(f"""    #[transition]
    impl Machine<{state}> {{
{methods}
    }}""")
    body = drive("Machine::<S0>::builder().value(value).build()", ".value")
    return f"""pub mod m{i} {{
    use statum::{{machine, state, transition}};

    #[state]
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum MachineState {{
{states}
    }}

    #[machine]
    pub struct Machine<MachineState> {{
        value: String,
    }}

{chr(10).join(impls)}

    pub fn run(value: String) -> String {{
        {body}
    }}

    pub fn fail(value: String) -> String {{
        Machine::<S0>::builder().value(value).build().to_s1().to_failed().value
    }}
}}
"""


def lifecycle_typestate(i: int) -> str:
    decls = []
    impls = []
    for state in ALL_STATES:
        sigs = [f"fn to_{snake(t)}(self) -> {t};" for t in successors(state)]
        bodies = [
            f"""    fn to_{snake(t)}(self) -> Machine<{t}> {{
        Machine {{ value: self.value, state: {t} }}
    }}"""
            for t in successors(state)
        ]
        if state == "S0":
            sigs.insert(0, "fn start(value: String) -> S0;")
            bodies.insert(0, """    fn start(value: String) -> Machine<S0> {
        Machine { value, state: S0 }
    }""")
        if state in ("Done", "Failed"):
            sigs.append("fn finish(self) -> String;")
            bodies.append("""    fn finish(self) -> String {
        self.value
    }""")
        decls.append(f"""    #[state]
    pub struct {state};
    pub trait {state} {{
        {(chr(10) + "        ").join(sigs)}
    }}""")
        impls.append(f"""impl {state}State for Machine<{state}> {{
{chr(10).join(bodies)}
}}""")
    body = drive("Machine::<S0>::start(value)", "\n            .finish()")
    impls_text = "\n".join(impls)
    # The impls live beside the generated module, as the crate's examples write them.
    return f"""pub mod m{i} {{
    use typestate::typestate;
    pub use machine::*;

    #[typestate]
    mod machine {{
    #[automaton]
    pub struct Machine {{
        pub value: String,
    }}

{chr(10).join(decls)}
    }}

{impls_text}

    pub fn run(value: String) -> String {{
        {body}
    }}

    pub fn fail(value: String) -> String {{
        Machine::<S0>::start(value).to_s1().to_failed().finish()
    }}
}}
"""


def lifecycle_hand(i: int) -> str:
    """What a careful user writes for the same guarantees: a marker per state, a machine generic
    over it, one `impl` block per state with its transitions, and the status each marker stands
    for (the stored form)."""
    markers = "\n".join(
        f"""    pub struct {s};
    impl State for {s} {{
        const STATUS: Status = Status::{s};
    }}"""
        for s in ALL_STATES
    )
    statuses = "\n".join(f"        {s}," for s in ALL_STATES)
    impls = []
    for state in ALL_STATES:
        methods = [
            f"""        #[must_use]
        pub fn to_{snake(t)}(self) -> Machine<{t}> {{
            Machine {{ value: self.value, state: PhantomData }}
        }}"""
            for t in successors(state)
        ]
        if state == "S0":
            methods.insert(0, """        pub fn new(value: String) -> Self {
            Machine { value, state: PhantomData }
        }""")
        if state in ("Done", "Failed"):
            methods.append("""        pub fn into_value(self) -> String {
            self.value
        }""")
        impls.append(f"""    impl Machine<{state}> {{
{chr(10).join(methods)}
    }}""")
    body = drive("Machine::<S0>::new(value)", "\n            .into_value()")
    return f"""pub mod m{i} {{
    use std::marker::PhantomData;

    /// The status as stored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Status {{
{statuses}
    }}

    pub trait State {{
        const STATUS: Status;
    }}

{markers}

    pub struct Machine<S: State> {{
        value: String,
        state: PhantomData<S>,
    }}

    impl<S: State> Machine<S> {{
        pub fn status(&self) -> Status {{
            S::STATUS
        }}
    }}

{chr(10).join(impls)}

    pub fn run(value: String) -> String {{
        {body}
    }}

    pub fn fail(value: String) -> String {{
        Machine::<S0>::new(value).to_s1().to_failed().into_value()
    }}
}}
"""


# ---------------------------------------------------------------------------------------------
# Async fns holding a permit over bounded work
# ---------------------------------------------------------------------------------------------

ASYNC_PRELUDE = """async fn step(n: u64) -> u64 {
    n + 1
}

async fn user_reply(n: u64) -> u64 {
    n * 2
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
"""


def async_fixpoint(i: int) -> str:
    return f"""#[lock_scope(no_unbounded_await)]
pub async fn work{i}(pool: &Semaphore, n: u64) -> Result<u64, Error> {{
    let permit = pool.acquire_timeout(&lock_scope, Duration::from_millis(100)).await?;
    permit.set_label("work {i}");
    let n = bounded(Duration::from_secs(1), step(n)).await?;
    drop(permit);
    let reply = user_reply(n).await;
    Ok(reply + {i})
}}
"""


def async_hand(i: int) -> str:
    return f"""pub async fn work{i}(pool: &Semaphore, n: u64) -> Result<u64, Error> {{
    let permit = timeout(Duration::from_millis(100), pool.acquire()).await??;
    let n = timeout(Duration::from_secs(1), step(n)).await?;
    drop(permit);
    let reply = user_reply(n).await;
    Ok(reply + {i})
}}
"""


# ---------------------------------------------------------------------------------------------
# Structs with three rules
# ---------------------------------------------------------------------------------------------


def rules_fixpoint(i: int) -> str:
    return f"""#[invariant(self.low <= self.high, "the range is ordered")]
#[invariant(self.high <= 1_000, "the range stays under the cap")]
#[invariant(!self.name.is_empty(), "every range is named")]
#[derive(Debug, Clone, PartialEq)]
pub struct Range{i} {{
    low: u32,
    high: u32,
    name: String,
}}

pub fn range{i}() -> Checked<Range{i}> {{
    let mut range = Checked::new(Range{i} {{ low: 1, high: 10, name: "r{i}".to_owned() }}).unwrap();
    range.set_high(20).unwrap();
    range.set_low(5).unwrap();
    assert!(range.set_name(String::new()).is_err());
    range
}}
"""


def rules_hand(i: int) -> str:
    return f"""#[derive(Debug, Clone, PartialEq)]
pub struct Range{i} {{
    low: u32,
    high: u32,
    name: String,
}}

impl Range{i} {{
    pub fn new(low: u32, high: u32, name: String) -> Result<Self, RuleBroken> {{
        let range = Range{i} {{ low, high, name }};
        range.check()?;
        Ok(range)
    }}

    fn check(&self) -> Result<(), RuleBroken> {{
        if !(self.low <= self.high) {{
            return Err(RuleBroken("the range is ordered"));
        }}
        if !(self.high <= 1_000) {{
            return Err(RuleBroken("the range stays under the cap"));
        }}
        if self.name.is_empty() {{
            return Err(RuleBroken("every range is named"));
        }}
        Ok(())
    }}

    pub fn low(&self) -> &u32 {{
        &self.low
    }}

    pub fn high(&self) -> &u32 {{
        &self.high
    }}

    pub fn name(&self) -> &String {{
        &self.name
    }}

    pub fn set_low(&mut self, low: u32) -> Result<u32, RuleBroken> {{
        let old = std::mem::replace(&mut self.low, low);
        self.check().inspect_err(|_| self.low = old)?;
        Ok(old)
    }}

    pub fn set_high(&mut self, high: u32) -> Result<u32, RuleBroken> {{
        let old = std::mem::replace(&mut self.high, high);
        self.check().inspect_err(|_| self.high = old)?;
        Ok(old)
    }}

    pub fn set_name(&mut self, name: String) -> Result<String, RuleBroken> {{
        let old = std::mem::replace(&mut self.name, name);
        if let Err(broken) = self.check() {{
            self.name = old;
            return Err(broken);
        }}
        Ok(old)
    }}
}}

pub fn range{i}() -> Range{i} {{
    let mut range = Range{i}::new(1, 10, "r{i}".to_owned()).unwrap();
    range.set_high(20).unwrap();
    range.set_low(5).unwrap();
    assert!(range.set_name(String::new()).is_err());
    range
}}
"""


HAND_RULE_PRELUDE = """/// A rule a write would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleBroken(pub &'static str);
"""


# ---------------------------------------------------------------------------------------------
# Crates
# ---------------------------------------------------------------------------------------------


def source(variant: str, category: str) -> str:
    header = "#![allow(dead_code, clippy::all)]\n//! Generated by benches/compile_time/run.py.\n\n"
    if category == "lifecycles":
        gen = {
            "fixpoint": lifecycle_fixpoint,
            "statum": lifecycle_statum,
            "typestate": lifecycle_typestate,
            "hand": lifecycle_hand,
        }[variant]
        return header + "\n".join(gen(i) for i in range(MACHINES))
    if category == "async_fns":
        if variant == "fixpoint":
            uses = "use std::time::Duration;\nuse fixpoint::{lock::{bounded, Semaphore}, lock_scope};\n\n"
            return header + uses + ASYNC_PRELUDE + "\n".join(
                async_fixpoint(i) for i in range(ASYNC_FNS)
            )
        uses = "use std::time::Duration;\nuse tokio::sync::Semaphore;\nuse tokio::time::timeout;\n\n"
        return header + uses + ASYNC_PRELUDE + "\n".join(async_hand(i) for i in range(ASYNC_FNS))
    if category == "rules":
        if variant == "fixpoint":
            uses = "use fixpoint::{invariant, invariant::Checked};\n\n"
            return header + uses + "\n".join(rules_fixpoint(i) for i in range(RULE_STRUCTS))
        return header + HAND_RULE_PRELUDE + "\n".join(rules_hand(i) for i in range(RULE_STRUCTS))
    raise ValueError(category)


def dependencies(variant: str) -> str:
    # The peers' and tokio's versions as resolved when the benchmark was written.
    return {
        "fixpoint": f'fixpoint = {{ path = "{ROOT}" }}\n',
        "statum": 'statum = "0.9.0"\n',
        "typestate": 'typestate = "0.8.0"\n',
        "hand": 'tokio = { version = "1.47.0", features = ["sync", "time"] }\n',
    }[variant]


def write(path: Path, text: str) -> None:
    """Writes only a changed file, so that regenerating keeps the incremental caches."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(variant: str) -> Path:
    base = OUT / variant
    categories = SUPPORTED[variant]
    members = categories + (["total"] if len(categories) > 1 else [])
    write(
        base / "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = ["
        + ", ".join(f'"{m}"' for m in members)
        + "]\n",
    )
    for crate in members:
        write(
            base / crate / "Cargo.toml",
            f'[package]\nname = "{variant}-{crate.replace("_", "-")}"\nversion = "0.0.0"\n'
            f'edition = "2024"\npublish = false\n\n[lib]\npath = "src/lib.rs"\n\n'
            f"[dependencies]\n{dependencies(variant)}",
        )
    for category in categories:
        write(base / category / "src" / "lib.rs", source(variant, category))
    # `total`: the three categories as modules of one crate.
    if "total" not in members:
        return base
    write(
        base / "total" / "src" / "lib.rs",
        "//! Generated by benches/compile_time/run.py.\n\n"
        + "".join(f"pub mod {c};\n" for c in categories),
    )
    for category in categories:
        write(base / "total" / "src" / f"{category}.rs", source(variant, category))
    return base


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


@contextmanager
def cargo_lock():
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cargo(base: Path, args: list[str]) -> float:
    """Runs `cargo <args>` in `base` (the lock is held by the caller) and returns its wall time."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(base / "target"))
    env.pop("RUSTFLAGS", None)
    start = time.perf_counter()
    done = subprocess.run(
        ["nice", "-n", "10", "cargo", *args],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"`cargo {' '.join(args)}` failed in {base}:\n{done.stderr}")
    return elapsed


def touched_files(base: Path, crate: str) -> list[Path]:
    return sorted((base / crate / "src").glob("*.rs"))


def measure(base: Path, variant: str, crate: str, command: str, runs: int) -> list[float]:
    package = f"{variant}-{crate.replace('_', '-')}"
    times = []
    with cargo_lock():
        cargo(base, [command, "-p", package])  # warm the incremental cache
        for _ in range(runs):
            for path in touched_files(base, crate):
                path.touch()
            times.append(cargo(base, [command, "-p", package]))
    return times


WRAPPER = """#!/bin/sh
# RUSTC_WRAPPER for `--instructions`: the measured crate's rustc runs under callgrind.
rustc="$1"; shift
case " $* " in
  *" --crate-name $FIXPOINT_MEASURED_CRATE "*)
    exec valgrind --tool=callgrind --callgrind-out-file="$FIXPOINT_CALLGRIND_OUT" -q "$rustc" "$@" ;;
esac
exec "$rustc" "$@"
"""


def instructions(base: Path, variant: str, crate: str) -> int:
    """Instructions rustc executes for one incremental `cargo check` after a touch, counted by
    callgrind: unlike time, the same on a loaded machine from one run to the next."""
    package = f"{variant}-{crate.replace('_', '-')}"
    wrapper = OUT / "callgrind-rustc.sh"
    write(wrapper, WRAPPER)
    wrapper.chmod(0o755)
    out = OUT / f"{package}.callgrind"
    with cargo_lock():
        cargo(base, ["check", "-p", package])  # warm the incremental cache
        for path in touched_files(base, crate):
            path.touch()
        os.environ.update(
            RUSTC_WRAPPER=str(wrapper),
            FIXPOINT_MEASURED_CRATE=package.replace("-", "_"),
            FIXPOINT_CALLGRIND_OUT=str(out),
        )
        try:
            cargo(base, ["check", "-p", package])
        finally:
            for key in ("RUSTC_WRAPPER", "FIXPOINT_MEASURED_CRATE", "FIXPOINT_CALLGRIND_OUT"):
                os.environ.pop(key)
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    sys.exit(f"no instruction total in {out}")


def fmt(seconds: float) -> str:
    return f"{seconds:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--crates",
        default=",".join(CATEGORIES + ["total"]),
        help="which of lifecycles, async_fns, rules, total to time",
    )
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count rustc's instructions for one incremental check (callgrind) instead of timing",
    )
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    for variant in variants:
        if variant not in VARIANTS:
            sys.exit(f"unknown variant `{variant}`: choose among {', '.join(VARIANTS)}")
    bases = {variant: generate(variant) for variant in variants}
    if args.generate_only:
        print(f"generated under {OUT}")
        return

    if args.instructions:
        count_instructions(bases, args.crates.split(","))
        return

    results: dict[tuple[str, str, str], list[float]] = {}
    load = os.getloadavg()[0]
    for variant, base in bases.items():
        print(f"{variant}: building dependencies (not timed)", file=sys.stderr)
        with cargo_lock():
            cargo(base, ["build", "--workspace"])
            cargo(base, ["check", "--workspace"])
        crates = SUPPORTED[variant] + (["total"] if len(SUPPORTED[variant]) > 1 else [])
        for crate in [c for c in crates if c in args.crates.split(",")]:
            for command in ("check", "build"):
                times = measure(base, variant, crate, command, args.runs)
                results[(variant, crate, command)] = times
                print(
                    f"  {variant:9} {crate:10} {command:5} "
                    f"min {fmt(min(times))} s  median {fmt(statistics.median(times))} s",
                    file=sys.stderr,
                )

    print(
        f"\n{args.runs} runs each; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; seconds, min / median; "
        "ratio of the minimum to the hand-written code's.\n"
    )
    print("| crate | variant | `cargo check` | vs hand | `cargo build` | vs hand |")
    print("|---|---|---|---|---|---|")
    for crate in CATEGORIES + ["total"]:
        for variant in variants:
            if (variant, crate, "check") not in results:
                continue
            row = [crate.replace("_", " "), variant]
            for command in ("check", "build"):
                times = results[(variant, crate, command)]
                row.append(f"{fmt(min(times))} / {fmt(statistics.median(times))}")
                hand = results.get(("hand", crate, command))
                row.append(f"{min(times) / min(hand):.1f}x" if hand else "")
            print("| " + " | ".join(row) + " |")
    peers = [v for v in variants if SUPPORTED[v] == ["lifecycles"]]
    if peers:
        print(f"\n{', '.join(peers)}: lifecycles only (no equivalent of the other two).")

def count_instructions(bases: dict[str, Path], wanted: list[str]) -> None:
    counts: dict[tuple[str, str], int] = {}
    for variant, base in bases.items():
        print(f"{variant}: building dependencies (not counted)", file=sys.stderr)
        with cargo_lock():
            cargo(base, ["check", "--workspace"])
        crates = SUPPORTED[variant] + (["total"] if len(SUPPORTED[variant]) > 1 else [])
        for crate in [c for c in crates if c in wanted]:
            counts[(variant, crate)] = instructions(base, variant, crate)
            print(f"  {variant:9} {crate:10} {counts[(variant, crate)]:,}", file=sys.stderr)
    print("\nInstructions of rustc for one incremental `cargo check` after a touch (callgrind).\n")
    print("| crate | variant | instructions | vs hand |")
    print("|---|---|---|---|")
    for crate in CATEGORIES + ["total"]:
        for variant in bases:
            if (variant, crate) not in counts:
                continue
            count = counts[(variant, crate)]
            hand = counts.get(("hand", crate))
            ratio = f"{count / hand:.1f}x" if hand else ""
            print(f"| {crate.replace('_', ' ')} | {variant} | {count / 1e9:.2f} G | {ratio} |")


if __name__ == "__main__":
    main()
