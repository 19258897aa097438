// Sesame's web app: the few live parts of its server-rendered pages. Loaded with `defer` from
// this site only (the Content-Security-Policy allows no inline script); every feature starts
// from a data- attribute the server rendered.
"use strict";

/** The session's CSRF token, from the cookie the server set for this site's script. */
function csrfToken() {
  for (const pair of document.cookie.split(";")) {
    const [name, value] = pair.trim().split("=");
    if (name === "sesame-csrf" || name === "__Host-sesame-csrf") return value;
  }
  return "";
}

/** Silent refresh: the access token ran out, so refresh the session and come back. */
function refresh(element) {
  const next = element.dataset.refresh || "/account";
  fetch("/v1/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-csrf-token": csrfToken() },
  })
    .then((response) => {
      // Another tab refreshing at the same moment gets the same new cookies.
      location.replace(response.ok ? next : "/sign-in?next=" + encodeURIComponent(next));
    })
    .catch(() => location.replace("/sign-in?next=" + encodeURIComponent(next)));
}

/** The QR sign-in: show a code, follow its state, land signed in when the phone confirms. */
function qrSignIn(element) {
  const image = element.querySelector(".qr-image");
  const state = element.querySelector(".qr-state");
  const again = element.querySelector(".qr-new");
  const next = element.dataset.next || "/account";
  let timer = null;

  const say = (text, name) => {
    state.textContent = text;
    element.dataset.state = name;
  };
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };

  const poll = (interval) => {
    timer = setTimeout(() => {
      fetch("/sign-in/qr/state", { credentials: "same-origin" })
        .then((response) => response.json())
        .then((answer) => {
          switch (answer.state) {
            case "pending":
              say("Waiting for your phone…", "pending");
              return poll(interval);
            case "scanned":
              say("Scanned by " + (answer.scanned_by || "a phone") + ". Confirm on the phone.", "scanned");
              return poll(interval);
            case "slow-down":
              return poll(interval);
            case "confirmed":
              say("Confirmed. Signing you in…", "confirmed");
              return location.assign(next);
            case "rejected":
              say("The phone rejected this sign-in.", "rejected");
              again.hidden = false;
              return undefined;
            default:
              say("The code expired; here is a new one.", "expired");
              return show();
          }
        })
        .catch(() => poll(Math.min(interval * 2, 10000)));
    }, interval);
  };

  const show = () => {
    stop();
    again.hidden = true;
    fetch(element.dataset.qr, { method: "POST", credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then((code) => {
        image.innerHTML = code.svg; // drawn by the server: the link to the approval page
        image.querySelector("svg").setAttribute("role", "img");
        image.querySelector("svg").setAttribute("aria-label", "QR code: " + code.link);
        element.dataset.link = code.link;
        say("Waiting for your phone…", "pending");
        poll(code.poll_interval_s * 1000);
      })
      .catch(() => {
        say("No code could be made right now.", "error");
        again.hidden = false;
      });
  };

  again.addEventListener("click", show);
  show();
}

/** Attachments go straight to S3 with the presigned URL the server hands out. */
function upload(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    const status = form.querySelector("[role=status]");
    if (!file) return;
    status.textContent = "Uploading " + file.name + "…";
    const body = new URLSearchParams({
      csrf_token: csrfToken(),
      file_name: file.name,
      content_type: file.type || "application/octet-stream",
      size: String(file.size),
    });
    fetch(form.action, { method: "POST", credentials: "same-origin", body })
      .then((response) => {
        if (!response.ok) return response.json().then((e) => Promise.reject(e.error.message));
        return response.json();
      })
      .then((slot) =>
        fetch(slot.upload_url, {
          method: "PUT",
          headers: slot.upload_headers,
          body: file,
        }).then((put) => {
          if (!put.ok) return Promise.reject("the upload was refused (" + put.status + ")");
          return location.reload();
        }),
      )
      .catch((message) => {
        status.textContent = "Not uploaded: " + message;
      });
  });
}

