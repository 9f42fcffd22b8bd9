/** Where {@link prettyLines} writes: a stream, or anything with `write`. */
export interface LineSink {
  write(chunk: string): unknown;
}

const LEVELS: Readonly<Record<string, { readonly label: string; readonly color: string }>> = {
  debug: { label: 'DEBUG', color: '\u001b[90m' },
  info: { label: 'INFO ', color: '\u001b[32m' },
  warn: { label: 'WARN ', color: '\u001b[33m' },
  error: { label: 'ERROR', color: '\u001b[31m' },
};
const RED = '\u001b[31m';
const RESET = '\u001b[0m';
const DIM = '\u001b[2m';
const BOLD = '\u001b[1m';
const PLAIN = /^[\w.:/@+-]*$/;

/**
 * A sink that turns the JSON lines a logger writes into lines a person reads in a terminal:
 * `12:03:04.567 INFO  message  key=value ...`, then each error with its stack and its chain of
 * causes, indented. Colors with `colors: true`. A line that is not a JSON object passes as it is.
 */
export function prettyLines(out: LineSink, options: { readonly colors?: boolean } = {}): LineSink {
  const colors = options.colors ?? false;
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line.length > 0) out.write(formatLine(line, colors) + '\n');
      return true;
    },
  };
}

/** One JSON log line, made readable (see {@link prettyLines}). */
export function formatLine(line: string, colors = false): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...fields } = entry;
  const paint = (code: string, text: string) => (colors ? `${code}${text}${RESET}` : text);
  const levelOf = LEVELS[String(level)] ?? { label: String(level).toUpperCase().padEnd(5), color: '' };
  const head = [paint(DIM, clock(time)), paint(levelOf.color, levelOf.label), paint(BOLD, String(msg ?? ''))];
  const errors: string[] = [];
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (isSerializedError(value)) errors.push(...errorLines(key, value, '    '));
    else pairs.push(`${paint(DIM, `${key}=`)}${show(value)}`);
  }
  return [[...head, ...pairs].join(' '), ...errors.map((l) => paint(RED, l))].join('\n');
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(11, 23);
}

function show(value: unknown): string {
  if (typeof value === 'string') return PLAIN.test(value) && value.length > 0 ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly cause?: unknown;
  readonly errors?: readonly unknown[];
  readonly [key: string]: unknown;
}

/** What `serializeError` writes: a stack too, so a field like `{ name, message, id }` is shown as data, not as an error missing its `id`. */
function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, stack } = value as SerializedError;
  return typeof name === 'string' && typeof message === 'string' && typeof stack === 'string';
}

/** `key: Name [code] message`, its stack frames, then `caused by:` each cause, all indented. */
function errorLines(label: string, error: SerializedError, indent: string): string[] {
  const code = typeof error['code'] === 'string' ? ` [${error['code']}]` : '';
  const lines = [`${indent}${label}: ${error.name}${code}: ${error.message}`];
  const frames = (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  for (const frame of frames) lines.push(`${indent}  ${frame.trim()}`);
  if (isSerializedError(error.cause)) lines.push(...errorLines('caused by', error.cause, indent));
  else if (error.cause !== undefined) lines.push(`${indent}caused by: ${show(error.cause)}`);
  for (const inner of error.errors ?? []) if (isSerializedError(inner)) lines.push(...errorLines('aggregated', inner, `${indent}  `));
  return lines;
}
