/**
 * How deep a JSON text nests its arrays and objects, counted without parsing: brackets inside
 * strings do not count. Stops and returns `max + 1` as soon as the text goes deeper than `max`,
 * so a body nested far past the limit costs no more than one nested just past it.
 *
 * Why a limit at all: `JSON.parse` takes any depth, but what a route does next with the value
 * recurses — `JSON.stringify` when it is published or stored (it overflows the stack a few
 * thousand levels down), a schema validator, the route's own code — and fails there as a 500.
 */
export function jsonDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return deepest;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
