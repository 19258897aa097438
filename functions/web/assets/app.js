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
      // 409: another tab refreshed this session a moment ago and its cookies are already here.
      const refreshed = response.ok || response.status === 409;
      location.replace(refreshed ? next : "/sign-in?next=" + encodeURIComponent(next));
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
          headers: slot.headers,
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

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(refresh);
  document.querySelectorAll("[data-qr]").forEach(qrSignIn);
  document.querySelectorAll("form[data-upload]").forEach(upload);
});
