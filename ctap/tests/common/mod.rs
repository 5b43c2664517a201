//! Client-side helpers for the flow tests: request builders, a PIN protocol client and
//! response checks that verify signatures independently with `p256`.
#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "test helper: failing loudly is the point"
)]

use ctap::cbor::{self, Value, int_map, map_get_int, map_get_text};
use ctap::crypto::{self, PinProtocol, SharedSecret};
use ctap::testing::{ManualClock, MemoryStore, ScriptedPrompt, seeded_rng};
use ctap::{Authenticator, Config};
use p256::ecdsa::signature::Verifier;
use rand_chacha::ChaCha20Rng;

pub type Auth = Authenticator<MemoryStore, ManualClock, ChaCha20Rng>;

pub fn t(s: &str) -> Value {
    Value::Text(s.into())
}
pub fn b(v: &[u8]) -> Value {
    Value::Bytes(v.to_vec())
}
pub fn i(v: i64) -> Value {
    Value::Integer(v.into())
}

pub struct Harness {
    pub auth: Auth,
    pub clock: ManualClock,
    pub prompt: ScriptedPrompt,
    rng: ChaCha20Rng,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(Config::default(), ScriptedPrompt::always_approve())
    }

    pub fn with(config: Config, prompt: ScriptedPrompt) -> Self {
        let clock = ManualClock::new();
        let auth =
            Authenticator::new(MemoryStore::new(), clock.clone(), seeded_rng(7), config).unwrap();
        Self {
            auth,
            clock,
            prompt,
            rng: seeded_rng(99),
        }
    }

    /// Sends a command; returns status and decoded body.
    pub fn call(&mut self, cmd: u8, params: Option<Value>) -> (u8, Option<Value>) {
        let mut msg = vec![cmd];
        if let Some(p) = params {
            msg.extend(cbor::encode(&p).unwrap());
        }
        let resp = self.auth.handle_with_prompt(&msg, &mut self.prompt);
        let status = resp[0];
        let body = (resp.len() > 1).then(|| cbor::decode(&resp[1..]).unwrap());
        (status, body)
    }

    pub fn ok(&mut self, cmd: u8, params: Option<Value>) -> Value {
        let (s, v) = self.call(cmd, params);
        assert_eq!(s, 0, "status {s:#x}");
        v.unwrap_or(Value::Null)
    }

    pub fn info(&mut self) -> Vec<(Value, Value)> {
        map(self.ok(0x04, None))
    }

    /// Platform half of a PIN/UV key agreement.
    pub fn key_agreement(&mut self, protocol: PinProtocol) -> (Value, SharedSecret) {
        let resp = self.ok(
            0x06,
            Some(int_map([
                (1, Some(i(protocol.number().into()))),
                (2, Some(i(2))),
            ])),
        );
        let cose = map_get_int(&map(resp), 1).unwrap().clone();
        let peer = crypto::parse_cose_p256(&cose).unwrap();
        let sk = p256::SecretKey::random(&mut self.rng);
        let z = crypto::ecdh(&sk, &peer);
        let mine = crypto::cose_p256(&crypto::sec1(&sk.public_key()), -25).unwrap();
        (mine, protocol.kdf(&z))
    }

    pub fn set_pin_status(&mut self, protocol: PinProtocol, pin: &str) -> u8 {
        let (ka, shared) = self.key_agreement(protocol);
        let mut padded = [0u8; 64];
        padded[..pin.len()].copy_from_slice(pin.as_bytes());
        let enc = shared.encrypt(&mut self.rng, &padded).unwrap();
        let auth = shared.authenticate(&[&enc]);
        self.call(
            0x06,
            Some(int_map([
                (1, Some(i(protocol.number().into()))),
                (2, Some(i(3))),
                (3, Some(ka)),
                (4, Some(b(&auth))),
                (5, Some(b(&enc))),
            ])),
        )
        .0
    }

    pub fn change_pin_status(&mut self, protocol: PinProtocol, old: &str, new: &str) -> u8 {
        let (ka, shared) = self.key_agreement(protocol);
        let mut padded = [0u8; 64];
        padded[..new.len()].copy_from_slice(new.as_bytes());
        let new_enc = shared.encrypt(&mut self.rng, &padded).unwrap();
        let hash_enc = shared
            .encrypt(&mut self.rng, &crypto::sha256(old.as_bytes())[..16])
            .unwrap();
        let auth = shared.authenticate(&[&new_enc, &hash_enc]);
        self.call(
            0x06,
            Some(int_map([
                (1, Some(i(protocol.number().into()))),
                (2, Some(i(4))),
                (3, Some(ka)),
                (4, Some(b(&auth))),
                (5, Some(b(&new_enc))),
                (6, Some(b(&hash_enc))),
            ])),
        )
        .0
    }

    /// getPinUvAuthTokenUsingPinWithPermissions; returns status and decrypted token.
    pub fn pin_token(
        &mut self,
        protocol: PinProtocol,
        pin: &str,
        permissions: u64,
        rp_id: Option<&str>,
    ) -> (u8, Option<Vec<u8>>) {
        self.token_with_pin(protocol, pin, 9, Some(permissions), rp_id)
    }

    /// A token from the legacy getPinToken (0x05, no permissions), as 2.1-PRE clients get one.
    #[allow(dead_code, reason = "not every test file uses it")]
    pub fn legacy_pin_token(&mut self, protocol: PinProtocol, pin: &str) -> (u8, Option<Vec<u8>>) {
        self.token_with_pin(protocol, pin, 5, None, None)
    }

    /// clientPIN subcommand `sub` (5: getPinToken, 9: …UsingPinWithPermissions) with the PIN.
    fn token_with_pin(
        &mut self,
        protocol: PinProtocol,
        pin: &str,
        sub: i64,
        permissions: Option<u64>,
        rp_id: Option<&str>,
    ) -> (u8, Option<Vec<u8>>) {
        let (ka, shared) = self.key_agreement(protocol);
        let hash_enc = shared
            .encrypt(&mut self.rng, &crypto::sha256(pin.as_bytes())[..16])
            .unwrap();
        let (s, v) = self.call(
            0x06,
            Some(int_map([
                (1, Some(i(protocol.number().into()))),
                (2, Some(i(sub))),
                (3, Some(ka)),
                (6, Some(b(&hash_enc))),
                (9, permissions.map(|p| i(p as i64))),
                (0x0A, rp_id.map(t)),
            ])),
        );
        let token = v.map(|v| {
            let enc = bytes(map_get_int(&map(v), 2).unwrap());
            shared.decrypt(&enc).unwrap().to_vec()
        });
        (s, token)
    }

    pub fn retries(&mut self) -> u64 {
        let v = self.ok(0x06, Some(int_map([(1, Some(i(2))), (2, Some(i(1)))])));
        uint(map_get_int(&map(v), 3).unwrap())
    }
}

