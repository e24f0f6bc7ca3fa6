// The TypeScript twin of `tools/testing/echo`: the same function and answer,
// for comparing the languages' per-call cost (`benches/tool-languages`).
import { defineTool, z } from "warden-tool";

export default defineTool({
  name: "echo_js",
  description: "Echoes messages back.",
  functions: {
    echo: {
      description: 'Returns `{"message": ...}` with the message it was given.',
      parameters: z.object({ message: z.string().describe("The message to send back.") }),
      readOnly: true,
      run: ({ message }, ctx) => ({ message, call_id: ctx.callId }),
    },
  },
});
