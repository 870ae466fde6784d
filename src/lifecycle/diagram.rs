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
/// let page = otpguard::lifecycle::rules::auditor_page();
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
        "- The lock-out maximum is configurable from 1 to {} consecutive wrong\n  codes (default {}); a swap stays pending {} seconds and a provisioned\n  secret {} seconds by default.\n",
        LifecycleConfig::MAX_FAILURES_LIMIT,
        LifecycleConfig::DEFAULT_MAX_FAILURES,
        LifecycleConfig::DEFAULT_SWAP_TIMEOUT,
        LifecycleConfig::DEFAULT_ENROLLMENT_TIMEOUT
    ));
    out.push_str(&format!(
        "- A token's window is centred on its recorded drift, kept within a\n  configurable bound (default {}, at most {} steps either way); `Resync`\n  looks for two consecutive codes within {} steps by default.\n- Throttling (off by default; presets `nist_800_63b`, `psd2_rts`): after\n  wrong codes, the token's codes are held back, refused unread and\n  uncounted, until a delay has passed; waiting keeps the count, which only\n  an accepted code, a new token or an operator's `Resume` resets. The\n  lock-out stays the last line.\n- Audit records carry a notice for what the customer must be told: a\n  token bound, a swap completed, a lock-out, a reissue, the last temporary\n  block before a permanent one.\n- Stored state is authenticated (sealed stores, such as `PostgresStore`):\n  each record carries a MAC over every field that decides an answer, bound\n  to the customer, and a record changed, stripped of its MAC, restored\n  from an older copy of itself or deleted outside the library is refused\n  as `Corrupt` on load, audited by the System, and nothing is accepted\n  from it. Each audit row is linked to the one before it by a MAC (a keyed\n  chain per customer); a verification reports the first row deleted,\n  edited, moved or inserted, and checkpoints of the chain's head kept\n  outside the database reveal a restore of the whole database.\n",
        LifecycleConfig::DEFAULT_MAX_DRIFT,
        LifecycleConfig::MAX_DRIFT_LIMIT,
        LifecycleConfig::DEFAULT_RESYNC_WINDOW
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
- Each event is one atomic commit: the new record and the event's audit
  records are written together or not at all, on the version the decision
  was taken on; a commit that loses to a concurrent one is decided again.
  What a caller is told was committed.
- A refused event leaves the record unchanged, with one designed exception:
  a wrong code (of the current token, a signature, or a new token's first
  code) is counted, and when the count reaches the maximum the System
  suspends the token (`Suspend(TooManyFailures)`, a row of the table) in the
  same commit.
- Every customer step that can leave the customer less protected (login
  OTP off, a token removed or replaced, a pending swap dropped) proves the
  current token with its code; a swap's new secret is fixed by `BeginSwap`
  under that code, and nothing replaces it during the swap.
- Single use lives in the record: each token keeps the last time step it
  accepted, and a code is accepted only for a strictly greater step. A code
  for a step already accepted (a double submit, a replay) is refused and
  audited as a replay; it is not counted and changes nothing.
- A login is decided beside the table, and only there: while the
  customer's login OTP is off it asks for no code, changes nothing and is
  audited as such (`LoginOtpOff`); while it is on, its code is the table's
  `VerifyLogin`. A login is the customer's; any other actor is refused.
- A token is known by a random id bound to its record, never by its serial.
- Only `Active` and `Swapping` accept a code of the current token. While
  `Swapping`, the old token keeps working until the new one is registered,
  and never after.
- A pending swap past its deadline is timed out by the first event that
  touches the record (`SwapTimeout` by the System, audited); no sweeper is
  needed.
- `Provision` creates a random secret that waits for its first code until
  the enrollment deadline; `Register` binds it (or a secret provisioned
  elsewhere) with that code. `BeginSwap` fixes the swap's new secret
  (generated, or given from the bank's inventory) and `CompleteSwap` binds
  it with its code.
- A token's window follows its phone's clock: the configured window around
  where its accepted codes put the clock, widened (by at most 4 steps) to
  where the clock can have drifted since, within the drift bound.
- A retired token (stopped, swapped out or reissued) has its secret wiped;
  its serial and a keyed fingerprint of its secret are remembered, so
  neither can ever be registered on the record again. A new secret equal to
  the current one is refused as well.
- Every event, accepted or refused, yields an audit record (time, customer,
  principal, request context, token, event, from, to, outcome, reason,
  version), committed with it, that never contains a secret or a code.
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
