import { describe, expect, it } from 'vitest';
import { createHitWriter } from './hit-writer.js';

function sink(options: { failing?: () => boolean } = {}) {
  const batches: number[][] = [];
  return {
    batches,
    write: async (batch: number[]) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (options.failing?.()) throw new Error('database unavailable');
      batches.push([...batch]);
    },
  };
}

describe('the buffered hit writer', () => {
  it('writes in batches of at most batchSize, in order, without waiting for the timer', async () => {
    const target = sink();
    const writer = createHitWriter({
      write: target.write,
      flushIntervalMs: 60_000,
      batchSize: 3,
      maxBuffered: 100,
    });
    for (let i = 0; i < 7; i++) expect(writer.enqueue(i)).toBe(true);
    await writer.flush();
    expect(target.batches).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(writer.stats()).toEqual({ buffered: 0, written: 7, dropped: 0, failedWrites: 0 });
    await writer.close();
  });

  it('starts a write by itself once a batch is full', async () => {
    const target = sink();
    const writer = createHitWriter({
      write: target.write,
      flushIntervalMs: 60_000,
      batchSize: 2,
      maxBuffered: 100,
    });
    writer.enqueue(1);
    writer.enqueue(2);
    for (let i = 0; i < 20 && target.batches.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(target.batches).toEqual([[1, 2]]);
    await writer.close();
  });

  it('leaves hits that arrive during a write for a full batch or the timer, not a small write of their own', async () => {
    let release: () => void = () => {};
    const batches: number[][] = [];
    const writer = createHitWriter<number>({
      write: async (batch) => {
        batches.push([...batch]);
        // The first write stays open until released, so hits pile up behind it.
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      flushIntervalMs: 60_000,
      batchSize: 3,
      maxBuffered: 100,
    });
    for (const hit of [1, 2, 3]) writer.enqueue(hit);
    for (let i = 0; i < 20 && batches.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    writer.enqueue(4);
    release();
    await new Promise((r) => setTimeout(r, 20));
    // 4 waits: one hit is no batch.
    expect(batches).toEqual([[1, 2, 3]]);
    for (const hit of [5, 6]) writer.enqueue(hit);
    for (let i = 0; i < 20 && batches.length === 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    writer.enqueue(7);
    await writer.close();
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('writes on its timer', async () => {
    const target = sink();
    const writer = createHitWriter({
      write: target.write,
      flushIntervalMs: 10,
      batchSize: 100,
      maxBuffered: 100,
    });
    writer.enqueue(1);
    for (let i = 0; i < 100 && target.batches.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(target.batches).toEqual([[1]]);
    await writer.close();
  });

  it('keeps hits while the database is down, up to the cap, counts the drops, and writes the rest once it is back', async () => {
    let down = true;
    const errors: number[] = [];
    const target = sink({ failing: () => down });
    const writer = createHitWriter({
      write: target.write,
      flushIntervalMs: 60_000,
      batchSize: 2,
      maxBuffered: 5,
      onError: (_e, waiting) => errors.push(waiting),
    });
    for (let i = 0; i < 8; i++) writer.enqueue(i);
    await expect(writer.flush()).rejects.toThrow('database unavailable');
    expect(writer.stats()).toMatchObject({ buffered: 5, dropped: 3, written: 0 });
    expect(errors.length).toBeGreaterThan(0);
    expect(writer.enqueue(99)).toBe(false);
    expect(writer.stats().dropped).toBe(4);
    down = false;
    await writer.flush();
    expect(target.batches.flat()).toEqual([0, 1, 2, 3, 4]);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 5, dropped: 4 });
    await writer.close();
  });

  it('writes everything still waiting on close, retrying a failed write', async () => {
    let failures = 1;
    const target = sink({ failing: () => failures-- > 0 });
    const writer = createHitWriter({
      write: target.write,
      flushIntervalMs: 60_000,
      batchSize: 1000,
      maxBuffered: 10_000,
    });
    for (let i = 0; i < 2500; i++) writer.enqueue(i);
    await writer.close();
    expect(target.batches.flat()).toHaveLength(2500);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 2500, dropped: 0, failedWrites: 1 });
  });
});
