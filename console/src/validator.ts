// A CSP-safe rjsf validator. rjsf's stock validator (Ajv) compiles every
// schema into JavaScript with `new Function`, which the console's
// Content-Security-Policy (`script-src 'self'`, no 'unsafe-eval') forbids.
// @cfworker/json-schema interprets schemas instead, so this module maps its
// output onto rjsf's `ValidatorType`: errors land in `errorSchema` at the
// field they belong to (required, type, enum, ... show next to the field).
import { dereference, validate as cfValidate } from "@cfworker/json-schema";
import type { OutputUnit, Schema, SchemaDraft } from "@cfworker/json-schema";
import {
  createErrorHandler,
  getDefaultFormState,
  toErrorList,
  toErrorSchema,
  unwrapErrorHandler,
  validationDataMerge,
} from "@rjsf/utils";
import type {
  CustomValidator,
  ErrorSchema,
  ErrorTransformer,
  RJSFSchema,
  RJSFValidationError,
  UiSchema,
  ValidationData,
  ValidatorType,
} from "@rjsf/utils";

type Json = unknown;

/** Where relative `$ref`s resolve; never fetched. */
const BASE = new URL("https://schema.warden.invalid/root");
/** Where a subschema validated against a root schema is registered. */
const SUB_POINTER = "/__warden_subschema__";

/** Errors that only say "something below failed": the errors below say what. */
const WRAPPERS = new Set([
  "$ref",
  "$recursiveRef",
  "properties",
  "patternProperties",
  "items",
  "prefixItems",
  "additionalItems",
  "allOf",
  "if",
  "dependentSchemas",
  "dependencies",
]);

export function draftOf(schema: unknown): SchemaDraft {
  const s = isObject(schema) && typeof schema.$schema === "string" ? schema.$schema : "";
  if (s.includes("draft-04") || s.includes("draft-03")) return "4";
  if (s.includes("draft-06") || s.includes("draft-07")) return "7";
  if (s.includes("2019-09")) return "2019-09";
  return "2020-12";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A private deep copy: cfworker annotates the schemas it dereferences. */
function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function asSchema(s: unknown): Schema | boolean {
  if (typeof s === "boolean") return s;
  if (isObject(s)) return s as Schema;
  return true;
}

/** JSON instance pointer ("#/a/0/b~1c") to rjsf's property path (".a.0['b/c']"). */
export function pointerToProperty(location: string): string {
  const raw = location.replace(/^#/, "");
  if (raw === "" || raw === "/") return "";
  const parts = raw
    .split("/")
    .slice(1)
    .map((p) => decodeURIComponent(p).replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.map(segment).join("");
}

function segment(key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) || /^[0-9]+$/.test(key)) return "." + key;
  return "['" + key.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "']";
}

function lastKey(property: string): string {
  const m = /(?:\.([^.[\]]+)|\['((?:[^'\\]|\\.)*)'\])$/.exec(property);
  if (!m) return "";
  return m[1] ?? (m[2] ?? "").replace(/\\(.)/g, "$1");
}

/** Keeps the errors that say what is wrong, drops the ones that only wrap them. */
function leafErrors(errors: OutputUnit[]): OutputUnit[] {
  const out: OutputUnit[] = [];
  // Inside anyOf / oneOf, the per-branch errors confuse more than they help:
  // rjsf shows a selector for the branches; one error says none matched.
  const branchRoots: string[] = [];
  errors.forEach((e, i) => {
    if (branchRoots.some((r) => e.keywordLocation.startsWith(r + "/"))) return;
    if (e.keyword === "anyOf" || e.keyword === "oneOf") {
      branchRoots.push(e.keywordLocation);
      out.push(e);
      return;
    }
    if (e.keyword === "additionalProperties") {
      // `additionalProperties: false`: say so on the object itself.
      const next = errors[i + 1];
      if (next && next.keyword === "false") out.push(e);
      return;
    }
    if (e.keyword === "false") {
      const prev = errors[i - 1];
      if (prev && prev.keyword === "additionalProperties") return;
      out.push(e);
      return;
    }
    if (WRAPPERS.has(e.keyword)) return;
    out.push(e);
  });
  return out;
}

function num(re: RegExp, s: string): string {
  const m = re.exec(s);
  return m ? (m[1] ?? "") : "";
}

