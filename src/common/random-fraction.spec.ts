import { monotonicFactory } from 'ulid';
import { randomFractions } from './random-fraction';

describe('randomFractions', () => {
  it('gives fractions in [0, 1) in steps of 1/256, drawn anew once its pool is spent', () => {
    const next = randomFractions(4);
    const values = Array.from({ length: 400 }, () => next());
    for (const value of values) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      expect(Number.isInteger(value * 256)).toBe(true);
    }
    // A pool of 4 bytes refilled 100 times: a pool that was never refilled would repeat its 4.
    expect(new Set(values).size).toBeGreaterThan(100);
  });

  it("gives ulid's monotonic factory what it needs: valid ids, increasing within one millisecond", () => {
    const nextId = monotonicFactory(randomFractions());
    const ids = Array.from({ length: 1000 }, (_, i) =>
      nextId(1_700_000_000_000 + Math.floor(i / 100)),
    );
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
