//! Renders the auditors' page, `docs/lifecycle.md`, from the transition
//! table: a Markdown table of every row and a Mermaid state diagram.

use super::table::{NEVER, TABLE};
use super::{LifecycleConfig, State};

/// The command that rewrites `docs/lifecycle.md` from the table.
pub const REGENERATE: &str = "UPDATE_GOLDEN=1 cargo test --test lifecycle_doc";

/// The auditors' page, generated from [`TABLE`] and [`NEVER`]. The golden
/// test `tests/lifecycle_doc.rs` fails if `docs/lifecycle.md` differs.
///
/// ```
/// let page = otpguard::lifecycle::auditor_page();
/// assert!(page.contains("stateDiagram-v2"));
/// assert!(page.contains("| Suspended(LostDevice) | Resume |"));
/// ```
#[must_use]
pub fn auditor_page() -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "<!-- Generated from the transition table in src/lifecycle/table.rs. Do not edit by hand: run `{REGENERATE}`. -->\n\n"
    ));
    out.push_str(INTRO);
    out.push_str(&format!(
        "- The lock-out maximum is configurable from 1 to {} consecutive wrong\n  codes (default {}); a swap stays pending {} seconds by default.\n",
        LifecycleConfig::MAX_FAILURES_LIMIT,
        LifecycleConfig::DEFAULT_MAX_FAILURES,
        LifecycleConfig::DEFAULT_SWAP_TIMEOUT
    ));

    out.push_str(
        "\n## States\n\n| state | a code can authorise | holds a token |\n|---|---|---|\n",
    );
    for state in State::ALL {
        out.push_str(&format!(
            "| {state} | {} | {} |\n",
            yes_no(state.accepts_codes()),
            yes_no(state.has_token())
        ));
    }

    out.push_str(&format!(
        "\n## Transitions\n\nThe {} permitted transitions. Anything else is refused.\n\n",
        TABLE.len()
    ));
    out.push_str(
        "| # | from | event | actor | to | guard | effect |\n|---|---|---|---|---|---|---|\n",
    );
    for (n, row) in (1u32..).zip(TABLE.iter()) {
        out.push_str(&format!(
            "| {n} | {} | {} | {} | {} | {} | {} |\n",
            row.from,
            row.event,
            row.actor,
            row.to,
            row.guard.description(),
            row.effect.description()
        ));
    }

    out.push_str("\n## Never permitted\n\nAbsent from the table on purpose; the refusal names the reason.\n\n| state | event | why |\n|---|---|---|\n");
    for (state, event, why) in NEVER {
        out.push_str(&format!("| {state} | {event} | {why} |\n"));
    }

    out.push_str("\n## Diagram\n\nSelf-loops (code checks that change no state) are left out.\n\n```mermaid\nstateDiagram-v2\n");
    for state in State::ALL {
        out.push_str(&format!("    state \"{state}\" as {}\n", node(state)));
    }
    out.push_str(&format!("    [*] --> {}\n", node(State::Unregistered)));
    let mut edges: Vec<(State, State, Vec<String>)> = Vec::new();
    for row in TABLE.iter().filter(|r| r.from != r.to) {
        let label = format!("{} ({})", row.event, row.actor);
        match edges
            .iter_mut()
            .find(|(from, to, _)| *from == row.from && *to == row.to)
        {
            Some((_, _, labels)) => labels.push(label),
            None => edges.push((row.from, row.to, vec![label])),
        }
    }
    for (from, to, labels) in edges {
        out.push_str(&format!(
            "    {} --> {}: {}\n",
            node(from),
            node(to),
            labels.join(", ")
        ));
    }
    out.push_str("```\n");
    out
}

const INTRO: &str = "# Token lifecycle

The states, events and rules of a customer's software token, as the code
applies them. Every event names its actor: the **Customer** (through internet
banking), an **Operator** of the bank, or the **System** itself.

- An event is accepted only if the table below has a row for the record's
  state, the event and the actor, and the row's guard holds. Anything else is
  refused with an error naming the state, the event and the actor.
- A refused event leaves the record unchanged, with one designed exception:
  a wrong code of the current token is counted (failures and version go up),
  and when the count reaches the maximum the System suspends the token
  (`Suspend(TooManyFailures)`, a row of the table).
- Every accepted event increases the record's version by one; the backend
  saves the record with compare-and-swap on it.
- Only `Active` and `Swapping` accept a code. While `Swapping`, the old token
  keeps working until the new one is registered, and never after.
- A retired token (stopped, swapped out or reissued) has its secret wiped and
  its serial remembered: it can never be registered on the record again.
- Every event, accepted or refused, yields an audit record (time, serial,
  actor, event, from, to, outcome, reason, version) that never contains a
  secret or a code.
";

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn node(state: State) -> String {
    state.to_string().replace(['(', ')'], "")
}
