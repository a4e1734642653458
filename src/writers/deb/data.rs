//! The tar streams inside the deb: GNU headers (`././@LongLink` for names over 100
//! bytes, never PAX), `./` names, directories ending in `/`, root:root, one mtime,
//! entries in sorted tree order with every parent directory. File contents are
//! hashed (md5) while they are streamed.

use crate::error::{Error, IoContext, Result};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use tar::{EntryType, Header};

const BLOCK: usize = 512;

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    Dir,
    File {
        path: PathBuf,
        /// Already compressed: written as deflate stored blocks.
        stored: bool,
    },
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// `./opt/x/` for directories, `./opt/x/file` for files.
    pub name: String,
    pub mode: u32,
    pub size: u64,
    pub content: Content,
}

impl Entry {
    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.content, Content::Dir)
    }
    /// The path md5sums uses: the name without `./`.
    pub(crate) fn md5_path(&self) -> &str {
        self.name.trim_start_matches("./")
    }
}

/// A compressing writer that may store some bytes uncompressed.
pub(crate) trait Sink: Write {
    fn set_store(&mut self, _store: bool) {}
}

impl Sink for Vec<u8> {}

/// Sorted tree from absolute file paths (`/opt/a/b`) with their content and mode;
/// parent directories (0755) are added, `./` included. Sizes of files on disk are
/// read here. Two files at the same path are an error.
pub(crate) fn tree(files: Vec<(String, Content, u32)>) -> Result<Vec<Entry>> {
    let mut map: BTreeMap<Vec<String>, Entry> = BTreeMap::new();
    let dir = |name: String| Entry {
        name,
        mode: 0o755,
        size: 0,
        content: Content::Dir,
    };
    map.insert(Vec::new(), dir("./".into()));
    for (path, content, mode) in files {
        let parts: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_string)
            .collect();
        for depth in 1..parts.len() {
            let key = parts[..depth].to_vec();
            let name = format!("./{}/", key.join("/"));
            map.entry(key).or_insert_with(|| dir(name));
        }
        let size = match &content {
            Content::File { path, .. } => std::fs::metadata(path).ctx("reading", path)?.len(),
            Content::Bytes(b) => b.len() as u64,
            Content::Dir => 0,
        };
        let entry = Entry {
            name: format!("./{}", parts.join("/")),
            mode,
            size,
            content,
        };
        if parts.is_empty() || map.insert(parts, entry).is_some() {
            return Err(Error::config(format!("two package files at {path}")));
        }
    }
    Ok(map.into_values().collect())
}

/// Writes the entries as a tar stream; returns the md5 of each (None for dirs).
pub(crate) fn write<S: Sink>(
    out: &mut S,
    entries: &[Entry],
    mtime: u64,
) -> Result<Vec<Option<[u8; 16]>>> {
    let mut sums = Vec::with_capacity(entries.len());
    let mut buf = Vec::new();
    for e in entries {
        let typ = if e.is_dir() {
            EntryType::Directory
        } else {
            EntryType::Regular
        };
        let head = headers(&e.name, typ, e.mode, e.size, mtime);
        let context = |err: io::Error| Error::build(format!("writing {}: {err}", e.name));
        out.write_all(&head).map_err(context)?;
        let sum = match &e.content {
            Content::Dir => None,
            Content::Bytes(b) => {
                out.write_all(b).map_err(context)?;
                Some(Md5::digest(b).into())
            }
            Content::File { path, stored } => {
                if buf.is_empty() {
                    buf = vec![0; 1 << 20];
                }
                out.set_store(*stored);
                let mut md5 = Md5::new();
                crate::codec::copy_hashed(path, e.size, out, &mut buf, &mut md5, "the package")?;
                out.set_store(false);
                Some(md5.finalize().into())
            }
        };
        let pad = (BLOCK - (e.size as usize % BLOCK)) % BLOCK;
        out.write_all(&[0; BLOCK][..pad]).map_err(context)?;
        sums.push(sum);
    }
    out.write_all(&[0; 2 * BLOCK])
        .map_err(|e| Error::build(format!("writing the tar end: {e}")))?;
    Ok(sums)
}

