-- The pure part of mod_push_encrypt_omemo: reads the client's <enable/>, builds the push plaintext of
-- the OMEMO extension (tigase:push:encrypt:omemo:0) from the stanza Prosody holds for an offline
-- device, fits it into max-size and seals it with AES-128-GCM (a real 16-byte tag, through luaossl).
--
-- Byte for byte what this project's TypeScript library does (src/omemo/: enable.ts, extract.ts,
-- build-plaintext.ts, plaintext.ts, budget.ts, seal.ts); the rules are docs/protocol.md section 7,
-- and test/vectors/ holds the known-answer vectors both implementations pass
-- (test/unit/prosody-module/ runs them through this file with Debian's lua5.4).
--
-- No I/O and no Prosody state: functions take Prosody stanza objects (util.stanza: name, attr, tags,
-- and the text and element children in the array part) and plain values. The IV is an argument of
-- seal(); the module passes 12 fresh random bytes for every push, only tests pass a fixed one.
--
-- Loaded by the module with module:require("push_encrypt_omemo") (Prosody looks for
-- push_encrypt_omemo.lib.lua next to mod_push_encrypt_omemo.lua); also loadable with plain require or
-- dofile when package.path/cpath reach Prosody's util.encodings and luaossl.

local cipher = require "openssl.cipher";
local base64 = require "util.encodings".base64;

local byte, concat, find, format = string.byte, table.concat, string.find, string.format;
local lower, match, sub = string.lower, string.match, string.sub;

local M = {};

M.NS = {
	client = "jabber:client";
	push = "urn:xmpp:push:0";
	data_forms = "jabber:x:data";
	encrypt = "tigase:push:encrypt:0";
	encrypt_aes_128_gcm = "tigase:push:encrypt:aes-128-gcm";
	encrypt_omemo = "tigase:push:encrypt:omemo:0";
	priority = "tigase:push:priority:0";
	jingle_message = "urn:xmpp:jingle-message:0";
	jingle_rtp = "urn:xmpp:jingle:apps:rtp:1";
	omemo_legacy = "eu.siacs.conversations.axolotl";
	omemo_1 = "urn:xmpp:omemo:1";
	omemo_2 = "urn:xmpp:omemo:2";
};
local NS = M.NS;

-- What a server with this module advertises on the user's bare JID (account disco#info).
M.FEATURES = { NS.encrypt, NS.encrypt_aes_128_gcm, NS.encrypt_omemo };

-- The `message` of an OMEMO message's push unless configured otherwise.
M.DEFAULT_PLACEHOLDER = "New secure message";

M.AES_128_KEY_BYTES = 16;
M.GCM_IV_BYTES = 12;
M.GCM_TAG_BYTES = 16;
M.LARGEST_DEVICE_ID = 0xffffffff;

local OMEMO_NAMESPACES = { [NS.omemo_legacy] = true, [NS.omemo_1] = true, [NS.omemo_2] = true };

-- The one cipher; aes-gcm is the seed's own spelling, read as aes-128-gcm.
local ALGORITHM_NAMES = { ["aes-128-gcm"] = "aes-128-gcm", ["aes-gcm"] = "aes-128-gcm" };

--------------------------------------------------------------------------------------------------
-- Text as JavaScript sees it (white space, trim, length), so that both implementations agree.

-- JavaScript's white space and line terminators (what String.prototype.trim removes and \s matches):
-- ASCII tab, LF, VT, FF, CR, space, and these code points, as UTF-8.
local UNICODE_SPACES = {
	"\u{A0}", "\u{1680}", "\u{2000}", "\u{2001}", "\u{2002}", "\u{2003}", "\u{2004}", "\u{2005}", "\u{2006}",
	"\u{2007}", "\u{2008}", "\u{2009}", "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}",
	"\u{FEFF}",
};
local IS_UNICODE_SPACE = {};
for _, space in ipairs(UNICODE_SPACES) do IS_UNICODE_SPACE[space] = true; end
local ASCII_SPACE_PATTERN = "[\t\n\v\f\r ]";

local function is_ascii_space(b)
	return b == 9 or b == 10 or b == 11 or b == 12 or b == 13 or b == 32;
end

-- The byte length of the JavaScript white-space character that starts at byte i, or nil.
local function space_at(s, i)
	local b = byte(s, i);
	if b == nil then return nil; end
	if b < 0x80 then return is_ascii_space(b) and 1 or nil; end
	for length = 2, 3 do
		if IS_UNICODE_SPACE[sub(s, i, i + length - 1)] then return length; end
	end
	return nil;
end

-- The byte length of the JavaScript white-space character that ends at byte j, or nil.
local function space_before(s, j)
	local b = byte(s, j);
	if b == nil then return nil; end
	if b < 0x80 then return is_ascii_space(b) and 1 or nil; end
	for length = 2, 3 do
		if j - length + 1 >= 1 and IS_UNICODE_SPACE[sub(s, j - length + 1, j)] then return length; end
	end
	return nil;
end

-- String.prototype.trim.
function M.trim(s)
	local i, j = 1, #s;
	while i <= j do
		local length = space_at(s, i);
		if not length then break; end
		i = i + length;
	end
	while j >= i do
		local length = space_before(s, j);
		if not length then break; end
		j = j - length;
	end
	return sub(s, i, j);
end
local trim = M.trim;

-- Whether s holds a character that JavaScript's \s matches.
local function has_space(s)
	if find(s, ASCII_SPACE_PATTERN) then return true; end
	for _, space in ipairs(UNICODE_SPACES) do
		if find(s, space, 1, true) then return true; end
	end
	return false;
end

-- A string's length in UTF-16 code units (JavaScript's .length); bytes when it is not UTF-8.
local function utf16_length(s)
	local ok, length = pcall(function ()
		local n = 0;
		for _, code in utf8.codes(s) do n = n + (code >= 0x10000 and 2 or 1); end
		return n;
	end);
	return ok and length or #s;
