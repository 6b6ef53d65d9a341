//! What Postgres can store, decided once for every value that comes from
//! outside (design rule 7, "no poison deliveries").
//!
//! A correctly signed delivery that Postgres refuses fails the same way on
//! every retry, so the provider retries it for days and then disables the
//! endpoint. Each field is therefore either cleaned or refused here, before
//! it reaches the database:
//!
//! | field | Postgres refuses | idsync |
//! |---|---|---|
//! | text (name, email, event type, error text) | U+0000 | replaced with U+FFFD |
//! | JSON (`raw_json`, cursors) | U+0000 in a string or key (jsonb) | replaced with U+FFFD |
//! | version (`updated_at`) | a time before 4714-11-24 BC | refused: [`crate::Version`] cannot hold it |
//! | `created_at` | the same | stored as NULL (informational) |
//! | event type | nothing but U+0000 | also cut to [`EventType::MAX_LEN`] bytes |
//! | message id | over ~2.7 kB (btree key), U+0000 | refused: [`MessageId`] |
//! | user id | the same | refused: [`crate::UserId`] |

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

const NUL: char = '\0';
const REPLACEMENT: &str = "\u{FFFD}";

/// Postgres's earliest `timestamptz`, 4714-11-24 00:00:00 BC (Julian day
/// 0), in Unix seconds. Its latest, 294276 AD, lies beyond what chrono can
/// represent, so only this end needs a check.
const PG_MIN_UNIX_SECONDS: i64 = -210_866_803_200;

/// `at`, if Postgres can store it as a `timestamptz`.
pub fn storable_time(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (at.timestamp() >= PG_MIN_UNIX_SECONDS).then_some(at)
}

