// The API reference at /docs: starts the vendored Swagger UI on the document named by the
// page's data-spec attribute. A file of its own, since the Content-Security-Policy allows no
// inline script. "Try it out" calls this same origin; the Authorize button takes an access token
// (from POST /v1/auth/login) and sends it as a Bearer token.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const element = document.getElementById("swagger-ui");
  if (!element || typeof SwaggerUIBundle !== "function") return;
  window.ui = SwaggerUIBundle({
    url: element.dataset.spec,
    domNode: element,
    deepLinking: true,
    // No badge from validator.swagger.io: the page talks to this site only.
    validatorUrl: null,
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
