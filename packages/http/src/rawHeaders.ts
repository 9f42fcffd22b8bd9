/**
 * How many of `rawHeaders` (name, value, name, value...) are named `name` (lower case), in any
 * case. Node's `headers` cannot say: it joins a repeated header into one value (`b7, b8`), or
 * keeps the first of some (Authorization, Content-Type) and drops the rest.
 */
export function headerLines(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name) count++;
  }
  return count;
}
