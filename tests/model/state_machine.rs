//! Random sequences of every call across several processes, one property test
//! per profile (proptest-state-machine). After every step the model's
//! invariant checker runs, plus postconditions stated independently of the
//! model's code (post.rs). Generation is biased like syzkaller (gen.rs).
//!
//! Each test runs 2,000 sequences of 50 to 80 calls by default
//! (`PROPTEST_CASES` changes the count). A failure prints the shrunk steps and
//! the concrete calls as JSON; paste those into a `regression_*` test below
//! with [`replay`], which runs the same checks.

mod generate;
mod post;

use generate::{Linux, Neutrino, ProfileType, Qnx4, RefState, Reference, Step, RECENT};
use mmoracle::types::Pid;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use proptest::test_runner::Config;
use proptest_state_machine::{prop_state_machine, StateMachineTest};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The model under test, with what the steps need to resolve their
/// symbolic addresses and what a failure report prints.
pub struct System {
    model: Model,
    /// Addresses mmap returned to each process, most recent last (at most
    /// [`RECENT`] each): a process mostly touches its own mappings.
    returned: BTreeMap<Pid, Vec<u64>>,
    /// Every concrete call so far, with its outcome.
    log: Vec<(Pid, Call, Outcome)>,
}

impl System {
    fn new(profile: ProfileName) -> System {
        System {
            model: Model::new(profile),
            returned: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    /// Runs one concrete call and checks its postconditions.
    fn run(&mut self, pid: Pid, call: Call) -> Result<(), String> {
        let before = post::Before::capture(&self.model, pid, &call);
        let outcome = self.model.step(pid, &call).outcome;
        if let Outcome::Ok(Value::Addr(a)) = outcome {
            let mine = self.returned.entry(pid).or_default();
            if mine.len() == RECENT {
                mine.remove(0);
            }
            mine.push(a.0);
        }
        let result = post::after_call(&self.model, &before, pid, &call, &outcome);
        self.log.push((pid, call, outcome));
        result
    }

    /// Runs a generated step, resolving its address against what mmap
    /// returned to the caller (or, if nothing yet, to anyone).
    fn run_step(&mut self, step: &Step) -> Result<(), String> {
        let mine = self.returned.get(&step.pid).filter(|r| !r.is_empty());
        let anyone = self.returned.values().find(|r| !r.is_empty());
        let returned = mine.or(anyone).map_or(&[][..], |r| &r[..]);
        let call = step.resolve(self.model.profile().name, returned);
        self.run(step.pid, call)
    }

    /// The calls so far as JSON lines (pid, call, outcome): what a regression
    /// test replays.
    fn transcript(&self) -> String {
        self.log
            .iter()
            .map(|(pid, call, outcome)| {
                let json = serde_json::to_string(call).expect("calls serialize");
                format!("    ({}, r#\"{json}\"#), // {outcome}\n", pid.0)
            })
            .collect()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\nprofile {}; the calls so far:\n{}",
            self.model.profile().name,
            self.transcript()
        )
    }
}

/// Runs the generated sequences for profile `P` against the model.
pub struct ModelTest<P>(PhantomData<P>);

impl<P: ProfileType> StateMachineTest for ModelTest<P> {
    type SystemUnderTest = System;
    type Reference = Reference<P>;

    fn init_test(state: &RefState) -> System {
        System::new(state.profile)
    }

    fn apply(mut system: System, _after: &RefState, step: Step) -> System {
        if let Err(e) = system.run_step(&step) {
            system.fail(&e);
        }
        system
    }

