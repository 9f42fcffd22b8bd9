import { jsonLogger } from '@herald/core';
import type * as KafkaModule from '@herald/kafka';
import type * as PostgresModule from '@herald/postgres';
import { describe, expect, it, vi } from 'vitest';
import { openEngine } from '../src/index.js';

// An engine whose second adapter fails to open closes the first again; when that close fails too,
// the caller still gets the opening error (the reason it has no engine), and the close failure is logged.

const closeFailure = new Error('kafka close failed');
const closed = vi.hoisted(() => ({ count: 0, storesCount: 0 }));

vi.mock('@herald/postgres', async (importOriginal) => {
  const actual = await importOriginal<typeof PostgresModule>();
  return {
    ...actual,
    pgStores: (options: Parameters<typeof actual.pgStores>[0]) => {
      const stores = actual.pgStores(options);
      return Object.assign(Object.create(stores) as typeof stores, {
        async close() {
          await stores.close();
          closed.storesCount += 1;
          throw new Error('stores close failed');
        },
      });
    },
  };
});

vi.mock('@herald/kafka', async (importOriginal) => {
  const actual = await importOriginal<typeof KafkaModule>();
  return {
    ...actual,
    kafkaBroker: (options: Parameters<typeof actual.kafkaBroker>[0]) => {
      const broker = actual.kafkaBroker(options);
      return {
        ...broker,
        async close() {
          await broker.close();
          closed.count += 1;
          throw closeFailure;
        },
      };
    },
  };
});

describe('openEngine, Kafka + PostgreSQL, when the stores fail to open and closing the broker fails too', () => {
  it('throws the opening error and logs the close failure', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    // poolSize 0 is refused by pgStores, after the broker was made
    const config = { kind: 'kafka-postgres', kafka: { brokers: ['127.0.0.1:9'] }, postgres: { connectionString: 'postgres://127.0.0.1:9/none', poolSize: 0 } } as const;
    const error: unknown = await openEngine(config, { logger, kafka: { clientLogLevel: 'silent' } }).then(
      () => expect.unreachable(),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'HeraldError', code: 'invalid-options', message: 'pgStores: poolSize must be a positive integer, got 0' });
    expect(closed.count, 'the broker was closed').toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'engine: closing the Kafka broker after the PostgreSQL stores failed to open failed too; the opening error is the one thrown',
        error: expect.objectContaining({ message: 'kafka close failed' }),
      }),
    );
  });
});

describe('a Kafka + PostgreSQL engine whose broker and stores both fail to close', () => {
  it('closes both, throws the broker\'s error and logs the stores\' (a second failure was dropped unseen)', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = jsonLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const config = { kind: 'kafka-postgres', kafka: { brokers: ['127.0.0.1:9'] }, postgres: { connectionString: 'postgres://127.0.0.1:9/none', migrate: false } } as const;
    const engine = await openEngine(config, { logger, kafka: { clientLogLevel: 'silent' } });
    const before = { broker: closed.count, stores: closed.storesCount };
    await expect(engine.close()).rejects.toBe(closeFailure);
    expect({ broker: closed.count - before.broker, stores: closed.storesCount - before.stores }).toEqual({ broker: 1, stores: 1 });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: "engine: closing the PostgreSQL stores failed too, after the Kafka broker's close failed; the broker's error is the one thrown",
        error: expect.objectContaining({ message: 'stores close failed' }),
      }),
    );
  });
});