pub fn map(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}
pub fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Bytes(b) => b.clone(),
        other => panic!("not bytes: {other:?}"),
    }
}
pub fn uint(v: &Value) -> u64 {
    match v {
        Value::Integer(i) => u64::try_from(*i).unwrap(),
        other => panic!("not int: {other:?}"),
    }
}
pub fn text_of(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => panic!("not text: {other:?}"),
    }
}

pub fn mc_params(rp: &str, user_id: &[u8], cdh: &[u8; 32]) -> Vec<(i64, Option<Value>)> {
    vec![
        (1, Some(b(cdh))),
        (
            2,
            Some(Value::Map(vec![
                (t("id"), t(rp)),
                (t("name"), t("Example")),
            ])),
        ),
        (
            3,
            Some(Value::Map(vec![
                (t("id"), b(user_id)),
                (t("name"), t("alice")),
                (t("displayName"), t("Alice A")),
            ])),
        ),
        (
            4,
            Some(Value::Array(vec![Value::Map(vec![
                (t("alg"), i(-7)),
                (t("type"), t("public-key")),
            ])])),
        ),
    ]
}

pub fn with(mut params: Vec<(i64, Option<Value>)>, key: i64, value: Value) -> Value {
    params.retain(|(k, _)| *k != key);
    params.push((key, Some(value)));
    int_map(params)
}

