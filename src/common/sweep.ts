/** One batch of a sweep (expired sessions, old audit events, ended rate-limit counters). */
export interface SweepResult {
  readonly removed: number;
  /** True when the batch limit stopped the sweep before everything due was removed. */
  readonly more: boolean;
}
