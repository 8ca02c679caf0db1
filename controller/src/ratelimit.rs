//! A token-bucket limit on Kubernetes API requests (the client's QPS and burst).

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Allows `burst` requests at once and `qps` per second on average.
#[derive(Debug)]
pub struct Limiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Limiter {
    /// A limiter; `qps` must be positive, `burst` at least 1.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { qps: qps.max(0.001), burst, state: Mutex::new((burst, Instant::now())) }
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.qps).min(self.burst);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.qps)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Waits on an optional limiter.
pub async fn acquire(l: Option<&Limiter>) {
    if let Some(l) = l {
        l.acquire().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: the clock only moves when every task waits, so this is exact, not timed.
    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces_at_qps() {
        let l = Limiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst passes at once");
        for _ in 0..10 {
            l.acquire().await;
        }
        let e = start.elapsed().as_secs_f64();
        assert!((0.99..=1.01).contains(&e), "10 more at 10 qps take one second, took {e}");
    }
}
