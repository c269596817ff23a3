//! `headless-imports-emulator`: starts the emulator, prints one JSON ready line on stdout, and runs
//! until SIGINT/SIGTERM (or stdin EOF with `--exit-on-stdin-eof`, so a dead harness never leaks it).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use headless_imports_emulator::dromo::schema;
use headless_imports_emulator::{Config, Emulator};

const USAGE: &str = "\
usage: headless-imports-emulator [options]
  --host HOST             address to bind both listeners (default 127.0.0.1)
  --port N                API port, 0 = ephemeral (default 0)
  --storage-port N        storage (presigned URL) port, 0 = ephemeral (default 0)
  --api-key KEY           expected X-Dromo-License-Key (default test-dromo-key)
  --exa-api-key KEY       expected Exa x-api-key (default test-exa-key)
  --time-scale F          multiply every emulated duration by F (default 1.0)
  --schemas FILE          saved schemas, JSON array of {id, name, fields, settings, hooks}
  --upload-ttl SECS       presigned URL lifetime in real seconds (overrides the scaled 1800 s
                          for Dromo and 3600 s for Exa)
  --no-rate-limit         disable the create/poll rate limits
  --exit-on-stdin-eof     exit when standard input is closed
  --data-dir DIR          spool uploads and results under DIR (default: system temp dir)
  --faults FILE           fault-injection plan, JSON {seed, rules} (see POST /_emulator/faults)
  --dromo-webhook URL     a Dromo managed webhook receiver (all three events; loopback http only;
                          repeatable; see POST /_emulator/dromo/webhooks)
  --verbose               log one line per request to stderr
  --help                  show this help

Prints one line of JSON on stdout when ready:
  {\"api\":\"http://127.0.0.1:PORT/api/v1\",\"exa\":\"http://127.0.0.1:PORT/websets\",\"storage\":\"http://127.0.0.1:SPORT\",\"control\":\"http://127.0.0.1:PORT/_emulator\"}";

struct Cli {
    config: Config,
    exit_on_stdin_eof: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Cli>, String> {
    let mut config = Config::default();
    let mut exit_on_stdin_eof = false;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn number<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a valid number: {v}"))
        }
        match flag.as_str() {
            "--host" => config.host = value(&flag)?,
            "--port" => config.port = number(&flag, value(&flag)?)?,
            "--storage-port" => config.storage_port = number(&flag, value(&flag)?)?,
            "--api-key" => config.api_key = value(&flag)?,
            "--exa-api-key" => config.exa_api_key = value(&flag)?,
            "--time-scale" => {
                let f: f64 = number(&flag, value(&flag)?)?;
                if !(f.is_finite() && f > 0.0) {
                    return Err("--time-scale must be > 0".into());
                }
                config.time_scale = f;
            }
            "--schemas" => {
                let path = PathBuf::from(value(&flag)?);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--schemas {}: {e}", path.display()))?;
                let schemas = schema::parse_schemas(&text)
                    .map_err(|e| format!("--schemas {}: {e}", path.display()))?;
                config.dromo_schemas = Some(schemas);
            }
            "--upload-ttl" => {
                let secs: f64 = number(&flag, value(&flag)?)?;
                if !(secs.is_finite() && secs >= 0.0) {
                    return Err("--upload-ttl must be >= 0".into());
                }
                config.upload_ttl = Some(Duration::from_secs_f64(secs));
            }
            "--faults" => {
                let path = PathBuf::from(value(&flag)?);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--faults {}: {e}", path.display()))?;
                let plan = headless_imports_emulator::faults::Plan::parse(&text)
                    .map_err(|e| format!("--faults {}: {e}", path.display()))?;
                config.faults = Some(plan);
            }
            "--dromo-webhook" => {
                let url = value(&flag)?;
                headless_imports_emulator::webhooks::check_receiver(&url)
                    .map_err(|e| format!("--dromo-webhook {url}: {e}"))?;
                config.dromo_webhooks.push(url);
            }
            "--data-dir" => config.data_dir = Some(PathBuf::from(value(&flag)?)),
            "--no-rate-limit" => config.rate_limit = false,
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            "--verbose" => config.verbose = true,
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if config.api_key.is_empty() {
        return Err("--api-key must not be empty".into());
    }
    if config.exa_api_key.is_empty() {
        return Err("--exa-api-key must not be empty".into());
    }
    Ok(Some(Cli {
        config,
        exit_on_stdin_eof,
    }))
}

fn main() -> ExitCode {
    let cli = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("headless-imports-emulator: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("headless-imports-emulator: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    // Blocking reads of stdin may still be parked in a thread; don't wait for them.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let emulator = match Emulator::start(cli.config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("headless-imports-emulator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Handlers go in before the ready line: a harness may signal as soon as it has read it.
    let terminated = terminate_signal();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", emulator.ready_line());
        let _ = out.flush();
    }
    let stdin_closed = async {
        if !cli.exit_on_stdin_eof {
            return std::future::pending::<()>().await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
        let _ = rx.await;
    };
    let reason = tokio::select! {
        r = terminated => r,
        _ = stdin_closed => "stdin closed",
    };
    eprintln!("headless-imports-emulator: {reason}, shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Installs the handlers now and returns a future that resolves on the first SIGINT/SIGTERM.
#[cfg(unix)]
fn terminate_signal() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    async move {
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
}

#[cfg(not(unix))]
fn terminate_signal() -> impl std::future::Future<Output = &'static str> {
    async {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Cli>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags_in_both_forms() {
        let cli = parse(&[
            "--port=0",
            "--storage-port",
            "0",
            "--time-scale",
            "0.01",
            "--upload-ttl=2",
            "--no-rate-limit",
            "--exit-on-stdin-eof",
            "--api-key",
            "k",
            "--exa-api-key=e",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(cli.config.time_scale, 0.01);
        assert_eq!(cli.config.upload_ttl, Some(Duration::from_secs(2)));
        assert!(!cli.config.rate_limit);
        assert!(cli.exit_on_stdin_eof);
        assert_eq!(cli.config.api_key, "k");
        assert_eq!(cli.config.exa_api_key, "e");
        assert_eq!(
            parse(&[]).unwrap().unwrap().config.exa_api_key,
            "test-exa-key"
        );
    }

    #[test]
    fn reads_a_fault_plan() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(
            &good,
            r#"{"seed": 3, "rules": [{"route": "*", "kind": "slow", "ms": 10}]}"#,
        )
        .unwrap();
        let cli = parse(&["--faults", good.to_str().unwrap()])
            .unwrap()
            .unwrap();
        assert_eq!(cli.config.faults.unwrap().seed, 3);
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"rules": [{"route": "nope", "kind": "slow"}]}"#).unwrap();
        assert!(parse(&["--faults", bad.to_str().unwrap()]).is_err());
    }

    #[test]
    fn takes_loopback_dromo_webhooks_only() {
        let cli = parse(&[
            "--dromo-webhook",
            "http://127.0.0.1:9/a",
            "--dromo-webhook=http://localhost:9/b",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            cli.config.dromo_webhooks,
            ["http://127.0.0.1:9/a", "http://localhost:9/b"]
        );
        assert!(parse(&["--dromo-webhook", "http://example.com/"]).is_err());
        assert!(parse(&["--dromo-webhook", "https://127.0.0.1/"]).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["--time-scale", "0"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--exa-api-key="]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--faults", "/nonexistent/faults.json"]).is_err());
    }
}
