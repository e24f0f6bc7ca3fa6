"""The Python twin of `tools/testing/echo`: the same function and answer, for
comparing the languages' per-call cost (`benches/tool-languages`)."""

from warden_tool import Context, Tool, function


class Echo(Tool):
    """Echoes messages back."""

    name = "echo_py"

    @function(read_only=True)
    def echo(self, ctx: Context, message: str) -> dict:
        """Returns `{"message": ...}` with the message it was given.

        Args:
            message: The message to send back.
        """
        return {"message": message, "call_id": ctx.call_id}
