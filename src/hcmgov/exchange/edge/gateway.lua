-- The gateway's edge: nginx's part of a call through /x/{member}/{system}/{service}/...
-- (lua-nginx-module on LuaJIT: Debian's libnginx-mod-http-lua; docs/decisions/0029).
--
-- nginx routes, limits, proxies and logs; this module answers what nginx cannot: who calls (the
-- access token, a JWT signed HS256 by the city's OpenID provider: hcmgov.identity.provider.
-- exchange_tokens), whether the caller may (the registry's rights, per method and path prefix),
-- whether the caller has calls left today (a counter per system and day shared by the workers),
-- the request id and the end user passed on, the SHA-256 of both bodies (OpenSSL through LuaJIT's
-- FFI), the refusals as RFC 9457 problem documents (Vietnamese unless the caller asks for
-- English), and the message-log record, linked onto the worker's chain, that the access log writes
-- and the control plane (hcmgov.exchange.edge) stores.
--
-- REG is the registry the control plane writes (registry.json, read once per configuration by
-- init_by_lua: a reload reads it again): the keys by the token header each signs under (heads),
-- the consumers, services, messages.
--
-- The phases of a call: check() in the location's rewrite phase (before limit_req, which reads the
-- rate-limit key it sets), response_body() as a body filter, log() in the log phase, which
-- lua-nginx-module runs before the access log writes the line.
--
-- The message log's chain is made here: each worker keeps a chain of its own (node: the control
-- plane's name, the worker's pid and the moment it started; seq from 1 without gaps; each record's
-- hash over the one before and the record's canonical JSON, as hcmgov.exchange.logchain.
-- record_hash computes it again from the stored row). The line nginx writes is the record as a row
-- of PostgreSQL's COPY text format, hash included: the control plane checks its shape and copies
-- it (docs/decisions/0031). A token once verified is
-- kept by the worker until it expires (keyed by the whole token, signature included): clients
-- call with the same token for its lifetime, and its HMAC and claims need not be computed again.

local ffi = require "ffi"
local bit = require "bit"
local cjson = require "cjson.safe"
local b64 = require "ngx.base64"
local lrucache = require "resty.lrucache"

local ngx = ngx
local ngx_var = ngx.var
local ngx_now = ngx.now
local ngx_time = ngx.time
local byte = string.byte
local sub = string.sub
local find = string.find
local lower = string.lower
local band, bor, bxor, rshift = bit.band, bit.bor, bit.bxor, bit.rshift
local decode_base64url = b64.decode_base64url
local encode_base64url = b64.encode_base64url

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
typedef struct SHA256state_st {
    unsigned int h[8];
    unsigned int Nl, Nh;
    unsigned int data[16];
    unsigned int num, md_len;
} SHA256_CTX;
int SHA256_Init(SHA256_CTX *c);
int SHA256_Update(SHA256_CTX *c, const void *data, size_t len);
int SHA256_Final(unsigned char *md, SHA256_CTX *c);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
]]

local C = ffi.C
local SHA256_CTX = ffi.typeof("SHA256_CTX")
local md_buf = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")
local hex_buf = ffi.new("char[64]")
local HEX = ffi.new("const char[16]", "0123456789abcdef")
local VN_OFFSET = 7 * 3600 -- Vietnam's day (UTC+7, no summer time)
local PROBLEMS = "https://dichvucong.hochiminhcity.gov.vn/problems/"

local _M = {}
local GENESIS = string.rep("0", 64)
local EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
local floor = math.floor
local gsub = string.gsub
local concat = table.concat
local REG = nil
local quota = ngx.shared.gw_quota
local tokens = nil -- token -> {client, consumer, exp}: per worker (made in the worker, see verified)

local function hex(md)
    for i = 0, 31 do
        local b = md[i]
        hex_buf[2 * i] = HEX[rshift(b, 4)]
        hex_buf[2 * i + 1] = HEX[band(b, 15)]
    end
    return ffi.string(hex_buf, 64)
end

