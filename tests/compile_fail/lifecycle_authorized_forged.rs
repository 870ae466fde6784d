// The proof that a code authorised a committed event is built only by the
// lifecycle: its fields are private.
fn main() {
    let _forged = otpguard::lifecycle::Authorized {
        event: otpguard::lifecycle::rules::EventKind::VerifyTransaction,
        claimed: otpguard::lifecycle::Claimed::TotpStep(1),
        drift: 0,
        version: 1,
    };
}
