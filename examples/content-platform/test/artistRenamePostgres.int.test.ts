import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createContentPlatform, type ContentPlatform } from '../src/system.js';
import { ContentApi, eventually } from './support/client.js';

// A post written while content applies a rename of its artist, on PostgreSQL (Kafka: librdkafka's
// mock cluster): the api alone runs here, and this test is content's rename, by hand, in a
// transaction of its own, as the handler does it (the cache row, then the artist's posts). Under
// READ COMMITTED the post read the old name, and the rename, not seeing the uncommitted post,
// renamed the others: the post kept the old name for good. The post now waits for the rename, and
// takes its name.

let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;
let system: ContentPlatform | undefined;
let url: string;
let api: ContentApi;

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  url = await cluster.createDatabase('content_platform_rename');
  const env = { ...mock.engineEnv, DATABASE_URL: url, HERALD_LOG_LEVEL: 'silent', PORT: '0' };
  system = await createContentPlatform(loadConfig(env, ['--service', 'api']), env);
  api = new ContentApi((await system.start()).url!);
}, 120_000);
afterAll(async () => {
  await system?.close();
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

describe('a post written while its artist is renamed, on PostgreSQL', () => {
  it("takes the artist's new name", async () => {
    const author = await api.register('writer');
    const { artistId } = await api.ok<{ artistId: string }>('POST', '/artists', 201, { name: 'Old Name', genre: 'rock', bio: '' });
    // content's cache as its ArtistCreated handler leaves it (content does not run here)
    const rename = new pg.Client({ connectionString: url });
    // a session of its own: one in a transaction sees pg_stat_activity as of its first read
    const watch = new pg.Client({ connectionString: url });
    await Promise.all([rename.connect(), watch.connect()]);
    try {
      await rename.query('INSERT INTO content_artists (artist_id, name, version) VALUES ($1, $2, 1)', [artistId, 'Old Name']);
      await rename.query('BEGIN');
      await rename.query('UPDATE content_artists SET name = $1, version = 2 WHERE artist_id = $2', ['New Name', artistId]);
      await rename.query("UPDATE content_posts SET artist_name = $1, version = version + 1 WHERE artist_id = $2 AND deleted = 0 AND artist_name <> $1", ['New Name', artistId]);
      const posting = api.call<{ postId: string }>('POST', '/posts', { body: { authorId: author, artistId, title: 'Song', content: 'a song' } });
      let answered = false;
      void posting.finally(() => (answered = true));
      // the post waits for the rename's lock on the artist's row (or, before, committed at once)
      const waiting = eventually(async () => {
        if (answered) return true;
        const { rows } = await watch.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE content_artists%'");
        return rows.length > 0 ? true : undefined;
      }, 30_000, 'the post waiting for the rename');
      const first = await Promise.race([posting.then(() => 'post answered'), waiting.then(() => 'post waiting')]);
      await waiting;
      await rename.query('COMMIT');
      const reply = await posting;
      expect(reply.status).toBe(201);
      const { rows } = await watch.query<{ artist_name: string }>('SELECT artist_name FROM content_posts WHERE post_id = $1', [reply.body.postId]);
      expect({ first, artistName: rows[0]?.artist_name }).toEqual({ first: 'post waiting', artistName: 'New Name' });
    } finally {
      await Promise.all([rename.end(), watch.end()]);
    }
  });
});
