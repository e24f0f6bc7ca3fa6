import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  KINDS,
  NotFound,
  ToolError,
  Upstream,
  checkStatus,
  defineTool,
  log,
  z,
  type JsonSchema,
} from "warden-tool";
import { ToolRunner, hostMatches } from "warden-tool/testing";
import receptionist from "../examples/receptionist/index";

const weather = defineTool({
  name: "weather",
  version: "1.2.0",
  description: "Weather forecasts for callers who ask about the weather.",
  config: z.object({
    unit: z.enum(["celsius", "fahrenheit"]).default("celsius").describe("Temperature unit."),
    api_base: z.string().default("https://api.weather.example"),
  }),
  secrets: [
    { name: "api_key", description: "Key for the forecast API." },
    { name: "greeting", description: "Optional greeting.", required: false },
  ],
  allowedHosts: ["https://api.weather.example"],
  credentials: [{ secret: "api_key", hosts: ["https://api.weather.example"], header: "x-api-key", format: "{}" }],
  functions: {
    forecast: {
      description: "Forecast for a city, today or up to a week ahead.",
      parameters: z.object({
        city: z.string().describe("City name, e.g. Lisbon."),
        days_ahead: z.number().int().min(0).max(7).default(0),
      }),
      readOnly: true,
      run: ({ city, days_ahead }, ctx) => {
        log.info(`forecast for ${city}`);
        if (city.toLowerCase() === "atlantis") throw new NotFound(`no forecast for ${city}`);
        const degrees = ctx.config.unit === "fahrenheit" ? "70°F" : "21°C";
        return { city, summary: `sunny in ${days_ahead} day(s), ${degrees}`, call: ctx.callId };
      },
    },
    report: {
      description: "Report the weather where the caller is.",
      parameters: z.object({ city: z.string(), text: z.string() }),
      run: async ({ city, text }, ctx) => {
        const response = await fetch(`${ctx.config.api_base}/v1/reports`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ city, text }),
        });
        checkStatus(response, "filing the report");
        return { accepted: ((await response.json()) as { id: string }).id };
      },
    },
    greet: {
      description: "Says the operator's greeting.",
      run: (_args, ctx) => ({ greeting: ctx.trySecret("greeting"), key: readKey(ctx) }),
    },
    crash: {
      description: "Fails unexpectedly.",
      run: () => {
        throw new RangeError("index 7 out of range");
      },
    },
  },
});

const desk = defineTool({
  name: "desk",
  description: "Confirms things out loud.",
  functions: {
    confirm: {
      description: "Thanks `name` out loud and reports what it knows about the call.",
      parameters: z.object({ name: z.string() }),
      idempotent: true,
      openWorld: false,
      run: ({ name }, ctx) => {
        ctx.speak(`Thanks, ${name}.`);
        return {
          caller_number: ctx.call?.callerNumber ?? null,
          outbound: ctx.call ? ctx.call.direction === "outbound" : null,
          time_left_ms: ctx.timeLeftMs,
        };
      },
    },
    refuse: {
      description: "Fails after asking to speak: the line must not reach anyone.",
      destructive: true,
      run: (_args, ctx) => {
        ctx.speak("This line is never said.");
        throw new NotFound("nothing to refuse");
      },
    },
    mumble: {
      description: "Asks to speak something that is not a line.",
      run: (_args, ctx) => ctx.speak(42 as never),
    },
  },
});

function readKey(ctx: { secret(name: string): string }): string | null {
  try {
    return ctx.secret("api_key");
  } catch (e) {
    return (e as Error).message;
  }
}

