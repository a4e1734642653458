//! The head of an rpm file — the lead, the signature header with its padding
//! and the header — read and checked the way rpm reads it (`rpmLeadRead`,
//! `hdrblobRead`: magic numbers, size limits, the region tag and its trailer,
//! every index entry's tag, type, alignment and data inside the data store,
//! entries in data order). What rpm refuses ("not an rpm package", `rpm -K`)
//! is refused here, and the `rpm` crate, which indexes its data store
//! unchecked, is only given heads that pass.
//!
//! Memory grows with the bytes actually read, not with the sizes a file
//! declares.

use std::io::Read;

/// Size of the lead.
const LEAD: usize = 96;
/// The magic of a header, with its reserved bytes (zero).
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
/// The size of an index entry, and the count of a region tag.
const ENTRY: usize = 16;
/// `RPMTAG_HEADERIMAGE`, `RPMTAG_HEADERSIGNATURES`, `RPMTAG_HEADERIMMUTABLE`.
const IMAGE: u32 = 61;
const SIGNATURES: u32 = 62;
const IMMUTABLE: u32 = 63;
/// `RPMTAG_HEADERI18NTABLE`: tags below it are regions, never data.
const FIRST_DATA_TAG: i32 = 100;
/// `RPM_BIN_TYPE`, the type of a region tag.
const BIN: u32 = 7;
/// rpm's limits: 32 tags and 64 KiB of data in a signature header; 65535 tags
/// and 256 MiB for a header.
const SIG_TAGS: u32 = 32;
const SIG_DATA: u32 = 64 << 10;
const TAGS: u32 = 0xffff;
const DATA: u32 = 0x0fff_ffff;
const HEADER_MAX: u64 = 256 << 20;

/// The head of an rpm: its bytes and where the header starts (after the lead,
/// the signature header and its padding). The payload starts at `bytes.len()`.
pub(super) struct Head {
    pub bytes: Vec<u8>,
    pub header_start: usize,
}

/// Read and check the head of an rpm from `r` (positioned at the lead).
pub(super) fn read(r: &mut impl Read) -> Result<Head, String> {
    let mut bytes = Vec::with_capacity(8192);
    take(r, &mut bytes, 4, "lead")?;
    if !crate::repo::kind::looks_like_rpm(&bytes) {
        return Err("no rpm lead (magic ed ab ee db)".into());
    }
    take(r, &mut bytes, LEAD - 4, "lead")?;
    lead(&bytes)?;
    blob(r, &mut bytes, &SIGNATURE)?;
    // The signature header is padded to a multiple of 8 bytes.
    let pad = (8 - bytes.len() % 8) % 8;
    take(r, &mut bytes, pad, "signature header padding")?;
    let header_start = bytes.len();
    blob(r, &mut bytes, &HEADER)?;
    Ok(Head {
        bytes,
        header_start,
    })
}

