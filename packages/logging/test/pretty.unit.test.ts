import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';

/** A terminal: what it is written, as it is (one chunk per line the logger writes). */
function terminal() {
  const written: string[] = [];
  return { written, isTTY: true, write: (chunk: string) => void written.push(chunk) };
}

/** What a terminal acts on rather than shows: C0 and C1 controls, DEL, line separators, bidirectional overrides. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const ACTED_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** The colors the readable lines use themselves. */
// eslint-disable-next-line no-control-regex -- finding escape sequences is the point
const OWN_COLORS = /\u001b\[(?:0|1|2|31|32|33|90)m/g;

describe('readable lines', () => {
  // a request's path, a header, a driver's message: text from outside, which a terminal must only show
  const forged = 'GET /orders\n03:04:05.678 INFO  payment settled orderId=o-1';
  const sequence = 'x\u001b]0;owned\u0007\u001b[2J';
  const reversed = 'invoice\u202egpj.exe';

  it('show control characters from logged text escaped: no logged text forges a line or sends the terminal a sequence', () => {
    for (const colors of [false, true]) {
      const out = terminal();
      const logger = pinoLogger({ destination: out, colors });
      const error = new Error(`no route for ${forged}`, { cause: new Error(sequence) });
      logger.error(forged, { path: sequence, [sequence]: 1, file: reversed, csi: 'a\u009b31mb', error });
      const text = out.written.join('').replace(OWN_COLORS, '');
      expect(text, `colors: ${colors}`).not.toMatch(ACTED_ON);
      const lines = text.split('\n').filter((l) => l.length > 0);
      // only the first line starts at column 0, as a log line does: the rest are the error's, indented
      expect(lines.slice(1).every((l) => l.startsWith('    ')), lines.join('\n')).toBe(true);
      expect(lines[0]).toContain('GET /orders\\n03:04:05.678 INFO  payment settled orderId=o-1');
      expect(text).toContain('\\u001b]0;owned\\u0007\\u001b[2J');
      expect(text).toContain('invoice\\u202egpj.exe');
    }
  });

  it("keep each line of an error's message, indented under its first", () => {
    const out = terminal();
    pinoLogger({ destination: out, colors: false }).error('rejected', { error: new Error('2 issues:\n/amount: must be > 0\n/currency: required') });
    const lines = out.written.join('').split('\n');
    expect(lines.slice(1, 4)).toEqual(['    error: Error: 2 issues:', '      /amount: must be > 0', '      /currency: required']);
  });
});
