//! Canonical CTAP2 CBOR over `ciborium`.
//!
//! CTAP2 (§8 "Message Encoding") requires the canonical form: integers in their shortest form,
//! definite lengths, and map keys sorted by major type, then encoded length, then bytes. Peers
//! check it: Google Play services drops a hybrid tunnel on an out-of-order map. `ciborium`
//! already writes shortest integers and definite lengths; [`encode`] adds the key order, so no
//! caller has to remember it.
//!
//! Decoding is lenient about order (as authenticators in the field are) but strict about
//! everything that could hurt: nesting depth is bounded, trailing bytes are an error, and tags
//! are refused (CTAP2's canonical form has none, and `ciborium` reads a bignum tag over an
//! indefinite-length string as a tag but over a definite one as an integer, so a tagged value
//! would not survive a round trip: the fuzzer's `forward_prepare` found it).

use std::cmp::Ordering;

pub use ciborium::value::Value;

/// Deepest nesting accepted from a peer. CTAP2 messages nest at most a handful of levels
/// (request map → extension map → hmac-secret map → COSE key); 16 leaves room and keeps a
/// hostile input far from the stack limit.
pub const MAX_DEPTH: usize = 16;

/// Why CBOR could not be read or written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CborError {
    /// The bytes are not well-formed CBOR (truncated, bad header, nesting too deep, ...).
    #[error("malformed CBOR")]
    Malformed,
    /// One complete item was read but bytes remain after it.
    #[error("{0} trailing byte(s) after the CBOR item")]
    Trailing(usize),
    /// The value cannot be encoded (only possible for values built by hand, e.g. tags).
    #[error("CBOR value cannot be encoded")]
    Unencodable,
    /// A tag (CTAP2 messages have none).
    #[error("CBOR tags are not allowed in CTAP messages")]
    Tagged,
}

/// Whether `value` holds a tag anywhere.
fn has_tag(value: &Value) -> bool {
    match value {
        Value::Tag(..) => true,
        Value::Array(items) => items.iter().any(has_tag),
        Value::Map(entries) => entries.iter().any(|(k, v)| has_tag(k) || has_tag(v)),
        _ => false,
    }
}

/// Encodes `value` canonically (maps sorted recursively).
///
/// # Errors
/// [`CborError::Tagged`] for a tag, [`CborError::Unencodable`] if `ciborium` refuses the
/// value.
pub fn encode(value: &Value) -> Result<Vec<u8>, CborError> {
    if has_tag(value) {
        return Err(CborError::Tagged);
    }
    let canonical = canonicalize(value.clone());
    encode_raw(&canonical)
}

/// Encodes `value` exactly as given, without reordering. For tests that build non-canonical
/// input on purpose.
///
/// # Errors
/// [`CborError::Unencodable`] if `ciborium` refuses the value.
pub fn encode_raw(value: &Value) -> Result<Vec<u8>, CborError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|_| CborError::Unencodable)?;
    Ok(out)
}

/// Decodes exactly one CBOR item that must fill `bytes`.
///
/// # Errors
/// [`CborError::Malformed`] for bad or too-deep input, [`CborError::Trailing`] when bytes remain,
/// [`CborError::Tagged`] for a tag.
pub fn decode(bytes: &[u8]) -> Result<Value, CborError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|_| CborError::Malformed)?;
    if has_tag(&value) {
        return Err(CborError::Tagged);
    }
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(CborError::Trailing(rest.len()))
    }
}

/// Decodes one CBOR item from the front of `bytes` and returns it with the unread rest.
///
/// # Errors
/// [`CborError::Malformed`] for bad or too-deep input, [`CborError::Tagged`] for a tag.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, &[u8]), CborError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|_| CborError::Malformed)?;
    if has_tag(&value) {
        return Err(CborError::Tagged);
    }
    Ok((value, rest))
}

