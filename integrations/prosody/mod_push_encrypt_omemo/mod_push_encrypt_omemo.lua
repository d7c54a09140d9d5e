-- mod_push_encrypt_omemo: encrypted pushes with the OMEMO extension for Prosody 0.12 + mod_cloud_notify.
--
-- Part of the XMPP push gateway project (integrations/prosody/README.md says how to install and
-- configure it; docs/protocol.md section 7 is the format). Written for Debian's Prosody 0.12 (Lua 5.4)
-- and its prosody-modules snapshot, whose mod_cloud_notify fires the two events used here:
--   cloud_notify/registration  { origin, stanza, push_info }: false refuses the <enable/> (the error
--                              is ours to send); what we put into push_info is stored with the
--                              registration;
--   cloud_notify/push          { notification_stanza, notification_payload, original_stanza,
--                              username, push_info, push_summary, important }: we rewrite the
--                              <notification/> before it is sent.
--
-- What it does:
--   * advertises tigase:push:encrypt:0, tigase:push:encrypt:aes-128-gcm and
--     tigase:push:encrypt:omemo:0 on the user's bare JID (account disco#info);
--   * accepts <encrypt xmlns='tigase:push:encrypt:0' alg='aes-128-gcm' [max-size]>KEY</encrypt> and
--     <omemo xmlns='tigase:push:encrypt:omemo:0' deviceId='N'/> in <enable/>; refuses a bad alg, key,
--     max-size or device id, and <omemo/> without <encrypt/>, with modify/bad-request;
--   * for such a registration, replaces the summary form with
--     <encrypted xmlns='tigase:push:encrypt:0' [type='voip'] iv='…'>…</encrypted> (AES-128-GCM with a
--     real tag) and <priority xmlns='tigase:push:priority:0'>high|low</priority>: high for what the
--     user sees, low for what is invisible (key transport, receipts, markers, chat states);
--   * for a registration without <encrypt/>, makes mod_cloud_notify's summary tell OMEMO messages of
--     every version (eu.siacs.conversations.axolotl, urn:xmpp:omemo:1, urn:xmpp:omemo:2) with a
--     payload as important and key transport as not.
-- It never falls back to clear text: a push it cannot seal (a stanza that is neither a message nor a
-- subscription request, a max-size too small) goes out with a summary form holding only the
-- message count.

local st = require "util.stanza";
local dataforms = require "util.dataforms";
local jid_join = require "util.jid".join;
local random_bytes = require "util.random".bytes;

local lib = module:require("push_encrypt_omemo");
local NS = lib.NS;

module:depends("cloud_notify");

-- Where the settings of an encrypted registration live in mod_cloud_notify's push_info (stored with
-- the registration in the cloud_notify store).
local SETTINGS = "encrypt_omemo";

-- These write their own <encrypted/> or <priority/> into the same <notification/>: one writer only.
local CONFLICTING_MODULES = { "cloud_notify_encrypted", "cloud_notify_priority_tag", "cloud_notify_extensions" };

local placeholder = module:get_option_string("push_encrypt_omemo_placeholder", lib.DEFAULT_PLACEHOLDER);
-- mod_cloud_notify's own options, read the same way it reads them.
local include_body = module:get_option_boolean("push_notification_with_body", false);
local dummy_body = module:get_option_string("push_notification_important_body", "New Message!");

-- mod_cloud_notify's summary form (the same fields in the same order).
local push_form = dataforms.new {
	{ name = "FORM_TYPE"; type = "hidden"; value = "urn:xmpp:push:summary"; };
	{ name = "message-count"; type = "text-single"; };
	{ name = "pending-subscription-count"; type = "text-single"; };
	{ name = "last-message-sender"; type = "jid-single"; };
	{ name = "last-message-body"; type = "text-single"; };
};

do
	local enabled = module:get_option_inherited_set("modules_enabled", {});
	for _, name in ipairs(CONFLICTING_MODULES) do
		if enabled:contains(name) then
			module:log("error", "mod_%s is enabled too: it writes into the same <notification/>;"
				.. " disable it, mod_push_encrypt_omemo already encrypts and sets the priority", name);
		end
	end
end

-- https://xeps.tigase.net/docs/push-notifications/encrypt/#41-discovering-support
module:hook("account-disco-info", function (event)
	local reply = event.reply or event.stanza;
	for _, feature in ipairs(lib.FEATURES) do
		reply:tag("feature", { var = feature }):up();
	end
end);

