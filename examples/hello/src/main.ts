// Herald's hello world: publish an event through the outbox and handle it, on SQLite files.
// `npm run hello -- <name>`; HERALD_DATA_DIR picks the directory (default .herald/hello).
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
const app = createApp({ ...sqliteEngine({ dataDir: process.env.HERALD_DATA_DIR ?? '.herald/hello' }) });
app.on(Greeted, { group: 'greeter' }, async (event) => {
  console.log(`hello, ${event.data.name}`);
  if (event.id === sent.id) setImmediate(() => void app.close()); // the demo ends once its own greeting is handled
});
await app.start({ handleSignals: true });
const sent = await app.publish(Greeted, { name });