describe("metadata", () => {
  test("is the contract's record, schemas from zod's input side", () => {
    const m = weather.metadata;
    assert.equal(m.name, "weather");
    assert.equal(m.version, "1.2.0");
    assert.deepEqual(
      m.functions.map((f) => [f.name, f.readOnly]),
      [
        ["forecast", true],
        ["report", false],
        ["greet", false],
        ["crash", false],
      ],
    );
    const forecast = m.functions[0].parameters as any;
    assert.equal(forecast.type, "object");
    assert.deepEqual(forecast.required, ["city"]);
    assert.equal(forecast.properties.city.description, "City name, e.g. Lisbon.");
    assert.equal(forecast.properties.days_ahead.maximum, 7);
    assert.equal(forecast.$schema, undefined);
    assert.deepEqual(m.functions[2].parameters, { type: "object", properties: {}, additionalProperties: false });
    assert.deepEqual((m.configSchema as any).properties.unit.enum, ["celsius", "fahrenheit"]);
    assert.deepEqual(m.secrets, [
      { name: "api_key", description: "Key for the forecast API.", required: true },
      { name: "greeting", description: "Optional greeting.", required: false },
    ]);
    assert.deepEqual(m.credentials, [
      { secret: "api_key", hosts: ["https://api.weather.example"], header: "x-api-key", format: "{}" },
    ]);
    assert.equal(m.oauth, null);
  });

  test("effect hints default to a function that reaches out and only adds", () => {
    assert.deepEqual(
      desk.metadata.functions.map((f) => [f.name, f.readOnly, f.idempotent, f.destructive, f.openWorld]),
      [
        ["confirm", false, true, false, false],
        ["refuse", false, false, true, true],
        ["mumble", false, false, false, true],
      ],
    );
    const forecast = weather.metadata.functions[0];
    assert.deepEqual([forecast.readOnly, forecast.idempotent, forecast.openWorld], [true, false, true]);
  });

  test("plain JSON Schemas pass through as they are", () => {
    const parameters: JsonSchema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };
    const tool = defineTool({
      name: "plain",
      description: "Plain schemas.",
      functions: { double: { description: "Doubles n.", parameters, run: (args) => ({ n: args.n * 2 }) } },
    });
    assert.deepEqual(tool.metadata.functions[0].parameters, parameters);
  });

  test("the runner validates plain JSON Schemas in full, as Warden does", async () => {
    const parameters: JsonSchema = {
      type: "object",
      properties: { items: { type: "array", items: { type: "integer", minimum: 1 } } },
      required: ["items"],
      additionalProperties: false,
    };
    const tool = defineTool({
      name: "plain",
      description: "Plain schemas.",
      functions: { sum: { description: "Sums.", parameters, run: (args) => args.items.reduce((a: number, b: number) => a + b, 0) } },
    });
    const runner = new ToolRunner(tool);
    assert.equal(await runner.call("sum", { items: [1, 2] }), 3);
    await assert.rejects(runner.call("sum", { items: [1, 0] }), /arguments at \/items\/1: must be >= 1/);
    await assert.rejects(runner.call("sum", { items: [], extra: 1 }), /must NOT have additional properties/);
  });

  test("a tool the host would refuse is refused, naming what is wrong", () => {
    const run = () => null;
    const cases: [() => unknown, RegExp][] = [
      [() => defineTool({ name: "Bad-Name", description: "x", functions: { f: { description: "f", run } } }), /name must match/],
      [() => defineTool({ name: "t", description: " ", functions: { f: { description: "f", run } } }), /needs a description/],
      [() => defineTool({ name: "t", description: "x", functions: {} }), /has no functions/],
      [() => defineTool({ name: "t", description: "x", functions: { F: { description: "f", run } } }), /function name "F"/],
      [() => defineTool({ name: "t", description: "x", functions: { f: { description: "", run } } }), /t\.f needs a description/],
      [
        () => defineTool({ name: "t", description: "x", functions: { f: { description: "f", parameters: z.string(), run } } }),
        /t\.f's parameters must be an object schema/,
      ],
      [
        () =>
          defineTool({
            name: "t",
            description: "x",
            functions: { f: { description: "f", parameters: z.object({ when: z.date() }), run } },
          }),
        /cannot be written as JSON Schema/,
      ],
    ];
    for (const [make, message] of cases) assert.throws(make, message);
  });

  test("warming up runs none of the tool's own code", () => {
    let runs = 0;
    const counted = defineTool({
      name: "counted",
      description: "Counts its runs.",
      config: z.object({ region: z.string() }),
      functions: { f: { description: "f", parameters: z.object({ n: z.number() }), run: () => ++runs } },
      test: () => ++runs,
    });
    counted.warmUp();
    assert.equal(runs, 0);
  });

  test("the error kinds are the contract's", () => {
    const wit = readFileSync(new URL("../wit/tool.wit", import.meta.url), "utf8");
    const variant = wit.slice(wit.indexOf("variant tool-error"));
    const cases = [...variant.slice(0, variant.indexOf("}")).matchAll(/^\s+([a-z-]+)\(string\),$/gm)].map((m) => m[1]);
    assert.deepEqual(cases, KINDS.map((k) => k.replaceAll("_", "-")));
  });

  test("the packaged WIT is the repository's", () => {
    const ours = new URL("../wit/", import.meta.url).pathname;
    const repo = new URL("../../../wit/0.2.0/", import.meta.url).pathname;
    const files = (dir: string, base = ""): string[] =>
      readdirSync(join(dir, base)).flatMap((f) =>
        statSync(join(dir, base, f)).isDirectory() ? files(dir, join(base, f)) : [join(base, f)],
      );
    assert.deepEqual(files(ours).sort(), files(repo).sort());
    for (const f of files(repo)) assert.equal(readFileSync(join(ours, f), "utf8"), readFileSync(join(repo, f), "utf8"), f);
  });
});

