//! Signing the rpm with `package.sign_key`: the key is loaded and unlocked by the
//! one loader ([`crate::openpgp`]) and wrapped for the `rpm` crate, which wants
//! the armored text. It is tried (a signature over nothing) before any build
//! work, so an unusable key or a wrong passphrase fails first and leaves
//! nothing behind.

use crate::error::{Error, Result};
use crate::openpgp;
use ::rpm::signature::Signing;
use ::rpm::signature::pgp::Signer;
use std::path::{Path, PathBuf};

/// A checked signing key.
#[derive(Debug)]
pub(crate) struct RpmSigner {
    pub path: PathBuf,
    signer: Signer,
    /// The newest creation time of the key and its subkeys: signatures are never
    /// dated before it (rpm with the Sequoia backend rejects those).
    not_before: u32,
}

impl RpmSigner {
    pub(crate) fn load(path: &Path) -> Result<RpmSigner> {
        const LABEL: &str = "package.sign_key";
        let key = openpgp::Signer::load_as(LABEL, path, openpgp::passphrase(None).as_deref())?;
        let bad = |msg: String| Error::config(format!("{LABEL} {}: {msg}", path.display()));
        let text = key.armored().ok_or_else(|| {
            bad("not an armored secret key".into())
                .with("export it with `gpg --armor --export-secret-keys FINGERPRINT`")
        })?;
        // Sign with the key the loader chose (checked: not expired, not revoked),
        // not the crate's own pick.
        let fpr = hex::decode(key.fingerprint()).expect("hex fingerprint");
        let mut signer = Signer::from_asc(text)
            .and_then(|s| s.with_signing_key(&fpr))
            .map_err(|e| bad(format!("cannot sign with it: {e}")))?;
        if let Some(p) = key.passphrase() {
            signer = signer.with_key_passphrase(p.to_string());
        }
        let not_before = key.not_before();
        signer
            .sign(&b""[..], ::rpm::Timestamp(not_before))
            .map_err(|e| bad(format!("cannot sign with it: {e}")))?;
        Ok(RpmSigner {
            path: path.to_path_buf(),
            signer,
            not_before,
        })
    }

    /// The signature of `header` (the main header's bytes); `time` (the build
    /// time) is raised to the key's creation time when earlier.
    pub(crate) fn signature(&self, header: &[u8], time: u32) -> Result<Vec<u8>> {
        self.signer
            .sign(header, ::rpm::Timestamp(time.max(self.not_before)))
            .map_err(|e| Error::build(format!("signing the rpm with {}: {e}", self.path.display())))
    }

    /// Signs the package header; `time` (the build time) is raised to the key's
    /// creation time when earlier.
    pub(crate) fn sign(&self, pkg: &mut ::rpm::Package, time: u32) -> Result<()> {
        pkg.sign_with_timestamp(&self.signer, time.max(self.not_before))
            .map_err(|e| Error::build(format!("signing the rpm with {}: {e}", self.path.display())))
    }
}
