// The gateway's edge: nginx's part of a call through /x/{member}/{system}/{service}/... (njs 0.7).
//
// nginx routes, limits, proxies and logs; this module answers what nginx cannot: who calls (the
// access token, a JWT signed HS256 by the city's OpenID provider: hcmgov.identity.provider.
// exchange_tokens), whether the caller may (the registry's rights, per method and path prefix),
// the request id and the end user passed on, the SHA-256 of both bodies, the refusals as RFC 9457
// problem documents (Vietnamese unless the caller asks for English), and the fields of the message-log
// line (nginx's log_format) that the control plane (hcmgov.exchange.edge) chains and stores.
//
// REG is the registry the control plane writes (registry.json, js_preload_object): the keys by
// the token header each signs under (heads), the consumers, services, messages. Each request runs in its own copy of this module, so the
// module-level `seen` holds one request's verdict, computed once for the several variables that
// read it.

var crypto = require('crypto');
var fs = require('fs');

var REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
var END_USER = /^[\w.@:+-]{1,200}$/;
var EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

var seen = null;
var responseHash = null;
var responseBytes = 0;

function fromJson(text) {
    try {
        return JSON.parse(text);
    } catch (e) {
        return null;
    }
}

function sameText(a, b) {
    // in a time that does not depend on where two signatures differ
    if (a.length !== b.length) {
        return false;
    }
    var diff = 0;
    for (var i = 0; i < a.length; i++) {
        diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return diff === 0;
}

// The client a bearer token was issued to, or a refusal code.
function caller(r) {
    var header = r.headersIn['Authorization'];
    if (!header) {
        return {code: 'exchange_unauthenticated'};
    }
    var space = header.indexOf(' ');
    var scheme = space < 0 ? header : header.slice(0, space);
    var token = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme.toLowerCase() !== 'bearer' || !token) {
        return {code: 'exchange_unauthenticated'};
    }
    var parts = token.split('.');
    if (parts.length !== 3) {
        return {code: 'exchange_unknown_client'};
    }
    // the provider writes one header per key ({"alg":"HS256","typ":"at+jwt","kid":...}): the
    // header as sent names the key, with nothing to decode
    var key = REG.heads[parts[0]];
    if (key === undefined) {
        return {code: 'exchange_unknown_client'};
    }
    var mac = crypto.createHmac('sha256', key).update(parts[0] + '.' + parts[1]).digest('base64url');
    if (!sameText(mac, parts[2])) {
        return {code: 'exchange_unknown_client'};
    }
    var claims = fromJson(Buffer.from(parts[1], 'base64url').toString());
    if (!claims || claims.aud !== REG.audience || typeof claims.scope !== 'string' ||
        claims.scope.split(' ').indexOf(REG.audience) < 0 || !(claims.exp * 1000 > Date.now())) {
        return {code: 'exchange_unknown_client'};
    }
    var consumer = REG.consumers[claims.client_id];
    if (consumer === undefined) {
        return {code: 'exchange_unknown_client'};
    }
    if (consumer.cert && certificate(r) !== consumer.cert) {
        // bound to its TLS client certificate (RFC 8705): the token alone is not enough
        return {code: 'exchange_certificate_required', client: claims.client_id, consumer: consumer};
    }
    return {code: '', client: claims.client_id, consumer: consumer};
}

// The SHA-256 (hex) of the client certificate nginx verified for this connection, or "".
function certificate(r) {
    if (r.variables.ssl_client_verify !== 'SUCCESS') {
        return '';
    }
    var pem = r.variables.ssl_client_raw_cert || '';
    var body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    return body ? crypto.createHash('sha256').update(Buffer.from(body, 'base64')).digest('hex') : '';
}

function allowed(rights, method, path) {
    if (!rights) {
        return false;
    }
    for (var i = 0; i < rights.length; i++) {
        // ",GET,HEAD," or "" for every method (a string: arrays of js_preload_object lack their methods in njs 0.7)
        var methods = rights[i][0];
        if ((methods === '' || methods.indexOf(',' + method + ',') >= 0) && path.startsWith(rights[i][1])) {
            return true;
        }
    }
    return false;
}