describe("calls", () => {
  test("arguments and configuration are parsed, defaults applied", async () => {
    const runner = new ToolRunner(weather, { config: { unit: "fahrenheit" }, secrets: { api_key: "k" } });
    assert.deepEqual(await runner.call("forecast", { city: "Lisbon" }), {
      city: "Lisbon",
      summary: "sunny in 0 day(s), 70°F",
      call: "test-call",
    });
    assert.deepEqual(runner.logs, [["info", "forecast for Lisbon"]]);
  });

  test("a ToolError reaches the caller as its kind", async () => {
    const runner = new ToolRunner(weather);
    await assert.rejects(runner.call("forecast", { city: "Atlantis" }), (e: ToolError) => {
      assert.equal(e.kind, "not_found");
      assert.equal(e.message, "no forecast for Atlantis");
      return true;
    });
  });

  test("invalid arguments are invalid_arguments, naming the field", async () => {
    const runner = new ToolRunner(weather);
    await assert.rejects(runner.call("forecast", { city: "Lisbon", days_ahead: 9 }), (e: ToolError) => {
      assert.equal(e.kind, "invalid_arguments");
      assert.match(e.message, /days_ahead/);
      return true;
    });
    await assert.rejects(runner.call("forecast", {}), /arguments: must have required property 'city'/);
    await assert.rejects(
      runner.call("forecast", { city: "Lisbon", days_ahead: 1.5 }),
      /arguments at \/days_ahead: must be integer/,
    );
  });

  test("an unexpected exception is logged and reported as internal", async () => {
    const runner = new ToolRunner(weather);
    await assert.rejects(runner.call("crash"), (e: ToolError) => {
      assert.equal(e.kind, "internal");
      assert.equal(e.message, "the tool failed unexpectedly");
      return true;
    });
    assert.deepEqual(runner.logs, [["error", "unhandled RangeError: index 7 out of range"]]);
  });

  test("secrets: declared ones resolve, credentials never", async () => {
    const runner = new ToolRunner(weather, { secrets: { api_key: "canary-5b1e", greeting: "hi" } });
    const answer = await runner.call("greet");
    assert.equal(answer.greeting, "hi");
    assert.match(answer.key, /is a credential/);
    assert.doesNotMatch(JSON.stringify(answer), /canary-5b1e/);
    const unset = new ToolRunner(weather);
    assert.deepEqual(await unset.call("greet"), { greeting: null, key: "the secret `api_key` has not been set" });
  });

  test("the default self-check wants every required secret; a credential counts as set", async () => {
    await assert.rejects(new ToolRunner(weather).test(), /the secret `api_key` has not been set/);
    assert.deepEqual(await new ToolRunner(weather, { secrets: { api_key: "k" } }).test(), { ok: true });
  });
});

