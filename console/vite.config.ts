/// <reference types="vitest/config" />
import { fileURLToPath, URL } from "node:url";
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";
import Components from "unplugin-vue-components/vite";
import { ElementPlusResolver } from "unplugin-vue-components/resolvers";

// `npm run dev` without the gateway: each /api/<service> goes to the service `make run` started, prefix removed.
const SERVICES: Record<string, number> = { intake: 8001, pairing: 8002, aid: 8003, audit: 8004 };
const gateway = process.env.RELIEF_GATEWAY; // e.g. http://127.0.0.1:8000 once services/gateway exists

function devProxy() {
  if (gateway) return { "/api": { target: gateway, changeOrigin: true } };
  return Object.fromEntries(
    Object.entries(SERVICES).map(([name, port]) => [
      `/api/${name}`,
      { target: `http://127.0.0.1:${port}`, rewrite: (path: string) => path.slice(`/api/${name}`.length) || "/" },
    ]),
  );
}

export default defineConfig({
  plugins: [
    vue(),
    // Element Plus components and their styles, imported only where a template uses them.
    Components({ resolvers: [ElementPlusResolver({ importStyle: "css" })], dts: "src/components.d.ts" }),
  ],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  server: { port: 5173, proxy: devProxy() },
  build: {
    outDir: "dist",
    target: "es2020",
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          return undefined;
        },
      },
    },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
