-- luacheck configuration for integrations/prosody (Debian's lua-check; test/unit/prosody-module/luacheck.test.ts
-- runs it from the repository root: luacheck --config integrations/prosody/.luacheckrc ...).
std = "lua54"
max_line_length = 120

-- A Prosody module runs in an environment whose `module` is its API object (core/moduleapi.lua).
files["**/mod_push_encrypt_omemo.lua"] = { read_globals = { "module" } }
