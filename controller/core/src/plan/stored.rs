//! How a source's inventory is stored (pure): as a list of entries while it is small, packed
//! (gzip, then base64) once the list would take more than [`INLINE_MAX_BYTES`], and refused
//! beyond [`PACKED_MAX_BYTES`] packed. A GitSource's status and the local inventory ConfigMap
//! live in one etcd object each (at most 1.5 MiB, and 3 MiB per request): 100,000 entries
//! listed take about 4 MB, packed about a tenth of that.

use super::ObjRef;
use base64::Engine as _;
use std::io::{Read, Write};

/// Largest inventory kept as a list of entries (bytes of the entries with one separator each).
pub const INLINE_MAX_BYTES: usize = 256 * 1024;
/// Largest packed inventory (bytes of its base64 text): room in a 1.5 MiB object for the rest.
pub const PACKED_MAX_BYTES: usize = 768 * 1024;
/// Largest unpacked inventory read back: a packed text written by hand cannot make the
/// reader allocate more than this.
pub const UNPACKED_MAX_BYTES: u64 = 64 << 20;

/// An inventory as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The entries ([`ObjRef::encode`]), sorted.
    Inline(Vec<String>),
    /// The sorted entries, one per line, gzip-compressed, base64-encoded.
    Packed(String),
}

/// An inventory too large to store even packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// Objects in it.
    pub entries: usize,
    /// Bytes of its packed form.
    pub packed_bytes: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the inventory of its {} objects takes {} KiB packed, more than the {} KiB a source can record \
             (one Kubernetes object holds it); split these objects between several sources",
            self.entries,
            self.packed_bytes / 1024,
            PACKED_MAX_BYTES / 1024
        )
    }
}

/// The stored form of `refs`: sorted entries, packed when long.
pub fn store(refs: &[ObjRef]) -> Result<Stored, TooLarge> {
    let mut entries: Vec<String> = refs.iter().map(ObjRef::encode).collect();
    entries.sort();
    entries.dedup();
    let bytes: usize = entries.iter().map(|e| e.len() + 1).sum();
    if bytes <= INLINE_MAX_BYTES {
        return Ok(Stored::Inline(entries));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(bytes / 8), flate2::Compression::default());
    for e in &entries {
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(e.as_bytes());
        let _ = gz.write_all(b"\n");
    }
    let packed = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap_or_default());
    if packed.len() > PACKED_MAX_BYTES {
        return Err(TooLarge { entries: entries.len(), packed_bytes: packed.len() });
    }
    Ok(Stored::Packed(packed))
}

/// The entries of a packed inventory; an error says why it cannot be read (not base64, not
/// gzip, not UTF-8, or larger than [`UNPACKED_MAX_BYTES`] unpacked).
pub fn unpack(packed: &str) -> Result<Vec<String>, String> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(packed.trim())
        .map_err(|e| format!("the packed inventory is not base64: {e}"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(UNPACKED_MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("the packed inventory is not gzip-compressed text: {e}"))?;
    if text.len() as u64 > UNPACKED_MAX_BYTES {
        return Err(format!("the packed inventory unpacks to more than {} MiB", UNPACKED_MAX_BYTES >> 20));
    }
    Ok(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// The entries of an inventory stored as `inline` entries and, when long, `packed`: both are
/// read (a writer sets one of them), the result sorted and without repeats.
pub fn entries(inline: &[String], packed: Option<&str>) -> Result<Vec<String>, String> {
    let mut all = inline.to_vec();
    if let Some(p) = packed.filter(|p| !p.is_empty()) {
        all.extend(unpack(p)?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

/// Names of `len` letters that share no pattern (xorshift from `seed`): what packs worst.
#[cfg(test)]
pub(crate) fn patternless_names(seed: u64, len: usize, n: usize) -> Vec<String> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(n: usize) -> Vec<ObjRef> {
        (0..n).map(|i| ObjRef::decode(&format!("v1|ConfigMap|bench|cm-{i}")).unwrap()).collect()
    }

    #[test]
    fn small_inventories_stay_listed_and_sorted() {
        let mut r = refs(3);
        r.reverse();
        r.push(r[0].clone());
        assert_eq!(
            store(&r),
            Ok(Stored::Inline(vec![
                "v1|ConfigMap|bench|cm-0".into(),
                "v1|ConfigMap|bench|cm-1".into(),
                "v1|ConfigMap|bench|cm-2".into()
            ]))
        );
    }

    #[test]
    fn a_hundred_thousand_entries_pack_into_one_object_and_read_back() {
        let r = refs(100_000);
        let Ok(Stored::Packed(p)) = store(&r) else { panic!("not packed") };
        assert!(p.len() < PACKED_MAX_BYTES, "{} bytes packed", p.len());
        let back = entries(&[], Some(&p)).unwrap();
        assert_eq!(back.len(), 100_000);
        let mut want: Vec<String> = r.iter().map(ObjRef::encode).collect();
        want.sort();
        assert_eq!(back, want);
    }

    #[test]
    fn an_inventory_that_cannot_be_recorded_is_refused() {
        // Names without a pattern: gzip has little to share.
        let r: Vec<ObjRef> = patternless_names(0x9E37_79B9_7F4A_7C15, 40, 60_000)
            .iter()
            .map(|name| ObjRef::decode(&format!("v1|ConfigMap|bench|{name}")).unwrap())
            .collect();
        let e = store(&r).unwrap_err();
        assert_eq!(e.entries, 60_000);
        assert!(e.packed_bytes > PACKED_MAX_BYTES);
        assert!(e.to_string().contains("split these objects between several sources"), "{e}");
    }

    #[test]
    fn packed_text_from_elsewhere_is_bounded_and_checked() {
        assert!(unpack("not base64!").unwrap_err().contains("not base64"));
        let not_gzip = base64::engine::general_purpose::STANDARD.encode(b"plain");
        assert!(unpack(&not_gzip).unwrap_err().contains("not gzip"));
        // 100 MiB of zeros packs into about 100 KiB: refused, not allocated.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(unpack(&bomb).unwrap_err().contains("more than 64 MiB"));
    }

    #[test]
    fn both_forms_are_read() {
        let Stored::Packed(p) = store(&refs(20_000)).unwrap() else { panic!("not packed") };
        let all = entries(&["v1|ConfigMap|other|x".into()], Some(&p)).unwrap();
        assert_eq!(all.len(), 20_001);
    }
}
