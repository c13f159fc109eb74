import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

const root = import.meta.dirname;

export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      rolldownOptions: {
        // One build for everything that runs in Node: the Electron main entry and the two CLIs
        // share the plant core; only `index` touches electron.
        input: {
          index: resolve(root, 'src-main/electron/main.ts'),
          cli: resolve(root, 'src-main/cli.ts'),
          'device-agent': resolve(root, 'device-agent/cli.ts'),
          'supplier-cloud': resolve(root, 'supplier-cloud/cli.ts'),
          bench: resolve(root, 'scripts/bench.ts'),
          // The history writer's thread (src-main/store/history-driver.ts loads it from here).
          'history-worker': resolve(root, 'src-main/store/history-worker.ts'),
          // The plant-scale bench's equipment and baseline, each run in a process of its own.
          'plant-sim': resolve(root, 'scripts/plant-sim.ts'),
          'plain-loop': resolve(root, 'scripts/plain-loop.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      // A sandboxed preload can only `require('electron')`: bundle everything else, emit CommonJS.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(root, 'src-preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src-renderer'),
    plugins: [react()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      minify: true,
      // One bundle loaded from disk or loopback: splitting it would gain nothing here.
      chunkSizeWarningLimit: 1500,
      rolldownOptions: { input: { index: resolve(root, 'src-renderer/index.html') } },
    },
  },
});
