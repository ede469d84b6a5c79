//! Helpers for the tools' CLI tests: run a built binary with stdin fed from a
//! thread, and compare output with goldens in testdata/ (WF_UPDATE_GOLDEN=1
//! rewrites them).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Run {
    pub code: i32,
    /// Standard output as text (invalid UTF-8 replaced); `raw` has the bytes.
    pub stdout: String,
    pub raw: Vec<u8>,
    pub stderr: String,
}

/// A path under the workspace's testdata/.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// Runs `bin` with `args`, writing `stdin` from another thread so that a large
/// input cannot deadlock against a full stdout pipe.
pub fn run(bin: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The tool may stop reading early (e.g. --strict); that is not our error.
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        raw: out.stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Asserts that `actual` equals the golden file, or rewrites it when
/// WF_UPDATE_GOLDEN=1.
pub fn golden(rel: &str, actual: &str) {
    let path = testdata(rel);
    if std::env::var_os("WF_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (WF_UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        panic!(
            "{} differs from the output (WF_UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

/// librdkafka's mock cluster, for tests that need a broker: it listens on
/// loopback and serves separate processes. Dropping it stops it.
pub struct MockKafka {
    cluster: rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
}

impl MockKafka {
    /// One broker with `topics` created, each with `partitions` partitions.
    pub fn start(topics: &[&str], partitions: i32) -> MockKafka {
        let cluster = rdkafka::mocking::MockCluster::new(1)
            .unwrap_or_else(|e| panic!("cannot start librdkafka's mock cluster: {e}"));
        for t in topics {
            cluster
                .create_topic(t, partitions, 1)
                .unwrap_or_else(|e| panic!("mock cluster: cannot create {t}: {e}"));
        }
        MockKafka { cluster }
    }

    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}

/// A sibling tool's binary, built beside `own` (`cargo test --workspace` builds
/// every tool before running any test).
pub fn sibling(own: &str, tool: &str) -> String {
    let path = std::path::Path::new(own).with_file_name(tool);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `cargo test --workspace`",
        path.display()
    );
    path.display().to_string()
}
