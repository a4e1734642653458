//! Debian version ordering (Debian Policy 5.6.12), used to sort index stanzas the
//! way `dpkg --compare-versions` would: `[epoch:]upstream[-revision]`, where `~`
//! sorts before everything (even the end of the string), letters before other
//! characters, and digit runs compare numerically.

use std::cmp::Ordering;

/// Whether `v` is a valid Debian version: `[epoch:]upstream[-revision]`, the
/// epoch digits, the upstream part starting with a digit, only letters, digits
/// and `.+~-:`, not ending in `-`.
pub(crate) fn is_valid(v: &str) -> bool {
    let rest = match v.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|c| c.is_ascii_digit()) => {
            rest
        }
        Some(_) => return false,
        None => v,
    };
    !rest.is_empty()
        && rest.as_bytes()[0].is_ascii_digit()
        && !rest.ends_with('-')
        && rest
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+~-:".contains(&c))
}

/// Compare two Debian version strings.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| compare_part(ra.as_bytes(), rb.as_bytes()))
}

/// `[epoch:]upstream[-revision]` → (epoch, upstream, revision). A missing epoch is 0,
/// a missing revision is empty (which compares equal to `0`).
fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// Weight of one non-digit character; `None` is the end of the string.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, character by character.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // Digit run, numerically: skip leading zeros, then the longer run wins, then
        // the first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn policy_examples() {
        for (a, want, b) in [
            ("1.0~rc1", Less, "1.0"),
            ("1.0~~", Less, "1.0~"),
            ("1.0", Less, "1.0+b1"),
            ("1.0-1~bpo1", Less, "1.0-1"),
            ("1:0.1", Greater, "9.9"),
            ("1.0", Less, "1.0.0"),
            ("1.10", Greater, "1.9"),
            ("1.0.0-1", Less, "1.0.0-10"),
            ("1.0a", Less, "1.0+"),
            ("1.0", Equal, "1.0-0"),
            ("0:1.0", Equal, "1.0"),
            ("1.0rc1", Greater, "1.0"),
            ("1.0.dev1", Greater, "1.0"),
            ("2.0.0a1", Greater, "2.0.0"),
            ("1.0-1", Equal, "1.0-01"),
            ("2:0.1~rc1-1", Greater, "1:9"),
            ("1.2.3-4-5", Greater, "1.2.3-4-4"),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
