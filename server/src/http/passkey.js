// Passkeys on Portcullis's pages and in its widget: runs the browser's WebAuthn ceremony for
// a form that asks for one, fills the form's hidden fields with the answer, and submits it.
// The server checks everything; without this script (or WebAuthn) the passkey controls stay
// hidden and every other way of signing in works as before.
//
//   <form data-passkey="create" data-passkey-options="{…}">  attestation, client_data
//   <form data-passkey="get" data-passkey-options="{…}">     client_data, authenticator_data,
//                                                             signature_data, credential_id
//   <button data-passkey="sign-in" data-passkey-start="…/api/v1/authn/passkey"> in a form with
//     passkey_token, client_data, authenticator_data, signature_data, credential_id, user_handle
//   An input with autocomplete="username webauthn" in such a form also offers passkeys as
//   autofill (conditional mediation).
(function () {
  "use strict";
  if (window.PortcullisPasskeys) return;
  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  function bin(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); });
  }
  function str(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }
  function set(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (input) input.value = value || "";
  }
  function options(form) {
    return JSON.parse(form.getAttribute("data-passkey-options") || "{}");
  }
  function creation(o) {
    o.challenge = bin(o.challenge);
    o.user = Object.assign({}, o.user, { id: bin(o.user.id) });
    o.excludeCredentials = (o.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: bin(c.id) });
    });
    return o;
  }
  function request(o) {
    o.challenge = bin(o.challenge);
    o.allowCredentials = (o.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: bin(c.id) });
    });
    return o;
  }
  function fillAssertion(form, cred) {
    var r = cred.response;
    set(form, "credential_id", str(cred.rawId));
    set(form, "client_data", str(r.clientDataJSON));
    set(form, "authenticator_data", str(r.authenticatorData));
    set(form, "signature_data", str(r.signature));
    set(form, "user_handle", r.userHandle ? str(r.userHandle) : "");
  }
  function failed(form, error) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) {
      box.hidden = false;
    }
    if (window.console) console.warn("passkey ceremony failed", error);
  }
  function send(form) {
    form.setAttribute("data-passkey-done", "1");
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  // Step forms: the ceremony runs when the form is submitted, before the form goes. (Submit
  // events stay inside a shadow root: the widget attaches its own.)
  function onSubmit(ev) {
    var form = ev.target;
    var kind = form && form.getAttribute && form.getAttribute("data-passkey");
    if (kind !== "create" && kind !== "get") return;
    if (form.getAttribute("data-passkey-done")) {
      form.removeAttribute("data-passkey-done");
      return;
    }
    ev.preventDefault();
    ev.stopImmediatePropagation();
    if (!supported) return failed(form, "WebAuthn is not available");
    var o = options(form);
    var ceremony = kind === "create"
      ? navigator.credentials.create({ publicKey: creation(o) }).then(function (cred) {
          set(form, "attestation", str(cred.response.attestationObject));
          set(form, "client_data", str(cred.response.clientDataJSON));
        })
      : navigator.credentials.get({ publicKey: request(o) }).then(function (cred) {
          fillAssertion(form, cred);
        });
    ceremony.then(function () { send(form); }, function (e) { failed(form, e); });
  }
  function attach(root) {
    if (root.__portcullisPasskeys) return;
    root.__portcullisPasskeys = true;
    root.addEventListener("submit", onSubmit, true);
    if (root !== document) watch(root);
  }
  window.PortcullisPasskeys = { attach: attach };
  attach(document);

  // Passkey sign-in: a fresh challenge from the server, then the browser's answer.
  var pending = null;
  function signIn(button, conditional) {
    var form = button.form;
    if (pending) { pending.abort(); pending = null; }
    var abort = window.AbortController ? new AbortController() : null;
    pending = abort;
    return fetch(button.getAttribute("data-passkey-start"), {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    }).then(function (r) {
      if (!r.ok) throw new Error("challenge refused: " + r.status);
      return r.json();
    }).then(function (start) {
      var get = { publicKey: request(start.publicKey) };
      if (abort) get.signal = abort.signal;
      if (conditional) get.mediation = "conditional";
      return navigator.credentials.get(get).then(function (cred) {
        pending = null;
        set(form, "passkey_token", start.stateToken);
        fillAssertion(form, cred);
        form.setAttribute("data-passkey-done", "1");
        // The widget's form (novalidate) takes it as a submit event; the page's form goes as a
        // plain post (its username and password stay empty), answered with the next page.
        if (form.noValidate && form.requestSubmit) form.requestSubmit(); else form.submit();
      });
    }).catch(function (e) {
      if (!conditional && (!e || e.name !== "AbortError")) failed(form, e);
    });
  }
  function wire(root) {
    if (!supported) return;
    var buttons = root.querySelectorAll('[data-passkey="sign-in"]');
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      if (b.getAttribute("data-passkey-wired")) continue;
      b.setAttribute("data-passkey-wired", "1");
      b.hidden = false;
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        signIn(ev.currentTarget, false);
      });
      var autofill = b.form && b.form.querySelector('input[autocomplete~="webauthn"]');
      if (autofill && PublicKeyCredential.isConditionalMediationAvailable) {
        (function (button) {
          PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
            if (ok) signIn(button, true);
          });
        })(b);
      }
    }
  }
  function watch(root) {
    wire(root);
    // The widget renders its views later: wire what appears.
    if (window.MutationObserver) {
      new MutationObserver(function () { wire(root); }).observe(root, { childList: true, subtree: true });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(document); });
  } else {
    watch(document);
  }
})();
