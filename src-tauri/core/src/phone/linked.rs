//! Linked phones, kept per profile in the profile's vault (encrypted, locked with it):
//!
//! - on the desktop, the phones that sent verified linking info ("remember this phone"), so a
//!   later sign-in contacts the phone through the relay with no QR code;
//! - on the virtual phone, its own linking identity (static key, contact ID, link secret).
//!
//! A locked profile lists no phones: they live in encrypted vault items like passkeys.

use hybrid::frame::LinkingInfo;
use hybrid::keys::{LinkSecret, PrivateKey, PublicKey};
use hybrid::session::{PhoneLinking, StoredLink};
use hybrid::tunnel_url::DomainId;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::profile::{Error, Vault};

/// Vault item kind for the desktop's linked phones.
const LINKED_PHONE: &str = "linked-phone";
/// Vault item kind for the virtual phone's own linking identity.
const PHONE_IDENTITY: &str = "phone-identity";

/// What the management views show about a linked phone (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedPhoneInfo {
    /// The name the phone gave itself.
    pub name: String,
    /// Tunnel-server domain ID its advert used.
    pub domain: u16,
    /// When it was linked, Unix seconds.
    pub linked_at: u64,
}

/// The stored form (inside an encrypted vault item).
#[derive(Serialize, Deserialize)]
struct LinkRecord {
    name: String,
    contact_id: String,
    link_id: String,
    link_secret: String,
    phone_public_key: String,
    domain: u16,
    linked_at: u64,
}

impl Drop for LinkRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.link_secret);
    }
}

fn corrupt(what: &str) -> Error {
    Error::Damaged(format!("linked phone record ({what})"))
}

fn unhex(text: &str, what: &str) -> Result<Vec<u8>, Error> {
    hex::decode(text).map_err(|_| corrupt(what))
}

/// A 32-byte secret from hex; the decoded bytes are wiped on every path.
fn unhex_secret(text: &str, what: &str) -> Result<Zeroizing<[u8; 32]>, Error> {
    let bytes = Zeroizing::new(unhex(text, what)?);
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != out.len() {
        return Err(corrupt(what));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

impl LinkRecord {
    fn from_link(link: &StoredLink, linked_at: u64) -> Self {
        Self {
            name: link.linking.name.clone(),
            contact_id: hex::encode(&link.linking.contact_id),
            link_id: hex::encode(&link.linking.link_id),
            link_secret: hex::encode(link.linking.link_secret.expose_secret()),
            phone_public_key: hex::encode(link.linking.authenticator_public_key.uncompressed()),
            domain: link.domain.0,
            linked_at,
        }
    }

    fn to_link(&self) -> Result<StoredLink, Error> {
        let secret = unhex_secret(&self.link_secret, "link secret")?;
        let public = PublicKey::from_uncompressed(&unhex(&self.phone_public_key, "phone key")?)
            .map_err(|_| corrupt("phone key"))?;
        Ok(StoredLink {
            linking: LinkingInfo {
                contact_id: unhex(&self.contact_id, "contact ID")?,
                link_id: unhex(&self.link_id, "link ID")?,
                link_secret: LinkSecret::from_bytes(*secret),
                authenticator_public_key: public,
                name: self.name.clone(),
                // Verified when the link arrived; not needed afterwards.
                signature: [0; 32],
                google_tag: None,
            },
            domain: DomainId(self.domain),
        })
    }

    fn info(&self) -> LinkedPhoneInfo {
        LinkedPhoneInfo {
            name: self.name.clone(),
            domain: self.domain,
            linked_at: self.linked_at,
        }
    }
}

fn records(vault: &Vault) -> Result<Vec<LinkRecord>, Error> {
    vault
        .items(LINKED_PHONE)?
        .into_iter()
        .map(|(_, data)| serde_json::from_slice(&data).map_err(|_| corrupt("not JSON")))
        .collect()
}

/// Remembers a verified link under the phone's name (a newer link with the same name
/// replaces the older one: the phone re-linked).
///
/// # Errors
/// Locked vault, I/O.
pub fn remember(vault: &Vault, link: &StoredLink, now: u64) -> Result<(), Error> {
    let record = LinkRecord::from_link(link, now);
    let data = Zeroizing::new(serde_json::to_vec(&record).map_err(Error::Encode)?);
    vault.put_item(LINKED_PHONE, record.name.as_bytes(), &data)
}

/// The profile's linked phones.
///
/// # Errors
/// Locked vault, I/O, a damaged record.
pub fn list(vault: &Vault) -> Result<Vec<LinkedPhoneInfo>, Error> {
    let mut phones: Vec<_> = records(vault)?.iter().map(LinkRecord::info).collect();
    phones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(phones)
}

/// The link to the phone called `name`, if linked.
///
/// # Errors
/// Locked vault, I/O, a damaged record.
pub fn find(vault: &Vault, name: &str) -> Result<Option<StoredLink>, Error> {
    records(vault)?
        .iter()
        .find(|r| r.name == name)
        .map(LinkRecord::to_link)
        .transpose()
}

/// Forgets the phone called `name`. Returns whether it was linked.
///
/// # Errors
/// Locked vault, I/O.
pub fn forget(vault: &Vault, name: &str) -> Result<bool, Error> {
    vault.remove_item(LINKED_PHONE, name.as_bytes())
}

/// The virtual phone's own linking identity, stored in its profile.
#[derive(Serialize, Deserialize)]
struct IdentityRecord {
    static_key: String,
    contact_id: String,
    link_id: String,
    link_secret: String,
    name: String,
}

impl Drop for IdentityRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.static_key);
        zeroize::Zeroize::zeroize(&mut self.link_secret);
    }
}

