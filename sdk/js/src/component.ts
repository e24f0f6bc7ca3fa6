/**
 * The component's side: binds a `Tool` to the contract's imports and
 * exports. `warden-tool build` generates the entry module that calls
 * `bind` with the `warden:tool` imports and exports what it returns; tool
 * authors never import this.
 */
import { ToolError } from "./errors";
import { install, type Level, type SecretError } from "./host";
import type { CallContext, Tool } from "./tool";

/** The `warden:tool` imports, as componentize-js hands them to the module. */
export interface Imports {
  /** `secrets.get`: throws with `payload` set to a `secret-error` case. */
  getSecret(name: string): string;
  /** `log.log`. */
  log(level: Level, message: string): void;
}

const SECRET_ERRORS: readonly string[] = ["not-declared", "not-set", "host-only"];

/** The world's exports for `tool`. Works out the metadata now, so a
 * pre-initialized component starts every call with it in its snapshot. */
export function bind(tool: Tool, imports: Imports) {
  install({
    secret(name) {
      try {
        return imports.getSecret(name);
      } catch (e) {
        const payload = (e as { payload?: unknown } | null)?.payload;
        if (typeof payload === "string" && SECRET_ERRORS.includes(payload)) {
          return { error: payload as SecretError };
        }
        throw e;
      }
    },
    log: imports.log,
  });
  tool.warmUp();
  const m = tool.metadata;
  const metadata = {
    ...m,
    configSchema: JSON.stringify(m.configSchema),
    functions: m.functions.map((f) => ({
      ...f,
      parameters: JSON.stringify(f.parameters),
      // The SDK does not describe results yet.
      outputSchema: undefined,
    })),
    oauth: m.oauth ?? undefined,
  };
  return {
    metadata: () => metadata,
    invoke: (ctx: CallContext, fn: string, args: string) =>
      answer(async () => {
        const { json, spoken } = await tool.invoke(ctx, fn, args);
        return { json, spoken: spoken ?? undefined };
      }),
    test: (ctx: CallContext) => answer(() => tool.test(ctx)),
  };
}

/** A `result<T, tool-error>`: `run`'s answer, or a thrown `tool-error`
 * variant (componentize-js reads a thrown value's `payload`). */
async function answer<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const error =
      e instanceof ToolError
        ? { tag: e.kind.replaceAll("_", "-"), val: e.message }
        : { tag: "internal", val: "the tool failed unexpectedly" };
    throw { payload: error };
  }
}
