/**
 * Write Warden tools in TypeScript or JavaScript.
 *
 * A tool is `defineTool({...})`, exported as the module's default export:
 * its functions with zod (or plain JSON) schemas, its configuration, its
 * secrets and where it may send requests. `warden-tool build` turns the
 * module into a WebAssembly component with componentize-js; `ToolRunner`
 * (`warden-tool/testing`) runs it in Node for its tests.
 */
export { z } from "zod";
export {
  ToolError,
  InvalidArguments,
  NotConfigured,
  Unauthorized,
  NotFound,
  RateLimited,
  Upstream,
  Internal,
  KINDS,
  type ErrorKind,
} from "./errors";
export { checkStatus, statusError } from "./http";
export { log } from "./log";
export {
  defineTool,
  Tool,
  NAME,
  type CallContext,
  type CallDirection,
  type Context,
  type CredentialSpec,
  type FunctionDef,
  type FunctionMetadata,
  type Infer,
  type Invoked,
  type JsonSchema,
  type Metadata,
  type OAuthSpec,
  type PhoneCall,
  type Schema,
  type SecretSpec,
  type ToolDef,
} from "./tool";
