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
 * A post's slug: its title's words joined by hyphens, in lower case without diacritics (`Café` →
 * `cafe`; other scripts kept), at most 60 characters, then the post id's last 8 characters so two posts of
 * one title never share a slug: `Best Rock Song` → `best-rock-song-3f9c0a1b`.
 */
export function slugOf(title: string, postId: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu)
    ?.join('-')
    .slice(0, 60)
    .replace(/-+$/, '');
  const suffix = postId.replace(/[^0-9a-z]/gi, '').slice(-8).toLowerCase();
  return base ? `${base}-${suffix}` : suffix;
}

/** The first `length` characters of `text`, on a word boundary where there is one, with `…` when cut. */
export function summaryOf(text: string, length = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= length) return flat;
  const cut = flat.slice(0, length);
  const space = cut.lastIndexOf(' ');
  return `${space > length / 2 ? cut.slice(0, space) : cut}…`;
}