end

--------------------------------------------------------------------------------------------------
-- JSON as JSON.stringify writes it (no white space; the escapes it uses; UTF-8 as is).

local JSON_ESCAPES = {
	['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
};

local function json_string(s)
	return '"' .. s:gsub('[\0-\31"\\]', function (c)
		return JSON_ESCAPES[c] or format("\\u%04x", byte(c));
	end) .. '"';
end
M.json_string = json_string;

local function json_number(n)
	if math.type(n) == "integer" then return format("%d", n); end
	if n == math.floor(n) and math.abs(n) < 2^53 then return format("%d", math.tointeger(n)); end
	return format("%.17g", n);
end

local function json_array(items, encode)
	local out = {};
	for i, item in ipairs(items) do out[i] = encode(item); end
	return "[" .. concat(out, ",") .. "]";
end

local function json_boolean(b) return b and "true" or "false"; end

--------------------------------------------------------------------------------------------------
-- Elements: a child's namespace is its own xmlns attribute or else its parent's (Prosody's stream
-- parser writes xmlns only where it changes; util.xml writes it everywhere).

local function child_elements(parent, parent_ns, name, ns)
	local found = {};
	for _, child in ipairs(parent.tags) do
		if (name == nil or child.name == name) and (ns == nil or (child.attr.xmlns or parent_ns) == ns) then
			found[#found + 1] = child;
		end
	end
	return found;
end

local function child_element(parent, parent_ns, name, ns)
	return child_elements(parent, parent_ns, name, ns)[1];
end

-- The character data directly inside an element (not its descendants').
local function text_of(element)
	local parts = {};
	for _, node in ipairs(element) do
		if type(node) == "string" then parts[#parts + 1] = node; end
	end
	return concat(parts);
end
M.text_of = text_of;

--------------------------------------------------------------------------------------------------
-- JIDs and device ids.

-- Splits a JID (RFC 7622) into local part, domain and resource, local part and domain lowercased
-- (ASCII: Prosody has already applied nodeprep/nameprep to every JID it routes); nil when it is
-- not one.
function M.parse_jid(text)
	if type(text) ~= "string" then return nil; end
	local length = utf16_length(text);
	if length == 0 or length > 3071 then return nil; end
	local slash = find(text, "/", 1, true);
	local bare = slash and sub(text, 1, slash - 1) or text;
	local resource = slash and sub(text, slash + 1) or nil;
	if resource ~= nil and (resource == "" or utf16_length(resource) > 1023) then return nil; end
	local at = find(bare, "@", 1, true);
	local localpart = at and sub(bare, 1, at - 1) or nil;
	local domain = at and sub(bare, at + 1) or bare;
	if sub(domain, -1) == "." then domain = sub(domain, 1, -2); end
	if localpart ~= nil and (localpart == "" or utf16_length(localpart) > 1023
		or find(localpart, "[\"&'/:<>@]") or has_space(localpart)) then
		return nil;
	end
	if domain == "" or utf16_length(domain) > 1023 or find(domain, "[\"&'/:<>@\\]") or has_space(domain) then
		return nil;
	end
	return { localpart = localpart and lower(localpart), domain = lower(domain), resource = resource };
end

local function bare_jid(jid)
	if jid.localpart == nil then return jid.domain; end
	return jid.localpart .. "@" .. jid.domain;
end

local function full_jid(jid)
	if jid.resource == nil then return bare_jid(jid); end
	return bare_jid(jid) .. "/" .. jid.resource;
end

local function account_of(text)
	local jid = M.parse_jid(text);
	return jid and bare_jid(jid);
end

-- An OMEMO device id as XML writes it (a header's sid, a key's rid, the extension's deviceId): an
-- unsigned 32-bit integer in plain decimal digits, returned in canonical form (no leading zeros);
-- nil for anything else (empty, signed, white space, over 4294967295).
function M.parse_device_id(text)
	if type(text) ~= "string" or #text > 10 or not match(text, "^[0-9]+$") then return nil; end
	local id = math.tointeger(tonumber(text, 10));
	if id == nil or id > M.LARGEST_DEVICE_ID then return nil; end
	return format("%d", id);
end
local parse_device_id = M.parse_device_id;

--------------------------------------------------------------------------------------------------
-- Base64 (RFC 4648 section 4, standard alphabet, padded).

-- Decodes padded standard base64, XML white space ignored; nil for anything else.
function M.decode_base64(text)
	local compact = text:gsub("[\t\n\r ]", "");
	if #compact % 4 ~= 0 then return nil; end
	if not match(compact, "^[A-Za-z0-9+/]*=?=?$") then return nil; end
	if compact == "" then return ""; end
	return base64.decode(compact);
end
local decode_base64 = M.decode_base64;

function M.encode_base64(bytes)
	return base64.encode(bytes);
end

--------------------------------------------------------------------------------------------------
-- The client's <enable/>.

local function refused(kind, reason)
	return nil, { kind = kind, reason = reason };
end

local function parse_encrypt(encrypt)
	local algorithm = ALGORITHM_NAMES[encrypt.attr.alg or ""];
	if algorithm == nil then return refused("unsupported-algorithm", "Unsupported encryption algorithm"); end
	local key = decode_base64(text_of(encrypt));
	if key == nil then return refused("bad-key", "Encryption key is not base64"); end
	if #key ~= M.AES_128_KEY_BYTES then return refused("bad-key", "Encryption key must be 16 bytes"); end
	local max_size_text = encrypt.attr["max-size"];
	if max_size_text == nil then return { algorithm = algorithm, key = key }; end
	local max_size = 0;
	if #max_size_text <= 15 and match(max_size_text, "^[0-9]+$") then
		max_size = math.tointeger(tonumber(max_size_text, 10)) or 0;
	end
	if max_size < 1 then return refused("bad-max-size", "max-size must be a positive integer"); end
	return { algorithm = algorithm, key = key, max_size = max_size };
end

-- Reads what an <enable xmlns='urn:xmpp:push:0'/> asks for beyond XEP-0357 (whose jid, node and
-- publish options are mod_cloud_notify's business):
--   <encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' [max-size='N']>BASE64 KEY</encrypt>
--   <omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='N'/>
-- Returns { encryption = { algorithm, key (16 bytes), max_size? }?, omemo_device_id? } (an empty
-- table when neither is there), or nil and { kind, reason } for what the server must refuse with
-- modify/bad-request; reason is fit for the error's <text/>.
function M.parse_enable(enable)
	local ns = enable.attr.xmlns or NS.push;
	local encrypt = child_element(enable, ns, "encrypt", NS.encrypt);
	local omemo = child_element(enable, ns, "omemo", NS.encrypt_omemo);
	if encrypt == nil then
		if omemo ~= nil then return refused("omemo-without-encrypt", "omemo requires encrypt"); end
		return {};
	end
	local encryption, err = parse_encrypt(encrypt);
	if encryption == nil then return nil, err; end
	if omemo == nil then return { encryption = encryption }; end
	local device_id = parse_device_id(omemo.attr.deviceId);
	if device_id == nil or device_id == "0" then
		return refused("bad-device-id", "deviceId must be an OMEMO device id");
	end
	return { encryption = encryption, omemo_device_id = device_id };
end

--------------------------------------------------------------------------------------------------
-- OMEMO key material for one device.

-- The trimmed text of an OMEMO element's <payload/>; nil when it has none or an empty one.
local function payload_of(encrypted, ns)
	local payload = child_element(encrypted, ns, "payload", ns);
	local data = payload and trim(text_of(payload)) or "";
	if data == "" then return nil; end
	return data;
end

-- The <encrypted/> children of a message in an OMEMO namespace, in document order, each with its
-- namespace: { element, ns }.
function M.omemo_encrypted_elements(message)
	local message_ns = message.attr.xmlns or NS.client;
	local found = {};
	for _, child in ipairs(child_elements(message, message_ns, "encrypted")) do
		local ns = child.attr.xmlns or message_ns;
		if OMEMO_NAMESPACES[ns] then found[#found + 1] = { element = child, ns = ns }; end
	end
	return found;
end
local omemo_encrypted_elements = M.omemo_encrypted_elements;

-- Whether a message has OMEMO elements and none carries a payload (key transport, heartbeat).
function M.is_empty_omemo_message(message)
	local elements = omemo_encrypted_elements(message);
	if #elements == 0 then return false; end
	for _, omemo in ipairs(elements) do
		if payload_of(omemo.element, omemo.ns) ~= nil then return false; end
	end
	return true;
end
local is_empty_omemo_message = M.is_empty_omemo_message;

local function is_xml_true(value)
	return value == "true" or value == "1";
end

local function keys_for_recipient(header, ns, recipient)
	if ns == NS.omemo_legacy then return child_elements(header, ns, "key", ns); end
	local account = account_of(recipient);
	if account == nil then return {}; end
	local keys = {};
	for _, group in ipairs(child_elements(header, ns, "keys", ns)) do
		if account_of(group.attr.jid) == account then
			for _, key in ipairs(child_elements(group, ns, "key", ns)) do keys[#keys + 1] = key; end
		end
	end
	return keys;
end

local function read_from_encrypted(encrypted, ns, device)
	local header = child_element(encrypted, ns, "header", ns);
	local data = payload_of(encrypted, ns);
	if header == nil or data == nil then return nil; end
	local mine = {};
	for _, key in ipairs(keys_for_recipient(header, ns, device.recipient)) do
		if key.attr.rid == device.device_id then mine[#mine + 1] = key; end
	end
	if #mine == 0 then return nil; end
	local written = header.attr.sid;
	local sid = parse_device_id(written);
	if sid == nil then
		local reason = written == nil and "OMEMO header without sid"
			or ("OMEMO header sid " .. json_string(written) .. " is not an unsigned 32-bit integer");
		return nil, { kind = "bad-omemo-sid", reason = reason, sid = written };
	end
	local kex_attribute = ns == NS.omemo_legacy and "prekey" or "kex";
	local keys, kex = {}, {};
	for i, key in ipairs(mine) do
		keys[i] = trim(text_of(key));
		kex[i] = is_xml_true(key.attr[kex_attribute]);
	end
	local iv;
	if ns == NS.omemo_legacy then
		local iv_element = child_element(header, ns, "iv", ns);
		iv = iv_element and trim(text_of(iv_element)) or nil;
	end
	return { keys = keys, kex = kex, sid = sid, iv = iv, data = data };
end

-- The `omemo` object for one device ({ device_id, recipient = the account's bare JID }): the keys
-- whose rid is the device id (OMEMO 1/2: in the recipient's <keys jid/> group), their kex flags, the
-- header's sid, the legacy <iv/>, the payload. nil when the message has no key for the device or no
-- payload; nil and { kind = "bad-omemo-sid", reason, sid } when the header holding the device's keys
-- has no valid sid. The first OMEMO element that yields one wins.
function M.read_omemo_for_device(message, device)
	for _, omemo in ipairs(omemo_encrypted_elements(message)) do
		local found, err = read_from_encrypted(omemo.element, omemo.ns, device);
		if err ~= nil then return nil, err; end
		if found ~= nil then return found; end
	end
	return nil;
end

--------------------------------------------------------------------------------------------------
-- The push plaintext.

local function call_media(propose, ns)
	local media, seen = {}, {};
	for _, description in ipairs(child_elements(propose, ns, "description", NS.jingle_rtp)) do
		local name = description.attr.media;
		if name ~= nil and not seen[name] then
			seen[name] = true;
			media[#media + 1] = name;
		end
	end
	return media;
end

local function shown(plaintext) return { plaintext = plaintext, priority = "high" }; end
local function quiet(plaintext) return { plaintext = plaintext, priority = "low" }; end

local function message_push(message, from, options)
	local unread = options.unread;
	local message_ns = message.attr.xmlns or NS.client;
	local propose = child_element(message, message_ns, "propose", NS.jingle_message);
	local groupchat = message.attr.type == "groupchat";
	if propose ~= nil and not groupchat then
		local propose_ns = propose.attr.xmlns or message_ns;
		return shown({
			unread = unread, sender = full_jid(from), type = "call",
			sid = propose.attr.id, media = call_media(propose, propose_ns),
		});
	end
	local sender = bare_jid(from);
	local push_type = groupchat and "groupchat" or "chat";
	local nickname = groupchat and from.resource or nil;
	if #omemo_encrypted_elements(message) > 0 then
		if is_empty_omemo_message(message) then
			return quiet({ unread = unread, sender = sender, type = push_type, nickname = nickname });
		end
		local omemo, err;
		if options.omemo_device ~= nil then
			omemo, err = M.read_omemo_for_device(message, options.omemo_device);
			if err ~= nil then return nil, err; end
		end
		return shown({
			unread = unread, sender = sender, type = push_type,
			message = options.placeholder or M.DEFAULT_PLACEHOLDER, nickname = nickname, omemo = omemo,
		});
	end
	local body = child_element(message, message_ns, "body", message_ns);
	local text = body and text_of(body) or nil;
	local plaintext = { unread = unread, sender = sender, type = push_type, message = text, nickname = nickname };
	if text == nil then return quiet(plaintext); end
	return shown(plaintext);
end

-- The push for a stanza held for an offline device, and the priority to publish it with
-- ({ plaintext, priority = "high" | "low" }), as src/omemo/build-plaintext.ts's buildPush:
--   * a chat or group-chat message: its body (high); without body nothing to show (low, no message);
--   * an OMEMO message (any of the three namespaces) with a payload: the placeholder as message,
--     never the fallback body, and the omemo object when options.omemo_device is given (high);
--   * an OMEMO message without payload (key transport, heartbeat): no message, no omemo (low);
--   * a Jingle <propose/> outside a group chat: a call from the full JID, with sid and media (high);
--   * <presence type='subscribe'/>: type unknown (high).
-- options: unread (number), omemo_device ({ device_id, recipient })?, placeholder?.
-- nil and { kind, reason }: "bad-from", "not-notifiable" (other stanzas, messages of type error),
-- "bad-omemo-sid" (the caller may build again without omemo_device).
function M.build_push(stanza, options)
	local from = M.parse_jid(stanza.attr.from);
	if from == nil then return refused("bad-from", "Stanza without a valid from"); end
	local stanza_type = stanza.attr.type;
	if stanza.name == "presence" and stanza_type == "subscribe" then
		return shown({ unread = options.unread, sender = bare_jid(from), type = "unknown" });
	end
	if stanza.name ~= "message" or stanza_type == "error" then
		return refused("not-notifiable", "Neither a message nor a subscription request");
	end
	return message_push(stanza, from, options);
end

-- The plaintext as the extension's byte-exact JSON: unread, sender, type, message, nickname, sid,
-- media, omemo (inside: keys, kex, sid, iv, data), absent fields left out, no white space.
function M.serialize(plaintext)
	local out = {};
	local function field(name, encoded) out[#out + 1] = json_string(name) .. ":" .. encoded; end
	field("unread", json_number(plaintext.unread));
	field("sender", json_string(plaintext.sender));
	field("type", json_string(plaintext.type));
	if plaintext.message ~= nil then field("message", json_string(plaintext.message)); end
	if plaintext.nickname ~= nil then field("nickname", json_string(plaintext.nickname)); end
	if plaintext.sid ~= nil then field("sid", json_string(plaintext.sid)); end
	if plaintext.media ~= nil then field("media", json_array(plaintext.media, json_string)); end
	local omemo = plaintext.omemo;
	if omemo ~= nil then
		local inner = {
			'"keys":' .. json_array(omemo.keys, json_string),
			'"kex":' .. json_array(omemo.kex, json_boolean),
			'"sid":' .. json_string(omemo.sid),
		};
		if omemo.iv ~= nil then inner[#inner + 1] = '"iv":' .. json_string(omemo.iv); end
		inner[#inner + 1] = '"data":' .. json_string(omemo.data);
		field("omemo", "{" .. concat(inner, ",") .. "}");
	end
	return "{" .. concat(out, ",") .. "}";
end
local serialize = M.serialize;

--------------------------------------------------------------------------------------------------
-- The max-size budget.

-- The length of the base64 `encrypted` text for a plaintext of this many UTF-8 bytes: ciphertext as
-- long as the plaintext plus the 16-byte tag, 4 characters per 3 bytes, padded.
function M.sealed_base64_length(plaintext_bytes)
	return 4 * ((plaintext_bytes + M.GCM_TAG_BYTES + 2) // 3);
end

function M.sealed_length_of(plaintext)
	return M.sealed_base64_length(#serialize(plaintext));
end
local sealed_length_of = M.sealed_length_of;

local function copy(plaintext, changes)
	local result = {};
	for k, v in pairs(plaintext) do result[k] = v; end
	for k, v in pairs(changes) do result[k] = v; end
	return result;
end

-- The byte offsets where each code point of s starts, and #s + 1 at the end.
local function code_point_offsets(s)
	local offsets = {};
	local ok = pcall(function ()
		for position in utf8.codes(s) do offsets[#offsets + 1] = position; end
	end);
	if not ok then
		offsets = {};
		for position = 1, #s do offsets[position] = position; end
	end
	offsets[#offsets + 1] = #s + 1;
	return offsets;
end

-- Fits a plaintext into max_size (the largest length of the base64 `encrypted` text): unchanged when
-- it fits; else without omemo; else with message cut to its longest prefix of whole code points that
-- fits. nil and { kind = "max-size-too-small", reason, max_size, smallest_size } when even an empty
-- message does not fit (src/omemo/budget.ts's fitPushPlaintext).
function M.fit(plaintext, max_size)
	local function fits(candidate) return sealed_length_of(candidate) <= max_size; end
	if fits(plaintext) then return plaintext; end
	local smaller = copy(plaintext, {});
	smaller.omemo = nil;
	if fits(smaller) then return smaller; end
	local message = smaller.message or "";
	local offsets = code_point_offsets(message);
	local count = #offsets - 1;
	local function trimmed(kept) return copy(smaller, { message = sub(message, 1, offsets[kept + 1] - 1) }); end
	local smallest = smaller.message == nil and smaller or trimmed(0);
	if not fits(smallest) then
		local smallest_size = sealed_length_of(smallest);
		return nil, {
			kind = "max-size-too-small",
			reason = format("max-size %d cannot hold a push of %d", max_size, smallest_size),
			max_size = max_size,
			smallest_size = smallest_size,
		};
	end
	local low, high = 0, count;
	while low < high do
		local middle = (low + high + 1) // 2;
		if fits(trimmed(middle)) then low = middle; else high = middle - 1; end
	end
	return trimmed(low);
end

--------------------------------------------------------------------------------------------------
-- AES-128-GCM through luaossl: 12-byte IV, no additional data, 16-byte tag after the ciphertext.

-- Encrypts; returns ciphertext..tag. Errors on a key that is not 16 bytes or an IV that is not 12
-- (luaossl itself would quietly accept an IV of another length).
function M.encrypt_aes_128_gcm(key, iv, plaintext)
	assert(type(key) == "string" and #key == M.AES_128_KEY_BYTES, "AES-128 key must be 16 bytes");
	assert(type(iv) == "string" and #iv == M.GCM_IV_BYTES, "GCM IV must be 12 bytes");
	local gcm = cipher.new("aes-128-gcm");
	gcm:encrypt(key, iv);
	local ciphertext = assert(gcm:final(plaintext));
	local tag = assert(gcm:getTag(M.GCM_TAG_BYTES));
	assert(#tag == M.GCM_TAG_BYTES, "GCM tag must be 16 bytes");
	return ciphertext .. tag;
end

-- Decrypts ciphertext..tag, verifying the tag; nil when it does not verify.
function M.decrypt_aes_128_gcm(key, iv, sealed)
	assert(type(key) == "string" and #key == M.AES_128_KEY_BYTES, "AES-128 key must be 16 bytes");
	assert(type(iv) == "string" and #iv == M.GCM_IV_BYTES, "GCM IV must be 12 bytes");
	if #sealed < M.GCM_TAG_BYTES then return nil; end
	local gcm = cipher.new("aes-128-gcm");
	gcm:decrypt(key, iv);
	gcm:setTag(sub(sealed, -M.GCM_TAG_BYTES));
	return gcm:final(sub(sealed, 1, -M.GCM_TAG_BYTES - 1));
end

-- Seals a plaintext JSON text: returns the base64 of ciphertext..tag and the base64 IV, the two texts
-- of <encrypted xmlns='tigase:push:encrypt:0' iv='IV'>ENCRYPTED</encrypted>. iv must be 12 fresh
-- random bytes: an IV is never used twice with a key.
function M.seal(plaintext_json, key, iv)
	return base64.encode(M.encrypt_aes_128_gcm(key, iv, plaintext_json)), base64.encode(iv);
end

-- For tools and tests: opens what seal() made; nil when a text is not base64, the IV is not 12 bytes
-- or the tag does not verify.
function M.open(encrypted, iv_text, key)
	local iv, sealed = decode_base64(iv_text), decode_base64(encrypted);
	if iv == nil or sealed == nil or #iv ~= M.GCM_IV_BYTES then return nil; end
	return M.decrypt_aes_128_gcm(key, iv, sealed);
end

-- Everything between the stanza and the two texts: build, fit, serialize, seal.
-- settings: { key (16 bytes), max_size?, omemo_device? , placeholder? }; unread; iv (12 bytes).
-- Returns { encrypted, iv, plaintext (the table after fitting), json, priority, voip } or nil and
-- { kind, reason } (not-notifiable, bad-from, max-size-too-small). A header with a bad sid does not
-- fail: the push is built again without the omemo object, as docs/protocol.md section 7 allows.
function M.seal_push(stanza, settings, unread, iv)
	local options = { unread = unread, omemo_device = settings.omemo_device, placeholder = settings.placeholder };
	local built, err = M.build_push(stanza, options);
	if built == nil and err.kind == "bad-omemo-sid" then
		options.omemo_device = nil;
		built, err = M.build_push(stanza, options);
	end
	if built == nil then return nil, err; end
	local plaintext = built.plaintext;
	if settings.max_size ~= nil then
		plaintext, err = M.fit(plaintext, settings.max_size);
		if plaintext == nil then return nil, err; end
	end
	local json = serialize(plaintext);
	local encrypted, iv_text = M.seal(json, settings.key, iv);
	return {
		encrypted = encrypted, iv = iv_text, plaintext = plaintext, json = json,
		priority = built.priority, voip = plaintext.type == "call",
	};
end

return M;
