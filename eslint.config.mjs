// Lint and format in one pass, as the Effect repository does: typescript-eslint's
// recommended rules (syntax only, no type information, so `pnpm lint` stays fast;
// the type checker is `pnpm typecheck`) and @effect/eslint-plugin's dprint rule,
// which reports an unformatted file as a lint error and rewrites it under
// `eslint --fix` (`pnpm format`).
import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import sortDestructureKeys from "eslint-plugin-sort-destructure-keys"
import { defineConfig } from "eslint/config"
import globals from "globals"
import tseslint from "typescript-eslint"

export default defineConfig(
  {
    ignores: ["**/dist/", "**/coverage/", ".notes/"]
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  effect.configs.dprint,
  {
    files: ["**/*.{ts,mts,js,mjs}"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: globals.node
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error"
    },
    plugins: {
      "sort-destructure-keys": sortDestructureKeys
    },
    rules: {
      // the code's style, as in Effect: 2 spaces, no semicolons, double quotes, no trailing commas
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      // `_`-prefixed names are unused on purpose
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_"
      }],
      // Effect's `export declare namespace X { interface Service }` idiom is a declaration, not code
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // Data.TaggedEnum<{ Retry: {} }> spells a case without fields as `{}`
      "@typescript-eslint/no-empty-object-type": "off",
      "object-shorthand": "error",
      "sort-destructure-keys/sort-destructure-keys": "error"
    }
  },
  {
    // the web page runs in a browser
    files: ["packages/web/src/**/*.ts"],
    languageOptions: { globals: globals.browser }
  }
)
