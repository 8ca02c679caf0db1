//! Property-based fuzzing of `POST /hook`: the GitHub signature check, the push payload reader,
//! repository URL matching, and the whole handler on arbitrary bodies and headers. Each
//! property runs `DROMOS_FUZZ_CASES` cases (256 by default); a long run:
//! `DROMOS_FUZZ_CASES=100000 cargo test -p dromos --lib http::fuzz --release`. See
//! RELIABILITY.md.
//!
//! Properties: nothing panics; a signature is accepted exactly when it is `sha256=` and the
//! hex of HMAC-SHA256(secret, body); the handler never accepts (202), and never reads the body
//! of, a delivery whose signature or token is wrong or missing; the URL forms of one
//! repository (https, ssh, scp-like, with user, `.git`, trailing `/`, any case) match.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use tower::ServiceExt as _;

fn config() -> Config {
    let cases = std::env::var("DROMOS_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    Config { cases, ..Config::default() }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(secret: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// True when `header` is the signature of `body` with `secret`: `sha256=` and 64 hex digits
/// (either case) of the HMAC.
fn is_signature(secret: &str, body: &[u8], header: &str) -> bool {
    header.strip_prefix("sha256=").is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && h.to_ascii_lowercase() == hex(&mac(secret, body))
    })
}

/// A signature header: the right one, one of another secret or body, changed by a character,
/// cut, extended, upper case, another algorithm, or any text.
fn header(secret: String, body: Vec<u8>) -> impl Strategy<Value = String> {
    let right = format!("sha256={}", hex(&mac(&secret, &body)));
    let r = right.clone();
    prop_oneof![
        2 => Just(right.clone()),
        1 => Just(right.to_ascii_uppercase().replacen("SHA256=", "sha256=", 1)),
        1 => Just(right.replacen("sha256=", "sha1=", 1)),
        1 => "\\PC{0,8}".prop_map(move |other| format!("sha256={}", hex(&mac(&format!("{secret}{other}"), &body)))),
        2 => (7usize..71, any::<char>()).prop_map(move |(i, c)| {
            let mut s: Vec<char> = r.chars().collect();
            s[i] = c;
            s.into_iter().collect()
        }),
        1 => (0usize..71).prop_map({ let r = right.clone(); move |n| r[..n].to_string() }),
        1 => "[0-9a-fA-F+-]{0,3}".prop_map(move |x| format!("{right}{x}")),
        1 => "sha256=[0-9a-fA-F+ é]{0,70}",
        1 => "\\PC{0,80}",
    ]
}

fn secret_body_header() -> impl Strategy<Value = (String, Vec<u8>, String)> {
    ("\\PC{0,20}", prop::collection::vec(any::<u8>(), 0..200))
        .prop_flat_map(|(s, b)| (Just(s.clone()), Just(b.clone()), header(s, b)))
}

const PAYLOAD_KEYS: &[&str] = &[
    "ref",
    "repository",
    "project",
    "clone_url",
    "ssh_url",
    "html_url",
    "git_http_url",
    "git_ssh_url",
    "web_url",
    "after",
    "commits",
    "x",
];

/// A push payload: GitHub or GitLab shaped, with values of any type where strings belong.
fn payload() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        "\\PC{0,30}".prop_map(Value::String),
        "refs/(heads|tags)/[a-z/]{0,10}".prop_map(Value::String),
        "(https://|git@|ssh://git@|file://)?[A-Za-z.]{1,8}[:/][A-Za-z]{1,6}/[A-Za-z]{1,6}(\\.git)?/?"
            .prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(PAYLOAD_KEYS), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A repository name (one that ends in `.` or `.git` would lose it to normalisation).
fn repo_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"
        .prop_map(|r| if r.ends_with('.') || r.ends_with(".git") { format!("{r}x") } else { r })
}

/// A router whose state has `secret`, is ready, and whose client points at a closed port (a
/// delivery that gets past the checks fails listing GitSources, with 503).
fn state(secret: &str) -> Arc<HttpState> {
    let mut cfg = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
    cfg.default_retry = false;
    cfg.connect_timeout = Some(std::time::Duration::from_secs(2));
    let (trigger, _) = futures::channel::mpsc::unbounded();
    Arc::new(HttpState {
        metrics: Arc::new(Metrics::default()),
        objects: Default::default(),
        stuck_after: std::time::Duration::from_secs(900),
        ready: AtomicBool::new(true),
        webhook_secret: Some(secret.to_string()),
        client: Client::try_from(cfg).expect("a client"),
        scope: crate::scope::Scope::namespace("fuzz"),
        trigger,
    })
}

