//! Encryption at rest: the store's data key, the per-shard keys derived from it, and the nonce
//! epoch that keeps nonces unique even when a sequence index is written twice.
//!
//! `DATA/keys/data.key` (mode 0600, in a 0700 directory):
//!
//! ```text
//! offset  size
//! 0       8     magic    "KNSNKEY1"
//! 8       4     key_id   u32 LE, random: every frame encrypted under the key names it
//! 12      32    key      the 256-bit data key, random
//! 44      4     epoch    u32 LE: the highest nonce epoch reserved so far
//! 48      4     crc32c   u32 LE of bytes 0..48
//! ```
//!
//! Each shard encrypts with its own ChaCha20-Poly1305 key, HKDF-SHA256 of the data key with the
//! shard's stream id and index as info; its nonces are `seq_ix u64 LE | epoch u32 LE`. A
//! `seq_ix` is written a second time only after a batch failed (the retry reuses the same
//! indices) or after a crash (unacknowledged frames are cut off and the indices reused); both
//! move to a new epoch first, reserved durably in the key file before its first use, so no
//! (shard key, nonce) pair ever encrypts two different frames.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use kinesin_engine::storage::{ShardKey, StoreError};
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::vfs::{ensure_dir, OpenMode, Vfs};

const MAGIC: &[u8; 8] = b"KNSNKEY1";
const FILE_LEN: usize = 52;
/// The Poly1305 tag after each encrypted payload.
pub(crate) const TAG_LEN: usize = 16;
/// HKDF salt for the per-shard keys (a domain separator; the data key is the secret).
const KDF_SALT: &[u8] = b"kinesin/segment-key/v1";

/// The store's data key and nonce epoch. Key writes always sync, whatever the durability
/// setting: an epoch must never be reused after a machine crash.
pub(crate) struct Keys {
    fs: Arc<dyn Vfs>,
    dir: PathBuf,
    key_id: u32,
    secret: [u8; 32],
    prk: hkdf::Prk,
    epoch: Mutex<Epoch>,
}

struct Epoch {
    /// The highest epoch recorded in the key file.
    reserved: u32,
    /// Whether `reserved` may be used: false at open (a crashed run may have used it) and after
    /// a failed write of encrypted frames (their indices will be written again).
    usable: bool,
}

/// One shard's cipher.
pub(crate) struct ShardCipher {
    key: LessSafeKey,
    key_id: u32,
}

fn random(buf: &mut [u8]) -> io::Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| io::Error::other("the OS random number generator failed"))
}

fn encode(key_id: u32, secret: &[u8; 32], epoch: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(FILE_LEN);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&key_id.to_le_bytes());
    buf.extend_from_slice(secret);
    buf.extend_from_slice(&epoch.to_le_bytes());
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf
}

fn decode(buf: &[u8]) -> Option<(u32, [u8; 32], u32)> {
    if buf.len() != FILE_LEN || &buf[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(buf[48..52].try_into().ok()?);
    if crc32c::crc32c(&buf[..48]) != crc {
        return None;
    }
    let key_id = u32::from_le_bytes(buf[8..12].try_into().ok()?);
    let secret = buf[12..44].try_into().ok()?;
    let epoch = u32::from_le_bytes(buf[44..48].try_into().ok()?);
    Some((key_id, secret, epoch))
}

impl Keys {
    /// Loads `root/keys/data.key`, generating a new key if there is none.
    pub fn open(fs: Arc<dyn Vfs>, root: &Path) -> Result<Keys, StoreError> {
        let dir = root.join("keys");
        ensure_dir(&*fs, &dir, true)?;
        owner_only(&*fs, &dir);
        let path = dir.join("data.key");
        match fs.remove_file(&path.with_extension("key.tmp")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let existing = match fs.open(&path, OpenMode::Existing) {
            Ok(file) => {
                let mut buf = vec![0; file.len()?.min(FILE_LEN as u64 + 1) as usize];
                file.read_exact_at(&mut buf, 0)?;
                Some(decode(&buf).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "{} is damaged: it is not a kinesin data key (restore it from a backup; without \
                         it, encrypted records cannot be read)",
                        path.display()
                    ))
                })?)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let (key_id, secret, reserved) = match existing {
            Some(found) => found,
            None => {
                let mut secret = [0; 32];
                random(&mut secret)?;
                let mut id = [0; 4];
                random(&mut id)?;
                let key_id = u32::from_le_bytes(id);
                write_file(&*fs, &dir, key_id, &secret, 0)?;
                let had_streams =
                    fs.list_dir(&root.join("streams")).map(|entries| !entries.is_empty()).unwrap_or(false);
                if had_streams {
                    tracing::warn!(
                        path = %path.display(),
                        key_id = format_args!("{key_id:08x}"),
                        "no data key found: generated a new one; records encrypted under an earlier key cannot be read"
                    );
                } else {
                    tracing::info!(path = %path.display(), key_id = format_args!("{key_id:08x}"), "generated the data key");
                }
                (key_id, secret, 0)
            }
        };
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, KDF_SALT).extract(&secret);
        Ok(Keys { fs, dir, key_id, secret, prk, epoch: Mutex::new(Epoch { reserved, usable: false }) })
    }

    /// The cipher of one shard.
    pub fn shard_cipher(&self, shard: ShardKey) -> ShardCipher {
        let stream = shard.stream_id.to_le_bytes();
        let index = shard.shard_index.to_le_bytes();
        let info: [&[u8]; 2] = [&stream, &index];
        let okm = self.prk.expand(&info, &CHACHA20_POLY1305).expect("a 32-byte HKDF output");
        ShardCipher { key: LessSafeKey::new(UnboundKey::from(okm)), key_id: self.key_id }
    }

    /// The epoch to encrypt a batch with; reserves a new one in the key file first if the
    /// current one may have been used for the same sequence indices already.
    pub fn nonce_epoch(&self) -> Result<u32, StoreError> {
        let mut epoch = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        if !epoch.usable {
            let next = epoch
                .reserved
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt("the data key's nonce epochs are used up".into()))?;
            write_file(&*self.fs, &self.dir, self.key_id, &self.secret, next)?;
            *epoch = Epoch { reserved: next, usable: true };
        }
        Ok(epoch.reserved)
    }

    /// A write of encrypted frames failed (or may have failed): their sequence indices will be
    /// written again, so the next batch needs a new epoch.
    pub fn note_failure(&self) {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner).usable = false;
    }
}

