#!/usr/bin/env node
// warden-tool build: a tool module (TypeScript or JavaScript, default export
// `defineTool({...})`) into a Warden component, with esbuild and
// componentize-js.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = `usage: warden-tool build [ENTRY] [-o OUT.wasm]

Builds the tool whose module is ENTRY [default: src/index.ts] into a
WebAssembly component for Warden [default OUT: the tool's name + .wasm].`;

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return console.log(USAGE);
  const [command, entry = "src/index.ts", ...rest] = positionals;
  if (command !== "build" || rest.length > 0) throw new Usage(USAGE);
  await build(resolve(entry), values.output);
}

async function build(entry, output) {
  const started = performance.now();
  const esbuild = await import("esbuild");
  const work = await mkdtemp(join(tmpdir(), "warden-tool-"));
  try {
    // 1. The tool in Node: the metadata is checked (and its errors named)
    //    here, before a minute goes into componentizing.
    const native = join(work, "native.mjs");
    await bundle(esbuild, entry, native, "node", `import tool from ${JSON.stringify(entry)}; export default tool;`);
    const tool = (await import(pathToFileURL(native).href)).default;
    if (typeof tool?.invoke !== "function" || typeof tool?.metadata !== "object") {
      throw new Usage(`${entry} must \`export default defineTool({...})\``);
    }
    const { name, version, functions } = tool.metadata;

    // 2. The component's module: the tool bound to the world's imports.
    const module = join(work, "component.js");
    const component = JSON.stringify(join(SDK, "src", "component.ts"));
    await bundle(
      esbuild,
      entry,
      module,
      "neutral",
      `import tool from ${JSON.stringify(entry)};
import { bind } from ${component};
import { get } from "warden:tool/secrets@0.2.0";
import { log } from "warden:tool/log@0.2.0";
const world = bind(tool, { getSecret: get, log });
export const metadata = world.metadata;
export const invoke = world.invoke;
export const test = world.test;`,
    );

    // 3. componentize-js: StarlingMonkey with the module pre-initialized.
    const { componentize } = await import("@bytecodealliance/componentize-js");
    const { component: wasm } = await componentize({
      sourcePath: module,
      witPath: join(SDK, "wit"),
      worldName: "tool",
    });
    const out = resolve(output ?? `${name}.wasm`);
    await writeFile(out, wasm);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(
      `built ${name} ${version} (${functions.length} function${functions.length === 1 ? "" : "s"}) into ${out}: ${(wasm.length / 1e6).toFixed(1)} MB in ${seconds} s`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function bundle(esbuild, entry, outfile, platform, contents) {
  await esbuild.build({
    stdin: { contents, resolveDir: dirname(entry), sourcefile: `${basename(entry)} (entry)`, loader: "ts" },
    bundle: true,
    outfile,
    format: "esm",
    platform,
    target: "es2022",
    mainFields: ["module", "main"],
    external: ["warden:*"],
    logLevel: "error",
    legalComments: "none",
  });
}

class Usage extends Error {}

main(process.argv.slice(2)).catch((e) => {
  console.error(`warden-tool: ${e instanceof Usage ? e.message : (e?.stack ?? e)}`);
  process.exit(e instanceof Usage ? 2 : 1);
});
