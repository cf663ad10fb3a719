/**
 * Builds the page into `dist/` (served by the server's `--web-port`): one HTML file, one script,
 * one stylesheet, with relative URLs so it works under any path, and nothing fetched from
 * elsewhere (no fonts, no CDNs).
 */
import { defineConfig } from "vite"

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    // the client core (Effect and the schemas) is most of the script; one file loads fastest
    chunkSizeWarningLimit: 1024
  }
})