    fn check_invariants(system: &System, state: &RefState) {
        if let Err(e) = post::always(&system.model, &state.live) {
            system.fail(&e);
        }
    }
}

/// 2,000 cases unless `PROPTEST_CASES` says otherwise; no regression files
/// (seeds do not survive changes to the generators; shrunk sequences are
/// kept as tests below instead).
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

prop_state_machine! {
    #![proptest_config(config())]

    /// Neutrino: random sequences keep every invariant and postcondition.
    #[test]
    fn neutrino_random_sequences(sequential 50..=80 => ModelTest<Neutrino>);

    /// QNX 4: random sequences keep every invariant and postcondition.
    #[test]
    fn qnx4_random_sequences(sequential 50..=80 => ModelTest<Qnx4>);

    /// Linux: random sequences keep every invariant and postcondition.
    #[test]
    fn linux_random_sequences(sequential 50..=80 => ModelTest<Linux>);
}

/// Replays a shrunk sequence (pid, call as JSON) with the same checks as the
/// property test, predicting live pids the same way.
pub fn replay(profile: ProfileName, calls: &[(u32, &str)]) {
    let mut system = System::new(profile);
    let mut live = RefState::new(profile);
    for (pid, json) in calls {
        let call: Call = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let step = Step {
            pid: Pid(*pid),
            call: call.clone(),
            at: None,
        };
        live = live.after(&step);
        if let Err(e) = system.run(Pid(*pid), call) {
            system.fail(&e);
        }
        if let Err(e) = post::always(&system.model, &live.live) {
            system.fail(&e);
        }
    }
}

/// The replay helper itself: a short sequence across two processes passes.
#[test]
fn replay_runs_a_sequence() {
    replay(
        ProfileName::Neutrino,
        &[
            (1, r#"{"call":"spawn"}"#),
            (
                2,
                r#"{"call":"mmap","addr":0,"len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_SHARED|MAP_ANON","fd":-1,"off":0}"#,
            ),
            (2, r#"{"call":"exit"}"#),
            (2, r#"{"call":"munlockall"}"#),
        ],
    );
}

/// How often each call succeeds, fails or faults in generated sequences
/// (`--nocapture` prints the table when tuning the generators), and that the
/// biases reach the interesting outcomes: every access outcome, and mmap's
/// success and its commonest refusals.
#[test]
fn outcome_mix() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest_state_machine::ReferenceStateMachine;
    use std::collections::BTreeMap;
    for profile in ProfileName::ALL {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut mix: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..200 {
            let strategy = match profile {
                ProfileName::Neutrino => Reference::<Neutrino>::sequential_strategy(50..=80).boxed(),
                ProfileName::Qnx4 => Reference::<Qnx4>::sequential_strategy(50..=80).boxed(),
                ProfileName::Linux => Reference::<Linux>::sequential_strategy(50..=80).boxed(),
            };
            let (_, steps, _) = strategy.new_tree(&mut runner).unwrap().current();
            let mut system = System::new(profile);
            for step in steps {
                let name = step.call.name();
                system.run_step(&step).unwrap();
                let (_, _, outcome) = system.log.last().unwrap();
                let kind = match outcome {
                    Outcome::Ok(_) => "ok".to_string(),
                    Outcome::Err(e) => e.to_string(),
                    Outcome::Fault(s) => s.to_string(),
                };
                *mix.entry(format!("{name:>10} {kind}")).or_default() += 1;
            }
        }
        println!("== {profile}");
        for (k, n) in &mix {
            println!("{k:24} {n}");
        }
        for wanted in [
            "load ok",
            "load SIGSEGV",
            "load SIGBUS",
            "store ok",
            "store SIGSEGV",
            "store SIGBUS",
            "mmap ok",
            "mmap EINVAL",
            "mmap EBADF",
            "mmap ENOMEM",
        ] {
            let (call, outcome) = wanted.split_once(' ').unwrap();
            let key = format!("{call:>10} {outcome}");
            assert!(
                mix.contains_key(&key),
                "{profile}: the generators never reach `{wanted}`"
            );
        }
    }
}

// Shrunk failures of the property tests, kept as regressions. Each names the
// bug it found; the calls are the shrunk sequence with its addresses resolved.

/// Splitting a region that maps an object (here munmap of its first page)
/// must count the second reference: the object was freed while still mapped.
#[test]
fn regression_split_of_a_shared_mapping_keeps_its_object() {
    replay(
        ProfileName::Qnx4,
        &[
            (1, r#"{"call":"spawn"}"#),
            (
                2,
                r#"{"call":"mmap","addr":268357632,"len":4097,"prot":"PROT_NONE","flags":"MAP_SHARED","fd":-1,"off":0}"#,
            ),
            (2, r#"{"call":"munmap","addr":268349440,"len":12288}"#),
        ],
    );
}

/// MAP_FIXED|MAP_STACK at an unaligned address returned the page start, not
/// the address (MAP_FIXED returns addr exactly; procnto keeps the sub-page
/// offset of fixed anonymous memory).
#[test]
fn regression_fixed_stack_returns_the_address_asked_for() {
    let private_none = |addr: u64, flags: &str| {
        format!(r#"{{"call":"mmap","addr":{addr},"len":4096,"prot":"PROT_NONE","flags":"{flags}","fd":-1,"off":0}}"#)
    };
    let calls = [
        private_none(268435457, "MAP_PRIVATE|MAP_FIXED|MAP_ANON"),
        private_none(0, "MAP_PRIVATE|MAP_ANON"),
        private_none(0, "MAP_PRIVATE"),
        private_none(268435457, "MAP_PRIVATE|MAP_FIXED|MAP_STACK|MAP_ANON"),
    ];
    let calls: Vec<(u32, &str)> = calls.iter().map(|c| (1, c.as_str())).collect();
    replay(ProfileName::Neutrino, &calls);
}

/// Linux: MAP_FIXED at address 0 made a region below the user range (the
/// kernel refuses it, vm.mmap_min_addr).
#[test]
fn regression_linux_fixed_mapping_at_zero_is_refused() {
    replay(
        ProfileName::Linux,
        &[(
            1,
            r#"{"call":"mmap","addr":0,"len":4096,"prot":"PROT_NONE","flags":"MAP_PRIVATE|MAP_FIXED|MAP_ANON","fd":-1,"off":0}"#,
        )],
    );
}

/// Neutrino: a MAP_LAZY shared anonymous terabyte charged its object without
/// checking system memory, leaving more committed than RAM.
#[test]
fn regression_lazy_shared_anonymous_terabyte_stays_within_ram() {
    replay(
        ProfileName::Neutrino,
        &[(
            1,
            r#"{"call":"mmap","addr":0,"len":1099511627776,"prot":"PROT_NONE","flags":"MAP_SHARED|MAP_LAZY|MAP_ANON","fd":-1,"off":0}"#,
        )],
    );
}

/// Linux: an unaligned hint over a taken range made placement return an
/// unaligned address (the search started from the raw hint).
#[test]
fn regression_linux_unaligned_hint_places_on_a_page() {
    replay(
        ProfileName::Linux,
        &[
            (
                1,
                r#"{"call":"mmap","addr":139637976748032,"len":4096,"prot":"PROT_NONE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0}"#,
            ),
            (
                1,
                r#"{"call":"mmap","addr":139637976743937,"len":4096,"prot":"PROT_NONE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0}"#,
            ),
        ],
    );
}

/// Physical memory mapped shared and private: a shared store may show
/// through the private mapping (POSIX leaves it unspecified); the test once
/// demanded that it must not.
#[test]
fn regression_shared_store_through_a_private_mapping_of_physical_memory() {
    replay(
        ProfileName::Neutrino,
        &[
            (1, r#"{"call":"open","path":"/dev/mem","oflag":"O_RDWR"}"#),
            (
                1,
                r#"{"call":"mmap","addr":0,"len":4096,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_SHARED","fd":0,"off":0}"#,
            ),
            (
                1,
                r#"{"call":"mmap","addr":0,"len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE","fd":0,"off":0}"#,
            ),
            (1, r#"{"call":"store","addr":268435456,"data":"01"}"#),
        ],
    );
}
