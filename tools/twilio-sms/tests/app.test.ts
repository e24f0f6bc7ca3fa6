// The Twilio tool's own checks in Node (its calls to Twilio are tested
// against the Twilio stand-in by the `warden` CLI tests).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import type { ToolError } from "warden-tool";
import { ToolRunner } from "warden-tool/testing";
import twilio, { normalizePhone } from "../src/index";

const config = { account_sid: `AC${"0".repeat(32)}`, from: "+15550100123" };

describe("twilio_sms", () => {
  test("numbers lose their punctuation", () => {
    assert.equal(normalizePhone("+1 (555) 010-0199"), "+15550100199");
    assert.equal(normalizePhone("0044 20 7946 0958"), "+442079460958");
    for (const bad of ["", "555-0100", "+0 555", "call me", "+1234567890123456"]) {
      assert.throws(() => normalizePhone(bad), /international form/, bad);
    }
  });

  test("metadata declares the credential and both functions", () => {
    const m = twilio.metadata;
    // A second send is a second text to a person; the status is the
    // account's own log.
    assert.deepEqual(
      m.functions.map((f) => [f.name, f.readOnly, f.idempotent, f.destructive, f.openWorld]),
      [
        ["send_sms", false, false, false, true],
        ["get_message_status", true, false, false, false],
      ],
    );
    assert.deepEqual(m.credentials, [
      { secret: "api_credentials", hosts: ["https://api.twilio.com"], header: "authorization", format: "Basic {}" },
    ]);
    assert.deepEqual(m.allowedHosts, ["https://api.twilio.com"]);
    assert.deepEqual((m.configSchema as { required: string[] }).required.sort(), ["account_sid", "from"]);
  });

  test("bad arguments never reach Twilio", async () => {
    const runner = new ToolRunner(twilio, { config, secrets: { api_credentials: "x" } });
    const kind = (e: ToolError) => e.kind;
    await assert.rejects(runner.call("send_sms", { to: "tomorrow", body: "hi" }), (e: ToolError) => kind(e) === "invalid_arguments");
    await assert.rejects(runner.call("send_sms", { to: "+15550100199", body: "  " }), /the text is empty/);
    await assert.rejects(runner.call("send_sms", { to: "+15550100199", body: "x".repeat(1601) }), (e: ToolError) => kind(e) === "invalid_arguments");
    await assert.rejects(runner.call("get_message_status", { message_sid: "../Accounts" }), /not a message id/);
    await assert.rejects(runner.call("send_sms", { body: "hi" }), /ask for it and pass it as `to`/);
    const withheld = new ToolRunner(twilio, { config, secrets: { api_credentials: "x" }, call: {} });
    await assert.rejects(withheld.call("send_sms", { body: "hi" }), /ask for it/);
    assert.deepEqual([...runner.requests, ...withheld.requests], []);
  });

  test("a configuration without an account is not_configured", async () => {
    const runner = new ToolRunner(twilio, { config: { from: "+15550100123" } as never });
    await assert.rejects(
      runner.call("send_sms", { to: "+15550100199", body: "hi" }),
      /config: must have required property 'account_sid'/,
    );
  });
});

describe("twilio_sms during a phone call", () => {
  // Answers every new message as Twilio does, keeping the forms it got (the
  // Twilio stand-in's full checks run in the CLI tests).
  let server: Server;
  let origin: string;
  const sent: URLSearchParams[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        sent.push(form);
        res.writeHead(201, { "content-type": "application/json" }).end(
          JSON.stringify({
            sid: `SM${"1".repeat(32)}`,
            status: "queued",
            to: form.get("To"),
            num_segments: "1",
            error_code: null,
            date_sent: null,
          }),
        );
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  const during = (callerNumber: string) =>
    new ToolRunner(twilio, { config: { ...config, api_base: origin }, allowHosts: [origin], call: { callerNumber } });

  test("without a recipient, the text goes to the person on the phone", async () => {
    const answer = await during("+15550100199").call("send_sms", { body: "See you Friday." });
    assert.equal(answer.to, "+15550100199");
    assert.equal(sent.at(-1)!.get("To"), "+15550100199");
    assert.equal(sent.at(-1)!.get("From"), config.from);
  });

  test("a recipient the LLM gives wins over the caller", async () => {
    await during("+15550100199").call("send_sms", { to: "+44 20 7946 0958", body: "For your partner." });
    assert.equal(sent.at(-1)!.get("To"), "+442079460958");
  });
});
