// Herald's hello world: publish an event through the outbox and handle it, on SQLite files.
// `npm run hello -- <name>`; HERALD_DATA_DIR picks the directory (default .herald/hello; empty is unset).
import { Type } from '@sinclair/typebox';
import { createApp, defineEvent } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';

const Greeted = defineEvent({
  type: 'Greeted',
  topic: 'greetings',
  key: (d) => d.name,
  schema: Type.Object({ name: Type.String({ minLength: 1 }) }),
});

const name = process.argv[2] ?? 'world';
if (name === '') {
  console.error('usage: npm run hello -- <name> (the name must not be empty)');
  process.exit(2); // before anything opens: nothing to close
}
const app = createApp({ ...sqliteEngine({ dataDir: process.env.HERALD_DATA_DIR?.trim() || '.herald/hello' }) });
// The demo ends once its own greeting is handled. A greeting an interrupted run left in the outbox
// may be handled first, even before publish returns: the handler must neither fail on it nor stop.
const handled = new Set<string>();
const sent: { id?: string } = {}; // not a `const` set by publish: the handler may read it before then
const endIfGreeted = (id: string): void => {
  if (id === sent.id && handled.has(id)) setImmediate(() => void app.close());
};
app.on(Greeted, { group: 'greeter' }, async (event) => {
  console.log(`hello, ${event.data.name}`);
  handled.add(event.id);
  endIfGreeted(event.id);
});
await app.start({ handleSignals: true });
sent.id = (await app.publish(Greeted, { name })).id;
endIfGreeted(sent.id);
