use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Kw {
    pub home: tempfile::TempDir,
    env: Vec<(String, String)>,
    pub log: std::cell::RefCell<Vec<u8>>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Kw {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
            log: Default::default(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kw"));
        cmd.args(args)
            .env("KEYWARDEN_HOME", self.home.path())
            .env_remove("KEYWARDEN_PASSPHRASE_FILE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs kw with `stdin` piped in. Every byte it prints is also kept in `log`.
    pub fn run_with(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        self.log.borrow_mut().extend_from_slice(&stderr);
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, b"")
    }

    /// Runs kw and asserts it exits 0.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Run {
        let r = self.run_with(args, stdin);
        assert_eq!(r.code, 0, "kw {args:?} failed: {}{}", r.stdout, r.stderr);
        r
    }

    /// The keychain service name of this profile.
    pub fn service(&self) -> String {
        let status: serde_json::Value =
            serde_json::from_str(&self.ok(&["secret", "status", "--json"], b"").stdout).unwrap();
        let location = status["location"].as_str().unwrap();
        location
            .trim_start_matches("service \"")
            .trim_end_matches('"')
            .to_owned()
    }

    pub fn list_json(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["secret", "list", "--json"], b"").stdout).unwrap()
    }
}

/// Whether the real Secret Service is available to this test run; under the test command
/// and CI its absence fails the test.
pub fn secret_service() -> bool {
    keywarden_testkit::secret_service()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `secret-tool search --all service SERVICE`: the attributes and secrets it prints.
pub fn secret_tool_search(service: &str) -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", service])
        .output()
        .expect("secret-tool (package libsecret-tools) is installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
