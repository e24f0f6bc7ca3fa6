/**
 * Log records in the call's record, for the operator: bounded in size and
 * number per call, never shown to the LLM. Never log a secret.
 */
import { host, type Level } from "./host";

function write(level: Level, message: string): void {
  host().log(level, message);
}

export const log = {
  trace: (message: string) => write("trace", message),
  debug: (message: string) => write("debug", message),
  info: (message: string) => write("info", message),
  warn: (message: string) => write("warn", message),
  error: (message: string) => write("error", message),
};
