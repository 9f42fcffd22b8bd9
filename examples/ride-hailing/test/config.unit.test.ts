import { describe, expect, it } from 'vitest';
import { loadConfig, SERVICES } from '../src/config.js';
import { priceOf, surgeInForce } from '../src/services/pricing.js';
import { distanceKm } from '../src/services/locationFraud.js';
import { surgeMultiplier } from '../src/services/realtime.js';
import { windowStartOf } from '../src/services/riderWindows.js';

describe('loadConfig', () => {
  it('has the seed\'s defaults: every service, 5-minute surge windows, the fraud rules\' windows and counts, 250 km/h', () => {
    expect(loadConfig({}, [])).toMatchObject({
      services: SERVICES,
      port: 8080,
      pricing: { baseFareCents: 300, perKmCents: 120 },
      surge: { windowMs: 300_000, graceMs: 10_000, threshold: 20, idleTimeoutMs: 30_000 },
      fraud: { windowMs: 600_000, graceMs: 3_600_000, failedPayments: 3, bookings: 5, maxSpeedKmh: 250 },
      runtime: { metricsServer: undefined, relay: { chaos: { failRate: 0 } } },
    });
    expect(loadConfig({}, ['--service', 'realtime,fraud']).services).toEqual(['realtime', 'fraud']);
  });

  it.each([
    [{ SURGE_WINDOW_MS: '10' }, [], /SURGE_WINDOW_MS must be an integer in \[1000, 86400000\]/],
    [{ SURGE_THRESHOLD: '0' }, [], /SURGE_THRESHOLD/],
    [{ FRAUD_MAX_SPEED_KMH: 'fast' }, [], /FRAUD_MAX_SPEED_KMH/],
    [{ FRAUD_FAILED_PAYMENTS: '0' }, [], /FRAUD_FAILED_PAYMENTS/],
    [{ FRAUD_WINDOW_MS: '999' }, [], /FRAUD_WINDOW_MS/],
    [{ HERALD_CHAOS_RATE: '-0.1' }, [], /HERALD_CHAOS_RATE/],
    [{}, ['--service', 'flink'], /unknown service "flink"/],
  ])('refuses %j %j', (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(message);
  });
});

describe('pricing and the realtime rules', () => {
  it('prices base + distance, times the surge', () => {
    expect(priceOf({ baseFareCents: 300, perKmCents: 120 }, 5, 1)).toBe(900);
    expect(priceOf({ baseFareCents: 300, perKmCents: 120 }, 2.5, 1.7)).toBe(1020);
  });

  it('keeps a surge for the window after its own and that window\'s grace, then 1: a quiet region keeps no surge for hours', () => {
    const row = { multiplier: 1.5, window_end: 300_000 };
    const holdMs = 300_000 + 10_000;
    expect(surgeInForce(row, 300_000, holdMs)).toBe(1.5);
    expect(surgeInForce(row, 300_000 + holdMs - 1, holdMs)).toBe(1.5);
    expect(surgeInForce(row, 300_000 + holdMs, holdMs)).toBe(1);
    expect(surgeInForce({ ...row, window_end: '300000' }, 609_999, holdMs)).toBe(1.5);
    expect(surgeInForce(undefined, 0, holdMs)).toBe(1);
  });

  it('applies a window\'s surge only from its end: a booking created before it is not priced with it', () => {
    const row = { multiplier: 2, window_end: 600_000 };
    const holdMs = 300_000 + 10_000;
    expect(surgeInForce(row, 180_000, holdMs)).toBe(1);
    expect(surgeInForce(row, 599_999, holdMs)).toBe(1);
    expect(surgeInForce(row, 600_000, holdMs)).toBe(2);
  });

  it('raises the multiplier by 0.1 per 10% over the threshold, from 1 up to 2.5', () => {
    expect([0, 20, 21, 22, 30, 40, 100].map((n) => surgeMultiplier(n, 20))).toEqual([1, 1, 1.1, 1.1, 1.5, 2, 2.5]);
  });

  it('measures great-circle distances', () => {
    expect(distanceKm({ lat: 55.7558, lon: 37.6173 }, { lat: 59.9343, lon: 30.3351 })).toBeCloseTo(633, 0); // Moscow – St Petersburg on a sphere
    expect(distanceKm({ lat: 10, lon: 10 }, { lat: 10, lon: 10 })).toBe(0);
  });

  it('puts an event time in its fraud window, aligned to the epoch', () => {
    expect([0, 599_999, 600_000, 1_764_000_123_456].map((at) => windowStartOf(at, 600_000))).toEqual([0, 0, 600_000, 1_764_000_000_000]);
  });
});
