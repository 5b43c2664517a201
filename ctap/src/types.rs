//! Typed CTAP 2.1 requests (CTAP 2.1 §6) parsed from canonical CBOR.
//!
//! Parsing is strict about types and lenient about unknown members: a missing required member
//! is `CTAP2_ERR_MISSING_PARAMETER`, a member of the wrong CBOR type is
//! `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`, bytes that are not CBOR are `CTAP2_ERR_INVALID_CBOR`, an
//! unknown command byte is `CTAP1_ERR_INVALID_COMMAND`. Unknown map keys, options and
//! extensions are ignored, as the spec requires.

use crate::cbor::{self, Value, map_get_int, map_get_text};
use crate::error::StatusCode;

/// Command bytes (CTAP 2.1 §6).
pub mod command {
    /// authenticatorMakeCredential.
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    /// authenticatorGetAssertion.
    pub const GET_ASSERTION: u8 = 0x02;
    /// authenticatorGetInfo.
    pub const GET_INFO: u8 = 0x04;
    /// authenticatorClientPIN.
    pub const CLIENT_PIN: u8 = 0x06;
    /// authenticatorReset.
    pub const RESET: u8 = 0x07;
    /// authenticatorGetNextAssertion.
    pub const GET_NEXT_ASSERTION: u8 = 0x08;
    /// authenticatorCredentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u8 = 0x0A;
    /// authenticatorSelection.
    pub const SELECTION: u8 = 0x0B;
    /// authenticatorCredentialManagement, FIDO_2_1_PRE prototype byte.
    pub const CREDENTIAL_MANAGEMENT_PRE: u8 = 0x41;
}

/// Authenticator-data flag bits (WebAuthn §6.1 "Authenticator Data").
pub mod flags {
    /// UP: the user was present.
    pub const UP: u8 = 0x01;
    /// UV: the user was verified.
    pub const UV: u8 = 0x04;
    /// BE: the credential may be backed up.
    pub const BE: u8 = 0x08;
    /// BS: the credential is backed up.
    pub const BS: u8 = 0x10;
    /// AT: attested credential data follows.
    pub const AT: u8 = 0x40;
    /// ED: extension data follows.
    pub const ED: u8 = 0x80;
}

type Map = [(Value, Value)];