/// Sorts every map inside `value` into CTAP2 canonical key order.
pub fn canonicalize(value: Value) -> Value {
    match value {
        Value::Map(entries) => {
            let mut keyed: Vec<(Vec<u8>, Value, Value)> = entries
                .into_iter()
                .map(|(k, v)| {
                    let k = canonicalize(k);
                    // A key that cannot be encoded sorts last; encode() then reports it.
                    let bytes = encode_raw(&k).unwrap_or_else(|_| vec![0xff]);
                    (bytes, k, canonicalize(v))
                })
                .collect();
            keyed.sort_by(|a, b| canonical_key_order(&a.0, &b.0));
            Value::Map(keyed.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        Value::Tag(tag, inner) => Value::Tag(tag, Box::new(canonicalize(*inner))),
        other => other,
    }
}

/// CTAP2 canonical order of two encoded keys: major type, then length, then bytes.
fn canonical_key_order(a: &[u8], b: &[u8]) -> Ordering {
    let major = |bytes: &[u8]| bytes.first().map_or(u8::MAX, |b| b >> 5);
    major(a)
        .cmp(&major(b))
        .then(a.len().cmp(&b.len()))
        .then_with(|| a.cmp(b))
}

/// Builds an integer-keyed map from `(key, value)` pairs, skipping `None` values. Keeps request
/// and response builders short: optional members are simply `Option`s.
pub fn int_map<I>(entries: I) -> Value
where
    I: IntoIterator<Item = (i64, Option<Value>)>,
{
    Value::Map(
        entries
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (Value::Integer(k.into()), v)))
            .collect(),
    )
}

/// Looks up an integer key in a map's entries.
pub fn map_get_int(entries: &[(Value, Value)], key: i64) -> Option<&Value> {
    entries.iter().find_map(|(k, v)| match k {
        Value::Integer(i) if i128::from(*i) == i128::from(key) => Some(v),
        _ => None,
    })
}

/// Looks up a text key in a map's entries.
pub fn map_get_text<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries.iter().find_map(|(k, v)| match k {
        Value::Text(t) if t == key => Some(v),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// The `forward_prepare` fuzzer's find: a bignum tag over an indefinite-length byte string
    /// decodes as a tag, its re-encoding as an integer, so the output was not canonical.
    #[test]
    fn tags_are_refused_both_ways() {
        // {0: 3(h'')} with the byte string in indefinite form: a1 00 c3 5f ff.
        assert_eq!(
            decode(&[0xa1, 0x00, 0xc3, 0x5f, 0xff]),
            Err(CborError::Tagged)
        );
        assert_eq!(
            decode_prefix(&[0xc1, 0x00, 0x00]).map(|_| ()),
            Err(CborError::Tagged)
        );
        let tagged = Value::Array(vec![Value::Tag(1, Box::new(Value::Integer(0.into())))]);
        assert_eq!(encode(&tagged), Err(CborError::Tagged));
        // A bignum that ciborium turns into a plain integer is just that integer.
        assert_eq!(decode(&[0xc3, 0x40]), Ok(Value::Integer((-1).into())));
    }

    #[test]
    fn sorts_keys_by_major_type_then_length_then_bytes() {
        let value = Value::Map(vec![
            (text("type"), text("public-key")),
            (text("alg"), Value::Integer((-7).into())),
            (Value::Integer(1000.into()), Value::Null),
            (Value::Integer((-1).into()), Value::Null),
            (Value::Integer(2.into()), Value::Null),
        ]);
        let bytes = encode(&value).unwrap();
        let Value::Map(entries) = decode(&bytes).unwrap() else {
            panic!("not a map")
        };
        let keys: Vec<String> = entries.iter().map(|(k, _)| format!("{k:?}")).collect();
        assert_eq!(
            keys,
            [
                "Integer(Integer(2))",
                "Integer(Integer(1000))",
                "Integer(Integer(-1))",
                "Text(\"alg\")",
                "Text(\"type\")"
            ]
        );
    }

    #[test]
    fn shortest_integer_form() {
        assert_eq!(encode(&Value::Integer(23.into())).unwrap(), [0x17]);
        assert_eq!(encode(&Value::Integer(24.into())).unwrap(), [0x18, 0x18]);
        assert_eq!(
            encode(&Value::Integer(256.into())).unwrap(),
            [0x19, 0x01, 0x00]
        );
        assert_eq!(encode(&Value::Integer((-7).into())).unwrap(), [0x26]);
    }

    #[test]
    fn rejects_trailing_bytes_and_truncation() {
        assert_eq!(decode(&[0x01, 0x02]), Err(CborError::Trailing(1)));
        assert_eq!(decode(&[0x43, 0x01]), Err(CborError::Malformed));
        assert_eq!(decode(&[]), Err(CborError::Malformed));
    }

    #[test]
    fn rejects_nesting_beyond_limit() {
        let mut bytes = vec![0x81; MAX_DEPTH + 4];
        bytes.push(0x00);
        assert_eq!(decode(&bytes), Err(CborError::Malformed));
        let ok = [0x81, 0x81, 0x00];
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn int_map_skips_absent_members() {
        let v = int_map([(1, Some(Value::Bool(true))), (2, None)]);
        assert_eq!(encode(&v).unwrap(), [0xa1, 0x01, 0xf5]);
    }
}
