//! The bytecode cache (`bytecode_cache`, on by default for CPython 3.7-3.10):
//! real builds with the real `cfy-ap` and pyenv's Python 3.7, offline. A warm
//! cache, a cold one and none make the same agent, byte for byte; the cache never
//! goes into the agent; a damaged entry is compiled afresh and replaced.

use crate::common;

use common::*;
use std::path::Path;

const PY37: &str = "/root/.pyenv/versions/3.7.16/bin/python3.7";

/// Build `name`.tar.gz with pip from the fixture wheels; the "N of M files from the
/// bytecode cache" line (-v), if any.
fn build(dir: &Path, name: &str, args: &[&str]) -> Option<(usize, usize)> {
    let out = build_output(dir, name, args);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("files from the bytecode cache"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words[0].parse().unwrap(), words[2].parse().unwrap()))
}

/// The run of [`build`], with `-v`; a hang fails it.
fn build_output(dir: &Path, name: &str, args: &[&str]) -> std::process::Output {
    assert!(
        Path::new(PY37).is_file(),
        "Python 3.7.16 is needed at {PY37} (pyenv install 3.7.16)"
    );
    let cfg = wheel_config(
        "cloudify/env",
        &format!("{name}.tar.gz"),
        "installer: pip\n",
    )
    .replace(
        &format!("python_path: {PYTHON}"),
        &format!("python_path: {PY37}"),
    );
    std::fs::write(dir.join("config.yaml"), cfg).unwrap();
    let mut all = vec!["-c", "config.yaml", "-f", "-v"];
    all.extend_from_slice(args);
    let xdg = dir.join("xdg");
    Cmd::cfy_ap()
        .current_dir(dir)
        .args(all)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("XDG_CACHE_HOME", xdg)
        .within(std::time::Duration::from_secs(300))
        .output()
}

/// The cache's pack files, and (pack, start, end) of every entry in them:
/// `cfy-ap pyc pack 1\n`, then per entry a 64-character key, the payload's
/// length (u32 LE) and sha256, the payload.
fn entries(cache: &Path) -> (Vec<std::path::PathBuf>, Vec<(usize, usize, usize)>) {
    const PACK: &[u8] = b"cfy-ap pyc pack 1\n";
    let mut packs: Vec<std::path::PathBuf> = walkdir::WalkDir::new(cache)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    packs.sort();
    let mut out = Vec::new();
    for (n, p) in packs.iter().enumerate() {
        let b = std::fs::read(p).unwrap();
        assert!(b.starts_with(PACK), "{} is not a pack", p.display());
        let mut at = PACK.len();
        while at < b.len() {
            let len = u32::from_le_bytes(b[at + 64..at + 68].try_into().unwrap()) as usize;
            out.push((n, at, at + 100 + len));
            at += 100 + len;
        }
    }
    (packs, out)
}