// The service of the location (before nginx's rewrite phase, as when a body is refused for its
// size, $gw_service is not set yet: then the longest path the URI starts with)
function serviceOf(r) {
    var id = r.variables.gw_service;
    if (id) {
        return REG.services[id];
    }
    var best = null;
    var ids = Object.keys(REG.services);
    for (var i = 0; i < ids.length; i++) {
        var s = REG.services[ids[i]];
        if (r.uri.startsWith('/x/' + s.path) && (best === null || s.path.length > best.path.length)) {
            best = s;
            id = ids[i];
        }
    }
    if (best !== null) {
        r.variables.gw_service = id;
    }
    return best;
}

// Everything about this call the variables read: computed once per request.
function verdict(r) {
    if (seen !== null) {
        return seen;
    }
    var v = {code: '', detail: '', rid: '', client: '', consumer: '', endUser: '', service: '', rest: '', cls: ''};
    seen = v;
    var rid = r.headersIn['X-Request-Id'];
    if (rid !== undefined) {
        if (!REQUEST_ID.test(rid)) {
            v.code = 'exchange_bad_header';
            v.detail = 'X-Request-Id';
            return v;
        }
        v.rid = rid;
    } else {
        v.rid = r.variables.request_id;
    }
    var service = serviceOf(r);
    v.service = service.path;
    // the location matched the service's path as a prefix: what follows must start a new segment
    var raw = r.variables.request_uri.slice(3 + service.path.length);
    if (raw !== '' && raw[0] !== '/' && raw[0] !== '?') {
        v.code = 'exchange_unknown_service';
        v.service = '';
    }
    v.rest = raw;
    var who = caller(r);
    if (who.code) {
        v.code = v.code || who.code;
        v.client = who.client || '';
        v.consumer = who.consumer ? who.consumer.name : '';
        return v;
    }
    v.client = who.client;
    v.consumer = who.consumer.name;
    var user = r.headersIn['X-Hcmgov-End-User'];
    if (user !== undefined) {
        if (!END_USER.test(user)) {
            v.code = v.code || 'exchange_bad_header';
            v.detail = v.detail || 'X-Hcmgov-End-User';
            return v;
        }
        v.endUser = user;
    }
    if (v.code) {
        return v;
    }
    var path = r.uri.slice(3 + service.path.length) || '/';
    if (!allowed(service.rights[who.client], r.method, path)) {
        v.code = 'exchange_no_right';
        return v;
    }
    if (who.consumer.over) {
        v.code = 'exchange_daily_quota';
        return v;
    }
    var length = r.headersIn['Content-Length'];
    if (length !== undefined && !/^[0-9]{1,15}$/.test(length)) {
        v.code = 'exchange_bad_header';
        v.detail = 'Content-Length';
        return v;
    }
    v.cls = who.consumer.cls;
    return v;
}

function code(r) {
    return verdict(r).code;
}

function requestId(r) {
    return verdict(r).rid;
}

function consumer(r) {
    return verdict(r).consumer;
}

function endUser(r) {
    return verdict(r).endUser;
}

// "class:client": the key of the rate limit zone of the caller's class (see the maps of nginx.conf)
function limitKey(r) {
    var v = verdict(r);
    return v.code ? '' : v.cls + ':' + v.client;
}

// The provider's path: its base and the caller's rest of the path and query, byte for byte.
function target(r) {
    var v = verdict(r);
    var out = serviceOf(r).base + v.rest;
    return out === '' || out[0] === '?' ? '/' + out : out;
}

// The answer's body, counted and hashed as it passes (js_body_filter, buffer_type=buffer).
function hashBody(r, data, flags) {
    if (responseHash === null) {
        responseHash = crypto.createHash('sha256');
    }
    if (data.length) {
        responseHash.update(data);
        responseBytes += data.length;
    }
    if (flags.last) {
        r.variables.gw_response_sha = responseHash.digest('hex');
        r.variables.gw_response_bytes = String(responseBytes);
    }
    r.sendBuffer(data, flags);
}

