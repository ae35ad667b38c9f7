//! Lines gathered in a bounded buffer and written in batches by one thread: the log and the
//! audit log, so a request never waits on a terminal, a pipe or a disk.
//!
//! Handing each line to a writer thread on its own (a channel per line) wakes that thread once
//! per request, which cost about an eighth of agentmux's CPU per proxied call
//! (docs/benchmarks.md). Here a line is appended under a short lock, and the writer thread is
//! woken only when the buffer was empty; it then waits [`GATHER`] for more lines and writes them
//! with one call. So wake-ups stay near 1/[`GATHER`] per second however busy agentmux is, and a
//! line reaches its sink within about [`GATHER`] of being pushed.
//!
//! The buffer is bounded: when the sink cannot keep up and the limit is reached, new lines are
//! dropped (never blocking a request) and reported to the sink's `lost` callback, as are lines
//! whose write failed. A class of lines anyone can cause in bulk (denied requests) may be given
//! a share of its own, so a flood of them cannot crowd out the rest.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

/// How long the writer thread waits after a wake-up for more lines before writing.
const GATHER: Duration = Duration::from_millis(5);

/// Called on the writer thread with the number of lines lost (dropped or failed to write) since
/// the last call.
pub type Lost = Box<dyn FnMut(u64) + Send>;

/// Where the lines go, and how much may wait for it.
pub struct Sink {
    /// Names the writer thread.
    pub name: &'static str,
    pub out: Box<dyn Write + Send>,
    /// Bytes waiting before new lines are dropped.
    pub limit: usize,
    /// Of those, bytes that [`Lines::push_bulk`] lines may take.
    pub bulk_limit: usize,
    pub lost: Lost,
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    bulk: usize,
}

struct Shared {
    buffer: Mutex<Buffer>,
    dropped: AtomicU64,
    stopping: AtomicBool,
    limit: usize,
    bulk_limit: usize,
}

/// The pushing half: cheap to share, safe to use from any thread.
pub struct Lines {
    shared: Arc<Shared>,
    writer: Thread,
}

/// Stops the writer thread and writes what is still waiting, when dropped or [`Guard::stop`]ped;
/// keep it as long as lines are pushed.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Starts the writer thread.
pub fn start(sink: Sink) -> std::io::Result<(Lines, Guard)> {
    let shared = Arc::new(Shared {
        buffer: Mutex::new(Buffer::default()),
        dropped: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
        limit: sink.limit,
        bulk_limit: sink.bulk_limit,
    });
    let for_thread = shared.clone();
    let (mut out, mut lost) = (sink.out, sink.lost);
    let thread = thread::Builder::new()
        .name(sink.name.into())
        .spawn(move || write_batches(&for_thread, &mut out, &mut lost))?;
    let writer = thread.thread().clone();
    Ok((
        Lines {
            shared: shared.clone(),
            writer,
        },
        Guard {
            shared,
            thread: Mutex::new(Some(thread)),
        },
    ))
}

fn write_batches(shared: &Shared, out: &mut dyn Write, lost: &mut Lost) {
    let mut batch = Buffer::default();
    loop {
        let stopping = shared.stopping.load(Ordering::Acquire);
        if !stopping {
            thread::park();
            thread::sleep(GATHER);
        }
        std::mem::swap(
            &mut batch,
            &mut *shared.buffer.lock().unwrap_or_else(PoisonError::into_inner),
        );
        let mut lost_lines = shared.dropped.swap(0, Ordering::Relaxed);
        if !batch.bytes.is_empty() && out.write_all(&batch.bytes).and_then(|()| out.flush()).is_err() {
            lost_lines += batch.bytes.iter().filter(|b| **b == b'\n').count() as u64;
        }
        if lost_lines > 0 {
            lost(lost_lines);
        }
        batch.bytes.clear();
        batch.bulk = 0;
        if stopping {
            return;
        }
    }
}

impl Lines {
    /// Queues one line (with its newline); drops it when the buffer is full.
    pub fn push(&self, line: &[u8]) {
        self.append(line, false);
    }

    /// Queues a line of the bulk class, which may take only the sink's `bulk_limit`.
    pub fn push_bulk(&self, line: &[u8]) {
        self.append(line, true);
    }

    fn append(&self, line: &[u8], bulk: bool) {
        let was_empty = {
            let mut buffer = self.shared.buffer.lock().unwrap_or_else(PoisonError::into_inner);
            let full = buffer.bytes.len() + line.len() > self.shared.limit
                || (bulk && buffer.bulk + line.len() > self.shared.bulk_limit);
            if full {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let was_empty = buffer.bytes.is_empty();
            buffer.bytes.extend_from_slice(line);
            if bulk {
                buffer.bulk += line.len();
            }
            was_empty
        };
        if was_empty {
            self.writer.unpark();
        }
    }
}

impl Guard {
    /// Writes what is waiting and stops the writer; lines pushed afterwards are not written.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink writing into a shared vector, counting lost lines.
    fn sink(limit: usize, bulk_limit: usize) -> (Sink, Arc<Mutex<Vec<u8>>>, Arc<AtomicU64>) {
        #[derive(Clone)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Arc::new(Mutex::new(Vec::new()));
        let lost = Arc::new(AtomicU64::new(0));
        let counted = lost.clone();
        let sink = Sink {
            name: "test-lines",
            out: Box::new(Shared(out.clone())),
            limit,
            bulk_limit,
            lost: Box::new(move |n| {
                counted.fetch_add(n, Ordering::Relaxed);
            }),
        };
        (sink, out, lost)
    }

    #[test]
    fn lines_arrive_in_order_and_the_last_batch_is_written_at_stop() {
        let (sink, out, lost) = sink(1 << 20, 1 << 20);
        let (lines, guard) = start(sink).unwrap();
        for i in 0..1000 {
            lines.push(format!("line {i}\n").as_bytes());
        }
        drop(guard);
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(out.lock().unwrap().clone()).unwrap(), expected);
        assert_eq!(lost.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_full_buffer_drops_lines_and_the_bulk_class_keeps_to_its_share() {
        let (sink, out, lost) = sink(100, 25);
        // Not started: nothing writes while the buffer fills.
        let shared = Arc::new(Shared {
            buffer: Mutex::default(),
            dropped: AtomicU64::new(0),
            stopping: AtomicBool::new(true),
            limit: sink.limit,
            bulk_limit: sink.bulk_limit,
        });
        let lines = Lines {
            shared: shared.clone(),
            writer: thread::current(),
        };
        for _ in 0..10 {
            lines.push_bulk(b"denied\n");
        }
        for _ in 0..20 {
            lines.push(b"allowed\n");
        }
        let (mut out_writer, mut lost_fn) = (sink.out, sink.lost);
        write_batches(&shared, &mut out_writer, &mut lost_fn);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        // 3 denials fit their 25 bytes; allowed lines fill the rest of the 100.
        assert_eq!(text.matches("denied").count(), 3);
        assert_eq!(text.matches("allowed").count(), (100 - 21) / 8);
        assert_eq!(lost.load(Ordering::Relaxed), 30 - 3 - (100 - 21) / 8);
    }
}
