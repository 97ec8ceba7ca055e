import { defineConfig } from "vite";

// The window loads the built files through Tauri's custom protocol; there is no dev server in
// release builds. `npm run dev` serves on a fixed port for `tauri dev`.
export default defineConfig({
  clearScreen: false,
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  server: { port: 1420, strictPort: true, host: "127.0.0.1" },
  build: {
    target: "safari15",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // One small bundle: fewer requests at startup.
    modulePreload: false,
    cssCodeSplit: false,
    assetsInlineLimit: 0,
  },
});