#[test]
fn warm_cold_and_no_cache_build_the_same_agent_and_a_damaged_entry_is_replaced() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let cache = dir.join("xdg/cfy-ap/pyc");

    assert_eq!(build(dir, "none", &["--no-bytecode-cache"]), None);
    assert!(!cache.exists(), "--no-bytecode-cache wrote a cache");
    let none = std::fs::read(dir.join("none.tar.gz")).unwrap();

    let (hits, total) = build(dir, "cold", &[]).expect("cache line");
    assert_eq!(hits, 0);
    assert!(total > 100, "{total} files");
    let (packs, cached) = entries(&cache);
    assert_eq!(packs.len(), 1, "one pack per build: {packs:?}");
    assert_eq!(cached.len(), total, "every compiled file cached");
    assert!(
        std::fs::read(dir.join("cold.tar.gz")).unwrap() == none,
        "cold cache build differs"
    );

    assert_eq!(build(dir, "warm", &[]), Some((total, total)));
    assert!(
        std::fs::read(dir.join("warm.tar.gz")).unwrap() == none,
        "warm cache build differs"
    );

    // Nothing of the cache (or its temporary files) is in the agent.
    let listing = tool("tar", &["tzf", dir.join("warm.tar.gz").to_str().unwrap()]);
    assert!(
        !listing.contains("xdg") && !listing.contains("cfy-ap/pyc"),
        "{listing}"
    );
    assert!(
        !listing.contains(".cfy-ap-tmp") && !listing.contains(".tmp."),
        "{listing}"
    );

    // Damaged entries (a flipped payload byte, a flipped checksum, the last one
    // cut short) are compiled afresh, not shipped, and replaced.
    let (packs, cached) = entries(&cache);
    let mut pack = std::fs::read(&packs[0]).unwrap();
    pack[cached[0].2 - 1] ^= 0x40;
    pack[cached[1].1 + 68] ^= 0x01;
    pack.truncate(cached[cached.len() - 1].2 - 5);
    std::fs::write(&packs[0], pack).unwrap();
    assert_eq!(build(dir, "damaged", &[]), Some((total - 3, total)));
    assert!(
        std::fs::read(dir.join("damaged.tar.gz")).unwrap() == none,
        "damaged cache leaked"
    );
    assert_eq!(build(dir, "repaired", &[]), Some((total, total)));
    assert!(std::fs::read(dir.join("repaired.tar.gz")).unwrap() == none);
}

/// What the build's -v output says about `name` in the cache, if anything.
fn skipped(out: &std::process::Output, name: &str) -> String {
    stderr(out)
        .lines()
        .find(|l| l.contains("bytecode cache: skipped") && l.contains(name))
        .unwrap_or_default()
        .to_string()
}

/// The (empty) bytecode cache `build` in `dir` uses.
fn made_cache(dir: &Path) -> std::path::PathBuf {
    let cache = dir.join("xdg/cfy-ap/pyc");
    std::fs::create_dir_all(&cache).unwrap();
    cache
}

/// One build over a cache holding a FIFO, a link to a device and a pack over the
/// size limit where packs go: each skipped with its reason (the FIFO never
/// waited for), left as it was, and the build writes a pack of its own.
#[test]
fn packs_that_are_fifos_links_devices_or_too_big_are_skipped() {
    let work = tempfile::tempdir().unwrap();
    let (dir, cache) = (work.path(), made_cache(work.path()));
    tool("mkfifo", &[cache.join("0.pack").to_str().unwrap()]);
    std::os::unix::fs::symlink("/dev/zero", cache.join("1.pack")).unwrap();
    // A pack one byte over the limit (sparse: it takes no room).
    let big = std::fs::File::create(cache.join("2.pack")).unwrap();
    std::io::Write::write_all(&mut &big, b"cfy-ap pyc pack 1\n").unwrap();
    big.set_len((256 << 20) + 1).unwrap();
    let out = build_output(dir, "odd", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let line = skipped(&out, "0.pack");
    assert!(
        line.ends_with("0.pack: it is not a regular file (a FIFO)"),
        "{}",
        text(&out)
    );
    assert!(
        skipped(&out, "1.pack").ends_with("1.pack: it is a symbolic link"),
        "{}",
        text(&out)
    );
    assert!(
        skipped(&out, "2.pack")
            .ends_with("2.pack: it is 268435457 bytes, more than the limit of 268435456 bytes"),
        "{}",
        text(&out)
    );
    // All three left as they were.
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::symlink_metadata(cache.join("0.pack")).unwrap();
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    assert!(
        std::fs::symlink_metadata(cache.join("1.pack"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        std::fs::metadata(cache.join("2.pack")).unwrap().len(),
        (256 << 20) + 1
    );
    // The pack this build wrote (the size of a real one: see MAX_PACK).
    for odd in ["0.pack", "1.pack", "2.pack"] {
        std::fs::remove_file(cache.join(odd)).unwrap();
    }
    let (packs, cached) = entries(&cache);
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert!(cached.len() > 100, "{} entries", cached.len());
    eprintln!(
        "a pack of {} entries: {} bytes",
        cached.len(),
        std::fs::metadata(&packs[0]).unwrap().len()
    );
}