/** Whether this browser can run passkey ceremonies from the API's JSON options. */
function hasPasskeys() {
  const credential = window.PublicKeyCredential;
  return Boolean(
    credential &&
      navigator.credentials &&
      credential.parseCreationOptionsFromJSON &&
      credential.parseRequestOptionsFromJSON,
  );
}

/** An answer of the API that was not a success: its message, for the page to show. */
class Refusal extends Error {}

/** POSTs `body` as JSON to this site's API; the answer, or a Refusal with the API's message. */
function postJson(path, body) {
  const headers = { "content-type": "application/json" };
  const csrf = csrfToken();
  if (csrf) headers["x-csrf-token"] = csrf;
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: JSON.stringify(body),
  }).then((response) =>
    response.text().then((text) => {
      let answer = {};
      try {
        answer = text ? JSON.parse(text) : {};
      } catch (_) {
        // Not JSON (a proxy's page): the status says enough.
      }
      if (response.ok) return answer;
      const message = answer.error && answer.error.message;
      throw new Refusal(message || "the server refused (" + response.status + ")");
    }),
  );
}

/** A failed passkey ceremony in words: `outcome` ("Not signed in") and why. */
function passkeyFailure(error, outcome) {
  if (error instanceof Refusal) return outcome + ": " + error.message.replace(/\.$/, "") + ".";
  switch (error && error.name) {
    case "NotAllowedError":
      return outcome + ": no passkey was used (cancelled, or it timed out).";
    case "InvalidStateError":
      return outcome + ": this device already holds a passkey for your account.";
    case "SecurityError":
      return outcome + ": passkeys cannot be used at this address.";
    default:
      return outcome + ": " + ((error && error.message) || String(error)) + ".";
  }
}

/**
 * A passkey button (data-passkey: "register", "sign-in" or "second-step"): begin at the API
 * (data-begin), let the browser create or use a passkey, finish (data-finish), then go on
 * (data-done, else data-next). The server rendered it disabled with a sentence why.
 */
function passkey(element) {
  const kind = element.dataset.passkey;
  const button = element.querySelector("button");
  const hint = element.querySelector("[data-passkey-unsupported]");
  const failure = element.querySelector("[role=alert]");
  const name = element.querySelector("input[name=name]");
  const token = element.dataset.mfaToken;
  if (!hasPasskeys()) {
    hint.textContent = "This browser does not support passkeys.";
    return;
  }
  hint.hidden = true;
  button.disabled = false;

  const ceremony = (publicKey) =>
    kind === "register"
      ? navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
        })
      : navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
        });
  const finish = (challengeId, credential) => {
    const proof = { challenge_id: challengeId, credential: credential.toJSON() };
    switch (kind) {
      case "register":
        if (name.value.trim()) proof.name = name.value.trim();
        return proof;
      case "second-step":
        return { mfa_token: token, passkey: proof, transport: "cookie" };
      default:
        return Object.assign(proof, { transport: "cookie" });
    }
  };

  const run = () => {
    failure.hidden = true;
    button.disabled = true;
    element.dataset.state = "busy";
    postJson(element.dataset.begin, kind === "second-step" ? { mfa_token: token } : {})
      .then((begun) =>
        ceremony(begun.options.publicKey).then((credential) =>
          postJson(element.dataset.finish, finish(begun.challenge_id, credential)),
        ),
      )
      .then(() => {
        element.dataset.state = "done";
        location.assign(element.dataset.done || element.dataset.next || "/account");
      })
      .catch((error) => {
        failure.textContent = passkeyFailure(error, kind === "register" ? "Not added" : "Not signed in");
        failure.hidden = false;
        button.disabled = false;
        element.dataset.state = "failed";
      });
  };
  button.addEventListener("click", run);
  // Enter in the name field adds the passkey, as it would submit a form.
  if (name) {
    name.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !button.disabled) {
        event.preventDefault();
        run();
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(refresh);
  document.querySelectorAll("[data-qr]").forEach(qrSignIn);
  document.querySelectorAll("form[data-upload]").forEach(upload);
  document.querySelectorAll("[data-passkey]").forEach(passkey);
});
