// Starts Swagger UI on the page rendered by dbify.docs.docs_page.
// Kept out of the HTML so the page runs under a strict CSP (script-src 'self').
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var openapiUrl = root.getAttribute("data-openapi-url");

  // A key handed over in the fragment (#apikey=...) by the dashboard is applied, then
  // removed from the address bar so it is not bookmarked or shared by accident.
  var handedKey = null;
  var match = /(?:^#|&)apikey=([^&]+)/.exec(window.location.hash);
  if (match) {
    handedKey = decodeURIComponent(match[1]);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  var ui = window.SwaggerUIBundle({
    url: openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "none",
    filter: true,
    displayRequestDuration: true,
    showExtensions: true,
    // Keys stay in memory only: a service key must not linger in localStorage.
    persistAuthorization: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The OpenAPI document itself may need the key (openapi-mode follows privileges).
    requestInterceptor: function (request) {
      var auth = ui && ui.authSelectors && ui.authSelectors.authorized().toJS();
      var key = (auth && auth.apikey && auth.apikey.value) || handedKey;
      if (key && !request.headers.apikey) {
        request.headers.apikey = key;
      }
      return request;
    },
    onComplete: function () {
      if (handedKey) {
        ui.preauthorizeApiKey("apikey", handedKey);
      }
    },
  });
  window.ui = ui;
})();
