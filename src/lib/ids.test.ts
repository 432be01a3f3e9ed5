import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatUuid, isUuid, uuidv7 } from './ids.js';

describe('uuidv7', () => {
  it('is a version 7, variant 10 UUID carrying the millisecond time', () => {
    const at = Date.UTC(2026, 10, 23, 12, 0, 0, 123);
    const id = uuidv7(at);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBeGreaterThanOrEqual(at);
  });

  it('increases strictly within one millisecond and when the clock goes back', () => {
    const at = Date.UTC(2030, 0, 1);
    const ids = Array.from({ length: 10_000 }, () => uuidv7(at));
    ids.push(uuidv7(at - 60_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('formatUuid', () => {
  it('writes 16 bytes at an offset in the 8-4-4-4-12 lowercase form', () => {
    for (let i = 0; i < 100; i++) {
      const uuid = randomUUID();
      const bytes = Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from(uuid.replaceAll('-', ''), 'hex')]);
      expect(formatUuid(bytes, 2)).toBe(uuid);
    }
    expect(formatUuid(Buffer.alloc(16, 0xab))).toBe('abababab-abab-abab-abab-abababababab');
  });
});
