import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The core's layers, lowest first (STYLE.md: imports point only downward). Each layer may import
 * itself and the layers before it; `runtime`, `relay` and `timers` are peers that never import
 * each other.
 */
const CORE_LAYERS = ['model', 'ports', 'timing', 'pipeline', 'runtime', 'relay', 'timers', 'app'];
const PEERS = ['runtime', 'relay', 'timers'];
const coreZones = CORE_LAYERS.flatMap((layer, i) =>
  CORE_LAYERS.slice(i + 1)
    .filter((above) => !(PEERS.includes(layer) && PEERS.includes(above)))
    .map((above) => ({
      target: `./packages/core/src/${layer}`,
      from: `./packages/core/src/${above}`,
      message: `core layer "${layer}" must not import from "${above}", a layer above it (STYLE.md: imports point only downward).`,
    })),
).concat(
  PEERS.flatMap((peer) =>
    PEERS.filter((other) => other !== peer).map((other) => ({
      target: `./packages/core/src/${peer}`,
      from: `./packages/core/src/${other}`,
      message: `${PEERS.join(', ')} are peers: none imports another.`,
    })),
  ),
);

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.herald/**', 'coverage/**', '**/public/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // the cycle check parses the files it follows: with the TypeScript parser
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // no import cycles anywhere in the repository, type-only imports included
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // every error code comes from a package's catalogue (defineErrorCodes), never a literal at the throw site
    files: ['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='HeraldError'][arguments.0.type=/^(Literal|TemplateLiteral)$/]",
          message: "Throw with a code from the package's error catalogue (defineErrorCodes), not a literal: codes are documented in one place.",
        },
      ],
    },
  },
  {
    // STYLE.md: the core knows no technology. Only node: built-ins, its own files and TypeBox.
    files: ['packages/core/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!node:|\\.|@sinclair/typebox(/|$))',
              message: 'packages/core imports only node: built-ins, its own files and @sinclair/typebox (STYLE.md).',
            },
          ],
        },
      ],
      'import-x/no-restricted-paths': ['error', { zones: coreZones }],
    },
  },
);
