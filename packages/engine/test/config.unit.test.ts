import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DATA_DIR, ENGINE_ENV_VARS, readEngineConfig, runtimeSettings } from '../src/index.js';
import { repositoryHeraldNames } from './support/repositoryVariables.js';

const KAFKA_PG = { HERALD_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9093', DATABASE_URL: 'postgres://app:s3cret@db:5432/app' };

describe('readEngineConfig: which engine', () => {
  it('is embedded by default, in ./.herald', () => {
    expect(readEngineConfig({})).toEqual({ kind: 'embedded', dataDir: resolve(DEFAULT_DATA_DIR) });
    expect(DEFAULT_DATA_DIR).toBe('./.herald');
  });

  it('is embedded in HERALD_DATA_DIR; empty values count as unset', () => {
    expect(readEngineConfig({ HERALD_DATA_DIR: '/var/lib/herald' })).toEqual({ kind: 'embedded', dataDir: '/var/lib/herald' });
    expect(readEngineConfig({ HERALD_DATA_DIR: '', HERALD_KAFKA_BROKERS: '', DATABASE_URL: ' ' })).toEqual({ kind: 'embedded', dataDir: resolve('./.herald') });
  });

  it('gives HERALD_DATA_DIR absolute, resolved once against the working directory', () => {
    expect(readEngineConfig({ HERALD_DATA_DIR: 'data' })).toEqual({ kind: 'embedded', dataDir: join(process.cwd(), 'data') });
    expect(readEngineConfig({ HERALD_DATA_DIR: '../shared/.herald/' })).toEqual({ kind: 'embedded', dataDir: join(dirname(process.cwd()), 'shared', '.herald') });
    expect(readEngineConfig({})).toEqual({ kind: 'embedded', dataDir: join(process.cwd(), '.herald') });
  });

  it.each(['~/herald-data', '~', '~herald/data', '$HOME/herald', '${XDG_DATA_HOME}/herald', '/srv/$(APP)/data'])(
    'refuses HERALD_DATA_DIR=%s, which no shell expanded, naming the variable',
    (value) => {
      expect(() => readEngineConfig({ HERALD_DATA_DIR: value })).toThrow(
        expect.objectContaining({ code: 'invalid-options', message: expect.stringMatching(/^engine configuration: HERALD_DATA_DIR is ".*": no shell expanded its "[~$]"/) }),
      );
    },
  );

  it('takes a ~ or $ only where a shell leaves one too: inside a path, and in a directory the shell expanded', () => {
    expect(readEngineConfig({ HERALD_DATA_DIR: '/srv/app~1/data' })).toMatchObject({ dataDir: '/srv/app~1/data' });
    for (const kept of ['/srv/price$/data']) expect(readEngineConfig({ HERALD_DATA_DIR: kept })).toMatchObject({ dataDir: kept });
    expect(readEngineConfig({ HERALD_DATA_DIR: join(homedir(), 'herald-data') })).toMatchObject({ dataDir: join(homedir(), 'herald-data') });
  });

  it('is Kafka + PostgreSQL when both HERALD_KAFKA_BROKERS and DATABASE_URL are set', () => {
    expect(readEngineConfig(KAFKA_PG)).toEqual({
      kind: 'kafka-postgres',
      kafka: { brokers: ['kafka-1:9092', 'kafka-2:9093'] },
      postgres: { connectionString: 'postgres://app:s3cret@db:5432/app' },
    });
  });

  it('ignores HERALD_DATA_DIR when Kafka + PostgreSQL is selected: the container image sets it for every service', () => {
    expect(readEngineConfig({ ...KAFKA_PG, HERALD_DATA_DIR: '/data' })).toEqual(readEngineConfig(KAFKA_PG));
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

  it('takes an IPv6 bootstrap server in brackets, as [::1]:9092', () => {
    const config = readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_BROKERS: 'kafka-0:9092,[::1]:9093,[2001:db8::7]:9094' });
    expect(config.kind === 'kafka-postgres' && config.kafka.brokers).toEqual(['kafka-0:9092', '[::1]:9093', '[2001:db8::7]:9094']);
  });

  it.each([
    ['::1:9092', 'holds "::1:9092", an IPv6 address without brackets: write it [address]:port, as [::1]:9092'],
    ['[fe80::1%eth0]:9092', 'must be comma-separated host:port pairs, got "[fe80::1%eth0]:9092"'],
    ['[::1]', 'must be comma-separated host:port pairs, got "[::1]"'],
    ['[not-v6]:9092', 'must be comma-separated host:port pairs, got "[not-v6]:9092"'],
    ['kafka-0:9092,[::1]:70000', 'must be comma-separated host:port pairs, got "[::1]:70000"'],
  ])('refuses a malformed IPv6 bootstrap server (%s), saying what to write', (brokers, message) => {
    let error: unknown;
    try {
      readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_BROKERS: brokers });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'invalid-options', message: `engine configuration: HERALD_KAFKA_BROKERS ${message}` });
  });

  it('never repeats credentials written into HERALD_KAFKA_BROKERS, and says where they go', () => {
    for (const broker of ['svc:s3cret@kafka-1:9092', 'sasl_ssl://svc:s3cret@kafka-1:9092', 'kafka+ssl://s3cret@kafka-1:9092']) {
      expect(() => readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_BROKERS: `kafka-0:9092,${broker}` })).toThrow(
        expect.objectContaining({
          code: 'invalid-options',
          message: expect.stringMatching(
            /^engine configuration: HERALD_KAFKA_BROKERS must be comma-separated host:port pairs, got "\.\.\.@kafka-1:9092" \(credentials go in HERALD_KAFKA_SASL_MECHANISM, HERALD_KAFKA_SASL_USERNAME and HERALD_KAFKA_SASL_PASSWORD\)$/,
          ),
        }),
      );
    }
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

