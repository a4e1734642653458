//! OpenPGP signing keys, in one place for apt and rpm signing: one loader (file
//! read, armored or binary, the signing key or subkey picked, the passphrase
//! checked), one passphrase policy ([`passphrase`]: an explicit value, else
//! `$CFY_AP_SIGN_PASSPHRASE`), and repository signatures with the pure-Rust
//! `pgp` crate: an `InRelease` (cleartext) and a `Release.gpg` (armored
//! detached) over the same Release bytes, SHA-512; the public key for clients.
//! The rpm writer wraps a loaded key for the `rpm` crate
//! (`crate::writers::rpm::sign`).

use crate::error::{Error, Result};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, Password, SigningKey, Timestamp};
use std::path::Path;

/// The environment variable holding the signing key's passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "CFY_AP_SIGN_PASSPHRASE";

/// The passphrase policy: the one given explicitly (library callers), else
/// [`PASSPHRASE_ENV`]; never a prompt, never the command line.
pub(crate) fn passphrase(explicit: Option<&str>) -> Option<String> {
    explicit
        .map(str::to_string)
        .or_else(|| std::env::var(PASSPHRASE_ENV).ok())
}

/// A signing key, its secret material decrypted in memory.
pub(crate) struct Signer {
    key: SignedSecretKey,
    /// `None`: the primary key signs; else the index of a signing subkey.
    subkey: Option<usize>,
    /// The file's text when it is an armored secret key (the `rpm` crate loads
    /// keys from that form).
    armored: Option<String>,
    /// The passphrase that unlocked it (None: the key has none, or not unlocked).
    passphrase: Option<String>,
}

/// The two signature files for one Release.
pub(crate) struct Signatures {
    pub in_release: String,
    pub release_gpg: String,
}

impl Signer {
    /// Load an OpenPGP secret key (armored or binary) and check that `passphrase`
    /// unlocks it, so a bad key fails before the repository is touched.
    pub(crate) fn load(path: &Path, passphrase: Option<&str>) -> Result<Signer> {
        Signer::load_as("signing key", path, passphrase)
    }

    /// [`Signer::load`], with errors naming the key as `label` (e.g. `package.sign_key`).
    pub(crate) fn load_as(label: &str, path: &Path, passphrase: Option<&str>) -> Result<Signer> {
        Signer::load_selected(label, path, passphrase, None)
    }

    /// [`Signer::load_as`] for a file that may hold several secret keys: `key_id`
    /// (a fingerprint or key ID in hex, of the primary key or a subkey) picks one;
    /// without it a file with several keys is refused.
    pub(crate) fn load_selected(
        label: &str,
        path: &Path,
        passphrase: Option<&str>,
        key_id: Option<&str>,
    ) -> Result<Signer> {
        let mut signer = Signer::open_selected(label, path, key_id)?;
        let pw = Password::from(passphrase.unwrap_or_default());
        // Decrypt the secret material once, here: a wrong passphrase fails before
        // the repository is touched, and signing does not redo the (deliberately
        // slow) passphrase derivation.
        let (encrypted, unlocked) = match signer.subkey {
            None => {
                let k = &mut signer.key.primary_key;
                let enc = k.secret_params().is_encrypted();
                (enc, if enc { k.remove_password(&pw) } else { Ok(()) })
            }
            Some(i) => {
                let k = &mut signer.key.secret_subkeys[i].key;
                let enc = k.secret_params().is_encrypted();
                (enc, if enc { k.remove_password(&pw) } else { Ok(()) })
            }
        };
        if unlocked.is_err() {
            let msg = if passphrase.is_none() && encrypted {
                format!("the key is passphrase-protected; set {PASSPHRASE_ENV}")
            } else {
                format!("wrong passphrase (from {PASSPHRASE_ENV})")
            };
            return Err(Error::config(format!("{label} {}: {msg}", path.display())));
        }
        signer.passphrase = passphrase.map(str::to_string);
        Ok(signer)
    }

    /// Load a secret key without unlocking it (enough to export its public half).
    pub(crate) fn open(path: &Path) -> Result<Signer> {
        Signer::open_selected("signing key", path, None)
    }

