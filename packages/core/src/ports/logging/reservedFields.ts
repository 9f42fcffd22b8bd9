/**
 * `fields` with those named like one of `reserved` (the keys a logger writes itself on every line:
 * `time`, `level`, `msg`) renamed `fields.<key>`, as logrus does: `{ level: 'debug' }` would
 * otherwise turn an error line into a debug line, or (pino does not dedupe keys) write a second
 * `level` that most parsers keep instead of the first. A field set to `undefined`, which JSON
 * leaves out, or inherited, which a spread does not copy, is left alone. A renamed field wins over
 * one the caller already named `fields.<key>`: one key either way.
 *
 * The same object comes back when no field is renamed; otherwise a copy, the caller's object
 * unchanged. A few lookups, not a walk: this runs on every line. Never throws: fields that cannot
 * be read (a getter that throws, a revoked Proxy) come back as they are, for
 * `jsonReadyFields` to write as unreadable.
 *
 * @example
 * renameReservedFields({ level: 'debug', orderId: 'o-1' }, ['time', 'level', 'msg'])
 * // { orderId: 'o-1', 'fields.level': 'debug' }
 */
export function renameReservedFields(fields: Record<string, unknown>, reserved: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  try {
    for (const key of reserved) {
      if (fields[key] === undefined || !Object.hasOwn(fields, key)) continue;
      out ??= { ...fields };
      out[`fields.${key}`] = out[key];
      delete out[key];
    }
  } catch {
    // a getter that throws, a revoked proxy: left as they are (see above)
    return fields;
  }
  return out ?? fields;
}
