//! HTTPS (`docs/protocol/front-door.md`, "Transport": the KPL only speaks TLS): a rustls server
//! configuration from PEM files, or from a self-signed certificate for `localhost` kept in the data
//! directory. ALPN offers `h2` and `http/1.1`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The names the self-signed certificate is valid for.
const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
pub const SELF_SIGNED_CERT_FILE: &str = "self-signed-cert.pem";
pub const SELF_SIGNED_KEY_FILE: &str = "self-signed-key.pem";

/// A ready TLS server configuration.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").field("alpn", &self.server.alpn_protocols).finish_non_exhaustive()
    }
}

/// Where a self-signed certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfSigned {
    /// Made now and written to the data directory.
    Generated,
    /// Found in the data directory from an earlier start (clients that trust it keep working).
    Reused,
}

impl TlsConfig {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, String> {
        let certs = read_certs(cert)?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
        TlsConfig::new(certs, key)
    }

    /// The self-signed certificate for localhost in `dir` (`self-signed-cert.pem` and
    /// `self-signed-key.pem`): reused when both files are there and load, otherwise generated
    /// and written (the key readable by its owner only). Returns the certificate's path too.
    pub fn self_signed(dir: &Path) -> Result<(TlsConfig, PathBuf, SelfSigned), String> {
        let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
        let key_path = dir.join(SELF_SIGNED_KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            if let Ok(config) = TlsConfig::from_pem_files(&cert_path, &key_path) {
                return Ok((config, cert_path, SelfSigned::Reused));
            }
        }
        let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|n| n.to_string()).collect();
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| format!("cannot generate a self-signed certificate: {e}"))?;
        let cannot_write = |path: &Path, e: io::Error| format!("cannot write {}: {e}", path.display());
        create_owner_only_dir(dir).map_err(|e| cannot_write(dir, e))?;
        write_file(&key_path, generated.signing_key.serialize_pem().as_bytes(), true)
            .map_err(|e| cannot_write(&key_path, e))?;
        write_file(&cert_path, generated.cert.pem().as_bytes(), false)
            .map_err(|e| cannot_write(&cert_path, e))?;
        let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
            .map_err(|e| format!("the generated key does not load: {e}"))?;
        let config = TlsConfig::new(vec![generated.cert.der().clone()], key)?;
        Ok((config, cert_path, SelfSigned::Generated))
    }

    fn new(certs: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<TlsConfig, String> {
        // An explicit provider: test builds also compile rustls's aws-lc provider (for the SDK),
        // and with two compiled in rustls will not pick a default.
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfig { server: Arc::new(server) })
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let cannot =
        |e: rustls::pki_types::pem::Error| format!("cannot read certificates from {}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(cannot)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cannot)?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()));
    }
    Ok(certs)
}

/// Creates `dir` (and missing parents) readable by the owner only, like the rest of the data
/// directory.
fn create_owner_only_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place, so that a crash
/// never leaves half a key behind.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let temp = path.with_extension("pem.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_generated_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("kinesin-tls-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (config, cert, how) = TlsConfig::self_signed(&dir).unwrap();
        assert_eq!(how, SelfSigned::Generated);
        assert_eq!(cert, dir.join(SELF_SIGNED_CERT_FILE));
        assert_eq!(config.server.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let first = fs::read_to_string(&cert).unwrap();
        assert!(first.starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(SELF_SIGNED_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
        let (_, _, how) = TlsConfig::self_signed(&dir).unwrap();
        assert_eq!(how, SelfSigned::Reused);
        assert_eq!(fs::read_to_string(&cert).unwrap(), first);
        // A key that does not match the certificate is refused.
        let other = dir.join("other");
        TlsConfig::self_signed(&other).unwrap();
        let err = TlsConfig::from_pem_files(&cert, &other.join(SELF_SIGNED_KEY_FILE)).unwrap_err();
        assert!(err.contains("do not fit together"), "{err}");
        // A file without certificates is named.
        let err = TlsConfig::from_pem_files(&dir.join(SELF_SIGNED_KEY_FILE), &dir.join(SELF_SIGNED_KEY_FILE))
            .unwrap_err();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
