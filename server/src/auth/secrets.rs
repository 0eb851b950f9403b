//! Secrets: argon2id password hashes, generated passwords, API tokens.
//!
//! Password verification is deliberately slow (argon2id, 19 MiB, 2 passes: OWASP's
//! minimum) and runs on the blocking pool; the verified-credentials cache
//! (`super::cache`) keeps it off the per-request path. Tokens carry 128 random bits and
//! are checked against a SHA-256 (fast, and enough for a random secret).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// Random bytes from the OS.
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The PHC string of `password` (argon2id, random salt).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random::<16>()).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

/// Whether `password` matches a stored PHC string (false for a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A generated password: 128 random bits, 32 hex characters.
pub fn generate_password() -> String {
    hex(&random::<16>())
}

/// A new token: `(id, secret, the full token string)`; the string is `trk_<id>_<secret>`.
pub fn generate_token() -> (String, String, String) {
    let id = hex(&random::<8>());
    let secret = hex(&random::<16>());
    let token = format!("trk_{id}_{secret}");
    (id, secret, token)
}

/// Splits a token string into `(id, secret)`.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("trk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && !secret.is_empty()).then_some((id, secret))
}

/// SHA-256 of a token secret (what the store keeps).
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equality of digests in time independent of where they differ.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct hors", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(hash_password("correct horse"), hash, "salted");
    }

    #[test]
    fn tokens_split_and_digest() {
        let (id, secret, token) = generate_token();
        assert_eq!(split_token(&token), Some((id.as_str(), secret.as_str())));
        assert_eq!(secret.len(), 32, "128 bits");
        assert!(digests_equal(
            &secret_digest(&secret),
            &secret_digest(&secret)
        ));
        assert!(!digests_equal(
            &secret_digest(&secret),
            &secret_digest("other")
        ));
        assert_eq!(split_token("trk_short_x"), None);
        assert_eq!(split_token("bearer"), None);
        assert_ne!(generate_password(), generate_password());
    }
}
