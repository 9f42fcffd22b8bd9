import { decodeEnvelope, ErrorCodes, HeraldError, MAX_RECORDS_PER_READ, redriveTargetOf, type Delivery, type Envelope, type TopicDescription } from '@herald/core';
import type { CliContext } from '../context.js';
import { CliErrors } from '../errors.js';
import { clip, iso, printable } from '../output.js';

export interface TailOptions {
  /** `end` (default): only records appended from now on; `beginning`: everything retained first. */
  readonly from: 'beginning' | 'end';
  /** Keep following (default); false: stop at the end offsets read when it started. */
  readonly follow: boolean;
  readonly key?: string;
  readonly type?: string;
  /** Stop after this many records shown. */
  readonly limit?: number;
  /** Pause between looks at the end offsets when nothing new came. */
  readonly pollMs: number;
}

/** One record as `tail --json` prints it (one JSON object per line). */
interface TailLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The decoded envelope, or null when the value is not a Herald envelope (then `value` holds it). */
  readonly event: Envelope | null;
  readonly value?: string;
}

function decode(delivery: Delivery): Envelope | null {
  try {
    return decodeEnvelope(delivery.value, delivery.headers);
  } catch {
    return null;
  }
}

function render(delivery: Delivery, event: Envelope | null, json: boolean): string {
  const at = iso(delivery.timestamp);
  if (json) {
    const line: TailLine = { topic: delivery.topic, partition: delivery.partition, offset: delivery.offset, timestamp: at, key: delivery.key, headers: delivery.headers, event };
    return JSON.stringify(event ? line : { ...line, value: delivery.value }) + '\n';
  }
  const where = `${delivery.topic}/${delivery.partition}@${delivery.offset}`;
  // one line per record, whatever bytes its producer wrote (see printable)
  if (!event) return `${printable(`${at}  ${where}  key=${delivery.key}  (not a Herald envelope) ${clip(delivery.value, 200)}`)}\n`;
  const redrive = redriveTargetOf(delivery.headers);
  const note = redrive ? `  (redrive for ${redrive.group})` : '';
  return `${printable(`${at}  ${where}  ${event.type} v${event.version}  key=${delivery.key}  id=${event.id}${note}  ${clip(JSON.stringify(event.data), 400)}`)}\n`;
}

async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * `herald tail <topic>`: prints records as they are appended, read with the broker's RecordReader
 * (no consumer group, so nothing is left behind), partition by partition in offset order. Stops
 * on SIGINT/SIGTERM or when its reader goes away (EPIPE), after `--limit` records, or (with
 * `--no-follow`, which needs `--from beginning`) at the end offsets it found when it started. A
 * topic that does not exist yet is waited for and then read from its start, whatever `--from`
 * says: all of it was appended after tail started. Writes wait for stdout to drain.
 */
export async function tailCommand(ctx: CliContext, topic: string, options: TailOptions): Promise<void> {
  if (!options.follow && options.from === 'end') {
    throw new HeraldError(ErrorCodes.invalidOptions, '--no-follow stops at the end offsets found at start, so from the end it would print nothing: add --from beginning');
  }
  const broker = await ctx.reader();
  const { io } = ctx;
  const describe = async (): Promise<TopicDescription | undefined> => (await broker.describeTopics([topic]))[0];
  let description = await describe();
  if (!description && !options.follow) throw new HeraldError(CliErrors.nothingMatched, `no topic named ${topic}`);
  if (!description) io.stderr.write(`waiting for topic ${topic} to exist; Ctrl-C to stop\n`);
  // a topic that did not exist when tail started is new: everything in it came after the start
  const from = description ? options.from : 'beginning';
  while (!description && !io.signal.aborted) {
    await sleep(options.pollMs, io.signal);
    description = await describe();
  }
  if (!description) return;
  const positions = new Map(description.partitions.map((p) => [p.partition, from === 'beginning' ? p.start : p.end]));
  const stopAt = options.follow ? undefined : new Map(description.partitions.map((p) => [p.partition, p.end]));
  io.stderr.write(
    options.follow
      ? `following ${topic} (${description.partitions.length} partitions) from the ${from}; Ctrl-C to stop\n`
      : `reading ${topic} (${description.partitions.length} partitions) from the ${from} to its current end\n`,
  );
  let shown = 0;
  const wanted = (delivery: Delivery, event: Envelope | null) =>
    (options.key === undefined || delivery.key === options.key) && (options.type === undefined || event?.type === options.type);

  while (!io.signal.aborted) {
    let progressed = false;
    for (const p of description.partitions) {
      // a partition added while tailing is new: all of it
      let position = positions.get(p.partition) ?? p.start;
      const end = stopAt ? Math.min(p.end, stopAt.get(p.partition) ?? 0) : p.end;
      while (position < end && !io.signal.aborted) {
        const records = await broker.read({ topic, partition: p.partition, from: position, limit: Math.min(MAX_RECORDS_PER_READ, end - position) });
        if (records.length === 0) break;
        for (const delivery of records) {
          if (delivery.offset >= end) {
            position = end; // what lay before it was deleted by retention meanwhile
            break;
          }
          position = delivery.offset + 1;
          const event = decode(delivery);
          if (!wanted(delivery, event)) continue;
          io.stdout.write(render(delivery, event, ctx.json));
          if (options.limit !== undefined && ++shown >= options.limit) return;
          // a slow reader holds tail back; one that went away (EPIPE) aborts the signal
          await io.stdout.drained();
          if (io.signal.aborted) return;
        }
        progressed = true;
      }
      positions.set(p.partition, position);
    }
    if (stopAt) return;
    if (!progressed) await sleep(options.pollMs, io.signal);
    description = (await describe()) ?? description;
  }
}
