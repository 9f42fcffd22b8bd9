import { describe, expect, it } from 'vitest';
import { DEFAULT_DATA_DIR, readEngineConfig } from '../src/index.js';

const KAFKA_PG = { HERALD_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9093', DATABASE_URL: 'postgres://app:s3cret@db:5432/app' };

describe('readEngineConfig: which engine', () => {
  it('is embedded by default, in ./.herald', () => {
    expect(readEngineConfig({})).toEqual({ kind: 'embedded', dataDir: DEFAULT_DATA_DIR });
    expect(DEFAULT_DATA_DIR).toBe('./.herald');
  });

  it('is embedded in HERALD_DATA_DIR; empty values count as unset', () => {
    expect(readEngineConfig({ HERALD_DATA_DIR: '/var/lib/herald' })).toEqual({ kind: 'embedded', dataDir: '/var/lib/herald' });
    expect(readEngineConfig({ HERALD_DATA_DIR: '', HERALD_KAFKA_BROKERS: '', DATABASE_URL: ' ' })).toEqual({ kind: 'embedded', dataDir: './.herald' });
  });

  it('is Kafka + PostgreSQL when both HERALD_KAFKA_BROKERS and DATABASE_URL are set', () => {
    expect(readEngineConfig(KAFKA_PG)).toEqual({
      kind: 'kafka-postgres',
      kafka: { brokers: ['kafka-1:9092', 'kafka-2:9093'] },
      postgres: { connectionString: 'postgres://app:s3cret@db:5432/app' },
    });
  });

  it('leaves out what an unset variable would set, so it never overwrites an option given in code', () => {
    const config = readEngineConfig(KAFKA_PG);
    expect(config.kind === 'kafka-postgres' && config.postgres).not.toHaveProperty('poolSize');
  });

  it('refuses one of the pair without the other, saying what is missing', () => {
    expect(() => readEngineConfig({ HERALD_KAFKA_BROKERS: 'k:9092' })).toThrow(/HERALD_KAFKA_BROKERS is set but DATABASE_URL is not/);
    expect(() => readEngineConfig({ DATABASE_URL: 'postgres://db/app' })).toThrow(/DATABASE_URL is set but HERALD_KAFKA_BROKERS is not/);
    try {
      readEngineConfig({ DATABASE_URL: 'postgres://db/app' });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'HeraldError', code: 'invalid-options', retriable: false });
    }
  });

  it('refuses Kafka or PostgreSQL tuning when the embedded engine is selected', () => {
    expect(() => readEngineConfig({ HERALD_KAFKA_SSL: 'true' })).toThrow(/HERALD_KAFKA_SSL is set, but the embedded engine is selected/);
    expect(() => readEngineConfig({ HERALD_PG_POOL_SIZE: '4', HERALD_KAFKA_CLIENT_ID: 'x' })).toThrow(/HERALD_KAFKA_CLIENT_ID, HERALD_PG_POOL_SIZE are set/);
  });
});

