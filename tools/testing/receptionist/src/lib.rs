//! The receptionist of README.md and sdk/rust/README.md, kept compiling and
//! tested: it greets a known caller by name, from the caller's number on the
//! phone call.

use std::collections::BTreeMap;
use warden_sdk::prelude::*;

/// Who the receptionist knows; set per agent by the operator.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Known callers' names, by their number in E.164 form.
    contacts: BTreeMap<String, String>,
}

struct Receptionist;

/// Greets known callers by name.
#[tool(name = "receptionist", config = Config)]
impl Receptionist {
    /// Who is calling: the caller's name, when their number is known.
    #[warden(read_only, closed_world)]
    fn identify_caller(ctx: &Context<Config>) -> Result<Value, ToolError> {
        let number = ctx.call.as_ref().and_then(|c| c.caller_number.as_deref());
        match number.and_then(|n| ctx.config.contacts.get(n)) {
            Some(name) => {
                ctx.speak(format!("Hello {name}, good to hear from you again!"));
                Ok(json!({ "known": true, "name": name }))
            }
            None => {
                ctx.speak("Hello! Who do I have the pleasure of speaking with?");
                Ok(json!({ "known": false }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(caller: Option<&str>) -> Context<Config> {
        let contacts = BTreeMap::from([("+15550002222".to_owned(), "Ada".to_owned())]);
        let mut ctx = Context::for_test("call-1", Config { contacts });
        ctx.call = caller.map(|number| PhoneCall {
            session_id: "session-1".into(),
            direction: CallDirection::Inbound,
            caller_number: Some(number.into()),
            agent_number: None,
            room: None,
        });
        ctx
    }

    #[test]
    fn a_known_caller_is_greeted_by_name() {
        let ctx = context(Some("+15550002222"));
        let found = Receptionist::identify_caller(&ctx).unwrap();
        assert_eq!(found, json!({ "known": true, "name": "Ada" }));
        assert_eq!(
            ctx.spoken().as_deref(),
            Some("Hello Ada, good to hear from you again!")
        );
    }

    #[test]
    fn an_unknown_caller_or_no_call_is_asked_for_a_name() {
        for ctx in [context(Some("+15550009999")), context(None)] {
            let found = Receptionist::identify_caller(&ctx).unwrap();
            assert_eq!(found, json!({ "known": false }));
            assert!(ctx.spoken().unwrap().contains("Who do I have"));
        }
    }
}