/// Which authentication a delivery carries.
#[derive(Clone, Debug)]
enum Auth {
    None,
    GitHub(String),
    GitLab(String),
    Both(String, String),
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_signature_is_accepted_exactly_when_it_is_the_hmac_of_the_body((secret, body, header) in secret_body_header()) {
        prop_assert_eq!(github_signature_ok(&secret, &body, &header), is_signature(&secret, &body, &header), "{:?}", header);
    }

    #[test]
    fn push_payloads_are_read_without_panic(body in payload()) {
        let (urls, branch) = push_targets(&body);
        if let Some(b) = &branch {
            let full = format!("refs/heads/{b}");
            prop_assert_eq!(body["ref"].as_str(), Some(full.as_str()));
        }
        for u in &urls {
            prop_assert_eq!(u, &u.to_ascii_lowercase());
        }
    }

    #[test]
    fn every_url_form_of_a_repository_matches(host in "[a-z][a-z0-9.-]{0,10}", owner in "[A-Za-z0-9_-]{1,10}", repo in repo_name(), upper in any::<bool>()) {
        let path = format!("{owner}/{repo}");
        let path = if upper { path.to_ascii_uppercase() } else { path };
        let forms = [
            format!("https://{host}/{path}"),
            format!("https://{host}/{path}.git"),
            format!("https://{host}/{path}/"),
            format!("http://user:token@{host}/{path}.git"),
            format!("git@{host}:{path}.git"),
            format!("ssh://git@{host}/{path}"),
            format!("  https://{host}/{path}.git  "),
        ];
        let want = normalize_url(&forms[0]);
        for f in &forms {
            prop_assert_eq!(&normalize_url(f), &want, "{}", f);
        }
    }

    #[test]
    fn the_hook_accepts_only_authentic_deliveries(
        secret in "[ -~]{1,16}",
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..200), payload().prop_map(|v| v.to_string().into_bytes())],
        auth in prop_oneof![
            Just(0u8), Just(1u8), Just(2u8), Just(3u8), Just(4u8), Just(5u8)
        ],
        other in "[ -~]{0,16}",
    ) {
        let right_sig = format!("sha256={}", hex(&mac(&secret, &body)));
        let wrong_sig = format!("sha256={}", hex(&mac(&format!("{secret}{other}x"), &body)));
        let auth = match auth {
            0 => Auth::None,
            1 => Auth::GitHub(right_sig),
            2 => Auth::GitHub(wrong_sig),
            3 => Auth::GitLab(secret.clone()),
            4 => Auth::GitLab(other.clone()),
            _ => Auth::Both(wrong_sig, secret.clone()),
        };
        let authentic = match &auth {
            Auth::GitHub(s) => is_signature(&secret, &body, s),
            Auth::GitLab(t) => t == &secret,
            // The GitHub signature is checked when both are given.
            Auth::None | Auth::Both(..) => false,
        };
        let mut req = axum::http::Request::post("/hook");
        match &auth {
            Auth::None => {}
            Auth::GitHub(s) => req = req.header("x-hub-signature-256", s),
            Auth::GitLab(t) => req = req.header("x-gitlab-token", t),
            Auth::Both(s, t) => req = req.header("x-hub-signature-256", s).header("x-gitlab-token", t),
        }
        let req = req.body(axum::body::Body::from(body.clone())).expect("a request");
        let status = runtime().block_on(async { router(state(&secret)).oneshot(req).await.expect("infallible").status() });
        if authentic {
            // Past the checks: a body that is not JSON is refused, JSON lists GitSources (the
            // closed port answers nothing: 503).
            let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
            let want = if json { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
            prop_assert_eq!(status, want, "{:?}", auth);
        } else {
            prop_assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?}", auth);
        }
    }
}

/// Found by `a_signature_is_accepted_exactly_when_it_is_the_hmac_of_the_body`: a non-ASCII
/// character in the hex part made the decoder slice inside it and panic (the handler's headers
/// are visible ASCII, so only direct callers could reach it); `+f` decoded as 15.
#[test]
fn signatures_with_non_ascii_or_signs_are_refused() {
    let right = hex(&mac("s", b"body"));
    assert!(github_signature_ok("s", b"body", &format!("sha256={right}")));
    assert!(!github_signature_ok("s", b"body", "sha256=aéa"));
    assert!(!github_signature_ok("s", b"body", &format!("sha256=é{}", &right[2..])));
    assert_eq!(decode_hex("0aFf"), Ok(vec![10, 255]));
    assert_eq!(decode_hex("+f"), Err(()));
    assert_eq!(decode_hex("é"), Err(()));
}