/// Restricts `path` to its owner, or warns: a file system without Unix permissions (some
/// mounts) must not keep the store from opening.
fn owner_only(fs: &dyn Vfs, path: &Path) {
    if let Err(e) = fs.set_owner_only(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not make the data key readable by its owner only");
    }
}

/// Replaces `dir/data.key` atomically: temp file (owner-only), sync, rename, sync the directory.
fn write_file(fs: &dyn Vfs, dir: &Path, key_id: u32, secret: &[u8; 32], epoch: u32) -> io::Result<()> {
    let path = dir.join("data.key");
    let tmp = path.with_extension("key.tmp");
    let file = fs.open(&tmp, OpenMode::Truncate)?;
    owner_only(fs, &tmp);
    file.write_all_at(&encode(key_id, secret, epoch), 0)?;
    file.sync_data()?;
    fs.rename(&tmp, &path)?;
    fs.sync_dir(dir)
}

impl ShardCipher {
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    fn nonce(seq_ix: u64, epoch: u32) -> Nonce {
        let mut nonce = [0; NONCE_LEN];
        nonce[..8].copy_from_slice(&seq_ix.to_le_bytes());
        nonce[8..].copy_from_slice(&epoch.to_le_bytes());
        Nonce::assume_unique_for_key(nonce)
    }

    /// Encrypts `in_out` in place, authenticating `aad` too; returns the tag.
    pub fn seal(&self, seq_ix: u64, epoch: u32, aad: &[u8], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        let tag: Tag = self
            .key
            .seal_in_place_separate_tag(Self::nonce(seq_ix, epoch), Aad::from(aad), in_out)
            .expect("a frame payload is far below ChaCha20-Poly1305's limit");
        tag.as_ref().try_into().expect("a 16-byte tag")
    }

    /// Decrypts `in_out` (ciphertext then tag) in place; the plaintext, or `None` if the
    /// ciphertext, the tag or `aad` was altered (or another key encrypted it).
    pub fn open<'a>(
        &self,
        seq_ix: u64,
        epoch: u32,
        aad: &[u8],
        in_out: &'a mut [u8],
    ) -> Option<&'a mut [u8]> {
        self.key.open_in_place(Self::nonce(seq_ix, epoch), Aad::from(aad), in_out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimFs;

    #[test]
    fn the_key_is_generated_once_and_epochs_only_grow() {
        let fs = SimFs::new();
        let root = Path::new("/data");
        ensure_dir(&fs, root, true).unwrap();
        let keys = Keys::open(Arc::new(fs.clone()), root).unwrap();
        let (id, secret) = (keys.key_id, keys.secret);
        assert_eq!(keys.nonce_epoch().unwrap(), 1);
        assert_eq!(keys.nonce_epoch().unwrap(), 1);
        keys.note_failure();
        assert_eq!(keys.nonce_epoch().unwrap(), 2);

        // After a power cut the key is the same and the next epoch is new.
        let after = fs.power_cut();
        let keys = Keys::open(Arc::new(after.clone()), root).unwrap();
        assert_eq!((keys.key_id, keys.secret), (id, secret));
        assert_eq!(keys.nonce_epoch().unwrap(), 3);

        // Shards get different keys: a frame sealed for one does not open in another.
        let a = keys.shard_cipher(ShardKey { stream_id: 1, shard_index: 0 });
        let b = keys.shard_cipher(ShardKey { stream_id: 1, shard_index: 1 });
        let mut buf = b"secret".to_vec();
        let tag = a.seal(5, 3, b"aad", &mut buf);
        assert_ne!(&buf[..], b"secret");
        buf.extend_from_slice(&tag);
        assert!(b.open(5, 3, b"aad", &mut buf.clone()).is_none());
        assert!(a.open(5, 3, b"other aad", &mut buf.clone()).is_none());
        assert!(a.open(6, 3, b"aad", &mut buf.clone()).is_none());
        assert_eq!(a.open(5, 3, b"aad", &mut buf).unwrap(), b"secret");

        // A damaged key file is an error, never silently replaced.
        let file = after.open(&root.join("keys/data.key"), OpenMode::Existing).unwrap();
        // Flip the byte's bits: writing a fixed value left the file intact whenever the random
        // key already had it there (one run in 256).
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, 20).unwrap();
        file.write_all_at(&[!byte[0]], 20).unwrap();
        assert!(matches!(Keys::open(Arc::new(after), root), Err(StoreError::Corrupt(_))));
    }
}
