import { describe, expect, it } from 'vitest';
import { exceptionAttributes } from '../src/internal/spans.js';

describe('exceptionAttributes', () => {
  it('redacts a thrown payload before cutting it at 2 KiB, so a credential across the cut is not half written', () => {
    // JSON puts `{"payload":"` (12 characters) first: the cut falls 10 characters into the token
    const attributes = exceptionAttributes({ payload: 'x'.repeat(2_018) + ' Bearer abcdefghijklmnopqrstuvwxyz0123' });
    const message = String(attributes['exception.message']);
    expect(message).toHaveLength(2_049);
    expect(message).not.toContain('abcdefgh');
    expect(message.endsWith(' Bearer [redacted]…')).toBe(true);
  });

  it('writes a cause without a stack as its first line would read, and one that is no Error as JSON', () => {
    const stackless = Object.assign(new TypeError('socket hang up'), { stack: undefined });
    const error = new Error('publish failed', { cause: Object.assign(stackless, { cause: Object.assign(Object.create(null) as object, { code: 'E42' }) }) });
    const stack = String(exceptionAttributes(error)['exception.stacktrace']);
    expect(stack).toMatch(/\nCaused by: TypeError: socket hang up\nCaused by: \{"code":"E42"\}$/);
  });
});
