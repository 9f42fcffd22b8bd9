// Where one batch call's latency goes: calls of 1,000 events, one at a time with a pause between
// (the system at rest, as at 2,000 events/s), each traced stage by stage through the public API.
//   node --conditions=@herald/source --import tsx bench/timeline.ts [engine] [calls] [pauseMs]
// (engine: embedded | kafka-postgres, tuned as in bench/engines.ts, the relay in the app; ten
// calls warm it up first.)
// Per call, in ms from the call's start: `publish` when publish.many returned inside the
// transaction, `ack` when the transaction was acknowledged (committed and durable), `handled` when
// the first and the last of the consumer's batches began, `done` when every event was applied;
// `relayed` when the relay's report of its round came (after its mark) and how long the round's
// publish and mark took.
import { createApp, silentLogger, type SqlTx } from '@herald/core';
import { engines } from './engines.js';
import { benchEvents, countPerKey, publishMany } from './herald.js';
import { Applied, benchItem, nowMs } from './workload.js';

const [engineName = 'embedded', callsArg = '20', pauseArg = '300'] = process.argv.slice(2);
const factory = engines[engineName];
if (!factory) throw new Error(`unknown engine ${engineName}; known: ${Object.keys(engines).join(', ')}`);
const engine = await factory(true);
const { tuning } = engine;
const events = benchEvents(tuning.topics);
const GROUP = 'timeline';
const app = createApp<SqlTx>({
  name: 'timeline',
  broker: engine.broker,
  stores: engine.stores,
  logger: silentLogger,
  topics: events.map((e) => ({ name: e.topic, partitions: tuning.partitions })),
  groups: { [GROUP]: tuning.group ?? {} },
  relay: tuning.relay,
  ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
});

type Mark = { readonly at: number; readonly what: string };
let marks: Mark[] = [];
// each applied event recorded against its call's start: the last one is when the call was done
const applied = new Applied();
let callStart = 0;
app.instrumentation.on((fact) => {
  if (fact.kind === 'relayed') marks.push({ at: nowMs(), what: `relayed ${fact.count} (round ${fact.durationMs.toFixed(0)})` });
  if (fact.kind === 'handled' && fact.outcome === 'applied') applied.record(callStart);
});
app.onBatch(events, { group: GROUP }, async (batch, ctx) => {
  marks.push({ at: nowMs(), what: 'batch' });
  await countPerKey(ctx.tx, 'timeline_counters', batch);
});
await app.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS timeline_counters (k TEXT PRIMARY KEY, n BIGINT NOT NULL)'));
await app.start();
await app.ready();

let seq = 0;
/** One call of 1,000 events; resolves once all are applied, with its stages. */
async function call(): Promise<{ published: number; ack: number; done: number }> {
  const start = (callStart = nowMs());
  const items = Array.from({ length: 1000 }, () => benchItem(seq++, start));
  applied.restart();
  const all = applied.until(items.length);
  let published = 0;
  await app.transaction(async (_tx, publish) => {
    await publishMany(publish, events, items);
    published = nowMs();
  });
  const ack = nowMs();
  await all;
  return { published: published - start, ack: ack - start, done: Math.max(...applied.latenciesMs) };
}

const pause = () => new Promise((resolve) => setTimeout(resolve, Number(pauseArg)));
for (let i = 0; i < 10; i++) {
  await call();
  await pause();
}
const fixed = (ms: number) => ms.toFixed(1);
for (let i = 0; i < Number(callsArg); i++) {
  marks = [];
  const started = nowMs();
  const stages = await call();
  await pause(); // the relay's report of its round comes after its mark, possibly after the last event
  const batches = marks.filter((m) => m.what === 'batch').map((m) => m.at - started);
  const relayed = marks.filter((m) => m.what.startsWith('relayed')).map((m) => `${m.what} at ${fixed(m.at - started)}`);
  console.log(
    `publish ${fixed(stages.published)}  ack ${fixed(stages.ack)}  handled ${fixed(Math.min(...batches))}-${fixed(Math.max(...batches))} (${batches.length} batches)  done ${fixed(stages.done)}  ${relayed.join(', ')}`,
  );
}
await app.close();
await engine.cleanup();
