import assert from "node:assert/strict";
import { test } from "node:test";
import { reflow } from "../src/text";

test("reflow joins a hard-wrapped paragraph", () => {
  assert.equal(reflow('The moment to check, e.g. "x" or\n"y"; read as local time.\nLeave it out.'), 'The moment to check, e.g. "x" or "y"; read as local time. Leave it out.');
});

test("reflow keeps blank lines, list items and indented lines", () => {
  const text = "First paragraph\ncontinues.\n\nSecond:\n- one\n- two\n* three\n1. four\n  indented\nend";
  assert.equal(reflow(text), "First paragraph continues.\n\nSecond:\n- one\n- two\n* three\n1. four\n  indented\nend");
});

test("reflow leaves single lines and trailing newlines alone", () => {
  assert.equal(reflow("one line"), "one line");
  assert.equal(reflow("ends\n"), "ends\n");
  assert.equal(reflow(""), "");
});
