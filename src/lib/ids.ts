import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let counter = 0;

// Random bytes are drawn 4 KiB at a time rather than per id (ids are made on hot paths: request ids, tracking hits).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function random(size: number): Buffer {
  if (poolOffset + size > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + size));
  poolOffset += size;
  return out;
}

/**
 * UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then a 12-bit counter,
 * then random bits. Ids sort by creation time, which keeps B-tree inserts
 * local and lets cursor pagination order by id alone. Within one process ids
 * are strictly increasing even inside one millisecond (RFC 9562 section 6.2,
 * method 1), so records written in one call keep their order (a subscribe
 * before its confirm).
 */
export function uuidv7(now: number = Date.now()): string {
  let ms = Math.max(now, lastMs);
  if (ms === lastMs) {
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one millisecond: borrow the next millisecond.
      ms++;
      counter = 0;
    }
  } else {
    // A random start in the lower half leaves room to count up.
    counter = random(2).readUInt16BE(0) & 0x7ff;
  }
  lastMs = ms;
  const bytes = random(16);
  bytes[0] = (ms / 2 ** 40) & 0xff;
  bytes[1] = (ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (counter >>> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/**
 * Forgets the last id's time, so the next id follows the clock it is given
 * again. For test runs that share one process between test files, each with
 * its own manual clock: otherwise a file's ids would carry the latest time
 * an earlier file's clock reached.
 */
export function resetIdSequence(): void {
  lastMs = -1;
  counter = 0;
}
