from dataclasses import dataclass

from warden_tool import Context, Tool, function


@dataclass
class Config:
    """Who the receptionist knows; set per agent by the operator.

    Attributes:
        contacts: Known callers' names, by their number in E.164 form.
    """

    contacts: dict[str, str]


class Receptionist(Tool):
    """Greets known callers by name."""

    name = "receptionist"
    config = Config

    @function(read_only=True, open_world=False)
    def identify_caller(self, ctx: Context[Config]) -> dict:
        """Who is calling: the caller's name, when their number is known."""
        number = ctx.call.caller_number if ctx.call else None
        name = ctx.config.contacts.get(number) if number else None
        if name is None:
            ctx.speak("Hello! Who do I have the pleasure of speaking with?")
            return {"known": False}
        ctx.speak(f"Hello {name}, good to hear from you again!")
        return {"known": True, "name": name}
