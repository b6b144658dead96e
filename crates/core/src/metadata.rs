//! User metadata: a JSON object of the application's own, at most 16 KiB serialised.

use crate::error::{Error, Result};

/// Largest accepted user metadata, serialised.
pub const MAX_BYTES: usize = 16 * 1024;

/// Metadata given at sign-up: an object (absent or `null` is `{}`).
pub fn parse(metadata: Option<serde_json::Value>) -> Result<serde_json::Value> {
    match metadata {
        None | Some(serde_json::Value::Null) => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) => fits(v),
        Some(_) => Err(Error::invalid("metadata", "metadata must be a JSON object")),
    }
}

/// `patch` merged into `current` at top level; a `null` value removes its key.
pub fn merge(current: &serde_json::Value, patch: &serde_json::Value) -> Result<serde_json::Value> {
    let serde_json::Value::Object(patch) = patch else {
        return Err(Error::invalid("metadata", "metadata must be a JSON object"));
    };
    let mut merged = current.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(k);
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    fits(serde_json::Value::Object(merged))
}

fn fits(v: serde_json::Value) -> Result<serde_json::Value> {
    if v.to_string().len() > MAX_BYTES {
        return Err(Error::invalid(
            "metadata",
            "metadata must be at most 16 KiB",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_at_top_level_and_null_removes() {
        let merged = merge(&json!({"a": 1, "b": 2}), &json!({"b": null, "c": 3})).ok();
        assert_eq!(merged, Some(json!({"a": 1, "c": 3})));
        assert!(merge(&json!({}), &json!([1])).is_err());
        assert!(parse(Some(json!({"x": "y".repeat(MAX_BYTES)}))).is_err());
        assert_eq!(parse(None).ok(), Some(json!({})));
    }
}
