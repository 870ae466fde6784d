//! Looking for secrets where they must not be: in stored bytes, a database
//! dump, a log.

/// The encodings a leaked secret would show up in: raw, hex (both cases),
/// unpadded base32 (both cases), unpadded base64 (standard and URL-safe).
pub fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let b32 = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret);
    vec![
        secret.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        b32.clone().into_bytes(),
        b32.to_lowercase().into_bytes(),
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
    ]
}

/// Whether `needle` stands anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