/// Append exactly `n` bytes of `r` to `bytes`.
fn take(r: &mut impl Read, bytes: &mut Vec<u8>, n: usize, what: &str) -> Result<(), String> {
    let want = bytes.len() + n;
    r.by_ref()
        .take(n as u64)
        .read_to_end(bytes)
        .map_err(|e| format!("read failed: {e}"))?;
    if bytes.len() < want {
        return Err(format!("the file ends inside its {what} (truncated)"));
    }
    Ok(())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// rpm's lead checks (after the magic): format version 3 or 4, header-style
/// signature.
fn lead(b: &[u8]) -> Result<(), String> {
    if !(3..=4).contains(&b[4]) {
        return Err(format!("unsupported rpm format version {}", b[4]));
    }
    let sigtype = u16::from_be_bytes([b[78], b[79]]);
    if sigtype != 5 {
        return Err(format!(
            "lead: signature type {sigtype}, not 5 (a header signature)"
        ));
    }
    Ok(())
}

/// The two header blobs of a package.
struct Kind {
    name: &'static str,
    region: u32,
    max_tags: u32,
    max_data: u32,
    /// The region covers the whole header (so it does in a package's header;
    /// a signature header may have entries added after its region).
    exact: bool,
}

const SIGNATURE: Kind = Kind {
    name: "signature header",
    region: SIGNATURES,
    max_tags: SIG_TAGS,
    max_data: SIG_DATA,
    exact: false,
};

const HEADER: Kind = Kind {
    name: "header",
    region: IMMUTABLE,
    max_tags: TAGS,
    max_data: DATA,
    exact: true,
};

/// One index entry: tag, type, offset, count.
struct Entry {
    tag: u32,
    kind: u32,
    offset: i64,
    count: u32,
}

impl Entry {
    fn at(index: &[u8], i: usize) -> Entry {
        let b = &index[i * ENTRY..];
        Entry {
            tag: be32(b, 0),
            kind: be32(b, 4),
            offset: i64::from(be32(b, 8) as i32),
            count: be32(b, 12),
        }
    }
}

/// Read one header blob (magic, counts, index, data store) onto `bytes` and
/// check it.
fn blob(r: &mut impl Read, bytes: &mut Vec<u8>, kind: &Kind) -> Result<(), String> {
    let name = kind.name;
    let start = bytes.len();
    take(r, bytes, 16, name)?;
    if bytes[start..start + 8] != HEADER_MAGIC {
        return Err(format!("{name}: bad magic"));
    }
    let (il, dl) = (be32(bytes, start + 8), be32(bytes, start + 12));
    if il > kind.max_tags {
        return Err(format!("{name}: {il} entries, more than rpm reads"));
    }
    if dl > kind.max_data {
        return Err(format!("{name}: {dl} bytes of data, more than rpm reads"));
    }
    let rest = il as usize * ENTRY + dl as usize;
    if 8 + rest as u64 >= HEADER_MAX {
        return Err(format!("{name}: larger than rpm reads"));
    }
    take(r, bytes, rest, name)?;
    let index = &bytes[start + 16..start + 16 + il as usize * ENTRY];
    let store = &bytes[start + 16 + index.len()..];
    check(kind, index, store).map_err(|why| format!("{name}: {why}"))
}

/// The region tag and the entries of one blob (`index`, `store`).
fn check(kind: &Kind, index: &[u8], store: &[u8]) -> Result<(), String> {
    let il = index.len() / ENTRY;
    let dl = store.len() as i64;
    if il == 0 {
        return Err("no entries".into());
    }
    // The region: its tag first, of type BIN and count 16, pointing at a
    // trailer in the data store that names the region again and how many
    // entries and bytes it covers.
    let region = Entry::at(index, 0);
    if region.tag != kind.region {
        return Err(format!(
            "first entry is tag {}, not the region tag {}",
            region.tag, kind.region
        ));
    }
    if region.kind != BIN || region.count != ENTRY as u32 {
        return Err(format!(
            "region tag of type {} and count {}",
            region.kind, region.count
        ));
    }
    let trailer_end = region.offset + ENTRY as i64;
    if region.offset < 0 || trailer_end > dl {
        return Err(format!(
            "region trailer at {} outside the data",
            region.offset
        ));
    }
    let trailer = Entry::at(&store[region.offset as usize..], 0);
    // Old packages name HEADERIMAGE in their signature region's trailer.
    let trailer_tag = match (kind.region, trailer.tag) {
        (SIGNATURES, IMAGE) => SIGNATURES,
        (_, t) => t,
    };
    if trailer_tag != kind.region || trailer.kind != BIN || trailer.count != ENTRY as u32 {
        return Err(format!(
            "bad region trailer (tag {}, type {}, count {})",
            trailer.tag, trailer.kind, trailer.count
        ));
    }
    // The trailer's offset is minus the size of the region's index.
    let covered = -trailer.offset;
    let ril = covered / ENTRY as i64;
    if covered % ENTRY as i64 != 0 || !(0..=il as i64).contains(&ril) {
        return Err(format!("region of {covered} index bytes in {il} entries"));
    }
    if kind.exact && (ril != il as i64 || trailer_end != dl) {
        return Err(format!(
            "region covers {ril} of {il} entries and {trailer_end} of {dl} bytes"
        ));
    }
    // Every other entry: a data tag of a known type, aligned, its data inside
    // the store and after the previous entry's.
    let mut end = 0i64;
    for i in 1..il {
        let e = Entry::at(index, i);
        let bad = |why: &str| {
            format!(
                "entry {i} (tag {}, type {}, offset {}, count {}): {why}",
                e.tag, e.kind, e.offset, e.count
            )
        };
        if e.offset < 0 || e.offset > dl {
            return Err(bad("outside the data"));
        }
        if e.offset < end {
            return Err(bad("overlaps the previous entry's data"));
        }
        // rpm reads tags as signed: "negative" ones are refused too.
        if (e.tag as i32) < FIRST_DATA_TAG {
            return Err(bad("not a data tag"));
        }
        let align = match e.kind {
            0..=2 | 6..=9 => 1,
            3 => 2,
            4 => 4,
            5 => 8,
            _ => return Err(bad("unknown type")),
        };
        if e.offset % align != 0 {
            return Err(bad("misaligned"));
        }
        let len = length(&e, &store[e.offset as usize..]).ok_or_else(|| bad("bad data"))?;
        end = e.offset + len as i64;
    }
    Ok(())
}

/// The length of an entry's data in `data` (the store from its offset), if it
/// is there whole and not empty.
fn length(e: &Entry, data: &[u8]) -> Option<usize> {
    let size: u64 = match e.kind {
        // STRING: one, NUL-terminated.
        6 if e.count != 1 => return None,
        // STRING, STRING_ARRAY, I18NSTRING: `count` NUL-terminated strings.
        6 | 8 | 9 => {
            let mut len = 0;
            for _ in 0..e.count {
                len += data.get(len..)?.iter().position(|&b| b == 0)? + 1;
            }
            return (len > 0).then_some(len);
        }
        1 | 2 | 7 => 1,
        3 => 2,
        4 => 4,
        5 => 8,
        _ => 0,
    };
    let len = size * u64::from(e.count);
    (len > 0 && len <= data.len() as u64).then_some(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob: region entry + `entries`, data `store` + the trailer.
    fn blob_bytes(region: u32, entries: &[[u32; 4]], store: &[u8]) -> Vec<u8> {
        let il = entries.len() as u32 + 1;
        let mut data = store.to_vec();
        let trailer_at = data.len() as u32;
        for v in [region, BIN, (-(il as i32 * 16)) as u32, 16] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let mut b = HEADER_MAGIC.to_vec();
        b.extend_from_slice(&il.to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for v in [region, BIN, trailer_at, 16] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        for e in entries {
            for v in e {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b.extend_from_slice(&data);
        b
    }

    fn lead_bytes() -> Vec<u8> {
        let mut l = vec![0u8; LEAD];
        l[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
        l[4] = 3;
        l[79] = 5;
        l
    }

    fn file(sig: &[u8], hdr: &[u8]) -> Vec<u8> {
        let mut f = lead_bytes();
        f.extend_from_slice(sig);
        f.resize(f.len().div_ceil(8) * 8, 0);
        f.extend_from_slice(hdr);
        f.extend_from_slice(b"payload");
        f
    }

    #[test]
    fn a_well_formed_head_reads_and_bad_ones_do_not() {
        let sig = blob_bytes(SIGNATURES, &[[1000, 4, 0, 1]], &[0, 0, 0, 9]);
        let hdr = blob_bytes(
            IMMUTABLE,
            &[[1000, 6, 0, 1], [1006, 8, 4, 2], [1009, 4, 12, 2]],
            b"abc\0x\0yz\0\0\0\0\0\0\0\x01\0\0\0\x02",
        );
        let good = file(&sig, &hdr);
        let head = read(&mut &good[..]).unwrap();
        assert_eq!(head.header_start, 96 + sig.len().div_ceil(8) * 8);
        assert_eq!(head.bytes.len(), good.len() - b"payload".len());

        let at = |hdr_entry: usize, field: usize| {
            96 + sig.len().div_ceil(8) * 8 + 16 + hdr_entry * 16 + field * 4
        };
        let set = |at: usize, v: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            b
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("lead magic", set(0, 0)),
            ("version", {
                let mut b = good.clone();
                b[4] = 9;
                b
            }),
            ("signature type", set(76, 1)),
            ("truncated", good[..good.len() - 30].to_vec()),
            ("header magic", set(96, 0)),
            ("reserved", set(100, 1)),
            ("too many signature tags", set(104, 33)),
            ("huge data", set(at(0, 0) - 4, u32::MAX)),
            ("huge count", set(at(3, 3), u32::MAX)),
            ("offset outside", set(at(1, 2), 4000)),
            ("negative offset", set(at(1, 2), u32::MAX)),
            ("no region", set(at(0, 0), 1000)),
            ("region type", set(at(0, 1), 4)),
            ("low tag", set(at(1, 0), 5)),
            ("negative tag", set(at(1, 0), u32::MAX)),
            ("bad type", set(at(1, 1), 12)),
            ("misaligned", set(at(3, 2), 13)),
            ("overlap", set(at(3, 2), 4)),
            ("string count", set(at(1, 3), 2)),
            ("strings past the end", set(at(2, 3), 1000)),
        ];
        for (what, b) in cases {
            assert!(read(&mut &b[..]).is_err(), "{what}");
        }
    }
}