module:hook("cloud_notify/registration", function (event)
	local origin, stanza = event.origin, event.stanza;
	local enable = stanza:get_child("enable", NS.push);
	if not enable then return; end
	local asked, err = lib.parse_enable(enable);
	if not asked then
		origin.log("debug", "Refusing push enable: %s", err.reason);
		origin.send(st.error_reply(stanza, "modify", "bad-request", err.reason));
		return false;
	end
	local encryption = asked.encryption;
	if not encryption then return; end
	event.push_info[SETTINGS] = {
		algorithm = encryption.algorithm;
		key = lib.encode_base64(encryption.key);
		max_size = encryption.max_size;
		omemo_device_id = asked.omemo_device_id;
	};
	origin.log("debug", "Push enable with encryption (%s, OMEMO device: %s)", encryption.algorithm,
		asked.omemo_device_id and "yes" or "no");
end);

-- Replaces whatever <notification/> holds with a summary form of the message count only and, when
-- given, the priority.
local function publish_content_free(event, priority)
	local payload = event.notification_payload;
	payload:remove_children("x", NS.data_forms);
	payload:add_child(push_form:form({ ["message-count"] = event.push_summary["message-count"] }));
	if priority then
		payload:tag("priority", { xmlns = NS.priority }):text(priority):up();
	end
end

local function encrypted_push(event, settings)
	local stanza = event.original_stanza;
	if not stanza then
		-- A push without a stanza (the cloud-notify-ping event of other modules): nothing to seal.
		publish_content_free(event, "low");
		return;
	end
	local key = lib.decode_base64(settings.key or "");
	if settings.algorithm ~= "aes-128-gcm" or not key or #key ~= lib.AES_128_KEY_BYTES then
		module:log("error", "Stored push encryption settings of %s are unusable; pushing without content",
			tostring(event.username));
		publish_content_free(event, nil);
		return;
	end
	local omemo_device;
	if settings.omemo_device_id then
		omemo_device = { device_id = settings.omemo_device_id, recipient = jid_join(event.username, module.host) };
	end
	local unread = tonumber(event.push_summary["message-count"]) or 1;
	local sealed, err = lib.seal_push(stanza, {
		key = key, max_size = settings.max_size, omemo_device = omemo_device, placeholder = placeholder,
	}, unread, random_bytes(lib.GCM_IV_BYTES));
	if not sealed then
		module:log("debug", "Push for %s not sealed (%s); pushing without content", tostring(event.username),
			err.reason);
		local built = err.kind == "max-size-too-small" and lib.build_push(stanza, { unread = unread });
		publish_content_free(event, built and built.priority or "low");
		return;
	end
	local payload = event.notification_payload;
	payload:remove_children("x", NS.data_forms);
	payload:tag("encrypted", { xmlns = NS.encrypt, type = sealed.voip and "voip" or nil, iv = sealed.iv })
		:text(sealed.encrypted):up();
	payload:tag("priority", { xmlns = NS.priority }):text(sealed.priority):up();
	module:log("debug", "Sealed %s push for %s (%s, %s omemo object, %d bytes)", sealed.priority,
		tostring(event.username), sealed.plaintext.type, sealed.plaintext.omemo and "with" or "no", #sealed.encrypted);
end

-- Debian's mod_cloud_notify calls only eu.siacs.conversations.axolotl (and urn:xmpp:omemo:0) messages
-- important, key transport included: set or clear its dummy body for OMEMO messages of every version
-- as the builder's priority says. Left alone with push_notification_with_body (then the form carries
-- the real body, not the dummy).
local function fix_summary_importance(event)
	local stanza = event.original_stanza;
	if include_body or not dummy_body or not stanza or stanza.name ~= "message" then return; end
	if #lib.omemo_encrypted_elements(stanza) == 0 then return; end
	local built = lib.build_push(stanza, { unread = 1 });
	if not built then return; end
	local important = built.priority == "high";
	local summary = event.push_summary;
	if important == (summary["last-message-body"] ~= nil) then return; end
	summary["last-message-body"] = important and dummy_body or nil;
	event.important = important;
	local payload = event.notification_payload;
	payload:remove_children("x", NS.data_forms);
	payload:add_child(push_form:form(summary));
	module:log("debug", "OMEMO message for %s: push made %s", tostring(event.username),
		important and "important" or "unimportant");
end

-- Runs after handlers of the default priority (filters that may block the push).
module:hook("cloud_notify/push", function (event)
	local settings = event.push_info and event.push_info[SETTINGS];
	if settings then
		encrypted_push(event, settings);
	else
		fix_summary_importance(event);
	end
end, -1);
