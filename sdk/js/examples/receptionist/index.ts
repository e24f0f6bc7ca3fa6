import { defineTool, z } from "warden-tool";

export default defineTool({
  name: "receptionist",
  description: "Greets known callers by name.",
  // Set per agent by the operator.
  config: z.object({
    contacts: z.record(z.string(), z.string()).describe("Known callers' names, by their number in E.164 form."),
  }),
  functions: {
    identify_caller: {
      description: "Who is calling: the caller's name, when their number is known.",
      readOnly: true,
      openWorld: false,
      run: (_args, ctx) => {
        const number = ctx.call?.callerNumber;
        const name = number ? ctx.config.contacts[number] : undefined;
        if (name === undefined) {
          ctx.speak("Hello! Who do I have the pleasure of speaking with?");
          return { known: false };
        }
        ctx.speak(`Hello ${name}, good to hear from you again!`);
        return { known: true, name };
      },
    },
  },
});
