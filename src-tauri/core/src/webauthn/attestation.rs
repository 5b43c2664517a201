//! The `packed` attestation statement with a certificate chain (`x5c`), checked the way a
//! relying party does before it consults any trust store (WebAuthn Level 3 §8.2, "Packed
//! Attestation Statement Format", verification procedure, and §8.2.1, the attestation
//! certificate requirements):
//!
//! - the signature over `authenticatorData || clientDataHash` verifies under the leaf
//!   certificate's public key, with the statement's `alg`;
//! - the leaf is an X.509 v3 certificate whose subject has a two-letter country (C), a
//!   vendor (O), the literal unit "Authenticator Attestation" (OU) and a common name (CN),
//!   and whose basic constraints say it is not a CA;
//! - if it carries the `id-fido-gen-ce-aaguid` extension (OID 1.3.6.1.4.1.45724.1.1.4), the
//!   extension is not critical and holds the AAGUID the authenticator data names;
//! - each certificate the phone sent is signed by the next one.
//!
//! What is *not* checked here: whether the chain ends at a root some vendor publishes (the
//! FIDO Metadata Service). A desktop client has no such trust store; the report says so.

use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// `id-fido-gen-ce-aaguid`: the authenticator model's AAGUID in an attestation certificate.
const AAGUID_EXTENSION: &str = "1.3.6.1.4.1.45724.1.1.4";
/// The subject OU every packed attestation certificate carries (§8.2.1).
const ATTESTATION_UNIT: &str = "Authenticator Attestation";

/// Why a certificate attestation does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationProblem {
    /// An `x5c` entry is not a DER X.509 certificate (`index` 0 is the leaf).
    #[error("certificate {index} of the attestation chain is not a valid X.509 certificate")]
    NotACertificate {
        /// Its place in the chain.
        index: usize,
    },
    /// The statement's algorithm is not one this client verifies.
    #[error("attestation algorithm {0} is not supported")]
    Algorithm(i64),
    /// The signature does not verify under the leaf certificate's key.
    #[error("the attestation signature does not verify under the attestation certificate")]
    Signature,
    /// The leaf does not meet one of the FIDO attestation certificate requirements.
    #[error("the attestation certificate does not meet the FIDO requirements: {0}")]
    Requirement(&'static str),
    /// The certificate's AAGUID extension names another authenticator model.
    #[error("the attestation certificate's AAGUID differs from the authenticator data's")]
    AaguidMismatch,
    /// A certificate in the chain is not signed by the next one.
    #[error("certificate {index} of the attestation chain is not signed by the next one")]
    Chain {
        /// The certificate whose signature failed.
        index: usize,
    },
}

/// One certificate of an attestation chain, as a report shows it (no keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AttestationCertificate {
    /// Subject, RFC 4514 text.
    pub subject: String,
    /// Issuer, RFC 4514 text.
    pub issuer: String,
    /// Valid from (Unix seconds).
    #[ts(type = "number")]
    pub not_before: i64,
    /// Valid until (Unix seconds).
    #[ts(type = "number")]
    pub not_after: i64,
    /// Whether the next certificate's key verified this one's signature: `None` for the last
    /// one (its issuer is not in the chain) or an algorithm this client does not check.
    pub signed_by_next: Option<bool>,
}

/// What a checked certificate attestation established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedChain {
    /// The chain, leaf first.
    pub certificates: Vec<AttestationCertificate>,
    /// Whether the leaf carried the AAGUID extension (it then matched).
    pub aaguid_in_certificate: bool,
}

/// The COSE algorithms a statement may name, with the signature scheme each means.
fn statement_scheme(alg: i64) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature as sig;
    match alg {
        -7 => Some(&sig::ECDSA_P256_SHA256_ASN1),
        -35 => Some(&sig::ECDSA_P384_SHA384_ASN1),
        -8 => Some(&sig::ED25519),
        -257 => Some(&sig::RSA_PKCS1_2048_8192_SHA256),
        _ => None,
    }
}

