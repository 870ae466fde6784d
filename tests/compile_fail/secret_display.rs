// A secret has no `Display`: it cannot end up in a log line through `{}`.
use otpguard::Secret;

fn main() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    println!("{}", secret);
}
