// Builds console/dist: app.js, app.css and index.html. Deterministic (no
// timestamps, hashes or source maps) so CI can rebuild and compare byte for
// byte. Fails when anything in the bundle could evaluate strings as code:
// the console's Content-Security-Policy has no 'unsafe-eval'.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

// lodash finds the global object with `Function('return this')()` when
// neither `global` nor `self` exists (never in a browser). Replace that
// module so no Function constructor call is in the bundle at all.
const globalThisRoot = {
  name: "lodash-root-is-globalThis",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]lodash(-es)?[\\/]_root\.js$/ }, (args) => ({
      contents: args.path.includes("lodash-es")
        ? "export default globalThis;"
        : "module.exports = globalThis;",
      loader: "js",
    }));
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: { app: "src/main.tsx" },
  outdir: dist,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  charset: "utf8",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  metafile: false,
  plugins: [globalThisRoot],
});

copyFileSync(join(root, "index.html"), join(dist, "index.html"));

// The HTML must carry no inline script or style (CSP: script-src 'self'; style-src 'self').
const html = readFileSync(join(dist, "index.html"), "utf8");
if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html) || /<style/i.test(html) || /\sstyle=/i.test(html)) {
  throw new Error("index.html has an inline script or style");
}

// Nothing that evaluates strings: eval, new Function, Function(...) calls,
// string timers. Reported with context so a new dependency is easy to judge.
const js = readFileSync(join(dist, "app.js"), "utf8");
const forbidden = [
  /\beval\s*\(/g,
  /\bnew\s+Function\b/g,
  /(?<![.\w$])Function\s*\(/g,
  /\bset(?:Timeout|Interval)\s*\(\s*["'`]/g,
];
const hits = [];
for (const re of forbidden) {
  for (const m of js.matchAll(re)) hits.push(`${re}: …${js.slice(Math.max(0, m.index - 60), m.index + 60)}…`);
}
if (hits.length) {
  throw new Error("the bundle can evaluate strings as code (CSP forbids it):\n" + hits.join("\n"));
}
console.log("console/dist: app.js %d bytes, app.css %d bytes", js.length, readFileSync(join(dist, "app.css")).length);