/// The ring scheme for a certificate's own signature: its signature algorithm OID with the
/// issuer key's curve (ECDSA pairs the hash with the curve).
fn certificate_scheme(
    signature_oid: &str,
    issuer_curve: Option<&str>,
) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature as sig;
    const P256: &str = "1.2.840.10045.3.1.7";
    const P384: &str = "1.3.132.0.34";
    match (signature_oid, issuer_curve) {
        ("1.2.840.10045.4.3.2", Some(P256)) => Some(&sig::ECDSA_P256_SHA256_ASN1),
        ("1.2.840.10045.4.3.3", Some(P256)) => Some(&sig::ECDSA_P256_SHA384_ASN1),
        ("1.2.840.10045.4.3.2", Some(P384)) => Some(&sig::ECDSA_P384_SHA256_ASN1),
        ("1.2.840.10045.4.3.3", Some(P384)) => Some(&sig::ECDSA_P384_SHA384_ASN1),
        ("1.2.840.113549.1.1.11", _) => Some(&sig::RSA_PKCS1_2048_8192_SHA256),
        ("1.2.840.113549.1.1.12", _) => Some(&sig::RSA_PKCS1_2048_8192_SHA384),
        ("1.2.840.113549.1.1.13", _) => Some(&sig::RSA_PKCS1_2048_8192_SHA512),
        ("1.3.101.112", _) => Some(&sig::ED25519),
        _ => None,
    }
}

/// The named curve of an EC public key (`None` for other keys).
fn curve_of(cert: &X509Certificate<'_>) -> Option<String> {
    let parameters = cert.public_key().algorithm.parameters.as_ref()?;
    parameters.as_oid().ok().map(|oid| oid.to_id_string())
}

fn first_text<'a>(
    mut values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<&'a str> {
    values.find_map(|value| value.as_str().ok())
}

/// The §8.2.1 requirements on the leaf, and its AAGUID extension against `aaguid`.
/// Returns whether the extension was there.
fn check_leaf(leaf: &X509Certificate<'_>, aaguid: &[u8]) -> Result<bool, AttestationProblem> {
    use AttestationProblem::Requirement;
    if leaf.version() != x509_parser::x509::X509Version::V3 {
        return Err(Requirement("it is not an X.509 version 3 certificate"));
    }
    let subject = leaf.subject();
    let country = first_text(subject.iter_country()).unwrap_or_default();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Requirement("its subject has no two-letter country (C)"));
    }
    if first_text(subject.iter_organization()).is_none_or(str::is_empty) {
        return Err(Requirement("its subject names no vendor (O)"));
    }
    if first_text(subject.iter_organizational_unit()) != Some(ATTESTATION_UNIT) {
        return Err(Requirement(
            "its subject's unit (OU) is not \"Authenticator Attestation\"",
        ));
    }
    if first_text(subject.iter_common_name()).is_none_or(str::is_empty) {
        return Err(Requirement("its subject has no common name (CN)"));
    }
    match leaf.basic_constraints() {
        Ok(Some(constraints)) if constraints.value.ca => {
            return Err(Requirement(
                "it is a CA certificate (basic constraints CA=true)",
            ));
        }
        Ok(Some(_)) => {}
        Ok(None) => return Err(Requirement("it has no basic constraints extension")),
        Err(_) => return Err(Requirement("its basic constraints do not parse")),
    }
    let Some(extension) = leaf
        .extensions()
        .iter()
        .find(|ext| ext.oid.to_id_string() == AAGUID_EXTENSION)
    else {
        return Ok(false);
    };
    if extension.critical {
        return Err(Requirement("its AAGUID extension is marked critical"));
    }
    // The extension's value is itself a DER OCTET STRING of the 16 AAGUID bytes.
    let value = extension.value;
    match value {
        [0x04, 0x10, rest @ ..] if rest.len() == 16 => {
            if rest == aaguid {
                Ok(true)
            } else {
                Err(AttestationProblem::AaguidMismatch)
            }
        }
        _ => Err(Requirement(
            "its AAGUID extension is not a 16-byte OCTET STRING",
        )),
    }
}

