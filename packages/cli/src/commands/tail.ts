import { decodeEnvelope, describeThrown, ErrorCodes, HeraldError, isHeraldError, MAX_RECORDS_PER_READ, redriveTargetOf, type Delivery, type Envelope, type TopicDescription } from '@herald/core';
import type { CliContext } from '../context.js';
import { CliErrorCodes, CliErrors } from '../errors.js';
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
 * says: all of it was appended after tail started. Writes wait for stdout to drain. Following, a
 * retriable failure (a broker restarting, a database busy) is said once on stderr and retried every
 * second until it answers, from where tail stopped: no record is missed or printed twice. With
 * `--no-follow`, or a failure that is not retriable, the command fails.
 */
export async function tailCommand(ctx: CliContext, topic: string, options: TailOptions): Promise<void> {
  if (!options.follow && options.from === 'end') {
    throw new HeraldError(ErrorCodes.invalidOptions, '--no-follow stops at the end offsets found at start, so from the end it would print nothing: add --from beginning');
  }
  try {
    await follow(ctx, topic, options);
  } catch (error) {
    // stopped while a read was under way (the reader's reads end at once on the signal): a stop as any other
    if (ctx.io.signal.aborted && isHeraldError(error) && error.code === CliErrorCodes.interrupted) return;
    throw error;
  }
}

async function follow(ctx: CliContext, topic: string, options: TailOptions): Promise<void> {
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
  /** Prints what each partition holds past its position; 'done' once --limit is reached or the reader went away. */
  async function round(partitions: TopicDescription['partitions']): Promise<'progressed' | 'idle' | 'done'> {
    let progressed = false;
    for (const p of partitions) {
      const end = stopAt ? Math.min(p.end, stopAt.get(p.partition) ?? 0) : p.end;
      // a partition added while tailing is new: all of it
      while ((positions.get(p.partition) ?? p.start) < end && !io.signal.aborted) {
        const from = positions.get(p.partition) ?? p.start;
        const records = await broker.read({ topic, partition: p.partition, from, limit: Math.min(MAX_RECORDS_PER_READ, end - from) });
        if (records.length === 0) break;
        for (const delivery of records) {
          // at or past the end: what lay before it was deleted by retention meanwhile
          // the position moves with each record, so a read that fails later resumes right after it
          positions.set(p.partition, Math.min(delivery.offset + 1, end));
          if (delivery.offset >= end) break;
          const event = decode(delivery);
          if (!wanted(delivery, event)) continue;
          io.stdout.write(render(delivery, event, ctx.json));
          if (options.limit !== undefined && ++shown >= options.limit) return 'done';
          // a slow reader holds tail back; one that went away (EPIPE) aborts the signal
          await io.stdout.drained();
          if (io.signal.aborted) return 'done';
        }
        progressed = true;
      }
    }
    return progressed ? 'progressed' : 'idle';
  }

  let failing = false;
  while (!io.signal.aborted) {
    try {
      const outcome = await round(description.partitions);
      if (outcome === 'done' || stopAt) return;
      if (outcome === 'idle') await sleep(options.pollMs, io.signal);
      description = (await describe()) ?? description;
      if (failing) io.stderr.write(`herald: reading ${printable(topic)} again\n`);
      failing = false;
    } catch (error) {
      // following, a broker that restarts or a database that is busy is waited for, as kcat does;
      // tail resumes where it stopped (positions move record by record), missing and repeating nothing
      if (stopAt || !isHeraldError(error) || !error.retriable) throw error;
      if (!failing) io.stderr.write(`herald: ${printable(describeThrown(error))} (${error.code}); retrying until it answers, Ctrl-C to stop\n`);
      failing = true;
      await sleep(Math.max(options.pollMs, RETRY_MS), io.signal);
    }
  }
}

/** The pause between tries while following through a failure (a broker restarting takes seconds). */
const RETRY_MS = 1000;
