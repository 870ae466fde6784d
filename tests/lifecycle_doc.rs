//! Golden test: `docs/lifecycle.md` is exactly what the transition table
//! generates, so the auditors' page cannot drift from the code.

use std::path::Path;

#[test]
fn auditor_page_matches_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lifecycle.md");
    let generated = otpguard::lifecycle::rules::auditor_page();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        let first = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one file is a prefix of the other".to_owned(),
                |n| format!("first difference at line {}", n + 1),
            );
        panic!(
            "docs/lifecycle.md differs from what the transition table generates ({first}).\n\
             Regenerate it with: {}",
            otpguard::lifecycle::rules::REGENERATE
        );
    }
}

#[test]
fn page_lists_every_row_and_every_state() {
    let page = otpguard::lifecycle::rules::auditor_page();
    for row in otpguard::lifecycle::rules::TABLE {
        let cells = format!(
            "| {} | {} | {} | {} | {} |",
            row.from,
            row.event,
            row.actor,
            row.to,
            row.guard.description()
        );
        assert!(page.contains(&cells), "missing row {cells}");
    }
    for state in otpguard::lifecycle::State::ALL {
        assert!(page.contains(&format!("state \"{state}\" as")), "{state}");
    }
}
