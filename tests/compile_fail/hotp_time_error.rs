//! HOTP counters have no time: `Hotp::verify` cannot return a time error,
//! so matching one on its result does not compile.

use otpguard::{Algorithm, CheckError, Hotp, Secret, Window};

fn main() {
    let secret = Secret::from_bytes(&[7; 20]).unwrap();
    let hotp = Hotp::new(&secret, Algorithm::Sha1, 6).unwrap();
    if let Err(CheckError::Time(e)) = hotp.verify("123456", 0, Window::EXACT) {
        println!("{e}");
    }
}
