//! Field positions of a document, keyed by display path (pure).

use crate::diag::Pos;

/// Positions of fields inside one document, keyed by display path (`spec.ports[0].name`).
/// The root has the empty path.
///
/// Paths are stored as 64-bit FNV-1a hashes of their display text, computed incrementally while
/// parsing, so recording a position allocates nothing; a lookup hashes the queried text.
/// Entries are kept in a sorted vector (16 bytes each, no slack): a large tree holds one
/// index per document.
#[derive(Clone, Debug, Default)]
pub struct PathIndex {
    positions: Vec<(u64, Pos)>,
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The hash of a display path, extended segment by segment exactly as [`join_key`] and
/// [`join_index`] extend the text.
#[derive(Clone, Copy, Debug)]
pub(super) struct PathHash {
    hash: u64,
    empty: bool,
}

impl PathHash {
    pub(super) fn root() -> Self {
        Self { hash: FNV_OFFSET, empty: true }
    }
    pub(super) fn key(self, key: &str) -> Self {
        let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let hash = if plain {
            let h = if self.empty { self.hash } else { fnv(self.hash, b".") };
            fnv(h, key.as_bytes())
        } else {
            fnv(self.hash, format!("[{key:?}]").as_bytes())
        };
        Self { hash, empty: false }
    }
    pub(super) fn index(self, i: usize) -> Self {
        let mut buf = itoa_buf(i);
        buf.insert(0, b'[');
        buf.push(b']');
        Self { hash: fnv(self.hash, &buf), empty: false }
    }
}

fn itoa_buf(mut i: usize) -> Vec<u8> {
    let mut digits = Vec::with_capacity(8);
    loop {
        digits.push(b'0' + (i % 10) as u8);
        i /= 10;
        if i == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

impl PathIndex {
    fn get(&self, hash: u64) -> Option<Pos> {
        self.positions.binary_search_by_key(&hash, |e| e.0).ok().map(|i| self.positions[i].1)
    }

    /// Position of `path`, or of its nearest recorded ancestor.
    pub fn pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(fnv(FNV_OFFSET, p.as_bytes())) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return self.get(FNV_OFFSET).unwrap_or_default(),
            }
        }
    }

    /// True when the exact path was present in the source.
    pub fn contains(&self, path: &str) -> bool {
        self.get(fnv(FNV_OFFSET, path.as_bytes())).is_some()
    }

    pub(super) fn insert(&mut self, path: PathHash, pos: Pos) {
        self.positions.push((path.hash, pos));
    }

    /// Sorts for lookups; the first position recorded for a path wins.
    pub(super) fn seal(&mut self) {
        self.positions.sort_by_key(|e| e.0);
        self.positions.dedup_by_key(|e| e.0);
        self.positions.shrink_to_fit();
    }
}

/// Appends a map key to a display path.
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// Appends a sequence index to a display path.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