describe('readEngineConfig: Kafka and PostgreSQL settings', () => {
  it('reads every optional variable', () => {
    const config = readEngineConfig({
      ...KAFKA_PG,
      HERALD_KAFKA_CLIENT_ID: 'ticket-orders',
      HERALD_KAFKA_SSL: 'TRUE',
      HERALD_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      HERALD_KAFKA_SASL_USERNAME: 'svc',
      HERALD_KAFKA_SASL_PASSWORD: ' pass word ',
      HERALD_KAFKA_COMPRESSION: 'gzip',
      HERALD_KAFKA_SESSION_TIMEOUT_MS: '6000',
      HERALD_KAFKA_HEARTBEAT_INTERVAL_MS: '500',
      HERALD_KAFKA_REBALANCE_TIMEOUT_MS: '20000',
      HERALD_KAFKA_FETCH_MAX_WAIT_MS: '0',
      HERALD_PG_POOL_SIZE: '4',
    });
    expect(config).toEqual({
      kind: 'kafka-postgres',
      kafka: {
        brokers: ['kafka-1:9092', 'kafka-2:9093'],
        clientId: 'ticket-orders',
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'svc', password: ' pass word ' },
        compression: 'gzip',
        group: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 20_000 },
        fetch: { maxWaitMs: 0 },
      },
      postgres: { connectionString: 'postgres://app:s3cret@db:5432/app', poolSize: 4 },
    });
    expect(readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_SSL: 'false' })).toMatchObject({ kafka: { ssl: false } });
  });

  it.each([
    [{ HERALD_KAFKA_BROKERS: 'kafka' }, /HERALD_KAFKA_BROKERS must be comma-separated host:port pairs, got "kafka"/],
    [{ HERALD_KAFKA_BROKERS: 'kafka:99999' }, /got "kafka:99999"/],
    [{ HERALD_KAFKA_BROKERS: 'http://kafka:9092' }, /got "http:\/\/kafka:9092"/],
    [{ HERALD_KAFKA_BROKERS: ' , ' }, /must list at least one host:port/],
    [{ DATABASE_URL: 'db:5432/app' }, /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a URL/],
    [{ HERALD_KAFKA_SSL: 'yes' }, /HERALD_KAFKA_SSL must be true or false, got "yes"/],
    [{ HERALD_KAFKA_COMPRESSION: 'snappy' }, /HERALD_KAFKA_COMPRESSION must be one of none, gzip, got "snappy"/],
    [{ HERALD_KAFKA_SASL_MECHANISM: 'gssapi', HERALD_KAFKA_SASL_USERNAME: 'u', HERALD_KAFKA_SASL_PASSWORD: 'p' }, /HERALD_KAFKA_SASL_MECHANISM must be one of plain, scram-sha-256, scram-sha-512/],
    [{ HERALD_KAFKA_SASL_MECHANISM: 'plain' }, /missing HERALD_KAFKA_SASL_USERNAME, HERALD_KAFKA_SASL_PASSWORD/],
    [{ HERALD_KAFKA_SASL_USERNAME: 'u', HERALD_KAFKA_SASL_PASSWORD: 'p' }, /missing HERALD_KAFKA_SASL_MECHANISM$/],
    [{ HERALD_KAFKA_SESSION_TIMEOUT_MS: '3s' }, /HERALD_KAFKA_SESSION_TIMEOUT_MS must be a whole number in \[1, 3600000\], got "3s"/],
    [{ HERALD_KAFKA_SESSION_TIMEOUT_MS: '0' }, /HERALD_KAFKA_SESSION_TIMEOUT_MS must be a whole number/],
    [{ HERALD_KAFKA_SESSION_TIMEOUT_MS: '3000', HERALD_KAFKA_HEARTBEAT_INTERVAL_MS: '3000' }, /HEARTBEAT_INTERVAL_MS \(3000\) must be below HERALD_KAFKA_SESSION_TIMEOUT_MS \(3000\)/],
    [{ HERALD_KAFKA_FETCH_MAX_WAIT_MS: '-1' }, /HERALD_KAFKA_FETCH_MAX_WAIT_MS must be a whole number/],
    [{ HERALD_PG_POOL_SIZE: '0' }, /HERALD_PG_POOL_SIZE must be a whole number in \[1, 1000\]/],
    [{ HERALD_PG_POOL_SIZE: '0x10' }, /HERALD_PG_POOL_SIZE must be a whole number in \[1, 1000\], got "0x10"/],
    [{ HERALD_PG_POOL_SIZE: '1e2' }, /HERALD_PG_POOL_SIZE must be a whole number in \[1, 1000\], got "1e2"/],
  ])('refuses %j', (overrides, message) => {
    expect(() => readEngineConfig({ ...KAFKA_PG, ...overrides })).toThrow(message);
  });

  it('never repeats the database password or the SASL password in an error', () => {
    const messages: string[] = [];
    for (const env of [
      { ...KAFKA_PG, DATABASE_URL: 'mysql://app:s3cret@db/app' },
      { ...KAFKA_PG, HERALD_KAFKA_SASL_PASSWORD: 's3cret', HERALD_KAFKA_SASL_USERNAME: 'svc' },
    ]) {
      try {
        readEngineConfig(env);
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
    expect(messages).toHaveLength(2);
    for (const message of messages) expect(message).not.toContain('s3cret');
  });
});
