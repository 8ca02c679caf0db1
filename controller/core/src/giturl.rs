//! Repository URLs (pure): the transport a URL names, credentials written into it, and the
//! redaction every message built from a URL or a Git error goes through
//! ([docs/decisions/0039](../../../docs/decisions/0039-git-cache-keyed-by-credential.md)).

/// What replaces a secret in a message.
pub const MASK: &str = "***";

/// Schemes of the network transports (libgit2's names). Anything else that is not an
/// scp-like `host:path` is a path on the controller's file system.
const REMOTE_SCHEMES: &[&str] = &["https", "http", "ssh", "git", "ssh+git", "git+ssh"];

/// The scheme of `url` (`https` of `https://host/x`), lower-cased; `None` without `://`.
fn scheme(url: &str) -> Option<String> {
    let (s, _) = url.split_once("://")?;
    let valid = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| s.to_ascii_lowercase())
}

/// True when `url` names a network transport by its scheme.
pub fn has_remote_scheme(url: &str) -> bool {
    scheme(url).is_some_and(|s| REMOTE_SCHEMES.contains(&s.as_str()))
}

/// True for the scp-like ssh form `[user@]host:path` (no scheme, a `:` before any `/`).
/// libgit2 reads such a string as a local path when a directory of that name exists, so the
/// shell checks that too before calling it remote.
pub fn is_scp_like(url: &str) -> bool {
    if url.contains("://") {
        return false;
    }
    match (url.find(':'), url.find('/')) {
        (Some(0), _) | (None, _) => false,
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
    }
}

/// The file-system path a local URL names: `file:///p` and `file://localhost/p` give `/p`, a
/// plain path gives itself. `None` for forms whose path this function cannot state exactly as
/// libgit2 would read it (percent-encoding, another host): those are refused, never guessed.
pub fn local_path(url: &str) -> Option<&str> {
    if url.contains('%') {
        return None;
    }
    match scheme(url).as_deref() {
        Some("file") => {
            let rest = &url[url.find("://")? + 3..];
            if rest.starts_with('/') {
                Some(rest)
            } else {
                rest.get(..10).filter(|h| h.eq_ignore_ascii_case("localhost/")).map(|_| &rest[9..])
            }
        }
        Some(_) => None,
        None => (!url.is_empty()).then_some(url),
    }
}

/// Where the userinfo of a `scheme://userinfo@host/...` URL starts and ends in `url`.
fn userinfo_span(url: &str, from: usize) -> Option<(usize, usize)> {
    let start = from + url[from..].find("://")? + 3;
    let authority_end = url[start..]
        .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || "\"'`<>()[]{},;".contains(c))
        .map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')?;
    Some((start, start + at))
}

/// `url` without credentials: the userinfo of `scheme://userinfo@host` becomes `***`. This
/// is how a URL appears in every status, Event and log line.
pub fn redact_url(url: &str) -> String {
    redact(url, &[])
}

/// `text` with every `scheme://userinfo@` it contains masked and every non-empty `secret`
/// replaced by `***`: for messages that may quote a URL or a credential (Git errors).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret that contains another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(s, MASK);
    }
    let mut from = 0;
    while let Some(sep) = out[from..].find("://").map(|i| from + i) {
        match userinfo_span(&out, sep) {
            Some((start, end)) if out[start..end] != *MASK => {
                out.replace_range(start..end, MASK);
                from = start + MASK.len();
            }
            _ => from = sep + 3,
        }
    }
    out
}

/// Credentials written into an http(s) URL, moved out of it so they never reach libgit2's
/// messages, the cache's files or a log: the URL without userinfo, the user name and the
/// password (percent-decoded). Other URLs are returned unchanged.
pub fn split_userinfo(url: &str) -> (String, Option<String>, Option<String>) {
    let unchanged = (url.to_string(), None, None);
    if !matches!(scheme(url).as_deref(), Some("http" | "https")) {
        return unchanged;
    }
    let Some((start, end)) = userinfo_span(url, 0) else { return unchanged };
    let info = &url[start..end];
    let (user, password) = match info.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (info, None),
    };
    let clean = format!("{}{}", &url[..start], &url[end + 1..]);
    (clean, Some(percent_decode(user)).filter(|u| !u.is_empty()), password.map(percent_decode))
}

/// `%XX` escapes decoded (invalid escapes are kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten().and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        for u in ["https://h/r.git", "HTTP://h/r", "ssh://git@h/r", "git://h/r", "git+ssh://h/r"] {
            assert!(has_remote_scheme(u), "{u}");
        }
        for u in ["file:///srv/r", "/srv/r", "./r", "r", "ext::sh -c x", "FILE:///x", "c:/x"] {
            assert!(!has_remote_scheme(u), "{u}");
        }
        assert!(is_scp_like("git@github.com:acme/p.git"));
        assert!(is_scp_like("host:p"));
        assert!(!is_scp_like("/srv/a:b"));
        assert!(!is_scp_like("./a:b"));
        assert!(!is_scp_like("ssh://h/p"));
        assert!(!is_scp_like(":p"));
    }

    #[test]
    fn local_paths() {
        assert_eq!(local_path("file:///srv/r.git"), Some("/srv/r.git"));
        assert_eq!(local_path("FILE://localhost/srv/r"), Some("/srv/r"));
        assert_eq!(local_path("/srv/r"), Some("/srv/r"));
        assert_eq!(local_path("file://other/srv/r"), None);
        assert_eq!(local_path("file:///srv/%72"), None);
        assert_eq!(local_path("https://h/r"), None);
        assert_eq!(local_path(""), None);
    }

    #[test]
    fn redaction_masks_userinfo_and_secrets() {
        assert_eq!(redact_url("https://bot:TOKEN@h:8443/r.git"), "https://***@h:8443/r.git");
        assert_eq!(redact_url("https://TOKEN@h/r"), "https://***@h/r");
        assert_eq!(redact_url("https://h/r@x"), "https://h/r@x");
        assert_eq!(redact_url("git@github.com:a/b.git"), "git@github.com:a/b.git");
        assert_eq!(redact_url("https://a:b@c@h/r"), "https://***@h/r");
        let text = "fetching https://u:p@h/r: 401 from 'ssh://k@x/y', token TOK1 and TOK12";
        assert_eq!(
            redact(text, &["TOK1", "TOK12", ""]),
            "fetching https://***@h/r: 401 from 'ssh://***@x/y', token *** and ***"
        );
        // Idempotent, and a mask is never taken for userinfo to mask again.
        assert_eq!(redact(&redact(text, &[]), &[]), redact(text, &[]));
        assert_eq!(redact("no url here", &["url"]), "no *** here");
    }

    #[test]
    fn userinfo_moves_out_of_http_urls() {
        assert_eq!(
            split_userinfo("https://bot:S3%40CRET@h/r.git"),
            ("https://h/r.git".into(), Some("bot".into()), Some("S3@CRET".into()))
        );
        assert_eq!(split_userinfo("http://tok@h/r"), ("http://h/r".into(), Some("tok".into()), None));
        assert_eq!(split_userinfo("https://h/r"), ("https://h/r".into(), None, None));
        assert_eq!(split_userinfo("ssh://git@h/r"), ("ssh://git@h/r".into(), None, None));
    }
}
