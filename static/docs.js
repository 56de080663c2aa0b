// Swagger UI over the app's own OpenAPI description. It is started here, not inline, because the
// page's Content-Security-Policy allows scripts from the app only; the online validator badge is off
// (it would send the description to swagger.io).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
