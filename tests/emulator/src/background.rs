//! Background work at low CPU priority.
//!
//! Processing a large import is CPU-bound for tens of seconds. On a two-core machine, it would
//! otherwise compete with the next benchmark upload and skew what that benchmark measures. So it
//! runs on its own thread with the lowest priority (nice 19) and only gets CPU nobody else wants.

use tokio::sync::oneshot;

/// Runs `work` on a fresh low-priority thread; the receiver yields its result (or an error if the
/// thread could not be started or panicked).
pub fn run_low_priority<T, F>(name: &str, work: F) -> oneshot::Receiver<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(work());
        });
    if let Err(e) = spawned {
        eprintln!("headless-imports-emulator: cannot start {name}: {e}");
    }
    rx
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value only.
    // SAFETY: plain syscalls on the calling thread's own id; no memory is shared with the kernel.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
