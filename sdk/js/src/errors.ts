/**
 * The errors a tool reports: the contract's `tool-error` kinds.
 *
 * The message is meant for the LLM, which may say it to the caller: make it
 * plain and helpful, and never put a secret in it.
 */

/** The contract's names for the kinds of error (`tool-error` cases). */
export type ErrorKind =
  | "invalid_arguments"
  | "not_configured"
  | "unauthorized"
  | "not_found"
  | "rate_limited"
  | "upstream"
  | "internal";

/** An error the tool reports to the LLM. Throw one of the subclasses. */
export class ToolError extends Error {
  readonly kind: ErrorKind;

  constructor(message: string, kind: ErrorKind = "internal") {
    super(message);
    this.name = "ToolError";
    this.kind = kind;
  }
}

/** The arguments make no sense for the function (beyond the schema). */
export class InvalidArguments extends ToolError {
  constructor(message: string) {
    super(message, "invalid_arguments");
    this.name = "InvalidArguments";
  }
}

/** The tool is missing configuration or a required secret. */
export class NotConfigured extends ToolError {
  constructor(message: string) {
    super(message, "not_configured");
    this.name = "NotConfigured";
  }
}

/** Upstream refused the credentials. */
export class Unauthorized extends ToolError {
  constructor(message: string) {
    super(message, "unauthorized");
    this.name = "Unauthorized";
  }
}

/** The thing asked for does not exist. */
export class NotFound extends ToolError {
  constructor(message: string) {
    super(message, "not_found");
    this.name = "NotFound";
  }
}

/** Upstream asked to slow down. */
export class RateLimited extends ToolError {
  constructor(message: string) {
    super(message, "rate_limited");
    this.name = "RateLimited";
  }
}

/** Upstream failed or answered something unusable. */
export class Upstream extends ToolError {
  constructor(message: string) {
    super(message, "upstream");
    this.name = "Upstream";
  }
}

/** Anything else that went wrong inside the tool. */
export class Internal extends ToolError {
  constructor(message: string) {
    super(message, "internal");
    this.name = "Internal";
  }
}

/** Every kind, in the contract's order. */
export const KINDS: readonly ErrorKind[] = [
  "invalid_arguments",
  "not_configured",
  "unauthorized",
  "not_found",
  "rate_limited",
  "upstream",
  "internal",
];