/// The virtual phone's linking identity from its vault, created on first use with fresh
/// random values. `name` is what desktops will call this phone.
///
/// # Errors
/// Locked vault, I/O, a damaged record.
pub fn phone_identity(
    vault: &Vault,
    name: &str,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<PhoneLinking, Error> {
    let stored = vault
        .items(PHONE_IDENTITY)?
        .into_iter()
        .next()
        .map(|(_, data)| serde_json::from_slice::<IdentityRecord>(&data))
        .transpose()
        .map_err(|_| corrupt("phone identity is not JSON"))?;
    let record = match stored {
        Some(record) => record,
        None => {
            let key = PrivateKey::generate(rng);
            let mut random = |n: usize| {
                let mut bytes = vec![0u8; n];
                rng.fill_bytes(&mut bytes);
                hex::encode(bytes)
            };
            let record = IdentityRecord {
                static_key: hex::encode(*key.expose_secret()),
                contact_id: random(16),
                link_id: random(8),
                link_secret: random(32),
                name: name.to_owned(),
            };
            let data = Zeroizing::new(serde_json::to_vec(&record).map_err(Error::Encode)?);
            vault.put_item(PHONE_IDENTITY, b"default", &data)?;
            record
        }
    };
    let scalar = unhex_secret(&record.static_key, "phone static key")?;
    let secret = unhex_secret(&record.link_secret, "link secret")?;
    let mut linking = PhoneLinking {
        static_key: PrivateKey::from_bytes(&scalar).map_err(|_| corrupt("phone static key"))?,
        contact_id: Vec::new(),
        link_id: unhex(&record.link_id, "link ID")?,
        link_secret: LinkSecret::from_bytes(*secret),
        name: name.to_owned(),
        google_tag: None,
        in_post_handshake: false,
    };
    // The contact ID commits to a key derived from the static key, so the phone can prove it
    // to the relay (hybrid::contact_proof). The stored random one, from before the relay
    // asked for proof, is no longer used: desktops linked with it link again.
    linking.contact_id = linking.contact_key().contact_id().0.to_vec();
    Ok(linking)
}
