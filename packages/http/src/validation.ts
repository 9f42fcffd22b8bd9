import { CoreErrors, HeraldError, registerFormats } from '@herald/core';
import type { ValidationIssue } from '@herald/core';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** At most this many offending fields are listed in one problem. */
export const MAX_ISSUES = 20;

/** A compiled request-part validator in the shape fastify's `validatorCompiler` returns. */
export type PartValidator = (data: unknown) => { value: unknown } | { error: HeraldError };

/**
 * Compiles a TypeBox schema into a validator of one request part (body, params, query). Invalid
 * data yields a `schema-violation` error whose `details.issues` lists each offending field once
 * (JSON pointer and the first message about it): missing required properties, properties the
 * schema does not allow (`additionalProperties: false`) and wrongly typed values alike.
 */
export function compileValidator(schema: TSchema, part: string): PartValidator {
  registerFormats();
  const compiled = TypeCompiler.Compile(schema);
  return (data) => {
    if (compiled.Check(data)) return { value: data };
    const issues: ValidationIssue[] = [];
    const seen = new Set<string>();
    for (const error of compiled.Errors(data)) {
      if (seen.has(error.path)) continue;
      seen.add(error.path);
      issues.push({ path: error.path, message: error.message });
      if (issues.length >= MAX_ISSUES) break;
    }
    return { error: requestPartInvalid(part, issues) };
  };
}

/** The `schema-violation` (422) for a request part with `issues`: the first three in the message, all in `details.issues`. */
export function requestPartInvalid(part: string, issues: readonly ValidationIssue[]): HeraldError {
  const summary = issues.slice(0, 3).map((i) => `${i.path || '/'}: ${i.message}`).join('; ');
  return new HeraldError(CoreErrors.schemaViolation, `the request ${part} is invalid: ${summary}`, { details: { issues } });
}
