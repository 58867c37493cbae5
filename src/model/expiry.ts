// When a preview expires, and why: one rule for the reaper that destroys it, the sticky
// comment that announces it and the commands that move it. Pure: the caller hands in the
// row's facts, its TTL (the config's, or the default) and the time.

/** The columns of a preview that decide its expiry. */
export interface ExpiryFacts {
  /** The last push or command that deployed: the TTL counts from here. */
  activity_at: number | null;
  desired_at: number;
  /** `/preview pin`: who pinned it; it does not expire while the pull request is open. */
  pinned_by: string | null;
  /**
   * `/preview extend`: the expiry it asked for, who asked and by how much. Also written by
   * `/preview unpin`, with no `extended_ms`: a fresh TTL from the unpin, so a preview pinned
   * for longer than its TTL is not destroyed at the next pass without a reminder.
   */
  extended_until: number | null;
  extended_by: string | null;
  extended_ms: number | null;
}

export type Expiry =
  | { kind: "pinned"; by: string }
  /** `ttlMs` after the last activity. */
  | { kind: "ttl"; at: number; ttlMs: number }
  /** Later than the TTL would have it, because `by` extended it by `ms`. */
  | { kind: "extended"; at: number; by: string; ms: number }
  /** `ttlMs` after `by` unpinned it, later than the TTL from the last activity. */
  | { kind: "unpinned"; at: number; by: string; ttlMs: number };

const DAY_MS = 86_400_000;

/** An extension may keep a preview at most this many TTLs from now. */
export const EXTEND_CAP_TTLS = 4;

/** expiry = max(last activity + ttl, extended_until), unless pinned. */
export function expiryOf(row: ExpiryFacts, ttlMs: number): Expiry {
  if (row.pinned_by !== null) return { kind: "pinned", by: row.pinned_by };
  const byTtl = (row.activity_at ?? row.desired_at) + ttlMs;
  if (row.extended_until !== null && row.extended_until > byTtl) {
    const by = row.extended_by ?? "someone";
    if (row.extended_ms === null) return { kind: "unpinned", at: row.extended_until, by, ttlMs };
    return { kind: "extended", at: row.extended_until, by, ms: row.extended_ms };
  }
  return { kind: "ttl", at: byTtl, ttlMs };
}

/** How long before its expiry a preview's reminder is due: a day, or the TTL's last tenth when that is shorter. */
export function reminderLeadMs(ttlMs: number): number {
  return Math.min(DAY_MS, Math.floor(ttlMs / 10));
}

/** The latest expiry an extension may ask for at `now`. */
export function extendCap(ttlMs: number, now: number): number {
  return now + EXTEND_CAP_TTLS * ttlMs;
}
