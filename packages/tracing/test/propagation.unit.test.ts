import { describe, expect, it } from 'vitest';
import { flagsReadUnsampled, sampledFlag } from '../src/internal/propagation.js';

const header = (flags: string) => `00-${'0af7651916cd43dd8448eb211c80319c'}-${'b7ad6b7169203331'}-${flags}`;

describe('flagsReadUnsampled (the batch step’s first look at a header)', () => {
  it('reads the sampled bit of every flags value, digits and letters alike', () => {
    for (let value = 0; value < 256; value++) {
      const flags = value.toString(16).padStart(2, '0');
      expect(flagsReadUnsampled(header(flags)), flags).toBe((value & 1) === 0);
      // never says unsampled of a header the full check finds sampled
      if (sampledFlag(header(flags)) === 1) expect(flagsReadUnsampled(header(flags)), flags).toBe(false);
    }
  });

  it('does not judge a header of another length', () => {
    expect(flagsReadUnsampled(`${header('00')}-more`)).toBe(false);
    expect(flagsReadUnsampled('00')).toBe(false);
  });
});
