//! Verification schemes shared by providers: the error type, and a static
//! secret header (Okta Event Hooks, Auth0 streams). Svix HMAC is in
//! [`svix`](crate::svix); HMAC-hex schemes (WorkOS, Logto) would sit here.

use http::HeaderMap;
use idsync_core::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    InvalidHeader(&'static str),
    #[error("webhook timestamp is outside the 300 s tolerance window")]
    TimestampOutOfWindow,
    #[error("no signature matches")]
    BadSignature,
    #[error("webhook secret is not a valid whsec_ secret")]
    BadSecret,
    #[error("the {0} header does not hold the configured secret")]
    WrongSecret(&'static str),
}

/// A header that must hold a configured secret exactly.
#[derive(Debug, Clone)]
pub struct SecretHeader {
    header: &'static str,
    /// SHA-256 of the secret: comparing digests in constant time hides the
    /// secret's length as well as its content.
    digest: [u8; 32],
}

impl SecretHeader {
    pub fn new(header: &'static str, secret: &Secret) -> Self {
        Self {
            header,
            digest: Sha256::digest(secret.expose().as_bytes()).into(),
        }
    }

    pub fn verify(&self, headers: &HeaderMap) -> Result<(), VerifyError> {
        let value = headers
            .get(self.header)
            .ok_or(VerifyError::MissingHeader(self.header))?;
        let digest: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        if bool::from(digest.ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(VerifyError::WrongSecret(self.header))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_must_hold_the_secret_exactly() {
        let check = SecretHeader::new("authorization", &Secret::new("s3cret-value"));
        let mut headers = HeaderMap::new();
        assert_eq!(
            check.verify(&headers),
            Err(VerifyError::MissingHeader("authorization"))
        );
        for wrong in ["s3cret-valu", "s3cret-value ", "S3CRET-VALUE", ""] {
            headers.insert("authorization", wrong.parse().unwrap());
            assert_eq!(
                check.verify(&headers),
                Err(VerifyError::WrongSecret("authorization")),
                "{wrong:?}"
            );
        }
        headers.insert("authorization", "s3cret-value".parse().unwrap());
        assert_eq!(check.verify(&headers), Ok(()));
    }
}
