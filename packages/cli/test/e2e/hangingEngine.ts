import { main, processIo } from '../../src/index.js';
import { memoryEngine } from '../support.js';

// `herald <argv>` as the bin runs it (`processIo`, the exit code set, no process.exit), on an engine
// that behaves like Kafka behind a black hole: its reads never answer, a connect under way keeps
// the process alive (a timer here), and its close waits for that connect. Prints "reading" once
// the command is waiting, so the test knows when to send the signal.

const m = memoryEngine();
setInterval(() => {}, 1000);
const never = new Promise<never>(() => {});
const broker = {
  ...m.broker,
  describeTopics: () => (process.stdout.write('reading\n'), never),
  close: () => never,
};
process.exitCode = await main(process.argv.slice(2), processIo(), { open: async () => ({ ...m.engine, broker, close: () => never }) });
