// The publisher console's upload: a new version of a dataset from files chosen in the
// browser, through the same two steps as the API. Each file is hashed here (SHA-256) and
// asked for by its digest first: a file the node already holds (sent before an
// interruption, or part of an earlier version) is not sent again. The others are sent
// with their progress shown, then the version is published with the newest version's
// metadata. Requests go to the console's copy of the publishing API with the session's
// form token in a header; the publisher token stays in the cookie no script can read.
"use strict";

(function () {
  const form = document.getElementById("publish-form");
  if (!form || !window.crypto || !crypto.subtle) return;
  const unavailable = document.getElementById("publish-unavailable");
  if (unavailable) unavailable.hidden = true;
  form.hidden = false;
  const status = document.getElementById("publish-status");
  const progress = document.getElementById("publish-progress");
  const submit = document.getElementById("publish-submit");
  // (No control may be named `dataset`: a form's controls shadow its own properties.)
  const session = { "Shulian-Form-Token": form.dataset.formToken };

  const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

  /** What a refusal says (an RFC 9457 problem's detail where there is one). */
  function refusal(status, text) {
    try {
      const problem = JSON.parse(text);
      return problem.detail || problem.title || String(status);
    } catch (error) {
      return String(status);
    }
  }

  /** Sends a file's bytes under their digest; an XMLHttpRequest, for its upload progress.
   *  Resolves with the bytes the browser reported sent. */
  function upload(file, digest) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PUT", "/console/api/v1/blobs/" + digest);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.setRequestHeader("Shulian-Form-Token", form.dataset.formToken);
      request.upload.onprogress = (event) => {
        if (!event.lengthComputable) return;
        progress.max = event.total;
        progress.value = event.loaded;
      };
      request.onload = () =>
        request.status < 300 ? resolve(progress.value) : reject(new Error(refusal(request.status, request.responseText)));
      request.onerror = () => reject(new Error(file.name));
      request.send(file);
    });
  }

  async function publish() {
    const dataset = encodeURIComponent(form.elements.target.value);
    const latest = await fetch("/api/v1/datasets/" + dataset + "/versions/latest", { cache: "no-store" });
    if (!latest.ok) throw new Error(refusal(latest.status, await latest.text()));
    const metadata = (await latest.json()).manifest.metadata;
    const files = [];
    let sent = 0;
    let held = 0;
    let bytesSent = 0;
    for (const file of form.elements.files.files) {
      status.textContent = form.dataset.hashing + file.name;
      const digest = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer())));
      const probe = await fetch("/console/api/v1/blobs/" + digest, { method: "HEAD", headers: session });
      if (probe.ok) {
        held += 1;
        status.textContent = form.dataset.held + file.name;
      } else if (probe.status === 404) {
        status.textContent = form.dataset.uploading + file.name;
        progress.value = 0;
        bytesSent += await upload(file, digest);
        sent += 1;
      } else {
        throw new Error(String(probe.status));
      }
      files.push({ name: file.name, mediaType: file.type || "application/octet-stream", size: file.size, sha256: digest });
    }
    status.textContent = form.dataset.publishing;
    const answer = await fetch("/console/api/v1/datasets/" + dataset + "/versions", {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, session),
      body: JSON.stringify({ metadata, files }),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(refusal(answer.status, text));
    const outcome = JSON.parse(text);
    status.dataset.version = outcome.version;
    status.dataset.sent = sent;
    status.dataset.held = held;
    status.dataset.bytesSent = bytesSent;
    status.textContent =
      form.dataset.published + outcome.version + " · " + form.dataset.sentLabel + ": " + sent + " · " + form.dataset.heldLabel + ": " + held;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    progress.hidden = false;
    status.classList.remove("error");
    delete status.dataset.version;
    publish()
      .catch((error) => {
        status.classList.add("error");
        status.textContent = form.dataset.failed + (error && error.message ? error.message : String(error));
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
})();
