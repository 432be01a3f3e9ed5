import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let counter = 0;

// Random bytes are drawn 4 KiB at a time rather than per id (ids are made on hot paths: request ids, tracking hits).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
/** Where `size` fresh random bytes start in `pool`; valid until the next call. */
function random(size: number): number {
  if (poolOffset + size > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += size;
  return at;
}

/** ASCII codes of each byte's two lowercase hex digits. */
const HEX_CODES = Array.from({ length: 256 }, (_, i) => {
  const hex = i.toString(16).padStart(2, '0');
  return [hex.charCodeAt(0), hex.charCodeAt(1)] as const;
});
const scratch = Buffer.alloc(36);

/**
 * The 8-4-4-4-12 lowercase form of the 16 bytes at `offset`. Written into one
 * buffer and read out as one flat string: ids are formatted on hot paths (a
 * tracking hit formats up to five), and building them by concatenation
 * leaves a string object per piece for the garbage collector.
 */
export function formatUuid(bytes: Uint8Array, offset = 0): string {
  let out = 0;
  for (let i = 0; i < 16; i++) {
    const codes = HEX_CODES[bytes[offset + i] as number] as readonly [number, number];
    scratch[out++] = codes[0];
    scratch[out++] = codes[1];
    // The dashes of 8-4-4-4-12 follow bytes 3, 5, 7 and 9.
    if (i === 3 || i === 5 || i === 7 || i === 9) scratch[out++] = 45;
  }
  return scratch.toString('latin1', 0, 36);
}

const idBytes = Buffer.alloc(16);

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
    counter = pool.readUInt16BE(random(2)) & 0x7ff;
  }
  lastMs = ms;
  const at = random(16);
  pool.copy(idBytes, 0, at, at + 16);
  idBytes[0] = (ms / 2 ** 40) & 0xff;
  idBytes[1] = (ms / 2 ** 32) & 0xff;
  idBytes[2] = (ms >>> 24) & 0xff;
  idBytes[3] = (ms >>> 16) & 0xff;
  idBytes[4] = (ms >>> 8) & 0xff;
  idBytes[5] = ms & 0xff;
  idBytes[6] = 0x70 | (counter >>> 8);
  idBytes[7] = counter & 0xff;
  idBytes[8] = ((idBytes[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(idBytes);
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
