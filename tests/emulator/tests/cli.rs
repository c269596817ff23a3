//! The binary: the ready line, and that it goes away on stdin EOF and on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(extra: &[&str]) -> (Child, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_headless-imports-emulator"))
        .args(["--port", "0", "--storage-port", "0", "--time-scale", "0.01"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
    (child, ready)
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("emulator did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn prints_ready_line_and_exits_on_stdin_eof() {
    let (mut child, ready) = spawn(&["--exit-on-stdin-eof"]);
    let obj = ready.as_object().unwrap();
    assert_eq!(obj.len(), 4);
    let api = ready["api"].as_str().unwrap();
    assert_eq!(ready["exa"], api.replace("/api/v1", "/websets"));
    let control = ready["control"].as_str().unwrap();
    assert!(api.starts_with("http://127.0.0.1:") && api.ends_with("/api/v1"));
    assert_eq!(control, api.replace("/api/v1", "/_emulator"));
    assert!(ready["storage"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    drop(child.stdin.take());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn exits_cleanly_on_sigterm() {
    let (mut child, _) = spawn(&[]);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn rejects_a_bad_schemas_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, r#"[{"id": "x", "fields": [{"key": "a"}]}]"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_headless-imports-emulator"))
        .args(["--schemas", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'label' is a required property"));
}
