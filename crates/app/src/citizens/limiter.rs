//! The limit of public submissions and answers per client address: in memory, per process,
//! bounded in the addresses it tracks, checked (by the front end, through
//! [`App::limit_public`](crate::App::limit_public)) before a body is read.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::limits::RecentEvents;

/// What is being limited: each has its own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Submissions of a public form.
    Submit,
    /// Answers on a tracking page.
    Answer,
}

const WINDOW: Duration = Duration::from_secs(10 * 60);

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Addresses remembered at most; the oldest are forgotten first when full.
const MAX_TRACKED: usize = 100_000;

/// Requests per client address, in memory (each process limits on its own, like logins):
/// the shared [`RecentEvents`] limiter.
#[derive(Debug)]
pub struct RateLimiter {
    hits: RecentEvents<(Bucket, IpAddr), Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            hits: RecentEvents::new(MAX_TRACKED),
        }
    }
}

/// An address as limited: IPv6 by its /64, which one subscriber usually holds whole.
/// Unknown addresses share one count.
fn address_key(ip: Option<IpAddr>) -> IpAddr {
    match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

/// "3 minutes", "2 heures": how long to wait, rounded up.
pub fn wait_text(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    if minutes < 120 {
        format!("{minutes} minute{}", if minutes > 1 { "s" } else { "" })
    } else {
        format!("{} heures", minutes.div_ceil(60))
    }
}

impl Bucket {
    /// (per ten minutes, per day).
    fn limits(self) -> (usize, usize) {
        match self {
            Bucket::Submit => (5, 20),
            Bucket::Answer => (10, 50),
        }
    }
}

impl RateLimiter {
    /// Counts one request from `ip`, or says how long to wait when it is one too many.
    /// Refused requests are not counted.
    pub fn hit(&self, bucket: Bucket, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let key = (bucket, address_key(ip));
        let (per_window, per_day) = bucket.limits();
        let wait = [(per_window, WINDOW), (per_day, DAY)]
            .into_iter()
            .filter_map(|(max, window)| self.hits.wait(&key, max, window, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        self.hits.record(key, DAY, per_day, now);
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.hits.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn five_per_ten_minutes_then_twenty_a_day() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.hit(Bucket::Submit, ip("192.0.2.1"), t0).is_ok());
        }
        let wait = limiter
            .hit(Bucket::Submit, ip("192.0.2.1"), t0)
            .unwrap_err();
        assert_eq!(wait, WINDOW);
        // Another address, and another bucket, are unaffected.
        assert!(limiter.hit(Bucket::Submit, ip("192.0.2.2"), t0).is_ok());
        assert!(limiter.hit(Bucket::Answer, ip("192.0.2.1"), t0).is_ok());
        // Ten minutes later, five more; after four such windows the day is full.
        let mut t = t0;
        for _ in 0..3 {
            t += WINDOW;
            for _ in 0..5 {
                assert!(limiter.hit(Bucket::Submit, ip("192.0.2.1"), t).is_ok());
            }
        }
        t += WINDOW;
        let wait = limiter.hit(Bucket::Submit, ip("192.0.2.1"), t).unwrap_err();
        assert_eq!(wait, DAY - 4 * WINDOW);
        assert!(
            limiter
                .hit(Bucket::Submit, ip("192.0.2.1"), t0 + DAY)
                .is_ok()
        );
    }

    #[test]
    fn ipv6_is_limited_by_its_64() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            let addr = ip(&format!("2001:db8:1:2::{i}"));
            assert!(limiter.hit(Bucket::Submit, addr, t0).is_ok());
        }
        assert!(
            limiter
                .hit(Bucket::Submit, ip("2001:db8:1:2::99"), t0)
                .is_err()
        );
        assert!(
            limiter
                .hit(Bucket::Submit, ip("2001:db8:1:3::1"), t0)
                .is_ok()
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = limiter.hit(
                Bucket::Submit,
                Some(addr),
                t0 + Duration::from_millis(i.into()),
            );
        }
        assert!(limiter.tracked() <= MAX_TRACKED);
        // A day later, the next address over capacity forgets everything old.
        let late = t0 + DAY + Duration::from_secs(3600);
        for i in 0..(MAX_TRACKED as u32 / 10 + 1) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            let _ = limiter.hit(Bucket::Submit, Some(addr), late);
        }
        assert!(
            limiter.tracked() <= MAX_TRACKED / 10 + 1,
            "{}",
            limiter.tracked()
        );
    }

    #[test]
    fn waits_read_in_french() {
        assert_eq!(wait_text(Duration::from_secs(1)), "1 minute");
        assert_eq!(wait_text(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_text(Duration::from_secs(5 * 3600)), "5 heures");
    }
}
