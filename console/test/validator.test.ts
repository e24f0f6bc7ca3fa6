// The CSP-safe validator against schemas shaped like the ones Warden's SDK
// emits (schemars 1.x: draft 2020-12, `$defs`, `$ref` with siblings).
import assert from "node:assert/strict";
import { test } from "node:test";
import validator, { pointerToProperty } from "../src/validator";

const hours = {
  description: "The tool's configuration.",
  type: "object",
  properties: {
    time_zone: { description: "IANA zone", type: "string" },
    weekly_hours: { description: "per day", $ref: "#/$defs/WeeklyHours" },
    holidays: { type: "array", default: [], items: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" } },
    slot_minutes: { type: "integer", format: "uint32", minimum: 5, maximum: 480, default: 30 },
    mode: { type: "string", enum: ["a", "b"] },
  },
  additionalProperties: false,
  required: ["time_zone", "weekly_hours"],
  $defs: {
    WeeklyHours: {
      type: "object",
      properties: { monday: { type: "array", default: [], items: { $ref: "#/$defs/Interval" } } },
      additionalProperties: false,
    },
    Interval: {
      type: "object",
      properties: { open: { type: "string", pattern: "^\\d{2}:\\d{2}$" }, close: { type: "string" } },
      required: ["open", "close"],
    },
  },
} as const;

test("a valid value has no errors", () => {
  const r = validator.validateFormData({ time_zone: "Europe/Berlin", weekly_hours: { monday: [{ open: "09:00", close: "17:00" }] } }, hours as any);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.errorSchema, {});
});

test("a missing required field is reported at the field", () => {
  const r = validator.validateFormData({ weekly_hours: {} }, hours as any);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.name, "required");
  assert.equal(r.errors[0]!.property, ".time_zone");
  assert.deepEqual((r.errorSchema as any).time_zone.__errors, ["is a required property"]);
});

test("type, enum, range and pattern errors land next to their fields, through $ref", () => {
  const r = validator.validateFormData(
    { time_zone: 3, weekly_hours: { monday: [{ open: "9am" }] }, slot_minutes: 1, mode: "c" },
    hours as any,
  );
  const es = r.errorSchema as any;
  assert.deepEqual(es.time_zone.__errors, ["must be string"]);
  assert.deepEqual(es.mode.__errors, ["must be one of the allowed values"]);
  assert.equal(es.slot_minutes.__errors.length, 1);
  assert.deepEqual(es.weekly_hours.monday[0].open.__errors, ["does not have the expected form"]);
  assert.deepEqual(es.weekly_hours.monday[0].close.__errors, ["is a required property"]);
  // No "a subschema had errors" noise.
  assert.ok(r.errors.every((e) => !/subschema|does not match schema/i.test(e.message ?? "")), JSON.stringify(r.errors));
});

test("unknown properties are reported on the object", () => {
  const r = validator.validateFormData({ time_zone: "UTC", weekly_hours: {}, extra: 1 }, hours as any);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.name, "additionalProperties");
});

test("isValid resolves refs against the root schema", () => {
  const sub = { $ref: "#/$defs/Interval" };
  assert.equal(validator.isValid(sub as any, { open: "09:00", close: "10:00" }, hours as any), true);
  assert.equal(validator.isValid(sub as any, { open: "09:00" }, hours as any), false);
  // Called again with the same root: the cached lookup still works.
  assert.equal(validator.isValid({ type: "string" } as any, "x", hours as any), true);
});

test("draft-07 schemas with definitions work too", () => {
  const s = {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    properties: { a: { $ref: "#/definitions/A" } },
    required: ["a"],
    definitions: { A: { type: "string", minLength: 1 } },
  };
  assert.equal(validator.validateFormData({ a: "x" }, s as any).errors.length, 0);
  const r = validator.validateFormData({ a: "" }, s as any);
  assert.deepEqual((r.errorSchema as any).a.__errors, ["must not be empty"]);
});

test("a broken schema is an error, not an exception", () => {
  const r = validator.validateFormData({ a: 1 }, { type: "object", properties: { a: { $ref: "#/$defs/Missing" } } } as any);
  assert.ok(r.errors.length > 0);
  assert.equal(validator.isValid({ $ref: "#/$defs/Missing" } as any, 1, {} as any), false);
});

test("odd keys become bracketed property paths", () => {
  assert.equal(pointerToProperty("#/a/0/b~1c"), ".a.0['b/c']");
  assert.equal(pointerToProperty("#"), "");
  const r = validator.validateFormData({}, { type: "object", required: ["x.y"], properties: { "x.y": { type: "string" } } } as any);
  assert.deepEqual((r.errorSchema as any)["x.y"].__errors, ["is a required property"]);
});
