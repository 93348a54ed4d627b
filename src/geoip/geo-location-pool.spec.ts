import { GeoLocationPool } from './geo-location-pool';

describe('GeoLocationPool', () => {
  it('hands out one frozen object per country code', () => {
    const pool = new GeoLocationPool();
    const first = pool.location('GB');
    expect(first).toEqual({ country: 'GB' });
    expect(Object.isFrozen(first)).toBe(true);
    expect(pool.location('GB')).toBe(first);
    expect(pool.location('JP')).not.toBe(first);

    const many = Array.from({ length: 10_000 }, (_, i) => pool.location(i % 2 ? 'GB' : 'JP'));
    expect(new Set(many).size).toBe(2);
    expect(pool.size).toEqual({ countries: 2, places: 0 });
  });

  it('shares city-level places by (country, region, city) and keeps absent parts absent', () => {
    const pool = new GeoLocationPool();
    const london = pool.location('GB', 'England', 'London');
    expect(london).toEqual({ country: 'GB', region: 'England', city: 'London' });
    expect(Object.isFrozen(london)).toBe(true);
    expect(pool.location('GB', 'England', 'London')).toBe(london);

    const regionOnly = pool.location('GB', 'England');
    expect(regionOnly).toEqual({ country: 'GB', region: 'England' });
    expect(Object.keys(regionOnly)).toEqual(['country', 'region']);
    const cityOnly = pool.location('GB', undefined, 'England');
    expect(cityOnly).toEqual({ country: 'GB', city: 'England' });
    expect(cityOnly).not.toBe(regionOnly);
    expect(pool.location('GB')).not.toBe(regionOnly);
  });

  it('holds at most maxPlaces places and drops the least recently used first', () => {
    const pool = new GeoLocationPool(3);
    const a = pool.location('DE', 'Berlin', 'Berlin');
    const b = pool.location('DE', 'Bavaria', 'Munich');
    pool.location('DE', 'Hamburg', 'Hamburg');
    expect(pool.location('DE', 'Berlin', 'Berlin')).toBe(a); // now the most recently used

    pool.location('DE', 'Hesse', 'Frankfurt'); // evicts Munich, the least recently used
    expect(pool.size.places).toBe(3);
    expect(pool.location('DE', 'Berlin', 'Berlin')).toBe(a);
    const munichAgain = pool.location('DE', 'Bavaria', 'Munich');
    expect(munichAgain).not.toBe(b);
    expect(munichAgain).toEqual(b);

    for (let i = 0; i < 100; i++) pool.location('FR', 'Île-de-France', `Town ${i}`);
    expect(pool.size.places).toBe(3);
  });
});
