//! Svix verification: the published test vector, rotation, window edges,
//! tampering. Signatures are made with the `svix` crate.

use http::HeaderMap;
use idsync_core::Secret;
use idsync_providers::svix::{Verifier, VerifyError};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const TS: i64 = 1_649_367_553;
const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("svix-id", id.parse().unwrap());
    h.insert("svix-timestamp", ts.to_string().parse().unwrap());
    h.insert("svix-signature", sig.parse().unwrap());
    h
}

fn sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    svix::webhooks::Webhook::new(secret)
        .unwrap()
        .sign(id, ts, body.as_bytes())
        .unwrap()
}

fn verifier(secret: &str) -> Verifier {
    Verifier::new(&Secret::new(secret)).unwrap()
}

#[test]
fn published_test_vector_verifies() {
    let sig = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    let meta = verifier(SECRET)
        .verify_at(&headers(ID, TS, sig), BODY.as_bytes(), TS)
        .unwrap();
    assert_eq!(meta.message_id, ID);
    assert_eq!(meta.timestamp, TS);
    assert_eq!(
        sign(SECRET, ID, TS, BODY),
        sig,
        "svix crate agrees with the vector"
    );
}

#[test]
fn any_of_several_signatures_passes_for_rotation() {
    let old = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID, TS, BODY);
    let new = sign(SECRET, ID, TS, BODY);
    let v = verifier(SECRET);
    for header in [
        format!("{old} {new}"),
        format!("{new} {old}"),
        format!("v2,abc {new}"),
    ] {
        v.verify_at(&headers(ID, TS, &header), BODY.as_bytes(), TS)
            .unwrap();
    }
    assert_eq!(
        v.verify_at(&headers(ID, TS, &old), BODY.as_bytes(), TS),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn timestamp_window_is_300_seconds_each_way() {
    let v = verifier(SECRET);
    let sig = sign(SECRET, ID, TS, BODY);
    let h = headers(ID, TS, &sig);
    for now in [TS - 300, TS, TS + 300] {
        assert!(
            v.verify_at(&h, BODY.as_bytes(), now).is_ok(),
            "now = ts{:+}",
            now - TS
        );
    }
    for now in [TS - 301, TS + 301] {
        assert_eq!(
            v.verify_at(&h, BODY.as_bytes(), now),
            Err(VerifyError::TimestampOutOfWindow),
            "now = ts{:+}",
            now - TS
        );
    }
}

#[test]
fn tampered_body_id_or_timestamp_fails() {
    let v = verifier(SECRET);
    let sig = sign(SECRET, ID, TS, BODY);
    let tampered = BODY.replace("test_user", "admin");
    assert_eq!(
        v.verify_at(&headers(ID, TS, &sig), tampered.as_bytes(), TS),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        v.verify_at(&headers("msg_other", TS, &sig), BODY.as_bytes(), TS),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        v.verify_at(&headers(ID, TS + 1, &sig), BODY.as_bytes(), TS),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn missing_headers_are_named() {
    let v = verifier(SECRET);
    let mut h = headers(ID, TS, &sign(SECRET, ID, TS, BODY));
    h.remove("svix-signature");
    assert_eq!(
        v.verify_at(&h, BODY.as_bytes(), TS),
        Err(VerifyError::MissingHeader("svix-signature"))
    );
    let mut h = headers(ID, TS, "v1,x");
    h.remove("svix-id");
    assert_eq!(
        v.verify_at(&h, BODY.as_bytes(), TS),
        Err(VerifyError::MissingHeader("svix-id"))
    );
}

#[test]
fn unbranded_webhook_headers_are_accepted() {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", ID.parse().unwrap());
    h.insert("webhook-timestamp", TS.to_string().parse().unwrap());
    h.insert(
        "webhook-signature",
        sign(SECRET, ID, TS, BODY).parse().unwrap(),
    );
    verifier(SECRET).verify_at(&h, BODY.as_bytes(), TS).unwrap();
}
