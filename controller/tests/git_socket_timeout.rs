//! libgit2's socket timeouts (`git::set_socket_timeouts`, set by the binary at start) free the
//! thread of a fetch whose remote accepts the connection and never answers. Its own test binary:
//! the timeouts are process-wide.

use dromos::git::{Cache, Credentials, FetchLimits, GitError, GitRef, set_socket_timeouts};
use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn a_remote_that_accepts_and_never_answers_fails_the_fetch_and_frees_its_thread() {
    set_socket_timeouts(Duration::from_secs(2), Duration::from_secs(2)).expect("libgit2 takes the timeouts");

    // Accepts, reads the request, never answers; reports when the client closes its end.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let (closed_tx, closed_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("the fetch connects");
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = closed_tx.send(());
    });

    let cache = tempfile::tempdir().expect("a cache directory");
    // The whole-fetch bound is far above the socket timeout: only the socket timeout can end it.
    let cache = Cache {
        root: cache.path().to_path_buf(),
        allow_local: false,
        limits: FetchLimits { timeout: Duration::from_secs(600), ..Default::default() },
    };
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let url = format!("http://127.0.0.1:{port}/repo.git");
        let r = cache.fetch(&url, &GitRef::Branch("main".into()), &Credentials::default()).map(|_| ());
        let _ = done_tx.send(r);
    });

    // A functional bound, far above the 2 s timeout: without it the fetch waits for the remote.
    let result = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the fetch returned: the socket timeout ended a read that gets no answer");
    match result {
        Err(GitError::Fetch { message, .. }) => {
            assert!(
                message.to_lowercase().contains("timed out") || message.to_lowercase().contains("timeout"),
                "{message}"
            )
        }
        other => panic!("expected a failed fetch, got {other:?}"),
    }
    closed_rx.recv_timeout(Duration::from_secs(10)).expect("the client closed the connection it gave up on");
}
