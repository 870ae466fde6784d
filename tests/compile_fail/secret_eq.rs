// A secret has no `PartialEq`: `==` would compare in variable time.
use otpguard::Secret;

fn main() {
    let a = Secret::from_bytes(b"12345678901234567890").unwrap();
    let b = Secret::from_bytes(b"12345678901234567890").unwrap();
    let _ = a == b;
}
