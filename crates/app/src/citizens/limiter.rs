//! The limit of public submissions and answers per client address, counted in the database
//! (every node sees the same counts), checked by the front end through
//! [`App::limit_public`] before a body is read.

use crate::boxed_future;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{App, AppError};

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

impl App {
    /// Counts one public submission or answer from `ip`; `Some(wait)` when it is one too
    /// many (refused requests are not counted).
    #[boxed_future]
    pub async fn limit_public(
        &self,
        bucket: Bucket,
        ip: Option<IpAddr>,
    ) -> Result<Option<Duration>, AppError> {
        self.limit_public_at(bucket, ip, Utc::now()).await
    }

    pub(crate) async fn limit_public_at(
        &self,
        bucket: Bucket,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, AppError> {
        let name = match bucket {
            Bucket::Submit => "submit",
            Bucket::Answer => "answer",
        };
        let key = format!("public:{name}:{}", address_key(ip));
        let (per_window, per_day) = bucket.limits();
        let wait = self
            .limit_wait(&key, &[(per_window, WINDOW), (per_day, DAY)], now)
            .await?;
        if wait.is_none() {
            self.limit_record(&key, DAY, now).await?;
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[tokio::test]
    async fn five_per_ten_minutes_then_twenty_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let (app, config) = crate::testing_app(dir.path()).await;
        // Instants are stored to the microsecond.
        let t0 = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        let window = chrono::Duration::from_std(WINDOW).unwrap();
        let hit = |ip_text: &str, bucket: Bucket, at: DateTime<Utc>| {
            let app = app.clone();
            let addr = ip(ip_text);
            async move { app.limit_public_at(bucket, addr, at).await.unwrap() }
        };
        for _ in 0..5 {
            assert_eq!(hit("192.0.2.1", Bucket::Submit, t0).await, None);
        }
        assert_eq!(hit("192.0.2.1", Bucket::Submit, t0).await, Some(WINDOW));
        // Another address, and another bucket, are unaffected.
        assert_eq!(hit("192.0.2.2", Bucket::Submit, t0).await, None);
        assert_eq!(hit("192.0.2.1", Bucket::Answer, t0).await, None);
        // Ten minutes later, five more; after four such windows the day is full.
        let mut t = t0;
        for _ in 0..3 {
            t += window;
            for _ in 0..5 {
                assert_eq!(hit("192.0.2.1", Bucket::Submit, t).await, None);
            }
        }
        t += window;
        assert_eq!(
            hit("192.0.2.1", Bucket::Submit, t).await,
            Some(DAY - 4 * WINDOW)
        );
        let next_day = t0 + chrono::Duration::from_std(DAY).unwrap();
        assert_eq!(hit("192.0.2.1", Bucket::Submit, next_day).await, None);
        // Another node on the same database counts the same submissions.
        let other = App::open(&config).await.unwrap();
        assert!(
            other
                .limit_public_at(Bucket::Submit, ip("192.0.2.1"), t)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn ipv6_is_limited_by_its_64() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = crate::testing_app(dir.path()).await;
        // Instants are stored to the microsecond.
        let t0 = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
        for i in 0..5 {
            let addr = ip(&format!("2001:db8:1:2::{i}"));
            assert_eq!(
                app.limit_public_at(Bucket::Submit, addr, t0).await.unwrap(),
                None
            );
        }
        assert!(
            app.limit_public_at(Bucket::Submit, ip("2001:db8:1:2::99"), t0)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            app.limit_public_at(Bucket::Submit, ip("2001:db8:1:3::1"), t0)
                .await
                .unwrap(),
            None
        );
    }

    #[test]
    fn waits_read_in_french() {
        assert_eq!(wait_text(Duration::from_secs(1)), "1 minute");
        assert_eq!(wait_text(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_text(Duration::from_secs(5 * 3600)), "5 heures");
    }
}
