// Reads what the monitoring files under deploy/ ask Prometheus for: the PromQL expressions of the
// Grafana dashboards and of the alert rules, and the metric names in them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
export const DASHBOARDS_DIR = join(DEPLOY, 'grafana', 'dashboards');
export const RULES_DIR = join(DEPLOY, 'prometheus', 'rules');
export const RULE_TESTS_DIR = join(DEPLOY, 'prometheus', 'tests');

/** Every file of `dir` ending in `suffix`, as absolute paths, in name order. */
export function filesIn(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(dir, name));
}

/** A Grafana panel as the dashboards store it (rows hold no targets; nested rows may hold panels). */
export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly { readonly expr: string; readonly refId: string; readonly datasource?: { readonly uid: string } }[];
  readonly panels?: readonly Panel[];
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
}

export function readDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel of a dashboard, those inside collapsed rows included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query of `dashboard`'s panels, with where it is (`dashboard / panel / refId`). */
export function dashboardQueries(dashboard: Dashboard): { where: string; expr: string }[] {
  return allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((t) => ({ where: `${dashboard.title} / ${panel.title} / ${t.refId}`, expr: t.expr })));
}

/** The `expr` of every rule in a Prometheus rule file (inline, or a `|` block of more-indented lines). */
export function ruleExpressions(text: string): string[] {
  const lines = text.split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const [, indent, rest] = match;
    if (rest !== '|' && rest !== '>') {
      exprs.push(rest!.trim());
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent!.length)) block.push(lines[++i]!.trim());
    exprs.push(block.join('\n').trim());
  }
  return exprs;
}

/** Words of PromQL that are not metric names: aggregations, functions' keywords, modifiers. */
const KEYWORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2',
  'inf', 'nan',
]);

/**
 * The metric names a PromQL expression selects (Grafana's `$variables` allowed). Drops what is not
 * a metric name: strings, label matchers `{...}`, label lists of `by`/`without`/`on`/`ignoring`/
 * `group_left`/`group_right`, range and subquery brackets, durations, numbers, function calls
 * (an identifier followed by `(`) and the keywords above.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    const before = stripped[match.index - 1];
    const after = stripped.slice(match.index + word.length).trimStart()[0];
    if (before !== undefined && /[0-9.]/.test(before)) continue; // the unit of a duration or a number's exponent
    if (after === '(' || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}