fn as_map(v: &Value) -> Result<&Map, StatusCode> {
    match v {
        Value::Map(m) => Ok(m),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn bytes(v: &Value) -> Result<Vec<u8>, StatusCode> {
    match v {
        Value::Bytes(b) => Ok(b.clone()),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn text(v: &Value) -> Result<String, StatusCode> {
    match v {
        Value::Text(t) => Ok(t.clone()),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn uint(v: &Value) -> Result<u64, StatusCode> {
    match v {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| StatusCode::CborUnexpectedType),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn int(v: &Value) -> Result<i64, StatusCode> {
    match v {
        Value::Integer(i) => i64::try_from(*i).map_err(|_| StatusCode::CborUnexpectedType),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn boolean(v: &Value) -> Result<bool, StatusCode> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn array(v: &Value) -> Result<&[Value], StatusCode> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(StatusCode::CborUnexpectedType),
    }
}

fn required(v: Option<&Value>) -> Result<&Value, StatusCode> {
    v.ok_or(StatusCode::MissingParameter)
}

fn optional<T>(
    v: Option<&Value>,
    f: impl FnOnce(&Value) -> Result<T, StatusCode>,
) -> Result<Option<T>, StatusCode> {
    v.map(f).transpose()
}

/// PublicKeyCredentialRpEntity (WebAuthn §5.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpEntity {
    /// RP ID.
    pub id: String,
    /// RP name.
    pub name: Option<String>,
}

impl RpEntity {
    fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        Ok(Self {
            id: text(required(map_get_text(m, "id"))?)?,
            name: optional(map_get_text(m, "name"), text)?,
        })
    }
}

/// PublicKeyCredentialUserEntity (WebAuthn §5.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntity {
    /// User handle.
    pub id: Vec<u8>,
    /// User name.
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

impl UserEntity {
    fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let id = bytes(required(map_get_text(m, "id"))?)?;
        if id.len() > 64 {
            return Err(StatusCode::InvalidLength);
        }
        Ok(Self {
            id,
            name: optional(map_get_text(m, "name"), text)?,
            display_name: optional(map_get_text(m, "displayName"), text)?,
        })
    }

    /// CBOR form; `full` adds name and displayName.
    pub fn to_value(&self, full: bool) -> Value {
        let mut entries = vec![(Value::Text("id".into()), Value::Bytes(self.id.clone()))];
        if full {
            if let Some(n) = &self.name {
                entries.push((Value::Text("name".into()), Value::Text(n.clone())));
            }
            if let Some(d) = &self.display_name {
                entries.push((Value::Text("displayName".into()), Value::Text(d.clone())));
            }
        }
        Value::Map(entries)
    }
}

/// PublicKeyCredentialDescriptor (WebAuthn §5.10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialDescriptor {
    /// Credential type; only "public-key" is meaningful.
    pub kind: String,
    /// Credential ID.
    pub id: Vec<u8>,
}

impl CredentialDescriptor {
    fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        Ok(Self {
            kind: text(required(map_get_text(m, "type"))?)?,
            id: bytes(required(map_get_text(m, "id"))?)?,
        })
    }

    fn parse_list(v: &Value) -> Result<Vec<Self>, StatusCode> {
        array(v)?.iter().map(Self::parse).collect()
    }

    /// CBOR form `{"id": .., "type": "public-key"}`.
    pub fn public_key(id: &[u8]) -> Value {
        Value::Map(vec![
            (Value::Text("id".into()), Value::Bytes(id.to_vec())),
            (Value::Text("type".into()), Value::Text("public-key".into())),
        ])
    }
}

/// Options map ("rk", "up", "uv"); unknown options are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Resident key.
    pub rk: Option<bool>,
    /// User presence.
    pub up: Option<bool>,
    /// User verification.
    pub uv: Option<bool>,
}

impl Options {
    fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let mut o = Self::default();
        for (k, val) in m {
            let Value::Text(k) = k else { continue };
            match k.as_str() {
                "rk" => o.rk = Some(boolean(val)?),
                "up" => o.up = Some(boolean(val)?),
                "uv" => o.uv = Some(boolean(val)?),
                _ => {}
            }
        }
        Ok(o)
    }
}

/// authenticatorMakeCredential request (CTAP 2.1 §6.1).
#[derive(Debug, Clone, PartialEq)]
pub struct MakeCredentialRequest {
    /// 0x01 clientDataHash.
    pub client_data_hash: Vec<u8>,
    /// 0x02 rp.
    pub rp: RpEntity,
    /// 0x03 user.
    pub user: UserEntity,
    /// 0x04 pubKeyCredParams as (type, alg).
    pub pub_key_cred_params: Vec<(String, i64)>,
    /// 0x05 excludeList.
    pub exclude_list: Vec<CredentialDescriptor>,
    /// 0x06 extensions: credProtect.
    pub cred_protect: Option<u64>,
    /// 0x06 extensions: hmac-secret.
    pub hmac_secret: bool,
    /// 0x07 options.
    pub options: Options,
    /// 0x08 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x09 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x0A enterpriseAttestation.
    pub enterprise_attestation: Option<u64>,
}

