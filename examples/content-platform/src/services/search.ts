import { canInspect } from '@herald/core';
import type { App, Broker, Logger, SqlTx, TransactionRunner } from '@herald/core';
import { invalidSetting } from '@herald/engine';
import { ArtistCreated, ArtistUpdated, PostCreated, PostDeleted, PostUpdated, SEARCH_SOURCE_TOPICS, searchGroup } from '../events.js';
import { summaryOf, terms } from '../text.js';

/** What the index holds. */
export type DocumentKind = 'post' | 'artist';

/** One document as it goes into the index. */
interface IndexedDocument {
  readonly kind: DocumentKind;
  readonly id: string;
  readonly version: number;
  readonly title: string;
  readonly summary: string;
  /** Every text the document is found by. */
  readonly text: string;
}

/** Options of {@link registerSearchService}. */
export interface SearchServiceOptions {
  /** The index generation (`SEARCH_INDEX_GENERATION`); see {@link prepareSearchIndex}. */
  readonly generation: number;
}

/**
 * search (seed 002's search-indexer): keeps the search index of posts and artists from their
 * events. Every change is an upsert guarded by the document's version, so an event older than what
 * the index holds (a replay, a redrive, a copy delivered late) changes nothing, and a deleted post
 * stays a tombstone at its version, so a late `post.created` cannot bring it back. The inbox keeps
 * each event applied once besides.
 */
export function registerSearchService(app: App<SqlTx>, options: SearchServiceOptions): void {
  const group = searchGroup(options.generation);
  const now = () => app.clock.now();

  const index = async (tx: SqlTx, logger: Logger, document: IndexedDocument): Promise<void> => {
    const changed = await tx.execute(
      `INSERT INTO search_documents (kind, doc_id, version, title, summary, deleted, indexed_at) VALUES ($1, $2, $3, $4, $5, 0, $6)
       ON CONFLICT (kind, doc_id) DO UPDATE SET version = excluded.version, title = excluded.title, summary = excluded.summary, deleted = 0, indexed_at = excluded.indexed_at
       WHERE search_documents.version < excluded.version`,
      [document.kind, document.id, document.version, document.title, document.summary, now()],
    );
    if (changed === 0) {
      logger.info('stale event skipped', { status: 'stale', docId: document.id, version: document.version });
      return;
    }
    await tx.execute('DELETE FROM search_terms WHERE kind = $1 AND doc_id = $2', [document.kind, document.id]);
    const words = terms(document.text);
    for (let at = 0; at < words.length; at += 100) {
      const slice = words.slice(at, at + 100);
      const values = slice.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', ');
      await tx.execute(`INSERT INTO search_terms (term, kind, doc_id) VALUES ${values}`, slice.flatMap((term) => [term, document.kind, document.id]));
    }
    logger.info('indexed', { status: 'indexed', docId: document.id, version: document.version, terms: words.length });
  };

  const post = (data: { postId: string; version: number; title: string; content: string; artistName: string | null }): IndexedDocument => ({
    kind: 'post',
    id: data.postId,
    version: data.version,
    title: data.title,
    summary: summaryOf(data.content),
    text: [data.title, data.content, data.artistName ?? ''].join(' '),
  });
  const artist = (data: { artistId: string; version: number; name: string; genre: string; bio: string }): IndexedDocument => ({
    kind: 'artist',
    id: data.artistId,
    version: data.version,
    title: data.name,
    summary: summaryOf(`${data.genre}. ${data.bio}`),
    text: [data.name, data.genre, data.bio].join(' '),
  });

  app.on(PostCreated, { group }, async (event, ctx) => {
    await index(ctx.tx, ctx.logger, post(event.data));
  });
  app.on(PostUpdated, { group }, async (event, ctx) => {
    await index(ctx.tx, ctx.logger, post(event.data));
  });
  app.on(ArtistCreated, { group }, async (event, ctx) => {
    await index(ctx.tx, ctx.logger, artist(event.data));
  });
  app.on(ArtistUpdated, { group }, async (event, ctx) => {
    await index(ctx.tx, ctx.logger, artist(event.data));
  });
  app.on(PostDeleted, { group }, async (event, ctx) => {
    const { postId, version } = event.data;
    // the tombstone: inserted when the post was never indexed (its created event still on its way)
    const changed = await ctx.tx.execute(
      `INSERT INTO search_documents (kind, doc_id, version, title, summary, deleted, indexed_at) VALUES ('post', $1, $2, '', '', 1, $3)
       ON CONFLICT (kind, doc_id) DO UPDATE SET version = excluded.version, title = '', summary = '', deleted = 1, indexed_at = excluded.indexed_at
       WHERE search_documents.version < excluded.version`,
      [postId, version, now()],
    );
    if (changed > 0) await ctx.tx.execute("DELETE FROM search_terms WHERE kind = 'post' AND doc_id = $1", [postId]);
    ctx.logger.info(changed > 0 ? 'removed from the index' : 'stale event skipped', { status: changed > 0 ? 'removed' : 'stale', docId: postId, version });
  });
}