    fn open_selected(label: &str, path: &Path, key_id: Option<&str>) -> Result<Signer> {
        let bad = |msg: String| {
            Error::config(format!("{label} {}: {msg}", path.display())).with(
                "expected an OpenPGP secret key, e.g. from \
                 `gpg --armor --export-secret-keys FINGERPRINT`",
            )
        };
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let text = std::str::from_utf8(&bytes).ok();
        let armored = text
            .filter(|t| t.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----"))
            .map(str::to_string);
        let not_key = |e: String| {
            bad(match (text, &armored) {
                (Some(_), None) => "not an armored secret key".to_string(),
                _ => format!("not a usable secret key: {e}"),
            })
        };
        // Every key of the file counts (`cat a.asc b.asc`, `cat a.gpg b.gpg`):
        // the crate reads one armored block per call, so each is read alone.
        let mut keys = Vec::new();
        let parts = match text {
            Some(t) if t.contains("-----BEGIN PGP ") => armored_blocks(t),
            _ => vec![&bytes[..]],
        };
        for part in parts {
            let (found, _) =
                SignedSecretKey::from_reader_many(part).map_err(|e| not_key(e.to_string()))?;
            for k in found {
                keys.push(k.map_err(|e| not_key(e.to_string()))?);
            }
        }
        let key = validity::select(keys, key_id)
            .map_err(|m| Error::config(format!("{label} {}: {m}", path.display())))?;
        // The rpm crate loads the armored form: the selected key alone, so it
        // cannot pick another one of the file.
        let armored = match armored {
            Some(_) => Some(
                key.to_armored_string(ArmorOptions::default())
                    .map_err(|e| not_key(e.to_string()))?,
            ),
            None => None,
        };
        let now = Timestamp::now().as_secs();
        if let Some(why) = validity::unusable(
            key.primary_key.created_at().as_secs(),
            key.details.revocation_signatures.iter(),
            primary_sigs(&key),
            now,
        ) {
            return Err(bad(format!(
                "the key {:X} is {why}",
                key.primary_key.fingerprint()
            )));
        }
        let subkey = if can_sign(primary_sigs(&key), true) {
            None
        } else {
            let mut why_not = Vec::new();
            let found = key.secret_subkeys.iter().position(|sk| {
                if !can_sign(sk.signatures.iter(), false) {
                    return false;
                }
                let revocations = sk
                    .signatures
                    .iter()
                    .filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
                let bindings = sk
                    .signatures
                    .iter()
                    .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding));
                let created = sk.key.created_at().as_secs();
                match validity::unusable(created, revocations, bindings, now) {
                    None => true,
                    Some(why) => {
                        why_not.push(format!("subkey {:X} is {why}", sk.key.fingerprint()));
                        false
                    }
                }
            });
            match found {
                Some(i) => Some(i),
                None if why_not.is_empty() => {
                    return Err(bad("neither the key nor a subkey can sign".into()));
                }
                None => {
                    return Err(bad(format!(
                        "no usable signing subkey: {}",
                        why_not.join("; ")
                    )));
                }
            }
        };
        Ok(Signer {
            key,
            subkey,
            armored,
            passphrase: None,
        })
    }

    /// The key file's text when it is an armored secret key.
    pub(crate) fn armored(&self) -> Option<&str> {
        self.armored.as_deref()
    }

    /// The passphrase that unlocked the key, if it needed one.
    pub(crate) fn passphrase(&self) -> Option<&str> {
        self.passphrase.as_deref()
    }

    /// The newest creation time of the key and its subkeys: signatures are never
    /// dated before it (rpm with the Sequoia backend rejects those).
    pub(crate) fn not_before(&self) -> u32 {
        std::iter::once(self.key.primary_key.created_at())
            .chain(self.key.secret_subkeys.iter().map(|k| k.key.created_at()))
            .map(|t| t.as_secs())
            .max()
            .unwrap_or(0)
    }

    /// The fingerprint of the key that signs (the primary key or a subkey).
    pub(crate) fn fingerprint(&self) -> String {
        let fpr = match self.subkey {
            None => self.key.primary_key.fingerprint(),
            Some(i) => self.key.secret_subkeys[i].key.fingerprint(),
        };
        format!("{fpr:X}")
    }

    /// The fingerprint of the primary key (what users see in `gpg --show-keys`).
    pub(crate) fn primary_fingerprint(&self) -> String {
        format!("{:X}", self.key.primary_key.fingerprint())
    }

    /// Sign `release`; `time` is the signature creation time (seconds since 1970),
    /// raised to the key's creation time if earlier.
    pub(crate) fn sign(&self, release: &str, time: i64) -> Result<Signatures> {
        let fail = |e: pgp::errors::Error| Error::build(format!("signing Release: {e}"));
        match self.subkey {
            None => sign_with(&self.key.primary_key, &Password::empty(), release, time),
            Some(i) => sign_with(
                &self.key.secret_subkeys[i].key,
                &Password::empty(),
                release,
                time,
            ),
        }
        .map_err(fail)
    }

    /// The text `in_release` signs (whoever signed it), with its own line
    /// ends; `None` when it is no clearsigned message.
    pub(crate) fn clear_text(in_release: &str) -> Option<String> {
        let (msg, _) = CleartextSignedMessage::from_string(in_release).ok()?;
        Some(msg.signed_text().replace("\r\n", "\n"))
    }

    /// Is `in_release` this key's clearsigned copy of exactly `release`?
    /// (Checks the text and the issuer; a stale or foreign InRelease is re-signed.)
    pub(crate) fn signed(&self, in_release: &str, release: &str) -> bool {
        let Ok((msg, _)) = CleartextSignedMessage::from_string(in_release) else {
            return false;
        };
        let ours = self.fingerprint();
        let by_us = msg.signatures().iter().any(|sig| {
            sig.issuer_fingerprint()
                .iter()
                .any(|f| format!("{f:X}") == ours)
        });
        by_us && msg.signed_text() == release.replace('\n', "\r\n")
    }

    /// An armored detached signature of `data` (a yum `repomd.xml.asc`), made
    /// as [`Signer::sign`] makes `Release.gpg`.
    pub(crate) fn detached(&self, data: &[u8], time: i64) -> Result<String> {
        let fail = |e: pgp::errors::Error| Error::build(format!("signing: {e}"));
        match self.subkey {
            None => detached_with(&self.key.primary_key, data, time),
            Some(i) => detached_with(&self.key.secret_subkeys[i].key, data, time),
        }
        .map_err(fail)
    }

    /// Is `armored` a valid detached signature of `data` by this key?
    pub(crate) fn verifies_detached(&self, data: &[u8], armored: &str) -> bool {
        let Ok((sig, _)) = DetachedSignature::from_string(armored) else {
            return false;
        };
        match self.subkey {
            None => sig.verify(&self.key.primary_key.public_key(), data).is_ok(),
            Some(i) => sig
                .verify(&self.key.secret_subkeys[i].key.public_key(), data)
                .is_ok(),
        }
    }

    /// The public key, ASCII-armored (`.asc`) or binary (`.gpg`).
    pub(crate) fn public_key(&self, armored: bool) -> Result<Vec<u8>> {
        let public = self.key.to_public_key();
        let out = if armored {
            public.to_armored_bytes(ArmorOptions::default())
        } else {
            public.to_bytes()
        };
        out.map_err(|e| Error::build(format!("exporting the public key: {e}")))
    }
}

