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
 * Characters a terminal acts on rather than shows: C0 and C1 controls (a newline starts what reads
 * as another log line, ESC a sequence that recolors, moves the cursor or retitles the window),
 * DEL, the line and paragraph separators and the bidirectional overrides (text shown in another
 * order than it is).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A sink that turns the JSON lines a logger writes into lines a person reads in a terminal:
 * `12:03:04.567 INFO  message  key=value ...`, then each error with its stack and its chain of
 * causes, indented. Colors with `colors: true`. A line that is not a JSON object passes as it is.
 * What a line holds is text from outside (a request's URL, a driver's message): control
 * characters in it are shown escaped (`\n`, `\u001b`), never written to the terminal, so no text
 * logged can forge a line or send the terminal a sequence; an error message's lines are shown
 * each indented under it.
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
  const levelOf = LEVELS[String(level)] ?? { label: printable(String(level).toUpperCase().padEnd(5)), color: '' };
  const head = [paint(DIM, clock(time)), paint(levelOf.color, levelOf.label), paint(BOLD, printable(String(msg ?? '')))];
  const errors: string[] = [];
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (isSerializedError(value)) errors.push(...errorLines(key, value, '    '));
    else pairs.push(`${paint(DIM, `${printable(key)}=`)}${show(value)}`);
  }
  return [[...head, ...pairs].join(' '), ...errors.map((l) => paint(RED, l))].join('\n');
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  return Number.isNaN(date.getTime()) ? printable(String(time)) : date.toISOString().slice(11, 23);
}

/** `text` with its control characters escaped (see {@link CONTROL}): one line, shown as it is. */
function printable(text: string): string {
  return text.replace(CONTROL, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A field's value: bare when plain, else as JSON (which escapes C0 controls; the others are escaped here). */
function show(value: unknown): string {
  if (typeof value === 'string') return PLAIN.test(value) && value.length > 0 ? value : printable(JSON.stringify(value));
  return printable(JSON.stringify(value) ?? String(value));
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
  const code = typeof error['code'] === 'string' ? ` [${printable(error['code'])}]` : '';
  // a message of several lines (a validation's issues) keeps them, each indented under the first
  const [first = '', ...more] = error.message.split(/\r\n|\n|\r/);
  const lines = [`${indent}${printable(label)}: ${printable(error.name)}${code}: ${printable(first)}`, ...more.map((l) => `${indent}  ${printable(l)}`)];
  const frames = (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  for (const frame of frames) lines.push(`${indent}  ${printable(frame.trim())}`);
  if (isSerializedError(error.cause)) lines.push(...errorLines('caused by', error.cause, indent));
  else if (error.cause !== undefined) lines.push(`${indent}caused by: ${show(error.cause)}`);
  for (const inner of error.errors ?? []) if (isSerializedError(inner)) lines.push(...errorLines('aggregated', inner, `${indent}  `));
  return lines;
}