describe('readEngineConfig: variables it would ignore', () => {
  const refusal = (message: RegExp) => expect.objectContaining({ name: 'HeraldError', code: 'invalid-options', retriable: false, message: expect.stringMatching(message) });

  it.each([
    [{ HERALD_ENGINE: 'kafka' }, /^engine configuration: HERALD_ENGINE \(the engine follows from HERALD_KAFKA_BROKERS and DATABASE_URL: both set for Kafka \+ PostgreSQL, neither for the embedded engine in HERALD_DATA_DIR\) is not a variable of engine selection/],
    [{ HERALD_ENGINE: 'postgres', HERALD_DATA_DIR: '/var/lib/herald' }, /HERALD_ENGINE \(the engine follows from/],
    [{ HERALD_KAFKA_SESSION_TIMEOUT: '10000' }, /^engine configuration: HERALD_KAFKA_SESSION_TIMEOUT \(did you mean HERALD_KAFKA_SESSION_TIMEOUT_MS\?\) is not a variable of engine selection, which would ignore it/],
    [{ HERALD_KAFKA_BROKER: 'k:9092', DATABASE_URL: 'postgres://db/app' }, /HERALD_KAFKA_BROKER \(did you mean HERALD_KAFKA_BROKERS\?\)/],
    [{ HERALD_PG_POOLSIZE: '5' }, /HERALD_PG_POOLSIZE \(did you mean HERALD_PG_POOL_SIZE\?\)/],
    [{ HERALD_POSTGRES_POOL_SIZE: '5' }, /HERALD_POSTGRES_POOL_SIZE \(did you mean HERALD_PG_POOL_SIZE\?\)/],
    [{ HERALD_KAFKA_ACKS: 'all' }, /HERALD_KAFKA_ACKS \(known: HERALD_KAFKA_BROKERS, HERALD_KAFKA_CLIENT_ID, .*HERALD_KAFKA_FETCH_MAX_WAIT_MS\)/],
    [{ HERALD_DATADIR: '/var/lib/herald' }, /^engine configuration: HERALD_DATADIR \(did you mean HERALD_DATA_DIR\?\) is not a variable/],
    [{ HERALD_DATABASE_URL: 'postgres://db/app', HERALD_KAFKA_BROKERS: 'k:9092' }, /HERALD_DATABASE_URL \(did you mean DATABASE_URL\?\)/],
    [{ HERALD_PG_POOLSIZE: '5', HERALD_ENGINE: 'kafka' }, /^engine configuration: HERALD_ENGINE \(.*\), HERALD_PG_POOLSIZE \(did you mean HERALD_PG_POOL_SIZE\?\) are not variables of engine selection, which would ignore them/],
  ])('refuses %j, naming the variable and the closest known one', (env, message) => {
    expect(() => readEngineConfig(env)).toThrow(refusal(message));
  });

  it('refuses them with the Kafka + PostgreSQL engine selected too', () => {
    expect(() => readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_SESSION_TIMEOUT: '10000' })).toThrow(refusal(/HERALD_KAFKA_SESSION_TIMEOUT \(did you mean/));
    expect(() => readEngineConfig({ ...KAFKA_PG, HERALD_PG_POOLSIZE: '5' })).toThrow(refusal(/HERALD_PG_POOLSIZE \(did you mean HERALD_PG_POOL_SIZE\?\)/));
  });

  it('never repeats the value of a variable it refuses', () => {
    expect(() => readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_SASL_PASS: 's3cret-pw' })).toThrow(refusal(/HERALD_KAFKA_SASL_PASS \(did you mean HERALD_KAFKA_SASL_PASSWORD\?\)/));
    expect(() => readEngineConfig({ ...KAFKA_PG, HERALD_KAFKA_SASL_PASS: 's3cret-pw' })).not.toThrow(/s3cret-pw/);
  });

  it('takes an empty one as unset, and leaves the runtime\'s and services\' own HERALD_* variables alone', () => {
    expect(readEngineConfig({ HERALD_ENGINE: '', HERALD_KAFKA_SESSION_TIMEOUT: ' ' })).toMatchObject({ kind: 'embedded' });
    const others = { HERALD_INSTANCE_ID: 'gw-1', HERALD_LOG_PRETTY: '0', HERALD_BENCH_PG_STATEMENTS: '10', HERALD_DATA_RETENTION_DAYS: '7', HERALD_METRICS_DIR: '/tmp' };
    expect(readEngineConfig(others)).toMatchObject({ kind: 'embedded' });
    expect(readEngineConfig({ ...KAFKA_PG, ...others })).toMatchObject({ kind: 'kafka-postgres' });
    expect(() => runtimeSettings({ HERALD_LOG_LEVEL: 'warn' })).not.toThrow();
  });

  it('refuses none of the HERALD_* variables the repository\'s packages, examples, deployment and docs use', () => {
    const names = repositoryHeraldNames();
    const engineOwn = new Set<string>(Object.values(ENGINE_ENV_VARS));
    const others = names.filter((name) => !engineOwn.has(name));
    expect(others).toEqual(expect.arrayContaining(['HERALD_LOG_LEVEL', 'HERALD_CHAOS_RATE', 'HERALD_INSTANCE_ID', 'HERALD_SERVICE']));
    for (const name of others) expect(() => readEngineConfig({ [name]: '1' }), name).not.toThrow();
  });
});
