/**
 * A map that keeps what was used lately, bounded in size, with O(1) work per
 * call. Two generations: new and looked-up entries go to the young map; when
 * it is full it becomes the old one and the previous old one is dropped
 * whole. An entry survives while it is used at least once per generation.
 *
 * Why not one Map evicting its oldest key: deleting from the front of a Map
 * leaves holes that `keys().next()` walks past on every later eviction, so
 * a full cache under a big campaign's traffic (a new message per click)
 * spends more time evicting than the lookup saves.
 */
export interface BoundedCache<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
}

/** Holds at most `2 * perGeneration` entries. */
export function createBoundedCache<K, V>(perGeneration: number): BoundedCache<K, V> {
  let young = new Map<K, V>();
  let old = new Map<K, V>();
  const set = (key: K, value: V) => {
    young.set(key, value);
    if (young.size >= perGeneration) {
      old = young;
      young = new Map();
    }
  };
  return {
    get(key) {
      const value = young.get(key);
      if (value !== undefined || old.size === 0) return value;
      const kept = old.get(key);
      if (kept !== undefined) {
        old.delete(key);
        set(key, kept);
      }
      return kept;
    },
    set,
    delete(key) {
      young.delete(key);
      old.delete(key);
    },
  };
}
