// The official A2A JS SDK client (@a2a-js/sdk, installed into .tools/ by
// scripts/install-test-deps.sh), driven from the e2e tests: resolve a card, send one text
// message, print what comes back.
//
//   node a2a_js_client.mjs CARD_URL TEXT [--stream] [--header 'Name: value']... [--v03]
//       [--binding JSONRPC|HTTP+JSON]
//
// CARD_URL is the card's full URL (as a gateway publishes it). --header goes on every request,
// the card fetch included (an API key: --header 'Authorization: Bearer amx_…'). --v03 keeps only
// the card's v0.3 interfaces and enables the SDK's v0.3 compat transports; by default the SDK
// picks the card's 1.0 interface, as it does for any card. --binding puts that binding first
// (the SDK's own order is the card's; JSON-RPC for the fixture agents).
//
// Prints one JSON line per thing received, in the protobuf JSON mapping the SDK uses:
//   {"client": {"binding": "JSONRPC", "version": "1.0", "agent": "<card name>"}}  once, first
//   {"response": {"message": …}} or {"response": {"task": …}}                    without --stream
//   {"event": {"task"|"message"|"statusUpdate"|"artifactUpdate": …}}             per streamed event
//   {"error": "<message>", "code": <JSON-RPC code or null>}                      then exit 1
//
// The SDK's entry points come from A2A_JS_SDK_JS and A2A_JS_CLIENT_JS (the test passes them from
// .tools/paths.json); ES modules do not search .tools/node_modules from here on their own.

import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

function usage(problem) {
    process.stderr.write(`a2a_js_client: ${problem}\nusage: node a2a_js_client.mjs CARD_URL TEXT [--stream] [--header 'Name: value']... [--v03] [--binding JSONRPC|HTTP+JSON]\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const out = { positional: [], stream: false, v03: false, headers: {}, bindings: [] };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--stream") out.stream = true;
        else if (arg === "--v03") out.v03 = true;
        else if (arg === "--binding") {
            const binding = argv[++i];
            if (binding !== "JSONRPC" && binding !== "HTTP+JSON") usage(`--binding takes JSONRPC or HTTP+JSON, got ${JSON.stringify(binding)}`);
            out.bindings.push(binding);
        } else if (arg === "--header") {
            const value = argv[++i];
            const colon = value?.indexOf(":") ?? -1;
            if (colon <= 0) usage(`--header takes 'Name: value', got ${JSON.stringify(value)}`);
            out.headers[value.slice(0, colon).trim()] = value.slice(colon + 1).trim();
        } else if (arg.startsWith("--")) usage(`unknown option ${arg}`);
        else out.positional.push(arg);
    }
    if (out.positional.length !== 2) usage("expected CARD_URL and TEXT");
    [out.cardUrl, out.text] = out.positional;
    return out;
}

async function importEntry(variable) {
    const path = process.env[variable];
    if (!path) usage(`${variable} is not set: run scripts/install-test-deps.sh and pass it from .tools/paths.json`);
    return import(pathToFileURL(path).href);
}

function print(line) {
    process.stdout.write(JSON.stringify(line) + "\n");
}

const args = parseArgs(process.argv.slice(2));
const sdk = await importEntry("A2A_JS_SDK_JS");
const { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory } =
    await importEntry("A2A_JS_CLIENT_JS");

// Every request, the card fetch included, carries the caller's headers; the SDK's own headers
// (A2A-Version, Content-Type, Accept) are set by the SDK per request and win over nothing here.
const fetchWithHeaders = (input, init = {}) => {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(args.headers)) headers.set(name, value);
    return fetch(input, { ...init, headers });
};
const legacyCompat = { enabled: args.v03 };
const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [
            new JsonRpcTransportFactory({ fetchImpl: fetchWithHeaders, legacyCompat }),
            new RestTransportFactory({ fetchImpl: fetchWithHeaders, legacyCompat }),
        ],
        preferredTransports: args.bindings,
    }),
);

try {
    // An empty path makes the resolver fetch CARD_URL itself, not CARD_URL + the well-known path.
    const card = await new DefaultAgentCardResolver({ fetchImpl: fetchWithHeaders, legacyCompat }).resolve(args.cardUrl, "");
    if (args.v03) {
        card.supportedInterfaces = card.supportedInterfaces.filter((i) => i.protocolVersion === "0.3");
    }
    const client = await factory.createFromAgentCard(card);
    print({ client: { binding: client.transport.protocolName, version: client.protocolVersion, agent: card.name } });

    const request = {
        message: {
            messageId: randomUUID(),
            role: sdk.Role.ROLE_USER,
            parts: [{ content: { $case: "text", value: args.text } }],
        },
    };
    if (args.stream) {
        for await (const event of client.sendMessageStream(request)) {
            print({ event: sdk.StreamResponse.toJSON(event) });
        }
    } else {
        const result = await client.sendMessage(request);
        // SendMessageResult is a Message or a Task; only a Message has a messageId.
        print({ response: "messageId" in result ? { message: sdk.Message.toJSON(result) } : { task: sdk.Task.toJSON(result) } });
    }
} catch (error) {
    // The SDK's A2A errors carry the JSON-RPC code; a stream's error event wraps one in `cause`,
    // and so does fetch a network error ("fetch failed", cause: ECONNREFUSED …).
    const code = error?.code ?? error?.cause?.code;
    const cause = error?.cause?.message && !String(error.message).includes(error.cause.message) ? `: ${error.cause.message}` : "";
    print({ error: `${error?.message ?? error}${cause}`, code: typeof code === "number" ? code : null });
    process.exit(1);
}
