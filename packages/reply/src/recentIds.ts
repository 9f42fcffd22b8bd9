/** A bounded memory of ids and what became of them: past `capacity`, the oldest are forgotten. */
export interface RecentIds<V> {
  add(id: string, value: V): void;
  get(id: string): V | undefined;
  readonly size: number;
}

/** A {@link RecentIds} on a Map (insertion order is eviction order). */
export function recentIds<V>(capacity: number): RecentIds<V> {
  const ids = new Map<string, V>();
  return {
    add(id, value) {
      ids.delete(id);
      ids.set(id, value);
      if (ids.size > capacity) ids.delete(ids.keys().next().value!);
    },
    get: (id) => ids.get(id),
    get size() {
      return ids.size;
    },
  };
}
