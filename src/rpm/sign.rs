//! Signing the rpm with `package.sign_key`, an armored OpenPGP secret key whose
//! passphrase comes from `CFY_AP_SIGN_PASSPHRASE`. The key is loaded and tried
//! (a signature over nothing) before any build work, so an unreadable key or a
//! wrong passphrase fails first and leaves nothing behind.

use crate::error::{Error, Result};
use crate::publish::PASSPHRASE_ENV;
use ::rpm::signature::Signing;
use ::rpm::signature::pgp::Signer;
use pgp::composed::{Deserializable, SignedSecretKey};
use pgp::types::KeyDetails;
use std::path::{Path, PathBuf};

/// A checked signing key.
#[derive(Debug)]
pub struct RpmSigner {
    pub path: PathBuf,
    signer: Signer,
    /// The newest creation time of the key and its subkeys: signatures are never
    /// dated before it (rpm with the Sequoia backend rejects those).
    not_before: u32,
}

impl RpmSigner {
    pub fn load(path: &Path) -> Result<RpmSigner> {
        let bad = |msg: String| {
            Error::config(format!("package.sign_key {}: {msg}", path.display())).with(
                "expected an armored OpenPGP secret key, e.g. from \
                 `gpg --armor --export-secret-keys FINGERPRINT`",
            )
        };
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let text = std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----"))
            .ok_or_else(|| bad("not an armored secret key".into()))?;
        let (key, _) = SignedSecretKey::from_string(text)
            .map_err(|e| bad(format!("not a usable secret key: {e}")))?;
        let encrypted = key.primary_key.secret_params().is_encrypted()
            || key
                .secret_subkeys
                .iter()
                .any(|k| k.key.secret_params().is_encrypted());
        let not_before = std::iter::once(key.primary_key.created_at())
            .chain(key.secret_subkeys.iter().map(|k| k.key.created_at()))
            .map(|t| t.as_secs())
            .max()
            .unwrap_or(0);
        let mut signer =
            Signer::from_asc(text).map_err(|e| bad(format!("cannot sign with it: {e}")))?;
        let passphrase = std::env::var(PASSPHRASE_ENV).ok();
        if let Some(p) = &passphrase {
            signer = signer.with_key_passphrase(p.clone());
        }
        if let Err(e) = signer.sign(&b""[..], ::rpm::Timestamp(not_before)) {
            let msg = match (&passphrase, encrypted) {
                (None, true) => format!("the key is passphrase-protected; set {PASSPHRASE_ENV}"),
                (Some(_), true) => format!("wrong passphrase (from {PASSPHRASE_ENV})"),
                _ => format!("cannot sign with it: {e}"),
            };
            return Err(Error::config(format!(
                "package.sign_key {}: {msg}",
                path.display()
            )));
        }
        Ok(RpmSigner {
            path: path.to_path_buf(),
            signer,
            not_before,
        })
    }

    /// The signature of `header` (the main header's bytes); `time` (the build
    /// time) is raised to the key's creation time when earlier.
    pub fn signature(&self, header: &[u8], time: u32) -> Result<Vec<u8>> {
        self.signer
            .sign(header, ::rpm::Timestamp(time.max(self.not_before)))
            .map_err(|e| Error::build(format!("signing the rpm with {}: {e}", self.path.display())))
    }

    /// Signs the package header; `time` (the build time) is raised to the key's
    /// creation time when earlier.
    pub fn sign(&self, pkg: &mut ::rpm::Package, time: u32) -> Result<()> {
        pkg.sign_with_timestamp(&self.signer, time.max(self.not_before))
            .map_err(|e| Error::build(format!("signing the rpm with {}: {e}", self.path.display())))
    }
}
