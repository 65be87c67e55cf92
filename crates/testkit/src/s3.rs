//! A real S3-compatible server for the tests: s3s-fs (signatures checked, If-None-Match,
//! 403 on a wrong secret), started per test on a free port of 127.0.0.1 over a temporary
//! folder. Std only, so that the files crate's tests include this file by path without
//! building the whole testkit.
//!
//! The binary: `PARAPHEUR_TEST_S3_BIN`, else `s3s-fs` on the PATH, else the copy that
//! `scripts/test.sh` installs under `~/.cache/parapheur-tools`. Without it the test fails in
//! CI and is skipped, loudly, elsewhere.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The version `scripts/test.sh` installs (0.17 needs a newer Rust).
pub const S3S_FS_VERSION: &str = "0.14.1";
pub const S3_ACCESS_KEY: &str = "GKparapheurtest";
pub const S3_SECRET_KEY: &str = "secret-de-test-0123456789";
pub const S3_BUCKET: &str = "parapheur-test";

/// A running s3s-fs, stopped (and its folder removed) when dropped.
pub struct S3Server {
    bin: PathBuf,
    port: u16,
    /// The server's folder: one sub-folder per bucket, one file per object.
    data: tempfile::TempDir,
    child: Option<Child>,
}

/// The s3s-fs binary, or `None` (said loudly) outside CI; in CI its absence fails the test.
pub fn s3_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PARAPHEUR_TEST_S3_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("s3s-fs"))
                    .find(|bin| bin.is_file())
            })
        })
        .or_else(|| {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            let bin = home.join(format!(
                ".cache/parapheur-tools/s3s-fs-{S3S_FS_VERSION}/bin/s3s-fs"
            ));
            bin.is_file().then_some(bin)
        });
    match found {
        Some(bin) if bin.is_file() => Some(bin),
        other => {
            let why = match other {
                Some(bin) => format!("PARAPHEUR_TEST_S3_BIN={} does not exist", bin.display()),
                None => "no s3s-fs binary (PARAPHEUR_TEST_S3_BIN, PATH)".to_owned(),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "\n\n!!! A real S3 server is required in CI: {why}. ./scripts/test.sh installs it \
                 (cargo install s3s-fs --version {S3S_FS_VERSION} --features binary)\n"
            );
            eprintln!("SKIPPED (S3): {why}; run ./scripts/test.sh, which installs it");
            None
        }
    }
}

impl S3Server {
    /// Starts a server with an empty bucket [`S3_BUCKET`]; `None` when skipped.
    pub fn start() -> Option<S3Server> {
        let bin = s3_binary()?;
        let data = tempfile::tempdir().expect("temporary folder for s3s-fs");
        std::fs::create_dir(data.path().join(S3_BUCKET)).expect("bucket folder");
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = S3Server {
            bin,
            port,
            data,
            child: None,
        };
        server.resume();
        Some(server)
    }

    /// `s3://bucket/prefix?endpoint=…`, for a `files` setting.
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{S3_BUCKET}/{prefix}?endpoint=http://127.0.0.1:{}&region=us-east-1",
            self.port
        )
    }

    /// Where s3s-fs keeps the object `key` of the bucket (to alter it behind its back).
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.data.path().join(S3_BUCKET).join(key)
    }

    /// Stops the server (the S3 service is down); its objects stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and folder, and waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "s3s-fs is already running");
        let child = Command::new(&self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("s3s-fs ({}) did not start: {e}", self.bin.display()));
        self.child = Some(child);
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on {address} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
