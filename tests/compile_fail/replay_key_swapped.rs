// The token id and the code are both text; the token id is a `ReplayKey`,
// so passing the code where the token id goes (or a bare string) does not
// compile.
use otpguard::replay::MemoryGuard;
use otpguard::{Secret, Totp, Window};

fn main() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let totp = Totp::builder(&secret).build().unwrap();
    let guard = MemoryGuard::default();
    let _ = totp.verify_once("token-1", 59, Window::default(), &guard, "287082");
}
