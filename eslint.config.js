// Lint rules, including the process boundaries of DESIGN.md (also checked by a unit test).
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

const nodeOnly = [
  'node:*',
  'fs',
  'path',
  'net',
  'http',
  'child_process',
  'modbus-serial',
  'serialport',
  'mqtt',
  'sodium-native',
  'libsql',
  'ws',
];

export default tseslint.config(
  { ignores: ['out/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '.data/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src-main/**/*.ts', 'device-agent/**/*.ts', 'supplier-cloud/**/*.ts'],
    ignores: ['src-main/electron/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'The plant core is plain Node: electron only in src-main/electron/.' }] },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/src-main/**', '**/device-agent/**'], message: 'The renderer talks to the core only through the contract.' },
            { group: nodeOnly, message: 'The renderer runs in a browser: no Node or native modules.' },
          ],
          paths: [{ name: 'electron', message: 'The renderer gets the bridge injected, never electron.' }],
        },
      ],
    },
  },
);