function requestBody(r) {
    if (r.variables.gw_error) {
        return undefined;  // refused: nothing was passed on
    }
    try {
        var body = r.requestBuffer;
        if (body !== undefined) {
            return body;
        }
    } catch (e) {
        // "request body is in a file": read it there
    }
    var file = r.variables.request_body_file;
    if (!file) {
        return undefined;
    }
    try {
        return fs.readFileSync(file);
    } catch (e) {
        return null;  // there, but unreadable: the log says so ("" for its hash), never a wrong hash
    }
}

function english(r) {
    var lang = r.headersIn['Accept-Language'];
    return lang !== undefined && lang.trim().toLowerCase().startsWith('en');
}

function refusalCode(r) {
    var v = verdict(r);
    if (v.code) {
        return v.code;
    }
    var status = Number(r.variables.gw_failed || r.variables.status);
    if (status === 413) {
        return 'exchange_body_too_large';
    }
    if (status === 429) {
        return 'exchange_rate_limited';
    }
    if (status === 504) {
        return 'exchange_provider_timeout';
    }
    if (status === 502 || status === 503) {
        // no live server left in the service's upstream: its breaker is open (the address nginx
        // names is then the upstream's own name, not a host and port)
        var tried = (r.variables.upstream_addr || '').split(', ');
        return tried[tried.length - 1].indexOf('gw_s') === 0 ? 'exchange_circuit_open' : 'exchange_provider_down';
    }
    if (status === 400) {
        return 'exchange_bad_header';
    }
    return 'exchange_provider_down';
}

function secondsToMidnight() {
    var vn = Date.now() + 7 * 3600 * 1000;  // Vietnam's day (UTC+7, no summer time)
    return Math.max(1, Math.ceil((86400000 - vn % 86400000) / 1000));
}

// The refusal (error_page → @refused): a problem document with the stable code.
function refused(r) {
    var v = verdict(r);
    var which = refusalCode(r);
    var message = REG.messages[which];
    var en = english(r);
    var text = en ? message[2] : message[1];
    var body = JSON.stringify({
        type: 'https://dichvucong.hochiminhcity.gov.vn/problems/' + which,
        title: text,
        status: message[0],
        detail: (v.code ? v.detail : '') || text,
        code: which,
        instance: r.uri,
        request_id: v.rid
    });
    r.variables.gw_error = which;
    var bytes = Buffer.from(body);
    r.variables.gw_response_sha = crypto.createHash('sha256').update(bytes).digest('hex');
    r.variables.gw_response_bytes = String(bytes.length);
    r.headersOut['Content-Type'] = 'application/problem+json';
    r.headersOut['Content-Language'] = en ? 'en' : 'vi';
    if (v.rid) {
        r.headersOut['X-Request-Id'] = v.rid;
    }
    if (message[0] === 401) {
        r.headersOut['WWW-Authenticate'] = 'Bearer realm="hcmgov-exchange"';
    }
    if (which === 'exchange_rate_limited') {
        r.headersOut['Retry-After'] = '1';
    } else if (which === 'exchange_daily_quota') {
        r.headersOut['Retry-After'] = String(secondsToMidnight());
    }
    r.return(message[0], body);
}

function client(r) {
    return verdict(r).client;
}

function servicePath(r) {
    return verdict(r).service;
}

// The request body as passed on, hashed in the log phase ("" and the empty hash when there is none).
function requestHash(r) {
    var v = verdict(r);
    if (v.requestSha === undefined) {
        var body = (r.variables.content_length || r.variables.http_transfer_encoding) ? requestBody(r) : undefined;
        v.requestBytes = body ? body.length : 0;
        v.requestSha = body === undefined ? EMPTY_SHA : body === null ? '' :
            crypto.createHash('sha256').update(body).digest('hex');
    }
    return v.requestSha;
}

function requestBytes(r) {
    requestHash(r);
    return String(verdict(r).requestBytes);
}

export default {
    code, requestId, client, consumer, servicePath, endUser, limitKey, target, hashBody, refused, requestHash,
    requestBytes, certificate
};
