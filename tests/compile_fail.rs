//! Misuse that must not compile: a `Secret` printed, compared or
//! serialized, a replay token id swapped with the code, a lifecycle proof
//! forged, a time error looked for in an HOTP result. Each file in
//! `tests/compile_fail/` tries one misuse and must fail to compile, with the
//! error recorded next to it (`.stderr`).

#[test]
fn misuse_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile_fail/secret_display.rs");
    cases.compile_fail("tests/compile_fail/secret_eq.rs");
    cases.compile_fail("tests/compile_fail/replay_key_swapped.rs");
    cases.compile_fail("tests/compile_fail/lifecycle_authorized_forged.rs");
    cases.compile_fail("tests/compile_fail/hotp_time_error.rs");
    // Without the feature there is no serde at all; with it, `Secret` must
    // still not implement `Serialize`.
    if cfg!(feature = "serde") {
        cases.compile_fail("tests/compile_fail/secret_serialize.rs");
    }
}
