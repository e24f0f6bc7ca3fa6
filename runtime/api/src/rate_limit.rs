//! Per-(organization, tool) token buckets for invocations.
//!
//! In-process: with N replicas behind a load balancer each enforces its own
//! buckets, so the effective limit is up to N times the configured one.

use crate::RateLimit;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub(crate) struct Limiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Option<Limiter> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) || limit.burst == 0 {
            return None;
        }
        Some(Limiter {
            per_second: limit.per_second,
            burst: f64::from(limit.burst),
            buckets: Mutex::default(),
        })
    }

    /// Takes a token for `(organization, tool)`, or says in how many whole
    /// seconds one will be available.
    pub(crate) fn check(&self, organization_id: &str, tool: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let (rate, burst) = (self.per_second, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let bucket = buckets
            .entry((organization_id.to_owned(), tool.to_owned()))
            .or_insert(Bucket {
                tokens: self.burst,
                last: now,
            });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_retry_after() {
        let limiter = Limiter::new(RateLimit {
            per_second: 0.5,
            burst: 3,
        })
        .unwrap();
        for _ in 0..3 {
            assert!(limiter.check("org", "tool").is_ok());
        }
        assert_eq!(limiter.check("org", "tool"), Err(2));
        // Other organizations and tools have buckets of their own.
        assert!(limiter.check("org", "other").is_ok());
        assert!(limiter.check("other", "tool").is_ok());
    }
}
