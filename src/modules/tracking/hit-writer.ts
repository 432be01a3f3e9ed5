/**
 * Buffers hits in memory and writes them in batches, so the pixel and the
 * redirect answer without waiting for the database.
 *
 * - A batch is written every `flushIntervalMs`, or as soon as `batchSize`
 *   hits are waiting; one write at a time.
 * - A failed write (database down) keeps its hits and retries on the next
 *   tick. Memory is bounded: past `maxBuffered` waiting hits, new ones are
 *   dropped and counted (`herald_tracking_hits_dropped_total`).
 * - `close()` stops the timer and writes everything still waiting (a few
 *   retries), so a graceful shutdown loses no hit.
 */
export interface HitWriterOptions<T> {
  write(batch: T[]): Promise<void>;
  flushIntervalMs: number;
  batchSize: number;
  maxBuffered: number;
  /** Told of a failed write (never with the hits themselves: they hold addresses). */
  onError?: (error: unknown, waiting: number) => void;
}

export interface HitWriterStats {
  buffered: number;
  written: number;
  dropped: number;
  failedWrites: number;
}

export interface HitWriter<T> {
  /** Queues a hit; false when the buffer is full and the hit was dropped. Never blocks. */
  enqueue(hit: T): boolean;
  /** Writes everything waiting now; rejects when a write fails (the hits stay queued). */
  flush(): Promise<void>;
  /** Stops the timer and writes everything waiting. */
  close(): Promise<void>;
  stats(): HitWriterStats;
}

export function createHitWriter<T>(options: HitWriterOptions<T>): HitWriter<T> {
  const { batchSize, maxBuffered } = options;
  let buffer: T[] = [];
  let written = 0;
  let dropped = 0;
  let failedWrites = 0;
  let running: Promise<void> | undefined;
  let closed = false;
  let soon = false;

  const timer = setInterval(() => {
    void drain(true).catch(() => {});
  }, options.flushIntervalMs);
  timer.unref();

  /**
   * Writes batches, one drain at a time: everything waiting (`all`: the
   * interval, flush, close), or only full batches (a batch filled up). Hits
   * that arrive during a write wait for a full batch or the next interval
   * rather than going out in a small write of their own: per statement the
   * database does as much work as for hundreds of rows.
   */
  function drain(all: boolean): Promise<void> {
    if (running) return running;
    const work = async () => {
      // What was waiting when the drain began; later arrivals only go out in full batches.
      let due = all ? buffer.length : 0;
      while (buffer.length > 0 && (due > 0 || buffer.length >= batchSize)) {
        const batch = buffer.length <= batchSize ? buffer : buffer.slice(0, batchSize);
        buffer = buffer.length <= batchSize ? [] : buffer.slice(batchSize);
        due -= batch.length;
        try {
          await options.write(batch);
          written += batch.length;
        } catch (error) {
          failedWrites++;
          // Back to the front, within the cap: the oldest hits are kept, the newest dropped.
          const room = Math.max(0, maxBuffered - buffer.length);
          const kept = batch.length <= room ? batch : batch.slice(0, room);
          dropped += batch.length - kept.length;
          buffer = kept.length === batch.length && buffer.length === 0 ? kept : [...kept, ...buffer];
          options.onError?.(error, buffer.length);
          throw error;
        }
      }
    };
    // Cleared in a later microtask, so an empty drain cannot leave a stale promise behind.
    const current = work().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  }

  return {
    enqueue(hit) {
      if (buffer.length >= maxBuffered) {
        dropped++;
        return false;
      }
      buffer.push(hit);
      if (buffer.length >= batchSize && !running && !soon && !closed) {
        soon = true;
        setImmediate(() => {
          soon = false;
          void drain(false).catch(() => {});
        });
      }
      return true;
    },

    async flush() {
      // A drain in progress may have started before the latest hits arrived: wait for it, then drain again.
      if (running) await running.catch(() => {});
      await drain(true);
    },

    async close() {
      closed = true;
      clearInterval(timer);
      for (let attempt = 0; ; attempt++) {
        try {
          if (running) await running.catch(() => {});
          await drain(true);
          return;
        } catch (error) {
          if (attempt >= 4) {
            dropped += buffer.length;
            buffer = [];
            throw error;
          }
          await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
        }
      }
    },

    stats: () => ({ buffered: buffer.length, written, dropped, failedWrites }),
  };
}
