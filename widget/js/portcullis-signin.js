/*! Portcullis sign-in widget loader. Load it with one script tag from the Portcullis server:
 *    <script src="https://id.example.com/widget/v1/portcullis-signin.js"></script>
 *  then: new PortcullisSignIn({ baseUrl }).renderEl({ el: '#signin' }, onSuccess, onError)
 *  The WASM bundle and stylesheet are fetched from beside this script, once, on first render. */
(function () {
  'use strict';
  var script = document.currentScript;
  var assetBase = new URL('.', script && script.src ? script.src : location.href).href;
  var loading = null;

  function loadBundle() {
    if (!loading) {
      if (!document.querySelector('link[data-portcullis-widget-css]')) {
        var link = document.createElement('link');
        link.rel = 'stylesheet';
        link.href = assetBase + 'portcullis-signin.css';
        link.setAttribute('data-portcullis-widget-css', '');
        document.head.appendChild(link);
      }
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
    return loadBundle().then(function (mod) {
      self.remove();
      var baseUrl = self.config.baseUrl;
      self._handle = mod.mount(el, serializable(self.config), function (res) {
        res.session.setCookieAndRedirect = function (redirectUrl) {
          window.location.assign(baseUrl.replace(/\/$/, '') + '/login/sessionCookieRedirect?token=' +
            encodeURIComponent(res.session.token) + '&redirectUrl=' + encodeURIComponent(redirectUrl));
        };
        if (typeof success === 'function') success(res);
      }, onError);
    }).catch(onError);
  };

  PortcullisSignIn.prototype.remove = function () {
    if (this._handle) {
      this._handle.unmount();
      this._handle.free();
      this._handle = null;
    }
  };

  window.PortcullisSignIn = PortcullisSignIn;
})();
