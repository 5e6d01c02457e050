// Sticky colour assignment. A user's stable key hashes to one of 10 000 buckets; the user is green while
// their bucket is below green% × 100. A bucket never changes, so raising the green weight can only move
// users from blue to green, and lowering it only from green to blue — no one flaps between versions.

export const BUCKETS = 10_000;

/** FNV-1a over UTF-16 code units with a murmur3 finaliser, so nearby keys spread evenly. No allocation. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

/** True when a user in `bucket` is on green at a green weight of `greenPercent` (0..100). */
export function isGreenBucket(bucket: number, greenPercent: number): boolean {
  return bucket < greenPercent * (BUCKETS / 100);
}
