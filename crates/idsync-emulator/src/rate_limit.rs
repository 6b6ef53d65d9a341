//! Fixed-window rate limiting, measured in real time (not the emulator
//! clock) because clients back off in real time.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

    /// Admits one request or refuses it, and says where that leaves the
    /// window.
    pub(crate) fn check(&self) -> Window {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if now.duration_since(window.0) >= self.limit.per {
            *window = (now, 0);
        }
        let admitted = window.1 < self.limit.requests;
        if admitted {
            window.1 += 1;
        }
        let left = self.limit.per.saturating_sub(now.duration_since(window.0));
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Window {
            limit: self.limit.requests,
            remaining: self.limit.requests - window.1,
            // Rounded up, so a client waiting until then finds a new window.
            reset_unix: whole_seconds_up(unix_now + left),
            refused: (!admitted).then(|| whole_seconds_up(left).max(1)),
        }
    }
}

/// Where a request left the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub limit: u32,
    /// Requests still admitted in this window.
    pub remaining: u32,
    /// Unix seconds at which the window resets.
    pub reset_unix: u64,
    /// Refused: whole seconds (at least 1) until the reset.
    pub refused: Option<u64>,
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
        let first = limiter.check();
        assert_eq!((first.remaining, first.refused), (1, None));
        assert_eq!(limiter.check().remaining, 0);
        let refused = limiter.check();
        assert_eq!((refused.limit, refused.remaining), (2, 0));
        assert_eq!(refused.refused, Some(1));
        let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(refused.reset_unix > unix_now.as_secs());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limiter.check().refused, None);
        assert_eq!(whole_seconds_up(Duration::from_millis(2001)), 3);
    }
}
