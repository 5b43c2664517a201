//! Preparing a browser's CTAP request for a phone (the bridge's "use my phone"): phones'
//! parsers are stricter than a USB key's. Without I/O; the result is canonical CBOR (Google
//! Play services drops the tunnel on out-of-order maps, `docs/hybrid.md` pitfall 4).
//!
//! * makeCredential: Chrome's phone requires `rp.name`, `user.name` and `user.displayName`
//!   (`docs/hybrid.md` pitfall 10), which WebAuthn lets a browser leave out: they are filled
//!   in from the IDs the request does carry.
//! * Credential descriptors in `excludeList`/`allowList` lose their `transports`: a browser
//!   that talks to a "USB key" lists `usb` there, and the phone's own credentials would not be
//!   offered for a transport the phone is not.
//! * PIN/UV auth parameters go (makeCredential keys 8, 9; getAssertion keys 6, 7): they are
//!   bound to the bridge's PIN token, which the phone never saw, and phones verify the user
//!   themselves (pitfall 3).

use ctap::cbor::{self, Value, map_get_text};
use ctap::types::command::{GET_ASSERTION, MAKE_CREDENTIAL};

use crate::error::{Error, ForwardProblem};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn int_key(value: &Value) -> Option<i128> {
    match value {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

fn set(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    entries.retain(|(k, _)| !matches!(k, Value::Text(t) if t == key));
    entries.push((text(key), value));
}

/// Drops `transports` from every descriptor in a list (other members are kept).
fn strip_transports(list: &mut Value) -> Result<(), ForwardProblem> {
    let Value::Array(descriptors) = list else {
        return Err(ForwardProblem::BadField("credential list"));
    };
    for descriptor in descriptors {
        let Value::Map(entries) = descriptor else {
            return Err(ForwardProblem::BadField("credential descriptor"));
        };
        entries.retain(|(k, _)| !matches!(k, Value::Text(t) if t == "transports"));
    }
    Ok(())
}

/// Fills the names Chrome's phone requires from the IDs the request carries.
fn complete_entities(entries: &mut [(Value, Value)]) -> Result<(), ForwardProblem> {
    for (key, value) in entries.iter_mut() {
        match (int_key(key), value) {
            (Some(2), Value::Map(rp)) => {
                let Some(Value::Text(id)) = map_get_text(rp, "id").cloned() else {
                    return Err(ForwardProblem::BadField("rp.id"));
                };
                if !matches!(map_get_text(rp, "name"), Some(Value::Text(_))) {
                    set(rp, "name", Value::Text(id));
                }
            }
            (Some(3), Value::Map(user)) => {
                if !matches!(map_get_text(user, "id"), Some(Value::Bytes(_))) {
                    return Err(ForwardProblem::BadField("user.id"));
                }
                let name = match map_get_text(user, "name") {
                    Some(Value::Text(name)) => name.clone(),
                    _ => String::new(),
                };
                if !matches!(map_get_text(user, "name"), Some(Value::Text(_))) {
                    set(user, "name", text(&name));
                }
                if !matches!(map_get_text(user, "displayName"), Some(Value::Text(_))) {
                    set(user, "displayName", Value::Text(name));
                }
            }
            (Some(2 | 3), _) => return Err(ForwardProblem::BadField("rp or user")),
            _ => {}
        }
    }
    Ok(())
}

/// Rewrites `request` (command byte, then CBOR) for a phone.
///
/// # Errors
/// [`ForwardProblem`]: not makeCredential/getAssertion, malformed CBOR, or a field of the
/// wrong type.
pub fn request_for_phone(request: &[u8]) -> Result<Vec<u8>, Error> {
    let (&command, body) = request
        .split_first()
        .ok_or(ForwardProblem::NotForwardable)?;
    if command != MAKE_CREDENTIAL && command != GET_ASSERTION {
        return Err(ForwardProblem::NotForwardable.into());
    }
    let Ok(Value::Map(mut entries)) = cbor::decode(body) else {
        return Err(ForwardProblem::Malformed.into());
    };
    // pinUvAuthParam and pinUvAuthProtocol, and the list of credential descriptors.
    let (pin_keys, list_key) = if command == MAKE_CREDENTIAL {
        ([8, 9], 5)
    } else {
        ([6, 7], 3)
    };
    entries.retain(|(k, _)| !int_key(k).is_some_and(|k| pin_keys.contains(&k)));
    for (key, value) in &mut entries {
        if int_key(key) == Some(list_key) {
            strip_transports(value)?;
        }
    }
    if command == MAKE_CREDENTIAL {
        complete_entities(&mut entries)?;
    }
    let body = cbor::encode(&Value::Map(entries)).map_err(|_| ForwardProblem::Malformed)?;
    Ok([vec![command], body].concat())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
mod tests {
    use super::*;
    use ctap::cbor::int_map;

    /// Found by the `forward_prepare` fuzzer: a makeCredential whose map holds a bignum tag
    /// over an indefinite-length byte string came out re-encoded but not canonical. Tags are
    /// now refused on the way in.
    #[test]
    fn a_tagged_request_is_refused() {
        let request = [
            0x01, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 0x00, 0x11, 0x02, 0xc3, 0x5f,
            0xff, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x3b, 0x01, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
        ];
        assert!(request_for_phone(&request).is_err());
    }

    fn descriptor(id: u8) -> Value {
        Value::Map(vec![
            (text("type"), text("public-key")),
            (text("id"), Value::Bytes(vec![id; 16])),
            (text("transports"), Value::Array(vec![text("usb")])),
        ])
    }

    fn body(request: &[u8]) -> Vec<(Value, Value)> {
        match cbor::decode(&request[1..]).unwrap() {
            Value::Map(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn get_assertion_loses_transports_and_pin_params_only() {
        let request = int_map([
            (1, Some(text("example.com"))),
            (2, Some(Value::Bytes(vec![7; 32]))),
            (3, Some(Value::Array(vec![descriptor(1), descriptor(2)]))),
            (5, Some(Value::Map(vec![(text("up"), Value::Bool(true))]))),
            (6, Some(Value::Bytes(vec![0; 16]))),
            (7, Some(Value::Integer(2.into()))),
        ]);
        let input = [vec![GET_ASSERTION], cbor::encode(&request).unwrap()].concat();
        let out = request_for_phone(&input).unwrap();
        assert_eq!(out[0], GET_ASSERTION);
        let m = body(&out);
        assert_eq!(m.len(), 4, "rpId, clientDataHash, allowList, options");
        assert!(cbor::map_get_int(&m, 5).is_some());
        let Some(Value::Array(list)) = cbor::map_get_int(&m, 3) else {
            panic!()
        };
        for d in list {
            let Value::Map(d) = d else { panic!() };
            assert!(map_get_text(d, "transports").is_none());
            assert!(map_get_text(d, "id").is_some() && map_get_text(d, "type").is_some());
        }
        // Canonical: re-encoding changes nothing.
        assert_eq!(
            cbor::encode(&cbor::decode(&out[1..]).unwrap()).unwrap(),
            out[1..]
        );
    }

    #[test]
    fn make_credential_gets_the_names_a_phone_requires() {
        let request = int_map([
            (1, Some(Value::Bytes(vec![7; 32]))),
            (2, Some(Value::Map(vec![(text("id"), text("example.com"))]))),
            (
                3,
                Some(Value::Map(vec![
                    (text("id"), Value::Bytes(vec![1])),
                    (text("name"), text("alice")),
                ])),
            ),
            (4, Some(Value::Array(vec![]))),
            (5, Some(Value::Array(vec![descriptor(3)]))),
        ]);
        let input = [vec![MAKE_CREDENTIAL], cbor::encode(&request).unwrap()].concat();
        let m = body(&request_for_phone(&input).unwrap());
        let Some(Value::Map(rp)) = cbor::map_get_int(&m, 2) else {
            panic!()
        };
        assert_eq!(map_get_text(rp, "name"), Some(&text("example.com")));
        let Some(Value::Map(user)) = cbor::map_get_int(&m, 3) else {
            panic!()
        };
        assert_eq!(map_get_text(user, "name"), Some(&text("alice")));
        assert_eq!(map_get_text(user, "displayName"), Some(&text("alice")));
        let Some(Value::Array(list)) = cbor::map_get_int(&m, 5) else {
            panic!()
        };
        let Value::Map(d) = &list[0] else { panic!() };
        assert!(map_get_text(d, "transports").is_none());
    }

    #[test]
    fn bad_requests_are_named() {
        let problem = |input: &[u8]| match request_for_phone(input) {
            Err(Error::Forward(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem(&[]), ForwardProblem::NotForwardable);
        assert_eq!(problem(&[0x04]), ForwardProblem::NotForwardable);
        assert_eq!(problem(&[0x02, 0xff]), ForwardProblem::Malformed);
        assert_eq!(problem(&[0x02, 0x01]), ForwardProblem::Malformed);
        let no_rp_id = int_map([(2, Some(Value::Map(vec![])))]);
        let input = [vec![MAKE_CREDENTIAL], cbor::encode(&no_rp_id).unwrap()].concat();
        assert_eq!(problem(&input), ForwardProblem::BadField("rp.id"));
        let bad_list = int_map([(3, Some(Value::Integer(1.into())))]);
        let input = [vec![GET_ASSERTION], cbor::encode(&bad_list).unwrap()].concat();
        assert_eq!(problem(&input), ForwardProblem::BadField("credential list"));
    }
}