impl MakeCredentialRequest {
    /// Parses the parameter map.
    ///
    /// # Errors
    /// The CTAP status code for the first problem found.
    pub fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let client_data_hash = bytes(required(map_get_int(m, 1))?)?;
        let rp = RpEntity::parse(required(map_get_int(m, 2))?)?;
        let user = UserEntity::parse(required(map_get_int(m, 3))?)?;
        let params = array(required(map_get_int(m, 4))?)?;
        let mut pub_key_cred_params = Vec::with_capacity(params.len());
        for p in params {
            let pm = as_map(p)?;
            let kind = text(required(map_get_text(pm, "type"))?)?;
            let alg = int(required(map_get_text(pm, "alg"))?)?;
            pub_key_cred_params.push((kind, alg));
        }
        let exclude_list =
            optional(map_get_int(m, 5), CredentialDescriptor::parse_list)?.unwrap_or_default();
        let (mut cred_protect, mut hmac_secret) = (None, false);
        if let Some(ext) = map_get_int(m, 6) {
            let em = as_map(ext)?;
            cred_protect = optional(map_get_text(em, "credProtect"), uint)?;
            hmac_secret = optional(map_get_text(em, "hmac-secret"), boolean)?.unwrap_or(false);
        }
        Ok(Self {
            client_data_hash,
            rp,
            user,
            pub_key_cred_params,
            exclude_list,
            cred_protect,
            hmac_secret,
            options: optional(map_get_int(m, 7), Options::parse)?.unwrap_or_default(),
            pin_uv_auth_param: optional(map_get_int(m, 8), bytes)?,
            pin_uv_auth_protocol: optional(map_get_int(m, 9), uint)?,
            enterprise_attestation: optional(map_get_int(m, 0x0A), uint)?,
        })
    }
}

/// hmac-secret getAssertion input (CTAP 2.1 §12.5).
#[derive(Debug, Clone, PartialEq)]
pub struct HmacSecretInput {
    /// 0x01 keyAgreement (COSE_Key).
    pub key_agreement: Value,
    /// 0x02 saltEnc.
    pub salt_enc: Vec<u8>,
    /// 0x03 saltAuth.
    pub salt_auth: Vec<u8>,
    /// 0x04 pinUvAuthProtocol (default 1).
    pub pin_uv_auth_protocol: u64,
}

impl HmacSecretInput {
    fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let key_agreement = required(map_get_int(m, 1))?.clone();
        as_map(&key_agreement)?;
        Ok(Self {
            key_agreement,
            salt_enc: bytes(required(map_get_int(m, 2))?)?,
            salt_auth: bytes(required(map_get_int(m, 3))?)?,
            pin_uv_auth_protocol: optional(map_get_int(m, 4), uint)?.unwrap_or(1),
        })
    }
}

/// authenticatorGetAssertion request (CTAP 2.1 §6.2).
#[derive(Debug, Clone, PartialEq)]
pub struct GetAssertionRequest {
    /// 0x01 rpId.
    pub rp_id: String,
    /// 0x02 clientDataHash.
    pub client_data_hash: Vec<u8>,
    /// 0x03 allowList.
    pub allow_list: Option<Vec<CredentialDescriptor>>,
    /// 0x04 extensions: hmac-secret.
    pub hmac_secret: Option<HmacSecretInput>,
    /// 0x05 options.
    pub options: Options,
    /// 0x06 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x07 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
}

impl GetAssertionRequest {
    /// Parses the parameter map.
    ///
    /// # Errors
    /// The CTAP status code for the first problem found.
    pub fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let rp_id = text(required(map_get_int(m, 1))?)?;
        let client_data_hash = bytes(required(map_get_int(m, 2))?)?;
        let allow_list = optional(map_get_int(m, 3), CredentialDescriptor::parse_list)?;
        let mut hmac_secret = None;
        if let Some(ext) = map_get_int(m, 4) {
            let em = as_map(ext)?;
            hmac_secret = optional(map_get_text(em, "hmac-secret"), HmacSecretInput::parse)?;
        }
        Ok(Self {
            rp_id,
            client_data_hash,
            allow_list,
            hmac_secret,
            options: optional(map_get_int(m, 5), Options::parse)?.unwrap_or_default(),
            pin_uv_auth_param: optional(map_get_int(m, 6), bytes)?,
            pin_uv_auth_protocol: optional(map_get_int(m, 7), uint)?,
        })
    }
}

/// authenticatorClientPIN request (CTAP 2.1 §6.5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPinRequest {
    /// 0x01 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x02 subCommand.
    pub sub_command: u64,
    /// 0x03 keyAgreement.
    pub key_agreement: Option<Value>,
    /// 0x04 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// 0x05 newPinEnc.
    pub new_pin_enc: Option<Vec<u8>>,
    /// 0x06 pinHashEnc.
    pub pin_hash_enc: Option<Vec<u8>>,
    /// 0x09 permissions.
    pub permissions: Option<u64>,
    /// 0x0A rpId.
    pub rp_id: Option<String>,
}

