import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hasReadTransactions, HeraldError } from '@herald/core';
import type { App, Clock, SqlTx, Stores } from '@herald/core';
import type { Gateway, JwtKey } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { UserRegistered } from '../events.js';

/** Who issues the tokens and who they are for (checked by the gateway). */
export const TOKEN_ISSUER = 'async-orders-auth';
export const TOKEN_AUDIENCE = 'async-orders';
/** The role every registered user holds. */
export const CUSTOMER_ROLE = 'customer';
/** Where the public keys are served. */
export const JWKS_PATH = '/.well-known/jwks.json';

/** Domain error codes of the auth routes. */
export const AUTH_ERRORS = { usernameTaken: 'username-taken', invalidCredentials: 'invalid-credentials' } as const;

const RegisterBody = Type.Object(
  {
    username: Type.String({ pattern: '^[A-Za-z0-9_.-]{3,64}$' }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ minLength: 8, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

// scrypt with N = 2^15, r = 8, p = 1 (OWASP's minimum is 2^17 with less memory traffic per round;
// 2^15 keeps a login near 50 ms of one core here), a 16-byte salt per user and a 32-byte key
const SCRYPT: ScryptOptions = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;

function scrypt(password: string, salt: Buffer, options: ScryptOptions = SCRYPT): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password.normalize('NFKC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** `scrypt$N$r$p$salt$hash` (base64url): the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored` (compared in constant time). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem! });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password: a login for an unknown user costs what a wrong password costs. */
const UNKNOWN_USER_HASH = hashPassword(randomBytes(16).toString('hex'));

/** The signing key all auth replicas share, and its public half for the gateways. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: Awaited<ReturnType<typeof importJWK>>;
  readonly publicJwk: JWK;
}

/**
 * Loads the ES256 signing key from the database, creating it on first start. Every replica (and
 * every restart) agrees on one key: the first insert wins and everyone reads it back.
 */
export async function loadSigningKey(stores: Stores<SqlTx>, clock: Clock): Promise<SigningKey> {
  const current = (tx: SqlTx) => tx.query<{ kid: string; private_jwk: string; public_jwk: string }>("SELECT kid, private_jwk, public_jwk FROM auth_signing_keys WHERE slot = 'current'");
  const read = () => (hasReadTransactions<Stores<SqlTx>, SqlTx>(stores) ? stores.read(current) : stores.transaction(current));
  let [row] = await read();
  if (!row) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `es256-${clock.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const [privateJwk, publicJwk] = await Promise.all([exportJWK(privateKey), exportJWK(publicKey)]);
    await stores.transaction((tx) =>
      tx.execute("INSERT INTO auth_signing_keys (slot, kid, private_jwk, public_jwk, created_at) VALUES ('current', $1, $2, $3, $4) ON CONFLICT (slot) DO NOTHING", [
        kid,
        JSON.stringify(privateJwk),
        JSON.stringify(publicJwk),
        clock.now(),
      ]),
    );
    [row] = await read();
  }
  const publicJwk: JWK = { ...(JSON.parse(row!.public_jwk) as JWK), kid: row!.kid, alg: 'ES256', use: 'sig' };
  return { kid: row!.kid, privateKey: await importJWK(JSON.parse(row!.private_jwk) as JWK, 'ES256'), publicJwk };
}

/** The key the gateway verifies tokens with. */
export function verificationKey(key: SigningKey): JwtKey {
  return { kid: key.kid, alg: 'ES256', key: key.publicJwk };
}

/** Options of {@link registerAuthRoutes}. */
export interface AuthRoutesOptions {
  readonly app: App<SqlTx>;
  readonly key: SigningKey;
  readonly tokenTtlSeconds: number;
}

/**
 * auth (seed 004's mini_auth): `POST /auth/register` stores the user with an scrypt hash of the
 * password and publishes UserRegistered in the same transaction (409 `username-taken` when the
 * name is taken); `POST /auth/login` answers an ES256 access token (401 `invalid-credentials`
 * otherwise); `GET /.well-known/jwks.json` serves the public key. Hashing runs before the
 * transaction opens (`prepare`), so a slow hash never holds the store.
 */
export function registerAuthRoutes(gateway: Gateway<SqlTx>, options: AuthRoutesOptions): void {
  gateway.command({
    method: 'POST',
    url: '/auth/register',
    body: RegisterBody,
    status: 201,
    idempotency: 'optional',
    authentication: 'off',
    prepare: ({ body }) => hashPassword(body.password),
    handle: async ({ body, tx, publish, prepared }) => {
      const now = options.app.clock.now();
      const inserted = await tx.execute('INSERT INTO auth_users (username, email, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING', [
        body.username,
        body.email,
        prepared,
        now,
      ]);
      if (inserted === 0) throw new HeraldError(AUTH_ERRORS.usernameTaken, `the username ${body.username} is taken`);
      await publish(UserRegistered, { username: body.username, email: body.email, registeredAt: now, source: 'api' });
      return { username: body.username };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/auth/login',
    body: LoginBody,
    status: 200,
    idempotency: 'off',
    authentication: 'off',
    prepare: async ({ body }) => {
      // read in a read-only transaction and verify outside it: a login writes nothing
      const [user] = await options.app.read((tx) => tx.query<{ password_hash: string }>('SELECT password_hash FROM auth_users WHERE username = $1', [body.username]));
      const matches = await verifyPassword(body.password, user?.password_hash ?? (await UNKNOWN_USER_HASH));
      if (!user || !matches) throw new HeraldError(AUTH_ERRORS.invalidCredentials, 'unknown username or wrong password');
      const now = Math.floor(options.app.clock.now() / 1000);
      return new SignJWT({ roles: [CUSTOMER_ROLE] })
        .setProtectedHeader({ alg: 'ES256', kid: options.key.kid, typ: 'JWT' })
        .setSubject(body.username)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + options.tokenTtlSeconds)
        .sign(options.key.privateKey);
    },
    handle: ({ prepared }) => Promise.resolve({ accessToken: prepared, tokenType: 'Bearer' as const, expiresIn: options.tokenTtlSeconds }),
  });

  gateway.query({ url: JWKS_PATH, authentication: 'off', handle: () => Promise.resolve({ keys: [options.key.publicJwk] }) });
}
