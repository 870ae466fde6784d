// A secret does not implement `Serialize`, even with the `serde` feature on:
// writing it out takes an explicit, named opt-in.
use otpguard::Secret;

fn serializable<T: serde::Serialize>(_: &T) {}

fn main() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    serializable(&secret);
}