/// The primary key's self-signatures (direct and on its user IDs).
fn primary_sigs(key: &SignedSecretKey) -> impl Iterator<Item = &pgp::packet::Signature> {
    key.details
        .direct_signatures
        .iter()
        .chain(key.details.users.iter().flat_map(|u| &u.signatures))
}

/// Whether self-signatures grant the signing capability. A key without any key
/// flags (old-style) is taken as able to sign when it is the primary key.
fn can_sign<'a>(sigs: impl Iterator<Item = &'a pgp::packet::Signature>, primary: bool) -> bool {
    let mut any_flags = false;
    for sig in sigs {
        let flags = sig.key_flags();
        if flags.sign() {
            return true;
        }
        any_flags |= flags.certify() || flags.encrypt_comms() || flags.encrypt_storage();
    }
    primary && !any_flags
}

/// Whether a key can still be used: not revoked, not expired; and which key of
/// a file holding several.
mod validity {
    use pgp::composed::SignedSecretKey;
    use pgp::packet::Signature;
    use pgp::types::KeyDetails;

    /// Why a (sub)key created at `created` is unusable at `now`: a revocation, or
    /// the key expiration time of its newest self-signature (or binding) past.
    pub(super) fn unusable<'a>(
        created: u32,
        mut revocations: impl Iterator<Item = &'a Signature>,
        self_sigs: impl Iterator<Item = &'a Signature>,
        now: u32,
    ) -> Option<String> {
        if revocations.next().is_some() {
            return Some("revoked".into());
        }
        let newest = self_sigs
            .filter(|s| s.created().is_some())
            .max_by_key(|s| s.created().map(|t| t.as_secs()))?;
        let lifetime = u64::from(newest.key_expiration_time()?.as_secs());
        let expires = u64::from(created) + lifetime;
        (lifetime > 0 && expires <= u64::from(now)).then(|| {
            format!(
                "expired on {}",
                crate::util::date::rfc2822(i64::try_from(expires).unwrap_or(i64::MAX))
            )
        })
    }

    /// The one key of `keys`, or the one `key_id` names (primary or subkey
    /// fingerprint, or key ID, hex, any case, `0x` and spaces ignored).
    pub(super) fn select(
        keys: Vec<SignedSecretKey>,
        key_id: Option<&str>,
    ) -> Result<SignedSecretKey, String> {
        let fprs = |k: &SignedSecretKey| -> Vec<String> {
            std::iter::once(format!("{:X}", k.primary_key.fingerprint()))
                .chain(
                    k.secret_subkeys
                        .iter()
                        .map(|s| format!("{:X}", s.key.fingerprint())),
                )
                .collect()
        };
        let Some(id) = key_id else {
            return match keys.len() {
                0 => Err("no secret key in the file".into()),
                1 => Ok(keys.into_iter().next().expect("one key")),
                n => Err(format!(
                    "holds {n} secret keys ({}); pick one with --sign-key-id",
                    keys.iter()
                        .map(|k| fprs(k)[0].clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
        };
        let want: String = id
            .trim_start_matches("0x")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if want.len() < 16 || !want.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "--sign-key-id {id:?}: give a fingerprint or a 16-digit key ID"
            ));
        }
        keys.into_iter()
            .find(|k| fprs(k).iter().any(|f| f.ends_with(&want)))
            .ok_or_else(|| format!("no secret key with ID {id} in the file"))
    }
}