pub fn options(pairs: &[(&str, bool)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (t(k), Value::Bool(*v))).collect())
}

pub fn allow(ids: &[&[u8]]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| Value::Map(vec![(t("id"), b(id)), (t("type"), t("public-key"))]))
            .collect(),
    )
}

/// Parsed authenticatorData.
#[derive(Debug)]
pub struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub aaguid: Option<[u8; 16]>,
    pub credential_id: Option<Vec<u8>>,
    pub public_key: Option<p256::ecdsa::VerifyingKey>,
    pub extensions: Option<Value>,
}

pub fn parse_auth_data(ad: &[u8]) -> AuthData {
    let rp_id_hash: [u8; 32] = ad[..32].try_into().unwrap();
    let flags = ad[32];
    let sign_count = u32::from_be_bytes(ad[33..37].try_into().unwrap());
    let mut rest = &ad[37..];
    let (mut aaguid, mut credential_id, mut public_key) = (None, None, None);
    if flags & 0x40 != 0 {
        aaguid = Some(rest[..16].try_into().unwrap());
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        credential_id = Some(rest[18..18 + len].to_vec());
        let (cose, tail) = cbor::decode_prefix(&rest[18 + len..]).unwrap();
        let m = map(cose);
        assert_eq!(uint(map_get_int(&m, 1).unwrap()), 2, "kty EC2");
        assert_eq!(map_get_int(&m, 3), Some(&i(-7)), "alg ES256");
        assert_eq!(map_get_int(&m, -1), Some(&i(1)), "crv P-256");
        let x = bytes(map_get_int(&m, -2).unwrap());
        let y = bytes(map_get_int(&m, -3).unwrap());
        let sec1 = [&[4u8][..], &x, &y].concat();
        public_key = Some(p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap());
        rest = tail;
    }
    let extensions = if flags & 0x80 != 0 {
        let (ext, tail) = cbor::decode_prefix(rest).unwrap();
        rest = tail;
        Some(ext)
    } else {
        None
    };
    assert!(rest.is_empty(), "trailing bytes in authData");
    AuthData {
        rp_id_hash,
        flags,
        sign_count,
        aaguid,
        credential_id,
        public_key,
        extensions,
    }
}

/// A created credential: id and public key.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: Vec<u8>,
    pub key: p256::ecdsa::VerifyingKey,
    pub auth_data: Vec<u8>,
    pub response: Vec<(Value, Value)>,
}

pub fn created(resp: Value) -> Created {
    let m = map(resp);
    assert_eq!(text_of(map_get_int(&m, 1).unwrap()), "none");
    let ad = bytes(map_get_int(&m, 2).unwrap());
    let parsed = parse_auth_data(&ad);
    Created {
        id: parsed.credential_id.unwrap(),
        key: parsed.public_key.unwrap(),
        auth_data: ad,
        response: m,
    }
}

/// Checks an assertion's signature and returns its parsed authData and the response map.
pub fn verify_assertion(
    resp: Value,
    key: &p256::ecdsa::VerifyingKey,
    cdh: &[u8; 32],
) -> (AuthData, Vec<(Value, Value)>) {
    let m = map(resp);
    let ad = bytes(map_get_int(&m, 2).unwrap());
    let sig = p256::ecdsa::Signature::from_der(&bytes(map_get_int(&m, 3).unwrap())).unwrap();
    key.verify(&[ad.as_slice(), cdh].concat(), &sig)
        .expect("signature verifies");
    (parse_auth_data(&ad), m)
}

pub fn assertion_cred_id(m: &[(Value, Value)]) -> Vec<u8> {
    let cred = map(map_get_int(m, 1).unwrap().clone());
    bytes(map_get_text(&cred, "id").unwrap())
}

pub fn ga_params(rp: &str, cdh: &[u8; 32]) -> Vec<(i64, Option<Value>)> {
    vec![(1, Some(t(rp))), (2, Some(b(cdh)))]
}