local function sha256_hex(data)
    C.SHA256(data, #data, md_buf)
    return hex(md_buf)
end

-- --- the message log's record -------------------------------------------------------------------

-- A byte that is not printable ASCII, or is '"' or '\': such a text needs the careful path.
local UNSAFE = "[^\32\33\35-\91%]\94-\126]" -- (%]: "]" itself, which would end the set)
-- Python's json (ensure_ascii=False) escapes these and only these: '"', '\' and the control
-- characters (\n \r \t \b \f short, the others \u00xx in lower case); DEL and non-ASCII as they are.
local JSON_ESC = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                  ["\b"] = "\\b", ["\f"] = "\\f"}
for b = 1, 31 do
    local c = string.char(b)
    if JSON_ESC[c] == nil then
        JSON_ESC[c] = string.format("\\u%04x", b)
    end
end
-- PostgreSQL's COPY text format: these four, backslash-escaped; nothing else.
local COPY_ESC = {["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r"}
local REPLACEMENT = "\239\191\189" -- U+FFFD

-- The text as valid UTF-8: a NUL (PostgreSQL's text holds none) and each byte that does not begin
-- a well-formed sequence (overlong forms and surrogates included) become U+FFFD.
local function utf8_clean(s)
    if not find(s, "[%z\128-\255]") then
        return s
    end
    local out, k, i, start, n = {}, 0, 1, 1, #s
    while i <= n do
        local c = byte(s, i)
        local len
        if c == 0 then
            len = -1
        elseif c < 0x80 then
            len = 1
        elseif c >= 0xC2 and c <= 0xDF then
            len = 2
        elseif c >= 0xE0 and c <= 0xEF then
            len = 3
        elseif c >= 0xF0 and c <= 0xF4 then
            len = 4
        else
            len = -1
        end
        if len > 1 then
            local lo, hi = 0x80, 0xBF
            if c == 0xE0 then
                lo = 0xA0
            elseif c == 0xED then
                hi = 0x9F
            elseif c == 0xF0 then
                lo = 0x90
            elseif c == 0xF4 then
                hi = 0x8F
            end
            local c2 = byte(s, i + 1)
            if c2 == nil or c2 < lo or c2 > hi then
                len = -1
            else
                for j = 2, len - 1 do
                    local cj = byte(s, i + j)
                    if cj == nil or cj < 0x80 or cj > 0xBF then
                        len = -1
                        break
                    end
                end
            end
        end
        if len == -1 then
            out[k + 1] = sub(s, start, i - 1)
            out[k + 2] = REPLACEMENT
            k = k + 2
            i = i + 1
            start = i
        else
            i = i + len
        end
    end
    out[k + 1] = sub(s, start)
    return concat(out)
end

-- At most max characters of a valid UTF-8 text (the column's length: PostgreSQL counts characters).
local function clip(s, max)
    local chars = 0
    for i = 1, #s do
        local b = byte(s, i)
        if b < 0x80 or b >= 0xC0 then
            chars = chars + 1
            if chars > max then
                return sub(s, 1, i - 1)
            end
        end
    end
    return s
end

-- A text field as it goes in the canonical JSON (inside its quotes) and in the COPY row.
local function field(s, max)
    if s == nil then
        return "", ""
    end
    if not find(s, UNSAFE) then
        if #s > max then
            s = sub(s, 1, max)
        end
        return s, s
    end
    s = utf8_clean(s)
    if #s > max then
        s = clip(s, max)
    end
    return (gsub(s, '[\1-\31"\\]', JSON_ESC)), (gsub(s, "[\\\t\n\r]", COPY_ESC))
end
_M.field = field

local function digits(s)
    -- a count as nginx or this module wrote it ("" or nil: 0)
    if s == nil or s == "" or find(s, "[^0-9]") then
        return "0"
    end
    return s
end

local at_second, at_base = -1, ""
local function at_text(now)
    -- an instant (seconds since the epoch, to the millisecond) as the canonical JSON holds it
    local second = floor(now)
    if second ~= at_second then
        at_second = second
        at_base = os.date("!%Y-%m-%dT%H:%M:%S", second)
    end
    local ms = floor((now - second) * 1000 + 0.5)
    if ms > 999 then
        ms = 999
    end
    return at_base .. string.format(".%03d000Z", ms)
end
_M.at_text = at_text

-- The next record of chain c ({node, seq, last}) as a COPY row (without its newline): the columns
-- of hcmgov.exchange.gateway.logwriter.COLUMNS; the hash over c.last and the canonical JSON of
-- hcmgov.exchange.logchain.HASHED. Text fields go through field() (valid UTF-8, clipped to the
-- column's length in exchange.models.MessageLogRecord, escaped for each); ms is a whole number of milliseconds.
local function row(c, at, rid, client, consumer, service, method, path, end_user, status, err, ms,
                   req_b, resp_b, req_sha, resp_sha)
    local jr, cr = field(rid, 64)
    local jc, cc = field(client, 100)
    local jn, cn = field(consumer, 140)
    local js, cs = field(service, 220)
    local jm, cm = field(method, 10)
    local jp, cp = field(path, 2000)
    local ju, cu = field(end_user, 200)
    local je, ce = field(err, 40)
    local jq, cq = field(req_sha, 64)
    local jh, ch = field(resp_sha ~= "" and resp_sha or EMPTY_SHA256, 64)
    status, req_b, resp_b = digits(status), digits(req_b), digits(resp_b)
    local seq = c.seq + 1
    local canonical = '["' .. c.node_json .. '",' .. seq .. ',"' .. at .. '","' .. jr .. '","' .. jc .. '","'
        .. jn .. '","' .. js .. '","' .. jm .. '","' .. jp .. '","' .. ju .. '",' .. status .. ',"' .. je
        .. '",' .. ms .. '.0,' .. req_b .. ',' .. resp_b .. ',"' .. jq .. '","' .. jh .. '",""]'
    local prev = c.last
    local hash = sha256_hex(prev .. "\n" .. canonical)
    c.seq, c.last = seq, hash
    return c.node_copy .. "\t" .. seq .. "\t" .. at .. "\t" .. cr .. "\t" .. cc .. "\t" .. cn .. "\t" .. cs
        .. "\t" .. cm .. "\t" .. cp .. "\t" .. cu .. "\t" .. status .. "\t" .. ce .. "\t" .. ms .. ".0\t"
        .. req_b .. "\t" .. resp_b .. "\t" .. cq .. "\t" .. ch .. "\t\\N\t" .. prev .. "\t" .. hash
end
_M.row = row

function _M.chain(node)
    local j, c = field(node, 100)
    return {node_json = j, node_copy = c, seq = 0, last = GENESIS}
end

local chain = nil -- this worker's (made on its first call)

-- The registry, once per configuration (init_by_lua: the master reads it, the workers inherit it).
function _M.load(path, used_path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    REG = assert(cjson.decode(text), "registry.json: not JSON")
    -- the calls of the day the message log already holds: counted from there, unless this nginx
    -- counted them itself already (a reload keeps the shared counters, which are ahead)
    local day = REG.quota_day
    for client, n in pairs(REG.quota_used or {}) do
        quota:add(day .. ":" .. client, n, 2 * 86400)
    end
end

local function same_text(a, b)
    -- in a time that does not depend on where two signatures differ
    if #a ~= #b then
        return false
    end
    local diff = 0
    for i = 1, #a do
        diff = bor(diff, bxor(byte(a, i), byte(b, i)))
    end
    return diff == 0
end

local function hmac_sha256(key, data)
    C.HMAC(C.EVP_sha256(), key, #key, data, #data, md_buf, md_len)
    return ffi.string(md_buf, 32)
end

local function has_word(words, word)
    -- a space-separated list holding word
    local from = 1
    while true do
        local s, e = find(words, word, from, true)
        if s == nil then
            return false
        end
        if (s == 1 or byte(words, s - 1) == 32) and (e == #words or byte(words, e + 1) == 32) then
            return true
        end
        from = e + 1
    end
end

-- The verified claims of a token (client id, expiry), or nil: computed once per token and worker.
local function verified(token)
    if tokens == nil then
        tokens = lrucache.new(20000)
    end
    local known = tokens:get(token)
    if known ~= nil then
        return known
    end
    local dot1 = find(token, ".", 1, true)
    local dot2 = dot1 and find(token, ".", dot1 + 1, true)
    if dot2 == nil or find(token, ".", dot2 + 1, true) then
        return nil
    end
    -- the provider writes one header per key ({"alg":"HS256","typ":"at+jwt","kid":...}): the
    -- header as sent names the key, with nothing to decode
    local key = REG.heads[sub(token, 1, dot1 - 1)]
    if key == nil then
        return nil
    end
    local mac = encode_base64url(hmac_sha256(key, sub(token, 1, dot2 - 1)))
    if not same_text(mac, sub(token, dot2 + 1)) then
        return nil
    end
    local payload = decode_base64url(sub(token, dot1 + 1, dot2 - 1))
    local claims = payload and cjson.decode(payload)
    if type(claims) ~= "table" or claims.aud ~= REG.audience or type(claims.scope) ~= "string"
        or not has_word(claims.scope, REG.audience) or type(claims.exp) ~= "number"
        or type(claims.client_id) ~= "string" then
        return nil
    end
    known = {client = claims.client_id, exp = claims.exp}
    -- kept until it expires (a token of an unknown client too: the consumer is looked up each call)
    local ttl = claims.exp - ngx_now()
    if ttl > 0 then
        tokens:set(token, known, ttl)
    end
    return known
end

-- The SHA-256 (hex) of the client certificate nginx verified for this connection, or "".
local function certificate()
    if ngx_var.ssl_client_verify ~= "SUCCESS" then
        return ""
    end
    local pem = ngx_var.ssl_client_raw_cert or ""
    local body = pem:gsub("%-%-%-%-%-[A-Z ]+%-%-%-%-%-", ""):gsub("%s+", "")
    local der = body ~= "" and ngx.decode_base64(body)
    return der and sha256_hex(der) or ""
end
_M.certificate = certificate

-- The client a bearer token was issued to, or a refusal code.
local function caller()
    local header = ngx_var.http_authorization
    if header == nil then
        return "exchange_unauthenticated"
    end
    local s, e = find(header, "^%s*[Bb][Ee][Aa][Rr][Ee][Rr] +")
    if s == nil then
        return "exchange_unauthenticated"
    end
    local last = #header -- without the spaces that may end the header (a pattern would be quadratic)
    while last > e do
        local c = byte(header, last)
        if c ~= 32 and c ~= 9 then
            break
        end
        last = last - 1
    end
    local token = sub(header, e + 1, last)
    if token == "" then
        return "exchange_unauthenticated"
    end
    local claims = verified(token)
    if claims == nil or not (claims.exp > ngx_now()) then
        return "exchange_unknown_client"
    end
    local consumer = REG.consumers[claims.client]
    if consumer == nil then
        return "exchange_unknown_client"
    end
    if consumer.cert ~= "" and certificate() ~= consumer.cert then
        -- bound to its TLS client certificate (RFC 8705): the token alone is not enough
        return "exchange_certificate_required", claims.client, consumer
    end
    return "", claims.client, consumer
end

local function allowed(rights, method, path)
    if rights == nil then
        return false
    end
    for i = 1, #rights do
        local right = rights[i]
        -- ",GET,HEAD," or "" for every method
        local methods = right[1]
        if (methods == "" or find(methods, "," .. method .. ",", 1, true))
            and sub(path, 1, #right[2]) == right[2] then
            return true
        end
    end
    return false
end

-- The service of the location (before nginx's rewrite phase, as when a body is refused for its
-- size, $gw_service is not set yet: then the longest path the URI starts with)
local function service_of()
    local id = ngx_var.gw_service
    if id ~= nil and id ~= "" then
        return REG.services[id], id
    end
    local uri = ngx_var.uri
    local best, best_id = nil, nil
    for sid, s in pairs(REG.services) do
        local prefix = "/x/" .. s.path
        if sub(uri, 1, #prefix) == prefix and (best == nil or #s.path > #best.path) then
            best, best_id = s, sid
        end
    end
    return best, best_id
end

local function day_number()
    return math.floor((ngx_time() + VN_OFFSET) / 86400)
end

-- Everything about this call: who, what, and the refusal code ("" when it may go on).
local function verdict()
    local v = {code = "", detail = "", rid = "", client = "", consumer = "", end_user = "", service = "",
               rest = "", cls = "", consumer_entry = nil, service_entry = nil}
    local rid = ngx_var.http_x_request_id
    if rid ~= nil then
        if #rid > 64 or find(rid, "[^A-Za-z0-9._:-]") or rid == "" then
            v.code, v.detail = "exchange_bad_header", "X-Request-Id"
            return v
        end
        v.rid = rid
    else
        v.rid = ngx_var.request_id
    end
    local service = service_of()
    if service == nil then
        v.code = "exchange_unknown_service"
        return v
    end
    v.service_entry = service
    v.service = service.path
    -- the location matched the service's path as a prefix: what follows must start a new segment
    local raw = sub(ngx_var.request_uri, 4 + #service.path)
    local first = byte(raw, 1)
    if first ~= nil and first ~= 47 and first ~= 63 then -- "/" or "?"
        v.code = "exchange_unknown_service"
        v.service = ""
    end
    v.rest = raw
    local code, client, consumer = caller()
    if code ~= "" then
        v.code = v.code ~= "" and v.code or code
        v.client = client or ""
        v.consumer = consumer and consumer.name or ""
        return v
    end
    v.client = client
    v.consumer = consumer.name
    v.consumer_entry = consumer
    local user = ngx_var.http_x_hcmgov_end_user
    if user ~= nil then
        if user == "" or #user > 200 or find(user, "[^%w_.@:+-]") then
            if v.code == "" then
                v.code, v.detail = "exchange_bad_header", "X-Hcmgov-End-User"
            end
            return v
        end
        v.end_user = user
    end
    if v.code ~= "" then
        return v
    end
    local path = sub(ngx_var.uri, 4 + #service.path)
    if path == "" then
        path = "/"
    end
    if not allowed(service.rights[client], ngx_var.request_method, path) then
        v.code = "exchange_no_right"
        return v
    end
    if consumer.over then
        v.code = "exchange_daily_quota"
        return v
    end
    local length = ngx_var.http_content_length
    if length ~= nil and (#length > 15 or find(length, "[^0-9]") or length == "") then
        v.code, v.detail = "exchange_bad_header", "Content-Length"
        return v
    end
    v.cls = consumer.cls
    return v
end

local function english()
    local lang = ngx_var.http_accept_language
    return lang ~= nil and lower(sub(lang:match("^%s*(.*)$"), 1, 2)) == "en"
end

local function seconds_to_midnight()
    local vn = ngx_now() + VN_OFFSET
    return math.max(1, math.ceil(86400 - vn % 86400))
end

-- The refusal: a problem document with the stable code, sent from here.
local function problem(v, which)
    local message = REG.messages[which]
    local en = english()
    local text = en and message[3] or message[2]
    local body = cjson.encode({
        type = PROBLEMS .. which,
        title = text,
        status = message[1],
        detail = (v.code ~= "" and v.detail ~= "") and v.detail or text,
        code = which,
        instance = ngx_var.uri,
        request_id = v.rid,
    })
    -- what the log phase records (ngx.ctx: this location's, to the end of the call)
    v.code = which
    v.response_sha, v.response_bytes = sha256_hex(body), #body
    ngx.ctx.gw = v
    ngx_var.gw_request_id = v.rid
    ngx_var.gw_consumer = v.consumer
    ngx.status = message[1]
    local h = ngx.header
    h["Content-Type"] = "application/problem+json"
    h["Content-Language"] = en and "en" or "vi"
    if v.rid ~= "" then
        h["X-Request-Id"] = v.rid
    end
    if message[1] == 401 then
        h["WWW-Authenticate"] = 'Bearer realm="hcmgov-exchange"'
    end
    if which == "exchange_rate_limited" then
        h["Retry-After"] = "1"
    elseif which == "exchange_daily_quota" then
        h["Retry-After"] = tostring(seconds_to_midnight())
    end
    ngx.print(body)
    return ngx.exit(message[1])
end

-- The rewrite phase of a service's location: refuse, or set what the rest of the call reads.
function _M.check()
    local v = verdict()
    if v.code ~= "" then
        return problem(v, v.code)
    end
    local consumer = v.consumer_entry
    if consumer.quota > 0 then
        -- counted here, shared by the workers; a call the rate limit then refuses is given back
        local n = quota:incr(day_number() .. ":" .. v.client, 1, 0, 2 * 86400)
        if n ~= nil and n > consumer.quota then
            quota:incr(day_number() .. ":" .. v.client, -1)
            return problem(v, "exchange_daily_quota")
        end
    end
    local var = ngx_var
    ngx.ctx.gw = v -- what the body filter and the log phase read (nginx's variables: what nginx reads)
    var.gw_request_id = v.rid
    var.gw_consumer = v.consumer
    var.gw_limit_key = v.cls .. ":" .. v.client
    -- the provider's path: its base and the caller's rest of the path and query, byte for byte
    local target = v.service_entry.base .. v.rest
    local first = byte(target, 1)
    if first == nil or first == 63 then
        target = "/" .. target
    end
    var.gw_target = target
end

-- The refusals nginx makes itself (error_page → @refused_<status>): the same problem documents.
function _M.refused(status)
    local v = verdict()
    local which = v.code
    if which == "" then
        if status == 413 then
            which = "exchange_body_too_large"
        elseif status == 429 then
            which = "exchange_rate_limited"
            local consumer = v.consumer_entry
            if consumer and consumer.quota > 0 then
                quota:incr(day_number() .. ":" .. v.client, -1) -- a refused call takes nothing of the quota
            end
        elseif status == 504 then
            which = "exchange_provider_timeout"
        elseif status == 502 or status == 503 then
            -- no live server left in the service's upstream: its breaker is open (the address nginx
            -- names is then the upstream's own name, not a host and port)
            local tried = ngx_var.upstream_addr or ""
            local last = tried:match("([^ ,]+)$") or ""
            which = sub(last, 1, 4) == "gw_s" and "exchange_circuit_open" or "exchange_provider_down"
        elseif status == 400 then
            which = "exchange_bad_header"
        else
            which = "exchange_provider_down"
        end
    end
    return problem(v, which)
end

-- The answer's body, counted and hashed as it passes (body_filter_by_lua).
function _M.response_body()
    local chunk, eof = ngx.arg[1], ngx.arg[2]
    local ctx = ngx.ctx
    local v = ctx.gw
    if v == nil or v.code ~= "" then
        return -- a refusal of ours: hashed when it was written
    end
    local state = ctx.sha
    if state == nil then
        if eof then -- the whole body at once
            v.response_sha, v.response_bytes = sha256_hex(chunk), #chunk
            return
        end
        state = SHA256_CTX()
        C.SHA256_Init(state)
        ctx.sha = state
        ctx.bytes = 0
    end
    if #chunk > 0 then
        C.SHA256_Update(state, chunk, #chunk)
        ctx.bytes = ctx.bytes + #chunk
    end
    if eof then
        C.SHA256_Final(md_buf, state)
        v.response_sha, v.response_bytes = hex(md_buf), ctx.bytes
    end
end

-- The request body as passed on: its SHA-256 and its size (the empty body's when there is none;
-- "" for the hash when it was there but could not be read back: never a wrong hash).
local function request_body(v)
    if v.code ~= "" or ngx_var.http_content_length == nil and ngx_var.http_transfer_encoding == nil then
        return EMPTY_SHA256, 0 -- nothing passed on
    end
    local body = ngx.req.get_body_data()
    if body ~= nil then
        return sha256_hex(body), #body
    end
    local file = ngx_var.request_body_file
    if file == nil or file == "" then
        return EMPTY_SHA256, 0
    end
    local f = io.open(file, "rb")
    if f == nil then
        return "", 0
    end
    local state = SHA256_CTX()
    C.SHA256_Init(state)
    local n = 0
    while true do
        local block = f:read(1048576)
        if block == nil then
            break
        end
        C.SHA256_Update(state, block, #block)
        n = n + #block
    end
    f:close()
    C.SHA256_Final(md_buf, state)
    return hex(md_buf), n
end

-- What is known of a call no check of ours saw (nginx refused it before the rewrite phase, in a
-- way error_page does not send to @refused_*): the record says so with empty fields.
local UNSEEN = {code = "", rid = "", client = "", consumer = "", service = "", end_user = ""}

-- The log phase: the call's record, the line the access log writes ($gw_line).
function _M.log()
    local v = ngx.ctx.gw or UNSEEN
    local req_sha, req_bytes = request_body(v)
    if chain == nil then
        chain = _M.chain(REG.node .. ":" .. ngx.worker.pid() .. ":" .. string.format("%x", floor(ngx_now() * 1000)))
    end
    local now = ngx_now()
    ngx_var.gw_line = row(chain, at_text(now), v.rid, v.client, v.consumer, v.service, ngx.req.get_method(),
        ngx_var.uri, v.end_user, tostring(ngx.status), v.code, floor((now - ngx.req.start_time()) * 1000 + 0.5),
        tostring(req_bytes), tostring(v.response_bytes or 0), req_sha, v.response_sha or "")
end

return _M