/// The earliest time Postgres can store.
pub(crate) fn earliest_storable_time() -> DateTime<Utc> {
    DateTime::from_timestamp(PG_MIN_UNIX_SECONDS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `s` with every U+0000 replaced by U+FFFD (Postgres `text` cannot hold
/// U+0000). Borrowed when there is none, which is nearly always.
pub fn storable_text(s: &str) -> Cow<'_, str> {
    if s.contains(NUL) {
        Cow::Owned(s.replace(NUL, REPLACEMENT))
    } else {
        Cow::Borrowed(s)
    }
}

/// `v` with U+0000 replaced by U+FFFD in every string and key (`jsonb`
/// refuses `\u0000`). Borrowed when there is none.
pub fn storable_json(v: &Value) -> Cow<'_, Value> {
    if has_nul(v) {
        let mut v = v.clone();
        scrub(&mut v);
        Cow::Owned(v)
    } else {
        Cow::Borrowed(v)
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(NUL),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(NUL) || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => {
            if s.contains(NUL) {
                *s = s.replace(NUL, REPLACEMENT);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    scrub(&mut v);
                    (k.replace(NUL, REPLACEMENT), v)
                })
                .collect();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Why a value from outside can never be stored, however often it is sent
/// again. The webhook handler answers these with a 4xx (422) and the
/// reason, instead of a 5xx the provider would retry forever.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("the message id is empty")]
    EmptyMessageId,
    #[error("the message id is {len} bytes long; at most {max} are accepted", max = MessageId::MAX_LEN)]
    MessageIdTooLong { len: usize },
    #[error("the message id contains a control character (such as U+0000)")]
    MessageIdControlChar,
    #[error("the user id is missing or empty")]
    EmptyUserId,
    #[error("the user id is {len} bytes long; at most {max} are accepted", max = crate::UserId::MAX_LEN)]
    UserIdTooLong { len: usize },
    #[error("the user id contains a control character (such as U+0000)")]
    UserIdControlChar,
    #[error("{field} {at} is before the earliest time Postgres can store (4714-11-24 BC)")]
    TimeOutOfRange { field: &'static str, at: String },
}

impl InvalidInput {
    /// A stable, short name of the reason, for metric labels and JSON
    /// bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyMessageId => "message_id_empty",
            Self::MessageIdTooLong { .. } => "message_id_too_long",
            Self::MessageIdControlChar => "message_id_control_char",
            Self::EmptyUserId => "user_id_empty",
            Self::UserIdTooLong { .. } => "user_id_too_long",
            Self::UserIdControlChar => "user_id_control_char",
            Self::TimeOutOfRange { .. } => "time_out_of_range",
        }
    }
}

/// A delivery's id as the provider sent it (`svix-id`, an Okta event
/// uuid): the key that makes a redelivery a no-op. 1 to 255 bytes without
/// control characters, so it fits the delivery log's btree key and `text`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    pub const MAX_LEN: usize = 255;

    /// Refuses an id that is empty, longer than [`Self::MAX_LEN`] bytes or
    /// holds a control character. Such an id is never cleaned instead:
    /// two different ids could then become one, and the second message
    /// would be dropped as a duplicate.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        if raw.is_empty() {
            Err(InvalidInput::EmptyMessageId)
        } else if raw.len() > Self::MAX_LEN {
            Err(InvalidInput::MessageIdTooLong { len: raw.len() })
        } else if raw.chars().any(char::is_control) {
            Err(InvalidInput::MessageIdControlChar)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// A short, storable rendering of any id, valid or not, for error logs:
    /// control characters escaped, cut to 64 characters with the full
    /// length noted.
    pub fn describe(raw: &str) -> String {
        const SHOWN: usize = 64;
        let escaped: String = raw.chars().flat_map(char::escape_debug).collect();
        if escaped.chars().count() <= SHOWN {
            escaped
        } else {
            let head: String = escaped.chars().take(SHOWN).collect();
            format!("{head}… ({} bytes)", raw.len())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A delivery's event type as logged: informational only, so it is cleaned
/// rather than refused (U+0000 replaced, cut to [`Self::MAX_LEN`] bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

impl EventType {
    pub const MAX_LEN: usize = 255;

    /// Whether [`new`](Self::new) changes `raw`.
    pub fn is_cleaned(raw: &str) -> bool {
        raw.len() > Self::MAX_LEN || raw.contains(NUL)
    }

    pub fn new(raw: &str) -> Self {
        let clean = storable_text(raw);
        let mut end = clean.len().min(Self::MAX_LEN);
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        Self(clean[..end].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_replaced_in_strings_keys_and_nested_values() {
        let v = json!({"name": "A\u{0}B", "k\u{0}": [1, {"x": "\u{0}"}], "ok": true});
        assert_eq!(
            storable_json(&v).into_owned(),
            json!({"name": "A\u{FFFD}B", "k\u{FFFD}": [1, {"x": "\u{FFFD}"}], "ok": true})
        );
        assert_eq!(storable_text("a\u{0}"), "a\u{FFFD}");
    }

    #[test]
    fn clean_values_are_borrowed_unchanged() {
        let v = json!({"name": "Ada Lovelace", "emails": ["ada@example.com"]});
        assert!(matches!(storable_json(&v), Cow::Borrowed(b) if *b == v));
        assert!(matches!(storable_text("Ada"), Cow::Borrowed("Ada")));
    }

    #[test]
    fn times_before_julian_day_zero_are_not_storable() {
        let first = earliest_storable_time();
        assert_eq!(first.to_rfc3339(), "-4713-11-24T00:00:00+00:00");
        assert_eq!(storable_time(first), Some(first));
        let before = first - chrono::TimeDelta::microseconds(1);
        assert_eq!(storable_time(before), None);
        let measured = DateTime::from_timestamp_millis(-8_000_000_000_000_000).unwrap();
        assert_eq!(storable_time(measured), None);
        assert_eq!(
            storable_time(DateTime::<Utc>::MAX_UTC),
            Some(DateTime::<Utc>::MAX_UTC)
        );
    }

    #[test]
    fn message_ids_are_bounded_and_never_cleaned() {
        assert_eq!(
            MessageId::parse("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")
                .unwrap()
                .as_str(),
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"
        );
        assert!(MessageId::parse(&"a".repeat(255)).is_ok());
        assert_eq!(
            MessageId::parse(&"a".repeat(3000)),
            Err(InvalidInput::MessageIdTooLong { len: 3000 })
        );
        assert_eq!(MessageId::parse(""), Err(InvalidInput::EmptyMessageId));
        assert_eq!(
            MessageId::parse("msg\u{0}"),
            Err(InvalidInput::MessageIdControlChar)
        );
        assert_eq!(
            MessageId::parse("msg\n1"),
            Err(InvalidInput::MessageIdControlChar)
        );
    }

    #[test]
    fn described_ids_are_short_and_nul_free() {
        assert_eq!(MessageId::describe("msg_1"), "msg_1");
        assert_eq!(MessageId::describe("a\u{0}b"), "a\\0b");
        let long = MessageId::describe(&"x".repeat(3000));
        assert_eq!(long, format!("{}… (3000 bytes)", "x".repeat(64)));
    }

    #[test]
    fn event_types_are_cleaned_and_cut_on_a_char_boundary() {
        assert_eq!(
            EventType::new("user.updated\u{0}").as_str(),
            "user.updated\u{FFFD}"
        );
        let long = EventType::new(&"é".repeat(200));
        assert_eq!(long.as_str(), "é".repeat(127));
        assert_eq!(EventType::new("user.created").as_str(), "user.created");
    }
}