/// Checks a packed statement's `x5c` chain (leaf first, DER) and `sig` made with `alg` over
/// `signed` (`authenticatorData || clientDataHash`); `aaguid` is the authenticator data's.
///
/// # Errors
/// [`AttestationProblem`].
pub fn check_chain(
    x5c: &[&[u8]],
    alg: i64,
    sig: &[u8],
    signed: &[u8],
    aaguid: &[u8],
) -> Result<CheckedChain, AttestationProblem> {
    let certificates = x5c
        .iter()
        .enumerate()
        .map(|(index, der)| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert),
            _ => Err(AttestationProblem::NotACertificate { index }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = certificates
        .first()
        .ok_or(AttestationProblem::NotACertificate { index: 0 })?;
    let scheme = statement_scheme(alg).ok_or(AttestationProblem::Algorithm(alg))?;
    ring::signature::UnparsedPublicKey::new(scheme, &leaf.public_key().subject_public_key.data)
        .verify(signed, sig)
        .map_err(|_| AttestationProblem::Signature)?;
    let aaguid_in_certificate = check_leaf(leaf, aaguid)?;
    let mut shown = Vec::with_capacity(certificates.len());
    for (index, cert) in certificates.iter().enumerate() {
        let signed_by_next = match certificates.get(index.saturating_add(1)) {
            None => None,
            Some(issuer) => {
                let oid = cert.signature_algorithm.algorithm.to_id_string();
                match certificate_scheme(&oid, curve_of(issuer).as_deref()) {
                    None => None,
                    Some(scheme) => {
                        let key = &issuer.public_key().subject_public_key.data;
                        let verified = ring::signature::UnparsedPublicKey::new(scheme, key)
                            .verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
                            .is_ok();
                        if !verified {
                            return Err(AttestationProblem::Chain { index });
                        }
                        Some(true)
                    }
                }
            }
        };
        shown.push(AttestationCertificate {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            signed_by_next,
        });
    }
    Ok(CheckedChain {
        certificates: shown,
        aaguid_in_certificate,
    })
}

#[cfg(test)]
mod tests {
    use ctap::cbor::{self, Value};
    use ctap::testing::{ManualClock, ScriptedPrompt, seeded_rng};
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
        SigningKey as _,
    };

    use super::*;
    use crate::webauthn::{
        AttestationKind, ClientData, VerifyError, make_credential_request, verify_registration,
    };

    const AAGUID_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

    /// A phone's real makeCredential reply (packed self-attestation) and its client data.
    fn reply() -> (Vec<u8>, ClientData) {
        let mut engine = ctap::Authenticator::new(
            ctap::MemoryStore::new(),
            ManualClock::new(),
            seeded_rng(3),
            ctap::Config {
                attestation: ctap::Attestation::PackedSelf,
                built_in_uv: true,
                ..ctap::Config::default()
            },
        )
        .unwrap();
        let cd = ClientData::new("webauthn.create", b"challenge", "https://example.com");
        let request = make_credential_request(&cd.hash, "example.com", b"user", "ana").unwrap();
        let reply = engine.handle_with_prompt(&request, &mut ScriptedPrompt::always_verify());
        (reply, cd)
    }

    fn auth_data(reply: &[u8]) -> Vec<u8> {
        let Value::Map(entries) = cbor::decode(&reply[1..]).unwrap() else {
            panic!("not a map")
        };
        match cbor::map_get_int(&entries, 2) {
            Some(Value::Bytes(data)) => data.clone(),
            _ => panic!("no authData"),
        }
    }

    /// How the test's attestation certificate differs from a good one.
    #[derive(Default, Clone, Copy)]
    struct Flaw {
        unit: Option<&'static str>,
        ca: bool,
        aaguid: Option<[u8; 16]>,
        critical: bool,
        other_issuer: bool,
        sign_other_message: bool,
    }

    /// The reply with its statement replaced by `packed` + x5c [leaf, CA], the leaf made
    /// with `flaw`.
    fn certified(flaw: Flaw) -> (Vec<u8>, ClientData) {
        let (reply, cd) = reply();
        let auth = auth_data(&reply);
        let aaguid: [u8; 16] = auth[37..53].try_into().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Test Vendor Root");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = if flaw.other_issuer {
            let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
            other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            other
                .distinguished_name
                .push(DnType::CommonName, "Test Vendor Root");
            Issuer::new(other, KeyPair::generate().unwrap())
        } else {
            Issuer::new(ca_params, ca_key)
        };
        let leaf_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let name = &mut params.distinguished_name;
        name.push(DnType::CountryName, "SE");
        name.push(DnType::OrganizationName, "Test Vendor");
        name.push(
            DnType::OrganizationalUnitName,
            flaw.unit.unwrap_or("Authenticator Attestation"),
        );
        name.push(DnType::CommonName, "Test Phone Attestation");
        params.is_ca = if flaw.ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        let mut content = vec![0x04, 0x10];
        content.extend_from_slice(&flaw.aaguid.unwrap_or(aaguid));
        let mut extension = CustomExtension::from_oid_content(AAGUID_OID, content);
        extension.set_criticality(flaw.critical);
        params.custom_extensions = vec![extension];
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
        let message = if flaw.sign_other_message {
            b"something else".to_vec()
        } else {
            [auth.as_slice(), cd.hash.as_slice()].concat()
        };
        let sig = leaf_key.sign(&message).unwrap();
        let statement = Value::Map(vec![
            (Value::Text("alg".into()), Value::Integer((-7).into())),
            (Value::Text("sig".into()), Value::Bytes(sig)),
            (
                Value::Text("x5c".into()),
                Value::Array(vec![
                    Value::Bytes(leaf.der().to_vec()),
                    Value::Bytes(ca.der().to_vec()),
                ]),
            ),
        ]);
        let body = Value::Map(vec![
            (Value::Integer(1.into()), Value::Text("packed".into())),
            (Value::Integer(2.into()), Value::Bytes(auth)),
            (Value::Integer(3.into()), statement),
        ]);
        ([vec![0], cbor::encode(&body).unwrap()].concat(), cd)
    }

    fn verify(flaw: Flaw) -> Result<crate::webauthn::Registration, VerifyError> {
        let (reply, cd) = certified(flaw);
        verify_registration(&reply, "example.com", &cd.hash)
    }

    #[test]
    fn a_certified_attestation_verifies_with_its_chain_and_aaguid() {
        let registration = verify(Flaw::default()).unwrap();
        assert!(registration.attestation_signature_verified);
        let facts = &registration.attestation;
        assert_eq!(facts.kind, AttestationKind::Certificate);
        assert!(facts.aaguid_in_certificate);
        assert_eq!(facts.chain.len(), 2);
        let leaf = &facts.chain[0];
        assert!(
            leaf.subject.contains("OU=Authenticator Attestation"),
            "{leaf:?}"
        );
        assert!(leaf.issuer.contains("Test Vendor Root"), "{leaf:?}");
        assert_eq!(leaf.signed_by_next, Some(true));
        assert_eq!(
            facts.chain[1].signed_by_next, None,
            "the root is not in the chain"
        );
        assert!(leaf.not_after > leaf.not_before);
    }

    #[test]
    fn each_broken_requirement_is_named() {
        let problem = |flaw| match verify(flaw) {
            Err(VerifyError::Attestation(problem)) => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problem(Flaw {
                sign_other_message: true,
                ..Flaw::default()
            }),
            AttestationProblem::Signature
        );
        assert!(matches!(
            problem(Flaw {
                unit: Some("Phones"),
                ..Flaw::default()
            }),
            AttestationProblem::Requirement(text) if text.contains("OU")
        ));
        assert!(matches!(
            problem(Flaw {
                ca: true,
                ..Flaw::default()
            }),
            AttestationProblem::Requirement(text) if text.contains("CA")
        ));
        assert_eq!(
            problem(Flaw {
                aaguid: Some([9; 16]),
                ..Flaw::default()
            }),
            AttestationProblem::AaguidMismatch
        );
        assert!(matches!(
            problem(Flaw {
                critical: true,
                ..Flaw::default()
            }),
            AttestationProblem::Requirement(text) if text.contains("critical")
        ));
        assert_eq!(
            problem(Flaw {
                other_issuer: true,
                ..Flaw::default()
            }),
            AttestationProblem::Chain { index: 0 }
        );
    }

    #[test]
    fn garbage_in_x5c_is_refused_without_a_panic() {
        let parse = |x5c: &[&[u8]]| check_chain(x5c, -7, &[0; 8], b"signed", &[0; 16]);
        assert_eq!(
            parse(&[]),
            Err(AttestationProblem::NotACertificate { index: 0 })
        );
        assert_eq!(
            parse(&[&[0x30, 0x03, 0x02, 0x01]]),
            Err(AttestationProblem::NotACertificate { index: 0 })
        );
        assert_eq!(
            check_chain(&[], -999, &[], b"", &[]),
            Err(AttestationProblem::NotACertificate { index: 0 })
        );
    }
}
