//! Room names and E.164 validation.

use warden_livekit::{E164Error, RoomName, parse_room_name, room_name, validate_e164};

#[test]
fn room_name_is_exactly_agent_id_then_phone() {
    let agent = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(
        room_name(agent, "+14155550123"),
        "agent-0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-+14155550123"
    );
}

#[test]
fn room_names_round_trip_with_uuid_agent_ids() {
    for (agent, phone) in [
        ("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "+14155550123"),
        ("7", "+447911123456"),
        ("agent-with-hyphens", "+33123456789"),
        ("a", "+12"),
    ] {
        let name = room_name(agent, phone);
        assert_eq!(
            parse_room_name(&name),
            Some(RoomName {
                agent_id: agent.to_owned(),
                phone: phone.to_owned()
            }),
            "{name}"
        );
    }
}

#[test]
fn other_room_names_do_not_parse() {
    for name in [
        "",
        "agent-",
        "agent--+14155550123",
        "room-0190a1b2-+14155550123",
        "agent-0190a1b2-14155550123",
        "agent-0190a1b2-+1415555abc",
        "agent-+14155550123",
        "AGENT-x-+14155550123",
    ] {
        assert_eq!(parse_room_name(name), None, "{name:?}");
    }
}

#[test]
fn e164_accepts_plus_and_up_to_fifteen_digits() {
    for phone in ["+14155550123", "+447911123456", "+12", "+123456789012345"] {
        assert_eq!(validate_e164(phone), Ok(()), "{phone}");
    }
}

#[test]
fn e164_rejections_say_what_is_wrong() {
    assert_eq!(validate_e164(""), Err(E164Error::Empty));
    assert_eq!(validate_e164("14155550123"), Err(E164Error::MissingPlus));
    assert_eq!(validate_e164("+1 415 555 0123"), Err(E164Error::NotDigits));
    assert_eq!(validate_e164("+1-415-555-0123"), Err(E164Error::NotDigits));
    assert_eq!(validate_e164("+04155550123"), Err(E164Error::LeadingZero));
    assert_eq!(
        validate_e164("+1234567890123456"),
        Err(E164Error::Length { digits: 16 })
    );
    assert_eq!(validate_e164("+1"), Err(E164Error::Length { digits: 1 }));
    let message = validate_e164("4155550123").unwrap_err().to_string();
    assert!(message.contains("must start with '+'"), "{message}");
    assert!(
        message.contains("+14155550123"),
        "an example helps: {message}"
    );
}
