//! [`SessionData`]: the application's part of a session, a JSON object kept as its text.
//!
//! The edge never looks inside the data: it opens it from the cookie, hands it to the
//! origin in the `Edge-Session` assertion, and takes a new one from the origin's
//! `Edge-Session-Set`. Keeping the text (a `serde_json` `RawValue`) instead of a
//! `Map` means that opening a session checks the JSON once and builds no tree, and
//! minting the assertion copies the text instead of cloning and re-serializing a map.
//!
//! # Invariants
//! - The text is one JSON object: checked by every constructor and by deserialization.
//! - [`SessionData::from_map`] (what the origin and the CLI send) writes compact JSON
//!   with keys in sorted order, as the session format always had. Data read back from a
//!   cookie or a token is kept exactly as it was written there.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The empty object.
const EMPTY: &str = "{}";

/// The application's session data: a JSON object, kept as compact text (no text at
/// all for the empty object).
///
/// Compares by text; `Debug` shows the JSON (it is the application's data, not a secret
/// of the edge, but it may be personal: do not log it carelessly).
#[derive(Clone, Default)]
pub struct SessionData(Option<Box<RawValue>>);

/// The text given to [`SessionData::from_json`] is not one JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnObject(String);

impl fmt::Display for NotAnObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session data must be one JSON object: {}", self.0)
    }
}

impl std::error::Error for NotAnObject {}

impl SessionData {
    /// No data: `{}`.
    pub fn empty() -> SessionData {
        SessionData::default()
    }

    /// The data of a map, as compact JSON with sorted keys.
    #[cold] // only when the origin sets a session: built for size
    pub fn from_map(map: &Map<String, Value>) -> SessionData {
        if map.is_empty() {
            return SessionData::empty();
        }
        // Always Ok: a map's keys are strings, and a `Value` holds no number that
        // JSON cannot write.
        SessionData(serde_json::value::to_raw_value(map).ok())
    }

    /// Parses `text`, which must be one JSON object, and writes it as
    /// [`SessionData::from_map`] does.
    ///
    /// # Errors
    /// [`NotAnObject`] naming what is wrong (never quoting the text).
    pub fn from_json(text: &str) -> Result<SessionData, NotAnObject> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(SessionData::from_map(&map)),
            Ok(other) => Err(NotAnObject(format!("got {}", kind(&other)))),
            Err(e) => Err(NotAnObject(format!(
                "not JSON ({:?} at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))),
        }
    }

    /// The JSON text of the object.
    pub fn as_json(&self) -> &str {
        self.0.as_deref().map_or(EMPTY, RawValue::get)
    }

    /// The data as a map (parses the text).
    #[cold] // only when the origin sets a session: built for size
    pub fn to_map(&self) -> Map<String, Value> {
        // The text is an object (invariant), so this parse does not fail.
        serde_json::from_str(self.as_json()).unwrap_or_default()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        let inner = self.as_json().strip_prefix('{').and_then(|t| t.strip_suffix('}'));
        inner.is_some_and(|t| t.trim_matches([' ', '\t', '\n', '\r']).is_empty())
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl PartialEq for SessionData {
    fn eq(&self, other: &SessionData) -> bool {
        self.as_json() == other.as_json()
    }
}

impl Eq for SessionData {}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_json())
    }
}

impl From<Map<String, Value>> for SessionData {
    fn from(map: Map<String, Value>) -> SessionData {
        SessionData::from_map(&map)
    }
}

impl Serialize for SessionData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(raw) => raw.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

impl<'de> Deserialize<'de> for SessionData {
    /// Checks the JSON (as any parse does) and that it is an object, and keeps its text.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SessionData, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if !raw.get().starts_with('{') {
            return Err(serde::de::Error::custom("session data must be a JSON object"));
        }
        Ok(SessionData(Some(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn from_map_and_from_json_write_compact_sorted_json() {
        let Value::Object(map) = json!({"z": 1, "a": {"y": [1, 2], "b": null}}) else {
            unreachable!()
        };
        let data = SessionData::from_map(&map);
        assert_eq!(data.as_json(), r#"{"a":{"b":null,"y":[1,2]},"z":1}"#);
        assert_eq!(data.to_map(), map);
        let parsed = SessionData::from_json(" {\"z\": 1,\n \"a\": {\"y\": [1, 2], \"b\": null}} ");
        assert_eq!(parsed, Ok(data));
        assert_eq!(SessionData::empty().as_json(), "{}");
        assert_eq!(serde_json::to_string(&SessionData::empty()).unwrap(), "{}");
        assert_eq!(SessionData::from_map(&Map::new()), SessionData::empty());
        assert!(SessionData::empty().is_empty() && SessionData::from_map(&Map::new()).is_empty());
        assert!(!SessionData::from_json(r#"{"a":1}"#).unwrap().is_empty());
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn only_objects_are_accepted_and_errors_never_quote_the_text() {
        for (text, says) in [
            ("[1]", "got an array"),
            ("\"secret\"", "got a string"),
            ("null", "got null"),
            ("7", "got a number"),
            ("{\"secret\": ", "not JSON (Eof at line 1 column 11)"),
            ("{\"a\":1} {}", "not JSON (Syntax at line 1 column 9)"),
        ] {
            let err = SessionData::from_json(text).unwrap_err().to_string();
            assert_eq!(err, format!("session data must be one JSON object: {says}"));
            assert!(!err.contains("secret"));
        }
    }

    /// Deserialization keeps the text as written, checks the JSON, and refuses
    /// anything but an object.
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn deserializes_objects_only_and_round_trips_the_text() {
        #[derive(Deserialize, Serialize)]
        struct Outer {
            d: SessionData,
        }
        let text = r#"{"d":{"b":1,"a":"x\u00e9"}}"#;
        let outer: Outer = serde_json::from_str(text).unwrap();
        assert_eq!(outer.d.as_json(), r#"{"b":1,"a":"x\u00e9"}"#);
        assert_eq!(serde_json::to_string(&outer).unwrap(), text);
        for bad in
            [r#"{"d":[1]}"#, r#"{"d":"x"}"#, r#"{"d":1}"#, r#"{"d":{"a":}}"#, r#"{"d":{"a":1}"#]
        {
            assert!(serde_json::from_str::<Outer>(bad).is_err(), "{bad}");
        }
    }
}