impl ClientPinRequest {
    /// Parses the parameter map.
    ///
    /// # Errors
    /// The CTAP status code for the first problem found.
    pub fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let key_agreement = map_get_int(m, 3).cloned();
        if let Some(k) = &key_agreement {
            as_map(k)?;
        }
        Ok(Self {
            pin_uv_auth_protocol: optional(map_get_int(m, 1), uint)?,
            sub_command: uint(required(map_get_int(m, 2))?)?,
            key_agreement,
            pin_uv_auth_param: optional(map_get_int(m, 4), bytes)?,
            new_pin_enc: optional(map_get_int(m, 5), bytes)?,
            pin_hash_enc: optional(map_get_int(m, 6), bytes)?,
            permissions: optional(map_get_int(m, 9), uint)?,
            rp_id: optional(map_get_int(m, 0x0A), text)?,
        })
    }
}

/// authenticatorCredentialManagement request (CTAP 2.1 §6.8).
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialManagementRequest {
    /// 0x01 subCommand.
    pub sub_command: u64,
    /// 0x02 subCommandParams, raw (its canonical encoding is authenticated).
    pub sub_command_params: Option<Value>,
    /// subCommandParams 0x01 rpIDHash.
    pub rp_id_hash: Option<Vec<u8>>,
    /// subCommandParams 0x02 credentialID.
    pub credential_id: Option<CredentialDescriptor>,
    /// subCommandParams 0x03 user.
    pub user: Option<UserEntity>,
    /// 0x03 pinUvAuthProtocol.
    pub pin_uv_auth_protocol: Option<u64>,
    /// 0x04 pinUvAuthParam.
    pub pin_uv_auth_param: Option<Vec<u8>>,
    /// Sent as the FIDO_2_1_PRE prototype command 0x41 (not a map key).
    pub preview: bool,
}

impl CredentialManagementRequest {
    /// Parses the parameter map.
    ///
    /// # Errors
    /// The CTAP status code for the first problem found.
    pub fn parse(v: &Value) -> Result<Self, StatusCode> {
        let m = as_map(v)?;
        let sub_command = uint(required(map_get_int(m, 1))?)?;
        let sub_command_params = map_get_int(m, 2).cloned();
        let (mut rp_id_hash, mut credential_id, mut user) = (None, None, None);
        if let Some(p) = &sub_command_params {
            let pm = as_map(p)?;
            rp_id_hash = optional(map_get_int(pm, 1), bytes)?;
            credential_id = optional(map_get_int(pm, 2), CredentialDescriptor::parse)?;
            user = optional(map_get_int(pm, 3), UserEntity::parse)?;
        }
        Ok(Self {
            sub_command,
            sub_command_params,
            rp_id_hash,
            credential_id,
            user,
            pin_uv_auth_protocol: optional(map_get_int(m, 3), uint)?,
            pin_uv_auth_param: optional(map_get_int(m, 4), bytes)?,
            preview: false,
        })
    }
}

/// A parsed CTAP2 command.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Command {
    /// authenticatorMakeCredential.
    MakeCredential(Box<MakeCredentialRequest>),
    /// authenticatorGetAssertion.
    GetAssertion(Box<GetAssertionRequest>),
    /// authenticatorGetInfo.
    GetInfo,
    /// authenticatorClientPIN.
    ClientPin(Box<ClientPinRequest>),
    /// authenticatorReset.
    Reset,
    /// authenticatorGetNextAssertion.
    GetNextAssertion,
    /// authenticatorCredentialManagement (0x0A or prototype 0x41).
    CredentialManagement(Box<CredentialManagementRequest>),
    /// authenticatorSelection.
    Selection,
}

