//! Reading JSON request bodies field by field, so each provider can answer
//! a bad field in its own error shape.

use serde_json::{Map, Value};

#[derive(Debug)]
pub(crate) enum BodyError {
    InvalidJson,
    NotAnObject,
}

/// A field had the wrong JSON type.
#[derive(Debug)]
pub(crate) struct WrongType {
    pub field: &'static str,
    pub expected: &'static str,
}

pub(crate) struct Body(Map<String, Value>);

impl Body {
    /// An empty body reads as `{}`.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(BodyError::NotAnObject),
            Err(_) => Err(BodyError::InvalidJson),
        }
    }

    /// Absent: `None`; `null`: `Some(None)`.
    pub(crate) fn string(&self, field: &'static str) -> Result<Option<Option<String>>, WrongType> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(WrongType {
                field,
                expected: "string",
            }),
        }
    }

    pub(crate) fn bool(&self, field: &'static str) -> Result<Option<bool>, WrongType> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(WrongType {
                field,
                expected: "boolean",
            }),
        }
    }

    pub(crate) fn strings(&self, field: &'static str) -> Result<Option<Vec<String>>, WrongType> {
        let wrong = WrongType {
            field,
            expected: "array of strings",
        };
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or(wrong),
            Some(_) => Err(wrong),
        }
    }

    /// Metadata objects: any JSON object; `null` clears to `{}`.
    pub(crate) fn object(&self, field: &'static str) -> Result<Option<Value>, WrongType> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Value::Object(Map::new()))),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(WrongType {
                field,
                expected: "object",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_by_type() {
        let body = Body::parse(br#"{"a":"x","b":null,"c":true,"d":["p","q"],"e":{}}"#).unwrap();
        assert_eq!(body.string("a").ok(), Some(Some(Some("x".into()))));
        assert_eq!(body.string("b").ok(), Some(Some(None)));
        assert_eq!(body.string("z").ok(), Some(None));
        assert!(body.string("c").is_err());
        assert_eq!(body.bool("c").ok(), Some(Some(true)));
        assert_eq!(body.strings("d").ok().flatten().map(|v| v.len()), Some(2));
        assert!(body.object("e").is_ok_and(|v| v.is_some()));
        assert!(matches!(Body::parse(b"[1]"), Err(BodyError::NotAnObject)));
        assert!(matches!(Body::parse(b"{"), Err(BodyError::InvalidJson)));
        assert!(Body::parse(b"").is_ok());
    }
}