describe("the phone call and the spoken line", () => {
  test("outside a phone call there is none", async () => {
    const runner = new ToolRunner(desk);
    assert.deepEqual(await runner.call("confirm", { name: "Ada" }), {
      caller_number: null,
      outbound: null,
      time_left_ms: 10_000,
    });
    assert.equal(runner.spoken, "Thanks, Ada.");
  });

  test("during a phone call the tool sees it", async () => {
    const runner = new ToolRunner(desk, {
      call: { sessionId: "s-1", direction: "outbound", callerNumber: "+15551234567" },
      timeLeftMs: 1500,
    });
    assert.deepEqual(await runner.call("confirm", { name: "Ada" }), {
      caller_number: "+15551234567",
      outbound: true,
      time_left_ms: 1500,
    });
  });

  test("a line asked for before an error goes nowhere", async () => {
    const runner = new ToolRunner(desk);
    await runner.call("confirm", { name: "Ada" });
    await assert.rejects(runner.call("refuse"), NotFound);
    assert.equal(runner.spoken, null);
    await assert.rejects(runner.call("mumble"), /failed unexpectedly/);
    assert.equal(runner.spoken, null);
    assert.match(runner.logs.at(-1)![1], /ctx.speak takes a string/);
  });

  test("the component's bindings hand over the call as the contract's record", async () => {
    const { json, spoken } = await desk.invoke(
      {
        callId: "c-1",
        organizationId: "o-1",
        config: "{}",
        call: { sessionId: "s-1", direction: "inbound", callerNumber: "+15551234567" },
        remainingMs: 2000n,
      },
      "confirm",
      '{"name":"Ada"}',
    );
    assert.deepEqual(JSON.parse(json), { caller_number: "+15551234567", outbound: false, time_left_ms: 2000 });
    assert.equal(spoken, "Thanks, Ada.");
  });
});

describe("the README's receptionist (examples/receptionist)", () => {
  const config = { contacts: { "+15550100199": "Ada" } };

  test("a known caller is greeted by name", async () => {
    const runner = new ToolRunner(receptionist, { config, call: { callerNumber: "+15550100199" } });
    assert.deepEqual(await runner.call("identify_caller"), { known: true, name: "Ada" });
    assert.equal(runner.spoken, "Hello Ada, good to hear from you again!");
    assert.equal(receptionist.metadata.functions[0].openWorld, false);
  });

  test("an unknown or hidden number is asked for a name", async () => {
    for (const call of [undefined, {}, { callerNumber: "+15550000000" }]) {
      const runner = new ToolRunner(receptionist, { config, call });
      assert.deepEqual(await runner.call("identify_caller"), { known: false });
      assert.equal(runner.spoken, "Hello! Who do I have the pleasure of speaking with?");
    }
  });

  test("the README shows the example as it is", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/receptionist/index.ts", import.meta.url), "utf8");
    assert.ok(readme.includes(example), "README.md's receptionist differs from examples/receptionist/index.ts");
  });
});

