//! Fixed-window rate limiting, measured in real time (not the emulator
//! clock) because clients back off in real time.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::RateLimit;

pub(crate) struct RateLimiter {
    limit: RateLimit,
    /// Start of the current window and requests admitted in it.
    window: Mutex<(Instant, u32)>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Admits one request, or says how many whole seconds (at least 1) until
    /// the window resets.
    pub(crate) fn check(&self) -> Result<(), u64> {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(window.0) >= self.limit.per {
            *window = (now, 0);
        }
        if window.1 < self.limit.requests {
            window.1 += 1;
            return Ok(());
        }
        let left = self.limit.per.saturating_sub(now.duration_since(window.0));
        Err(whole_seconds_up(left).max(1))
    }
}

fn whole_seconds_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window_then_resets() {
        let limiter = RateLimiter::new(RateLimit {
            requests: 2,
            per: Duration::from_millis(50),
        });
        assert_eq!(limiter.check(), Ok(()));
        assert_eq!(limiter.check(), Ok(()));
        assert_eq!(limiter.check(), Err(1));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limiter.check(), Ok(()));
        assert_eq!(whole_seconds_up(Duration::from_millis(2001)), 3);
    }
}
