import type { ValidationIssue } from '@herald/core';
import { MAX_ISSUES } from './validation.js';

const hasOwn = (node: object, key: string): boolean => Object.prototype.hasOwnProperty.call(node, key);

/**
 * The properties of a JSON text that fastify's parser (secure-json-parse) refuses as prototype
 * poisoning, each with its JSON pointer: a `__proto__` property, and a `constructor` property
 * whose value has a `prototype` property. Merged into another object by a route (`Object.assign`,
 * a spread, a deep merge), they would change the prototype every object inherits from.
 *
 * Called only once that parser refused the text, to tell such a body (valid JSON) from malformed
 * JSON: empty for a text that is not valid JSON. `JSON.parse` itself is safe here, it makes
 * `__proto__` an own property and sets no prototype.
 */
export function forbiddenProperties(text: string): ValidationIssue[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const issues: ValidationIssue[] = [];
  // iterative: the body's depth is bounded (maxBodyDepth) but may be configured past what recursion takes
  const todo: { readonly node: unknown; readonly at: string }[] = [{ node: value, at: '' }];
  while (todo.length > 0 && issues.length < MAX_ISSUES) {
    const { node, at } = todo.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (hasOwn(node, '__proto__')) {
      issues.push({ path: `${at}/__proto__`, message: 'a property named __proto__ is refused (prototype poisoning)' });
    }
    const ctor = (node as Record<string, unknown>)['constructor'];
    if (hasOwn(node, 'constructor') && typeof ctor === 'object' && ctor !== null && hasOwn(ctor, 'prototype')) {
      issues.push({ path: `${at}/constructor`, message: 'a property named constructor holding a prototype property is refused (prototype poisoning)' });
    }
    const entries = Object.entries(node);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      todo.push({ node: inner, at: `${at}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}` });
    }
  }
  return issues;
}
