/**
 * SMS confirmations for voice agents, through Twilio's Messages API: text
 * the caller what was agreed (a booking, an address, a reference number)
 * and check that the text arrived.
 */
import {
  InvalidArguments,
  NotConfigured,
  NotFound,
  RateLimited,
  Unauthorized,
  Upstream,
  defineTool,
  log,
  statusError,
  z,
  type Context,
} from "warden-tool";

export const TWILIO = "https://api.twilio.com";

/** A phone number in E.164, as Twilio takes it. */
const E164 = /^\+[1-9]\d{1,14}$/;
/** Twilio's longest message body, in characters. */
export const MAX_BODY = 1600;

const config = z.object({
  account_sid: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/)
    .describe("The Twilio account SID (AC…) the texts are sent from."),
  from: z.string().regex(E164).describe("The account's SMS-capable number texts come from, in E.164 (+15550100123)."),
  api_base: z.url().default(TWILIO).describe("Twilio's API origin. Leave the default outside tests."),
});

type Config = z.output<typeof config>;

/** Plain words for the delivery errors a caller's phone can cause. */
const DELIVERY_ERRORS: Record<number, string> = {
  30003: "the phone is unreachable or switched off",
  30004: "the recipient blocked the message",
  30005: "the number does not exist or is no longer in service",
  30006: "the number cannot receive texts (a landline or unreachable carrier)",
  30007: "the carrier filtered the message",
  30008: "delivery failed for an unknown reason",
};

/** The `status` values after which a message's status no longer changes. */
const FINAL = new Set(["delivered", "undelivered", "failed", "received", "read", "canceled"]);

interface TwilioMessage {
  sid: string;
  status: string;
  to: string;
  num_segments: string;
  error_code: number | null;
  date_sent: string | null;
}

interface TwilioError {
  code?: number;
  message?: string;
}

export default defineTool({
  name: "twilio_sms",
  version: "0.2.0",
  description:
    "Sends text messages (SMS) to callers through Twilio, e.g. to confirm a booking, and tells whether a text was delivered.",
  config,
  secrets: [
    {
      name: "api_credentials",
      description:
        "HTTP Basic credentials for Twilio: base64 of `ACCOUNT_SID:AUTH_TOKEN` (or `API_KEY_SID:API_KEY_SECRET`), e.g. `printf '%s' 'AC…:token' | base64 -w0`.",
    },
  ],
  allowedHosts: [TWILIO],
  // The host adds the credentials to requests to Twilio: the tool never reads them.
  credentials: [{ secret: "api_credentials", hosts: [TWILIO], header: "authorization", format: "Basic {}" }],
  functions: {
    send_sms: {
      description:
        "Sends a text message to a phone number, e.g. the caller's, to confirm what was agreed on the call. Returns the message id to check delivery with get_message_status.",
      parameters: z.object({
        to: z
          .string()
          .optional()
          .describe(
            "The recipient's phone number in E.164, e.g. +15550100199. Leave it out during a phone call to text the person on the phone.",
          ),
        body: z.string().max(MAX_BODY).describe("The text to send: short, plain, no secrets."),
      }),
      // Every run sends another text (Twilio takes no idempotency key; Warden
      // runs it once per call id) to a person: not idempotent, open-world.
      run: async ({ to, body }, ctx) => {
        const recipient = to ?? ctx.call?.callerNumber;
        if (recipient == null) {
          throw new InvalidArguments("the caller's number is not known: ask for it and pass it as `to`");
        }
        const number = normalizePhone(recipient);
        if (body.trim() === "") throw new InvalidArguments("the text is empty");
        const form = new URLSearchParams({ To: number, From: ctx.config.from, Body: body });
        const response = await fetch(`${accountUrl(ctx)}/Messages.json`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
          body: form.toString(),
        });
        const message = (await answer(response, "sending the text")) as TwilioMessage;
        log.info(`sent ${message.sid} (${message.num_segments} segment(s)) for call ${ctx.callId}`);
        return {
          message_sid: message.sid,
          status: message.status,
          to: message.to,
          segments: Number(message.num_segments),
        };
      },
    },
    get_message_status: {
      description:
        "Tells whether a text sent with send_sms reached the phone: queued, sent, delivered, or undelivered with the reason.",
      parameters: z.object({
        message_sid: z.string().describe("The message id send_sms returned (SM…)."),
      }),
      readOnly: true,
      // Reads the account's own message log.
      openWorld: false,
      run: async ({ message_sid }, ctx) => {
        if (!/^(SM|MM)[0-9a-f]{32}$/.test(message_sid)) {
          throw new InvalidArguments("that is not a message id: send_sms returns one starting with SM");
        }
        const response = await fetch(`${accountUrl(ctx)}/Messages/${message_sid}.json`, {
          headers: { accept: "application/json" },
        });
        if (response.status === 404) throw new NotFound("there is no text message with that id on this account");
        const message = (await answer(response, "reading the message")) as TwilioMessage;
        const code = message.error_code;
        return {
          message_sid: message.sid,
          status: message.status,
          delivered: message.status === "delivered" || message.status === "read",
          final: FINAL.has(message.status),
          to: message.to,
          sent_at: message.date_sent,
          error_code: code,
          error: code === null ? null : (DELIVERY_ERRORS[code] ?? `Twilio error ${code}`),
        };
      },
    },
  },
  test: async (ctx) => {
    const response = await fetch(`${accountUrl(ctx)}.json`, {
      headers: { accept: "application/json" },
    });
    const account = (await answer(response, "reading the account")) as { status: string; type: string };
    if (account.status !== "active") throw new NotConfigured(`the Twilio account is ${account.status}`);
    return { ok: true, account_status: account.status, account_type: account.type, from: ctx.config.from };
  },
});