impl Command {
    /// Parses a CTAP2 message: command byte followed by optional CBOR parameters.
    ///
    /// # Errors
    /// `CTAP1_ERR_INVALID_LENGTH` for an empty message, `CTAP1_ERR_INVALID_COMMAND` for an
    /// unknown command, and the parameter errors described in the module docs.
    pub fn parse(message: &[u8]) -> Result<Self, StatusCode> {
        let (&cmd, params) = message.split_first().ok_or(StatusCode::InvalidLength)?;
        let value = || -> Result<Value, StatusCode> {
            if params.is_empty() {
                return Err(StatusCode::MissingParameter);
            }
            Ok(cbor::decode(params)?)
        };
        match cmd {
            command::MAKE_CREDENTIAL => Ok(Self::MakeCredential(Box::new(
                MakeCredentialRequest::parse(&value()?)?,
            ))),
            command::GET_ASSERTION => Ok(Self::GetAssertion(Box::new(GetAssertionRequest::parse(
                &value()?,
            )?))),
            command::GET_INFO => Ok(Self::GetInfo),
            command::CLIENT_PIN => Ok(Self::ClientPin(Box::new(ClientPinRequest::parse(
                &value()?
            )?))),
            command::RESET => Ok(Self::Reset),
            command::GET_NEXT_ASSERTION => Ok(Self::GetNextAssertion),
            command::CREDENTIAL_MANAGEMENT | command::CREDENTIAL_MANAGEMENT_PRE => {
                let mut request = CredentialManagementRequest::parse(&value()?)?;
                request.preview = cmd == command::CREDENTIAL_MANAGEMENT_PRE;
                Ok(Self::CredentialManagement(Box::new(request)))
            }
            command::SELECTION => Ok(Self::Selection),
            _ => Err(StatusCode::InvalidCommand),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::int_map;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn mc_value() -> Value {
        int_map([
            (1, Some(Value::Bytes(vec![0; 32]))),
            (2, Some(Value::Map(vec![(t("id"), t("example.com"))]))),
            (3, Some(Value::Map(vec![(t("id"), Value::Bytes(vec![1]))]))),
            (
                4,
                Some(Value::Array(vec![Value::Map(vec![
                    (t("alg"), Value::Integer((-7).into())),
                    (t("type"), t("public-key")),
                ])])),
            ),
        ])
    }

    #[test]
    fn parses_minimal_make_credential() {
        let r = MakeCredentialRequest::parse(&mc_value()).unwrap();
        assert_eq!(r.rp.id, "example.com");
        assert_eq!(r.pub_key_cred_params, vec![("public-key".to_string(), -7)]);
        assert_eq!(r.options, Options::default());
    }

    #[test]
    fn exact_error_codes() {
        assert_eq!(Command::parse(&[]), Err(StatusCode::InvalidLength));
        assert_eq!(Command::parse(&[0x55]), Err(StatusCode::InvalidCommand));
        assert_eq!(Command::parse(&[0x01, 0xff]), Err(StatusCode::InvalidCbor));
        assert_eq!(
            Command::parse(&[0x01, 0x01]),
            Err(StatusCode::CborUnexpectedType)
        );
        assert_eq!(
            Command::parse(&[0x01, 0xa0]),
            Err(StatusCode::MissingParameter)
        );
        let Value::Map(mut m) = mc_value() else {
            unreachable!()
        };
        m[0].1 = t("not bytes");
        let bytes = cbor::encode(&Value::Map(m)).unwrap();
        assert_eq!(
            Command::parse(&[[0x01].as_slice(), &bytes].concat()),
            Err(StatusCode::CborUnexpectedType)
        );
        assert_eq!(Command::parse(&[0x04]), Ok(Command::GetInfo));
    }

    #[test]
    fn options_wrong_type_is_unexpected_type() {
        let v = Value::Map(vec![(t("rk"), Value::Integer(1.into()))]);
        assert_eq!(Options::parse(&v), Err(StatusCode::CborUnexpectedType));
    }

    #[test]
    fn both_credential_management_bytes_parse() {
        let p = cbor::encode(&int_map([(1, Some(Value::Integer(1.into())))])).unwrap();
        for b in [0x0A, 0x41] {
            let msg = [[b].as_slice(), &p].concat();
            assert!(matches!(
                Command::parse(&msg),
                Ok(Command::CredentialManagement(_))
            ));
        }
    }
}
