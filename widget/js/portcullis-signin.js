/*! Portcullis sign-in widget loader. Load it with one script tag from the Portcullis server:
 *    <script src="https://id.example.com/widget/v1/portcullis-signin.js"></script>
 *  then: new PortcullisSignIn({ baseUrl }).renderEl({ el: '#signin' }, onSuccess, onError)
 *  (or `new OktaSignIn(…)`: a page written for Okta's widget changes only its script tag)
 *  The WASM bundle and stylesheet are fetched from beside this script, once, on first render. */
(function () {
  'use strict';
  var script = document.currentScript;
  var assetBase = new URL('.', script && script.src ? script.src : location.href).href;
  var loading = null;

  function loadBundle() {
    if (!loading) {
      loading = import(assetBase + 'portcullis_widget.js').then(function (mod) {
        return mod.default({ module_or_path: assetBase + 'portcullis_widget_bg.wasm' }).then(function () {
          return mod;
        });
      });
      loading.catch(function () { loading = null; });
    }
    return loading;
  }

  function serializable(config) {
    var out = {};
    Object.keys(config).forEach(function (k) {
      if (typeof config[k] !== 'function') out[k] = config[k];
    });
    return JSON.stringify(out);
  }

  function PortcullisSignIn(config) {
    if (!(this instanceof PortcullisSignIn)) throw new TypeError('use `new PortcullisSignIn(config)`');
    if (!config || typeof config.baseUrl !== 'string') {
      throw new Error('PortcullisSignIn: `baseUrl` is required');
    }
    this.config = config;
    this._handle = null;
    this._listeners = {};
  }

  /** Okta's events: `ready`, `afterRender` ({controller}) and `afterError` (context, error). */
  PortcullisSignIn.prototype.on = function (event, callback) {
    (this._listeners[event] = this._listeners[event] || []).push(callback);
  };

  PortcullisSignIn.prototype.off = function (event, callback) {
    if (!event) { this._listeners = {}; return; }
    if (!callback) { delete this._listeners[event]; return; }
    this._listeners[event] = (this._listeners[event] || []).filter(function (c) { return c !== callback; });
  };

  PortcullisSignIn.prototype._emit = function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    (this._listeners[event] || []).forEach(function (c) {
      try { c.apply(null, args); } catch (e) { console.error(e); }
    });
  };

  /**
   * The widget lives in a shadow root on `el`: the host page's styles cannot reach in and ours
   * cannot leak out. Hosts theme it with the --pc-* custom properties on `el`.
   */
  function shadowMount(el) {
    var root = el.shadowRoot || el.attachShadow({ mode: 'open' });
    while (root.firstChild) root.removeChild(root.firstChild);
    var link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = assetBase + 'portcullis-signin.css';
    root.appendChild(link);
    var mount = document.createElement('div');
    root.appendChild(mount);
    return mount;
  }

  /** The passkey script (from the Portcullis server), attached to the widget's shadow root:
   *  it runs the WebAuthn ceremony of a step form that asks for one. */
  var passkeys = null;
  function passkeyScript(baseUrl) {
    if (!window.PublicKeyCredential) return Promise.resolve();
    passkeys = passkeys || new Promise(function (resolve) {
      if (window.PortcullisPasskeys) return resolve();
      var tag = document.createElement('script');
      tag.src = baseUrl.replace(/\/$/, '') + '/signin/passkey.js';
      tag.onload = resolve;
      // Without it the widget still works; only passkeys do not.
      tag.onerror = function (e) { console.warn('PortcullisSignIn: passkeys unavailable', e); resolve(); };
      document.head.appendChild(tag);
    });
    return passkeys;
  }

  PortcullisSignIn.prototype.renderEl = function (options, success, error) {
    var self = this;
    var onError = typeof error === 'function' ? error : function (e) { console.error(e); };
    var el = options && options.el;
    if (typeof el === 'string') el = document.querySelector(el);
    if (!el) {
      onError(new Error('PortcullisSignIn: element not found: ' + (options && options.el)));
      return Promise.resolve();
    }
    // The passkey script is there before the first form can be submitted.
    return Promise.all([loadBundle(), passkeyScript(self.config.baseUrl)]).then(function (loaded) {
      var mod = loaded[0];
      self.remove();
      var baseUrl = self.config.baseUrl;
      self._el = el;
      var target = shadowMount(el);
      if (window.PortcullisPasskeys) window.PortcullisPasskeys.attach(el.shadowRoot);
      self._handle = mod.mount(target, serializable(self.config), function (res) {
        res.session.setCookieAndRedirect = function (redirectUrl) {
          window.location.assign(baseUrl.replace(/\/$/, '') + '/login/sessionCookieRedirect?token=' +
            encodeURIComponent(res.session.token) + '&redirectUrl=' + encodeURIComponent(redirectUrl));
        };
        if (typeof success === 'function') success(res);
      }, onError, function (name, context, detail) {
        if (name === 'idpButton') {
          idpRedirect(self.config, context.id);
          return;
        }
        if (name === 'customButton') {
          var button = (self.config.customButtons || [])[context.index];
          if (button && typeof button.click === 'function') button.click();
          return;
        }
        self._emit(name, context, detail);
      });
      self._emit('ready', { controller: 'primary-auth' });
      self._emit('afterRender', { controller: 'primary-auth' });
    }).catch(onError);
  };

  // ---- Tokens: PKCE code flow in a hidden iframe (okta_post_message), verified with WebCrypto.

  function b64url(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function b64urlDecode(text) {
    var s = text.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function randomString(bytes) {
    return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
  }

  function sha256(text) {
    return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then(function (d) {
      return b64url(new Uint8Array(d));
    });
  }

  /** Okta's convention: an issuer with /oauth2/ in it is a custom server ({issuer}/v1/…); the
   *  org server's endpoints are {issuer}/oauth2/v1/…. */
  function endpoint(issuer, name) {
    return /\/oauth2\//.test(issuer + '/') ? issuer + '/v1/' + name : issuer + '/oauth2/v1/' + name;
  }

  function issuerOf(config) {
    var auth = config.authParams || {};
    return (auth.issuer || config.issuer || config.baseUrl).replace(/\/$/, '');
  }

  function oauthError(code, description) {
    var e = new Error(description || code);
    e.name = 'OAuthError';
    e.errorCode = code;
    return e;
  }

  /** Waits for the authorize response posted by the issuer's page, for this `state` only. */
  function waitForMessage(origin, state, timeoutMs) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { done(); reject(oauthError('timeout', 'OAuth flow timed out')); }, timeoutMs);
      function listener(e) {
        if (e.origin !== origin || !e.data || e.data.state !== state) return;
        done();
        if (e.data.error) reject(oauthError(e.data.error, e.data.error_description));
        else resolve(e.data);
      }
      function done() { clearTimeout(timer); window.removeEventListener('message', listener); }
      window.addEventListener('message', listener);
    });
  }

  /** Checks an ID token: signature by a key of the issuer's JWKS, iss, aud, nonce, expiry. */
  function verifyIdToken(idToken, issuer, clientId, nonce) {
    var parts = idToken.split('.');
    var header = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[0])));
    var claims = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[1])));
    if (header.alg !== 'RS256') return Promise.reject(oauthError('invalid_token', 'unexpected signing algorithm'));
    return fetch(endpoint(issuer, 'keys')).then(function (r) { return r.json(); }).then(function (jwks) {
      var jwk = (jwks.keys || []).filter(function (k) { return k.kid === header.kid; })[0];
      if (!jwk) throw oauthError('invalid_token', 'unknown signing key');
      return crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', ext: true },
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    }).then(function (key) {
      return crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, b64urlDecode(parts[2]),
        new TextEncoder().encode(parts[0] + '.' + parts[1]));
    }).then(function (valid) {
      var now = Date.now() / 1000;
      if (!valid) throw oauthError('invalid_token', 'the ID token signature does not verify');
      if (claims.iss !== issuer) throw oauthError('invalid_token', 'the ID token was issued by someone else');
      if (claims.aud !== clientId) throw oauthError('invalid_token', 'the ID token is for another client');
      if (claims.nonce !== nonce) throw oauthError('invalid_token', 'the ID token nonce does not match');
      if (claims.exp < now - 300) throw oauthError('invalid_token', 'the ID token has expired');
      return { idToken: idToken, claims: claims };
    });
  }

  /**
   * Exchanges a one-time session token for tokens without showing anything: a hidden iframe to
   * /authorize (prompt=none, okta_post_message, PKCE S256), then the code at /token (CORS).
   */
  function getTokens(config, sessionToken, scopes) {
    var issuer = issuerOf(config);
    var clientId = config.clientId;
    var redirectUri = config.redirectUri || (location.origin + location.pathname);
    if (!clientId) return Promise.reject(new Error('PortcullisSignIn: `clientId` is required to get tokens'));
    var state = randomString(16);
    var nonce = randomString(16);
    var verifier = randomString(48);
    var origin = new URL(issuer).origin;
    return sha256(verifier).then(function (challenge) {
      var params = new URLSearchParams({
        client_id: clientId, redirect_uri: redirectUri, response_type: 'code',
        response_mode: 'okta_post_message', prompt: 'none', scope: scopes.join(' '),
        state: state, nonce: nonce, code_challenge: challenge, code_challenge_method: 'S256',
      });
      if (sessionToken) params.set('sessionToken', sessionToken);
      var waiting = waitForMessage(origin, state, config.oAuthTimeout || 120000);
      var frame = document.createElement('iframe');
      frame.style.display = 'none';
      frame.src = endpoint(issuer, 'authorize') + '?' + params.toString();
      document.body.appendChild(frame);
      return waiting.finally(function () { frame.remove(); });
    }).then(function (res) {
      return fetch(endpoint(issuer, 'token'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code: res.code,
          redirect_uri: redirectUri, code_verifier: verifier }),
      });
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw oauthError(body.error, body.error_description);
        return body;
      });
    }).then(function (body) {
      return verifyIdToken(body.id_token, issuer, clientId, nonce).then(function (id) {
        var tokens = {
          idToken: { idToken: id.idToken, claims: id.claims, issuer: issuer, clientId: clientId },
          accessToken: { accessToken: body.access_token, tokenType: body.token_type,
            expiresAt: Math.floor(Date.now() / 1000) + body.expires_in, scopes: (body.scope || '').split(' ') },
        };
        if (body.refresh_token) tokens.refreshToken = { refreshToken: body.refresh_token };
        return tokens;
      });
    });
  }

  /** Shows the widget and resolves with verified tokens once the person has signed in. */
  PortcullisSignIn.prototype.showSignInToGetTokens = function (options) {
    var self = this;
    options = options || {};
    var auth = this.config.authParams || {};
    var scopes = options.scopes || auth.scopes || ['openid', 'email'];
    return new Promise(function (resolve, reject) {
      self.renderEl({ el: options.el || self.config.el }, function (res) {
        getTokens(self.config, res.session.token, scopes).then(resolve, reject);
      }, reject);
    });
  };

  /** Sends the browser through the issuer's /authorize to `redirectUri` (code flow, PKCE S256),
   *  with `extra` parameters (the session token, or an identity provider). The verifier, state
   *  and nonce wait in sessionStorage (`portcullis-transaction`) for the page there. */
  function authorizeRedirect(config, extra) {
    var auth = config.authParams || {};
    var verifier = randomString(48);
    var state = auth.state || randomString(16);
    var nonce = auth.nonce || randomString(16);
    return sha256(verifier).then(function (challenge) {
      var issuer = issuerOf(config);
      sessionStorage.setItem('portcullis-transaction', JSON.stringify({
        issuer: issuer, clientId: config.clientId, redirectUri: config.redirectUri,
        codeVerifier: verifier, state: state, nonce: nonce,
      }));
      var params = new URLSearchParams({
        client_id: config.clientId, redirect_uri: config.redirectUri,
        response_type: auth.responseType || 'code', scope: (auth.scopes || ['openid', 'email']).join(' '),
        state: state, nonce: nonce, code_challenge: challenge, code_challenge_method: 'S256',
      });
      Object.keys(extra).forEach(function (k) { params.set(k, extra[k]); });
      if (auth.responseMode) params.set('response_mode', auth.responseMode);
      window.location.assign(endpoint(issuer, 'authorize') + '?' + params.toString());
    });
  }

  /**
   * Shows the widget; once the person has signed in, the browser goes through the issuer's
   * /authorize (code flow with PKCE S256, the session token authenticating it) to `redirectUri`.
   * The PKCE verifier, state and nonce are kept in sessionStorage (`portcullis-transaction`)
   * for the page at `redirectUri` to finish the exchange.
   */
  PortcullisSignIn.prototype.showSignInAndRedirect = function (options) {
    var self = this;
    options = options || {};
    var config = this.config;
    return new Promise(function (resolve, reject) {
      if (!config.clientId || !config.redirectUri) {
        reject(new Error('PortcullisSignIn: `clientId` and `redirectUri` are required to redirect'));
        return;
      }
      self.renderEl({ el: options.el || config.el }, function (res) {
        authorizeRedirect(config, { sessionToken: res.session.token }).then(resolve, reject);
      }, reject);
    });
  };

  /**
   * An identity provider's button: with an OIDC client, through the issuer's /authorize with
   * `idp` (code flow with PKCE, finished at `redirectUri` as after showSignInAndRedirect);
   * without one, to `{baseUrl}/sso/idps/{id}`, as Okta's widget does.
   */
  function idpRedirect(config, id) {
    if (!config.clientId || !config.redirectUri) {
      window.location.assign(config.baseUrl.replace(/\/$/, '') + '/sso/idps/' + encodeURIComponent(id));
      return;
    }
    authorizeRedirect(config, { idp: id });
  }

  /** Renews tokens silently with the browser's session (when third-party cookies reach it). */
  PortcullisSignIn.prototype.getWithoutPrompt = function (options) {
    var auth = this.config.authParams || {};
    return getTokens(this.config, null, (options && options.scopes) || auth.scopes || ['openid', 'email']);
  };

  /**
   * Renews with a refresh token (public clients rotate it: use the new one from the result).
   * Works where browsers block third-party cookies, which hidden-iframe renewal needs.
   */
  PortcullisSignIn.prototype.renewTokens = function (refreshToken) {
    var config = this.config;
    var issuer = issuerOf(config);
    return fetch(endpoint(issuer, 'token'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'application/json' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: config.clientId,
        refresh_token: refreshToken.refreshToken || refreshToken }),
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw oauthError(body.error, body.error_description);
        var tokens = {
          accessToken: { accessToken: body.access_token, tokenType: body.token_type,
            expiresAt: Math.floor(Date.now() / 1000) + body.expires_in, scopes: (body.scope || '').split(' ') },
        };
        if (body.refresh_token) tokens.refreshToken = { refreshToken: body.refresh_token };
        if (body.id_token) tokens.idToken = { idToken: body.id_token };
        return tokens;
      });
    });
  };

  /**
   * Keeps `tokens` fresh: renews them `leewaySeconds` (default 30) before the access token
   * expires — with the refresh token when there is one (it rotates), else silently in a hidden
   * iframe — then schedules the next renewal. `onRenewed(tokens)` and the `renewed` event get
   * each new set; `onError(error)` and the `error` event a failure (renewal then stops).
   * Returns a function that stops it.
   */
  PortcullisSignIn.prototype.autoRenew = function (tokens, options) {
    var self = this;
    options = options || {};
    var leeway = options.leewaySeconds == null ? 30 : options.leewaySeconds;
    var current = tokens;
    var timer = null;
    var stopped = false;
    function schedule() {
      if (stopped) return;
      var wait = Math.max(0, (current.accessToken.expiresAt - leeway) * 1000 - Date.now());
      if (!isFinite(wait)) {
        var e = new Error('PortcullisSignIn: the access token has no expiry to renew before');
        self._emit('error', e);
        if (typeof options.onError === 'function') options.onError(e);
        return;
      }
      // Never sooner than a second after the last renewal, whatever the clocks say.
      timer = setTimeout(renew, Math.max(wait, 1000));
    }
    function renew() {
      var renewing = current.refreshToken ? self.renewTokens(current.refreshToken) : self.getWithoutPrompt();
      renewing.then(function (fresh) {
        if (stopped) return;
        current = Object.assign({}, current, fresh);
        self._emit('renewed', current);
        if (typeof options.onRenewed === 'function') options.onRenewed(current);
        schedule();
      }, function (e) {
        self._emit('error', e);
        if (typeof options.onError === 'function') options.onError(e);
      });
    }
    schedule();
    return function stop() { stopped = true; clearTimeout(timer); };
  };

  PortcullisSignIn.prototype.remove = function () {
    if (this._handle) {
      this._handle.unmount();
      this._handle.free();
      this._handle = null;
    }
    if (this._el && this._el.shadowRoot) {
      var root = this._el.shadowRoot;
      while (root.firstChild) root.removeChild(root.firstChild);
    }
  };

  /** Hides the rendered widget (it keeps its state) and shows it again. */
  PortcullisSignIn.prototype.hide = function () {
    if (this._el) this._el.hidden = true;
  };

  PortcullisSignIn.prototype.show = function () {
    if (this._el) this._el.hidden = false;
  };

  window.PortcullisSignIn = PortcullisSignIn;
  // A drop-in for pages written for Okta's Sign-In Widget: the same constructor, options and
  // callbacks under Okta's name, unless Okta's own widget is on the page too.
  if (!window.OktaSignIn) window.OktaSignIn = PortcullisSignIn;
})();
