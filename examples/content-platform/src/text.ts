/** Longest word the index keeps (longer words are cut to it, in documents and queries alike). */
export const MAX_TERM_LENGTH = 40;
/** Most distinct words indexed per document. */
export const MAX_TERMS = 500;

/**
 * The words of `text` as the search index keeps them: letters (with their combining marks, so
 * `संगीत` is one word) and digits of any script, in NFC and lower case, diacritics kept (`Ёлка`
 * and `ёлка` match, `café` composed or as `cafe` + U+0301 match each other, `cafe` does not),
 * each once, in order. Documents and queries go through it alike.
 */
export function terms(text: string): string[] {
  const words = new Set<string>();
  for (const [word] of text.normalize('NFC').toLowerCase().matchAll(/[\p{L}\p{M}\p{N}]+/gu)) {
    words.add([...word].slice(0, MAX_TERM_LENGTH).join(''));
    if (words.size === MAX_TERMS) break;
  }
  return [...words];
}

/**
 * The first `length` UTF-16 units of `text`, one fewer when the last would be the first half of a
 * character outside the Basic Multilingual Plane (an emoji, a CJK extension letter): a lone half
 * is no character, and PostgreSQL would store it as U+FFFD.
 */
function cutAt(text: string, length: number): string {
  const cut = text.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * A post's slug: its title's words joined by hyphens, in lower case without diacritics (`Café` →
 * `cafe`; other scripts kept), at most 60 characters, then the post id's last 8 characters so two posts of
 * one title never share a slug: `Best Rock Song` → `best-rock-song-3f9c0a1b`.
 */
export function slugOf(title: string, postId: string): string {
  const words = title
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu)
    ?.join('-');
  const base = words === undefined ? '' : cutAt(words, 60).replace(/-+$/, '');
  const suffix = postId.replace(/[^0-9a-z]/gi, '').slice(-8).toLowerCase();
  return base ? `${base}-${suffix}` : suffix;
}

/** The first `length` characters of `text`, on a word boundary where there is one, with `…` when cut. */
export function summaryOf(text: string, length = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= length) return flat;
  const cut = cutAt(flat, length);
  const space = cut.lastIndexOf(' ');
  return `${space > length / 2 ? cut.slice(0, space) : cut}…`;
}