/** What {@link prepareSearchIndex} works on. */
export interface PrepareSearchIndexOptions {
  readonly stores: TransactionRunner<SqlTx>;
  /** The log the index is rebuilt from: its topics' start offsets tell whether it still holds everything. */
  readonly broker: Broker;
  /** The index generation (`SEARCH_INDEX_GENERATION`). */
  readonly generation: number;
  readonly logger: Logger;
}

/**
 * Rebuilding the index (seed 002: "восстановить Search Index с нуля"): the index is built anew by a
 * new consumer group reading every event from the start of the log. When the generation the index
 * was built by (kept in `search_meta`) is below `generation`, this empties the index and records
 * the new one, in one transaction; the process then runs group `search-indexer-<generation>`, which
 * starts at the earliest record. Every replica calls it at start: the first empties, the others
 * find the generation recorded. Refuses a generation below the recorded one (a replica left on an
 * old setting would otherwise index into the new index from its old group), and refuses a rebuild
 * when a partition of the topics the index is built from no longer starts at offset 0 (retention
 * deleted records: the new index would silently miss posts and artists), keeping the old index.
 */
export async function prepareSearchIndex(options: PrepareSearchIndexOptions): Promise<void> {
  const { stores, generation, logger } = options;
  const indexGeneration = async (tx: SqlTx): Promise<number> => {
    const [row] = await tx.query<{ value: number }>("SELECT value FROM search_meta WHERE name = 'generation'", []);
    const current = row ? row.value : 1;
    if (generation < current) throw invalidSetting(`SEARCH_INDEX_GENERATION=${generation} is below the index's generation ${current}: run the search service with ${current} or above`);
    return current;
  };
  const current = await stores.transaction(indexGeneration);
  if (generation === current) return;
  await expectWholeLog(options, current);
  await stores.transaction(async (tx) => {
    const from = await indexGeneration(tx);
    // the generation moves up in one conditional write: of replicas starting at once, the one whose
    // write lands empties the index; on PostgreSQL the others wait on the row, then change nothing
    const raised = await tx.execute(
      "INSERT INTO search_meta (name, value) VALUES ('generation', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE search_meta.value < excluded.value",
      [generation],
    );
    if (raised === 0 || generation === 1) return;
    await tx.execute('DELETE FROM search_terms', []);
    await tx.execute('DELETE FROM search_documents', []);
    logger.warn('search index emptied for a rebuild', { from, generation, group: searchGroup(generation) });
  });
}

/** Refuses a rebuild from a log that no longer holds the first record of every partition of the index's topics. */
async function expectWholeLog(options: PrepareSearchIndexOptions, current: number): Promise<void> {
  const { broker, generation, logger } = options;
  if (!canInspect(broker)) {
    logger.warn('search index rebuilt from a log that cannot be inspected: records its retention deleted are not noticed', { generation });
    return;
  }
  const gaps = (await broker.describeTopics(SEARCH_SOURCE_TOPICS)).flatMap((topic) =>
    topic.partitions.filter((p) => p.start > 0).map((p) => `${topic.name}[${p.partition}] starts at ${p.start}`),
  );
  if (gaps.length === 0) return;
  throw invalidSetting(
    `SEARCH_INDEX_GENERATION=${generation} would rebuild the search index from a log that retention has trimmed (${gaps.join(', ')}): ` +
      `the new index would miss what was deleted. The index at generation ${current} is kept; run the search service with ${current}`,
  );
}

/** One hit of {@link searchIndex}. */
export interface SearchHit {
  readonly kind: DocumentKind;
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly version: number;
}

/**
 * The documents that have every word of `query` (at most 20 words), of `kind` or both, the most
 * recently indexed first. No words, no hits.
 */
export async function searchIndex(tx: SqlTx, query: string, kind: DocumentKind | undefined, limit: number): Promise<SearchHit[]> {
  const words = terms(query).slice(0, 20);
  if (words.length === 0) return [];
  const params: unknown[] = [...words];
  const termParams = words.map((_, i) => `$${i + 1}`).join(', ');
  let kindFilter = '';
  if (kind) {
    params.push(kind);
    kindFilter = `AND t.kind = $${params.length}`;
  }
  params.push(words.length, limit);
  const rows = await tx.query<{ kind: DocumentKind; doc_id: string; title: string; summary: string; version: number }>(
    `SELECT d.kind, d.doc_id, d.title, d.summary, d.version
       FROM search_documents d
       JOIN (SELECT t.kind, t.doc_id FROM search_terms t WHERE t.term IN (${termParams}) ${kindFilter}
              GROUP BY t.kind, t.doc_id HAVING COUNT(*) = $${params.length - 1}) m
         ON m.kind = d.kind AND m.doc_id = d.doc_id
      WHERE d.deleted = 0
      ORDER BY d.indexed_at DESC, d.doc_id
      LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({ kind: r.kind, id: r.doc_id, title: r.title, summary: r.summary, version: r.version }));
}