/// The armored blocks of `text`, each from its `-----BEGIN PGP` line to the
/// end of its `-----END PGP` line (text between blocks is ignored).
fn armored_blocks(text: &str) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PGP ") {
        let from = &rest[start..];
        let Some(end) = from.find("-----END PGP ") else {
            blocks.push(from.as_bytes());
            break;
        };
        let line_end = from[end..].find('\n').map_or(from.len(), |n| end + n + 1);
        blocks.push(&from.as_bytes()[..line_end]);
        rest = &from[line_end..];
    }
    blocks
}

fn sign_with<K: SigningKey + KeyDetails>(
    key: &K,
    pw: &Password,
    release: &str,
    time: i64,
) -> pgp::errors::Result<Signatures> {
    let created = created(key, time);
    let detached =
        config(key, SignatureType::Binary, created)?.sign(key, pw, release.as_bytes())?;
    let release_gpg = DetachedSignature::new(detached).to_armored_string(ArmorOptions::default())?;
    let clear =
        CleartextSignedMessage::new(release, config(key, SignatureType::Text, created)?, key, pw)?;
    let in_release = clear.to_armored_string(ArmorOptions::default())?;
    Ok(Signatures {
        in_release,
        release_gpg,
    })
}

/// The signature time: `time`, or the key's creation if later.
fn created<K: KeyDetails>(key: &K, time: i64) -> Timestamp {
    Timestamp::from_secs(
        u32::try_from(time.max(0))
            .unwrap_or(u32::MAX)
            .max(key.created_at().as_secs()),
    )
}

fn detached_with<K: SigningKey + KeyDetails>(
    key: &K,
    data: &[u8],
    time: i64,
) -> pgp::errors::Result<String> {
    let created = created(key, time);
    let sig = config(key, SignatureType::Binary, created)?.sign(key, &Password::empty(), data)?;
    DetachedSignature::new(sig).to_armored_string(ArmorOptions::default())
}

fn config<K: SigningKey + KeyDetails>(
    key: &K,
    typ: SignatureType,
    created: Timestamp,
) -> pgp::errors::Result<SignatureConfig> {
    let hash = HashAlgorithm::Sha512;
    let mut config = match key.version() {
        KeyVersion::V6 => SignatureConfig::v6(rand::thread_rng(), typ, key.algorithm(), hash)?,
        _ => SignatureConfig::v4(typ, key.algorithm(), hash),
    };
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(created))?,
        Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
    ];
    if key.version() <= KeyVersion::V4 {
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
            key.legacy_key_id(),
        ))?];
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::armored_blocks;

    #[test]
    fn every_armored_block_of_a_file_is_found() {
        let a =
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n";
        let b =
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nBBBB\n-----END PGP PRIVATE KEY BLOCK-----";
        let text = format!("comment\n{a}between\n{b}");
        let blocks = armored_blocks(&text);
        assert_eq!(blocks, vec![a.as_bytes(), b.as_bytes()]);
        let cut = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nCC";
        assert_eq!(armored_blocks(cut), vec![cut.as_bytes()]);
        assert!(armored_blocks("no armor").is_empty());
    }
}
