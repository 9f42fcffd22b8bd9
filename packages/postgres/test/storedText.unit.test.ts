import { describe, expect, it } from 'vitest';
import { fromStoredText, fromWtf8, toStoredText, toWtf8 } from '../src/internal/storedText.js';

const hex = (bytes: Buffer | null) => bytes?.toString('hex') ?? null;

describe('stored text', () => {
  it('keeps a string a text column holds as it is, with no bytes', () => {
    for (const value of ['', 'order-1', 'a\ufffdb', 'é😀\u007f\u0001', '\ud83d\ude00']) {
      expect(toStoredText(value)).toEqual({ text: value, bytes: null });
    }
  });

  it('writes a string with U+0000 or a lone surrogate as a display form and its exact bytes', () => {
    // Kafka's LongSerializer(42): the record's own bytes come back
    expect(toStoredText('\u0000\u0000\u0000\u0000\u0000\u0000\u0000*')).toEqual({ text: '\ufffd'.repeat(7) + '*', bytes: Buffer.from('000000000000002a', 'hex') });
    const nul = toStoredText('a\u0000b');
    expect([nul.text, hex(nul.bytes)]).toEqual(['a\ufffdb', '610062']);
    const high = toStoredText('a\ud800b');
    expect([high.text, hex(high.bytes)]).toEqual(['a\ufffdb', '61eda08062']);
    const low = toStoredText('\udfff😀\ud83d');
    expect([low.text, hex(low.bytes)]).toEqual(['\ufffd😀\ufffd', 'edbfbff09f9880eda0bd']);
  });

  it('reads back exactly what it wrote, for any string of UTF-16 code units', () => {
    // a deterministic walk over awkward code units: NUL, ASCII, the edges of the 2- and 3-byte
    // ranges, U+D7FF (0xED 0x9F 0xBF, not a surrogate), both surrogate halves, U+FFFD, U+FFFF
    const units = [0x0, 0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff];
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let n = 0; n < 2_000; n++) {
      const value = String.fromCharCode(...Array.from({ length: next() % 12 }, () => units[next() % units.length]!));
      const stored = toStoredText(value);
      expect(fromStoredText(stored.text, stored.bytes)).toBe(value);
      expect(fromWtf8(toWtf8(value))).toBe(value);
    }
  });

  it('tells two strings apart when one is the display form of the other', () => {
    const nul = toStoredText('a\u0000b');
    const shown = toStoredText('a\ufffdb');
    expect(nul.text).toBe(shown.text);
    expect([hex(nul.bytes), hex(shown.bytes)]).toEqual(['610062', null]);
    // two lone surrogates have one display form and different bytes
    expect(hex(toStoredText('dup\ud800').bytes)).not.toBe(hex(toStoredText('dup\ud801').bytes));
  });

  it('encodes as Node does where UTF-8 can, so only lone surrogates differ', () => {
    const value = 'x\u0000é€😀\ud7ff';
    expect(hex(toWtf8(value))).toBe(Buffer.from(value, 'utf8').toString('hex'));
    expect(fromWtf8(Buffer.from(value, 'utf8'))).toBe(value);
  });
});
