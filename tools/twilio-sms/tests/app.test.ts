// The Twilio tool's own checks in Node (its calls to Twilio are tested
// against the Twilio stand-in by the `warden` CLI tests).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

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
    assert.deepEqual(
      m.functions.map((f) => [f.name, f.readOnly]),
      [
        ["send_sms", false],
        ["get_message_status", true],
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
    assert.deepEqual(runner.requests, []);
  });

  test("a configuration without an account is not_configured", async () => {
    const runner = new ToolRunner(twilio, { config: { from: "+15550100123" } as never });
    await assert.rejects(
      runner.call("send_sms", { to: "+15550100199", body: "hi" }),
      /config: must have required property 'account_sid'/,
    );
  });
});