describe("fetch under the host's rules", () => {
  let server: Server;
  let origin: string;
  const received: { url: string; headers: IncomingMessage["headers"]; body: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ url: req.url ?? "", headers: req.headers, body });
        if (req.url === "/v1/reports") {
          res.writeHead(201, { "content-type": "application/json" }).end('{"id":"r-1"}');
        } else if (req.url === "/moved") {
          res.writeHead(302, { location: "https://elsewhere.example/v1/reports" }).end();
        } else {
          res.writeHead(503).end("down");
        }
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  test("credentials go to their hosts and nowhere else", async () => {
    const runner = new ToolRunner(weather, {
      config: { api_base: origin },
      secrets: { api_key: "canary-77" },
      allowHosts: [origin],
      credentialHosts: { api_key: [origin] },
    });
    assert.deepEqual(await runner.call("report", { city: "Porto", text: "rain" }), { accepted: "r-1" });
    const last = received.at(-1)!;
    assert.equal(last.headers["x-api-key"], "canary-77");
    assert.deepEqual(JSON.parse(last.body), { city: "Porto", text: "rain" });
    assert.equal(runner.requests[0].method, "POST");

    const without = new ToolRunner(weather, { config: { api_base: origin }, secrets: { api_key: "canary-77" }, allowHosts: [origin] });
    await without.call("report", { city: "Porto", text: "rain" });
    assert.equal(received.at(-1)!.headers["x-api-key"], undefined);
  });

  test("hosts outside the policy are denied; redirects are answered, not followed", async () => {
    const runner = new ToolRunner(weather, { config: { api_base: origin } });
    await assert.rejects(runner.call("report", { city: "a", text: "b" }), (e: ToolError) => e.kind === "internal");
    assert.match(runner.logs[0][1], /HTTP_REQUEST_DENIED/);
    assert.equal(runner.requests.length, 0);

    const moved = defineTool({
      name: "moved",
      description: "Follows a redirect.",
      allowedHosts: [origin],
      functions: { go: { description: "Go.", run: async () => (await fetch(`${origin}/moved`)).status } },
    });
    const redirected = new ToolRunner(moved);
    assert.equal(await redirected.call("go"), 302);
    assert.deepEqual(redirected.requests.map((r) => r.url), [`${origin}/moved`]);
  });

  test("checkStatus maps statuses to kinds", async () => {
    const kinds = [401, 403, 404, 429, 500, 302].map((status) => {
      try {
        checkStatus(new Response(null, { status }));
        return "ok";
      } catch (e) {
        return (e as ToolError).kind;
      }
    });
    assert.deepEqual(kinds, ["unauthorized", "unauthorized", "not_found", "rate_limited", "upstream", "upstream"]);
    assert.equal(checkStatus(new Response("{}", { status: 200 })).status, 200);
    assert.ok(new Upstream("x") instanceof ToolError);
  });

  test("host patterns match as the host's", () => {
    assert.ok(hostMatches("https://api.example.com", "https://api.example.com/x"));
    assert.ok(hostMatches("https://api.example.com", "https://API.example.com:443/x"));
    assert.ok(!hostMatches("https://api.example.com", "http://api.example.com/x"));
    assert.ok(!hostMatches("https://api.example.com", "https://api.example.com:8443/x"));
    assert.ok(hostMatches("https://*.example.com", "https://a.b.example.com/"));
    assert.ok(!hostMatches("https://*.example.com", "https://example.com/"));
    assert.ok(!hostMatches("https://*.example.com", "https://evilexample.com/"));
    assert.ok(hostMatches("http://127.0.0.1:8080", "http://127.0.0.1:8080/a"));
  });
});

// Types: arguments and configuration are typed from the schemas.
defineTool({
  name: "typed",
  description: "Typed.",
  config: z.object({ n: z.number() }),
  functions: {
    f: {
      description: "f",
      parameters: z.object({ s: z.string() }),
      run: ({ s }, ctx) => {
        // @ts-expect-error: `s` is a string
        const wrong: number = s;
        // @ts-expect-error: `n` is a number
        const alsoWrong: string = ctx.config.n;
        return { wrong, alsoWrong };
      },
    },
  },
});
