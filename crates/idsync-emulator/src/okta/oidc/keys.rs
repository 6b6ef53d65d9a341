//! The org authorization server's signing key: RSA 2048, made when the
//! issuer first needs it (so emulators that never sign anyone in never pay
//! for it), published at `/oauth2/v1/keys`, used for RS256 ID tokens, and
//! to check the ID tokens handed back to `/oauth2/v1/logout`.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

pub(crate) struct SigningKey {
    pair: KeyPair,
    public: PublicKeyComponents<Vec<u8>>,
    kid: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("could not make an RSA signing key")]
    Generate,
    #[error("could not sign with the RSA key")]
    Sign,
}

impl SigningKey {
    pub(crate) fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        // Okta's key ids are 43 base64url characters; the RFC 7638
        // thumbprint has that form and names this key alone.
        let thumbprint_input = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&public.e),
            URL_SAFE_NO_PAD.encode(&public.n)
        );
        let kid = URL_SAFE_NO_PAD.encode(digest(&SHA256, thumbprint_input.as_bytes()));
        Ok(Self { pair, public, kid })
    }

    /// The key as `/oauth2/v1/keys` lists it.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "kid": self.kid,
            "use": "sig",
            "e": URL_SAFE_NO_PAD.encode(&self.public.e),
            "n": URL_SAFE_NO_PAD.encode(&self.public.n),
        })
    }

    /// `claims` as a compact JWS (RFC 7515 §7.1): RS256, header
    /// `{"kid", "alg"}` as Okta writes it.
    pub(crate) fn sign_jwt(&self, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let header = json!({ "kid": self.kid, "alg": "RS256" });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The claims of a JWT this key signed (RS256, this `kid`), or `None`
    /// for anything else. Expiry is the caller's business.
    pub(crate) fn verified_claims(&self, jwt: &str) -> Option<Map<String, Value>> {
        let mut parts = jwt.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
        let header: Value = serde_json::from_slice(&decode(header)?).ok()?;
        if header["alg"] != "RS256" || header["kid"] != self.kid.as_str() {
            return None;
        }
        let signed = &jwt[..jwt.len() - signature.len() - 1];
        self.public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &decode(signature)?,
            )
            .ok()?;
        match serde_json::from_slice(&decode(payload)?).ok()? {
            Value::Object(claims) => Some(claims),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_checks_its_own_tokens_only() {
        let key = SigningKey::generate().unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("00u1"));
        let jwt = key.sign_jwt(&claims).unwrap();
        assert_eq!(key.verified_claims(&jwt), Some(claims));

        let other = SigningKey::generate().unwrap();
        assert!(other.verified_claims(&jwt).is_none(), "another key's token");
        let parts: Vec<&str> = jwt.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"00u2"}"#);
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert!(key.verified_claims(&tampered).is_none());
        assert!(key.verified_claims("a.b").is_none());
        assert_eq!(key.kid.len(), 43);
        assert_eq!(key.jwk()["kid"], key.kid.as_str());
    }
}
