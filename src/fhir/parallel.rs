//! Work on worker threads, results in order: the bundle writer's second pass reads rows on the connection's thread,
//! has them built (decrypted, extracted, serialised) on workers, and writes the results in the order it read them,
//! so the bytes are those one thread would write.

use std::collections::BTreeMap;
use std::sync::{mpsc, Mutex};

use super::FhirError;

/// Items handed to a worker at a time: one channel message (and thread wake-up) per item cost more than a small
/// entry's work (a 100,000-entry export: 11.0 s with one item per message, 7.7 s with chunks of 32).
const CHUNK: usize = 32;

/// Chunks being built on the worker threads at most, per worker (bounds memory; keeps the workers fed).
const IN_FLIGHT_PER_WORKER: usize = 4;

type Answered<T> = (u64, Result<Vec<T>, FhirError>);

/// What `feed` hands each item to.
type Take<'t, I> = &'t mut dyn FnMut(I) -> Result<(), FhirError>;

/// Calls `feed` with a function that takes each item in turn; `build` runs on worker threads
/// (`available_parallelism`, at most 4) over chunks of [`CHUNK`] items, `write` on this thread, in the order `feed`
/// gave the items.
pub(super) fn in_order<I: Send, T: Send>(
    feed: &mut dyn FnMut(Take<'_, I>) -> Result<(), FhirError>,
    build: &(dyn Fn(I) -> Result<T, FhirError> + Sync),
    write: &mut dyn FnMut(T) -> Result<(), FhirError>,
) -> Result<(), FhirError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let limit = workers * IN_FLIGHT_PER_WORKER;
    let (to_workers, queue) = mpsc::sync_channel::<(u64, Vec<I>)>(limit);
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        let (to_writer, results) = mpsc::channel::<Answered<T>>();
        for _ in 0..workers {
            let (queue, to_writer) = (&queue, to_writer.clone());
            scope.spawn(move || loop {
                let next = match queue.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, chunk)) = next else { return };
                let mut answer = Answer { seq, to_writer: &to_writer, sent: false };
                answer.send(chunk.into_iter().map(build).collect());
            });
        }
        drop(to_writer);
        let mut order = InOrder { next: 0, waiting: BTreeMap::new() };
        let mut sent = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut send = |chunk: Vec<I>, order: &mut InOrder<T>| -> Result<(), FhirError> {
            while sent - order.next >= limit as u64 {
                order.receive(&results, write)?;
            }
            to_workers.send((sent, chunk)).map_err(|_| stopped())?;
            sent += 1;
            Ok(())
        };
        let fed = feed(&mut |item| {
            chunk.push(item);
            if chunk.len() < CHUNK {
                return Ok(());
            }
            send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)), &mut order)
        });
        let fed = fed.and_then(|()| if chunk.is_empty() { Ok(()) } else { send(chunk, &mut order) });
        drop(to_workers);
        fed?;
        while order.next < sent {
            order.receive(&results, write)?;
        }
        Ok(())
    })
}

fn stopped() -> FhirError {
    FhirError::Io("an export worker thread stopped".into())
}

/// A worker's answer for one item, sent even if building it panicked, so that the writer never waits forever.
struct Answer<'a, T> {
    seq: u64,
    to_writer: &'a mpsc::Sender<Answered<T>>,
    sent: bool,
}

impl<T> Answer<'_, T> {
    fn send(&mut self, built: Result<Vec<T>, FhirError>) {
        self.sent = true;
        let _ = self.to_writer.send((self.seq, built));
    }
}

impl<T> Drop for Answer<'_, T> {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.to_writer.send((self.seq, Err(stopped())));
        }
    }
}

/// Results from the workers, written in order.
struct InOrder<T> {
    next: u64,
    waiting: BTreeMap<u64, Vec<T>>,
}

impl<T> InOrder<T> {
    /// Waits for one result, then writes every result that is next in order.
    fn receive(
        &mut self,
        results: &mpsc::Receiver<Answered<T>>,
        write: &mut dyn FnMut(T) -> Result<(), FhirError>,
    ) -> Result<(), FhirError> {
        let (seq, built) = results.recv().map_err(|_| stopped())?;
        self.waiting.insert(seq, built?);
        while let Some(chunk) = self.waiting.remove(&self.next) {
            for t in chunk {
                write(t)?;
            }
            self.next += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_out_in_the_order_they_went_in_and_an_error_stops_the_writer() {
        let mut out = Vec::new();
        let build = |i: u64| -> Result<u64, FhirError> {
            // Later items finish first, so the workers answer out of order.
            std::thread::sleep(std::time::Duration::from_micros(((1000 - i) % 7) * 50));
            Ok(i * 2)
        };
        in_order(&mut |take| (0..1000).try_for_each(&mut *take), &build, &mut |t| {
            out.push(t);
            Ok(())
        })
        .expect("no error");
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        let failing = |i: u64| if i == 500 { Err(FhirError::Io("item 500".into())) } else { Ok(i) };
        let mut written = 0;
        let err = in_order(&mut |take| (0..1000).try_for_each(&mut *take), &failing, &mut |_| {
            written += 1;
            Ok(())
        })
        .expect_err("item 500 fails");
        assert!(err.to_string().contains("item 500"), "{err}");
        assert!(written <= 500, "nothing after the failing item is written: {written}");
    }
}