/** The phone number `raw` in E.164: spaces, dashes, dots and brackets
 * dropped, `00` read as `+`. */
export function normalizePhone(raw: string): string {
  let number = raw.trim().replace(/[\s\-.()]/g, "");
  if (number.startsWith("00")) number = `+${number.slice(2)}`;
  if (!E164.test(number)) {
    throw new InvalidArguments(
      "the phone number must be in international form, with the country code, e.g. +15550100199",
    );
  }
  return number;
}

/** The account's resource URL, without `.json`: its messages are under it. */
function accountUrl(ctx: Context<Config>): string {
  const base = ctx.config.api_base.replace(/\/+$/, "");
  if (!/^https?:\/\//.test(base)) throw new NotConfigured("api_base must be an http(s) origin");
  return `${base}/2010-04-01/Accounts/${ctx.config.account_sid}`;
}

/** A 2xx response's JSON; Twilio's errors as the matching `ToolError`. */
async function answer(response: Response, what: string): Promise<unknown> {
  if (response.ok) return response.json();
  const error = (await response.json().catch(() => ({}))) as TwilioError;
  const code = error.code ?? 0;
  if (response.status === 400) {
    // Twilio's 400 messages name the field at fault and echo only what the
    // tool sent; they help the LLM correct the call.
    if (code === 21610) throw new InvalidArguments("the recipient has opted out of texts from this number");
    if (code === 21606 || code === 21603) {
      throw new NotConfigured(`the sending number is not usable on this Twilio account (${code})`);
    }
    throw new InvalidArguments(`Twilio refused ${what}: ${error.message ?? "bad request"} (${code})`);
  }
  if (response.status === 401) throw new Unauthorized(`Twilio refused the credentials for ${what} (${code || 401})`);
  if (response.status === 429) throw new RateLimited(`Twilio asked to slow down while ${what}`);
  if (response.status >= 500) throw new Upstream(`Twilio failed while ${what} (${response.status})`);
  throw statusError(response.status, what);
}
