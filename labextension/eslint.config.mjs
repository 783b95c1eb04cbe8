// ESLint settings of the JupyterLab extension template (jupyterlab/extension-template),
// plus the size limit the project keeps for Python too (tests/test_function_length.py):
// no function longer than 60 lines, blank lines and comments included.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import jupyterPlugin from '@jupyter/eslint-plugin';

export default defineConfig([
  {
    ignores: ['node_modules', 'lib', '**/*.js', '**/*.d.ts']
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: {
      jupyter: jupyterPlugin
    }
  },
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: {
        ...globals.browser,
        ...globals.es2015,
        ...globals.node
      },
      parserOptions: {
        project: 'tsconfig.json',
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: {
            regex: '^I[A-Z]',
            match: true
          }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      // The template's quote rule is left out: typescript-eslint 8 no longer has it, and
      // prettier (singleQuote) already decides the quotes.
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error',
      // Long functions (activate above all) hide several responsibilities; split them.
      'max-lines-per-function': [
        'error',
        { max: 60, skipBlankLines: false, skipComments: false, IIFEs: true }
      ]
    }
  },
  {
    // Every label a person reads goes through trans.__, and every command
    // describes its arguments: errors here, not the template's warnings.
    files: ['src/**/*.ts'],
    rules: {
      'jupyter/no-untranslated-string': 'error',
      'jupyter/command-described-by': 'error'
    }
  },
  prettierRecommended
]);
