import { describe, expect, it } from 'vitest';
import { hasWindowStore } from '@herald/core';
import { memoryStores } from '@herald/testing';

// `hasWindowStore` is what the stream package checks at install: stores it accepts must answer
// every method its punctuator and the read side call, or idleness fails at each tick instead.
describe('hasWindowStore', () => {
  it('finds window state with every method of the port, and not without its partitions read', async () => {
    const stores = memoryStores();
    expect(hasWindowStore(stores)).toBe(true);
    const { update, read } = stores.windows;
    expect(hasWindowStore({ ...stores, windows: { update, read } })).toBe(false);
    const { windows: _windows, ...without } = stores;
    expect(hasWindowStore(without as typeof stores)).toBe(false);
    await stores.close();
  });
});