/** One cfworker error as rjsf's RJSFValidationError. */
function toRjsfError(e: OutputUnit): RJSFValidationError {
  let property = pointerToProperty(e.instanceLocation);
  let message = e.error;
  const params: Record<string, unknown> = {};
  switch (e.keyword) {
    case "required": {
      const key = num(/required property "(.*)"\.$/, e.error);
      params.missingProperty = key;
      property = property + segment(key);
      message = "is a required property";
      break;
    }
    case "type":
      params.type = num(/Expected "(.*)"\.$/, e.error).split('", "').join(", ");
      message = `must be ${params.type}`;
      break;
    case "enum":
      message = "must be one of the allowed values";
      break;
    case "const":
      message = "must be the allowed value";
      break;
    case "minLength": {
      const n = num(/< ([0-9]+)\)/, e.error);
      params.limit = Number(n);
      message = n === "1" ? "must not be empty" : `must have at least ${n} characters`;
      break;
    }
    case "maxLength":
      params.limit = Number(num(/> ([0-9]+)\)/, e.error));
      message = `must have at most ${params.limit} characters`;
      break;
    case "pattern":
      message = "does not have the expected form";
      break;
    case "format":
      params.format = num(/format "(.*)"\.$/, e.error);
      message = `must be a valid ${params.format}`;
      break;
    case "minItems":
      message = `must have at least ${num(/< ([0-9]+)\)/, e.error)} items`;
      break;
    case "maxItems":
      message = `must have at most ${num(/> ([0-9]+)\)/, e.error)} items`;
      break;
    case "additionalProperties": {
      const key = num(/Property "(.*)" does not match/, e.error);
      params.additionalProperty = key;
      message = `has an unknown property "${key}"`;
      break;
    }
    case "anyOf":
    case "oneOf":
      message = "must match one of the options";
      break;
    default:
      message = e.error.replace(/^Instance /, "").replace(/\.$/, "");
  }
  const name = e.keyword;
  const label = property ? lastKey(property) : "";
  const stack = label ? `${label}: ${message}` : message;
  return { name, property: property || ".", message, params, stack, schemaPath: e.keywordLocation };
}

export interface RawResult {
  errors: OutputUnit[];
  validationError?: Error;
}

export class CfWorkerValidator implements ValidatorType<any, RJSFSchema, any> {
  /** Root lookups, by root schema text: dereferencing costs. */
  private readonly roots = new Map<string, Record<string, Schema | boolean>>();

  toErrorList(errorSchema?: ErrorSchema<any>, fieldPath: string[] = []): RJSFValidationError[] {
    return toErrorList(errorSchema, fieldPath);
  }

  rawValidation<Result = any>(schema: RJSFSchema, formData?: any): { errors?: Result[]; validationError?: Error } {
    const r = this.run(schema, formData);
    return { errors: r.errors as unknown as Result[], validationError: r.validationError };
  }

  private run(schema: unknown, formData: Json): RawResult {
    try {
      const s = asSchema(clone(schema));
      const lookup = dereference(s, Object.create(null), BASE);
      const result = cfValidate(formData ?? undefined, s, draftOf(schema), lookup, false);
      return { errors: result.errors };
    } catch (err) {
      return { errors: [], validationError: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  validateFormData(
    formData: any,
    schema: RJSFSchema,
    customValidate?: CustomValidator<any, RJSFSchema, any>,
    transformErrors?: ErrorTransformer<any, RJSFSchema, any>,
    uiSchema?: UiSchema<any, RJSFSchema, any>,
  ): ValidationData<any> {
    // An absent value is validated as such: cfworker needs a JSON value.
    const data = formData === undefined ? {} : formData;
    const raw = this.run(schema, clean(data));
    let errors = leafErrors(raw.errors).map(toRjsfError);
    if (raw.validationError) {
      errors = [...errors, { stack: `The schema cannot be checked: ${raw.validationError.message}` }];
    }
    if (typeof transformErrors === "function") errors = transformErrors(errors, uiSchema);
    let errorSchema = toErrorSchema<any>(errors);
    if (raw.validationError) {
      const rootErrors = [...(errorSchema.__errors ?? []), `The schema cannot be checked: ${raw.validationError.message}`];
      errorSchema = { ...errorSchema, __errors: rootErrors } as ErrorSchema<any>;
    }
    if (typeof customValidate !== "function") return { errors, errorSchema };
    const full = getDefaultFormState<any, RJSFSchema, any>(this, schema, formData, schema, true);
    const handler = customValidate(full, createErrorHandler<any>(full), uiSchema);
    return validationDataMerge<any>({ errors, errorSchema }, unwrapErrorHandler<any>(handler));
  }

  isValid(schema: RJSFSchema, formData: any, rootSchema: RJSFSchema): boolean {
    try {
      const key = JSON.stringify(rootSchema ?? {});
      let rootLookup = this.roots.get(key);
      if (!rootLookup) {
        rootLookup = dereference(asSchema(clone(rootSchema)), Object.create(null), BASE);
        if (this.roots.size > 64) this.roots.clear();
        this.roots.set(key, rootLookup);
      }
      const lookup: Record<string, Schema | boolean> = Object.assign(Object.create(null), rootLookup);
      const sub = asSchema(clone(schema));
      dereference(sub, lookup, BASE, SUB_POINTER);
      const data = clean(formData === undefined ? null : formData);
      return cfValidate(data, sub, draftOf(rootSchema), lookup, true).valid;
    } catch {
      return false;
    }
  }

  reset(): void {
    this.roots.clear();
  }
}

/** Drops `undefined` members (what JSON would drop) before validating. */
function clean(v: Json): Json {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

const validator = new CfWorkerValidator();
export default validator;