/// The header block(s) for one entry: a GNU long-name entry first when needed.
pub(crate) fn headers(name: &str, typ: EntryType, mode: u32, size: u64, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK);
    if name.len() > 100 {
        out.extend_from_slice(&block(
            b"././@LongLink",
            EntryType::GNULongName,
            0o644,
            name.len() as u64 + 1,
            0,
        ));
        let mut long = name.as_bytes().to_vec();
        long.push(0);
        long.resize(long.len().div_ceil(BLOCK) * BLOCK, 0);
        out.extend_from_slice(&long);
    }
    out.extend_from_slice(&block(
        &name.as_bytes()[..name.len().min(100)],
        typ,
        mode,
        size,
        mtime,
    ));
    out
}

/// One 512-byte GNU header (`tar::Header`; sizes of 8 GiB and more in GNU
/// base-256), root:root, with the checksum written as GNU tar and dpkg-deb do
/// (six octal digits, NUL, space; the crate writes seven digits and a NUL).
fn block(name: &[u8], typ: EntryType, mode: u32, size: u64, mtime: u64) -> [u8; BLOCK] {
    let mut h = Header::new_gnu();
    // Raw bytes: names here are already `./`-relative and at most 100 bytes.
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_entry_type(typ);
    h.set_username("root").expect("fits");
    h.set_groupname("root").expect("fits");
    let mut bytes = *h.as_bytes();
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|b| u32::from(*b)).sum();
    bytes[148..154].copy_from_slice(format!("{:06o}", sum & 0o777_777).as_bytes());
    bytes[154] = 0;
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_adds_parents_in_walk_order() {
        let files = vec![
            (
                "/usr/share/doc/p/copyright".to_string(),
                Content::Bytes(b"c".to_vec()),
                0o644,
            ),
            ("/opt/a.b/x".into(), Content::Bytes(vec![]), 0o644),
            ("/opt/a/y".into(), Content::Bytes(b"yy".to_vec()), 0o755),
        ];
        let names: Vec<String> = tree(files).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "./",
                "./opt/",
                "./opt/a/",
                "./opt/a/y",
                "./opt/a.b/",
                "./opt/a.b/x",
                "./usr/",
                "./usr/share/",
                "./usr/share/doc/",
                "./usr/share/doc/p/",
                "./usr/share/doc/p/copyright"
            ]
        );
        let dup = vec![
            ("/a/b".to_string(), Content::Bytes(vec![]), 0o644),
            ("/a/b".to_string(), Content::Bytes(vec![]), 0o644),
        ];
        assert!(tree(dup).is_err());
    }

    #[test]
    fn gnu_headers_read_back_with_tar() {
        let long = format!("./opt/{}/file", "d".repeat(120));
        let entries = tree(vec![
            (long.clone(), Content::Bytes(b"hello".to_vec()), 0o755),
            ("/etc/x".into(), Content::Bytes(vec![]), 0o644),
        ])
        .unwrap();
        let mut out = Vec::new();
        let sums = write(&mut out, &entries, 1234).unwrap();
        assert_eq!(out.len() % BLOCK, 0);
        assert!(!out.windows(8).any(|w| w == b"PaxHeade"));
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, u32, u64, u64, String)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (
                    raw,
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                    h.username().unwrap().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got[0], ("./".into(), 0o755, 1234, 0, "root".into()));
        assert_eq!(got.last().unwrap().0, long);
        assert_eq!(got.last().unwrap().1, 0o755);
        assert_eq!(
            sums.last().unwrap().unwrap(),
            <[u8; 16]>::from(Md5::digest(b"hello"))
        );
        assert!(sums[0].is_none());
    }

    #[test]
    fn header_checksum_and_base256() {
        let h = block(b"./x", EntryType::Regular, 0o644, 10, 0);
        assert_eq!(&h[154..156], b"\0 ");
        let stored: u32 =
            u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        let mut copy = h;
        copy[148..156].fill(b' ');
        assert_eq!(stored, copy.iter().map(|b| *b as u32).sum::<u32>());
        let big = block(b"./big", EntryType::Regular, 0o644, 10 << 30, 0);
        assert_eq!(big[124], 0x80);
        assert_eq!(
            u64::from_be_bytes(big[128..136].try_into().unwrap()),
            10 << 30
        );
    }
}
