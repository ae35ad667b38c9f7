//! A log writer that gathers lines and writes them to stderr in batches from one thread.
//!
//! The access log writes a line per request. Handing each line to a writer thread on its own
//! (as `tracing_appender` does) wakes that thread once per request, which cost about an eighth
//! of agentmux's CPU per proxied call (docs/benchmarks.md). Here a line is appended to a
//! shared buffer under a short lock, and the writer thread is woken only when the buffer was
//! empty; it then waits [`GATHER`] for more lines and writes them with one call. So the wake-ups
//! stay near 1/[`GATHER`] per second however busy agentmux is, and a line reaches stderr within
//! about [`GATHER`] of being logged.
//!
//! The buffer is bounded: when stderr cannot keep up and [`LIMIT`] bytes are waiting, new lines
//! are dropped (never blocking a request), and the next batch says how many.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

/// How long the writer thread waits after a wake-up for more lines before writing.
const GATHER: Duration = Duration::from_millis(5);

/// Bytes waiting to be written before new lines are dropped.
const LIMIT: usize = 4 << 20;

struct Shared {
    lines: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stopping: AtomicBool,
}

/// The `MakeWriter` half: cheap to clone, one per event.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
    writer: Thread,
}

/// Stops the writer thread and writes what is still waiting; keep it until the process ends.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread (named `agentmux-log`).
pub fn start() -> std::io::Result<(Batched, Guard)> {
    let shared = Arc::new(Shared {
        lines: Mutex::new(Vec::with_capacity(64 << 10)),
        dropped: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
    });
    let for_thread = shared.clone();
    let thread = thread::Builder::new()
        .name("agentmux-log".into())
        .spawn(move || write_batches(&for_thread, &mut std::io::stderr()))?;
    let writer = thread.thread().clone();
    Ok((
        Batched {
            shared: shared.clone(),
            writer,
        },
        Guard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_batches(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::with_capacity(64 << 10);
    loop {
        let stopping = shared.stopping.load(Ordering::Acquire);
        if !stopping {
            thread::park();
            thread::sleep(GATHER);
        }
        std::mem::swap(
            &mut batch,
            &mut *shared.lines.lock().unwrap_or_else(PoisonError::into_inner),
        );
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(out, "agentmux: {dropped} log lines dropped: stderr could not keep up");
        }
        // A failed write has nowhere to be reported; the lines are lost either way.
        let _ = out.write_all(&batch);
        let _ = out.flush();
        batch.clear();
        if stopping {
            return;
        }
    }
}

impl Batched {
    fn append(&self, line: &[u8]) {
        let was_empty = {
            let mut lines = self.shared.lines.lock().unwrap_or_else(PoisonError::into_inner);
            if lines.len() + line.len() > LIMIT {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let was_empty = lines.is_empty();
            lines.extend_from_slice(line);
            was_empty
        };
        if was_empty {
            self.writer.unpark();
        }
    }
}

impl Write for &Batched {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = &'a Batched;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            lines: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        })
    }

    #[test]
    fn lines_arrive_in_order_and_the_last_batch_is_written_at_stop() {
        let shared = shared();
        let for_thread = shared.clone();
        let thread = thread::spawn(move || {
            let mut out = Vec::new();
            write_batches(&for_thread, &mut out);
            out
        });
        let batched = Batched {
            shared: shared.clone(),
            writer: thread.thread().clone(),
        };
        for i in 0..1000 {
            (&batched).write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        drop(Guard { shared, thread: None });
        batched.writer.unpark();
        let out = String::from_utf8(thread.join().unwrap()).unwrap();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_full_buffer_drops_lines_and_the_next_batch_counts_them() {
        let shared = shared();
        let batched = Batched {
            shared: shared.clone(),
            writer: thread::current(),
        };
        let line = vec![b'x'; LIMIT / 2 + 1];
        batched.append(&line);
        batched.append(&line);
        batched.append(b"small\n");
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 1);
        shared.stopping.store(true, Ordering::Release);
        let mut out = Vec::new();
        write_batches(&shared, &mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("agentmux: 1 log lines dropped"), "{}", &text[..80]);
        assert!(text.ends_with("small\n"));
    }
}
