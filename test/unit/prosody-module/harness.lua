-- Test harness for integrations/prosody/mod_push_encrypt_omemo, run by test/unit/prosody-module/*.test.ts
-- with Debian's lua5.4: `lua5.4 harness.lua MODULE_DIR < request.json > answer.json`.
--
-- The request is {"op": NAME, ...}; the answer is a JSON object. Stanzas arrive as XML text and are
-- parsed with Prosody's own util.xml into util.stanza objects, as the module gets them in Prosody.
-- Binary values travel as hex. Nothing here is loaded by Prosody.

local module_dir = assert(arg[1], "usage: lua5.4 harness.lua MODULE_DIR");
package.path = "/usr/lib/prosody/?.lua;" .. package.path;
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath;

local json = require "util.json";
local xml = require "util.xml";
local st = require "util.stanza";

local LIB_PATH = module_dir .. "/push_encrypt_omemo.lib.lua";
local MODULE_PATH = module_dir .. "/mod_push_encrypt_omemo.lua";

local function hex(bytes)
	return (bytes:gsub(".", function (c) return string.format("%02x", c:byte()); end));
end

local function unhex(text)
	assert(#text % 2 == 0 and not text:find("[^0-9a-fA-F]"), "not hex: " .. text);
	return (text:gsub("..", function (pair) return string.char(tonumber(pair, 16)); end));
end

local function parse(text)
	return assert(xml.parse(text), "not XML: " .. text);
end

-- What Prosody's stream parser (util.xmppstream) leaves of the namespaces: no xmlns attribute on
-- elements in the stream's default namespace (jabber:client) until a foreign element, below which
-- every element carries its own.
local function as_from_stream(element, below_foreign)
	local ns = element.attr.xmlns;
	if not below_foreign and ns == "jabber:client" then element.attr.xmlns = nil; end
	local foreign = below_foreign or (ns ~= nil and ns ~= "jabber:client");
	for _, child in ipairs(element.tags) do as_from_stream(child, foreign); end
	return element;
end

local function load_lib(env)
	return assert(loadfile(LIB_PATH, "t", env or _ENV))();
end

-- JSON null for absent values, so that keys are kept in the answer.
local function opt(value)
	if value == nil then return json.null; end
	return value;
end

-- A Lua list that util.json writes as a JSON array even when empty.
local array_mt = getmetatable(require "util.array"());
local function array(items) return setmetatable(items or {}, array_mt); end

local function error_of(err)
	if err == nil then return json.null; end
	return { kind = err.kind, reason = err.reason, sid = opt(err.sid), max_size = opt(err.max_size),
		smallest_size = opt(err.smallest_size) };
end

-- A plaintext object as the TypeScript side sends it (JSON arrays and all) -> the lib's table.
local function plaintext_from(input)
	local function list(items)
		if items == nil or items == json.null then return nil; end
		local out = {};
		for i, item in ipairs(items) do out[i] = item; end
		return out;
	end
	local function value(v) if v == json.null then return nil; end return v; end
	local omemo = value(input.omemo);
	return {
		unread = input.unread, sender = input.sender, type = input.type, message = value(input.message),
		nickname = value(input.nickname), sid = value(input.sid), media = list(input.media),
		omemo = omemo and {
			keys = list(omemo.keys), kex = list(omemo.kex), sid = omemo.sid, iv = value(omemo.iv), data = omemo.data,
		} or nil,
	};
end

local ops = {};

-- NIST GCM vectors: encrypt, then decrypt with the right tag, a changed tag and a changed ciphertext.
function ops.gcm(request)
	local lib = load_lib();
	local results = {};
	for i, case in ipairs(request.cases) do
		local key, iv, pt = unhex(case.key), unhex(case.iv), unhex(case.pt);
		local sealed = lib.encrypt_aes_128_gcm(key, iv, pt);
		local expected = unhex(case.ct .. case.tag);
		local opened = lib.decrypt_aes_128_gcm(key, iv, expected);
		local bad_tag = expected:sub(1, -2) .. string.char(expected:byte(-1) ~ 1);
		local bad_ct = #pt > 0 and (string.char(expected:byte(1) ~ 0x80) .. expected:sub(2)) or nil;
		local opened_with_changed_ciphertext = json.null;
		if bad_ct then opened_with_changed_ciphertext = lib.decrypt_aes_128_gcm(key, iv, bad_ct) ~= nil; end
		results[i] = {
			id = case.id,
			sealed = hex(sealed),
			opened = opened and hex(opened) or json.null,
			opened_with_changed_tag = lib.decrypt_aes_128_gcm(key, iv, bad_tag) ~= nil,
			opened_with_changed_ciphertext = opened_with_changed_ciphertext,
		};
	end
	return { results = array(results) };
end

-- The lib refuses what luaossl would quietly accept (an IV of another length) and keys of the wrong length.
function ops.gcm_refusals()
	local lib = load_lib();
	local key, iv = string.rep("k", 16), string.rep("i", 12);
	local function refused(f) local ok = pcall(f); return not ok; end
	return {
		short_iv = refused(function () return lib.encrypt_aes_128_gcm(key, iv:sub(1, 11), "x"); end),
		long_iv = refused(function () return lib.encrypt_aes_128_gcm(key, iv .. "i", "x"); end),
		short_key = refused(function () return lib.encrypt_aes_128_gcm(key:sub(1, 15), iv, "x"); end),
		aes_256_key = refused(function () return lib.encrypt_aes_128_gcm(key .. key, iv, "x"); end),
		good = refused(function () return lib.encrypt_aes_128_gcm(key, iv, "x"); end),
	};
end

-- The project's known-answer vectors (test/vectors/omemo-push.json) through the lib, IV fixed.
function ops.vectors(request)
	local lib = load_lib();
	local results = {};
	for i, vector in ipairs(request.vectors) do
		local message = parse(vector.messageStanza);
		local device = { device_id = vector.deviceId, recipient = vector.recipient };
		local omemo, omemo_err = lib.read_omemo_for_device(message, device);
		local built, build_err = lib.build_push(message, { unread = vector.unread, omemo_device = device });
		local key = lib.decode_base64(vector.pushKey);
		local iv = lib.decode_base64(vector.iv);
		local plaintext = built and lib.serialize(built.plaintext) or nil;
		local encrypted, iv_text;
		if plaintext then encrypted, iv_text = lib.seal(plaintext, key, iv); end
		local sealed_push = lib.seal_push(message, { key = key, omemo_device = device }, vector.unread, iv);
		local opened = lib.open(vector.encrypted, vector.iv, key);
		results[i] = {
			name = vector.name,
			omemo = omemo and lib.serialize({ unread = 0, sender = "", type = "chat", omemo = omemo }) or json.null,
			omemo_error = error_of(omemo_err),
			build_error = error_of(build_err),
			plaintext = opt(plaintext),
			priority = built and built.priority or json.null,
			encrypted = opt(encrypted),
			iv = opt(iv_text),
			sealed_push = sealed_push and {
				encrypted = sealed_push.encrypted, iv = sealed_push.iv, json = sealed_push.json,
				priority = sealed_push.priority, voip = sealed_push.voip,
			} or json.null,
			opened = opt(opened),
			sealed_length = plaintext and lib.sealed_base64_length(#plaintext) or json.null,
		};
	end
	return { results = array(results) };
end

-- build_push (+ serialize) for stanzas, to compare with src/omemo's buildPush.
function ops.build(request)
	local lib = load_lib();
	local results = {};
	for i, case in ipairs(request.cases) do
		local device;
		if case.deviceId ~= nil and case.deviceId ~= json.null then
			device = { device_id = case.deviceId, recipient = case.recipient };
		end
		local stanza = parse(case.stanza);
		if request.stream then as_from_stream(stanza, false); end
		local built, err = lib.build_push(stanza, {
			unread = case.unread, omemo_device = device,
			placeholder = case.placeholder ~= json.null and case.placeholder or nil,
		});
		results[i] = {
			json = built and lib.serialize(built.plaintext) or json.null,
			priority = built and built.priority or json.null,
			error = error_of(err),
		};
	end
	return { results = array(results) };
end

-- fit + serialize for plaintexts, to compare with src/omemo's fitPushPlaintext.
function ops.fit(request)
	local lib = load_lib();
	local results = {};
	for i, case in ipairs(request.cases) do
		local fitted, err = lib.fit(plaintext_from(case.plaintext), case.maxSize);
		results[i] = {
			json = fitted and lib.serialize(fitted) or json.null,
			error = error_of(err),
		};
	end
	return { results = array(results) };
end

-- serialize alone, to compare with src/omemo's serializePushPlaintext (JSON.stringify).
function ops.serialize(request)
	local lib = load_lib();
	local results = {};
	for i, case in ipairs(request.cases) do results[i] = lib.serialize(plaintext_from(case)); end
	return { results = array(results) };
end

-- parse_enable for <enable/> elements, to compare with src/omemo's parseEnable.
function ops.enable(request)
	local lib = load_lib();
	local results = {};
	for i, text in ipairs(request.cases) do
		local asked, err = lib.parse_enable(parse(text));
		local encryption = asked and asked.encryption;
		results[i] = {
			encryption = encryption and {
				algorithm = encryption.algorithm, key = hex(encryption.key), max_size = opt(encryption.max_size),
			} or json.null,
			omemo_device_id = asked and opt(asked.omemo_device_id) or json.null,
			error = error_of(err),
		};
	end
	return { results = array(results) };
end

-- parse_device_id, parse_jid and trim, to compare with src/omemo and src/xmpp.
function ops.text(request)
	local lib = load_lib();
	local device_ids, jids, trims = {}, {}, {};
	for i, text in ipairs(request.deviceIds) do device_ids[i] = opt(lib.parse_device_id(text)); end
	for i, text in ipairs(request.jids) do
		local jid = lib.parse_jid(text);
		jids[i] = jid and { localpart = opt(jid.localpart), domain = jid.domain, resource = opt(jid.resource) }
			or json.null;
	end
	for i, text in ipairs(request.trims) do trims[i] = lib.trim(text); end
	return { deviceIds = array(device_ids), jids = array(jids), trims = array(trims) };
end

-- The module itself, loaded as Prosody loads it (module:require, module:hook, the module's
-- environment) into a stand-in of Prosody's module API, then driven through the events
-- mod_cloud_notify fires. request: options (module options), modulesEnabled, iv (hex: what
-- util.random.bytes gives; the test-only IV hook), steps (see below).
function ops.module(request)
	local hooks, logs, depends = {}, {}, {};
	local options = request.options or {};
	local fixed_iv = request.iv and unhex(request.iv);
	local fake_random = {
		bytes = function (n)
			if fixed_iv then
				assert(n == #fixed_iv, "IV length");
				return fixed_iv;
			end
			return require "util.random".bytes(n);
		end,
	};
	local env;
	local function fake_require(name)
		if name == "util.random" then return fake_random; end
		return require(name);
	end
	local set = require "util.set";
	local fake_module = {
		host = request.host or "localhost",
		name = "push_encrypt_omemo",
	};
	function fake_module:require(lib) -- luacheck: ignore 212/self
		assert(lib == "push_encrypt_omemo", "unexpected module:require " .. lib);
		return load_lib(env);
	end
	function fake_module:depends(name) depends[#depends + 1] = name; end -- luacheck: ignore 212/self
	function fake_module:hook(event, handler, priority) -- luacheck: ignore 212/self
		hooks[event] = hooks[event] or {};
		table.insert(hooks[event], { handler = handler, priority = priority or 0 });
	end
	function fake_module:log(level, format, ...) -- luacheck: ignore 212/self
		logs[#logs + 1] = level .. " " .. string.format(format, ...);
	end
	function fake_module:get_option_string(name, default) -- luacheck: ignore 212/self
		local value = options[name];
		if value == nil then return default; end
		return tostring(value);
	end
	function fake_module:get_option_boolean(name, default) -- luacheck: ignore 212/self
		local value = options[name];
		if value == nil then return default; end
		return value == true;
	end
	function fake_module:get_option_inherited_set(name) -- luacheck: ignore 212/self
		assert(name == "modules_enabled");
		local list = {};
		for i, item in ipairs(request.modulesEnabled or {}) do list[i] = item; end
		return set.new(list);
	end
	env = setmetatable({ module = fake_module, require = fake_require }, { __index = _G });
	assert(loadfile(MODULE_PATH, "t", env))();

	-- util.events semantics: higher priority first; the first non-nil return value is the result.
	local function fire(event_name, data)
		local handlers = {};
		for i, entry in ipairs(hooks[event_name] or {}) do handlers[i] = entry; end
		table.sort(handlers, function (a, b) return a.priority > b.priority; end);
		for _, entry in ipairs(handlers) do
			local ret = entry.handler(data);
			if ret ~= nil then return ret; end
		end
		return nil;
	end

	local dataform = require "util.dataforms".new;
	-- mod_cloud_notify's summary form and publish, as handle_notify_request builds them.
	local push_form = dataform {
		{ name = "FORM_TYPE"; type = "hidden"; value = "urn:xmpp:push:summary"; };
		{ name = "message-count"; type = "text-single"; };
		{ name = "pending-subscription-count"; type = "text-single"; };
		{ name = "last-message-sender"; type = "jid-single"; };
		{ name = "last-message-body"; type = "text-single"; };
	};

	local answers = {};
	local registrations = {};
	for i, step in ipairs(request.steps) do
		if step.disco then
			local reply = st.stanza("query", { xmlns = "http://jabber.org/protocol/disco#info" });
			fire("account-disco-info", { origin = {}, reply = reply });
			local features = {};
			for feature in reply:childtags("feature") do features[#features + 1] = feature.attr.var; end
			answers[i] = { features = array(features) };
		elseif step.enable then
			local sent = {};
			local push_info = { jid = "push.localhost", node = "NODE" };
			local origin = {
				username = "juliet", host = fake_module.host,
				send = function (stanza) sent[#sent + 1] = stanza; end,
				log = function (level, format, ...) logs[#logs + 1] = level .. " " .. string.format(format, ...); end,
			};
			local result = fire("cloud_notify/registration", {
				origin = origin, stanza = parse(step.enable), push_info = push_info,
			});
			registrations[step.name or i] = push_info;
			local reply = sent[1];
			local error_type, condition, text;
			if reply then error_type, condition, text = reply:get_error(); end
			answers[i] = {
				result = result == nil and json.null or result,
				sent = #sent,
				error = reply and { type = error_type, condition = condition, text = opt(text) } or json.null,
				settings = push_info.encrypt_omemo and {
					algorithm = push_info.encrypt_omemo.algorithm,
					key = push_info.encrypt_omemo.key,
					max_size = opt(push_info.encrypt_omemo.max_size),
					omemo_device_id = opt(push_info.encrypt_omemo.omemo_device_id),
				} or json.null,
			};
		elseif step.push then
			local push_info = assert(registrations[step.registration], "no registration " .. tostring(step.registration));
			local original = step.push ~= "" and parse(step.push) or nil;
			local form_data = { ["message-count"] = "1" };
			if step.summaryBody ~= nil and step.summaryBody ~= json.null then
				form_data["last-message-body"] = step.summaryBody;
			end
			local payload = st.stanza("notification", { xmlns = "urn:xmpp:push:0" });
			payload:add_child(push_form:form(form_data));
			local publish = st.iq({ to = "push.localhost", from = "localhost", type = "set", id = "push-id" })
				:tag("pubsub", { xmlns = "http://jabber.org/protocol/pubsub" })
					:tag("publish", { node = push_info.node })
						:tag("item")
							:add_child(payload)
						:up()
					:up();
			local event = {
				notification_stanza = publish, notification_payload = payload, original_stanza = original,
				username = "juliet", push_info = push_info, push_summary = form_data,
				important = not not form_data["last-message-body"],
			};
			local blocked = fire("cloud_notify/push", event);
			answers[i] = {
				blocked = blocked == nil and json.null or blocked,
				notification = tostring(payload),
				important = event.important,
			};
		end
	end
	local hooked = {};
	for event_name, entries in pairs(hooks) do
		for _, entry in ipairs(entries) do hooked[#hooked + 1] = event_name .. "@" .. entry.priority; end
	end
	table.sort(hooked);
	return { answers = array(answers), logs = array(logs), depends = array(depends), hooks = array(hooked) };
end

local request = json.decode(io.read("a"));
local op = assert(ops[request.op], "unknown op " .. tostring(request.op));
io.write(json.encode(op(request)));
